"""`substitute: true`: ops a unit lacks are rewritten before placement and stay on the unit."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

import socsim
from socsim.cli import main
from socsim.run import run_scenario
from tests.conftest import FIXTURES

REWRITE_OPS = ["Mul", "Add", "Clip", "ReduceMean", "Sub", "Sqrt", "Div"]


def _model(path) -> None:
    """MatMul -> LayerNormalization -> HardSwish -> MatMul, float32, 1x16."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((16, 16)).astype(np.float32), n)
             for n in ("w1", "w2")]
    inits += [numpy_helper.from_array(rng.uniform(0.5, 1.5, 16).astype(np.float32), "gamma"),
              numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "beta")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["a"], name="mm1"),
             helper.make_node("LayerNormalization", ["a", "gamma", "beta"], ["n"], name="ln",
                              axis=-1, epsilon=1e-5),
             helper.make_node("HardSwish", ["n"], ["h"], name="hswish"),
             helper.make_node("MatMul", ["h", "w2"], ["y"], name="mm2")]
    graph = helper.make_graph(nodes, "subst", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 16])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 16])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)


@pytest.fixture
def scenario(tmp_path, monkeypatch):
    """The float pair of units: `acc` has MatMul and the rewrites' ops but neither
    LayerNormalization nor HardSwish; `cpu` has everything."""
    monkeypatch.chdir(tmp_path)
    soc = yaml.safe_load((FIXTURES / "float_soc.yaml").read_text())
    soc["units"]["cpu"]["ops"] = ["MatMul", "LayerNormalization", "HardSwish", *REWRITE_OPS]
    soc["units"]["acc"]["ops"] = ["MatMul", *REWRITE_OPS]
    (tmp_path / "soc.yaml").write_text(yaml.safe_dump(soc))
    _model(tmp_path / "m.onnx")
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(0).standard_normal(
        (2, 1, 16)).astype(np.float32))
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "subst", "soc": "soc.yaml", "policy": {"name": "greedy_eft"},
        "workloads": [{"name": "w", "model": "m.onnx", "inferences": 2, "inputs": "x.npz",
                       "substitute": True}],
        "run": {"seed": 0, "out": "rep"}}))
    return path


def test_lacking_ops_stay_on_the_unit_as_their_composition(scenario, tmp_path):
    plain = run_scenario(scenario, ["workloads.0.substitute=false", "run.out=plain"])
    placed = dict(zip((o.op_type for o in plain.jobs[0].graph.ops), plain.jobs[0].plan.units))
    assert placed["HardSwish"] == "cpu" and placed["LayerNormalization"] == "cpu"  # fallbacks

    res = run_scenario(scenario)
    job = res.jobs[0]
    assert set(job.plan.units) == {"acc"}  # nothing falls back any more
    types = {o.op_type for o in job.graph.ops}
    assert not types & {"HardSwish", "LayerNormalization"} and {"Clip", "Sqrt"} <= types
    notes = [n for n in res.summary["notes"] if "substituted by" in n]
    assert len(notes) == 2
    assert any("hswish (HardSwish) substituted by Mul/Add/Clip/Mul: unit 'acc' lacks "
               "HardSwish" in n and "bound 1e-06" in n for n in notes)
    assert any("ln (LayerNormalization)" in n and "bound 1e-05" in n for n in notes)

    # outputs: the rewritten model's, within the stated bound of the original's
    x = np.load(tmp_path / "x.npz")["x"]
    original = onnx.load(tmp_path / "m.onnx")
    for i in range(2):
        want = socsim.execute(original, {"x": x[i]})["y"]
        got = res.functional.outputs[f"w/{i}/y"]
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_single_unit_policy_keeps_every_op_on_its_unit(scenario):
    single = "policy={name: single, params: {unit: acc}}"
    plain = run_scenario(scenario, [single, "workloads.0.substitute=false",
                                    "run.functional=false", "run.out=plain"])
    assert "cpu" in plain.jobs[0].plan.units  # single falls back what acc lacks
    res = run_scenario(scenario, [single, "run.functional=false"])
    assert set(res.jobs[0].plan.units) == {"acc"}
    assert sum("substituted by" in n for n in res.summary["notes"]) == 2


def test_validate_substitutes_without_writing(scenario, tmp_path, capsys):
    assert main(["validate", str(scenario)]) == 0
    assert "substituted by Mul/Add/Clip/Mul" in capsys.readouterr().err
    assert not (tmp_path / ".socsim-cache").exists()


def test_substitute_must_be_a_boolean(scenario, capsys):
    scenario.write_text(scenario.read_text().replace("substitute: true", "substitute: 'yes'"))
    assert main(["validate", str(scenario)]) == 1
    err = capsys.readouterr().err
    assert "workloads.0.substitute" in err and "Traceback" not in err
