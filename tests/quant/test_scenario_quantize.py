"""A scenario's float model + `quantize:` recipe: quantized on load, cached, validated."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest

import socsim
from socsim.cli import main
from socsim.run import run_scenario
from tests.conftest import REPO

SCENARIO = REPO / "scenarios" / "digits_quantized.yaml"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty working directory (the cache lives under it) with a copy of the scenario."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").mkdir()
    shutil.copy(SCENARIO, tmp_path / "scenarios" / SCENARIO.name)
    (tmp_path / "devices").symlink_to(REPO / "devices")
    (tmp_path / "workloads").symlink_to(REPO / "workloads")
    return tmp_path


def test_run_uses_the_model_socsim_quantize_writes(project, capsys):
    path = project / "scenarios" / SCENARIO.name
    assert main(["validate", str(path)]) == 0
    assert not (project / ".socsim-cache").exists()  # validate writes nothing
    assert "quantized (int8 per-channel minmax) on the first run" in capsys.readouterr().err

    result = run_scenario(path, [f"run.out={project / 'rep'}"])
    used = project / result.jobs[0].graph.path
    assert used.parent == project / ".socsim-cache" / "quant"
    assert any("quantized on load, cached" in n for n in result.summary["notes"])

    q = project / "q.onnx"
    assert main(["quantize", str(REPO / "workloads" / "digits_dscnn.onnx"), "--calib",
                 str(REPO / "workloads" / "digits_calib.npz"), "--per-channel",
                 "--out", str(q)]) == 0
    assert used.read_bytes() == q.read_bytes()

    # the run computed the quantized model: its logits are socsim.execute's of that model on
    # the same images, and they classify the 10 test images as labelled
    x = np.load(REPO / "workloads" / "digits_run_inputs.npz")["input"]
    labels = np.load(REPO / "workloads" / "digits_test.npz")["labels"][:len(x)]
    got = np.stack([result.functional.outputs[f"digits/{i}/logits"][0] for i in range(len(x))])
    want = np.stack([socsim.execute(onnx.load(q), {"input": xi})["logits"][0] for xi in x])
    assert np.count_nonzero(got != want) == 0
    assert np.array_equal(got.argmax(axis=1), labels)

    # a second run reuses the cached file (not rewritten)
    mtime = used.stat().st_mtime_ns
    run_scenario(path, [f"run.out={project / 'rep2'}"])
    assert used.stat().st_mtime_ns == mtime
    # validate now places the cached model
    assert main(["validate", str(path)]) == 0
    assert "11 ops placed" in capsys.readouterr().out  # its Flatten is a view


@pytest.mark.parametrize("edit, where, message", [
    ("scheme: int8", "scheme: int7", "workloads.0.quantize.scheme"),
    ("per_channel: true", "per_channel: 'yes'", "workloads.0.quantize.per_channel"),
    ("method: minmax", "method: minmax\n      percentile: 101.0", "quantize.percentile"),
    ("method: minmax", "method: minmax\n      bits: 8", "quantize.bits"),
    ("calib: ../workloads/digits_calib.npz", "calib: ../workloads/nope.npz",
     "workloads.0.quantize.calib: calib file"),
    ("calib: ../workloads/digits_calib.npz", "calib: ../workloads/digits_run_inputs.npz.bad",
     "workloads.0.quantize.calib"),
])
def test_bad_recipe_is_one_located_line(project, capsys, edit, where, message):
    path = project / "scenarios" / SCENARIO.name
    path.write_text(path.read_text().replace(edit, where))
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert message in err and f"{path}:" in err and "Traceback" not in err
    assert not (project / ".socsim-cache").exists()


def test_calibration_file_lacking_the_input_is_located(project, capsys):
    np.savez(project / "workloads_calib.npz", image=np.zeros((4, 1, 8, 8), np.float32))
    path = project / "scenarios" / SCENARIO.name
    path.write_text(path.read_text().replace("calib: ../workloads/digits_calib.npz",
                                             "calib: ../workloads_calib.npz"))
    for argv in (["validate", str(path)], ["run", str(path), "--out", str(project / "r")]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "workloads.0.quantize:" in err and "lacks arrays for model inputs ['input']" in err
        assert "Traceback" not in err
    assert not (project / ".socsim-cache").exists()
