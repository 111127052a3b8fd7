"""Quantization parameters and the quantize / dequantize pair every other module uses.

``q = clip(round_half_even(x / scale) + zero_point, qmin, qmax)`` and ``x' = (q - zero_point) *
scale``, with ranges from one table keyed by dtype name. Zero is always exactly representable:
a calibrated range ``[rmin, rmax]`` is first widened to include 0, so zero padding and ReLU
floors quantize without error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto

from socsim.kernels.dtypes import INT_RANGES
from socsim.kernels.quantize import quantize_to

__all__ = ["ONNX_TYPES", "QRANGES", "QParams", "dequantize", "fake_quantize", "qparams_for",
           "quantize", "weight_qparams"]

ONNX_TYPES: dict[str, int] = {
    "int4": TensorProto.INT4, "uint4": TensorProto.UINT4, "int8": TensorProto.INT8,
    "uint8": TensorProto.UINT8, "int16": TensorProto.INT16, "uint16": TensorProto.UINT16,
    "int32": TensorProto.INT32,
}
"""ONNX element type per dtype name."""

QRANGES: dict[str, tuple[int, int]] = {
    name: (INT_RANGES[t].lo, INT_RANGES[t].hi) for name, t in ONNX_TYPES.items()}
"""(qmin, qmax) per integer dtype name, from the kernels' one range table."""


@dataclass(frozen=True)
class QParams:
    """Scale and zero point of one tensor, per tensor (``axis is None``) or per channel.

    Attributes:
        scale: float32 scale, shape ``()`` or ``(channels,)``.
        zero_point: integer zero point, same shape as ``scale``.
        dtype: integer dtype name, a key of :data:`QRANGES`.
        axis: the channel axis for per-channel parameters, else None.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    dtype: str
    axis: int | None = None

    @property
    def qmin(self) -> int:
        """Smallest representable integer."""
        return QRANGES[self.dtype][0]

    @property
    def qmax(self) -> int:
        """Largest representable integer."""
        return QRANGES[self.dtype][1]

    def _bcast(self, a: np.ndarray, ndim: int) -> np.ndarray:
        if self.axis is None:
            return a
        shape = [1] * ndim
        shape[self.axis] = -1
        return a.reshape(shape)


def _check_dtype(dtype: str) -> None:
    if dtype not in QRANGES:
        raise ValueError(f"unknown quantized dtype {dtype!r}; valid: {', '.join(QRANGES)}")


def qparams_for(rmin: np.ndarray | float, rmax: np.ndarray | float, dtype: str, *,
                symmetric: bool, axis: int | None = None) -> QParams:
    """Scale and zero point that map ``[rmin, rmax]`` (widened to include 0) onto ``dtype``.

    Symmetric (signed dtypes): ``scale = max(|rmin|, |rmax|) / qmax``, zero point 0, so
    ``-qmin`` is never produced by rounding an in-range value. Asymmetric: ``scale = (rmax -
    rmin) / (qmax - qmin)``, ``zero_point = round_half_even(qmin - rmin / scale)``.
    A zero-width range gets scale 1 (the tensor is all zeros).

    Args:
        rmin: lower end(s) of the real range.
        rmax: upper end(s) of the real range.
        dtype: integer dtype name.
        symmetric: zero point 0 and a range symmetric about 0.
        axis: channel axis when ``rmin``/``rmax`` are per channel.

    Returns:
        The :class:`QParams`.

    Raises:
        ValueError: for an unknown dtype or a symmetric request on an unsigned dtype.
    """
    _check_dtype(dtype)
    qmin, qmax = QRANGES[dtype]
    lo = np.minimum(np.asarray(rmin, np.float64), 0.0)
    hi = np.maximum(np.asarray(rmax, np.float64), 0.0)
    if symmetric:
        if qmin == 0:
            raise ValueError(f"symmetric quantization needs a signed dtype, not {dtype!r}")
        scale = np.maximum(-lo, hi) / qmax
        zp = np.zeros_like(scale)
    else:
        scale = (hi - lo) / (qmax - qmin)
        safe = np.where(scale > 0, scale, 1.0)
        zp = np.clip(np.rint(qmin - lo / safe), qmin, qmax)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return QParams(scale, zp.astype(np.int64), dtype, axis)


def weight_qparams(w: np.ndarray, dtype: str, *, per_channel: bool, axis: int = 0,
                   symmetric: bool = True) -> QParams:
    """Min/max parameters of a weight tensor, per tensor or per channel along ``axis``.

    Args:
        w: the float weight.
        dtype: integer dtype name (``int4``, ``int8``, ``int16``).
        per_channel: one scale per slice along ``axis``.
        axis: the output-channel axis.
        symmetric: zero point 0 (the default; integer kernels expect it for weights).

    Returns:
        The :class:`QParams`.
    """
    if per_channel:
        red = tuple(i for i in range(w.ndim) if i != axis)
        return qparams_for(w.min(axis=red), w.max(axis=red), dtype, symmetric=symmetric,
                           axis=axis)
    return qparams_for(w.min(), w.max(), dtype, symmetric=symmetric)


def quantize(x: np.ndarray, qp: QParams) -> np.ndarray:
    """``clip(round_half_even(x / scale) + zero_point, qmin, qmax)`` as int64.

    The division is done in float32, as ONNX QuantizeLinear does, so the integers equal what
    onnxruntime's QuantizeLinear writes for the same float32 input.
    """
    x32 = np.asarray(x, np.float32)
    scale = np.asarray(qp._bcast(qp.scale, x32.ndim), np.float32)
    zp = qp._bcast(qp.zero_point, x32.ndim)
    return quantize_to(x32, scale, zp, ONNX_TYPES[qp.dtype], np.int64)[0]


def dequantize(q: np.ndarray, qp: QParams) -> np.ndarray:
    """``(q - zero_point) * scale`` in float32."""
    scale = qp._bcast(qp.scale, q.ndim)
    zp = qp._bcast(qp.zero_point, q.ndim)
    return ((q.astype(np.int64) - zp).astype(np.float32) * scale).astype(np.float32)


def fake_quantize(x: np.ndarray, qp: QParams) -> np.ndarray:
    """Quantize then dequantize: the float value the integer model computes with."""
    return dequantize(quantize(x, qp), qp)
