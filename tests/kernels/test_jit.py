"""The compiled loops (:mod:`socsim.kernels._jit`) against independent references.

Requantization and quantization are checked against float32 numpy written out here (the
operations ONNX and MLAS specify: one float32 multiply or divide, round half to even, plus the
zero point, clamp), on random values and on values built to land exactly on rounding ties and
beyond the output range. The depthwise loop is checked against int64 sums computed tap by tap
from a padded copy. Every check is bit for bit, saturation counts included.
"""

from __future__ import annotations

import numpy as np
import pytest

from socsim.kernels import _jit
from socsim.kernels._gemm import im2col, pad_spatial


def _requant_reference(acc: np.ndarray, scale: np.ndarray, zp: int, lo: int, hi: int,
                       dtype: type) -> tuple[np.ndarray, int]:
    v = np.rint(acc.astype(np.float32) * scale.astype(np.float32)).astype(np.float64) + zp
    sat = (int(np.count_nonzero(v < lo)) if zp != lo else 0) + \
        (int(np.count_nonzero(v > hi)) if zp != hi else 0)
    return np.clip(v, lo, hi).astype(dtype), sat


def _ties(rng: np.random.Generator, m: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Accumulators whose scaled value is exactly k + 0.5 (scales 2^-e make it exact)."""
    e = rng.integers(1, 6, m)
    scale = (2.0 ** -e).astype(np.float32)
    k = rng.integers(-300, 300, (rows, m))
    acc = (2 * k + 1) * 2 ** (e - 1)  # (2k + 1) / 2 after scaling
    return acc.astype(np.int32), scale


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("acc_dtype", [np.float32, np.int32])
def test_requantize_rows_matches_float32_reference(seed: int, acc_dtype: type) -> None:
    rng = np.random.default_rng(seed)
    dtype = (np.uint8, np.int8, np.int16)[seed % 3]
    info = np.iinfo(dtype)
    m, rows = int(rng.integers(1, 40)), int(rng.integers(1, 60))
    zp = int((info.min, info.max, rng.integers(info.min, info.max + 1))[seed % 3])
    if seed % 2:
        acc, scale = _ties(rng, m, rows)
    else:
        acc = rng.integers(-(2**23), 2**23, (rows, m)).astype(np.int32)
        scale = (rng.random(m) * 10.0 ** rng.integers(-6, 0, m)).astype(np.float32)
    acc = acc.astype(acc_dtype)
    expected, sat = _requant_reference(acc, scale, zp, info.min, info.max, dtype)
    out = np.empty((rows, m), dtype)
    got = _jit.requantize_rows(acc, scale, zp, info.min, info.max, out)
    np.testing.assert_array_equal(out, expected)
    assert got == sat


def test_requantize_rows_rounds_ties_to_even_and_counts_saturations() -> None:
    acc = np.array([[1, 3, 5, -1, -3, 1000, -1000]], np.int32)
    scale = np.full(7, 0.5, np.float32)  # 0.5, 1.5, 2.5, -0.5, -1.5, 500, -500
    out = np.empty((1, 7), np.int8)
    assert _jit.requantize_rows(acc, scale, 10, -128, 127, out) == 2
    assert out.tolist() == [[10, 12, 12, 10, 8, 127, -128]]
    # A zero point on the lower bound is a ReLU's floor: only the upper clamp counts.
    assert _jit.requantize_rows(acc, scale, -128, -128, 127, out) == 1


@pytest.mark.parametrize("seed", range(8))
def test_quantize_rows_matches_float32_reference(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    dtype = (np.uint8, np.int8)[seed % 2]
    info = np.iinfo(dtype)
    scale = np.float32(2.0 ** -int(rng.integers(1, 8)))
    # Ties: multiples of scale / 2 divide to k + 0.5 exactly; plus values far beyond range.
    x = np.concatenate([(rng.integers(-600, 600, 500) + 0.5) * scale,
                        rng.standard_normal(500) * 200 * scale]).astype(np.float32)
    zp = int(rng.integers(info.min, info.max + 1))
    v = np.rint(x / scale).astype(np.float64) + zp
    sat = int(np.count_nonzero(v < info.min)) + int(np.count_nonzero(v > info.max))
    out = np.empty(x.size, dtype)
    assert _jit.quantize_rows(x, scale, zp, info.min, info.max, out) == sat
    np.testing.assert_array_equal(out, np.clip(v, info.min, info.max).astype(dtype))


@pytest.mark.parametrize("layout", ["c", "channels_last"])
def test_dequantize_into_matches_float32_reference(layout: str) -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (2, 5, 4, 3)).astype(np.uint8)
    if layout == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    scale = np.float32(0.0123)
    out = np.empty(x.shape, np.float32)
    _jit.dequantize_into(x, 17, scale, out)
    expected = (x.astype(np.float32) - np.float32(17)) * scale
    assert out.tobytes() == np.ascontiguousarray(expected).tobytes()


def _depthwise_reference(x, w, b, x_zp, strides, dil, pads):
    """int64 sums of (x - x_zp) * w over a padded copy, (Ho, Wo, C)."""
    h, wd, c = x.shape
    kh, kw = w.shape[:2]
    xp = np.full((h + pads[0] + pads[2], wd + pads[1] + pads[3], c), x_zp, np.int64)
    xp[pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    xp -= x_zp
    ho = (xp.shape[0] - (kh - 1) * dil[0] - 1) // strides[0] + 1
    wo = (xp.shape[1] - (kw - 1) * dil[1] - 1) // strides[1] + 1
    acc = np.zeros((ho, wo, c), np.int64) + b
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dil[0], j * dil[1]
            acc += xp[y0:y0 + (ho - 1) * strides[0] + 1:strides[0],
                      x0:x0 + (wo - 1) * strides[1] + 1:strides[1]] * w[i, j]
    return acc


@pytest.mark.parametrize("seed", range(30))
def test_depthwise_rne_matches_int64_reference(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    dtype = (np.uint8, np.int8)[seed % 2]
    info = np.iinfo(dtype)
    c = int(rng.integers(1, 40))
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    strides = tuple(int(s) for s in rng.integers(1, 4, 2))
    dil = tuple(int(d) for d in rng.integers(1, 3, 2))
    pads = [int(p) for p in rng.integers(0, 4, 4)]
    h = int(rng.integers((kh - 1) * dil[0] + 1, 16))
    wd = int(rng.integers((kw - 1) * dil[1] + 1, 16))
    x = rng.integers(info.min, info.max + 1, (h, wd, c)).astype(dtype)
    w = rng.integers(-127, 128, (kh, kw, c)).astype(np.int64)
    b = rng.integers(-20000, 20000, c).astype(np.int64)
    x_zp = int(rng.integers(info.min, info.max + 1))
    acc = _depthwise_reference(x, w, b, x_zp, strides, dil, pads)
    # Scales that put some outputs on ties and some beyond the range.
    scale = (2.0 ** -rng.integers(0, 9, c)).astype(np.float32)
    y_zp = int((info.min, rng.integers(info.min, info.max + 1))[seed % 3 != 0])
    expected, sat = _requant_reference(acc.reshape(-1, c), scale, y_zp, info.min, info.max,
                                       dtype)
    weights = w.reshape(kh * kw, c).astype(np.int32)
    folded = (b - x_zp * w.reshape(-1, c).sum(axis=0)).astype(np.int32)
    out = np.empty(acc.shape, dtype)
    got = _jit.depthwise_rne(x, weights, weights * np.int32(x_zp), folded, (kh, kw), strides,
                             dil, pads[0], pads[1], scale, y_zp, info.min, info.max, out)
    np.testing.assert_array_equal(out.reshape(-1, c), expected)
    assert got == sat


@pytest.mark.parametrize("seed", range(20))
def test_window_columns_equals_im2col_of_the_padded_copy(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 6))
    kernel = [int(k) for k in rng.integers(1, 5, 2)]
    strides = [int(s) for s in rng.integers(1, 3, 2)]
    dil = [int(d) for d in rng.integers(1, 3, 2)]
    pads = [int(p) for p in rng.integers(0, 3, 4)]
    h = int(rng.integers((kernel[0] - 1) * dil[0] + 1, 12))
    w = int(rng.integers((kernel[1] - 1) * dil[1] + 1, 12))
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    if seed % 2:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    expected, o = im2col(pad_spatial(x, pads), kernel, strides, dil)
    out = np.empty(expected.shape, np.float32)
    _jit.window_columns(x, tuple(kernel), tuple(strides), tuple(dil), pads[0], pads[1], o[1],
                        out)
    assert out.tobytes() == np.ascontiguousarray(expected).tobytes()
