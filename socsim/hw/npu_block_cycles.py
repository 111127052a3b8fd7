"""Cycles of the block-based NPU model: MAC (DPU) and output stages per block, block
commands, one operation with its memory ports, and a sequence of operations with weights
staged under the previous one (:mod:`socsim.hw.npu_block` describes the model)."""

from __future__ import annotations

from collections.abc import Iterable
from math import ceil

from socsim.config.ethos_u import EthosU
from socsim.hw.npu_block import Block, LayerCycles, NpuOp, _cdiv, _volume, find_block
from socsim.hw.npu_block_memory import (
    _block_cycles,
    _port_traffic,
    _scale_bytes,
    _stored,
    _weight_reads,
    weight_transfer_cycles,
)

__all__ = ["layer_cycles", "network_cycles", "op_cycles", "staged"]


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
