"""The invariants of ../shared/DESIGN.md, checked on real models under several regimes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from socsim.run import run_scenario
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
    t = result.tables
    parts = t.ops["energy_pj"].sum() + t.transfers["energy_pj"].sum() + sum(
        result.trace.idle_static_pj.values())
    s = result.summary["energy_mj"]
    assert s["total"] * 1e9 == pytest.approx(parts, rel=1e-12)
    parts = ("compute", "sram", "dram", "dma", "reconfig", "static", "idle")
    assert s["total"] == pytest.approx(sum(s[k] for k in parts), rel=1e-12)
    assert s["memory"] == pytest.approx(s["sram"] + s["dram"], rel=1e-12)
    assert sum(u["energy_mj"] for u in result.summary["units"].values()) <= s["total"]


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
