"""Parameters of the block-based (Arm Ethos-U-class) NPU model, :mod:`socsim.hw.npu_block`.

An NPU unit with ``microarchitecture: ethos_u`` carries one :class:`EthosU` block. Every number
the block model uses is a field here, so a device file (with its sources in comments) fixes
the hardware; nothing is hard-coded in the model. The values for Arm's configurations come
from the Ethos-U55/U65 technical reference manuals and Vela's architecture tables (cited in
the device files, e.g. ``devices/ethos_u55_128_high_end_embedded.yaml``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from socsim.config._base import Cycles, PositiveFloat, PositiveInt, Rate, Spec

__all__ = ["BlockShape", "EthosU", "MemoryMode", "Port", "SharedBuffer"]


class BlockShape(Spec):
    """A block of output (or input) elements: height x width x depth (channels)."""

    height: PositiveInt
    width: PositiveInt
    depth: PositiveInt

    @property
    def hwc(self) -> tuple[int, int, int]:
        return self.height, self.width, self.depth


class SharedBuffer(Spec):
    """The on-NPU shared buffer (SHRAM) that holds IFM blocks and accumulators, in banks.

    A block configuration fits when its double-buffered IFM block and double-buffered
    accumulator block, each rounded up to whole banks and to the bank granule of its element
    type, fit between the reserved output banks and the reserved end banks.
    """

    banks: PositiveInt = Field(description="Number of SHRAM banks.")
    bank_bytes: PositiveInt = Field(1024, description="Bytes per bank.")
    reserved_output_banks: int = Field(2, ge=0, description="Banks kept for the output stage.")
    reserved_end_banks: int = Field(0, ge=0, description="Banks kept at the end (LUT).")
    ifm_granule_banks: dict[Literal[8, 16, 32], PositiveInt] = Field(
        description="Bank granule of an IFM buffer by IFM bits (convolution and pooling).")
    ifm_elementwise_granule_banks: dict[Literal[8, 16, 32], PositiveInt] = Field(
        description="Bank granule of an IFM buffer by IFM bits (elementwise).")
    acc_granule_banks: dict[Literal[32, 40], PositiveInt] = Field(
        description="Bank granule of the accumulator buffer by accumulator bits.")


class Port(Spec):
    """One AXI port and the memory region behind it."""

    bytes_per_cycle: PositiveFloat = Field(
        description="Port width in bytes per NPU cycle times the memory's clock scale "
        "(e.g. 8 B x 0.125 for flash at 1/8 of the NPU clock).")
    read_latency_cycles: Cycles = Field(0, description="Cycles before the first read beat.")
    write_latency_cycles: Cycles = Field(0, description="Cycles before a write is accepted.")
    burst_bytes: PositiveInt = Field(description="Burst length the memory is read in; a "
                                     "transfer shorter than a burst still costs a burst.")


class MemoryMode(Spec):
    """Where tensors live (Vela's memory modes: Shared_Sram, Sram_Only, Dedicated_Sram)."""

    arena: str = Field(description="Port (key of `ports`) holding the network's input and "
                       "output feature maps (and all of them when it is the `staging` one).")
    constants: str = Field(description="Port holding weights, biases and scales.")
    staging: str = Field(description="Port of the fast memory (Vela's cache area) that "
                         "weights are staged into before the op that needs them and that "
                         "holds feature maps passed between NPU ops; equal to `arena` when "
                         "the arena is already that memory.")


class EthosU(Spec):
    """The block-based NPU: MAC geometry, block search, per-element costs, ports."""

    ofm_ublock: BlockShape = Field(
        description="Micro-block: output pixels (h x w) x output channels computed per MAC "
        "cycle; MACs per cycle = h x w x depth x dot_depth.")
    cores: PositiveInt = Field(1, description="NPU cores sharing each block (U65-512: 2).")
    dot_depth: PositiveInt = Field(8, description="Input channels one MAC lane sums per cycle.")
    ifm_block_depth: dict[Literal[8, 16], PositiveInt] = Field(
        description="IFM channels fetched per block pass, by IFM bits (depth-first mode).")
    part_kernel_ifm_block_depth: PositiveInt = Field(
        16, description="IFM channels per block pass in part-kernel-first mode.")
    part_kernel_elements: PositiveInt = Field(
        4, description="Kernel elements one part-kernel step packs into the dot product "
        "(with `dot_depth` channels).")
    depthwise_kernel_elements: PositiveInt = Field(
        4, description="Kernel elements per depthwise step (channels run across the "
        "output-channel lanes).")
    ofm_block_max: BlockShape = Field(description="Largest output block the hardware takes.")
    ofm_split_depth: PositiveInt = Field(
        16, description="Output block depths above the micro-block depth are multiples of "
        "this when the block does not cover all output channels.")
    subkernel_max: BlockShape = Field(description="Largest kernel (h x w) run in one pass; "
                                      "larger kernels are split into sub-kernels.")
    shared_buffer: SharedBuffer
    writeback_cycles_per_ublock: Cycles = Field(
        description="Cycles to write one micro-block of accumulators back; a kernel step "
        "takes at least this long.")
    small_block_delay_cycles: Cycles = Field(
        description="Pipeline bubble per kernel step when a block is one micro-block in h x w.")
    small_block_delay_cycles_acc40: Cycles = Field(
        description="As `small_block_delay_cycles` with 40-bit accumulators (16-bit IFMs).")
    pool_cycle_scale: dict[Literal[8, 16], Rate] = Field(
        description="Multiplier of pooling MAC-engine cycles by IFM bits.")
    pool_min_kernel_cycles: Cycles = Field(
        4, description="Least cycles per micro-block per pooling sub-kernel.")
    output_cycles_per_element: dict[Literal[
        "conv", "conv_acc40", "add", "mul", "mul_int32", "maxpool", "elementwise_int32",
        "unary_int32", "other"], Rate] = Field(
        description="Output stage (scaling, rounding, writing) cycles per output element by "
        "operation; elementwise ops are costed by this alone.")
    activation_cycles_per_element: dict[Literal["none", "relu", "lut"], float] = Field(
        description="Fused-activation cycles per output element; the output stage takes the "
        "larger of the two.")
    command_overlap: PositiveFloat = Field(
        4, description="Block commands in flight: each block's fixed cost (IFM and OFM "
        "block memory latency + transfer) is hidden behind this many blocks' compute.")
    bias_fetch_cycles_per_256_channels_latency: Rate = Field(
        10, description="Scale/bias fetch: cycles per (256 output channels x cycle of "
        "constant-memory latency) a block needs before its output stage.")
    scale_bias_bytes_per_channel: PositiveInt = Field(
        10, description="Bytes of encoded scale and bias per output channel.")
    elementwise_min_burst_bytes: PositiveInt = Field(
        8, description="Smallest useful burst of an NHWC feature-map access, bytes.")
    ports: dict[str, Port] = Field(min_length=1, description="AXI ports by memory region name.")
    memory_mode: MemoryMode

    @model_validator(mode="after")
    def _ports_named(self) -> EthosU:
        for field in ("arena", "constants", "staging"):
            name = getattr(self.memory_mode, field)
            if name not in self.ports:
                raise ValueError(f"memory_mode.{field} = {name!r} is not a port; ports are "
                                 f"{sorted(self.ports)}")
        return self

    @property
    def macs_per_cycle(self) -> int:
        """Peak MACs per cycle: micro-block elements x dot depth."""
        h, w, d = self.ofm_ublock.hwc
        return h * w * d * self.dot_depth
