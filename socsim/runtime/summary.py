"""The runtime section of ``summary.json``: per workload latency percentiles, miss rate,
dropped frames, time and inferences per variant, accuracy-weighted throughput; switch counts."""

from __future__ import annotations

import numpy as np

from socsim.runtime.process import RuntimeProcess


def runtime_summary(rt: RuntimeProcess, span_ns: int) -> dict:
    """The ``runtime`` dictionary of a run whose manager process was ``rt``.

    Accuracy-weighted throughput = sum over completed inferences of the accuracy of the last
    variant each ran (the one whose answer counts), per second of simulated time; None when a
    variant that ran has no ``accuracy``. The ``_on_time`` figure counts only inferences that
    met their deadline (a late answer is worth nothing to a real-time consumer).
    """
    rt.close(span_ns)
    workloads = {}
    for w, progs in rt.programs.items():
        done = [d for d in rt.done if d.workload == w]
        lat = np.array([d.end_ns - d.arrival_ns for d in done], dtype=float) / 1e6
        counts = dict.fromkeys(progs, 0)
        final = dict.fromkeys(progs, 0)
        for d in done:
            steps = d.variants.split("+")
            for v in steps:
                counts[v] += 1
            final[steps[-1]] += 1
        acc = rt.accuracy[w]
        weighted = (None if any(final[v] and acc[v] is None for v in final)
                    else sum(final[v] * acc[v] for v in final if final[v]))
        on_time = (None if weighted is None else
                   sum(acc[d.variants.split("+")[-1]] for d in done if not d.missed))
        dropped = sum(1 for r in rt.drops if r.workload == w)
        workloads[w] = {
            "inferences": len(done),
            "dropped": dropped,
            "latency_ms": ({f"p{q}": float(np.percentile(lat, q)) for q in (50, 95, 99)}
                           if len(lat) else None),
            "deadline_misses": sum(d.missed for d in done),
            "miss_rate": (sum(d.missed for d in done) / len(done)) if done else None,
            "miss_rate_with_drops": ((sum(d.missed for d in done) + dropped)
                                     / (len(done) + dropped)) if done or dropped else None,
            "variant_ms": {v: t / 1e6 for v, t in rt.variant_ns[w].items()},
            "variant_inferences": counts,
            "accuracy_weighted_throughput_hz": (None if weighted is None or not span_ns
                                                else weighted / (span_ns * 1e-9)),
            "accuracy_weighted_throughput_on_time_hz": (None if on_time is None or not span_ns
                                                        else on_time / (span_ns * 1e-9)),
        }
    kinds: dict[str, int] = {}
    for s in rt.switches:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    out = {"manager": rt.manager.name, "switches": len(rt.switches),
           "switches_by_kind": kinds, "workloads": workloads}
    state = rt.manager.summary()
    if state is not None:
        out["manager_state"] = state
    return out
