"""onnxruntime's float32 Softmax, bit for bit (MLAS on x86-64, AVX-512F or AVX2/FMA3 kernels).

``MlasComputeSoftmax`` works on rows (``N`` rows of ``D`` elements; onnxruntime moves a
non-last opset-13 axis to the end first, which does not change any row's arithmetic):

1. the row's maximum, started from ``-FLT_MAX`` (so a row of ``-inf`` has a finite maximum);
2. ``exp(x - max)`` by the sum-exp kernel: the argument clamped below, a range reduction by
   fma with a two-part ``ln 2`` and MLAS's degree-6 polynomial by fma, then the power of two:

   * ``mlas_avx512f`` (``MlasComputeSumExpF32KernelAvx512F``): clamp at -103.97, ``vscalefps``
     (a single rounding, so results down to the subnormal range are correctly scaled);
   * ``mlas_fma3`` (``MlasComputeSumExpF32KernelFma3``): clamp at -88.376, the scale built by
     shifting the bits of the rounded ``x / ln 2`` into the exponent field (``m = -127`` gives a
     scale of +0.0), then one float32 multiply;

3. the sum of those values in float32 lanes, lane ``j`` adding elements ``j, j + L, ...`` in
   order (masked tail lanes add +0.0):

   * ``mlas_avx512f``: ``L = 16``, reduced as ``b_i = l_i + l_(i+8)`` and then
     ``((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7))``;
   * ``mlas_fma3``: ``L = 8``, reduced by two ``vhaddps`` and one add across the halves,
     ``((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))``;

4. each exp multiplied by ``1 / sum`` (``MlasComputeSoftmaxOutputF32KernelAvx`` on both: a
   float32 reciprocal, not a division per element). The row maximum
   (``MlasReduceMaximumF32Kernel*``) does not depend on the order of comparisons.

The row length never changes the per-element arithmetic, only which lane a value joins, so
short rows need no special case. Confirmed on onnxruntime 1.32: AVX-512F on an AMD EPYC host,
FMA3 under ``qemu-x86_64 -cpu Haswell`` (``tools/qemu_avx2.sh``).
"""

from __future__ import annotations

import numpy as np

from socsim.kernels._mlas import check_family, fma
from socsim.kernels.arithmetic import FloatKernels

_F = np.float32
_D = np.float64

# MlasExpConstants (compute.cpp): clamp, rounding bias (1.5 * 2**23), 1/ln2, -ln2 in two parts,
# and the polynomial (its last coefficient, 1.0, is used twice: p = p*x + 1, then p*x + 1).
_LOWER = _F(-103.9720840454)
_LOWER_SUM_EXP = _F(-88.3762626647949)  # the FMA3 kernel's clamp (LowerRangeSumExp)
_ONE_BITS = np.uint32(0x3F800000)  # MaximumExponent: 127 << 23
_ROUND = _F(12582912.0)
_LOG2_RECIP = _F(1.44269504088896341)
_LOG2_HI = _F(-6.93145752e-1)
_LOG2_LO = _F(-1.42860677e-6)
_POLY = tuple(_F(float.fromhex(h)) for h in (
    "0x1.694000p-10", "0x1.125edcp-7", "0x1.555b5ap-5", "0x1.555450p-3", "0x1.fffff6p-2",
    "0x1.000000p+0", "0x1.000000p+0"))


def _poly_reduced(v: np.ndarray, lower: np.float32) -> tuple[np.ndarray, np.ndarray]:
    # The shared front of both kernels: clamp, t = v / ln2 + 1.5 * 2**23 (m in its low bits),
    # m = t - 1.5 * 2**23, the two-step range reduction and the polynomial.
    v = np.maximum(lower, v)
    t = fma(v, _LOG2_RECIP, _ROUND)
    m = t - _ROUND
    r = fma(m, _LOG2_LO, fma(m, _LOG2_HI, v))
    p = np.full_like(r, _POLY[0])
    for c in _POLY[1:]:
        p = fma(p, r, c)
    return p, t


def _exp_avx512f(v: np.ndarray) -> np.ndarray:
    # vscalefps: p * 2**m with one rounding. m is a whole number in [-150, 0] (or NaN), so the
    # float64 product is exact and the cast to float32 is that one rounding.
    p, t = _poly_reduced(v, _LOWER)
    return (p.astype(_D) * np.exp2((t - _ROUND).astype(_D))).astype(_F)


def _exp_fma3(v: np.ndarray) -> np.ndarray:
    # vpslld by 23 of t's bits leaves m << 23 (the bias's own bits shift out), vpaddd adds
    # 127 << 23, both wrapping in 32 bits; m = -127 gives the bits of +0.0. vmulps then rounds
    # once (subnormal products included).
    p, t = _poly_reduced(v, _LOWER_SUM_EXP)
    scale = ((t.view(np.uint32) << np.uint32(23)) + _ONE_BITS).view(_F)
    return p * scale


def _lane_sums(e: np.ndarray, lanes: int) -> np.ndarray:
    rows, d = e.shape
    k = -(-d // lanes)
    padded = np.zeros((rows, k * lanes), _F)
    padded[:, :d] = e  # adding +0.0 to a lane of non-negative sums changes nothing
    # cumsum is a strictly sequential float32 accumulation: its last entry is the lane's sum.
    return np.cumsum(padded.reshape(rows, k, lanes), axis=1, dtype=_F)[:, -1]


def _sum_avx512f(e: np.ndarray) -> np.ndarray:
    lanes = _lane_sums(e, 16)
    b = lanes[:, 8:] + lanes[:, :8]
    return ((b[:, 0] + b[:, 1]) + (b[:, 2] + b[:, 3])) + ((b[:, 4] + b[:, 5]) + (b[:, 6] + b[:, 7]))


def _sum_fma3(e: np.ndarray) -> np.ndarray:
    a = _lane_sums(e, 8)
    return ((a[:, 0] + a[:, 1]) + (a[:, 2] + a[:, 3])) + ((a[:, 4] + a[:, 5]) + (a[:, 6] + a[:, 7]))


_KERNELS = {"mlas_avx512f": (_exp_avx512f, _sum_avx512f), "mlas_fma3": (_exp_fma3, _sum_fma3)}


def softmax_rows(x: np.ndarray, float_kernels: FloatKernels = "mlas_avx512f") -> np.ndarray:
    """onnxruntime's float32 Softmax of each row of ``x`` (``[rows, d]``).

    Rows holding a NaN or ``+inf`` come out all NaN, as in onnxruntime; so does a row of
    ``-inf`` (its maximum is ``-FLT_MAX``, every exp underflows to 0 and ``0 * (1 / 0)`` is NaN).

    Args:
        x: float32 rows.
        float_kernels: the MLAS kernel family to follow (``mlas_avx512f`` or ``mlas_fma3``).

    Raises:
        ValueError: for an unknown ``float_kernels``.
    """
    exp, total = _KERNELS[check_family(float_kernels)]
    x = np.asarray(x, _F)
    if x.size == 0:
        return x.copy()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        neg_max = -np.maximum(x.max(axis=1), np.finfo(_F).min)
        e = exp(x + neg_max[:, None])
        scale = _F(1) / total(e)
        return e * scale[:, None]


def softmax(x: np.ndarray, axis: int, float_kernels: FloatKernels = "mlas_avx512f"
            ) -> np.ndarray:
    """onnxruntime's float32 Softmax along one ``axis`` (opset 13 semantics).

    Raises:
        ValueError: for an unknown ``float_kernels``.
    """
    x = np.asarray(x, _F)
    moved = np.moveaxis(x, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1]) if moved.size else moved.reshape(0, 0)
    y = softmax_rows(rows, float_kernels)
    return np.moveaxis(y.reshape(moved.shape), -1, axis)
