"""Report files: all written, parseable, consistent with the trace."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from socsim.run import run_scenario
from socsim.zoo import ensure
from tests.conftest import FIXTURES, REPO, write_scenario


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    model = REPO / "workloads" / "ds_cnn_int8.onnx"
    ensure(model)
    path = write_scenario(tmp, f"""
name: rep
soc: {FIXTURES / 'tiny_soc.yaml'}
workloads:
  - {{name: kws, model: {model}, inferences: 4, max_in_flight: 2, deadline_ms: 0.1}}
policy: {{name: single, params: {{unit: npu}}}}
""")
    result = run_scenario(path)
    return result, {p.name: p for p in result.write(tmp / "out")}


def test_all_files_written(written):
    _, files = written
    # run.functional defaults to true: each inference's outputs are written too.
    assert set(files) == {"summary.json", "ops.csv", "transfers.csv", "trace.json",
                          "timeline.png", "energy.png", "outputs.npz"}
    for p in files.values():
        assert p.stat().st_size > 0
    assert files["timeline.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_fields(written):
    result, files = written
    s = json.loads(files["summary.json"].read_text())
    for key in ("scenario", "policy", "latency_ms", "energy_mj", "units", "dma_bytes",
                "zero_copy_count", "page_faults"):
        assert key in s
    assert set(s["latency_ms"]) >= {"p50", "p99", "max"}
    assert set(s["energy_mj"]) >= {"total", "per_inference", "compute", "memory", "dma", "static"}
    assert s["inferences"] == 4
    assert s["units"]["npu"]["ops"] == (result.tables.ops["unit"] == "npu").sum()
    assert 0 < s["units"]["npu"]["utilisation"] <= 1


def test_csvs_have_the_documented_columns(written):
    result, files = written
    ops = pd.read_csv(files["ops.csv"])
    for col in ("inference", "op", "op_type", "unit", "start_us", "end_us", "cycles", "macs",
                "bytes_in", "bytes_out", "energy_uj", "freq_mhz"):
        assert col in ops.columns
    assert len(ops) == len(result.tables.ops)
    assert ops["energy_uj"].sum() == pytest.approx(result.tables.ops["energy_pj"].sum() / 1e6)
    transfers = pd.read_csv(files["transfers.csv"])
    for col in ("tensor", "src", "dst", "bytes", "start_us", "end_us", "engine", "energy_uj"):
        assert col in transfers.columns


def test_chrome_trace_has_a_track_per_unit_and_engine(written):
    result, files = written
    doc = json.loads(files["trace.json"].read_text())
    events = doc["traceEvents"]
    names = {e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert {"cpu", "npu", "dma0"} <= names
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) == len(result.tables.ops) + (result.tables.transfers["kind"] == "dma").sum()
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in complete)
