"""Chrome trace-event JSON (loads in ui.perfetto.dev and chrome://tracing).

One process per unit and per DMA engine, one thread per core / channel, a complete ("X")
event per op or transfer, and an instant event per zero-copy hand-off on the consumer's
memory track. Timestamps are microseconds, as the format requires.
"""

from __future__ import annotations

from socsim.report.tables import Tables


def chrome_trace(t: Tables, units: list[str], dma_engines: list[str],
                 engines: dict[str, int]) -> dict:
    """The trace-event document for ``t``."""
    events: list[dict] = []
    pids = {name: i + 1 for i, name in enumerate([*units, *dma_engines, "hand-offs"])}
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
        if r.kind == "dma":
            events.append({"ph": "X", "name": r.tensor, "cat": "dma", "pid": pids[r.engine],
                           "tid": int(r.channel), "ts": r.start_ns / 1e3,
                           "dur": (r.end_ns - r.start_ns) / 1e3,
                           "args": {**args, "energy_uj": float(r.energy_pj) / 1e6}})
        else:
            events.append({"ph": "i", "s": "t", "name": f"zero-copy {r.tensor}",
                           "cat": "zero_copy", "pid": pids["hand-offs"], "tid": 0,
                           "ts": r.start_ns / 1e3, "args": args})
    return {"traceEvents": events, "displayTimeUnit": "ns"}
