"""socsim's float32 routines against onnxruntime's own kernels (one-op models) and exact rationals.

Inputs are log-uniform in magnitude with random signs, which makes rounding differences between
summation orders visible; row lengths cover the vector bodies and every kind of tail.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.kernels import _mlas

F = np.float32


def _session(node: helper.NodeProto, inputs: dict[str, np.ndarray], n_out: int,
             initializers: dict[str, np.ndarray] | None = None, opset: int = 17
             ) -> ort.InferenceSession:
    ins = [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape))
           for k, v in inputs.items()]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in node.output[:n_out]]
    inits = [numpy_helper.from_array(v, k) for k, v in (initializers or {}).items()]
    model = helper.make_model(helper.make_graph([node], "g", ins, outs, initializer=inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _log_uniform(rng: np.random.Generator, shape: tuple[int, ...], span: float = 8.0
                 ) -> np.ndarray:
    return (np.exp2(rng.uniform(-span, span, shape)) * rng.choice([-1, 1], shape)).astype(F)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, F), np.asarray(b, F)
    return a.shape == b.shape and bool(np.all((a.view(np.uint32) == b.view(np.uint32))
                                              | (np.isnan(a) & np.isnan(b))))


def _exact_fma(a: float, b: float, c: float) -> np.float32:
    v = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    r = F(float(v))
    cands = (np.nextafter(r, F(-np.inf)), r, np.nextafter(r, F(np.inf)))
    return min(cands, key=lambda t: (abs(Fraction(float(t)) - v),
                                     int(np.array(t).view(np.uint32)) & 1))


def test_fma_rounds_once() -> None:
    # (1 + 2**-12)**2 = 1 + 2**-11 + 2**-24 sits on a float32 midpoint; a tiny c decides the
    # direction, which float64-then-float32 rounding loses.
    a = F(1 + 2**-12)
    for c in (F(2**-80), F(-2**-80), F(0)):
        assert _mlas.fma(a, a, c) == _exact_fma(a, a, c)
    assert F(np.float64(a) * np.float64(a) + np.float64(F(2**-80))) != _exact_fma(a, a, F(2**-80))
    rng = np.random.default_rng(1)
    a, b = _log_uniform(rng, (3000,), 20), _log_uniform(rng, (3000,), 20)
    c = (-(a.astype(np.float64) * b).astype(F) * rng.choice([1, 0.5], 3000)).astype(F)
    got = _mlas.fma(a, b, c)
    assert all(got[i] == _exact_fma(a[i], b[i], c[i]) for i in range(len(a)))


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 12, 15, 16, 20, 23, 100, 127, 128, 255, 768])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm_is_onnxruntime(n: int, with_bias: bool) -> None:
    rng = np.random.default_rng(n)
    x, s = _log_uniform(rng, (32, n)), rng.standard_normal(n).astype(F)
    b = rng.standard_normal(n).astype(F) if with_bias else None
    feeds = {"x": x, "s": s} | ({"b": b} if with_bias else {})
    node = helper.make_node("LayerNormalization", list(feeds), ["y", "m", "i"], axis=-1,
                            epsilon=1e-5)
    y, m, i = _session(node, feeds, 3).run(None, feeds)
    yc, mc, ic = _mlas.layer_norm(x, s, b, 1e-5)
    assert _same_bits(yc, y) and _same_bits(mc, m.ravel()) and _same_bits(ic, i.ravel())


def test_erf_is_onnxruntime() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 0x41800000, 200_000, dtype=np.int64).astype(np.uint32).view(F)
    sweep = np.concatenate([np.linspace(0.92, 0.924, 4001), np.linspace(3.6, 4.6, 4001)]).astype(F)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, np.finfo(F).max], F)
    x = np.concatenate([x, -x[:50_000], sweep, -sweep, special])
    node = helper.make_node("Erf", ["x"], ["y"])
    (y,) = _session(node, {"x": x}, 1, opset=13).run(None, {"x": x})
    assert _same_bits(_mlas.erf(x), y)


@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((64, 128), (128, 128)), ((64, 512), (512, 128)), ((1, 130), (130, 33)), ((1, 7), (7, 9)),
    ((4, 1, 128), (128, 64)), ((4, 1, 128), (4, 128, 64)), ((3, 1024), (1024, 17)),
    ((64, 300), (300, 10)), ((2, 3, 300), (300, 20)), ((2, 4, 64, 32), (2, 4, 32, 64)),
])
@pytest.mark.parametrize("b_initializer", [False, True])
def test_matmul_is_onnxruntime(a_shape: tuple[int, ...], b_shape: tuple[int, ...],
                               b_initializer: bool) -> None:
    rng = np.random.default_rng(len(a_shape) * 1000 + a_shape[-1])
    a, b = _log_uniform(rng, a_shape, 6), _log_uniform(rng, b_shape, 6)
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    if b_initializer:
        sess = _session(node, {"a": a}, 1, initializers={"b": b}, opset=13)
        (y,) = sess.run(None, {"a": a})
    else:
        (y,) = _session(node, {"a": a, "b": b}, 1, opset=13).run(None, {"a": a, "b": b})
    assert _same_bits(_mlas.matmul(a, b, b_const=b_initializer), y)
