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


def _cols(frame, names: tuple[str, ...]) -> list[list]:
    """Columns of ``frame`` as Python lists: iterating pandas rows (string arrays above all)
    costs far more than the events built from them."""
    return [frame[n].tolist() for n in names]


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
    ops = t.ops
    for (op, op_type, unit, engine, start, end, workload, inference, dtype, macs, cycles,
         energy_pj, freq) in zip(*_cols(ops, (
            "op", "op_type", "unit", "engine", "start_ns", "end_ns", "workload", "inference",
            "dtype", "macs", "cycles", "energy_pj", "freq_mhz"))):
        events.append({
            "ph": "X", "name": op, "cat": op_type, "pid": pids[unit], "tid": int(engine),
            "ts": start / 1e3, "dur": (end - start) / 1e3,
            "args": {"workload": workload, "inference": int(inference), "dtype": dtype,
                     "macs": int(macs), "cycles": float(cycles),
                     "energy_uj": float(energy_pj) / 1e6, "freq_mhz": float(freq)}})
    for (tensor, kind, engine, channel, start, end, workload, inference, nbytes, src, dst,
         energy_pj) in zip(*_cols(t.transfers, (
            "tensor", "kind", "engine", "channel", "start_ns", "end_ns", "workload",
            "inference", "bytes", "src", "dst", "energy_pj"))):
        args = {"workload": workload, "inference": int(inference), "bytes": int(nbytes),
                "src": src, "dst": dst}
        if kind != "zero_copy":
            events.append({"ph": "X", "name": tensor, "cat": kind, "pid": pids[engine],
                           "tid": int(channel), "ts": start / 1e3, "dur": (end - start) / 1e3,
                           "args": {**args, "energy_uj": float(energy_pj) / 1e6}})
        else:
            events.append({"ph": "i", "s": "t", "name": f"zero-copy {tensor}",
                           "cat": "zero_copy", "pid": pids["hand-offs"], "tid": 0,
                           "ts": start / 1e3, "args": args})
    for r in t.reconfigs.itertuples(index=False):
        events.append({"ph": "X", "name": f"reconfigure {r.kernel}", "cat": "reconfig",
                       "pid": pids[r.unit], "tid": 0, "ts": r.start_ns / 1e3,
                       "dur": (r.end_ns - r.start_ns) / 1e3,
                       "args": {"workload": r.workload, "inference": int(r.inference),
                                "for_op": r.op, "bitstream_bytes": int(r.bitstream_bytes),
                                "energy_uj": float(r.reconfig_pj) / 1e6,
                                "evicted": r.evicted.split()}})
    for e in trace.evictions:
        events.append({"ph": "i", "s": "t", "name": f"evict {e.op}:weights", "cat": "eviction",
                       "pid": pids["paging"], "tid": 0, "ts": e.time_ns / 1e3,
                       "args": {"memory": e.memory, "workload": e.workload,
                                "bytes": int(e.bytes)}})
    for sw in trace.switches:  # the runtime manager's actions, on the whole timeline
        events.append({"ph": "i", "s": "g", "name": f"{sw.kind} {sw.target}: {sw.old} -> "
                       f"{sw.new}", "cat": "runtime", "pid": pids["paging"], "tid": 0,
                       "ts": sw.time_ns / 1e3, "args": {"manager": sw.manager,
                                                        "reason": sw.reason}})
    for c in trace.counters:
        events.append({"ph": "C", "name": c.counter, "pid": pids[c.unit], "ts": c.time_ns / 1e3,
                       "args": {c.counter: float(c.value)}})
    return {"traceEvents": events, "displayTimeUnit": "ns"}
