"""``socsim sweep`` end to end on the bundled quickstart sweep, and the command's light import."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from socsim.cli import main
from socsim.policies.registry import available_policies
from socsim.sweep.spec import METRICS, load_sweep
from tests.conftest import REPO


def test_quickstart_sweep_writes_every_output(tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["sweep", str(REPO / "scenarios" / "sweep_quickstart.yaml"), "--out", str(out),
                 "-j", "2", "--top", "3"]) == 0
    printed = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"results.parquet", "results.csv", "pareto.png",
                                               "sweep.json"}
    df = pd.read_parquet(out / "results.parquet")
    csv = pd.read_csv(out / "results.csv")
    assert len(df) == len(csv) == 18 and (df["status"] == "ok").all()
    assert list(df.columns) == list(csv.columns)
    assert {"policy", "dvfs", *METRICS, "error", "set"} <= set(df.columns)
    # every built-in policy (the registry's, not a list written here) at both operating points
    names = df["set"].str.extract(r'policy.name="(\w+)"')[0]
    assert set(names) == set(available_policies())
    assert set(df["dvfs"]) == {"400MHz", "200MHz"}
    # halving both clocks cannot make the NPU-only placement faster
    npu = df[df["policy"] == "single-npu"].set_index("dvfs")["latency_p99_ms"]
    assert npu["200MHz"] > npu["400MHz"]
    assert "best latency: policy=" in printed and "best energy: policy=" in printed
    assert "best 3 of 18 points" in printed
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bundled_sweeps_load():
    for name in ("sweep_quickstart.yaml", "sweep_imx8mp_mobilenetv2.yaml"):
        sweep = load_sweep(REPO / "scenarios" / name)
        assert sweep.size >= 8


def test_version_does_not_import_the_sweep_machinery():
    code = ("import sys; from socsim.cli import main; main(['--version']); "
            "print(sorted(m for m in ('dask', 'distributed', 'optuna', 'pyarrow', 'pandas') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
