"""What every TFLite-semantics kernel shares: quantization parameters, TFLite's rounding, its
activation ranges, its fixed-point multipliers, and the registry by builtin operator name.

A kernel is a class: its constructor decodes the operator's options and quantization once
(multipliers, shifts, clamps, lookup tables), ``__call__`` maps integer ndarrays to a tuple of
ndarrays. The arithmetic follows TFLite's reference kernels (the ``BUILTIN_REF`` op resolver);
each class names the file it follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from socsim.errors import UnsupportedOpError
from socsim.kernels.dtypes import count_saturated
from socsim.kernels.requant import (
    multiply_double,
    multiply_single,
    quantize_multiplier,
)

_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
           "int32": (-(2**31), 2**31 - 1)}


@dataclass(frozen=True)
class QParams:
    """A tensor's quantization as TFLite stores it.

    Attributes:
        scale: float32 scales (one, or one per channel along ``axis``).
        zero_point: int64 zero points.
        dtype: numpy dtype name of the quantized values.
        axis: the quantized dimension of per-channel parameters.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    dtype: str = "int8"
    axis: int = 0

    @property
    def s(self) -> np.float32:
        """The (first) scale as float32."""
        return np.float32(np.asarray(self.scale, np.float32).reshape(-1)[0])

    @property
    def zp(self) -> int:
        """The (first) zero point."""
        zp = np.asarray(self.zero_point).reshape(-1)
        return int(zp[0]) if zp.size else 0

    @property
    def range(self) -> tuple[int, int]:
        """Smallest and largest value of the quantized type."""
        return _RANGES[self.dtype]


def round_away(x: np.ndarray | float) -> np.ndarray:
    """``TfLiteRound`` / ``std::round`` of float32 values: half away from zero, exact."""
    x = np.asarray(x, dtype=np.float64)  # float32 values and x + 0.5 are exact in float64
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def activation_range(activation: str, out: QParams) -> tuple[int, int]:
    """TFLite's ``CalculateActivationRangeQuantized`` (kernels/kernel_util.cc): the fused
    activation as a clamp in the output's integer domain, ``zp + round(f / scale)`` in float32.

    Raises:
        UnsupportedOpError: for a fused activation with no integer clamp (TANH, SIGN_BIT).
    """
    qmin, qmax = out.range

    def q(f: float) -> int:
        return out.zp + int(round_away(np.float32(f) / out.s))

    if activation in ("NONE", None):
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise UnsupportedOpError(f"fused activation {activation!r} has no integer clamp; "
                             "supported: NONE, RELU, RELU6, RELU_N1_TO_1")


class Multiplier:
    """A real multiplier as TFLite's ``QuantizeMultiplier`` (Q0.31 and a power of two), and its
    ``MultiplyByQuantizedMultiplier`` in the build's rounding (double: gemmlowp's two roundings,
    TFLite's default; single: ``TFLITE_SINGLE_ROUNDING``)."""

    def __init__(self, real: np.ndarray | float, mode: str = "tflite_double") -> None:
        self.single = mode == "tflite_single"
        self.m, self.shift = quantize_multiplier(np.asarray(real, np.float64),
                                                 single_rounding=self.single)
        self.overflows = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``MultiplyByQuantizedMultiplier(x)`` on int32 values (held in int64)."""
        fn = multiply_single if self.single else multiply_double
        y, over = fn(x, self.m, self.shift)
        self.overflows += over
        return y


def requant_mode(requant: str) -> str:
    """The TFLite rounding build a unit's ``requant`` names (``tflite_single``, else double)."""
    return "tflite_single" if requant == "tflite_single" else "tflite_double"


class TflKernel:
    """Base of the TFLite-semantics kernels. Subclasses set ``opcode`` and implement
    ``__call__``; ``events`` counts what the run should report (output saturations,
    requantization overflows, accumulator saturations)."""

    opcode: ClassVar[str] = ""
    #: How many of the operator's leading inputs ``__call__`` takes (None: all of them); the
    #: rest (weights, shapes, paddings, axes) were read when the kernel was built.
    arity: ClassVar[int | None] = 1

    def __init__(self) -> None:
        self.events: dict[str, int] = {}

    def count(self, kind: str, n: int) -> None:
        if n:
            self.events[kind] = self.events.get(kind, 0) + int(n)

    def __call__(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def clamp(self, v: np.ndarray, lo: int, hi: int, out: QParams) -> np.ndarray:
        """Clamps to ``[lo, hi]`` and casts to ``out``'s type; counts the values beyond the
        type's range as saturations, except at the bound the zero point sits on (a ReLU's
        floor: :func:`socsim.kernels.dtypes.count_saturated`)."""
        tlo, thi = out.range
        self.count("output_saturations", count_saturated(v < tlo, out.zp, tlo)
                   + count_saturated(v > thi, out.zp, thi))
        return np.clip(v, lo, hi).astype(out.dtype)


Builder = Callable[..., TflKernel]
_BUILDERS: dict[str, Builder] = {}


def register(opcode: str) -> Callable[[Builder], Builder]:
    """Registers ``fn(op, tensors, requant) -> TflKernel`` for a builtin operator name.

    Raises:
        ValueError: if the name is registered twice.
    """
    def deco(fn: Builder) -> Builder:
        if opcode in _BUILDERS:
            raise ValueError(f"TFLite kernel {opcode} registered twice")
        _BUILDERS[opcode] = fn
        return fn
    return deco


def supported_opcodes() -> list[str]:
    """Every builtin operator socsim executes with TFLite semantics, sorted."""
    _load_all()
    return sorted(_BUILDERS)


def builder(opcode: str, where: str = "") -> Builder:
    """The builder of ``opcode``.

    Raises:
        UnsupportedOpError: naming the op and listing the supported ones.
    """
    _load_all()
    try:
        return _BUILDERS[opcode]
    except KeyError:
        raise UnsupportedOpError(
            f"{where}TFLite operator {opcode} has no socsim kernel; supported: "
            f"{', '.join(sorted(_BUILDERS))}",
            hint="re-export the model with supported ops, or run it timing-only") from None


def _load_all() -> None:
    from socsim.kernels.tflite import activations, binary, conv, data, pool  # noqa: F401


def qparams(t) -> QParams:
    """:class:`QParams` of a :class:`socsim.graph.tflite_read.TflTensor`."""
    return QParams(t.scale, t.zero_point, t.dtype, t.axis)


def same_qparams(a: QParams, b: QParams) -> bool:
    return (a.dtype == b.dtype and np.array_equal(a.scale, b.scale)
            and np.array_equal(a.zero_point, b.zero_point))


def as_i64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).astype(np.int64)


def saturate_acc(kernel: TflKernel, acc: np.ndarray, bits: int) -> np.ndarray:
    """Saturates exact sums to a ``bits``-wide accumulator, counting the saturated ones."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    over = np.count_nonzero((acc < lo) | (acc > hi))
    kernel.count("accumulator_saturations", over)
    return np.clip(acc, lo, hi) if over else acc
