"""Streamed reports (run.ops_table: parquet/none, run.trace: window/false) against the run that
keeps every op record: same summary, same op table, the trace cut to the window."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import socsim.report.stream as stream_mod
from socsim.errors import ConfigError
from socsim.report.output import report_names
from socsim.report.reconcile import reconcile
from socsim.report.tables import op_frame
from socsim.report.write import op_table_frame
from socsim.run import run_scenario
from socsim.zoo import ensure
from tests.conftest import REPO

SCENARIO = REPO / "scenarios" / "imx8mp_multi.yaml"  # three workloads, one Poisson: contended
BASE = ["run.functional=false"]
WINDOW = (0.1, 0.2)


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    for m in ("resnet8_int8", "ds_cnn_int8", "transformer_block"):
        ensure(REPO / "workloads" / f"{m}.onnx")
    result = run_scenario(SCENARIO, BASE)
    out = tmp_path_factory.mktemp("kept") / "r"
    return result, {p.name: p for p in result.write(out)}


def _streamed(tmp_path, monkeypatch, chunk: int, *sets: str):
    monkeypatch.setattr(stream_mod, "OPS_CHUNK", chunk)
    result = run_scenario(SCENARIO, [*BASE, *sets])
    return result, {p.name: p for p in result.write(tmp_path / "r")}


def test_one_chunk_gives_the_same_summary_and_table(kept, tmp_path, monkeypatch):
    full, files = kept
    n_ops = len(full.tables.ops)
    streamed, sfiles = _streamed(tmp_path, monkeypatch, n_ops + 1, "run.ops_table=parquet")
    assert json.loads(sfiles["summary.json"].read_text()) == \
        json.loads(files["summary.json"].read_text())
    table = pd.read_parquet(sfiles["ops.parquet"])
    # the reference: the kept run's own records, through the ops.csv conversion
    expected = op_table_frame(op_frame(full.trace.ops))
    pd.testing.assert_frame_equal(table, expected, check_dtype=False, check_exact=True)
    assert set(sfiles) == {"summary.json", "ops.parquet", "transfers.csv", "trace.json",
                           "timeline.png", "energy.png"}


def test_many_chunks_keep_counts_exact_and_energies_to_rounding(kept, tmp_path, monkeypatch):
    full, _ = kept
    streamed, sfiles = _streamed(tmp_path, monkeypatch, 7, "run.ops_table=parquet")
    a, b = full.summary, streamed.summary
    for unit in a["units"]:
        assert b["units"][unit]["ops"] == a["units"][unit]["ops"]
        assert b["units"][unit]["busy_ms"] == a["units"][unit]["busy_ms"]
        assert b["units"][unit]["energy_mj"] == pytest.approx(a["units"][unit]["energy_mj"],
                                                              rel=1e-12)
    assert b["latency_ms"] == a["latency_ms"]
    for cat, mj in a["energy_mj"].items():
        assert b["energy_mj"][cat] == pytest.approx(mj, rel=1e-12)
    # the table is the same rows in the same order, whatever the chunking
    table = pd.read_parquet(sfiles["ops.parquet"])
    expected = op_table_frame(op_frame(full.trace.ops))
    pd.testing.assert_frame_equal(table, expected, check_dtype=False, check_exact=True)
    assert len(streamed.trace.ops) == 0  # every record went to the sink
    assert len(streamed.tables.ops) == len(full.tables.ops)  # a whole-run trace keeps all


@pytest.mark.parametrize("scenario, sets, kind", [
    ("imx8mp_multi", ["run.zero_copy=false"], "dma"),  # every hand-off an SDMA copy
    ("effect_paging", [], "page_in"),
])
def test_transfers_stream_with_the_ops(tmp_path, monkeypatch, scenario, sets, kind):
    path = REPO / "scenarios" / f"{scenario}.yaml"
    full = run_scenario(path, [*BASE, *sets])
    files = {p.name: p for p in full.write(tmp_path / "full")}
    assert kind in {r.kind for r in full.trace.transfers}
    window = (full.trace.makespan_ns // 3, full.trace.makespan_ns // 2)
    monkeypatch.setattr(stream_mod, "OPS_CHUNK", 7)
    streamed = run_scenario(path, [*BASE, *sets, "run.ops_table=none", "run.trace={window_s: "
                                   f"[{window[0] / 1e9!r}, {window[1] / 1e9!r}]}}"])
    sfiles = {p.name: p for p in streamed.write(tmp_path / "streamed")}
    assert len(streamed.trace.transfers) == 0  # taken at every op chunk, none left
    assert streamed.transfer_stream.records == len(full.trace.transfers)
    # transfers.csv written in chunks is the kept run's file, byte for byte
    assert sfiles["transfers.csv"].read_bytes() == files["transfers.csv"].read_bytes()
    a, b = full.summary, streamed.summary
    for key in ("dma", "dma_bytes", "zero_copy_count", "zero_copy_bytes"):
        assert b[key] == a[key]  # counts, bytes and ns: exact integers
    for key, value in a["paging"].items():
        assert b["paging"][key] == pytest.approx(value, rel=1e-12)
    for cat in ("dma", "sram", "dram", "total"):
        assert b["energy_mj"][cat] == pytest.approx(a["energy_mj"][cat], rel=1e-12)
    # the streamed report accounts for what the engine counted apart from the records
    assert reconcile(streamed.trace, streamed.tables, streamed.summary) == []
    # kept in memory: the first inferences' transfers and the window's
    x = streamed.tables.transfers
    early = x["inference"] < stream_mod.KEEP_INFERENCES
    assert (early | ((x["end_ns"] >= window[0]) & (x["start_ns"] < window[1]))).all()
    # trace.json's copies and page-ins: by hand from the kept run's records
    events = json.loads(sfiles["trace.json"].read_text())["traceEvents"]
    got = sorted((e["name"], e["args"]["workload"], e["args"]["inference"],
                  round(e["ts"] * 1e3)) for e in events
                 if e.get("cat") in ("dma", "page_in"))
    expected = sorted((r.tensor, r.workload, r.inference, r.start_ns)
                      for r in full.trace.transfers if r.kind != "zero_copy"
                      and r.end_ns >= window[0] and r.start_ns < window[1])
    assert got == expected and expected


def test_window_keeps_only_what_overlaps_it(kept, tmp_path, monkeypatch):
    full, _ = kept
    streamed, sfiles = _streamed(tmp_path, monkeypatch, 5, "run.ops_table=none",
                                 f"run.trace={{window_s: [{WINDOW[0]}, {WINDOW[1]}]}}")
    assert "ops.csv" not in sfiles and "ops.parquet" not in sfiles
    assert {u: v["ops"] for u, v in streamed.summary["units"].items()} == \
        {u: v["ops"] for u, v in full.summary["units"].items()}
    # kept in memory: the timeline's first inferences and the window's ops, nothing else
    kept_ops = streamed.tables.ops
    early = kept_ops["inference"] < stream_mod.KEEP_INFERENCES
    inside = (kept_ops["end_ns"] >= WINDOW[0] * 1e9) & (kept_ops["start_ns"] < WINDOW[1] * 1e9)
    assert (early | inside).all() and len(kept_ops) < len(full.tables.ops)
    events = json.loads(sfiles["trace.json"].read_text())["traceEvents"]
    ops = [e for e in events if e["ph"] == "X" and e["cat"] not in ("dma", "page_in",
                                                                    "reconfig")]
    # by hand from the kept run's records: ops ending at or after 0.1 s and starting before 0.2 s
    lo, hi = WINDOW[0] * 1e9, WINDOW[1] * 1e9
    expected = sorted((r.op, r.workload, r.inference, r.start_ns) for r in full.trace.ops
                      if r.end_ns >= lo and r.start_ns < hi)
    got = sorted((e["name"], e["args"]["workload"], e["args"]["inference"],
                  round(e["ts"] * 1e3)) for e in ops)
    assert got == expected and expected


def test_trace_false_writes_no_trace(tmp_path, monkeypatch, kept):
    _, sfiles = _streamed(tmp_path, monkeypatch, 64, "run.trace=false")
    assert "trace.json" not in sfiles and "ops.csv" in sfiles
    assert report_names(False, "parquet", False) == ["summary.json", "ops.parquet",
                                                     "transfers.csv", "timeline.png",
                                                     "energy.png"]


def test_a_backwards_window_is_one_clear_error():
    with pytest.raises(ConfigError) as err:
        run_scenario(SCENARIO, [*BASE, "run.trace={window_s: [2, 1]}"])
    text = str(err.value)
    assert "run.trace" in text and "the end must be after the start" in text


def test_streamed_timeline_zooms_into_a_named_window(kept, tmp_path, monkeypatch):
    """run.plot_window_ms far from the first inferences and outside any trace window: the
    stream keeps that window's ops too, so the zoom draws what the kept run's zoom draws."""
    from socsim.report.plots import timeline

    full, _ = kept
    lo_ms = full.trace.makespan_ns * 0.6 / 1e6
    window = f"run.plot_window_ms=[{lo_ms!r}, {lo_ms + 20!r}]"
    monkeypatch.setattr(stream_mod, "OPS_CHUNK", 7)
    streamed = run_scenario(SCENARIO, [*BASE, window, "run.ops_table=none", "run.trace=false"])
    kept_full = run_scenario(SCENARIO, [*BASE, window])
    drawn = []
    for r in (kept_full, streamed):
        tr = r.trace
        lo, hi = round(lo_ms * 1e6), round((lo_ms + 20) * 1e6)
        fig = timeline(r.tables, [*tr.units, *tr.dma_engines], tr.engines, window_ns=(lo, hi))
        zoom, = [ax for ax in fig.axes if ax.get_gid() == "zoom"]
        drawn.append(sorted((str(c.get_label()), len(c.get_paths())) for c in zoom.collections))
    assert drawn[0] == drawn[1] and sum(n for _, n in drawn[0]) > 0
    assert len(streamed.tables.ops) < len(kept_full.tables.ops)
