"""Helpers shared by the integer kernel families: scales, zero points, bounds, requantization."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from socsim.kernels.dtypes import as_int, elem_type_of, int_range, to_onnx_dtype
from socsim.kernels.registry import KernelContext
from socsim.kernels.requant import requantize, saturate_accumulator


def act_bound(x: np.ndarray, zero_point: np.ndarray | None) -> int:
    """Largest ``|x - zero_point|`` any value of ``x``'s integer type can give."""
    r = int_range(elem_type_of(x))
    zps = np.atleast_1d(zp_int(zero_point))
    return int(max(np.max(r.hi - zps), np.max(zps - r.lo)))


def zp_int(zero_point: np.ndarray | None) -> np.ndarray | int:
    """Zero point as int64 (0 when omitted)."""
    return 0 if zero_point is None else as_int(zero_point, np.int64)


def out_scale(x_scale: np.ndarray, w_scale: np.ndarray, y_scale: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """``(float32 x_s * w_s / y_s, float64 x_s * w_s / y_s)`` (float32 left to right, as MLAS)."""
    f32 = (x_scale.astype(np.float32) * w_scale.astype(np.float32)) / y_scale.astype(np.float32)
    f64 = (x_scale.astype(np.float64) * w_scale.astype(np.float64)) / y_scale.astype(np.float64)
    return f32.astype(np.float32), f64


_WIDE_OUTPUTS = frozenset({TensorProto.INT16, TensorProto.UINT16})
"""Output types of a 16-bit datapath, whose accumulator is 64 bits wide."""


def requantize_acc(ctx: KernelContext, acc: np.ndarray, scale: np.ndarray, real: np.ndarray,
                   y_zero_point: np.ndarray | None, elem_type: int) -> np.ndarray:
    """Saturates ``acc`` to the unit's accumulator, requantizes it in the unit's mode, counts.

    The unit's ``accumulator_bits`` is the width of its 8-bit datapath. A 16-bit output (a
    16-bit activation datapath: socsim lowers a QDQ group only when its output type is its
    input's) keeps the exact sum, as the 64-bit accumulators of TFLite's 16x8 reference
    kernels and CMSIS-NN's s16 kernels do: one product of a 16-bit ``x - x_zp`` (up to 65535)
    and a 16-bit weight already reaches 2^31, so an int32 accumulator would clip them.
    """
    if elem_type not in _WIDE_OUTPUTS:
        acc, over = saturate_accumulator(acc, ctx.arithmetic)
        ctx.count("accumulator_saturations", over)
    r = int_range(elem_type)
    q, sat, ovf = requantize(acc, scale=scale, real_scale=real, zero_point=zp_int(y_zero_point),
                             lo=r.lo, hi=r.hi, mode=ctx.arithmetic.requant)
    ctx.count("output_saturations", sat)
    ctx.count("requant_overflows", ovf)
    return to_onnx_dtype(q, elem_type)


def channel_shape(v: np.ndarray, ndim: int, axis: int = 1) -> np.ndarray:
    """Reshapes a per-channel vector to broadcast along ``axis`` of an ``ndim`` array."""
    if v.size == 1:
        return v.reshape(())
    shape = [1] * ndim
    shape[axis] = v.size
    return v.reshape(shape)
