"""The hot integer loops, compiled with numba: one pass each, no temporaries.

Each loop performs, element by element, the same IEEE float32 operations in the same order as
the numpy code it stands for, so it gives the same bits:

* requantization (``onnx_rne``): ``rint(float32(acc) * scale) + float32(zp)``, then the count
  of saturations and the clamp (:func:`requantize_rows`, :func:`depthwise_rne`);
* QuantizeLinear per tensor: ``rint(x / scale) + float32(zp)``, count, clamp
  (:func:`quantize_rows`);
* DequantizeLinear per tensor: ``(float32(x) - float32(zp)) * scale`` (:func:`dequantize_into`);
* QLinearAdd: ``float32(a * ra + float32(b * rb + fixed))`` in float64, rounded, counted,
  clamped (:func:`qlinear_add_into`).

Fastmath is off, so numba emits plain IEEE operations and LLVM may not contract a multiply and
an add into a fused multiply-add. In the requantization loops a rounding, a division or a
subtraction always sits between the two anyway; in :func:`qlinear_add_into` the float64
products of an 8-bit integer and a float32 ratio are exact, so a contraction could not change
a bit either. Integer sums are exact by construction: the callers prove
that every partial sum fits well inside int32 before they get here.

Functions are compiled on first call and cached on disk (``cache=True``), so the compile cost is
paid once per machine and Python version; :func:`warm_up` pays it up front.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_OPTIONS = {"cache": True, "nogil": True, "boundscheck": False, "fastmath": False,
            "error_model": "numpy"}

@njit(inline="always", **_OPTIONS)
def _clamp(v, lof, hif):  # pragma: no cover - compiled
    """``v`` clamped to [lof, hif], and whether it was below, above."""
    low, high = v < lof, v > hif
    return (hif if high else (lof if low else v)), low, high



@njit(**_OPTIONS)
def requantize_rows(acc, scale, zero_point, lo, hi, out):  # pragma: no cover - compiled
    """``out = clamp(rint(acc * scale) + zp)`` over a 2-D ``(P, M)`` float32 or int32 ``acc``,
    ``scale`` a ``(M,)`` float32 vector; returns how many values saturated."""
    zpf = np.float32(zero_point)
    lof, hif = np.float32(lo), np.float32(hi)
    below = above = 0
    p, m = acc.shape
    row = np.empty(m, np.float32)
    for i in range(p):
        for j in range(m):
            row[j] = np.rint(np.float32(acc[i, j]) * scale[j]) + zpf
        below, above = _store_row(row, lof, hif, out[i], below, above)
    return _saturations(below, above, zero_point, lo, hi)


@njit(inline="always", **_OPTIONS)
def _store_row(row, lof, hif, out, below, above):  # pragma: no cover - compiled
    """Counts the values of ``row`` below ``lof`` and above ``hif``, stores them clamped into
    ``out``; three simple passes, each of which the compiler vectorizes."""
    for j in range(row.size):
        below += row[j] < lof
    for j in range(row.size):
        above += row[j] > hif
    for j in range(row.size):
        out[j] = np.int32(min(max(row[j], lof), hif))  # integral: int32 keeps the value
    return below, above


@njit(**_OPTIONS)
def _saturations(below, above, zero_point, lo, hi):  # pragma: no cover - compiled
    """Clamps at the bound the zero point sits on are a ReLU's floor, not saturations
    (:func:`socsim.kernels.dtypes.count_saturated`)."""
    return (0 if zero_point == lo else below) + (0 if zero_point == hi else above)


@njit(**_OPTIONS)
def quantize_rows(x, scale, zero_point, lo, hi, out):  # pragma: no cover - compiled
    """``out = clamp(rint(x / scale) + zp)`` over a 1-D float32 ``x`` with a float32 scalar
    ``scale``; returns how many values saturated."""
    zpf = np.float32(zero_point)
    lof, hif = np.float32(lo), np.float32(hi)
    below = above = 0
    for i in range(x.size):
        v = np.rint(x[i] / scale) + zpf
        out[i], low, high = _clamp(v, lof, hif)
        below += low
        above += high
    return _saturations(below, above, zero_point, lo, hi)


@njit(**_OPTIONS)
def dequantize_into(x, zero_point, scale, out):  # pragma: no cover - compiled
    """``out = (float32(x) - float32(zp)) * scale`` over 4-D integer ``x`` in any memory
    layout into ``out`` of the same shape, float32 ``scale``."""
    zpf = np.float32(zero_point)
    n0, n1, n2, n3 = x.shape
    for a in range(n0):
        for b in range(n1):
            for c in range(n2):
                for d in range(n3):
                    out[a, b, c, d] = (np.float32(x[a, b, c, d]) - zpf) * scale


@njit(**_OPTIONS)
def qlinear_add_into(a, ra, b, rb, fixed, zero_point, lo, hi, out):  # pragma: no cover
    """QLinearAdd of 1-D integer ``a`` and ``b`` of ``out``'s size:
    ``out = clamp(rint(float32(a * ra + float32(b * rb + fixed))))``, the products and sums
    in float64 from float32 ``ra``, ``rb``, ``fixed``; returns how many values saturated."""
    ra64, rb64, fixed64 = np.float64(ra), np.float64(rb), np.float64(fixed)
    lof, hif = np.float32(lo), np.float32(hi)
    below = above = 0
    for i in range(out.size):
        inner = np.float32(np.float64(b[i]) * rb64 + fixed64)
        v = np.rint(np.float32(np.float64(a[i]) * ra64 + np.float64(inner)))
        out[i], low, high = _clamp(v, lof, hif)
        below += low
        above += high
    return _saturations(below, above, zero_point, lo, hi)


@njit(**_OPTIONS)
def window_columns(x, kernel, strides, dilations, top, left, wo, out):  # pragma: no cover
    """im2col of ``x`` (N, C, H, W) into ``out`` (N, C * kh * kw, Ho * Wo), rows ordered
    (C, kh, kw), zero where a window reaches into the padding: the values, shape and layout
    of :func:`socsim.kernels._gemm.im2col` on the zero-padded input, without the padded copy."""
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    ho = out.shape[2] // wo
    for b in range(n):
        for ch in range(c):
            for i in range(kh):
                for j in range(kw):
                    r = (ch * kh + i) * kw + j
                    for oy in range(ho):
                        iy = oy * sh - top + i * dh
                        base = oy * wo
                        if iy < 0 or iy >= h:
                            for ox in range(wo):
                                out[b, r, base + ox] = 0
                            continue
                        for ox in range(wo):
                            ix = ox * sw - left + j * dw
                            out[b, r, base + ox] = x[b, ch, iy, ix] if 0 <= ix < w else 0


@njit(**_OPTIONS)
def depthwise_rne(x, weights, padded, bias, kernel, strides, dilations, top, left, scale,
                  zero_point, lo, hi, out):  # pragma: no cover - compiled
    """Depthwise convolution of channels-last ``x`` (H, W, C) into C-contiguous ``out``
    (Ho, Wo, C), requantized as :func:`requantize_rows`; returns how many values saturated.

    ``weights`` (taps, C) int32 multiply the raw activations; ``bias`` (C,) int32 already holds
    ``-x_zp * sum(w)``, so a tap that falls into the padding adds ``padded`` (taps, C) =
    ``x_zp * w`` instead, exactly what a padding of ``x_zp`` would add.
    """
    h, w, c = x.shape
    ho, wo = out.shape[0], out.shape[1]
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    zpf = np.float32(zero_point)
    lof, hif = np.float32(lo), np.float32(hi)
    acc = np.empty(c, np.int32)
    row = np.empty((wo, c), np.float32)
    below = above = 0
    for oy in range(ho):
        for ox in range(wo):
            for ch in range(c):
                acc[ch] = bias[ch]
            for i in range(kh):
                iy = oy * sh - top + i * dh
                for j in range(kw):
                    t = i * kw + j
                    ix = ox * sw - left + j * dw
                    if 0 <= iy < h and 0 <= ix < w:
                        for ch in range(c):
                            acc[ch] += weights[t, ch] * np.int32(x[iy, ix, ch])
                    else:
                        for ch in range(c):
                            acc[ch] += padded[t, ch]
            for ch in range(c):
                row[ox, ch] = np.rint(np.float32(acc[ch]) * scale[ch]) + zpf
        # one output row at a time: long passes for counting, clamping and storing
        below, above = _store_row(row.reshape(-1), lof, hif, out[oy].reshape(-1), below, above)
    return _saturations(below, above, zero_point, lo, hi)


def warm_up() -> None:
    """Compiles (or loads from the disk cache) the loops for the common 8-bit signatures."""
    for xt in (np.uint8, np.int8):
        out = np.empty((1, 1), xt)
        for acc in (np.zeros((1, 1), np.float32), np.zeros((1, 1), np.int32)):
            requantize_rows(acc, np.ones(1, np.float32), 0, -128, 127, out)
        quantize_rows(np.zeros(1, np.float32), np.float32(1), 0, -128, 127, out.reshape(-1))
        dequantize_into(np.zeros((1, 1, 1, 1), xt), 0, np.float32(1),
                        np.empty((1, 1, 1, 1), np.float32))
        qlinear_add_into(out.reshape(-1), np.float32(1), out.reshape(-1), np.float32(1),
                         np.float32(0), 0, -128, 127, np.empty(1, xt))
        depthwise_rne(np.zeros((1, 1, 1), xt), np.zeros((1, 1), np.int32),
                      np.zeros((1, 1), np.int32), np.zeros(1, np.int32), (1, 1), (1, 1),
                      (1, 1), 0, 0, np.ones(1, np.float32), 0, -128, 127,
                      np.empty((1, 1, 1), xt))
    window_columns(np.zeros((1, 1, 1, 1), np.float32), (1, 1), (1, 1), (1, 1), 0, 0, 1,
                   np.empty((1, 1, 1), np.float32))
