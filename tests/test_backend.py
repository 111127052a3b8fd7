"""ONNX backend tests for every op of issue 3, run through :mod:`socsim.backend`.

Which tests run is decided by what the test models contain, not by their names: every node test
whose node is one of :data:`ISSUE_OPS`, the ``_expanded`` variants of those (their function
bodies), and every PyTorch-converted, PyTorch-operator and simple model test built only from
:data:`ISSUE_OPS`. Names would miss variants such as ``test_basic_conv_with_padding`` or
``test_reflect_pad``. The "real" model tests (ResNet-50, ...) need a download and are not
selected. Excluded tests, each with its reason, are in :data:`EXCLUDED`.

onnx's Runner compares with a tolerance; :class:`_ExactRunner` first compares integer outputs bit
for bit, dtype included. ``tests/conftest.py`` prints "ran N, passed M" and the excluded tests at
the end of the session.
"""

from __future__ import annotations

import functools
import os
import re
import unittest
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
import onnx.backend.test.runner as onnx_runner
import pytest

from socsim.backend import SocsimBackend
from socsim.kernels.dtypes import is_quantized

ISSUE_OPS = (
    "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger",
    "MatMulInteger", "DynamicQuantizeLinear", "Conv", "MatMul", "Gemm", "Add", "Mul", "Sub",
    "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "Reshape", "Flatten",
    "Transpose", "Concat", "Pad", "Squeeze", "Unsqueeze", "Softmax", "Sigmoid", "HardSigmoid",
    "HardSwish", "Erf", "Gelu", "LayerNormalization", "ReduceMean", "Identity",
)
"""The op families of issue 3."""

INTEGER_OPS = ("QuantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger",
               "DynamicQuantizeLinear")
"""Families whose outputs are integers: their node tests must go through the exact check."""

_FLOAT8 = ("float8/float4 element types: socsim models integer units; an 8-bit float is not "
           "integer arithmetic")
EXCLUDED: dict[str, str] = {
    "test_quantizelinear_e4m3fn_cpu": _FLOAT8,
    "test_quantizelinear_e5m2_cpu": _FLOAT8,
    "test_quantizelinear_float4e2m1_cpu": _FLOAT8,
    "test_dequantizelinear_e4m3fn_cpu": _FLOAT8,
    "test_dequantizelinear_e4m3fn_float16_cpu": _FLOAT8,
    "test_dequantizelinear_e4m3fn_zero_point_cpu": _FLOAT8,
    "test_dequantizelinear_e5m2_cpu": _FLOAT8,
    "test_dequantizelinear_float4e2m1_cpu": _FLOAT8,
    "test_identity_opt_cpu": "optional type: socsim executes tensors only",
    "test_identity_sequence_cpu": "sequence type: socsim executes tensors only",
}
"""Selected tests that do not run, by test name, with the reason."""

_MODEL_KINDS = ("NodeModel", "SimpleModel", "PyTorchConvertedModel", "PyTorchOperatorModel")


class _Ledger:
    """What each backend test did in this session (filled by the test functions themselves)."""

    def __init__(self) -> None:
        self.current = ""
        self.ran: set[str] = set()
        self.passed: set[str] = set()
        self.exact_outputs: dict[str, int] = defaultdict(int)


LEDGER = _Ledger()


class _TestBackend(SocsimBackend):
    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        # The Runner turns an incompatible model into a silent skip; here it must fail instead.
        return True


def _ops_of(model_test: Any) -> list[str] | None:
    """Op types of a test's graph (None for tests whose model must be downloaded)."""
    model = model_test.model
    if model is None:
        path = os.path.join(model_test.model_dir or "", "model.onnx")
        if not model_test.model_dir or not os.path.exists(path):
            return None
        model = onnx.load(path, load_external_data=False)
    return [n.op_type for n in model.graph.node]


class _ExactRunner(onnx_runner.Runner):
    """The ONNX Runner with an exact check of integer outputs and a per-test ledger."""

    def __init__(self, backend: type[SocsimBackend], parent_module: str) -> None:
        self.ops: dict[str, list[str]] = {}
        self.kinds: dict[str, str] = {}
        super().__init__(backend, parent_module)

    def _add_model_test(self, model_test: Any, kind: str) -> None:
        ops = _ops_of(model_test) if kind != "Real" else None
        if ops is not None:
            self.ops[f"{model_test.name}_cpu"] = ops
        super()._add_model_test(model_test, kind)

    def _add_test(self, category: str, test_name: str, test_func: Callable[..., Any],
                  report_item: list, devices: Sequence[str] = ("CPU",), **kwargs: Any) -> None:
        name = f"{test_name}_cpu"
        self.kinds[name] = category

        @functools.wraps(test_func)
        def recorded(*args: Any, **kw: Any) -> None:
            LEDGER.current = name
            LEDGER.ran.add(name)
            test_func(*args, **kw)
            LEDGER.passed.add(name)

        if name in EXCLUDED:
            recorded = unittest.skip(f"excluded: {EXCLUDED[name]}")(recorded)
        super()._add_test(category, test_name, recorded, report_item, devices=("CPU",),
                          **kwargs)

    @classmethod
    def assert_similar_outputs(cls, ref_outputs: Sequence[Any], outputs: Sequence[Any],
                               rtol: float, atol: float, model_dir: str | None = None) -> None:
        """Integer outputs bit for bit (dtype included), then onnx's own comparison."""
        assert len(ref_outputs) == len(outputs), (len(ref_outputs), len(outputs))
        for i, (ref, out) in enumerate(zip(ref_outputs, outputs)):
            if isinstance(ref, (list, tuple)):
                continue  # sequences: onnx's comparison recurses into this method
            ref_a, out_a = np.asarray(ref), np.asarray(out)
            if is_quantized(ref_a) or ref_a.dtype.kind in "iub":
                assert ref_a.dtype == out_a.dtype, f"output {i}: {out_a.dtype} != {ref_a.dtype}"
                assert ref_a.shape == out_a.shape, f"output {i}: {out_a.shape} != {ref_a.shape}"
                diff = ref_a.astype(np.int64) != out_a.astype(np.int64)
                assert not diff.any(), (
                    f"{LEDGER.current} output {i}: {int(diff.sum())} of {diff.size} integers "
                    f"differ, e.g. {out_a[diff][:5]} instead of {ref_a[diff][:5]}")
                LEDGER.exact_outputs[LEDGER.current] += 1
        super().assert_similar_outputs(ref_outputs, outputs, rtol, atol, model_dir)


def _family(runner: _ExactRunner, name: str) -> str | None:
    """The issue op a test is about, or None if it is not selected."""
    ops = runner.ops.get(name)
    if ops is None:
        return None
    if runner.kinds.get(name) == "NodeModel":
        if len(ops) == 1 and ops[0] in ISSUE_OPS:
            return ops[0]
        base = re.sub(r"_expanded(_ver\d+)?_cpu$", "_cpu", name)
        return _family(runner, base) if base != name else None
    if ops and set(ops) <= set(ISSUE_OPS):
        return ops[0]
    return None


_runner = _ExactRunner(_TestBackend, __name__)
SELECTED: dict[str, str] = {}
"""Selected test name -> the issue op it tests."""
for _name in list(_runner.ops):
    _fam = _family(_runner, _name)
    if _fam is not None:
        SELECTED[_name] = _fam
_runner.include("^(" + "|".join(re.escape(n) for n in sorted(SELECTED)) + ")$")
globals().update(_runner.test_cases)


def _case(name: str) -> unittest.TestCase:
    cls = globals()[f"OnnxBackend{_runner.kinds[name]}Test"]
    return cls(name)


def test_selection_catches_every_variant() -> None:
    """Name patterns a reader would expect find nothing the op-based selection misses."""
    node_names = [n for n, k in _runner.kinds.items() if k == "NodeModel"]
    expected = [r"^test_reduce_mean_", r"^test_layer_normalization_", r"^test_gelu_",
                r"^test_qlinearmatmul_", r"^test_(de)?quantizelinear", r"^test_basic_conv_",
                r"^test_(constant|edge|reflect|wrap)_pad", r"^test_dynamicquantizelinear",
                r"^test_maxpool_", r"^test_averagepool_", r"^test_softmax_(?!cross)"]
    for pattern in expected:
        hits = [n for n in node_names if re.search(pattern, n)]
        assert hits, pattern
        missing = [n for n in hits if n not in SELECTED]
        assert not missing, (pattern, missing)
    assert set(EXCLUDED) <= set(SELECTED)
    assert {f for f in SELECTED.values()} == set(ISSUE_OPS)
    # Examples that name-based patterns used to miss.
    for name in ("test_basic_conv_with_padding_cpu", "test_reflect_pad_cpu",
                 "test_layer_normalization_4d_axis_negative_4_expanded_ver18_cpu",
                 "test_qlinearmatmul_3D_int8_float16_cpu", "test_quantizelinear_uint2_cpu",
                 "test_Conv2d_depthwise_padded_cpu", "test_operator_reduced_mean_cpu"):
        assert name in SELECTED, name


def test_exact_check_is_invoked_and_strict() -> None:
    """The override is what the Runner calls, and it rejects what a tolerance accepts."""
    assert _runner.assert_similar_outputs.__func__ is _ExactRunner.assert_similar_outputs.__func__
    ref = [np.array([1_000_000], dtype=np.int32)]
    off_by_one = [np.array([1_000_001], dtype=np.int32)]
    onnx_runner.Runner.assert_similar_outputs(ref, off_by_one, 1e-3, 1e-7)  # tolerance: passes
    with pytest.raises(AssertionError, match="1 of 1 integers differ"):
        _ExactRunner.assert_similar_outputs(ref, off_by_one, 1e-3, 1e-7)
    with pytest.raises(AssertionError, match="int64 != int32"):
        _ExactRunner.assert_similar_outputs(ref, [ref[0].astype(np.int64)], 1e-3, 1e-7)


def test_every_issue_op_ran() -> None:
    """Each op family of issue 3 had at least one backend test that ran and passed, and every
    integer family went through the exact check.

    Families whose tests have not run in this session (``-k``, a different order) are run now.
    """
    by_family: dict[str, list[str]] = defaultdict(list)
    for name, fam in sorted(SELECTED.items()):
        if name not in EXCLUDED:
            by_family[fam].append(name)
    for fam in ISSUE_OPS:
        names = by_family[fam]
        assert names, f"no backend test selected for {fam}"
        if not any(n in LEDGER.passed for n in names):
            for name in names:
                _case(name).debug()  # raises on failure
    not_passed = {f: n for f, n in by_family.items() if not any(x in LEDGER.passed for x in n)}
    assert not not_passed, not_passed
    for fam in INTEGER_OPS:
        checked = [n for n in by_family[fam] if LEDGER.exact_outputs.get(n)]
        assert checked, f"no {fam} test went through the exact integer comparison"


def test_float8_is_refused_by_name() -> None:
    """An excluded float8 model fails loudly, never with silently wrong numbers."""
    from onnx import TensorProto, helper

    from socsim.errors import UnsupportedOpError

    node = helper.make_node("DequantizeLinear", ["x", "s"], ["y"], name="dq")
    graph = helper.make_graph(
        [node], "f8", [helper.make_tensor_value_info("x", TensorProto.FLOAT8E4M3FN, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [helper.make_tensor("s", TensorProto.FLOAT, [], [1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    x = np.array([1.0, 2.0], dtype=np.float32).astype(
        onnx.helper.tensor_dtype_to_np_dtype(TensorProto.FLOAT8E4M3FN))
    with pytest.raises(UnsupportedOpError, match="FLOAT8E4M3FN is not an integer type"):
        SocsimBackend.prepare(model).run([x])


def test_socsim_execute_is_the_function_and_the_module() -> None:
    """``socsim.execute(model, inputs, *, qdq, arithmetic)`` and ``socsim.execute.run_model``."""
    import inspect

    from onnx import TensorProto, helper

    import socsim
    import socsim.execute as sx

    assert "execute" in socsim.__all__
    params = inspect.signature(socsim.execute).parameters
    assert list(params) == ["model", "inputs", "qdq", "arithmetic"]
    assert params["qdq"].default == "integer" and params["arithmetic"].default is None
    assert params["qdq"].kind is inspect.Parameter.KEYWORD_ONLY
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], name="q")
    graph = helper.make_graph(
        [node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [4])],
        [helper.make_tensor("s", TensorProto.FLOAT, [], [0.5]),
         helper.make_tensor("z", TensorProto.INT8, [], [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    x = np.array([0.25, 0.75, -0.25, 100.0], dtype=np.float32)  # /0.5: 0.5, 1.5, -0.5, 200
    y = socsim.execute(model, {"x": x})["y"]
    assert y.dtype == np.int8 and y.tolist() == [1, 3, 1, 127]  # half to even, + 1, saturated
    assert sx.run_model(model, {"x": x}).stats["q"].output_saturations == 1
