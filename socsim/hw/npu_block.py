"""Block-based NPU cost model (Arm Ethos-U class), parameterised by :class:`EthosU`.

The NPU computes an operation as a sequence of output blocks (h x w x c, chosen by a search
like a compiler's). Each block is computed in micro-blocks (``ofm_ublock``) whose MAC lanes
sum ``dot_depth`` input channels per cycle; the output stage then scales and writes the block
while the next block computes. Costs of one operation (docs/npu_validation.md):

- **DPU (MAC) cycles per block**, per kernel step and sub-kernel (kernels larger than
  ``subkernel_max`` are split): ``max(writeback, step x micro-blocks in h x w) x micro-blocks
  in c``, where ``step`` = ``ifm_block_depth / dot_depth`` cycles stream one IFM block depth
  through a lane; a convolution repeats this per kernel element and per IFM depth block; a
  part-kernel-first convolution (shallow IFM, e.g. 1 or 3 channels) packs
  ``part_kernel_elements`` kernel elements into the dot product instead of channels; a
  depthwise convolution puts channels across the output-channel lanes and packs
  ``depthwise_kernel_elements`` kernel elements per step; pooling costs
  ``max(pool_min_kernel_cycles, kernel elements)`` per micro-block. A block of a single
  micro-block in h x w pays ``small_block_delay_cycles`` per step (pipeline bubble).
- **Output cycles per block**: ``output_cycles_per_element[op] x block elements`` (or the
  fused activation's cost if larger), at least the scale/bias fetch.
- **Block commands** overlap ``command_overlap`` deep: each block's IFM/OFM block memory
  latency and transfer, plus its DPU and output work, divided by that depth, is a floor on both
  stages. DPU and output stages pipeline: ``max(dpu, out) x blocks + min(dpu, out)``.
- **Elementwise** ops have no DPU stage: output cycles per element (floored by the same
  command cost per block) x output elements.
- **Memory**: bytes per port (IFM re-read per block and per sub-kernel, weights re-read per
  output block in h x w, OFM written once), each access rounded to the port's burst, at the
  port's bytes per cycle. An op takes ``max(NPU, each port)``: ports and compute overlap.
- **Weights staged** from the constant port into the staging port (``memory_mode``) are
  double-buffered: the transfer overlaps the previous op's slack.

This module holds the operation and block types and the block search; the cycle model is in
:mod:`socsim.hw.npu_block_cycles` (:func:`~socsim.hw.npu_block_cycles.layer_cycles`,
:func:`~socsim.hw.npu_block_cycles.network_cycles`) and the memory-port model in
:mod:`socsim.hw.npu_block_memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import inf

from socsim.config.ethos_u import EthosU

__all__ = ["Block", "LayerCycles", "NpuOp", "find_block"]

_KINDS = ("conv", "depthwise", "vector", "pool_avg", "pool_max", "reduce_sum", "elementwise")


@dataclass(frozen=True)
class NpuOp:
    """One NPU operation's geometry (NHWC, batch 1).

    Attributes:
        kind: conv | depthwise | vector (fully connected) | pool_avg | pool_max | reduce_sum |
            elementwise.
        ifm: input (h, w, c).
        ofm: output (h, w, c).
        kernel: (kh, kw).
        stride: (sh, sw).
        ifm2: second input of a binary elementwise op (h, w, c), else None.
        ifm_bits: input element bits.
        ofm_bits: output element bits.
        weight_bytes: weight bytes as stored (encoded) in the constant memory.
        has_bias: the op reads per-channel scale and bias.
        elementwise: add | sub | mul | other (elementwise ops only).
        activation: fused activation: none | relu | lut.
        ifm_format: layout of the input(s) in memory: nhwc, or nhcwb16 (bricks of 16
            channels, channels stored rounded up to 16; what an Ethos-U compiler uses for
            tensors the NPU both writes and reads).
        ofm_format: layout of the output.
        scale_bytes: bytes of encoded per-channel scale and bias (None: ``ofm channels x
            scale_bias_bytes_per_channel`` of the device).
        ifm_port: port the input(s) are read through (None: ``memory_mode.arena``).
        ofm_port: port the output is written through (None: ``memory_mode.arena``).
    """

    kind: str
    ifm: tuple[int, int, int]
    ofm: tuple[int, int, int]
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    ifm2: tuple[int, int, int] | None = None
    ifm_bits: int = 8
    ofm_bits: int = 8
    weight_bytes: int = 0
    has_bias: bool = False
    elementwise: str = "other"
    activation: str = "none"
    ifm_format: str = "nhwc"
    ofm_format: str = "nhwc"
    scale_bytes: int | None = None
    ifm_port: str | None = None
    ofm_port: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"NpuOp kind {self.kind!r} is not one of {_KINDS}")

    @property
    def macs(self) -> int:
        """MACs as the NPU counts them (pooling counts one per kernel element)."""
        kh, kw = self.kernel
        oh, ow, oc = self.ofm
        if self.kind in ("conv", "vector", "reduce_sum"):
            return kh * kw * self.ifm[2] * oh * ow * oc
        if self.kind in ("depthwise", "pool_avg", "pool_max"):
            return kh * kw * oh * ow * oc
        return 0


@dataclass(frozen=True)
class Block:
    """A chosen block configuration: OFM block and IFM block (h, w, c), kernel method."""

    ofm: tuple[int, int, int]
    ifm: tuple[int, int, int]
    part_kernel: bool


@dataclass(frozen=True)
class LayerCycles:
    """Cycles of one op: NPU (compute, commands), per port (memory access), total.

    ``total = max(npu, *ports.values())``: the NPU and its AXI ports run in parallel.
    """

    npu: float
    ports: dict[str, float] = field(default_factory=dict)
    port_bytes: dict[str, float] = field(default_factory=dict)
    macs: int = 0
    block: Block | None = None
    weight_transfer: float = 0.0

    @property
    def total(self) -> float:
        return max(self.npu, *self.ports.values(), 0.0)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _rup(a: int, b: int) -> int:
    return _cdiv(a, b) * b


def _equal_depth(op: NpuOp) -> bool:
    return op.kind in ("depthwise", "pool_avg", "pool_max", "elementwise")


def _part_kernel(cfg: EthosU, op: NpuOp) -> bool:
    """Part-kernel-first when it uses the dot product better than depth-first (a shallow
    IFM: the kernel's elements fill the lanes instead of the few channels)."""
    if op.kind not in ("conv", "depthwise"):
        return False
    c = op.ifm[2]
    if c <= cfg.dot_depth:
        return True
    elems = op.kernel[0] * op.kernel[1]
    depth_block = cfg.ifm_block_depth[8] if op.ifm_bits == 8 else cfg.ifm_block_depth[16]
    depth_first = c / _rup(c, depth_block)
    pk = cfg.part_kernel_elements if op.ifm_bits == 8 else cfg.part_kernel_elements // 2
    part = c * elems / (_rup(c, cfg.dot_depth) * _rup(elems, pk))
    return part >= depth_first


def _ifm_block_depth(cfg: EthosU, op: NpuOp, part_kernel: bool) -> int:
    c = op.ifm[2]
    if op.ifm_bits == 16:
        return _rup(min(c, cfg.ifm_block_depth[16]), 4)
    cap = cfg.part_kernel_ifm_block_depth if part_kernel else cfg.ifm_block_depth[8]
    return _rup(min(c, cap), cfg.dot_depth)


def _ifm_extent(out: int, stride: int, kernel: int, limit: int, ublock: int) -> int:
    return _rup((out - 1) * stride + min(kernel, limit), ublock)


def _fits(cfg: EthosU, op: NpuOp, ofm: tuple[int, int, int], ifm: tuple[int, int, int]) -> bool:
    """Whether the double-buffered IFM and accumulator blocks fit the shared buffer."""
    sb = cfg.shared_buffer
    bits = op.ifm_bits
    ifm_bytes = ifm[0] * ifm[1] * _rup(ifm[2] * bits // 8, 8)
    granule = (sb.ifm_elementwise_granule_banks if op.kind == "elementwise"
               else sb.ifm_granule_banks)[bits]
    ifm_banks = _rup(_cdiv(ifm_bytes, sb.bank_bytes) * 2, granule)
    end = sb.banks - sb.reserved_end_banks
    used = sb.reserved_output_banks + ifm_banks
    if op.kind == "elementwise":
        if op.ifm2 is not None:
            used += ifm_banks
        return used <= end
    acc_bits = 40 if (bits == 16 and op.kind != "pool_avg" and op.kind != "pool_max") else 32
    acc_bytes = ofm[0] * ofm[1] * _rup(ofm[2], 8) * acc_bits // 8
    acc_banks = _rup(_cdiv(acc_bytes, sb.bank_bytes) * 2, sb.acc_granule_banks[acc_bits])
    return used <= end - acc_banks


def find_block(cfg: EthosU, op: NpuOp) -> Block:
    """The output block a compiler would choose: the one that fits the shared buffer and
    fetches the fewest IFM and weight bytes per output element.

    Raises:
        ValueError: no block fits (the op is too large for the shared buffer).
    """
    oh, ow, oc = op.ofm
    ub_h, ub_w, ub_d = cfg.ofm_ublock.hwc
    mx = cfg.ofm_block_max
    sh = _rup(min(oh, mx.height), ub_h)
    sw = _rup(min(ow, mx.width), ub_w)
    sd = _rup(min(oc, mx.depth), ub_d)
    part = _part_kernel(cfg, op)
    ifm_d = _ifm_block_depth(cfg, op, part)
    kh, kw = op.kernel
    conv_like = op.kind in ("conv", "depthwise")
    weights_wh = kh * kw if conv_like else 0
    repeats = _cdiv(kh, cfg.subkernel_max.height) * _cdiv(kw, cfg.subkernel_max.width)
    big = op.ifm2 if op.ifm2 and _volume(op.ifm2) > _volume(op.ifm) else op.ifm
    one_d = oh == 1 and kh == 1 and ub_h == 2
    best, best_cost, best_cover = None, inf, inf
    split = cfg.ofm_split_depth
    depth = max(ub_d, min(sd, split))
    if depth < oc:
        depth = _rup(depth, split)
    while depth <= sd:
        for h in range(ub_h, sh + 1, ub_h):
            for w in range(ub_w, sw + 1, ub_w):
                ifm = (_ifm_extent(h, op.stride[0], kh, cfg.subkernel_max.height, ub_h),
                       _ifm_extent(w, op.stride[1], kw, cfg.subkernel_max.width, ub_w),
                       depth if _equal_depth(op) else ifm_d)
                ofm = (min(h, oh) if one_d else h, w, depth)
                if not _fits(cfg, op, ofm, ifm):
                    continue
                nh, nw, nd = _cdiv(oh, ofm[0]), _cdiv(ow, w), _cdiv(oc, depth)
                frac_hw = (oh / ofm[0]) * (ow / w)
                if op.kind == "elementwise":
                    cost = max(oh * ow * oc / (h * w * depth), 1)
                else:
                    wfetch = weights_wh * big[2] * nh * nw
                    if op.kind != "depthwise":
                        wfetch *= depth * (oc / depth)
                    ifetch = ifm[0] * ifm[1] * big[2] * repeats * frac_hw
                    if not _equal_depth(op):
                        ifetch *= nd
                    cost = (ifetch + wfetch) / (oh * ow * oc)
                if _volume(big) < ifm[0] * ifm[1] * ifm[2] * 2:
                    cost /= 2
                if cost > best_cost:
                    continue
                if cost < best_cost:
                    best_cover = inf      # a strictly cheaper block resets the tie-break
                else:                     # equal cost: prefer small blocks covering more IFM
                    cover = (big[0] * big[1]) / max(1, min(big[0], ifm[0]) * min(big[1], ifm[1]))
                    if not (cover <= best_cover and h <= 4 and w <= 4):
                        continue
                    best_cover = cover
                best_cost = cost
                best = Block((h, w, depth), ifm, part)
        depth += ub_d
        if depth < oc:
            depth = _rup(depth, split)
    if best is None:
        raise ValueError(f"no output block of {op.kind} {op.ofm} fits the shared buffer "
                         f"({cfg.shared_buffer.banks} banks)")
    return best


def _volume(shape: Sequence[int]) -> int:
    v = 1
    for d in shape:
        v *= d
    return v
