"""Chrome trace-event JSON (loads in ui.perfetto.dev and chrome://tracing).

One process per unit and per DMA engine, one thread per core / channel, a complete ("X")
event per op, DMA transfer, weight page-in or FPGA reconfiguration (on the unit's first
thread), an instant event per zero-copy hand-off and per
weight eviction, and counter ("C") tracks on each unit for its frequency (MHz) and
temperature (°C). Timestamps are microseconds, as the format requires.
"""

from __future__ import annotations

from socsim.report.tables import Tables
from socsim.sim.trace import Trace


def chrome_trace(t: Tables, trace: Trace) -> dict:
    """The trace-event document for ``t`` (and the counters and evictions of ``trace``)."""
    units, dma_engines, engines = trace.units, trace.dma_engines, trace.engines
    events: list[dict] = []
    pids = {name: i + 1 for i, name in enumerate([*units, *dma_engines, "hand-offs",
                                                  "paging"])}
    for name, pid in pids.items():
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                       "args": {"name": name}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                       "args": {"sort_index": pid}})
        label = "channel" if name in dma_engines else "core"
        for k in range(engines.get(name, 1)):
            events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": k,
                           "args": {"name": f"{name} {label} {k}"}})
    for r in t.ops.itertuples(index=False):
        events.append({
            "ph": "X", "name": r.op, "cat": r.op_type, "pid": pids[r.unit], "tid": int(r.engine),
            "ts": r.start_ns / 1e3, "dur": (r.end_ns - r.start_ns) / 1e3,
            "args": {"workload": r.workload, "inference": int(r.inference), "dtype": r.dtype,
                     "macs": int(r.macs), "cycles": float(r.cycles),
                     "energy_uj": float(r.energy_pj) / 1e6, "freq_mhz": float(r.freq_mhz)}})
    for r in t.transfers.itertuples(index=False):
        args = {"workload": r.workload, "inference": int(r.inference), "bytes": int(r.bytes),
                "src": r.src, "dst": r.dst}
        if r.kind != "zero_copy":
            events.append({"ph": "X", "name": r.tensor, "cat": r.kind, "pid": pids[r.engine],
                           "tid": int(r.channel), "ts": r.start_ns / 1e3,
                           "dur": (r.end_ns - r.start_ns) / 1e3,
                           "args": {**args, "energy_uj": float(r.energy_pj) / 1e6}})
        else:
            events.append({"ph": "i", "s": "t", "name": f"zero-copy {r.tensor}",
                           "cat": "zero_copy", "pid": pids["hand-offs"], "tid": 0,
                           "ts": r.start_ns / 1e3, "args": args})
    for r in t.reconfigs.itertuples(index=False):
        events.append({"ph": "X", "name": f"reconfigure {r.kernel}", "cat": "reconfig",
                       "pid": pids[r.unit], "tid": 0, "ts": r.start_ns / 1e3,
                       "dur": (r.end_ns - r.start_ns) / 1e3,
                       "args": {"workload": r.workload, "inference": int(r.inference),
                                "for_op": r.op, "bitstream_bytes": int(r.bitstream_bytes),
                                "energy_uj": float(r.reconfig_pj) / 1e6,
                                "evicted": r.evicted.split()}})
    for time_ns, mem, workload, op, nbytes in trace.evictions:
        events.append({"ph": "i", "s": "t", "name": f"evict {op}:weights", "cat": "eviction",
                       "pid": pids["paging"], "tid": 0, "ts": time_ns / 1e3,
                       "args": {"memory": mem, "workload": workload, "bytes": int(nbytes)}})
    for time_ns, unit, counter, value in trace.counters:
        events.append({"ph": "C", "name": counter, "pid": pids[unit], "ts": time_ns / 1e3,
                       "args": {counter: float(value)}})
    return {"traceEvents": events, "displayTimeUnit": "ns"}
