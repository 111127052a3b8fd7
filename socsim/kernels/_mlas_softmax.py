"""onnxruntime's float32 Softmax, bit for bit (MLAS on x86-64 with AVX-512F).

``MlasComputeSoftmax`` works on rows (``N`` rows of ``D`` elements; onnxruntime moves a
non-last opset-13 axis to the end first, which does not change any row's arithmetic):

1. the row's maximum, started from ``-FLT_MAX`` (so a row of ``-inf`` has a finite maximum);
2. ``exp(x - max)`` by the AVX-512F kernel ``MlasComputeSumExpF32KernelAvx512F``: the argument
   clamped below at -103.97, a range reduction by fma with a two-part ``ln 2``, MLAS's degree-6
   polynomial by fma, and ``vscalefps`` for the power of two (a single rounding, so results
   down to the subnormal range are correctly scaled);
3. the sum of those values in 16 float32 lanes (lane ``j`` adds elements ``j, j + 16, ...`` in
   order; masked tail lanes add nothing), reduced as ``b_i = l_i + l_(i+8)`` and then
   ``((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7))``;
4. each exp multiplied by ``1 / sum`` (a float32 reciprocal, not a division per element).

The row length never changes the per-element arithmetic, only which lane a value joins, so
short rows (fewer than 16) need no special case. Confirmed on onnxruntime 1.32 (AMD EPYC with
AVX-512F). A machine without AVX-512F runs the FMA3 kernel instead, which sums in 8 lanes and
so may differ in the last bit of the sum; that variant is not modelled here.
"""

from __future__ import annotations

import numpy as np

from socsim.kernels._mlas import fma

_F = np.float32
_D = np.float64

# MlasExpConstants (compute.cpp): clamp, rounding bias (1.5 * 2**23), 1/ln2, -ln2 in two parts,
# and the polynomial (its last coefficient, 1.0, is used twice: p = p*x + 1, then p*x + 1).
_LOWER = _F(-103.9720840454)
_ROUND = _F(12582912.0)
_LOG2_RECIP = _F(1.44269504088896341)
_LOG2_HI = _F(-6.93145752e-1)
_LOG2_LO = _F(-1.42860677e-6)
_POLY = tuple(_F(float.fromhex(h)) for h in (
    "0x1.694000p-10", "0x1.125edcp-7", "0x1.555b5ap-5", "0x1.555450p-3", "0x1.fffff6p-2",
    "0x1.000000p+0", "0x1.000000p+0"))
_LANES = 16


def _exp_shifted(v: np.ndarray) -> np.ndarray:
    # exp(v) for v <= 0 as the AVX-512F sum-exp kernel computes it.
    v = np.maximum(_LOWER, v)
    m = fma(v, _LOG2_RECIP, _ROUND) - _ROUND
    r = fma(m, _LOG2_LO, fma(m, _LOG2_HI, v))
    p = np.full_like(r, _POLY[0])
    for c in _POLY[1:]:
        p = fma(p, r, c)
    # vscalefps: p * 2**m with one rounding. m is a whole number in [-150, 0] (or NaN), so the
    # float64 product is exact and the cast to float32 is that one rounding.
    return (p.astype(_D) * np.exp2(m.astype(_D))).astype(_F)


def _lane_sum(e: np.ndarray) -> np.ndarray:
    rows, d = e.shape
    k = -(-d // _LANES)
    padded = np.zeros((rows, k * _LANES), _F)
    padded[:, :d] = e  # adding +0.0 to a lane of non-negative sums changes nothing
    # cumsum is a strictly sequential float32 accumulation: its last entry is the lane's sum.
    lanes = np.cumsum(padded.reshape(rows, k, _LANES), axis=1, dtype=_F)[:, -1]
    b = lanes[:, 8:] + lanes[:, :8]
    return ((b[:, 0] + b[:, 1]) + (b[:, 2] + b[:, 3])) + ((b[:, 4] + b[:, 5]) + (b[:, 6] + b[:, 7]))


def softmax_rows(x: np.ndarray) -> np.ndarray:
    """onnxruntime's float32 Softmax of each row of ``x`` (``[rows, d]``).

    Rows holding a NaN or ``+inf`` come out all NaN, as in onnxruntime; a row of ``-inf``
    comes out uniform.
    """
    x = np.asarray(x, _F)
    if x.size == 0:
        return x.copy()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        neg_max = -np.maximum(x.max(axis=1), np.finfo(_F).min)
        e = _exp_shifted(x + neg_max[:, None])
        scale = _F(1) / _lane_sum(e)
        return e * scale[:, None]


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """onnxruntime's float32 Softmax along one ``axis`` (opset 13 semantics)."""
    x = np.asarray(x, _F)
    moved = np.moveaxis(x, axis, -1)
    y = softmax_rows(moved.reshape(-1, moved.shape[-1]) if moved.size else moved.reshape(0, 0))
    return np.moveaxis(y.reshape(moved.shape), -1, axis)
