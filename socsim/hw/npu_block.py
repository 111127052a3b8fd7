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
  double-buffered: the transfer overlaps the previous op's slack (:func:`network_cycles`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from math import ceil, inf

from socsim.config.ethos_u import EthosU

__all__ = ["Block", "LayerCycles", "NpuOp", "find_block", "layer_cycles", "network_cycles",
           "op_cycles", "staged", "weight_transfer_cycles"]

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


def _transfer_bytes(cfg: EthosU, port: str, is_read: bool, bits: int, fmt: str,
                    block: tuple[int, int, int], shape: tuple[int, int, int],
                    elements: float) -> float:
    """Bytes a port moves for ``elements`` of a feature map accessed block by block.

    The port moves whole bursts (``burst_bytes``); an access shorter than a burst costs a
    full burst. The contiguous run of one access depends on the layout: NHWC is contiguous
    over the block's channels, or over whole rows (w x c) when the block spans all channels
    (a write drains at most 16 channels at a time otherwise); NHCWB16 is contiguous over 16
    channels x the block's width, or over the whole block when it spans all channel bricks.
    """
    bh, bw, bd = block
    if fmt == "nhcwb16":
        if shape[1] * bits * 16 // 8 == bd:
            run = bits * bw * bd
        elif is_read:
            run = 16 * bits * bw
        else:
            run = 16 * bits * bw * cfg.cores
    else:
        row_bytes = shape[2] * bits // 8
        if is_read:
            run = bits * bw * bd if row_bytes == bd else bits * bd
        elif bd <= 16 and row_bytes == bd:
            run = bits * bw * bd
        else:
            run = min(64 * 8, 16 * bits * cfg.cores, bd * bits)
    burst = cfg.ports[port].burst_bytes
    run_bytes = max(1, min(burst, run // 8))
    return int(elements * bits // 8) * burst / run_bytes


def _stored(shape: tuple[int, int, int], fmt: str) -> tuple[int, int, int]:
    """The shape as stored: NHCWB16 rounds channels up to whole bricks of 16."""
    return (shape[0], shape[1], _rup(shape[2], 16)) if fmt == "nhcwb16" else shape


def _ports(cfg: EthosU, op: NpuOp) -> tuple[str, str]:
    """(IFM port, OFM port) of ``op``."""
    arena = cfg.memory_mode.arena
    return op.ifm_port or arena, op.ofm_port or arena


def _block_cycles(cfg: EthosU, op: NpuOp, blk: Block) -> tuple[float, float]:
    """(IFM block read, OFM block write) cycles: latency + transfer on their ports."""
    in_name, out_name = _ports(cfg, op)
    port = cfg.ports[in_name]
    ifm_cyc = 0.0
    for shape in (op.ifm, op.ifm2) if op.ifm2 is not None else (op.ifm,):
        n = _volume([min(a, b) for a, b in zip(shape, blk.ifm)])
        tx = _transfer_bytes(cfg, in_name, True, op.ifm_bits, op.ifm_format, blk.ifm,
                             shape, n)
        ifm_cyc = max(ifm_cyc, port.read_latency_cycles + int(tx / port.bytes_per_cycle))
    port = cfg.ports[out_name]
    n = _volume([min(a, b) for a, b in zip(op.ofm, blk.ofm)])
    tx = _transfer_bytes(cfg, out_name, False, op.ofm_bits, op.ofm_format, blk.ofm, op.ofm, n)
    return ifm_cyc, port.write_latency_cycles + int(tx / port.bytes_per_cycle)


def _acc40(op: NpuOp) -> bool:
    return op.ifm_bits == 16 and op.kind not in ("pool_avg", "pool_max", "elementwise")


def _output_cpe(cfg: EthosU, op: NpuOp) -> float:
    """Output-stage cycles per element (the larger of the op's and its activation's)."""
    table = cfg.output_cycles_per_element
    if op.kind == "elementwise" and op.ifm_bits == 32:
        key = "unary_int32" if op.ifm2 is None else "elementwise_int32"
    elif op.elementwise == "mul" and op.ofm_bits == 32:
        key = "mul_int32"
    elif op.elementwise == "mul":
        key = "mul"
    elif op.kind != "elementwise" and _acc40(op):
        key = "conv_acc40"
    elif op.elementwise in ("add", "sub"):
        key = "add"
    elif op.kind == "pool_max":
        key = "maxpool"
    else:
        key = "conv" if op.kind != "elementwise" else "other"
    return max(table[key], cfg.activation_cycles_per_element[op.activation])


def _ublock(cfg: EthosU, op: NpuOp) -> tuple[int, int, int]:
    ub_h, ub_w, ub_d = cfg.ofm_ublock.hwc
    if (ub_h == 2 and op.kind == "conv" and op.ofm[0] == 1 and op.ofm[1] % 2 == 0
            and op.kernel[0] == 1):
        return 1, 4, ub_d      # 1-D optimisation: a 1 x 4 micro-block on 2 x 2 hardware
    return ub_h, ub_w, ub_d


def _dpu_block_cycles(cfg: EthosU, op: NpuOp, blk: Block) -> float:
    """MAC cycles of one output block (all sub-kernels, all IFM depth blocks)."""
    ub = _ublock(cfg, op)
    bh, bw, bd = (min(a, b) for a, b in zip(op.ofm, blk.ofm))
    n_xy = _cdiv(bh, ub[0]) * _cdiv(bw, ub[1])
    n_z = _cdiv(bd, ub[2])
    step = cfg.ifm_block_depth[8] // cfg.dot_depth      # cycles per micro-block per step
    wb = cfg.writeback_cycles_per_ublock
    limit = (1, 1) if op.kind == "vector" else (cfg.subkernel_max.height,
                                                 cfg.subkernel_max.width)
    kh, kw = op.kernel
    subs = [min(kh - i, limit[0]) * min(kw - j, limit[1])
            for i in range(0, kh, limit[0]) for j in range(0, kw, limit[1])]
    ifm_bd = min(op.ifm[2], blk.ifm[2])
    delay_per_step = (cfg.small_block_delay_cycles_acc40 if _acc40(op)
                      else cfg.small_block_delay_cycles)
    total = 0.0
    for elems in subs:
        if op.kind in ("pool_avg", "pool_max"):
            steps = 1
            cyc = (max(cfg.pool_min_kernel_cycles, elems) * n_xy * n_z
                   * cfg.pool_cycle_scale[op.ifm_bits])
        elif op.kind == "depthwise":
            steps = _cdiv(elems, cfg.depthwise_kernel_elements)
            cyc = max(wb, step * n_xy * op.ifm_bits // 8) * steps * n_z
        elif op.kind == "conv" and blk.part_kernel:
            steps = _cdiv(elems, cfg.part_kernel_elements if op.ifm_bits == 8 else 2)
            cyc = max(wb, step * n_xy) * steps * n_z * _cdiv(ifm_bd, cfg.dot_depth)
        else:
            steps = elems
            cyc = max(wb, step * n_xy) * steps * n_z
        delay = 0.0
        if n_xy == 1:
            if n_z == 1:
                delay = delay_per_step * steps
            elif steps > 1:
                delay = delay_per_step * (steps - 1) * n_z
        if op.kind == "conv" and blk.part_kernel:
            delay *= _cdiv(ifm_bd, cfg.dot_depth)
        total += cyc + delay
    if op.kind in ("conv", "vector", "reduce_sum"):
        total *= _cdiv(op.ifm[2], max(1, ifm_bd))
    return total / cfg.cores


def op_cycles(cfg: EthosU, op: NpuOp, blk: Block | None = None,
              const_port: str | None = None) -> float:
    """NPU cycles (compute and block commands, no memory-port limits) of ``op`` run alone
    (its first IFM block and last OFM block are exposed); scales and biases are fetched
    through ``const_port`` (default: the constant port)."""
    blk = blk or find_block(cfg, op)
    ifm_blk, ofm_blk = _block_cycles(cfg, op, blk)
    cpe = _output_cpe(cfg, op)
    if op.kind == "elementwise":
        n = _volume(_stored(op.ofm, op.ofm_format))
        cmd = (max(ifm_blk, ofm_blk) / _volume(blk.ofm) + cpe) / cfg.command_overlap
        return max(ceil(cmd * n), ceil(cpe * n))
    ub = _ublock(cfg, op)
    clipped = [min(a, b) for a, b in zip(op.ofm, blk.ofm)]
    per_block = _volume([_cdiv(a, u) for a, u in zip(clipped, ub)])
    n_blocks = _volume([_cdiv(a, u) for a, u in zip(op.ofm, ub)]) / per_block
    out = ceil(cpe * _volume(clipped))
    if op.has_bias and op.kind in ("conv", "depthwise"):
        lat = cfg.ports[const_port or cfg.memory_mode.constants].read_latency_cycles
        out = max(out, cfg.bias_fetch_cycles_per_256_channels_latency * clipped[2] * lat / 256)
    dpu = _dpu_block_cycles(cfg, op, blk)
    exposed = abs(ofm_blk - ifm_blk) if n_blocks > 1 else 0
    cmd = (exposed + dpu + out) / cfg.command_overlap
    dpu, out = max(dpu, cmd), max(out, cmd)
    if dpu > out:
        total = int(dpu * n_blocks) + out
    else:
        total = out * n_blocks + dpu
    return int(total + ofm_blk + ifm_blk)


def _weight_reads(cfg: EthosU, op: NpuOp, blk: Block) -> float:
    """Bytes of weights and scales the op reads: the whole stream once per output block in
    h x w (the blocks along the channels each read their own slice)."""
    if not op.weight_bytes:
        return 0.0
    nh = _cdiv(op.ofm[0], min(op.ofm[0], blk.ofm[0]))
    nw = _cdiv(op.ofm[1], min(op.ofm[1], blk.ofm[1]))
    return float((op.weight_bytes + _scale_bytes(cfg, op)) * nh * nw)


def _port_traffic(cfg: EthosU, op: NpuOp, blk: Block) -> dict[str, float]:
    """Feature-map bytes each port moves for ``op`` (burst-rounded)."""
    traffic: dict[str, float] = {}

    def add(port: str, nbytes: float) -> None:
        traffic[port] = traffic.get(port, 0.0) + nbytes

    ofm_clip = [min(a, b) for a, b in zip(op.ofm, blk.ofm)]
    nh, nw, nd = (_cdiv(a, b) for a, b in zip(op.ofm, ofm_clip))
    ifmt = op.ifm_format
    in_port, out_port = _ports(cfg, op)
    if op.kind == "elementwise":
        n = _volume(_stored(op.ofm, ifmt))
        for shape in (op.ifm, op.ifm2):
            if shape is not None and (_volume(shape) > 1 or op.ifm_bits > 8):
                elems = n if _volume(shape) > 1 else _volume(_stored(shape, ifmt))
                add(in_port, _transfer_bytes(cfg, in_port, True, op.ifm_bits, ifmt,
                                             blk.ifm, shape, elems))
    else:
        limit = ((1, 1) if op.kind == "vector"
                 else (cfg.subkernel_max.height, cfg.subkernel_max.width))
        subs = _cdiv(op.kernel[0], limit[0]) * _cdiv(op.kernel[1], limit[1])
        per_block = (min(op.ifm[0], blk.ifm[0]) * min(op.ifm[1], blk.ifm[1])
                     * _stored(op.ifm, ifmt)[2])
        blocks = nh * nw * (1 if op.kind in ("depthwise", "pool_avg", "pool_max") else nd)
        add(in_port, _transfer_bytes(cfg, in_port, True, op.ifm_bits, ifmt, blk.ifm,
                                     op.ifm, per_block * subs * blocks))
    add(out_port, _transfer_bytes(cfg, out_port, False, op.ofm_bits, op.ofm_format,
                                  blk.ofm, op.ofm, _volume(_stored(op.ofm, op.ofm_format))))
    return traffic


def _scale_bytes(cfg: EthosU, op: NpuOp) -> int:
    if not op.has_bias:
        return 0
    if op.scale_bytes is not None:
        return op.scale_bytes
    return op.ofm[2] * cfg.scale_bias_bytes_per_channel


def layer_cycles(cfg: EthosU, op: NpuOp, stage: bool | None = None, slack: float = 0.0
                 ) -> LayerCycles:
    """NPU and per-port cycles of ``op``.

    Args:
        cfg: the NPU.
        op: the operation.
        stage: stage the weights in the staging memory (None: when :func:`staged` says a
            compiler would). Staged weights are copied by DMA from the constant port,
            double-buffered in slices of ``ofm_split_depth`` output channels: the first
            slice's copy is exposed unless the previous op's ``slack`` cycles hide it, later
            slices overlap the op's own compute. The constant port then moves them once, the
            staging port once in and once per output block out. Unstaged weights are read
            from the constant port for every output block in h x w.
        slack: NPU cycles of the previous op, under which a staged copy can run.
    """
    mode = cfg.memory_mode
    blk = find_block(cfg, op)
    if stage is None:
        stage = staged(cfg, op, blk)
    stage = bool(stage and op.weight_bytes and mode.staging != mode.constants)
    traffic = _port_traffic(cfg, op, blk)
    reads = _weight_reads(cfg, op, blk)
    npu = op_cycles(cfg, op, blk, mode.staging if stage else None)
    xfer = 0.0
    if not stage:
        if reads:
            traffic[mode.constants] = traffic.get(mode.constants, 0.0) + reads
    else:
        wbytes = op.weight_bytes + _scale_bytes(cfg, op)
        traffic[mode.constants] = traffic.get(mode.constants, 0.0) + wbytes
        traffic[mode.staging] = traffic.get(mode.staging, 0.0) + reads + wbytes
        slices = max(1, _cdiv(op.ofm[2], cfg.ofm_split_depth))
        xfer = weight_transfer_cycles(cfg, wbytes / min(slices, 2))
        npu += max(0.0, xfer - slack)
    ports = {p: nb / cfg.ports[p].bytes_per_cycle for p, nb in traffic.items()}
    return LayerCycles(npu, ports, traffic, op.macs, blk, xfer)


def weight_transfer_cycles(cfg: EthosU, nbytes: float) -> float:
    """Cycles to copy ``nbytes`` of weights from the constant port to the staging port."""
    src = cfg.ports[cfg.memory_mode.constants]
    dst = cfg.ports[cfg.memory_mode.staging]
    return max(nbytes / src.bytes_per_cycle + src.read_latency_cycles,
               nbytes / dst.bytes_per_cycle)


def staged(cfg: EthosU, op: NpuOp, blk: Block | None = None) -> bool:
    """Whether a compiler stages ``op``'s weights in the staging memory: they live in
    another memory, and either the op reads them more than once (more than one output block
    in h x w) or reading its scales through the staging port's shorter latency makes the op
    faster. Otherwise the weights stream straight from the constant port."""
    mode = cfg.memory_mode
    if not op.weight_bytes or mode.staging == mode.constants:
        return False
    blk = blk or find_block(cfg, op)
    if _cdiv(op.ofm[0], blk.ofm[0]) * _cdiv(op.ofm[1], blk.ofm[1]) > 1:
        return True
    return op_cycles(cfg, op, blk, mode.staging) < op_cycles(cfg, op, blk)


def network_cycles(cfg: EthosU, ops: Iterable[NpuOp], stage_weights: bool = True
                   ) -> list[LayerCycles]:
    """Per-op cycles of a sequence of ops run back to back: each op's staged weights are
    copied under the previous op (:func:`layer_cycles` with the previous op's NPU cycles as
    slack). ``stage_weights=False`` reads every op's weights from the constant port."""
    out: list[LayerCycles] = []
    slack = 0.0
    for op in ops:
        lc = layer_cycles(cfg, op, None if stage_weights else False, slack)
        slack = lc.npu
        out.append(lc)
    return out
