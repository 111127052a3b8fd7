"""The report folder: name rules, path resolution, the swap (both ways), strict JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from socsim.report import output
from socsim.report.output import OutputError, ReportFolder, resolve_folder
from socsim.report.write import strict_summary


def test_paths_resolve_each_against_its_base(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = tmp_path / "scenarios" / "s.yaml"
    assert resolve_folder("out", name="n", run_out="ignored", scenario_file=scenario) == \
        tmp_path / "out"
    assert resolve_folder(None, name="n", run_out="../r", scenario_file=scenario) == \
        tmp_path / "r"
    assert resolve_folder(None, name="n", run_out=None, scenario_file=scenario) == \
        tmp_path / "reports" / "n"
    with pytest.raises(OutputError, match="run.out: empty path"):
        resolve_folder(None, name="n", run_out="", scenario_file=scenario)


def _report(folder: Path, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "summary.json").write_text(text)


@pytest.mark.parametrize("exchange", [True, False])
def test_swap_replaces_the_whole_folder(tmp_path, monkeypatch, exchange):
    if not exchange:  # a system without renameat2: two renames
        monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    _report(target, "old")
    (target / "outputs.npz").write_bytes(b"old")
    folder = ReportFolder(target)
    with folder.staging() as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".partial")
        (tmp / "summary.json").write_text("new")
    assert folder.committed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in target.iterdir()] == ["summary.json"]
    assert (target / "summary.json").read_text() == "new"


def test_failure_inside_staging_keeps_the_earlier_folder(tmp_path):
    target = tmp_path / "out"
    _report(target, "old")
    folder = ReportFolder(target)
    with pytest.raises(RuntimeError), folder.staging() as tmp:
        (tmp / "summary.json").write_text("half")
        raise RuntimeError("crash")
    assert not folder.committed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (target / "summary.json").read_text() == "old"


def test_strict_summary_names_and_nulls_non_finite_values():
    clean = strict_summary({"a": {"b": math.inf, "c": 1.0}, "d": [math.nan], "notes": ["x"]})
    assert clean["a"] == {"b": None, "c": 1.0} and clean["d"] == [None]
    assert clean["notes"] == ["x", "summary: a.b = inf is not a finite number; written as null",
                              "summary: d.0 = nan is not a finite number; written as null"]
    json.dumps(clean, allow_nan=False)
