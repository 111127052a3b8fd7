"""Functional runs: outputs per inference, independent of placement unless arithmetic differs."""

from __future__ import annotations

import numpy as np

from socsim.execute import execute
from socsim.run import run_scenario
from socsim.zoo import ensure
from tests.conftest import FIXTURES, REPO, write_scenario

MODEL = REPO / "workloads" / "ds_cnn_int8.onnx"


def _run(tmp_path, policy: str, soc_text: str | None = None, extra: str = ""):
    ensure(MODEL)
    soc = FIXTURES / "tiny_soc.yaml"
    if soc_text is not None:
        soc = tmp_path / "soc.yaml"
        soc.write_text(soc_text)
    path = write_scenario(tmp_path, f"""
name: f
soc: {soc}
workloads:
  - {{name: kws, model: {MODEL}, inferences: 3{extra}}}
policy: {policy}
run: {{seed: 7, functional: true}}
""")
    return run_scenario(path)


def test_outputs_are_the_kernels_on_seeded_inputs_and_do_not_depend_on_placement(tmp_path):
    on_npu = _run(tmp_path, "{name: single, params: {unit: npu}}")
    on_cpu = _run(tmp_path, "{name: single, params: {unit: cpu}}")
    assert len(on_npu.functional.outputs) == 3
    for key, value in on_npu.functional.outputs.items():
        assert np.array_equal(value, on_cpu.functional.outputs[key])
    # inference 1 of workload 0 saw default_rng([seed, 0, 1]) uniform inputs
    rng = np.random.default_rng([7, 0, 1])
    x = rng.uniform(-1.0, 1.0, size=(1, 1, 49, 10)).astype(np.float32)
    (expected,) = execute(str(MODEL), {"input": x}).values()
    assert np.array_equal(on_npu.functional.outputs["kws/1/logits"], expected)
    assert on_npu.summary["functional"]["kws"]["ops_whose_arithmetic_overflowed"] == []


def test_a_narrow_accumulator_changes_results_and_is_flagged(tmp_path):
    narrow = (FIXTURES / "tiny_soc.yaml").read_text().replace(
        "    elementwise_ops_per_cycle: 4\n",
        "    elementwise_ops_per_cycle: 4\n    arithmetic: {accumulator_bits: 12}\n")
    wide = _run(tmp_path, "{name: single, params: {unit: npu}}")
    r = _run(tmp_path, "{name: single, params: {unit: npu}}", soc_text=narrow)
    flagged = r.summary["functional"]["kws"]["ops_whose_arithmetic_overflowed"]
    assert flagged and r.summary["functional"]["kws"]["integer_events"][
        "accumulator_saturations"] > 0
    assert any(not np.array_equal(v, wide.functional.outputs[k])
               for k, v in r.functional.outputs.items())


def test_inputs_file_feeds_the_inferences(tmp_path):
    samples = np.random.default_rng(3).uniform(-1, 1, size=(2, 1, 1, 49, 10)).astype(np.float32)
    np.savez(tmp_path / "x.npz", input=samples)
    r = _run(tmp_path, "{name: single, params: {unit: cpu}}", extra=", inputs: x.npz")
    for i in range(3):  # three inferences cycle over two samples
        (expected,) = execute(str(MODEL), {"input": samples[i % 2]}).values()
        assert np.array_equal(r.functional.outputs[f"kws/{i}/logits"], expected)


def test_outputs_npz_is_written(tmp_path):
    r = _run(tmp_path, "{name: single, params: {unit: npu}}")
    paths = {p.name: p for p in r.write(tmp_path / "out")}
    with np.load(paths["outputs.npz"]) as data:
        assert sorted(data.files) == ["kws/0/logits", "kws/1/logits", "kws/2/logits"]
