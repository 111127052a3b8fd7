"""Memory ports of the block-based NPU model: burst-rounded feature-map traffic, block
memory latencies, weight reads and weight copies (:mod:`socsim.hw.npu_block`)."""

from __future__ import annotations

from socsim.config.ethos_u import EthosU
from socsim.hw.npu_block import Block, NpuOp, _cdiv, _rup, _volume

__all__ = ["weight_transfer_cycles"]


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


def weight_transfer_cycles(cfg: EthosU, nbytes: float) -> float:
    """Cycles to copy ``nbytes`` of weights from the constant port to the staging port."""
    src = cfg.ports[cfg.memory_mode.constants]
    dst = cfg.ports[cfg.memory_mode.staging]
    return max(nbytes / src.bytes_per_cycle + src.read_latency_cycles,
               nbytes / dst.bytes_per_cycle)
