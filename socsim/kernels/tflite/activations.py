"""SOFTMAX, LOGISTIC, TANH and HARD_SWISH with TFLite's int8 arithmetic (``kernels/
activations.cc``).

LOGISTIC and TANH are 256-entry lookup tables computed in float32 at preparation
(``PopulateLookupTable``); SOFTMAX is the float32 ``exp`` table of
``optimized_ops::PopulateSoftmaxLookupTable`` and ``optimized_ops::Softmax``, which TFLite
uses for int8 in every kernel variant, the reference one included. ``expf`` and ``tanhf``
are taken correctly rounded (float64 then one rounding to float32), as glibc's are for all but
a handful of arguments. HARD_SWISH is pure 16-bit fixed point.
"""

from __future__ import annotations

import numpy as np

from socsim.kernels.arithmetic import DEFAULT, Arithmetic
from socsim.kernels.requant import quantize_multiplier
from socsim.kernels.tflite.base import (
    QParams,
    TflKernel,
    as_i64,
    qparams,
    register,
    round_away,
)

_F32 = np.float32


def _expf(x: np.ndarray) -> np.ndarray:
    return np.exp(np.asarray(x, np.float64)).astype(_F32)


class LookupTable(TflKernel):
    """LOGISTIC / TANH, int8: ``PopulateLookupTable`` then ``EvalUsingLookupTable``
    (``kernels/activations.cc``): for each of the 256 inputs, dequantize in float32
    (``s_in * (q - zp_in)``), apply the function in float32, ``round(f * (1 / s_out))`` (half
    away from zero) plus ``zp_out``, clamp."""

    opcode = "LOGISTIC"

    def __init__(self, x: QParams, y: QParams, fn: str) -> None:
        super().__init__()
        self.x, self.y = x, y
        lo, hi = x.range
        grid = np.arange(lo, hi + 1)
        deq = (x.s * (grid - x.zp).astype(_F32)).astype(_F32)
        if fn == "logistic":
            t = (_F32(1.0) / (_F32(1.0) + _expf(-deq))).astype(_F32)
        else:
            t = np.tanh(deq.astype(np.float64)).astype(_F32)
        inv = _F32(_F32(1.0) / y.s)
        q = round_away((t * inv).astype(_F32)).astype(np.int64) + y.zp
        ylo, yhi = y.range
        self.table = np.clip(q, ylo, yhi)
        self.lo = lo

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        return (self.table[as_i64(x) - self.lo].astype(self.y.dtype),)


class Softmax(TflKernel):
    """SOFTMAX, int8 -> int8: ``optimized_ops::PopulateSoftmaxLookupTable`` and
    ``optimized_ops::Softmax`` (``kernels/internal/optimized/optimized_ops.h``), the kernel
    ``kernels/activations.cc`` runs for 8-bit inputs in every variant.

    ``table[255 - d] = expf(-s_in * beta * d)`` (float32); per row, ``d = max - x``, the
    float32 sum of ``table`` taken left to right, ``inv = 1 / (sum * s_out)``, each output
    ``round(table * inv) + zp_out`` (half away from zero), clamped.
    """

    opcode = "SOFTMAX"

    def __init__(self, x: QParams, y: QParams, beta: float) -> None:
        super().__init__()
        self.x, self.y = x, y
        scale = _F32(-x.s * _F32(beta))
        d = np.arange(256)
        self.exp = _expf((scale * d.astype(_F32)).astype(_F32))  # exp(-s*beta*d), by d

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        xi = as_i64(x)
        d = xi.max(axis=-1, keepdims=True) - xi
        e = self.exp[d]
        total = np.cumsum(e, axis=-1, dtype=_F32)[..., -1:]  # sequential float32 sum
        inv = (_F32(1.0) / (total * self.y.s).astype(_F32)).astype(_F32)
        v = round_away((e * inv).astype(_F32)).astype(np.int64) + self.y.zp
        lo, hi = self.y.range
        return (self.clamp(v, lo, hi, self.y),)


def _srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int16 values."""
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    s = ab + nudge
    high = np.where(s >= 0, s >> 15, -((-s) >> 15))  # C++ division truncates
    return np.where((a == b) & (a == -32768), 32767, high)


def _sdhm16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``SaturatingDoublingHighMul`` (``reference/hard_swish.h``): truncating, as SQDMULH."""
    ab = a * b
    high = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == b) & (a == -32768), 32767, high)


def _rdpot(x: np.ndarray, e: int) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: ties away from zero."""
    mask = (1 << e) - 1
    return (x >> e) + ((x & mask) > ((mask >> 1) + (x < 0)))


def _sat16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -32768, 32767)


def _to_int16_multiplier(m32: int) -> int:
    """``DownScaleInt32ToInt16Multiplier`` (``kernels/activations.cc``)."""
    if m32 >= 2**31 - 1 - (1 << 15):
        return 32767
    return (m32 + (1 << 15)) >> 16


class HardSwish(TflKernel):
    """HARD_SWISH, int8: ``reference_ops::HardSwish`` (``reference/hard_swish.h``) with the
    parameters of ``HardSwishPrepare`` (``kernels/activations.cc``): the input on a 2^7 finer
    scale in int16, a 16-bit output multiplier and a 16-bit "relu-ish" multiplier mapping
    [-3, 3] to [-1, 1], saturating shifts, a truncating doubling high multiply, the output
    shift, the zero point and the clamp."""

    opcode = "HARD_SWISH"

    def __init__(self, x: QParams, y: QParams) -> None:
        super().__init__()
        self.x, self.y = x, y
        hires = _F32(_F32(1.0 / 128.0) * x.s)
        out_mult = _F32(hires / y.s)
        reluish = _F32(hires / _F32(3.0 / 32768.0))
        m, e = quantize_multiplier(np.float64(out_mult))
        self.out_m, self.out_e = _to_int16_multiplier(int(m)), int(e)
        m, e = quantize_multiplier(np.float64(reluish))
        self.rel_m, self.rel_e = _to_int16_multiplier(int(m)), int(e)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        v = as_i64(x) - self.x.zp
        hi_res = v * 128
        pre_out = _srdhm16(hi_res, self.out_m)
        rel = hi_res
        if self.rel_e > 0:
            rel = _sat16(rel * (1 << (self.rel_e - 1)))
        rel = _srdhm16(rel, self.rel_m)
        if self.rel_e > 0:
            rel = _sat16(rel * 2)
        if self.rel_e < 0:
            rel = _rdpot(rel, -self.rel_e)
        rel = (rel + (1 << 15)) >> 1
        out = _rdpot(_sdhm16(rel, pre_out), -self.out_e) + self.y.zp
        lo, hi = self.y.range
        return (self.clamp(out, lo, hi, self.y),)


def _xy(op, tensors) -> tuple[QParams, QParams]:
    return qparams(tensors[op.inputs[0]]), qparams(tensors[op.outputs[0]])


@register("LOGISTIC")
def _logistic(op, tensors, arithmetic: Arithmetic = DEFAULT) -> LookupTable:
    return LookupTable(*_xy(op, tensors), "logistic")


@register("TANH")
def _tanh(op, tensors, arithmetic: Arithmetic = DEFAULT) -> LookupTable:
    return LookupTable(*_xy(op, tensors), "tanh")


@register("SOFTMAX")
def _softmax(op, tensors, arithmetic: Arithmetic = DEFAULT) -> Softmax:
    return Softmax(*_xy(op, tensors), float(op.options.get("beta", 1.0)))


@register("HARD_SWISH")
def _hard_swish(op, tensors, arithmetic: Arithmetic = DEFAULT) -> HardSwish:
    return HardSwish(*_xy(op, tensors))
