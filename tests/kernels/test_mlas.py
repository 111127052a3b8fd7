"""socsim's float32 routines against onnxruntime's own kernels (one-op models) and exact rationals.

Inputs are log-uniform in magnitude with random signs, which makes rounding differences between
summation orders visible; row lengths cover the vector bodies and every kind of tail.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.execute import execute
from socsim.kernels import _mlas, _mlas_softmax

F = np.float32


def _model(node: helper.NodeProto, inputs: dict[str, np.ndarray], n_out: int,
           initializers: dict[str, np.ndarray] | None = None, opset: int = 17
           ) -> onnx.ModelProto:
    ins = [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape))
           for k, v in inputs.items()]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in node.output[:n_out]]
    inits = [numpy_helper.from_array(v, k) for k, v in (initializers or {}).items()]
    imports = [helper.make_opsetid("", opset)]
    if node.domain:
        imports.append(helper.make_opsetid(node.domain, 1))
    model = helper.make_model(helper.make_graph([node], "g", ins, outs, initializer=inits),
                              opset_imports=imports)
    model.ir_version = 9
    return model


def _session(node: helper.NodeProto, inputs: dict[str, np.ndarray], n_out: int,
             initializers: dict[str, np.ndarray] | None = None, opset: int = 17
             ) -> ort.InferenceSession:
    model = _model(node, inputs, n_out, initializers, opset)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _ort_and_socsim(node: helper.NodeProto, x: np.ndarray, opset: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    # One model, run by onnxruntime and by socsim's interpreter (so the registered kernel and
    # its attribute handling are what is compared).
    (y,) = _session(node, {"x": x}, 1, opset=opset).run(None, {"x": x})
    got = execute(_model(node, {"x": x}, 1, opset=opset), {"x": x}, qdq="reference")
    return y, got["y"]


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


def _float_patterns(rng: np.random.Generator, n: int) -> np.ndarray:
    # Half uniform over every float32 bit pattern (NaNs, infinities, subnormals, huge values),
    # half uniform over the bit patterns of |x| < 12 with both signs, where the curves bend.
    every = rng.integers(0, 1 << 32, n // 2, dtype=np.uint64).astype(np.uint32).view(F)
    near = rng.integers(0, 0x41400000, n - n // 2, dtype=np.int64).astype(np.uint32).view(F)
    near = np.where(rng.random(near.size) < 0.5, -near, near)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, np.finfo(F).max,
                        -np.finfo(F).max, 9.0, -9.0, 5.0, -5.0], F)
    return np.concatenate([every, near, special]).astype(F)


def test_tanh_is_onnxruntime() -> None:
    # onnxruntime's Tanh is MlasComputeTanh alone: the building block of Gelu's tanh form.
    x = _float_patterns(np.random.default_rng(3), 200_000)
    (y,) = _session(helper.make_node("Tanh", ["x"], ["y"]), {"x": x}, 1, opset=13).run(
        None, {"x": x})
    assert _same_bits(_mlas.tanh(x), y)


@pytest.mark.parametrize(("domain", "approximate"),
                         [("", "none"), ("", "tanh"), ("com.microsoft", None)])
@pytest.mark.parametrize("n", [1, 3, 7, 8, 13, 4095, 4097, 200_013])
def test_gelu_is_onnxruntime(domain: str, approximate: str | None, n: int) -> None:
    # Lengths cover the 8-wide kernels' tails and onnxruntime's 4096-element tasks.
    x = _float_patterns(np.random.default_rng(n), n)[-n:]
    attrs = {} if approximate is None else {"approximate": approximate}
    node = helper.make_node("Gelu", ["x"], ["y"], domain=domain, **attrs)
    y, got = _ort_and_socsim(node, x, opset=20)
    assert _same_bits(got, y)
    assert _same_bits(_mlas.gelu(x, approximate or "none"), y)


def _softmax_input(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # Per-row scales from 1/16 to 256 (so some rows underflow to subnormal exps), then a sprinkle
    # of -inf, of copies of other elements (ties, also of the maximum) and of huge magnitudes;
    # along the last axis, one row of -inf only, one constant row, one with a NaN, one with +inf.
    x = rng.standard_normal(shape) * np.exp2(rng.uniform(-4, 8, shape[:-1] + (1,)))
    flat = x.reshape(-1)
    k = flat.size
    flat[rng.integers(0, k, k // 40)] = -np.inf
    flat[rng.integers(0, k, k // 20)] = flat[rng.integers(0, k, k // 20)]
    flat[rng.integers(0, k, k // 100)] = rng.choice([1e30, -1e30, 3e38, -3e38], k // 100)
    rows = x.reshape(-1, shape[-1])
    rows[0] = -np.inf
    rows[1] = 2.5
    if len(rows) > 3:
        rows[2, 0] = np.nan
        rows[3, -1] = np.inf
    return x.astype(F)


@pytest.mark.parametrize("shape", [(300, 1), (300, 3), (97, 7), (64, 15), (64, 16), (64, 17),
                                   (32, 48), (32, 49), (8, 1000), (2, 3, 5, 7), (4, 33, 9),
                                   (2, 4, 16, 16)])
def test_softmax_is_onnxruntime(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape) * 31 + len(shape))
    x = _softmax_input(rng, shape)
    for axis in range(-len(shape), len(shape)):
        node = helper.make_node("Softmax", ["x"], ["y"], axis=axis)
        y, got = _ort_and_socsim(node, x, opset=13)
        assert _same_bits(got, y), f"opset 13, axis {axis}"
    for axis in range(len(shape)):
        node = helper.make_node("Softmax", ["x"], ["y"], axis=axis)
        y, got = _ort_and_socsim(node, x, opset=11)
        assert _same_bits(got, y), f"opset 11, axis {axis}"
    y = _session(helper.make_node("Softmax", ["x"], ["y"]), {"x": x}, 1, opset=13).run(
        None, {"x": x})[0]
    assert _same_bits(_mlas_softmax.softmax(x, -1), y)


def test_softmax_exp_reaches_subnormals() -> None:
    # Differences to the maximum between -80 and -110 put exp() in and below the subnormal
    # range, where vscalefps's single rounding matters, and past the -103.97 clamp.
    rng = np.random.default_rng(11)
    x = np.concatenate([np.zeros((200, 1)), -rng.uniform(80, 110, (200, 40))], 1).astype(F)
    (y,) = _session(helper.make_node("Softmax", ["x"], ["y"], axis=-1), {"x": x}, 1,
                    opset=13).run(None, {"x": x})
    assert _same_bits(_mlas_softmax.softmax(x, -1), y)
