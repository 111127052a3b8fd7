"""Loading a scenario never writes; ``socsim zoo build`` is the explicit step that does.

A scenario naming a zoo model that is not on disk fails in ``validate`` and ``run`` with the
command that builds it, and leaves the folder byte for byte as it was; the command then writes
exactly ``zoo.build(name)`` and the scenario validates.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from socsim.cli import main
from tests.conftest import REPO
from tests.hostile.conftest import snapshot


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """devices/ and one scenario naming workloads/resnet8_int8.onnx, which is absent."""
    shutil.copytree(REPO / "devices", tmp_path / "devices")
    (tmp_path / "scenarios").mkdir()
    shutil.copy2(REPO / "scenarios" / "zynq_resnet8.yaml", tmp_path / "scenarios")
    (tmp_path / "workloads").mkdir()
    return tmp_path


def test_missing_zoo_model_is_an_error_naming_the_build_command(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    scenario = project / "scenarios" / "zynq_resnet8.yaml"
    before = snapshot(project)
    for argv in (["validate", str(scenario)], ["run", str(scenario), "--out", "r"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "workloads.0.model: model file" in err and "Traceback" not in err
        assert (f"it is the zoo model 'resnet8_int8', generated rather than committed: build it "
                f"with `socsim zoo build resnet8_int8 --out {project / 'workloads'}`") in err
    assert snapshot(project) == before  # nothing written, not even the report folder


def test_zoo_build_writes_the_model_then_the_scenario_validates(project, capsys, built):
    out = project / "workloads"
    assert main(["zoo", "build", "resnet8_int8", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"building resnet8_int8 (seed 0) -> {out / 'resnet8_int8.onnx'}" in err
    assert sorted(p.name for p in out.iterdir()) == ["resnet8_int8.onnx"]
    assert (out / "resnet8_int8.onnx").read_bytes() == built("resnet8_int8").SerializeToString()
    # the committed file was made by the same builder: the explicit step reproduces it
    assert (out / "resnet8_int8.onnx").read_bytes() == (
        REPO / "workloads" / "resnet8_int8.onnx").read_bytes()
    before = snapshot(project)
    assert main(["validate", str(project / "scenarios" / "zynq_resnet8.yaml")]) == 0
    assert snapshot(project) == before
    # a second build keeps the file unless --force
    assert main(["zoo", "build", "resnet8_int8", "--out", str(out)]) == 0
    assert "exists, kept (--force rebuilds it)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["zoo", "build"], "give zoo model names or --all (not both)"),
    (["zoo", "build", "ds_cnn", "--all"], "give zoo model names or --all (not both)"),
    (["zoo", "build", "resnet9"], "unknown zoo model(s) 'resnet9'; valid names: mobilenetv2,"),
])
def test_zoo_build_usage_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_zoo_list_says_what_is_present(capsys):
    assert main(["zoo", "list", "--out", str(REPO / "workloads")]) == 0
    lines = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    committed = {p.stem for p in (REPO / "workloads").glob("*.onnx")}
    assert {n for n, state in lines.items() if state == "present"} == {
        n for n in lines if n in committed}


def test_bundled_scenarios_name_only_committed_or_zoo_models():
    """Every model a bundled scenario names is tracked by git or buildable by `socsim zoo
    build` (the only two ways a fresh checkout gets one)."""
    import re
    import subprocess

    from socsim import zoo

    tracked = set(subprocess.run(["git", "ls-files", "workloads"], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout.split())
    for p in (REPO / "scenarios").glob("*.yaml"):
        for name in re.findall(r"model: \.\./workloads/(\w+)\.onnx", p.read_text()):
            assert f"workloads/{name}.onnx" in tracked or name in zoo.NAMES, (p.name, name)
