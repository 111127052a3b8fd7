"""A point's metrics, read straight from the simulation's trace records.

The same definitions as ``summary.json`` (:mod:`socsim.report.tables`), without building the
report's pandas frames, which cost three times the simulation of a small scenario:

- latency p50 / p99: percentiles (numpy's linear interpolation) of completion - arrival of
  every completed inference, ms;
- energy per inference: every picojoule of the run (ops' compute, memory and static parts;
  DMA copies' and page-ins' engine and memory parts, zero-copy hand-offs excluded; FPGA
  reconfigurations; idle and memory leakage) over the completed inferences, mJ;
- peak temperature: the highest ``temp_c`` sample of any unit (None without a thermal model);
- deadline misses: inferences that completed after their deadline;
- DMA bytes: bytes moved by DMA copies and page-ins (zero-copy hand-offs excluded).

``tests/sweep/test_metrics.py`` checks each against the summary.
"""

from __future__ import annotations

import math

import numpy as np

from socsim.sim.trace import INFERENCE_COLUMNS, OP_COLUMNS, RECONFIG_COLUMNS, TRANSFER_COLUMNS

__all__ = ["point_metrics"]

PJ_PER_MJ = 1e9

_ARRIVAL, _END, _DEADLINE = (INFERENCE_COLUMNS.index(c)
                             for c in ("arrival_ns", "end_ns", "deadline_ns"))
_OP_PJ = tuple(OP_COLUMNS.index(c) for c in ("compute_pj", "sram_pj", "dram_pj", "static_pj"))
_T_KIND, _T_BYTES = TRANSFER_COLUMNS.index("kind"), TRANSFER_COLUMNS.index("bytes")
_T_PJ = tuple(TRANSFER_COLUMNS.index(c) for c in ("dma_pj", "sram_pj", "dram_pj"))
_R_PJ = RECONFIG_COLUMNS.index("reconfig_pj")


def point_metrics(trace) -> dict:
    """The sweep's metric columns of one run (see the module docstring)."""
    inf = trace.inferences
    n = len(inf)
    if n:
        ms = np.array([r[_END] - r[_ARRIVAL] for r in inf], dtype=float) / 1e6
        p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    else:
        p50 = p99 = math.nan
    misses = sum(1 for r in inf if r[_DEADLINE] is not None and r[_END] > r[_DEADLINE])
    moved = [r for r in trace.transfers if r[_T_KIND] != "zero_copy"]
    pj = (math.fsum(r[k] for r in trace.ops for k in _OP_PJ)
          + math.fsum(r[k] for r in moved for k in _T_PJ)
          + math.fsum(r[_R_PJ] for r in trace.reconfigs)
          + math.fsum(trace.idle_static_pj.values()))
    temps = [v for _, _, c, v in trace.counters if c == "temp_c"]
    return {
        "inferences": n,
        "latency_p50_ms": p50,
        "latency_p99_ms": p99,
        "energy_per_inference_mj": pj / PJ_PER_MJ / n if n else math.nan,
        "peak_temp_c": float(max(temps)) if temps else math.nan,
        "deadline_misses": misses,
        "dma_bytes": int(sum(r[_T_BYTES] for r in moved)),
    }
