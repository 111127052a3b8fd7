"""A unit's integer arithmetic: accumulator width and requantization mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RequantMode = Literal["onnx_rne", "tflite_double", "tflite_single"]
REQUANT_MODES: tuple[str, ...] = ("onnx_rne", "tflite_double", "tflite_single")


@dataclass(frozen=True)
class Arithmetic:
    """How a unit adds up products and brings them back to 8 bits.

    Attributes:
        accumulator_bits: width of the saturating accumulator (2..32). The exact sum of a dot
            product plus bias is computed and then saturated to this width, which is what a
            saturating accumulator gives whenever no partial sum saturates before the last.
        requant: requantization of the accumulator to the output type: ``onnx_rne`` (float32
            scale, round half to even: ONNX and onnxruntime), ``tflite_double`` (Q0.31
            multiplier, gemmlowp SaturatingRoundingDoublingHighMul then RoundingDivideByPOT:
            TFLite's default) or ``tflite_single`` (one 64-bit multiply and a rounding right
            shift: TFLite's single-rounding build, ruy, XNNPack).
    """

    accumulator_bits: int = 32
    requant: RequantMode = "onnx_rne"

    def __post_init__(self) -> None:
        if not 2 <= self.accumulator_bits <= 32:
            raise ValueError(f"accumulator_bits must be in 2..32, got {self.accumulator_bits}")
        if self.requant not in REQUANT_MODES:
            raise ValueError(f"requant must be one of {', '.join(REQUANT_MODES)}, "
                             f"got {self.requant!r}")

    @property
    def acc_min(self) -> int:
        """Smallest accumulator value."""
        return -(1 << (self.accumulator_bits - 1))

    @property
    def acc_max(self) -> int:
        """Largest accumulator value."""
        return (1 << (self.accumulator_bits - 1)) - 1


DEFAULT = Arithmetic()
