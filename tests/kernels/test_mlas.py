"""socsim's float32 routines against onnxruntime's own kernels (one-op models) and exact rationals.

onnxruntime's bits depend on the MLAS kernel family its host picks, so every comparison names
the host's family (:func:`socsim.kernels.host.host_isa`) and runs socsim with that family
(``arithmetic="onnxruntime"``); on a host socsim does not model, the comparisons skip with the
reason. The tests marked ``avx2_subset`` are small enough to run under
``qemu-x86_64 -cpu Haswell`` (``tools/qemu_avx2.sh``), where onnxruntime takes its AVX2/FMA3
kernels: that run checks the ``mlas_fma3`` family on a host whose own family is AVX-512F.

Inputs are log-uniform in magnitude with random signs, which makes rounding differences between
summation orders visible; row lengths cover the vector bodies and every kind of tail.
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.execute import execute
from socsim.kernels import _mlas, _mlas_softmax
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.host import HostISA, HostNotModelledError, host_isa

F = np.float32
AVX2 = pytest.mark.avx2_subset


@pytest.fixture(scope="module")
def isa() -> HostISA:
    """The MLAS kernels onnxruntime picks on this host; skips where socsim models none."""
    try:
        return host_isa()
    except HostNotModelledError as exc:
        pytest.skip(f"onnxruntime's float kernels on this host are not modelled: {exc}")


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
    got = execute(_model(node, {"x": x}, 1, opset=opset), {"x": x}, qdq="reference",
                  arithmetic="onnxruntime")
    return y, got["y"]


def _log_uniform(rng: np.random.Generator, shape: tuple[int, ...], span: float = 8.0
                 ) -> np.ndarray:
    return (np.exp2(rng.uniform(-span, span, shape)) * rng.choice([-1, 1], shape)).astype(F)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, F), np.asarray(b, F)
    return a.shape == b.shape and bool(np.all((a.view(np.uint32) == b.view(np.uint32))
                                              | (np.isnan(a) & np.isnan(b))))


def _differing(got: np.ndarray, want: np.ndarray) -> str:
    got, want = np.asarray(got, F), np.asarray(want, F)
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
    return f"{int((~same).sum())} of {same.size} elements differ"


def _vs(isa: HostISA, got: np.ndarray, want: np.ndarray) -> str:
    return f"socsim {isa.float_kernels} vs onnxruntime on {isa}: {_differing(got, want)}"


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


_LN_SMALL = (3, 8, 9, 12, 23, 127)


@pytest.mark.parametrize("n", [pytest.param(n, marks=AVX2) if n in _LN_SMALL else n
                               for n in (1, 3, 7, 8, 9, 12, 15, 16, 20, 23, 100, 127, 128, 255,
                                         768)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm_is_onnxruntime(isa: HostISA, n: int, with_bias: bool) -> None:
    rng = np.random.default_rng(n)
    x, s = _log_uniform(rng, (32, n)), rng.standard_normal(n).astype(F)
    b = rng.standard_normal(n).astype(F) if with_bias else None
    feeds = {"x": x, "s": s} | ({"b": b} if with_bias else {})
    node = helper.make_node("LayerNormalization", list(feeds), ["y", "m", "i"], axis=-1,
                            epsilon=1e-5)
    y, m, i = _session(node, feeds, 3).run(None, feeds)
    yc, mc, ic = _mlas.layer_norm(x, s, b, 1e-5, isa.float_kernels)
    assert _same_bits(yc, y), _vs(isa, yc, y)
    assert _same_bits(mc, m.ravel()), _vs(isa, mc, m.ravel())
    assert _same_bits(ic, i.ravel()), _vs(isa, ic, i.ravel())
    got = execute(_model(node, feeds, 3), feeds, qdq="reference", arithmetic="onnxruntime")
    assert _same_bits(got["y"], y), _vs(isa, got["y"], y)


@pytest.mark.parametrize("count", [pytest.param(20_000, marks=AVX2), 200_000])
def test_erf_is_onnxruntime(isa: HostISA, count: int) -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 0x41800000, count, dtype=np.int64).astype(np.uint32).view(F)
    steps = count // 50 + 1
    sweep = np.concatenate([np.linspace(0.92, 0.924, steps), np.linspace(3.6, 4.6, steps)]
                           ).astype(F)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, np.finfo(F).max], F)
    x = np.concatenate([x, -x[:count // 4], sweep, -sweep, special])
    node = helper.make_node("Erf", ["x"], ["y"])
    (y,) = _session(node, {"x": x}, 1, opset=13).run(None, {"x": x})
    got = execute(_model(node, {"x": x}, 1, opset=13), {"x": x}, qdq="reference",
                  arithmetic="onnxruntime")["y"]
    assert _same_bits(got, y), _vs(isa, got, y)


_MM_SMALL = (((1, 130), (130, 33)), ((1, 7), (7, 9)), ((4, 1, 128), (128, 64)),
             ((64, 300), (300, 10)), ((2, 3, 300), (300, 20)), ((37, 19), (19, 45)))


@pytest.mark.parametrize(("a_shape", "b_shape"), [
    pytest.param(a, b, marks=AVX2) if (a, b) in _MM_SMALL else (a, b) for a, b in (
        ((64, 128), (128, 128)), ((64, 512), (512, 128)), ((1, 130), (130, 33)), ((1, 7), (7, 9)),
        ((4, 1, 128), (128, 64)), ((4, 1, 128), (4, 128, 64)), ((3, 1024), (1024, 17)),
        ((64, 300), (300, 10)), ((2, 3, 300), (300, 20)), ((2, 4, 64, 32), (2, 4, 32, 64)),
        ((37, 19), (19, 45)))])
@pytest.mark.parametrize("b_initializer", [False, True])
def test_matmul_is_onnxruntime(isa: HostISA, a_shape: tuple[int, ...], b_shape: tuple[int, ...],
                               b_initializer: bool) -> None:
    rng = np.random.default_rng(len(a_shape) * 1000 + a_shape[-1])
    a, b = _log_uniform(rng, a_shape, 6), _log_uniform(rng, b_shape, 6)
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    feeds, inits = ({"a": a}, {"b": b}) if b_initializer else ({"a": a, "b": b}, None)
    (y,) = _session(node, feeds, 1, initializers=inits, opset=13).run(None, feeds)
    got = execute(_model(node, feeds, 1, initializers=inits, opset=13), feeds, qdq="reference",
                  arithmetic="onnxruntime")["y"]
    assert _same_bits(got, y), _vs(isa, got, y)
    direct = _mlas.matmul(a, b, b_const=b_initializer, float_kernels=isa.float_kernels)
    assert _same_bits(direct, y), _vs(isa, direct, y)


def _float_patterns(rng: np.random.Generator, n: int) -> np.ndarray:
    # Half uniform over every float32 bit pattern (NaNs, infinities, subnormals, huge values),
    # half uniform over the bit patterns of |x| < 12 with both signs, where the curves bend.
    every = rng.integers(0, 1 << 32, n // 2, dtype=np.uint64).astype(np.uint32).view(F)
    near = rng.integers(0, 0x41400000, n - n // 2, dtype=np.int64).astype(np.uint32).view(F)
    near = np.where(rng.random(near.size) < 0.5, -near, near)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, np.finfo(F).max,
                        -np.finfo(F).max, 9.0, -9.0, 5.0, -5.0], F)
    return np.concatenate([every, near, special]).astype(F)


@pytest.mark.parametrize("count", [pytest.param(20_000, marks=AVX2), 200_000])
def test_tanh_is_onnxruntime(isa: HostISA, count: int) -> None:
    # onnxruntime's Tanh is MlasComputeTanh alone: the building block of Gelu's tanh form.
    x = _float_patterns(np.random.default_rng(3), count)
    y, got = _ort_and_socsim(helper.make_node("Tanh", ["x"], ["y"]), x, opset=13)
    assert _same_bits(got, y), _vs(isa, got, y)
    assert _same_bits(_mlas.tanh(x), y), _vs(isa, _mlas.tanh(x), y)


@pytest.mark.parametrize(("domain", "approximate"),
                         [("", "none"), ("", "tanh"), ("com.microsoft", None)])
@pytest.mark.parametrize("n", [pytest.param(n, marks=AVX2) for n in (1, 3, 7, 8, 13, 4095, 4097)]
                         + [200_013])
def test_gelu_is_onnxruntime(isa: HostISA, domain: str, approximate: str | None, n: int) -> None:
    # Lengths cover the 8-wide kernels' tails and onnxruntime's 4096-element tasks.
    x = _float_patterns(np.random.default_rng(n), n)[-n:]
    attrs = {} if approximate is None else {"approximate": approximate}
    node = helper.make_node("Gelu", ["x"], ["y"], domain=domain, **attrs)
    y, got = _ort_and_socsim(node, x, opset=20)
    assert _same_bits(got, y), _vs(isa, got, y)
    direct = _mlas.gelu(x, approximate or "none", isa.float_kernels)
    assert _same_bits(direct, y), _vs(isa, direct, y)


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


_SOFTMAX_SMALL = ((300, 3), (97, 7), (64, 16), (64, 17), (32, 49), (4, 33, 9))


@pytest.mark.parametrize("shape", [
    pytest.param(shape, marks=AVX2) if shape in _SOFTMAX_SMALL else shape
    for shape in ((300, 1), (300, 3), (97, 7), (64, 15), (64, 16), (64, 17), (32, 48), (32, 49),
                  (8, 1000), (2, 3, 5, 7), (4, 33, 9), (2, 4, 16, 16))])
def test_softmax_is_onnxruntime(isa: HostISA, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape) * 31 + len(shape))
    x = _softmax_input(rng, shape)
    for axis in range(-len(shape), len(shape)):
        node = helper.make_node("Softmax", ["x"], ["y"], axis=axis)
        y, got = _ort_and_socsim(node, x, opset=13)
        assert _same_bits(got, y), f"opset 13, axis {axis}: {_vs(isa, got, y)}"
    for axis in range(len(shape)):
        node = helper.make_node("Softmax", ["x"], ["y"], axis=axis)
        y, got = _ort_and_socsim(node, x, opset=11)
        assert _same_bits(got, y), f"opset 11, axis {axis}: {_vs(isa, got, y)}"
    y = _session(helper.make_node("Softmax", ["x"], ["y"]), {"x": x}, 1, opset=13).run(
        None, {"x": x})[0]
    direct = _mlas_softmax.softmax(x, -1, isa.float_kernels)
    assert _same_bits(direct, y), _vs(isa, direct, y)


@AVX2
def test_softmax_exp_reaches_subnormals(isa: HostISA) -> None:
    # Differences to the maximum between -80 and -110 put exp() in and below the subnormal
    # range, where the two families scale differently (vscalefps's single rounding; FMA3's
    # exponent-field scale, which is +0.0 at m = -127), and past both clamps.
    rng = np.random.default_rng(11)
    x = np.concatenate([np.zeros((200, 1)), -rng.uniform(80, 110, (200, 40))], 1).astype(F)
    (y,) = _session(helper.make_node("Softmax", ["x"], ["y"], axis=-1), {"x": x}, 1,
                    opset=13).run(None, {"x": x})
    got = _mlas_softmax.softmax(x, -1, isa.float_kernels)
    assert _same_bits(got, y), _vs(isa, got, y)


def test_softmax_families_differ_where_documented() -> None:
    # Hand-checkable consequences of the two kernels' arithmetic, independent of any host.
    # exp(-88.0) is about 6.05e-39, a subnormal: in FMA3 m = round(-88 / ln 2) = -127, whose
    # exponent-field scale is +0.0, so the element vanishes; vscalefps keeps it.
    row = np.array([[0.0, -88.0]], F)
    fma3 = _mlas_softmax.softmax_rows(row, "mlas_fma3")
    avx512 = _mlas_softmax.softmax_rows(row, "mlas_avx512f")
    assert fma3[0, 1] == 0 and fma3[0, 0] == 1
    assert 5e-39 < avx512[0, 1] < 7e-39 and avx512[0, 0] == 1
    # Lane order: x[16] = 0 (its exp is exactly 1), x[0] = x[8] = -17 (t = exp(-17) ~ 4.1e-8,
    # below half an ulp of 1, 2**-24 ~ 6.0e-8, while 2t ~ 8.3e-8 is above it), the rest -inf
    # (exps of at most 2**-149). In 8 lanes, lane 0 adds (t + t) + 1, which rounds up to
    # 1 + 2**-23, so y[16] = 1 / (1 + 2**-23) rounds to 1 - 2**-23; in 16 lanes, lane 0 adds
    # t + 1 = 1 and lane 8 holds t, and b0 = 1 + t = 1 again, so y[16] = 1.
    row = np.full((1, 17), -np.inf, F)
    row[0, [0, 8, 16]] = (-17.0, -17.0, 0.0)
    assert _mlas_softmax.softmax_rows(row, "mlas_fma3")[0, 16] == F(1 - 2**-23)
    assert _mlas_softmax.softmax_rows(row, "mlas_avx512f")[0, 16] == F(1)
    # The interpreter hands the target's family to the Softmax kernel (both opset forms).
    for opset in (11, 13):
        model = _model(helper.make_node("Softmax", ["x"], ["y"], axis=1), {"x": row}, 1,
                       opset=opset)
        for family, want in (("mlas_fma3", F(1 - 2**-23)), ("mlas_avx512f", F(1))):
            got = execute(model, {"x": row}, qdq="reference",
                          arithmetic=Arithmetic(float_kernels=family))["y"]
            assert got[0, 16] == want, (opset, family)
    with pytest.raises(ValueError, match="mlas_fma3"):
        _mlas_softmax.softmax_rows(row, "sse")  # type: ignore[arg-type]


@AVX2
def test_emulated_host_selects_the_expected_family(isa: HostISA) -> None:
    # tools/qemu_avx2.sh sets SOCSIM_EXPECT_FLOAT_KERNELS so that a run which silently fell back
    # to the real CPU's kernels (no emulation, or an emulated CPU with AVX-512F) fails loudly.
    expected = os.environ.get("SOCSIM_EXPECT_FLOAT_KERNELS")
    if expected is None:
        pytest.skip("SOCSIM_EXPECT_FLOAT_KERNELS is not set (only tools/qemu_avx2.sh sets it)")
    assert isa.float_kernels == expected, f"host {isa} does not select {expected}"


def test_layer_norm_float64_by_hand() -> None:
    # float64 (the zoo's calibration evaluates in it) is plain float64 arithmetic: mean 2.5,
    # variance 1.25, + eps 2.75 = 4, 1 / sqrt(4) = 0.5, all exact.
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "m", "i"], axis=-1,
                            epsilon=2.75)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 4])],
        [helper.make_tensor_value_info(o, TensorProto.DOUBLE, None) for o in ("y", "m", "i")],
        [numpy_helper.from_array(np.array([1.0, 1, 1, 2]), "s"),
         numpy_helper.from_array(np.array([0.0, 0, 0, 1]), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    got = execute(model, {"x": x}, qdq="reference")
    assert got["y"].tolist() == [[-0.75, -0.25, 0.25, 2.5]]
    assert got["m"].tolist() == [[2.5]] and got["i"].tolist() == [[0.5]]
