"""Requantization: an int32 accumulator back to a narrow integer type, in three named modes.

* ``onnx_rne``: ``q = saturate(round_half_even(float32(acc) * scale) + zp)`` with the float32
  scale ``x_scale * w_scale / y_scale`` evaluated in float32, left to right; what onnxruntime's
  ``MlasRequantizeOutput`` computes and what ONNX specifies.
* ``tflite_double``: TFLite's ``MultiplyByQuantizedMultiplier`` with a Q0.31 multiplier from
  ``QuantizeMultiplier(double scale)``: gemmlowp ``SaturatingRoundingDoublingHighMul`` (ties
  toward +infinity, as ARM's VQRDMULH: its negative nudge ``1 - 2^30`` with C++'s truncating
  division is a floor; INT32_MIN x INT32_MIN saturates) then ``RoundingDivideByPOT`` (ties away
  from zero). Two roundings: the result can differ by one from the correctly rounded product.
* ``tflite_single``: ``TFLITE_SINGLE_ROUNDING``: ``(acc * M + 2^(s-1)) >> s`` with ``s = 31 - shift``
  in 64 bits (ties toward +infinity), shifts clamped to [-31, 30].

Accumulators are int64 (or exact integer float64) arrays; results are int32 arrays in range.
Where the C++ of the TFLite modes leaves int32 (``x << left_shift``, a single-rounding result out
of range, adding the output offset), the value wraps modulo 2^32 as it does on the hardware, and
the event is counted as a requantization overflow.
"""

from __future__ import annotations

import numpy as np

from socsim.kernels.arithmetic import Arithmetic, RequantMode
from socsim.kernels.dtypes import count_saturated

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def quantize_multiplier(real: np.ndarray, *, single_rounding: bool = False
                        ) -> tuple[np.ndarray, np.ndarray]:
    """TFLite ``QuantizeMultiplier``: ``real ~= M * 2^(shift - 31)``, ``M`` in [2^30, 2^31).

    Args:
        real: non-negative float64 multipliers.
        single_rounding: apply the single-rounding build's clamp of ``shift`` to at most 30.

    Returns:
        ``(M, shift)`` as int64 arrays of ``real``'s shape.
    """
    real = np.asarray(real, dtype=np.float64)
    q, shift = np.frexp(real)
    q_fixed = np.floor(q * 2.0**31 + 0.5).astype(np.int64)  # std::round, q >= 0
    shift = shift.astype(np.int64)
    top = q_fixed == 2**31
    q_fixed = np.where(top, q_fixed // 2, q_fixed)
    shift = np.where(top, shift + 1, shift)
    tiny = shift < -31
    q_fixed = np.where(tiny, 0, q_fixed)
    shift = np.where(tiny, 0, shift)
    zero = real == 0.0
    q_fixed = np.where(zero, 0, q_fixed)
    shift = np.where(zero, 0, shift)
    if single_rounding:
        big = shift > 30
        q_fixed = np.where(big, 2**31 - 1, q_fixed)
        shift = np.where(big, 30, shift)
    return q_fixed, shift


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int32 values held in int64.

    ``floor((a * b + 2^30) / 2^31)``: ties toward +infinity; ``INT32_MIN * INT32_MIN`` gives
    ``INT32_MAX``.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    high = np.where(s >= 0, s >> 31, -((-s) >> 31))  # C++ '/' truncates toward zero
    overflow = (a == b) & (a == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2^exponent``, ties away from zero (0..31)."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def _wrap_int32(x: np.ndarray) -> np.ndarray:
    return ((x - INT32_MIN) & 0xFFFFFFFF) + INT32_MIN


def multiply_double(x: np.ndarray, m: np.ndarray, shift: np.ndarray
                    ) -> tuple[np.ndarray, int]:
    """TFLite's double-rounding ``MultiplyByQuantizedMultiplier`` of int32 ``x``.

    Returns:
        The int32 result (in int64) and how many elements overflowed int32 in ``x << shift``
        (which C++ wraps; so do we).
    """
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = x << left
    wrapped = _wrap_int32(shifted)
    overflows = int(np.count_nonzero(wrapped != shifted))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(wrapped, m), right), \
        overflows


def multiply_single(x: np.ndarray, m: np.ndarray, shift: np.ndarray
                    ) -> tuple[np.ndarray, int]:
    """TFLite's single-rounding ``MultiplyByQuantizedMultiplier``: ties toward +infinity.

    ``(x * M + 2^(s-1)) >> s`` with ``s = 31 - shift`` in 64 bits (``shift`` in [-31, 30], so
    nothing overflows int64).

    Returns:
        The int32 result (in int64) and how many elements fell outside int32 (TFLite only
        DCHECKs this; its ``static_cast<int32_t>`` wraps, and so do we).
    """
    x = np.asarray(x, dtype=np.int64)
    total = 31 - np.asarray(shift, dtype=np.int64)
    rnd = np.int64(1) << (total - 1)
    result = (x * np.asarray(m, dtype=np.int64) + rnd) >> total
    wrapped = _wrap_int32(result)
    return wrapped, int(np.count_nonzero(wrapped != result))


def saturate_accumulator(acc: np.ndarray, arithmetic: Arithmetic) -> tuple[np.ndarray, int]:
    """Saturates exact sums to the accumulator width; returns them and how many saturated."""
    lo, hi = arithmetic.acc_min, arithmetic.acc_max
    over = int(np.count_nonzero((acc < lo) | (acc > hi)))
    if over:
        acc = np.clip(acc, lo, hi)
    return acc, over


def requantize(acc: np.ndarray, *, scale: np.ndarray, real_scale: np.ndarray,
               zero_point: np.ndarray | int, lo: int, hi: int, mode: RequantMode
               ) -> tuple[np.ndarray, int, int]:
    """Requantizes exact integer accumulators (int64 or integral float64).

    Args:
        acc: accumulators, already saturated to the accumulator width.
        scale: float32 effective scale (broadcastable to ``acc``), used by ``onnx_rne``.
        real_scale: float64 effective scale, used to derive the TFLite multipliers.
        zero_point: output zero point (broadcastable).
        lo: smallest output value.
        hi: largest output value.
        mode: requantization mode.

    Returns:
        ``(q, saturated, overflowed)``: int32 outputs, how many were clamped to [lo, hi]
        (not counting clamps at the bound the zero point sits on: a ReLU's floor, see
        :func:`socsim.kernels.dtypes.count_saturated`), and
        how many wrapped around int32 inside the fixed-point arithmetic (TFLite modes).
    """
    zp = np.asarray(zero_point, dtype=np.int32)
    if mode == "onnx_rne":
        # MLAS: int32 -> float32, times the float32 scale, clamp to [lo - zp, hi - zp],
        # round half to even, add zp.
        v = np.rint(acc.astype(np.float32) * np.asarray(scale, dtype=np.float32))
        vlo, vhi = (lo - zp).astype(np.float32), (hi - zp).astype(np.float32)
        saturated = count_saturated(v < vlo, zp, lo) + count_saturated(v > vhi, zp, hi)
        q = np.clip(v, vlo, vhi).astype(np.int32) + zp
        return q, saturated, 0
    m, shift = quantize_multiplier(real_scale, single_rounding=mode == "tflite_single")
    acc = np.asarray(acc).astype(np.int64)
    if mode == "tflite_double":
        q, overflows = multiply_double(acc, m, shift)
    else:
        q, overflows = multiply_single(acc, m, shift)
    # TFLite adds the output offset in int32 before clamping to the activation range.
    shifted = q + zp
    q = _wrap_int32(shifted)
    overflows += int(np.count_nonzero(q != shifted))
    saturated = count_saturated(q < lo, zp, lo) + count_saturated(q > hi, zp, hi)
    return np.clip(q, lo, hi).astype(np.int32, copy=False), saturated, overflows
