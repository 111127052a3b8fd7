"""A target's arithmetic: accumulator width, dot-product form, requantization, float kernels.

socsim's arithmetic depends on the target it simulates, never on the machine it runs on. A
target is named by an :class:`Arithmetic`: a unit's ``arithmetic`` block in a device file, or
``arithmetic="onnxruntime"`` (see :mod:`socsim.kernels.host`), which names the kernels the
installed onnxruntime picks on this host from its CPU features, as one target among others.

:class:`Arithmetic` is the one definition of the fields, their types, defaults and
descriptions (``metadata["description"]``); the device files' ``arithmetic`` block
(:class:`socsim.config.units.base.ArithmeticSpec`) is built from these fields (except those
with ``metadata["device_file"] = False``, which a unit kind's arithmetic hook sets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

RequantMode = Literal["onnx_rne", "tflite_double", "tflite_single"]
REQUANT_MODES: tuple[str, ...] = ("onnx_rne", "tflite_double", "tflite_single")

DotMode = Literal["exact", "u8s8_pairs_int16"]
DOT_MODES: tuple[str, ...] = ("exact", "u8s8_pairs_int16")

FloatKernels = Literal["mlas_avx512f", "mlas_fma3"]
FLOAT_KERNELS: tuple[str, ...] = ("mlas_avx512f", "mlas_fma3")


class IntegerDot(Protocol):
    """A target's own integer dot product, replacing the exact sums of Conv and MatMul.

    A unit kind whose products are not exact by design (a compute-in-memory unit's partial
    sums quantized by its ADCs: :class:`socsim.kernels.cim.CimDot`) returns, from its
    ``arithmetic`` hook, an :class:`Arithmetic` whose ``integer_dot`` is one. Both methods
    return int64 sums of ``(x - x_zero_point) * (w - w_zero_point)``.
    """

    def matmul(self, a: np.ndarray, a_zero_point: Any, b: np.ndarray, b_zero_point: Any
               ) -> np.ndarray:
        """``(..., K) @ (K, N)`` or batched ``(..., K, N)`` (b's zero points scalar or per
        column)."""

    def conv(self, x: np.ndarray, x_zero_point: Any, w: np.ndarray, w_zero_point: Any,
             group: int, strides: list[int], dilations: list[int], pads: list[int]
             ) -> np.ndarray:
        """An ``(N, C, ...)`` by ``(M, C/group, ...)`` convolution with explicit pads."""


@dataclass(frozen=True)
class Arithmetic:
    """How a target adds up products, brings them back to 8 bits, and orders float sums.

    Attributes:
        accumulator_bits: width of the saturating accumulator (2..32). The exact sum of a dot
            product plus bias is computed and then saturated to this width, which is what a
            saturating accumulator gives whenever no partial sum saturates before the last.
        requant: requantization of the accumulator to the output type: ``onnx_rne`` (float32
            scale, round half to even: ONNX and onnxruntime), ``tflite_double`` (Q0.31
            multiplier, gemmlowp SaturatingRoundingDoublingHighMul then RoundingDivideByPOT:
            TFLite's default) or ``tflite_single`` (one 64-bit multiply and a rounding right
            shift: TFLite's single-rounding build, ruy, XNNPack).
        dot: how an 8-bit dot product's products are added before the accumulator:
            ``exact`` (every product widened to 32 bits: Arm SDOT/UDOT/I8MM, x86 VNNI, AMX,
            Ethos-U, HiFi) or ``u8s8_pairs_int16`` (x86 VPMADDUBSW: an unsigned 8-bit and a
            signed 8-bit operand, adjacent products added pairwise into int16 with
            saturation, as MLAS's AVX2 and AVX-512BW U8S8 kernels do; see docs/arithmetic.md).
        float_kernels: the float32 kernel family whose summation order is followed where the
            order changes the bits (Softmax, Gelu/Erf, LayerNormalization, MatMul):
            ``mlas_avx512f`` (16 lanes) or ``mlas_fma3`` (MLAS's AVX2/FMA3 kernels, 8 lanes).
        integer_dot: the target's own integer dot product (:class:`IntegerDot`) for Conv,
            ConvInteger, QLinearConv, MatMulInteger, QLinearMatMul and QGemm; None: exact sums
            as ``dot`` says. Not in device files: a unit kind's arithmetic hook sets it.
    """

    accumulator_bits: int = field(default=32, metadata={
        "description": "Accumulator width; results saturate at this width."})
    requant: RequantMode = field(default="onnx_rne", metadata={
        "description": "Requantization: float scale + round-half-even (ONNX), or the "
        "fixed-point multiplier + shift of TFLite (double or single rounding)."})
    dot: DotMode = field(default="exact", metadata={
        "description": "How 8-bit products are added before the accumulator: exact "
        "(Arm SDOT/I8MM, x86 VNNI, Ethos-U, HiFi) or u8s8_pairs_int16 (x86 VPMADDUBSW: adjacent "
        "u8 x s8 products summed in int16 with saturation, MLAS's AVX2 / AVX-512BW kernels)."})
    float_kernels: FloatKernels = field(default="mlas_avx512f", metadata={
        "description": "Float32 kernels whose summation order is followed (Softmax, Gelu, "
        "LayerNormalization, MatMul): MLAS AVX-512F (16 lanes) or FMA3 (8)."})

    integer_dot: IntegerDot | None = field(default=None, metadata={
        "device_file": False,
        "description": "The target's own integer dot product (Conv, ConvInteger, QLinearConv, "
        "MatMulInteger, QLinearMatMul, QGemm) instead of exact sums; set by a unit kind's "
        "arithmetic hook (a CiM unit's ADC-quantized partial sums), not in device files."})

    def __post_init__(self) -> None:
        if not 2 <= self.accumulator_bits <= 32:
            raise ValueError(f"accumulator_bits must be in 2..32, got {self.accumulator_bits}")
        if self.requant not in REQUANT_MODES:
            raise ValueError(f"requant must be one of {', '.join(REQUANT_MODES)}, "
                             f"got {self.requant!r}")
        if self.dot not in DOT_MODES:
            raise ValueError(f"dot must be one of {', '.join(DOT_MODES)}, got {self.dot!r}")
        if self.float_kernels not in FLOAT_KERNELS:
            raise ValueError(f"float_kernels must be one of {', '.join(FLOAT_KERNELS)}, "
                             f"got {self.float_kernels!r}")

    @property
    def acc_min(self) -> int:
        """Smallest accumulator value."""
        return -(1 << (self.accumulator_bits - 1))

    @property
    def acc_max(self) -> int:
        """Largest accumulator value."""
        return (1 << (self.accumulator_bits - 1)) - 1


DEFAULT = Arithmetic()
