"""The invariants of ../shared/DESIGN.md, checked on real models under several regimes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from socsim.report.reconcile import reconcile
from socsim.report.tables import summary, tables
from socsim.run import run_scenario
from socsim.sim.trace import Trace
from socsim.zoo import ensure
from tests.conftest import FIXTURES, REPO, write_scenario

RESNET = REPO / "workloads" / "resnet8_int8.onnx"


def _run(tmp_path: Path, workloads: str, policy: str = "{name: greedy_eft}", soc: Path | None = None,
         run: str = "seed: 0"):
    ensure(RESNET)
    text = f"""
name: inv
soc: {soc or FIXTURES / 'tiny_soc.yaml'}
workloads:
{workloads}
policy: {policy}
run: {{{run}}}
"""
    return run_scenario(write_scenario(tmp_path, text))


REGIMES = {
    "closed_loop_3_in_flight": f"  - {{name: a, model: {RESNET}, inferences: 6, max_in_flight: 3}}",
    "open_loop_poisson_two_streams": (
        f"  - {{name: a, model: {RESNET}, rate_hz: 4000, duration_s: 0.002, arrival: poisson}}\n"
        f"  - {{name: b, model: {RESNET}, rate_hz: 2000, duration_s: 0.002, deadline_ms: 0.5}}"),
}


@pytest.fixture(scope="module", params=list(REGIMES))
def result(request, tmp_path_factory):
    return _run(tmp_path_factory.mktemp(request.param), REGIMES[request.param])


def test_no_unit_runs_more_ops_than_engines(result):
    ops = result.tables.ops
    for unit, group in ops.groupby("unit"):
        engines = result.trace.engines[unit]
        events = sorted([(s, 1) for s in group["start_ns"]] + [(e, -1) for e in group["end_ns"]],
                        key=lambda x: (x[0], x[1]))
        running = peak = 0
        for _, delta in events:
            running += delta
            peak = max(peak, running)
        assert peak <= engines
        for _, lane in group.groupby("engine"):
            lane = lane.sort_values("start_ns")
            assert (lane["start_ns"].to_numpy()[1:] >= lane["end_ns"].to_numpy()[:-1]).all()


def test_no_op_starts_before_its_inputs_exist_where_it_reads(result):
    ops = result.tables.ops
    job = {j.workload.name: j for j in result.jobs}
    end = {(r.workload, r.inference, r.op): r.end_ns for r in ops.itertuples()}
    produced_by = {w: {t: op.name for op in j.graph.ops for t in op.outputs}
                   for w, j in job.items()}
    copies = result.tables.transfers
    copy_end = {(r.workload, r.inference, r.tensor, r.dst): r.end_ns
                for r in copies[copies["kind"] == "dma"].itertuples()}
    for r in ops.itertuples():
        op = job[r.workload].graph.op(r.op)
        for t in op.inputs:
            producer = produced_by[r.workload].get(t)
            if producer is not None:
                assert r.start_ns >= end[(r.workload, r.inference, producer)]
            unit = result.scenario.device.units[r.unit]
            arrivals = [v for (w, i, tensor, dst), v in copy_end.items()
                        if (w, i, tensor) == (r.workload, r.inference, t) and dst in unit.memories]
            if arrivals:
                assert r.start_ns >= min(arrivals)
    for r in copies.itertuples():
        producer = produced_by[r.workload].get(r.tensor)
        if producer is not None:
            assert r.start_ns >= end[(r.workload, r.inference, producer)]


def test_memory_never_exceeds_capacity(result):
    for mem, peak in result.trace.memory_peak_bytes.items():
        assert 0 < peak <= result.trace.memory_capacity_bytes[mem] or peak == 0


def test_energy_totals_equal_the_sum_of_attributed_parts(result):
    # the report's sums of the records against the engine's own counters (its ledger:
    # energy per unit, bytes per memory priced from the device file, bytes per DMA engine)
    assert reconcile(result.trace, result.tables, result.summary) == []
    s = result.summary["energy_mj"]
    parts = ("compute", "sram", "dram", "dma", "reconfig", "static", "idle")
    assert s["total"] == pytest.approx(sum(s[k] for k in parts), rel=1e-12)
    assert s["memory"] == pytest.approx(s["sram"] + s["dram"], rel=1e-12)
    assert sum(u["energy_mj"] for u in result.summary["units"].values()) <= s["total"]


def _report(result, trace: Trace) -> list[str]:
    """Rebuild the report of ``trace`` as run.py does and reconcile it with the ledger."""
    soc = result.scenario.device
    kinds = {**{n: u.kind for n, u in soc.units.items()}, **{n: "dma" for n in soc.dma},
             **{n: m.kind for n, m in soc.memories.items()}}
    t = tables(trace, kinds)
    s = summary(t, trace, scenario="inv", soc=soc.name, policy={}, seed=0)
    return reconcile(trace, t, s)


def test_the_energy_check_catches_a_lost_or_doubled_or_mispriced_record(result):
    trace = result.trace
    assert _report(result, trace) == []
    # a lost op record: its unit's compute, static and op count no longer add up
    k = next(i for i, r in enumerate(trace.ops) if r.compute_pj > 0)
    unit = trace.ops[k].unit
    problems = _report(result, replace(trace, ops=trace.ops[:k] + trace.ops[k + 1:]))
    assert any(p.startswith(f"{unit} compute pJ") for p in problems), problems
    assert any(p.startswith(f"{unit} ops") for p in problems), problems
    # a record counted twice
    problems = _report(result, replace(trace, ops=[*trace.ops, trace.ops[k]]))
    assert any(p.startswith("total pJ") for p in problems), problems
    # an op whose memory energy was priced 1 pJ off: the bytes per memory disagree
    rec = trace.ops[k]
    col = "sram_pj" if rec.sram_pj else "dram_pj"
    rec = rec._replace(**{col: getattr(rec, col) + 1.0})
    problems = _report(result, replace(trace, ops=[*trace.ops[:k], rec, *trace.ops[k + 1:]]))
    assert any(p.startswith(f"{col[:4]} pJ") for p in problems), problems
    # an op reporting a byte it did not move
    rec = trace.ops[k]._replace(bytes_in=trace.ops[k].bytes_in + 1)
    problems = _report(result, replace(trace, ops=[*trace.ops[:k], rec, *trace.ops[k + 1:]]))
    assert any(p.startswith("bytes read") for p in problems), problems
    # an op filed under another unit
    others = [u for u in trace.units if u != unit]
    rec = trace.ops[k]._replace(unit=others[0])
    problems = _report(result, replace(trace, ops=[*trace.ops[:k], rec, *trace.ops[k + 1:]]))
    assert any(p.startswith(f"{unit} ") for p in problems), problems


def test_the_energy_check_catches_a_lost_dma_transfer(tmp_path):
    # tiny_soc's accelerator reads through a DMA copy (test_relu_on_accelerator_needs_a_dma)
    r = _run(tmp_path, f"  - {{name: a, model: {RESNET}, inferences: 2, max_in_flight: 2}}",
             run="seed: 0, zero_copy: false")
    k = next(i for i, rec in enumerate(r.trace.transfers) if rec.kind == "dma")
    engine = r.trace.transfers[k].engine
    assert _report(r, r.trace) == []
    lost = replace(r.trace, transfers=r.trace.transfers[:k] + r.trace.transfers[k + 1:])
    problems = _report(r, lost)
    assert any(p.startswith(f"{engine} transfers") for p in problems), problems
    assert any(p.startswith(f"{engine} bytes") for p in problems), problems


def test_every_inference_completes(result):
    for w in result.scenario.workloads:
        done = result.tables.inferences[result.tables.inferences["workload"] == w.name]
        expected = w.inferences or None
        if expected:
            assert len(done) == expected
        assert (done["latency_ns"] > 0).all()
        n_ops = len(next(j for j in result.jobs if j.workload.name == w.name).graph.ops)
        assert (result.tables.ops["workload"] == w.name).sum() == len(done) * n_ops


def test_small_sram_spills_but_never_overflows(tmp_path):
    soc = (FIXTURES / "tiny_soc.yaml").read_text().replace(
        "  sram: {kind: sram, size_kib: 64, page_kib: 1", "  sram: {kind: sram, size_kib: 20, page_kib: 1", 1)
    path = tmp_path / "small.yaml"
    path.write_text(soc)
    r = _run(tmp_path, f"  - {{name: a, model: {RESNET}, inferences: 3, max_in_flight: 2}}",
             policy="{name: single, params: {unit: cpu}}", soc=path)
    assert r.summary["spills"] > 0 and r.summary["spill_bytes"] > 0
    assert r.summary["page_faults"] == 0  # a spill is not paged: it is read where it landed
    assert r.trace.memory_peak_bytes["sram"] <= 20 * 1024
    assert r.trace.memory_peak_bytes["dram"] > 0


def test_same_seed_same_bytes_other_seed_other_arrivals(tmp_path):
    workloads = f"  - {{name: a, model: {RESNET}, rate_hz: 3000, duration_s: 0.002, arrival: poisson}}"
    outs = []
    for k, seed in enumerate((1, 1, 2)):
        (tmp_path / str(k)).mkdir()
        r = _run(tmp_path / str(k), workloads, run=f"seed: {seed}")
        outs.append(r.write(tmp_path / f"out{k}"))
    for a, b in zip(outs[0], outs[1]):
        assert a.read_bytes() == b.read_bytes(), a.name
    first = pd.read_csv(outs[0][1])
    third = pd.read_csv(outs[2][1])
    assert not first[["start_us"]].equals(third[["start_us"]])
