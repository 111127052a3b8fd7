"""QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear: per-tensor, per-axis and blocked.

Every integer type of :data:`socsim.kernels.dtypes.INT_RANGES` (int4 ... int16, and int32 for
dequantizing biases). Rounding is half to even, then saturation, as ONNX specifies.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from socsim.errors import UnsupportedOpError
from socsim.kernels import _jit
from socsim.kernels.dtypes import (
    INT_RANGES,
    as_int,
    count_saturated,
    elem_type_of,
    int_range,
    np_dtype,
    to_onnx_dtype,
)
from socsim.kernels.registry import MS_DOMAIN, KernelContext, register


def broadcast_param(param: np.ndarray, x_shape: tuple[int, ...], axis: int,
                    block_size: int = 0) -> np.ndarray:
    """Reshapes a scale or zero point so that it broadcasts against ``x``.

    Per tensor (one element), per axis (1-D along ``axis``) or blocked (same rank as ``x``,
    ``ceil(dim / block_size)`` along ``axis``).
    """
    if param.size == 1 and param.ndim <= 1:
        return param.reshape(())
    rank = len(x_shape)
    axis = axis % rank if rank else 0
    if block_size > 0:
        rep = np.repeat(param, block_size, axis=axis)
        return np.take(rep, np.arange(x_shape[axis]), axis=axis)
    shape = [1] * rank
    shape[axis] = param.size
    return param.reshape(shape)


def _integer_type(ctx: KernelContext, elem_type: int) -> int:
    # float8/float4 tensors would silently go through the integer path; refuse them by name.
    if elem_type not in INT_RANGES:
        raise UnsupportedOpError(
            f"{ctx.op_type} node {ctx.name!r}: element type "
            f"{TensorProto.DataType.Name(elem_type)} is not an integer type; supported: "
            + ", ".join(TensorProto.DataType.Name(t) for t in INT_RANGES))
    return elem_type


def _out_type(ctx: KernelContext, zero_point: np.ndarray | None) -> int:
    if zero_point is not None:
        return _integer_type(ctx, elem_type_of(zero_point))
    return _integer_type(ctx, int(ctx.attr("output_dtype", 0)) or TensorProto.UINT8)


def quantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | int, elem_type: int
             ) -> tuple[np.ndarray, int]:
    """``saturate(round_half_even(x / scale) + zero_point)`` as int32, and the saturation count.

    ``x / scale`` is evaluated in ``x``'s float type, as onnxruntime and the ONNX reference do.
    """
    return quantize_to(x, scale, zero_point, elem_type, np.int32)


def quantize_to(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | int, elem_type: int,
                out_dtype: np.dtype | type) -> tuple[np.ndarray, int]:
    """:func:`quantize` with the result in ``out_dtype`` (one temporary, updated in place).

    Adding the zero point before clamping is exact wherever it matters: below 2^24 (float32)
    the sum is exact, and beyond it the value is far outside every quantized range.
    """
    r = int_range(elem_type)
    out_dtype = np.dtype(out_dtype)
    if (x.dtype == np.float32 and x.flags.c_contiguous and scale.ndim == 0
            and np.ndim(zero_point) == 0 and out_dtype.kind in "iu"):
        # Per tensor, float32: one compiled pass, the same float32 operations as below.
        q = np.empty(x.shape, out_dtype)
        saturated = _jit.quantize_rows(x.reshape(-1), np.float32(scale), int(zero_point), r.lo,
                                       r.hi, q.reshape(-1))
        return q, saturated
    v = np.divide(x, scale.astype(x.dtype, copy=False))
    np.rint(v, out=v)
    zp = np.asarray(zero_point)
    if zp.ndim or zp:
        np.add(v, zp.astype(v.dtype), out=v)
    saturated = 0
    for bound, beyond in ((r.lo, np.less), (r.hi, np.greater)):
        if zp.ndim:
            saturated += count_saturated(beyond(v, bound), zp, bound)
        elif zp != bound:  # a scalar zero point on the bound: nothing to count
            saturated += int(np.count_nonzero(beyond(v, bound)))
    np.clip(v, r.lo, r.hi, out=v)
    return v.astype(out_dtype), saturated


def _quantize_params(ctx: KernelContext, shape: tuple[int, ...], scale: np.ndarray,
                     zero_point: np.ndarray | None
                     ) -> tuple[int, np.ndarray, np.ndarray | int, np.dtype]:
    """Output element type, broadcast scale and zero point, and output dtype of a Q node."""
    elem = _out_type(ctx, zero_point)
    axis, block = int(ctx.attr("axis", 1)), int(ctx.attr("block_size", 0))
    s = broadcast_param(scale, shape, axis, block)
    zp = 0 if zero_point is None else broadcast_param(as_int(zero_point), shape, axis, block)
    return elem, s, zp, np_dtype(elem)


def _per_tensor_quantize(ctx: KernelContext, scale: np.ndarray, zero_point: np.ndarray | None
                         ) -> tuple[np.float32, int, int, int, np.dtype] | None:
    """``(scale, zp, lo, hi, out_dtype)`` of a per-tensor float32 QuantizeLinear to a numpy
    integer type (what :func:`quantize_to` runs as one compiled pass), else None."""
    if scale.size != 1 or scale.ndim > 1 or (zero_point is not None and (
            zero_point.size != 1 or zero_point.ndim > 1)):
        return None
    elem, s, zp, out = _quantize_params(ctx, (), scale, zero_point)
    if s.dtype != np.float32 or out.kind not in "iu":
        return None
    r = int_range(elem)
    return np.float32(s), int(zp), r.lo, r.hi, out


@register("QuantizeLinear")
@register("QuantizeLinear", MS_DOMAIN)
def quantize_linear(ctx: KernelContext, x: np.ndarray, scale: np.ndarray,
                    zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """ONNX QuantizeLinear (opset 10-23, integer outputs)."""
    if x.dtype == np.float32 and x.flags.c_contiguous:
        fast = ctx.cached("per_tensor", lambda: _per_tensor_quantize(ctx, scale, zero_point),
                          1, 2)
        if fast is not None:  # quantize_to's compiled pass, its checks done once
            s, zp, lo, hi, out = fast
            q = np.empty(x.shape, out)
            ctx.count("output_saturations",
                      _jit.quantize_rows(x.reshape(-1), s, zp, lo, hi, q.reshape(-1)))
            return (q,)
    elem, s, zp, out = ctx.cached(("params", x.shape), lambda: _quantize_params(
        ctx, x.shape, scale, zero_point), 1, 2)
    if x.dtype != np.float64 and x.dtype != np.float32:
        x = x.astype(np.float32)
    if out.kind in "iu":
        q, sat = quantize_to(x, s, zp, elem, out)
    else:  # ml_dtypes int4/uint4: through int32
        q, sat = quantize(x, s, zp, elem)
        q = to_onnx_dtype(q, elem)
    ctx.count("output_saturations", sat)
    return (q,)


_DEQUANTIZE_FAST = frozenset(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16))
"""Activation types of DequantizeLinear's compiled per-tensor pass."""


def _per_tensor_dequantize(ctx: KernelContext, scale: np.ndarray, zero_point: np.ndarray | None
                           ) -> tuple[np.ndarray, int] | None:
    """``(scale, zp)`` of a per-tensor float32 DequantizeLinear (the compiled pass), else
    None."""
    out_dtype = int(ctx.attr("output_dtype", 0))
    if (scale.dtype != np.float32 or scale.size != 1 or scale.ndim > 1
            or (out_dtype and np_dtype(out_dtype) != np.float32)
            or (zero_point is not None and zero_point.size != 1)):
        return None
    zp = 0 if zero_point is None else int(as_int(zero_point, np.int64).reshape(-1)[0])
    return scale.reshape(()), zp


@register("DequantizeLinear")
@register("DequantizeLinear", MS_DOMAIN)
def dequantize_linear(ctx: KernelContext, x: np.ndarray, scale: np.ndarray,
                      zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """ONNX DequantizeLinear: ``(x - zero_point) * scale`` in the scale's float type."""
    if x.dtype in _DEQUANTIZE_FAST and x.ndim <= 4:
        fast = ctx.cached("per_tensor", lambda: _per_tensor_dequantize(ctx, scale, zero_point),
                          1, 2)
        if fast is not None:  # the compiled pass below, its checks done once
            s, zp = fast
            y = np.empty(x.shape, np.float32)
            pad = (1,) * (4 - x.ndim)
            _jit.dequantize_into(x.reshape(pad + x.shape), zp, s, y.reshape(pad + x.shape))
            return (y,)
    _integer_type(ctx, elem_type_of(x))
    axis, block = int(ctx.attr("axis", 1)), int(ctx.attr("block_size", 0))
    s = broadcast_param(scale, x.shape, axis, block)
    out_dtype = s.dtype
    if int(ctx.attr("output_dtype", 0)):
        out_dtype = np_dtype(int(ctx.attr("output_dtype")))
    if (out_dtype == s.dtype and s.dtype in (np.float32, np.float64) and x.dtype.kind in "iu"
            and x.dtype.itemsize <= 2):
        # 8/16-bit integers and their difference are exact in float32: convert, then
        # subtract and scale in place.
        # In C order whatever x's layout: float consumers (im2col) then reshape for free.
        if s.dtype == np.float32 and s.ndim == 0 and x.ndim <= 4 and (
                zero_point is None or zero_point.size == 1):
            # Per tensor: one compiled pass, the same float32 operations as below.
            y = np.empty(x.shape, np.float32)
            zp = 0 if zero_point is None else int(as_int(zero_point, np.int64).reshape(-1)[0])
            pad = (1,) * (4 - x.ndim)
            _jit.dequantize_into(x.reshape(pad + x.shape), zp, s, y.reshape(pad + x.shape))
            return (y,)
        y = x.astype(s.dtype, order="C")
        if zero_point is not None:
            zp = broadcast_param(as_int(zero_point, np.int64), x.shape, axis, block)
            if zp.ndim or zp:
                np.subtract(y, zp.astype(s.dtype), out=y)
        np.multiply(y, s, out=y)
        return (y,)
    xi = as_int(x, np.int64)
    if zero_point is not None:
        xi = xi - broadcast_param(as_int(zero_point, np.int64), x.shape, axis, block)
    if s.dtype == np.float16 or out_dtype == np.float16:
        y = (xi.astype(np.float32) * s.astype(np.float32)).astype(out_dtype)
    else:
        y = (xi.astype(s.dtype) * s).astype(out_dtype, copy=False)
    return (y,)


@register("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """ONNX DynamicQuantizeLinear: uint8, range widened to include zero, in float32."""
    x = x.astype(np.float32, copy=False)
    qmin, qmax = np.float32(0), np.float32(255)
    hi = np.maximum(np.float32(0), x.max() if x.size else np.float32(0))
    lo = np.minimum(np.float32(0), x.min() if x.size else np.float32(0))
    scale = np.float32((hi - lo) / (qmax - qmin))
    if scale == 0:
        zp_f = np.float32(0)
        q = np.zeros(x.shape, dtype=np.uint8)
    else:
        zp_f = np.clip(np.rint(qmin - lo / scale), qmin, qmax)
        q, sat = quantize(x, np.asarray(scale), zp_f, TensorProto.UINT8)
        ctx.count("output_saturations", sat)
        q = q.astype(np.uint8)
    return q, np.asarray(scale, dtype=np.float32), np.asarray(zp_f).astype(np.uint8)
