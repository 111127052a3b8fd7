"""Property tests: the simulator's invariants over random graphs, random SoCs and random runs.

The cases (tests/sim/property_cases.py) are drawn so that socsim accepts them and runs them to
completion (a fallback DRAM in every unit, a DMA engine between all memories); the few that
still stop are discarded here (``assume``) and counted, so every passing case had its
invariants checked. Run with ``--hypothesis-show-statistics`` to see the share of completed
cases (the events below). Memory-starved cases that stop are a property of their own
(tests/sim/test_deadlock_properties.py). Each completed run satisfies the invariants of
../shared/DESIGN.md, checked here against the configuration and the graph rather than
against the engine's own bookkeeping:

- no unit runs more ops at once than its engines, no DMA engine more transfers than its channels;
- no op starts before its inputs exist where it reads them (producer end, DMA copy end, a memory
  it shares with the producer), nor before its weights are paged in;
- memory never exceeds capacity, and every activation is freed by the end of the run;
- the report's energy, op counts and DMA bytes equal the engine's separate counters (its
  ledger, :func:`socsim.report.reconcile`), and the total is the sum of its categories;
- every inference completes, runs each op once, within [arrival, completion], with at most
  ``max_in_flight`` in flight; latency >= the longest op of the inference;
- the same inputs and seed give identical traces and summaries.

Deterministic for CI: ``derandomize=True`` and no example database.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import assume, event, given, settings

from socsim.errors import SimulationError
from socsim.report.reconcile import reconcile
from socsim.report.tables import summary, tables
from tests.sim.property_cases import (
    EXAMPLES,
    HANG_CPU_S,
    SETTINGS,
    cpu_limit,
    outcome,
    prepare,
    relu_chain_model,
    relu_cpu,
    scenarios,
)

# -- the properties ---------------------------------------------------------------------------


def _input_memory(soc) -> str:
    """docs/model.md: ``inputs_in``, else the first DRAM, else the largest memory."""
    if soc.inputs_in is not None:
        return soc.inputs_in
    drams = [n for n, m in soc.memories.items() if m.kind == "dram"]
    return drams[0] if drams else max(soc.memories, key=lambda n: soc.memories[n].size_kib)


def _peak_overlap(intervals) -> int:
    """Most half-open [start, end) intervals that overlap at one instant."""
    intervals = [(s, e) for s, e in intervals if e > s]
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def check_engines_and_channels(scenario, t) -> None:
    soc = scenario.device
    for uname, group in t.ops.groupby("unit"):
        unit = soc.units[uname]
        engines = unit.cores // (unit.threads_per_op if unit.kind == "cpu" else 1)
        assert _peak_overlap(zip(group["start_ns"], group["end_ns"])) <= engines, uname
        assert group["engine"].between(0, engines - 1).all(), uname
        for _, lane in group.groupby("engine"):
            lane = lane.sort_values(["start_ns", "end_ns"])
            assert (lane["start_ns"].to_numpy()[1:] >= lane["end_ns"].to_numpy()[:-1]).all()
    moved = t.transfers[t.transfers["kind"] != "zero_copy"]
    for ename, group in moved.groupby("engine"):
        engine = soc.dma[ename]
        assert _peak_overlap(zip(group["start_ns"], group["end_ns"])) <= engine.channels, ename
        for r in group.itertuples():
            assert r.src in engine.connects and r.dst in engine.connects, (ename, r)
            assert r.end_ns - r.start_ns >= r.bytes / engine.bw_gbps, r


def check_inputs_exist_where_read(scenario, jobs, t) -> None:
    soc = scenario.device
    zero_copy = scenario.run.zero_copy
    home = _input_memory(soc)
    ops = t.ops.set_index(["workload", "inference", "op"])
    end = ops["end_ns"].to_dict()
    start = ops["start_ns"].to_dict()
    copies: dict[tuple, list] = defaultdict(list)  # (workload, inference, tensor) -> rows
    for r in t.transfers.itertuples():
        if r.kind == "dma":
            copies[(r.workload, r.inference, r.tensor)].append(r)
        elif r.kind == "zero_copy":
            assert zero_copy, f"a zero-copy hand-off with run.zero_copy false: {r}"
        elif r.kind == "page_in":
            op = r.tensor.removesuffix(":weights")
            assert start[(r.workload, r.inference, op)] >= r.end_ns, f"weights late: {r}"
    converted: dict[tuple, list] = defaultdict(list)  # (workload, inference, tensor) -> rows
    for r in t.ops[t.ops["op_type"] == "LayoutConvert"].itertuples():
        converted[(r.workload, r.inference, r.op.split(">")[0])].append((r.unit, r.end_ns))
    for job in jobs:
        w = job.workload.name
        placed = dict(zip((op.name for op in job.graph.ops), job.plan.units))
        producer = {t_: op.name for op in job.graph.ops for t_ in op.outputs}
        done = sorted(set(t.inferences.loc[t.inferences["workload"] == w, "inference"]))
        for i in done:
            for op in job.graph.ops:
                s = start[(w, i, op.name)]
                reader = soc.units[placed[op.name]]
                for tensor in op.inputs:
                    p = producer.get(tensor)
                    if p is not None:
                        assert s >= end[(w, i, p)], (w, i, op.name, tensor)
                        written = set(soc.units[placed[p]].memories)
                        in_place = bool(written & set(reader.memories)) and (
                            zero_copy or placed[p] == placed[op.name])
                    else:
                        written = {home}
                        in_place = home in reader.memories
                    arrived = [c.end_ns for c in copies[(w, i, tensor)]
                               if c.dst in reader.memories]
                    assert in_place or (arrived and min(arrived) <= s), (
                        f"{w}#{i} {op.name} on {placed[op.name]} reads {tensor!r}: not "
                        f"addressable and no copy arrived by {s} ns (copies {arrived})")
                for tensor in op.outputs:
                    for c in sorted(copies[(w, i, tensor)], key=lambda c: c.start_ns):
                        assert c.start_ns >= end[(w, i, op.name)], c
                        # a copy reads the producer's copy, an earlier DMA copy, or a
                        # converted copy (written in the converting unit's memories)
                        sources = set(soc.units[placed[op.name]].memories)
                        sources |= {d.dst for d in copies[(w, i, tensor)]
                                    if d.end_ns <= c.start_ns}
                        for unit, conv_end in converted[(w, i, tensor)]:
                            if conv_end <= c.start_ns:
                                sources |= set(soc.units[unit].memories)
                        assert c.src in sources, c
            for tensor in job.graph.inputs:
                for c in copies[(w, i, tensor)]:
                    assert c.src == home or c.src in {d.dst for d in copies[(w, i, tensor)]}, c


def check_memory(scenario, sim, trace) -> None:
    for name, mem in scenario.device.memories.items():
        assert trace.memory_capacity_bytes[name] == mem.size_bytes
        assert 0 <= trace.memory_peak_bytes[name] <= mem.size_bytes, name
        pool = sim.pools[name]
        cached = sum(pool.cache.resident.values()) if pool.cache is not None else 0
        assert pool.used == cached, f"{name}: {pool.used - cached} bytes of activations leaked"


def check_energy(t, trace, s) -> None:
    assert reconcile(trace, t, s) == []  # the records against the engine's own counters
    total = s["energy_mj"]["total"] * 1e9
    e = s["energy_mj"]
    cats = ("compute", "sram", "dram", "dma", "reconfig", "static", "idle")
    assert e["total"] == pytest.approx(sum(e[k] for k in cats), rel=1e-12, abs=1e-18)
    for col in ("compute_pj", "sram_pj", "dram_pj", "static_pj"):
        assert (t.ops[col] >= 0).all(), col
    for name, pj in trace.idle_static_pj.items():
        assert pj >= -1e-9 * max(1.0, total), f"{name}: negative idle static energy {pj}"


def check_reconfigs(scenario, t) -> None:
    """One configuration port per fabric: reconfigurations of a unit never overlap, each
    takes the fabric's formula, and the op it was for starts after it."""
    starts = t.ops.set_index(["workload", "inference", "op"])["start_ns"].to_dict()
    for uname, group in t.reconfigs.groupby("unit"):
        fabric = scenario.device.units[uname].fabric
        assert _peak_overlap(zip(group["start_ns"], group["end_ns"])) <= 1, uname
        for r in group.itertuples():
            expect = (fabric.reconfig_setup_ns
                      + r.bitstream_bytes * 1000 / fabric.reconfig_bw_mb_per_s)
            assert r.end_ns - r.start_ns == math.ceil(expect), r
            assert starts[(r.workload, r.inference, r.op)] >= r.end_ns, r


def check_inferences(scenario, jobs, t) -> None:
    for job in jobs:
        w = job.workload
        done = t.inferences[t.inferences["workload"] == w.name].sort_values("inference")
        n = len(done)
        if w.inferences is not None:
            assert n == w.inferences
        else:
            assert n >= 1
            if w.arrival == "periodic":  # the engine's own accumulation: t += period
                k, at = 0, 0.0
                while at < w.duration_s * 1e9:
                    k, at = k + 1, at + 1e9 / w.rate_hz
                assert n == k
        assert list(done["inference"]) == list(range(n))
        ops = t.ops[(t.ops["workload"] == w.name) & (t.ops["op_type"] != "LayoutConvert")]
        names = sorted(op.name for op in job.graph.ops)
        spans = []
        for r in done.itertuples():
            mine = ops[ops["inference"] == r.inference]
            assert sorted(mine["op"]) == names, f"{w.name}#{r.inference} ran {len(mine)} ops"
            assert (mine["start_ns"] >= r.arrival_ns).all()
            assert (mine["end_ns"] <= r.end_ns).all()
            longest = (mine["end_ns"] - mine["start_ns"]).max()
            assert r.latency_ns >= longest
            first = r.arrival_ns if w.inferences is not None else mine["start_ns"].min()
            spans.append((first, r.end_ns))
        assert _peak_overlap(spans) <= w.max_in_flight, w.name


@SETTINGS
@given(scenarios())
def test_invariants_hold_on_random_socs_graphs_and_policies(case):
    doc, models = case
    scenario, jobs, sim, trace = outcome(doc, models)
    if isinstance(trace, SimulationError):  # rare here; such stops have their own property
        event("stopped: " + ("deadlock" if "deadlock" in str(trace) else "too large"))
    assume(not isinstance(trace, SimulationError))
    event("completed")
    soc = scenario.device
    kinds = {**{n: u.kind for n, u in soc.units.items()}, **{n: "dma" for n in soc.dma},
             **{n: m.kind for n, m in soc.memories.items()}}
    t = tables(trace, kinds)
    s = summary(t, trace, scenario="prop", soc=soc.name, policy={}, seed=scenario.run.seed)
    check_engines_and_channels(scenario, t)
    check_inputs_exist_where_read(scenario, jobs, t)
    check_memory(scenario, sim, trace)
    check_energy(t, trace, s)
    check_inferences(scenario, jobs, t)
    check_reconfigs(scenario, t)


@settings(SETTINGS, max_examples=max(15, EXAMPLES // 3))
@given(scenarios())
def test_same_inputs_and_seed_give_identical_results(case):
    doc, models = case
    first = outcome(doc, models)[3]
    second = outcome(doc, models)[3]
    if isinstance(first, SimulationError):
        assert isinstance(second, SimulationError) and str(first) == str(second)
        return
    assert first == second


# -- regressions found by the properties ----------------------------------------------------


def _relu_scenario(tmp_path: Path, *, thermal: bool, sram_kib: float, inferences: int,
                   max_in_flight: int):
    """x[1, 256] f32 (1 KiB) -> Relu -> Relu on one CPU whose only memory is an SRAM of
    ``sram_kib``."""
    model = relu_chain_model()
    cpu = relu_cpu(memory="m0", leakage_mw=1.0)
    if thermal:
        cpu["thermal"] = {"r_k_per_w": 10.0, "c_j_per_k": 0.01}
    doc = {"name": "regression",
           "soc": {"name": "one_cpu", "units": {"cpu": cpu},
                   "memories": {"m0": {"kind": "sram", "size_kib": sram_kib,
                                       "page_kib": min(1.0, sram_kib),
                                       "bw_gbps": 1.0, "read_pj_per_byte": 1.0,
                                       "write_pj_per_byte": 1.0}}},
           "workloads": [{"name": "w0", "model": "w0.onnx", "inferences": inferences,
                          "max_in_flight": max_in_flight}],
           "policy": {"name": "single", "params": {"unit": "cpu"}}}
    prepared = prepare(doc, {"w0.onnx": model}, tmp_path)
    assert prepared is not None
    return prepared[2]


def test_deadlock_without_a_monitor_is_reported(tmp_path):
    # the first two inferences place their inputs (x0, x1 fill the 2 KiB SRAM); each relu0
    # waits for room for its output that the other's input holds: a deadlock, reported at once
    # (the third inference waits for memory, the fourth for a slot)
    sim = _relu_scenario(tmp_path, thermal=False, sram_kib=2, inferences=4, max_in_flight=3)
    with cpu_limit(HANG_CPU_S), pytest.raises(SimulationError, match="deadlock"):
        sim.run()


def test_deadlock_with_a_monitor_and_a_waiting_closed_loop_stops(tmp_path):
    sim = _relu_scenario(tmp_path, thermal=True, sram_kib=2, inferences=4, max_in_flight=3)
    with cpu_limit(2.0), pytest.raises(SimulationError, match="deadlock"):
        sim.run()


def test_input_larger_than_its_memory_error_has_a_hint(tmp_path):
    sim = _relu_scenario(tmp_path, thermal=False, sram_kib=0.5, inferences=1, max_in_flight=1)
    with pytest.raises(SimulationError, match="larger than") as info:
        sim.run()
    assert info.value.hint
