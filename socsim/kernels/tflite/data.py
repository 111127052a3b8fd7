"""CONCATENATION, RESHAPE, SQUEEZE, PAD, QUANTIZE and DEQUANTIZE with TFLite's semantics."""

from __future__ import annotations

import numpy as np

from socsim.kernels.arithmetic import DEFAULT, Arithmetic
from socsim.kernels.tflite.base import (
    Multiplier,
    QParams,
    TflKernel,
    activation_range,
    as_i64,
    qparams,
    register,
    requant_mode,
    round_away,
    same_qparams,
)


class Requantize(TflKernel):
    """QUANTIZE from an integer type (a requantization): ``reference_ops::Requantize``
    (``reference/requantize.h``) with ``QuantizeMultiplier(double(s_in) / double(s_out))``
    (``kernels/quantize.cc``): ``MultiplyByQuantizedMultiplier(x - zp_in) + zp_out``, clamped."""

    opcode = "QUANTIZE"

    def __init__(self, x: QParams, y: QParams, arithmetic: Arithmetic = DEFAULT) -> None:
        super().__init__()
        self.x, self.y = x, y
        self.m = Multiplier(np.float64(x.s) / np.float64(y.s), requant_mode(arithmetic.requant))

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        out = self.m(as_i64(x) - self.x.zp) + self.y.zp
        self.count("requant_overflows", self.m.overflows)
        self.m.overflows = 0
        lo, hi = self.y.range
        return (self.clamp(out, lo, hi, self.y),)


class Quantize(TflKernel):
    """QUANTIZE from float32: ``reference_ops::AffineQuantize`` (``reference/quantize.h``):
    ``round(x / s)`` in float32 (half away from zero) plus the zero point, clamped."""

    opcode = "QUANTIZE"

    def __init__(self, y: QParams) -> None:
        super().__init__()
        self.y = y

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        v = round_away((np.asarray(x, np.float32) / self.y.s).astype(np.float32))
        lo, hi = self.y.range
        return (self.clamp(v.astype(np.int64) + self.y.zp, lo, hi, self.y),)


class Dequantize(TflKernel):
    """DEQUANTIZE: ``reference_ops::Dequantize`` (``reference/dequantize.h``):
    ``float(double(s) * (q - zp))``."""

    opcode = "DEQUANTIZE"

    def __init__(self, x: QParams) -> None:
        super().__init__()
        self.x = x

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        return ((np.float64(self.x.s) * (as_i64(x) - self.x.zp)).astype(np.float32),)


class Concatenation(TflKernel):
    """CONCATENATION: ``reference_ops::Concatenation`` (``reference/concatenation.h``); int8
    inputs share the output's scale and zero point (``kernels/concatenation.cc`` requires it;
    the converter inserts requantizing QUANTIZE ops), inputs of other parameters are
    rescaled as ``ConcatenationWithScaling`` does; then the fused activation's clamp."""

    opcode = "CONCATENATION"
    arity = None

    def __init__(self, xs: list[QParams], y: QParams, axis: int, activation: str) -> None:
        super().__init__()
        self.xs, self.y, self.axis = xs, y, axis
        self.lo, self.hi = activation_range(activation, y)

    def __call__(self, *xs: np.ndarray) -> tuple[np.ndarray]:
        parts = []
        for q, x in zip(self.xs, xs):
            if same_qparams(q, self.y):
                parts.append(as_i64(x))
                continue
            scale = np.float32(q.s * np.float32(1.0 / self.y.s))
            bias = np.float32(-q.zp * scale)
            v = round_away((as_i64(x).astype(np.float32) * scale + bias).astype(np.float32))
            parts.append(v.astype(np.int64) + self.y.zp)
        out = np.concatenate(parts, axis=self.axis)
        return (self.clamp(out, self.lo, self.hi, self.y),)


class Reshape(TflKernel):
    """RESHAPE / SQUEEZE / EXPAND_DIMS: a view with the output tensor's shape (same
    quantization on both sides: ``kernels/reshape.cc``)."""

    opcode = "RESHAPE"

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def __call__(self, x: np.ndarray, *_: np.ndarray) -> tuple[np.ndarray]:
        return (np.reshape(x, self.shape),)


class Pad(TflKernel):
    """PAD / PADV2: ``reference_ops::Pad`` (``reference/pad.h``): the padding value is the
    output zero point (PAD; real 0) or the given constant (PADV2); same quantization in and
    out."""

    opcode = "PAD"

    def __init__(self, paddings: np.ndarray, value: int) -> None:
        super().__init__()
        self.paddings = [tuple(int(v) for v in row) for row in np.asarray(paddings)]
        self.value = value

    def __call__(self, x: np.ndarray, *_: np.ndarray) -> tuple[np.ndarray]:
        return (np.pad(x, self.paddings, constant_values=self.value),)


@register("QUANTIZE")
def _quantize(op, tensors, arithmetic: Arithmetic) -> TflKernel:
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    if x.dtype.startswith("float"):
        return Quantize(qparams(y))
    return Requantize(qparams(x), qparams(y), arithmetic)


@register("DEQUANTIZE")
def _dequantize(op, tensors, arithmetic: Arithmetic) -> Dequantize:
    return Dequantize(qparams(tensors[op.inputs[0]]))


@register("CONCATENATION")
def _concat(op, tensors, arithmetic: Arithmetic) -> Concatenation:
    y = tensors[op.outputs[0]]
    axis = int(op.options.get("axis", 0)) % len(y.shape)
    return Concatenation([qparams(tensors[i]) for i in op.inputs], qparams(y), axis,
                         op.options.get("fused_activation_function", "NONE"))


def _reshape(op, tensors, arithmetic: Arithmetic) -> Reshape:
    return Reshape(tensors[op.outputs[0]].shape)


for _name in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
    register(_name)(_reshape)


def _pad(op, tensors, arithmetic: Arithmetic) -> Pad:
    y = tensors[op.outputs[0]]
    value = qparams(y).zp if y.quantized else 0
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(np.asarray(tensors[op.inputs[2]].data).reshape(-1)[0])
    return Pad(tensors[op.inputs[1]].data, value)


for _name in ("PAD", "PADV2"):
    register(_name)(_pad)
