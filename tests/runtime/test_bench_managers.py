"""benchmarks/bench_managers.py runs (briefly) and reports every field for every manager;
the per-workload energies it attributes never exceed the run's total."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_bench_managers_reports_each_manager(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_managers.py"),
                           "--seconds", "0.3", "--json", str(out)],
                          capture_output=True, text=True, check=True, cwd=tmp_path)
    doc = json.loads(out.read_text())
    assert list(doc["managers"]) == ["static", "threshold", "feedback", "cascade"]
    for name, run in doc["managers"].items():
        assert run["battery_life_h"] > 0 and run["average_power_mw"] > 0
        assert run["wall_s"] > 0
        active = 0.0
        for w in ("vision", "kws"):
            d = run["workloads"][w]
            assert d["inferences"] > 0 and set(d["latency_ms"]) == {"p50", "p95", "p99"}
            assert sum(d["variant_fraction"].values()) == pytest.approx(1.0)
            active += d["energy_per_inference_mj"] * d["inferences"]
        assert 0 < active < run["energy_mj"]
        assert f"\n{name:9} vision" in proc.stdout  # the table has a row per workload
    assert doc["managers"]["cascade"]["manager_state"]["small_runs"] == 9
