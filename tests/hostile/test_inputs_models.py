"""Hostile models and inputs files: nothing guessed (dynamic dimensions need `shapes`), nothing
silently wrong (zero sizes, unknown opsets, empty graphs, NaN weights), validate finds what run
would, and every message is located at the workload's line in the scenario."""

from __future__ import annotations

import io
import json
import os
import pickle
import re

import numpy as np
import pandas as pd
import pytest

from tests.hostile._input_cases import SCENARIO, edited, errors, float_scenario, line_of, model


def _model_error(cli, path, *, field: str = "model", command: str = "validate") -> str:
    """The one error of ``socsim <command> path``, checked to sit at workloads.0.<field>."""
    rel = str(path.relative_to(cli.box))
    result = cli(command, rel)
    assert result.code == 1, result.text
    (msg,) = errors(result)
    assert msg.startswith(f"{rel}:{line_of(path, ('workloads', 0, field))}:"), msg
    assert f" workloads.0.{field}: " in msg, msg
    return msg


@pytest.mark.parametrize("command", ["validate", "run"])
def test_dynamic_dimension_needs_a_size(cli, sandbox, command):
    path = float_scenario(sandbox, model(["N", 4]).SerializeToString())
    msg = _model_error(cli, path, command=command)
    assert "dimension 0 of 'x' is dynamic ('N'); socsim simulates one size: give it in the " \
           "scenario's workload as `shapes: {N: 1}`" in msg


def test_dynamic_dimension_with_shapes_is_simulated_at_that_size(cli, sandbox):
    path = float_scenario(sandbox, model(["N", 4]).SerializeToString(),
                          extra="    shapes: {N: 5}\n")
    rel = str(path.relative_to(sandbox))
    assert cli("validate", rel).code == 0
    result = cli("run", rel, "--out", "out", writes="out", bound=30)
    assert result.code == 0, result.text
    ops = pd.read_csv(sandbox / "out" / "ops.csv")
    assert ops.set_index("op").loc["mm", "macs"] == 5 * 4 * 3  # N x K x M, N = 5
    with np.load(sandbox / "out" / "outputs.npz") as out:
        assert out["w/0/z"].shape == (5, 3)


@pytest.mark.parametrize("functional", [True, False])
def test_huge_tensor_is_refused_before_functional_execution(cli, sandbox, functional):
    path = float_scenario(sandbox, model(["N", 1000, 1000, 4]).SerializeToString(),
                          extra=f"    shapes: {{N: 1000}}\nrun: {{functional: {functional}}}\n")
    if functional:
        msg = _model_error(cli, path, field="shapes")
        assert "tensor 'x' (1000, 1000, 1000, 4) holds 16,000,000,000 bytes; a functional run " \
               "computes every tensor in host memory" in msg
    else:  # timing only: sizes are counters, nothing is allocated
        assert cli("validate", str(path.relative_to(sandbox))).code == 0


def test_shapes_naming_no_dimension(cli, sandbox):
    path = float_scenario(sandbox, model(["N", 4]).SerializeToString(),
                          extra="    shapes: {N: 1, M: 2}\n")
    msg = _model_error(cli, path, field="shapes")
    assert "`shapes` names ['M'], which are not dynamic dimensions of the model's inputs; " \
           "valid: ['N']" in msg


def test_unnamed_dynamic_dimension(cli, sandbox):
    path = float_scenario(sandbox, model([None, 4]).SerializeToString())
    msg = _model_error(cli, path)
    assert "dimension 0 of 'x' has no size and no name; re-export the model with static " \
           "input shapes" in msg


def test_zero_batch(cli, sandbox):
    path = float_scenario(sandbox, model([0, 4]).SerializeToString())
    msg = _model_error(cli, path)
    assert "input 'x' has size 0 in dimension 0: a zero-size tensor holds no data" in msg


def test_empty_graph(cli, sandbox):
    path = float_scenario(sandbox, model([1, 4], nodes=False).SerializeToString())
    assert "the graph has no operators (only constants or nothing): nothing to simulate" in \
        _model_error(cli, path)


def test_unknown_opset(cli, sandbox):
    path = float_scenario(sandbox, model([1, 4], opset=99).SerializeToString())
    msg = _model_error(cli, path)
    assert re.search(r"declares ONNX opset 99; socsim \(onnx [\d.]+\) knows opsets 1 to \d+: "
                     r"re-export the model with opset_version <= \d+", msg)


def test_nan_weights(cli, sandbox):
    w = np.ones((4, 3), np.float32)
    w[1, 2] = np.nan
    path = float_scenario(sandbox, model([1, 4], weights=w).SerializeToString())
    assert "weight 'W' holds 1 NaN value(s) of 12: its outputs would be NaN" in \
        _model_error(cli, path, command="run")


def test_infinite_weights_are_warned_printed_and_recorded(cli, sandbox):
    w = np.ones((4, 3), np.float32)
    w[0, 0] = -np.inf
    path = float_scenario(sandbox, model([1, 4], weights=w).SerializeToString(),
                          extra="run: {functional: false}\n")
    rel = str(path.relative_to(sandbox))
    note = "workload 'w': m.onnx: weight 'W' holds 1 infinite value(s) of 12"
    checked = cli("validate", rel)
    assert checked.code == 0 and note in checked.err
    ran = cli("run", rel, "--out", "out", writes="out", bound=30)
    assert ran.code == 0 and note in ran.out
    summary = json.loads((sandbox / "out" / "summary.json").read_text())
    assert any(n.startswith(note) for n in summary["notes"])


@pytest.mark.parametrize("damage, expected", [
    (lambda b: b[: len(b) // 2], "not a readable ONNX model"),
    (lambda b: bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
     "not a readable ONNX model"),
    (lambda b: b"", "invalid ONNX model"),
    (lambda b: b"name: not a model\n", "not a readable ONNX model"),
], ids=["truncated", "random-bytes", "empty-file", "yaml-text"])
def test_broken_model_file(cli, sandbox, damage, expected):
    good = (sandbox / "workloads" / "ds_cnn_int8.onnx").read_bytes()
    path = float_scenario(sandbox, damage(good))
    for command in ("validate", "run"):
        assert expected in _model_error(cli, path, command=command)


def test_model_is_a_directory(cli, sandbox):
    (sandbox / "workloads" / "m.onnx").mkdir()
    path = float_scenario(sandbox, None)
    assert "model file" in (msg := _model_error(cli, path)) and "is a directory; give a .onnx " \
        "file" in msg


def test_model_is_a_symlink_loop(cli, sandbox):
    os.symlink("b.onnx", sandbox / "workloads" / "m.onnx")
    os.symlink("m.onnx", sandbox / "workloads" / "b.onnx")
    path = float_scenario(sandbox, None)
    for command in ("validate", "run"):
        msg = _model_error(cli, path, command=command)
        assert "model file '../workloads/m.onnx': Too many levels of symbolic links" in msg


def test_model_missing(cli, sandbox):
    path = float_scenario(sandbox, None, model_name="absent.onnx")
    assert "does not exist; check the path (relative to the scenario file)" in \
        _model_error(cli, path)


def test_no_unit_supports_the_models_ops(cli, sandbox):
    path = float_scenario(sandbox, None, model_name="ds_cnn_int8.onnx")
    rel = str(path.relative_to(sandbox))
    for command in ("validate", "run"):
        result = cli(command, rel)
        assert result.code == 1
        (msg,) = errors(result)
        assert msg.startswith(f"{rel}:{line_of(path, ('policy',))}:1: policy: workload 'w': "
                              "no unit supports op")
        assert "place those ops on a unit whose `ops` and `dtypes` include them" in msg


def test_rules_policy_placing_ops_where_they_cannot_run(cli, sandbox):
    path = edited(sandbox, SCENARIO, lambda d: d.update(policy={
        "name": "rules", "params": {"rules": [{"op_types": ["Conv"], "unit": "cpu"}],
                                    "default": "npu", "fallback": False}}), "rules.yaml")
    rel = str(path.relative_to(sandbox))
    result = cli("validate", rel)
    assert result.code == 1, result.text
    (msg,) = errors(result)
    assert msg.startswith(f"{rel}:{line_of(path, ('policy',))}:1: policy: workload 'kws': op ")
    assert "(QuantizeLinear, int8) cannot run on 'npu'" in msg


def _inputs_case(sandbox, writer) -> str:
    """A scenario whose workload reads workloads/in.npz, written by ``writer(path)``."""
    writer(sandbox / "workloads" / "in.npz")
    path = float_scenario(sandbox, model([1, 4]).SerializeToString(),
                          extra="    inputs: ../workloads/in.npz\n")
    return path


def _npy(array: np.ndarray) -> bytes:
    """The bytes ``numpy.save`` writes: one array, not an archive."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _savez(**arrays):
    return lambda p: np.savez(p, **arrays)


@pytest.mark.parametrize("writer, expected", [
    (lambda p: p.write_text("x: [1, 2, 3, 4]\n"), "is not an .npz archive; save it with "
                                                    "numpy.savez(path, **{name: array}) for "
                                                    "inputs ['x']"),
    (lambda p: p.write_bytes(_npy(np.zeros((1, 1, 4), np.float32))), "is not an .npz"),
    (_savez(y=np.zeros((1, 1, 4), np.float32)), "lacks arrays for model inputs ['x']; it has "
                                                "['y']"),
    (_savez(x=np.zeros((1, 1, 5), np.float32)), "array 'x' has shape (1, 1, 5); expected (N, 1, "
                                                "4) with N >= 1 samples along the first axis"),
    (_savez(x=np.zeros((0, 1, 4), np.float32)), "array 'x' has shape (0, 1, 4)"),
    (_savez(x=np.zeros((2, 1, 4), np.float64)), "array 'x' is float64; the model's input is "
                                                "float32: save array.astype(numpy.float32)"),
    (_savez(x=np.full((2, 1, 4), np.nan, np.float32)), "array 'x' holds 8 NaN or infinite "
                                                       "value(s); give finite inputs"),
    (_savez(x=np.array([{"a": 1}], dtype=object)), "cannot be read as an .npz of plain arrays"),
    (lambda p: p.write_bytes(pickle.dumps({"x": 1})), "is not an .npz archive"),
], ids=["yaml", "npy", "missing-array", "wrong-shape", "no-samples", "wrong-dtype", "nan",
        "pickled-object", "pickle-file"])
def test_bad_inputs_file(cli, sandbox, writer, expected):
    path = _inputs_case(sandbox, writer)
    for command in ("validate", "run"):
        assert expected in _model_error(cli, path, field="inputs", command=command)


def test_good_inputs_file_is_used(cli, sandbox):
    x = np.arange(8, dtype=np.float32).reshape(2, 1, 4)
    path = _inputs_case(sandbox, _savez(x=x))
    rel = str(path.relative_to(sandbox))
    assert cli("validate", rel).code == 0
    assert cli("run", rel, "--out", "out", writes="out", bound=30).code == 0
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    with np.load(sandbox / "out" / "outputs.npz") as out:
        np.testing.assert_array_equal(out["w/0/z"], np.maximum(x[0] @ w, 0))
