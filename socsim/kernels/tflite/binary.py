"""ADD, SUB and MUL with TFLite's int8 arithmetic (numpy broadcasting = TFLite's 4-D/6-D slow
broadcast paths, element for element)."""

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
)

#: Input left shift of the 8-bit ADD/SUB paths (``kernels/add.cc``, ``kernels/sub.cc``): 20 bits
#: of headroom before the two rescaled inputs are added in int32.
LEFT_SHIFT_8BIT = 20


class AddSub(TflKernel):
    """ADD / SUB, int8: ``reference/integer_ops/add.h`` (``AddFunc``) and ``reference/sub.h``
    (``SubElementwise``) with the parameters of ``kernels/add.cc`` / ``kernels/sub.cc``
    (``PrepareGeneralSubOp``).

    Each input: ``(x - zp) << 20``, times its multiplier ``scale_i / (2 max(scale_1, scale_2))``
    (``QuantizeMultiplierSmallerThanOneExp``: a rounding doubling high multiply, then a rounding
    right shift); the sum (difference) times ``2 max / (2^20 scale_out)``, plus the output zero
    point, clamped to the fused activation's range.
    """

    opcode = "ADD"
    arity = 2

    def __init__(self, a: QParams, b: QParams, y: QParams, *, subtract: bool, activation: str,
                 arithmetic: Arithmetic = DEFAULT) -> None:
        super().__init__()
        mode = requant_mode(arithmetic.requant)
        twice_max = 2.0 * np.float64(max(a.s, b.s))
        self.a, self.b, self.y, self.subtract = a, b, y, subtract
        self.ma = Multiplier(np.float64(a.s) / twice_max, mode)
        self.mb = Multiplier(np.float64(b.s) / twice_max, mode)
        self.my = Multiplier(twice_max / (np.float64(1 << LEFT_SHIFT_8BIT) * np.float64(y.s)),
                             mode)
        self.lo, self.hi = activation_range(activation, y)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray]:
        sa = self.ma((as_i64(a) - self.a.zp) << LEFT_SHIFT_8BIT)
        sb = self.mb((as_i64(b) - self.b.zp) << LEFT_SHIFT_8BIT)
        raw = sa - sb if self.subtract else sa + sb
        out = self.my(raw) + self.y.zp
        self.count("requant_overflows", self.ma.overflows + self.mb.overflows
                   + self.my.overflows)
        self.ma.overflows = self.mb.overflows = self.my.overflows = 0
        return (self.clamp(out, self.lo, self.hi, self.y),)


class Mul(TflKernel):
    """MUL, int8: ``reference/integer_ops/mul.h`` (``MulElementwise``), multiplier
    ``double(s_a) * double(s_b) / double(s_y)`` (``kernels/mul.cc``)."""

    opcode = "MUL"
    arity = 2

    def __init__(self, a: QParams, b: QParams, y: QParams, *, activation: str,
                 arithmetic: Arithmetic = DEFAULT) -> None:
        super().__init__()
        self.a, self.b, self.y = a, b, y
        self.m = Multiplier(np.float64(a.s) * np.float64(b.s) / np.float64(y.s),
                            requant_mode(arithmetic.requant))
        self.lo, self.hi = activation_range(activation, y)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray]:
        prod = (as_i64(a) - self.a.zp) * (as_i64(b) - self.b.zp)
        out = self.m(prod) + self.y.zp
        self.count("requant_overflows", self.m.overflows)
        self.m.overflows = 0
        return (self.clamp(out, self.lo, self.hi, self.y),)


def _act(op) -> str:
    return op.options.get("fused_activation_function", "NONE")


@register("ADD")
def _add(op, tensors, arithmetic: Arithmetic) -> AddSub:
    a, b, y = (tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]])
    return AddSub(qparams(a), qparams(b), qparams(y), subtract=False, activation=_act(op),
                  arithmetic=arithmetic)


@register("SUB")
def _sub(op, tensors, arithmetic: Arithmetic) -> AddSub:
    a, b, y = (tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]])
    return AddSub(qparams(a), qparams(b), qparams(y), subtract=True, activation=_act(op),
                  arithmetic=arithmetic)


@register("MUL")
def _mul(op, tensors, arithmetic: Arithmetic) -> Mul:
    a, b, y = (tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]])
    return Mul(qparams(a), qparams(b), qparams(y), activation=_act(op), arithmetic=arithmetic)
