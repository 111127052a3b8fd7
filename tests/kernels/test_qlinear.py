"""QLinearAdd's compiled loop and the global average pool's compiled path against references
written out here.

The QLinearAdd reference is plain Python, element by element: IEEE double products and sums of
the integers and the float32 ratios, float32 roundings where MLAS has them, Python's ``round``
(half to even), then the clamp and the saturation count. The pooling reference sums in Python
integers and requantizes with one float32 multiply. Values are built to land exactly on
rounding ties and beyond the output range; every check is bit for bit, counts included.
"""

from __future__ import annotations

import numpy as np
import pytest

from socsim.kernels import _jit
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.qlinear import qlinear_add, qlinear_average_pool, qlinear_global_average_pool
from socsim.kernels.registry import KernelContext


def _add_reference(a: np.ndarray, sa: float, za: int, b: np.ndarray, sb: float, zb: int,
                   sc: float, zc: int) -> tuple[np.ndarray, int]:
    f32 = np.float32
    ra, rb = f32(sa) / f32(sc), f32(sb) / f32(sc)
    fixed = f32(zc) - f32(ra * f32(za) + rb * f32(zb))
    info = np.iinfo(a.dtype)
    out, saturated = [], 0
    for x, y in zip(a.ravel().tolist(), b.ravel().tolist()):
        inner = float(f32(y * float(rb) + float(fixed)))
        v = round(float(f32(x * float(ra) + inner)))
        if v < info.min or v > info.max:
            saturated += zc != (info.min if v < info.min else info.max)
        out.append(min(max(v, info.min), info.max))
    return np.array(out, a.dtype).reshape(a.shape), saturated


def _add_ctx() -> KernelContext:
    return KernelContext("add", "QLinearAdd", {}, const=(False, True, True, False) + (True,) * 4)


def _scalars(*values: float, dtype: type = np.float32) -> list[np.ndarray]:
    return [np.array(v, dtype) for v in values]


@pytest.mark.parametrize("seed", range(16))
def test_qlinear_add_matches_python_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    dtype = (np.uint8, np.int8)[seed % 2]
    info = np.iinfo(dtype)
    shape = tuple(int(d) for d in rng.integers(1, 9, int(rng.integers(1, 5))))
    a = rng.integers(info.min, info.max + 1, shape).astype(dtype)
    b = rng.integers(info.min, info.max + 1, shape).astype(dtype)
    if seed % 4 == 3:  # a planned convolution's channels-last output: a strided view
        b = np.ascontiguousarray(np.moveaxis(b, 0, -1)).transpose(
            (b.ndim - 1,) + tuple(range(b.ndim - 1)))
    sa, sb, sc = (float(s) for s in rng.random(3) * 10.0 ** rng.integers(-3, 0, 3))
    za, zb, zc = (int(z) for z in rng.integers(info.min, info.max + 1, 3))
    if seed % 3 == 0:
        zc = (info.min, info.max)[seed % 2]  # a ReLU floor: clamps there are not saturations
    expected, saturated = _add_reference(a, sa, za, b, sb, zb, sc, zc)
    ctx = _add_ctx()
    (got,) = qlinear_add(ctx, a, *_scalars(sa), np.array(za, dtype), b, *_scalars(sb),
                         np.array(zb, dtype), *_scalars(sc), np.array(zc, dtype))
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == dtype
    assert ctx.events.get("output_saturations", 0) == saturated


def test_qlinear_add_rounds_ties_to_even_and_counts_saturations() -> None:
    # ra = 0.5, rb = 0.25, fixed = 0: a / 2 + b / 4, exactly k + 0.5 for odd a and b = 0.
    a = np.array([1, 3, 5, -1, -3, 100, -100, 127], np.int8)
    b = np.array([0, 0, 0, 0, 0, 127, -128, 127], np.int8)
    out = np.empty(8, np.int8)
    saturated = _jit.qlinear_add_into(a, np.float32(0.5), b, np.float32(0.25), np.float32(0),
                                      0, -128, 127, out)
    # 0.5, 1.5, 2.5, -0.5, -1.5, 81.75, -82, 95.25
    np.testing.assert_array_equal(out, [0, 2, 2, 0, -2, 82, -82, 95])
    assert saturated == 0
    saturated = _jit.qlinear_add_into(a, np.float32(2), b, np.float32(1), np.float32(0), 0,
                                      -128, 127, out)
    np.testing.assert_array_equal(out, [2, 6, 10, -2, -6, 127, -128, 127])
    assert saturated == 3
    u = np.array([0, 255, 10], np.uint8)
    out_u = np.empty(3, np.uint8)
    # fixed = zc - (ra * za + rb * zb) with zc = 0 on the floor: clamps at 0 are not counted.
    saturated = _jit.qlinear_add_into(u, np.float32(1), u, np.float32(1), np.float32(-20), 0,
                                      0, 255, out_u)
    np.testing.assert_array_equal(out_u, [0, 255, 0])
    assert saturated == 1


def test_qlinear_add_broadcast_keeps_the_numpy_path() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, (2, 3, 4)).astype(np.uint8)
    b = np.array([200], np.uint8)
    (got,) = qlinear_add(_add_ctx(), a, *_scalars(0.05), np.array(3, np.uint8), b,
                         *_scalars(0.02), np.array(7, np.uint8), *_scalars(0.06),
                         np.array(9, np.uint8))
    f32 = np.float32
    ra, rb = f32(0.05) / f32(0.06), f32(0.02) / f32(0.06)
    fixed = f32(9) - f32(ra * f32(3) + rb * f32(7))
    fixed = f32(fixed + f32(200) * rb)
    want = [min(max(round(float(f32(x * float(ra) + float(fixed)))), 0), 255)
            for x in a.ravel().tolist()]
    np.testing.assert_array_equal(got.ravel(), want)


def _pool_reference(x: np.ndarray, x_zp: int, scale32: np.float32, y_zp: int,
                    axes: tuple[int, ...]) -> tuple[np.ndarray, int]:
    info = np.iinfo(x.dtype)
    sums = x.astype(np.int64).sum(axis=axes, keepdims=True)
    size = int(np.prod([x.shape[a] for a in axes]))
    out = np.empty(sums.shape, x.dtype)
    saturated = 0
    for idx, s in np.ndenumerate(sums):
        v = round(float(np.float32(np.float32(int(s) - x_zp * size) * scale32))) + y_zp
        if v < info.min or v > info.max:
            saturated += y_zp != (info.min if v < info.min else info.max)
        out[idx] = min(max(v, info.min), info.max)
    return out, saturated


@pytest.mark.parametrize("seed", range(12))
def test_global_average_matches_integer_reference(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    dtype = (np.uint8, np.int8)[seed % 2]
    info = np.iinfo(dtype)
    n, c, h, w = (int(d) for d in rng.integers(1, 9, 4))
    x = rng.integers(info.min, info.max + 1, (n, c, h, w)).astype(dtype)
    last = seed % 3 == 2
    if last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    axes = (1, 2) if last else (2, 3)
    x_scale, y_scale = (np.float32(s) for s in rng.random(2) * 0.1 + 0.001)
    if seed % 4 == 1:
        y_scale = np.float32(x_scale / 64)  # pushes averages beyond the range
    x_zp, y_zp = (int(z) for z in rng.integers(info.min, info.max + 1, 2))
    if seed % 5 == 0:
        y_zp = info.min
    size = h * w
    scale32 = np.float32(x_scale / (y_scale * np.float32(size)))
    expected, saturated = _pool_reference(x, x_zp, scale32, y_zp, axes)
    ctx = KernelContext("pool", "QLinearGlobalAveragePool", {"channels_last": int(last)},
                        const=(False, True, True, True, True))
    args = (x, np.array(x_scale), np.array(x_zp, dtype), np.array(y_scale),
            np.array(y_zp, dtype))
    (got,) = qlinear_global_average_pool(ctx, *args)
    np.testing.assert_array_equal(got, expected)
    assert ctx.events.get("output_saturations", 0) == saturated
    if not last:
        ctx = KernelContext("pool", "QLinearAveragePool", {"kernel_shape": [h, w]},
                            const=(False, True, True, True, True))
        (got,) = qlinear_average_pool(ctx, *args)
        np.testing.assert_array_equal(got, expected)
        assert ctx.events.get("output_saturations", 0) == saturated


def test_global_average_with_a_narrow_accumulator_saturates_it() -> None:
    x = np.full((1, 2, 4, 4), 255, np.uint8)
    ctx = KernelContext("pool", "QLinearGlobalAveragePool", {},
                        const=(False, True, True, True, True),
                        arithmetic=Arithmetic(accumulator_bits=12))
    (got,) = qlinear_global_average_pool(ctx, x, np.array(np.float32(1)), np.array(0, np.uint8),
                                         np.array(np.float32(1)), np.array(0, np.uint8))
    # 16 * 255 = 4080 saturates to 2047, / 16 = 127.94 -> 128
    np.testing.assert_array_equal(got.ravel(), [128, 128])
    assert ctx.events["accumulator_saturations"] == 2
