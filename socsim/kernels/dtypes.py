"""The one range table: integer element types, their limits, and ONNX <-> numpy conversion.

int4/uint4 arrays arrive as ``ml_dtypes`` arrays (what :mod:`onnx.numpy_helper` returns); kernels
compute on plain numpy integers and convert back at the edge with :func:`to_onnx_dtype`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper


@dataclass(frozen=True)
class IntRange:
    """Limits of one integer element type.

    Attributes:
        lo: smallest representable value.
        hi: largest representable value.
        elem_type: the ONNX ``TensorProto`` element type.
    """

    lo: int
    hi: int
    elem_type: int


INT_RANGES: dict[int, IntRange] = {
    t: IntRange(lo, hi, t)
    for t, lo, hi in (
        *(((TensorProto.INT2, -2, 1), (TensorProto.UINT2, 0, 3))
          if hasattr(TensorProto, "INT2") else ()),
        (TensorProto.INT4, -8, 7),
        (TensorProto.UINT4, 0, 15),
        (TensorProto.INT8, -128, 127),
        (TensorProto.UINT8, 0, 255),
        (TensorProto.INT16, -32768, 32767),
        (TensorProto.UINT16, 0, 65535),
        (TensorProto.INT32, -(2**31), 2**31 - 1),
    )
}
"""Quantized element types by ONNX element type."""


def elem_type_of(array: np.ndarray) -> int:
    """ONNX element type of a numpy (or ml_dtypes) array."""
    return helper.np_dtype_to_tensor_dtype(array.dtype)


def int_range(elem_type: int) -> IntRange:
    """The :class:`IntRange` of an ONNX integer element type.

    Raises:
        KeyError: if ``elem_type`` is not a quantized integer type.
    """
    return INT_RANGES[elem_type]


def np_dtype(elem_type: int) -> np.dtype:
    """numpy dtype (ml_dtypes for 4-bit types) of an ONNX element type."""
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def as_int(array: np.ndarray, dtype: type = np.int32) -> np.ndarray:
    """Plain numpy integers from any integer array, including ml_dtypes int4/uint4."""
    return array.astype(dtype, copy=False)


def is_quantized(array: np.ndarray) -> bool:
    """True for the element types :data:`INT_RANGES` knows (int4 ... int32)."""
    try:
        return elem_type_of(array) in INT_RANGES
    except (KeyError, ValueError, TypeError):
        return False


def to_onnx_dtype(values: np.ndarray, elem_type: int) -> np.ndarray:
    """Casts in-range integer ``values`` to the numpy/ml_dtypes dtype of ``elem_type``."""
    return values.astype(np_dtype(elem_type))


def count_saturated(clamped: np.ndarray, zero_point: np.ndarray | int | float, bound: int) -> int:
    """How many elements of the ``clamped`` mask (values clamped to ``bound``) are saturations.

    A value clamped to the bound the output zero point sits on is not: such a range starts (or
    ends) at real 0, and what falls beyond it is the negative half a ReLU cuts off, fused into
    the integer op (Conv -> Relu -> QuantizeLinear) or implied by a calibrated range of
    ``[0, max]``. Counting it would report half of every ReLU layer as saturated. Only values
    beyond the real range the tensor can represent are saturations.
    """
    zp = np.asarray(zero_point)
    if zp.ndim == 0:
        return 0 if zp == bound else int(np.count_nonzero(clamped))
    return int(np.count_nonzero(clamped & (zp != bound)))
