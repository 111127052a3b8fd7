"""Saturating int16 pairs (``dot="u8s8_pairs_int16"``, x86 VPMADDUBSW) against hand computations,
a plain-Python reference, and the installed onnxruntime on this host.

The reference below is written from the instruction's definition (Intel SDM, PMADDUBSW): the
products of unsigned and signed bytes at ``k = 2j`` and ``2j + 1`` are added and the sum is
clamped to [-32768, 32767]; the clamped pair sums then add exactly. K is MLAS's order: the
inner dimension of a matrix product, and (kernel taps, input channels) for a convolution, as
onnxruntime's NHWC im2col orders it. Zero points are subtracted through exact sums afterwards.

The onnxruntime checks use ``arithmetic="onnxruntime"``: on an AVX2 or AVX-512BW host (e.g.
``qemu-x86_64 -cpu Haswell``, tools/qemu_avx2.sh) they check the saturating pairs, on a VNNI
host the exact sums, and on a host socsim does not model they skip with the reason.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.execute import run_model
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.host import HostNotModelledError, host_isa

PAIRS = Arithmetic(dot="u8s8_pairs_int16")
EXACT = Arithmetic(dot="exact")


def _host() -> str:
    try:
        return str(host_isa())
    except HostNotModelledError as e:
        pytest.skip(str(e))


def _model(node: onnx.NodeProto, x: np.ndarray, out_type: int, inits: dict[str, np.ndarray],
           ms: bool = False) -> onnx.ModelProto:
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, x.shape)],
                              [helper.make_tensor_value_info("y", out_type, None)],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid("com.microsoft", 1)] if ms
                                              else [])
    return helper.make_model(graph, opset_imports=opsets)


def _ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


# --- the plain-Python reference ------------------------------------------------------------

def _sat16(v: int) -> int:
    return min(max(v, -32768), 32767)


def _dot(a: list[int], b: list[int], pairs: bool) -> tuple[int, int]:
    """``sum(a * b)`` of raw bytes, with saturated pairs or exact, and the saturation count."""
    if not pairs:
        return sum(x * y for x, y in zip(a, b)), 0
    total = saturated = 0
    for j in range(0, len(a), 2):
        s = sum(a[i] * b[i] for i in range(j, min(j + 2, len(a))))
        total += _sat16(s)
        saturated += _sat16(s) != s
    return total, saturated


def _requant(acc: int, scale: np.float32, zp: int, lo: int, hi: int) -> int:
    return int(min(max(np.rint(np.float32(acc) * scale) + zp, lo), hi))


def _matmul_ref(a: np.ndarray, b: np.ndarray, a_zp: int, pairs: bool
                ) -> tuple[list[list[int]], int]:
    rows, count = [], 0
    for r in a.tolist():
        row = []
        for n in range(b.shape[1]):
            col = b[:, n].tolist()
            raw, sat = _dot(r, col, pairs)
            row.append(raw - a_zp * sum(col))
            count += sat
        rows.append(row)
    return rows, count


def _conv_ref(x: np.ndarray, w: np.ndarray, x_zp: int, group: int, pad: int, pairs: bool
              ) -> tuple[np.ndarray, int]:
    """(M, Ho, Wo) sums of one image (C, H, W), stride 1, K ordered (kh, kw, C of the group)."""
    _, h, wd = x.shape
    m, cg, kh, kw = w.shape
    mg = m // group
    ho, wo = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    out = np.zeros((m, ho, wo), np.int64)
    count = 0
    for oc in range(m):
        g = oc // mg
        taps = [(i, j, ch) for i in range(kh) for j in range(kw) for ch in range(cg)]
        col = [int(w[oc, ch, i, j]) for i, j, ch in taps]
        for oy in range(ho):
            for ox in range(wo):
                a = []
                for i, j, ch in taps:
                    iy, ix = oy - pad + i, ox - pad + j
                    inside = 0 <= iy < h and 0 <= ix < wd
                    a.append(int(x[g * cg + ch, iy, ix]) if inside else x_zp)
                raw, sat = _dot(a, col, pairs)
                out[oc, oy, ox] = raw - x_zp * sum(col)
                count += sat
    return out, count


# --- the one-node case of the issue, by hand -------------------------------------------------

def _issue_case() -> tuple[onnx.ModelProto, np.ndarray]:
    a = np.full((1, 64), 255, np.uint8)
    node = helper.make_node("QLinearMatMul", ["x", "as", "az", "b", "bs", "bz", "ys", "yz"],
                            ["y"], name="mm")
    inits = {"as": np.float32(0.01), "az": np.uint8(0), "b": np.full((64, 1), 127, np.int8),
             "bs": np.float32(0.01), "bz": np.int8(0), "ys": np.float32(16.0),
             "yz": np.uint8(0)}
    return _model(node, a, TensorProto.UINT8, inits), a


def test_issue_case_by_hand() -> None:
    """uint8 255 x int8 127 over 64 terms, output scale 16: 13 exact, 7 with saturated pairs."""
    model, a = _issue_case()
    scale = np.float32(np.float32(0.01) * np.float32(0.01)) / np.float32(16.0)
    exact_sum = 64 * 255 * 127                        # 2072640
    pair = 255 * 127 + 255 * 127                      # 64770 > 32767: clamped
    pair_sum = 32 * 32767                             # 1048544
    assert pair > 32767
    assert int(np.rint(np.float32(exact_sum) * scale)) == 13
    assert int(np.rint(np.float32(pair_sum) * scale)) == 7

    exact = run_model(model, {"x": a}, arithmetic=EXACT)
    assert exact.outputs["y"].tolist() == [[13]]
    assert exact.stats["mm"].pair_saturations == 0
    pairs = run_model(model, {"x": a}, arithmetic=PAIRS)
    assert pairs.outputs["y"].tolist() == [[7]]
    assert pairs.stats["mm"].pair_saturations == 32


@pytest.mark.avx2_subset
def test_issue_case_against_onnxruntime() -> None:
    isa = _host()
    model, a = _issue_case()
    got = run_model(model, {"x": a}, arithmetic="onnxruntime").outputs["y"]
    expected = _ort(model, a)
    assert got.tolist() == expected.tolist(), f"host {isa}"
    assert expected.tolist() == ([[7]] if host_isa().dot == "u8s8_pairs_int16" else [[13]]), \
        f"host {isa}: onnxruntime gave {expected.tolist()}"


# --- random operands at the edges of the ranges ----------------------------------------------

_U8 = np.array([0, 1, 3, 128, 250, 255], np.uint8)
_S8 = np.array([-128, -127, -120, -3, 0, 5, 120, 127], np.int8)


def _matmul_case(seed: int, op: str) -> tuple[onnx.ModelProto, np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    rows, k, n = int(rng.integers(1, 6)), int(rng.integers(1, 70)), int(rng.integers(1, 12))
    a = rng.choice(_U8, (rows, k))
    b = rng.choice(_S8, (k, n))
    a_zp = int(rng.integers(0, 256)) if seed % 3 else 0
    ms = False
    if op == "MatMulInteger":
        node = helper.make_node(op, ["x", "b", "az"], ["y"], name="op")
        inits, out_type = {"b": b, "az": np.uint8(a_zp)}, TensorProto.INT32
    else:
        scales = {"as": np.float32(0.02), "bs": np.float32(0.01), "ys": np.float32(0.5),
                  "az": np.uint8(a_zp), "bz": np.int8(0), "yz": np.uint8(100)}
        if op == "QLinearMatMul":
            node = helper.make_node(op, ["x", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"],
                                    name="op")
            inits = {**scales, "b": b}
        else:  # com.microsoft QGemm with transB
            node = helper.make_node("QGemm", ["x", "as", "az", "b", "bs", "bz", "", "ys", "yz"],
                                    ["y"], name="op", domain="com.microsoft", transB=1)
            inits, ms = {**scales, "b": np.ascontiguousarray(b.T)}, True
        out_type = TensorProto.UINT8
    return _model(node, a, out_type, inits, ms), a, b, a_zp


@pytest.mark.parametrize("op", ["MatMulInteger", "QLinearMatMul", "QGemm"])
@pytest.mark.parametrize("seed", range(6))
def test_matmul_pairs_match_reference(op: str, seed: int) -> None:
    model, a, b, a_zp = _matmul_case(seed, op)
    for arithmetic, pairs in ((PAIRS, True), (EXACT, False)):
        sums, count = _matmul_ref(a, b, a_zp, pairs)
        if op != "MatMulInteger":
            scale = np.float32(np.float32(0.02) * np.float32(0.01)) / np.float32(0.5)
            sums = [[_requant(v, scale, 100, 0, 255) for v in row] for row in sums]
        res = run_model(model, {"x": a}, arithmetic=arithmetic)
        assert res.outputs["y"].tolist() == sums
        assert res.stats["op"].pair_saturations == count


@pytest.mark.parametrize("a_batched", [True, False], ids=["batched-a", "shared-a"])
def test_batched_matmul_pairs_match_reference(a_batched: bool) -> None:
    rng = np.random.default_rng(3)
    b = rng.choice(_S8, (3, 21, 5))
    a = rng.choice(_U8, (3, 4, 21) if a_batched else (4, 21))
    node = helper.make_node("MatMulInteger", ["x", "b"], ["y"], name="op")
    res = run_model(_model(node, a, TensorProto.INT32, {"b": b}), {"x": a}, arithmetic=PAIRS)
    refs = [_matmul_ref(a[i] if a_batched else a, b[i], 0, True) for i in range(3)]
    assert res.outputs["y"].tolist() == [sums for sums, _ in refs]
    assert res.stats["op"].pair_saturations == sum(count for _, count in refs) > 0


def _conv_case(seed: int, c: int, m: int, group: int, k: int
               ) -> tuple[onnx.ModelProto, np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    x = rng.choice(_U8, (1, c, 5, 6))
    w = rng.choice(_S8, (m, c // group, k, k))
    x_zp = int(rng.integers(0, 256))
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"],
                            name="op", group=group, pads=[k // 2] * 4)
    inits = {"xs": np.float32(0.02), "xz": np.uint8(x_zp), "w": w, "ws": np.float32(0.01),
             "wz": np.int8(0), "ys": np.float32(0.5), "yz": np.uint8(120)}
    return _model(node, x, TensorProto.UINT8, inits), x, w, x_zp


# (channels, outputs, group, kernel): pointwise, im2col from planar columns (C < 8) and from a
# channels-last copy (C >= 8), a grouped convolution (the general path), a depthwise one.
_CONVS = [(6, 5, 1, 1), (3, 16, 1, 3), (5, 4, 1, 3), (8, 16, 1, 3), (8, 6, 2, 3), (8, 8, 8, 3)]


@pytest.mark.parametrize(("c", "m", "group", "k"), _CONVS,
                         ids=["pointwise", "im2col-c3", "im2col-c5", "im2col-c8", "grouped",
                              "depthwise"])
@pytest.mark.parametrize("seed", range(2))
def test_conv_pairs_match_reference(seed: int, c: int, m: int, group: int, k: int) -> None:
    model, x, w, x_zp = _conv_case(seed, c, m, group, k)
    scale = np.float32(np.float32(0.02) * np.float32(0.01)) / np.float32(0.5)
    depthwise = group == c and group > 1
    for arithmetic, pairs in ((PAIRS, not depthwise), (EXACT, False)):
        sums, count = _conv_ref(x[0], w, x_zp, group, k // 2, pairs)
        expected = [[[_requant(int(v), scale, 120, 0, 255) for v in row] for row in ch]
                    for ch in sums]
        res = run_model(model, {"x": x}, arithmetic=arithmetic)
        assert res.outputs["y"][0].tolist() == expected
        assert res.stats["op"].pair_saturations == count
    if not depthwise:
        assert _conv_ref(x[0], w, x_zp, group, k // 2, True)[1] > 0  # the case does saturate


def test_int8_activations_and_uint8_weights_stay_exact() -> None:
    """MLAS runs s8 x s8 (default kernel) and u8 x u8 (VPMADDWD on words) exactly."""
    rng = np.random.default_rng(7)
    a = rng.choice(np.array([-128, 127, -120, 100], np.int8), (3, 20))
    b = rng.choice(_S8, (20, 4))
    node = helper.make_node("MatMulInteger", ["x", "b"], ["y"], name="op")
    res = run_model(_model(node, a, TensorProto.INT32, {"b": b}), {"x": a}, arithmetic=PAIRS)
    assert res.outputs["y"].tolist() == (a.astype(np.int64) @ b.astype(np.int64)).tolist()
    assert res.stats["op"].pair_saturations == 0


def _exact_cases(kind: str) -> tuple[onnx.ModelProto, np.ndarray]:
    """Operands MLAS adds exactly even on AVX2: int8 activations, and ConvInteger."""
    rng = np.random.default_rng(11)
    s8 = np.array([-128, 127, -120, 100], np.int8)
    if kind == "s8s8matmul":
        a = rng.choice(s8, (4, 40))
        node = helper.make_node("MatMulInteger", ["x", "b"], ["y"], name="op")
        return _model(node, a, TensorProto.INT32, {"b": rng.choice(_S8, (40, 6))}), a
    if kind == "s8conv":
        x = rng.choice(s8, (1, 8, 5, 5))
        node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"],
                                ["y"], name="op", pads=[1, 1, 1, 1])
        inits = {"xs": np.float32(0.02), "xz": np.int8(3), "w": rng.choice(_S8, (16, 8, 3, 3)),
                 "ws": np.float32(0.01), "wz": np.int8(0), "ys": np.float32(0.5),
                 "yz": np.int8(-5)}
        return _model(node, x, TensorProto.INT8, inits), x
    x = rng.choice(_U8, (1, 3, 5, 5))  # ConvInteger, uint8 x int8
    node = helper.make_node("ConvInteger", ["x", "w", "xz"], ["y"], name="op", pads=[1, 1, 1, 1])
    return _model(node, x, TensorProto.INT32, {"w": rng.choice(_S8, (4, 3, 3, 3)),
                                               "xz": np.uint8(5)}), x


@pytest.mark.avx2_subset
@pytest.mark.parametrize("case", [f"{op}-{s}" for op in ("MatMulInteger", "QLinearMatMul",
                                                         "QGemm") for s in range(3)]
                         + [f"conv-{i}" for i in range(len(_CONVS))]
                         + ["exact-s8s8matmul", "exact-s8conv", "exact-convinteger"])
def test_one_node_models_match_onnxruntime(case: str) -> None:
    isa = _host()
    kind, index = case.rsplit("-", 1)
    if kind == "conv":
        model, x, *_ = _conv_case(0, *_CONVS[int(index)])
    elif kind == "exact":
        model, x = _exact_cases(index)
        exact = run_model(model, {"x": x}, arithmetic=EXACT).outputs["y"]
        assert np.array_equal(_ort(model, x), exact), f"host {isa}: not exact in onnxruntime"
    else:
        model, x, *_ = _matmul_case(int(index), kind)
    res = run_model(model, {"x": x}, arithmetic="onnxruntime")
    expected = _ort(model, x)
    diff = int(np.count_nonzero(res.outputs["y"] != expected))
    assert diff == 0, f"host {isa}: {diff} of {expected.size} differ from onnxruntime"
