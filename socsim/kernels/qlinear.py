"""onnxruntime's com.microsoft quantized operators (QOperator form), bit-exact to its CPU kernels.

These kernels follow onnxruntime's arithmetic, which is float32 inside (scale ratios, fused
multiply-adds, lookup tables), not fixed point; the unit's requantization mode does not apply
to them. Integer sums (global average pool) are exact.
"""

from __future__ import annotations

import math

import numpy as np

from socsim.kernels import _jit
from socsim.kernels._common import requantize_acc
from socsim.kernels._gemm import conv_pads
from socsim.kernels.dtypes import (
    as_int,
    count_saturated,
    elem_type_of,
    int_range,
    to_onnx_dtype,
)
from socsim.kernels.pool import average_windows, pool_geometry
from socsim.kernels.registry import MS_DOMAIN, KernelContext, register

_BOUNDS = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max)) for t in (np.uint8, np.int8)}
"""Output bounds of the 8-bit types the compiled loops take."""


def _f32(v: np.ndarray | float) -> np.float32:
    return np.float32(np.asarray(v, dtype=np.float32).reshape(-1)[0])


def _zp(v: np.ndarray | None) -> int:
    return 0 if v is None else int(as_int(v, np.int64).reshape(-1)[0])


def _fma32(a: np.ndarray, b: np.ndarray | np.float32, c: np.ndarray | np.float32) -> np.ndarray:
    """float32 ``fma(a, b, c)``: exact in float64 for the 8/16-bit operands used here."""
    p = np.multiply(a, np.float64(b), dtype=np.float64)
    if np.broadcast_shapes(p.shape, np.shape(c)) == p.shape:
        np.add(p, c, out=p, dtype=np.float64)
    else:
        p = np.add(p, c, dtype=np.float64)
    return p.astype(np.float32)


def _as_f32(a: np.ndarray) -> np.ndarray:
    """Integers as float32 (numpy integers directly; ml_dtypes through int32)."""
    return a.astype(np.float32) if a.dtype.kind in "iu" else as_int(a).astype(np.float32)


def _saturate(ctx: KernelContext, v: np.ndarray, elem: int, zero_point: int) -> np.ndarray:
    r = int_range(elem)
    ctx.count("output_saturations", count_saturated(v < r.lo, zero_point, r.lo)
              + count_saturated(v > r.hi, zero_point, r.hi))
    return to_onnx_dtype(np.clip(v, r.lo, r.hi), elem)


def _add_ratios(a_scale: np.ndarray, a_zero_point: np.ndarray | None, b_scale: np.ndarray,
                b_zero_point: np.ndarray | None, c_scale: np.ndarray,
                c_zero_point: np.ndarray | None
                ) -> tuple[np.float32, np.float32, np.float32, int]:
    """``(ra, rb, fixed, zc)`` of QLinearAdd, in float32 as MLAS computes them."""
    sc = _f32(c_scale)
    ra, rb = _f32(a_scale) / sc, _f32(b_scale) / sc
    za, zb, zc = _zp(a_zero_point), _zp(b_zero_point), _zp(c_zero_point)
    fixed = np.float32(zc) - np.float32(ra * np.float32(za) + rb * np.float32(zb))
    return ra, rb, fixed, zc


@register("QLinearAdd", MS_DOMAIN)
def qlinear_add(ctx: KernelContext, a: np.ndarray, a_scale: np.ndarray,
                a_zero_point: np.ndarray | None, b: np.ndarray, b_scale: np.ndarray,
                b_zero_point: np.ndarray | None, c_scale: np.ndarray,
                c_zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """QLinearAdd as MLAS's AVX2 kernel computes it: ``fma(a, ra, fma(b, rb, fixed))``,
    ``ra = sa / sc``, ``rb = sb / sc``, ``fixed = zc - (ra * za + rb * zb)`` in float32.

    Same-shape 8-bit operands take one compiled pass (:func:`socsim.kernels._jit.
    qlinear_add_into`) with the same float64 operations as the numpy code below.
    """
    ra, rb, fixed, zc = ctx.cached("ratios", lambda: _add_ratios(
        a_scale, a_zero_point, b_scale, b_zero_point, c_scale, c_zero_point), 1, 2, 4, 5, 6, 7)
    if a.shape == b.shape and a.dtype == b.dtype and a.dtype in _BOUNDS:
        lo, hi = _BOUNDS[a.dtype]
        out = np.empty(a.shape, a.dtype)
        # Strided operands (a planned convolution's channels-last output) are copied first:
        # a flat pass over contiguous operands is faster than a strided one, copy included.
        ctx.count("output_saturations", _jit.qlinear_add_into(
            np.ascontiguousarray(a).reshape(-1), ra, np.ascontiguousarray(b).reshape(-1), rb,
            fixed, zc, lo, hi, out.reshape(-1)))
        return (out,)
    af, bf = _as_f32(a), _as_f32(b)
    if a.size == 1 and b.size != 1:
        fixed = np.float32(fixed + af.reshape(-1)[0] * ra)
        v = _fma32(bf, rb, fixed)
        v = np.broadcast_to(v, np.broadcast_shapes(a.shape, b.shape))
    elif b.size == 1 and a.size != 1:
        fixed = np.float32(fixed + bf.reshape(-1)[0] * rb)
        v = _fma32(af, ra, fixed)
        v = np.broadcast_to(v, np.broadcast_shapes(a.shape, b.shape))
    else:
        v = _fma32(af, ra, _fma32(bf, rb, fixed))
    elem = elem_type_of(a)
    # Integral float32 compares and clamps as its int64 copy would.
    return (_saturate(ctx, np.rint(v), elem, zc),)


@register("QLinearMul", MS_DOMAIN)
def qlinear_mul(ctx: KernelContext, a: np.ndarray, a_scale: np.ndarray,
                a_zero_point: np.ndarray | None, b: np.ndarray, b_scale: np.ndarray,
                b_zero_point: np.ndarray | None, c_scale: np.ndarray,
                c_zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """QLinearMul: ``(a - za) * (b - zb) * (sa * sb / sc)`` in float32, rounded, plus ``zc``."""
    scale = _f32(a_scale) * _f32(b_scale) / _f32(c_scale)
    prod = ((as_int(a, np.int64) - _zp(a_zero_point)) * (as_int(b, np.int64) - _zp(b_zero_point)))
    v = np.rint(prod.astype(np.float32) * scale) + np.float32(_zp(c_zero_point))
    return (_saturate(ctx, v.astype(np.int64), elem_type_of(a), _zp(c_zero_point)),)


def _dequant(x: np.ndarray, scale: np.float32, zp: int) -> np.ndarray:
    return scale * (as_int(x, np.int32) - zp).astype(np.float32)


def _quant(ctx: KernelContext, y: np.ndarray, scale: np.float32, zp: int, elem: int
           ) -> np.ndarray:
    return _saturate(ctx, (np.rint(y / scale) + np.float32(zp)).astype(np.int64), elem, zp)


def _table(ctx: KernelContext, x: np.ndarray, fn, x_scale, x_zp, y_scale, y_zp
           ) -> np.ndarray:
    """Applies ``fn`` through a 256-entry table: dequantize, ``fn`` in float32, quantize."""
    elem = elem_type_of(x)
    r = int_range(elem)
    grid = np.arange(r.lo, r.hi + 1)
    table = _quant(ctx, fn(_dequant(grid, _f32(x_scale), _zp(x_zp))), _f32(y_scale),
                   _zp(y_zp), elem)
    return table[as_int(x, np.int64) - r.lo]


@register("QLinearSigmoid", MS_DOMAIN)
def qlinear_sigmoid(ctx: KernelContext, x: np.ndarray, x_scale: np.ndarray,
                    x_zero_point: np.ndarray | None, y_scale: np.ndarray,
                    y_zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """QLinearSigmoid through a lookup table."""
    def fn(v: np.ndarray) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-v.astype(np.float64)))).astype(np.float32)
    return (_table(ctx, x, fn, x_scale, x_zero_point, y_scale, y_zero_point),)


@register("QLinearLeakyRelu", MS_DOMAIN)
def qlinear_leaky_relu(ctx: KernelContext, x: np.ndarray, x_scale: np.ndarray,
                       x_zero_point: np.ndarray | None, y_scale: np.ndarray,
                       y_zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """QLinearLeakyRelu through a lookup table."""
    alpha = np.float32(ctx.attr("alpha", 0.01))
    return (_table(ctx, x, lambda v: np.where(v >= 0, v, v * alpha), x_scale, x_zero_point,
                   y_scale, y_zero_point),)


@register("QLinearConcat", MS_DOMAIN)
def qlinear_concat(ctx: KernelContext, y_scale: np.ndarray, y_zero_point: np.ndarray,
                   *groups: np.ndarray) -> tuple[np.ndarray, ...]:
    """QLinearConcat: inputs come as (tensor, scale, zero point) triples; each is requantized
    to the output's scale through a table unless it already has it."""
    ys, yz = _f32(y_scale), _zp(y_zero_point)
    parts = []
    for i in range(0, len(groups), 3):
        x, s, z = groups[i], groups[i + 1], groups[i + 2]
        if _f32(s) == ys and _zp(z) == yz:
            parts.append(x)
        else:
            parts.append(_table(ctx, x, lambda v: v, s, z, y_scale, y_zero_point))
    return (np.concatenate(parts, axis=int(ctx.attr("axis"))),)


def _average_params(x_scale: np.ndarray, x_zero_point: np.ndarray | None, y_scale: np.ndarray,
                    y_zero_point: np.ndarray | None, size: int
                    ) -> tuple[np.ndarray, np.float64, int, int]:
    """``(scale, real, x_zp, y_zp)`` of a global average over ``size`` values: the float32
    scale ``x_s / (y_s * size)`` as MLAS computes it (a 1-vector) and its float64 value."""
    scale = np.float32(_f32(x_scale) / (_f32(y_scale) * np.float32(size)))
    real = np.float64(_f32(x_scale)) / (np.float64(_f32(y_scale)) * size)
    return np.full(1, scale), real, _zp(x_zero_point), _zp(y_zero_point)


def _compiled_average(ctx: KernelContext, x: np.ndarray, y_zero_point: np.ndarray | None,
                      axes: tuple[int, ...], x_zp: int) -> bool:
    """True when the compiled path gives requantize_acc's bits: 8-bit, ``onnx_rne``, the
    averaged axes last, and no sum able to saturate the accumulator."""
    bounds = _BOUNDS.get(x.dtype)
    return (bounds is not None and ctx.arithmetic.requant == "onnx_rne"
            and axes == tuple(range(x.ndim - len(axes), x.ndim))
            and (y_zero_point is None or y_zero_point.dtype == x.dtype)
            and max(bounds[1] - x_zp, x_zp - bounds[0]) * math.prod(x.shape[a] for a in axes)
            <= ctx.arithmetic.acc_max)


def _global_average(ctx: KernelContext, x: np.ndarray, x_scale: np.ndarray,
                    x_zero_point: np.ndarray | None, y_scale: np.ndarray,
                    y_zero_point: np.ndarray | None, axes: tuple[int, ...]) -> np.ndarray:
    size = math.prod(x.shape[a] for a in axes)
    scale, real, x_zp, y_zp = ctx.cached(("scale", size), lambda: _average_params(
        x_scale, x_zero_point, y_scale, y_zero_point, size), 1, 2, 3, 4)
    if ctx.cached(("compiled", x.shape, x.dtype, axes),
                  lambda: _compiled_average(ctx, x, y_zero_point, axes, x_zp), 2, 4):
        # int32 sums, then the compiled onnx_rne loop: the operations of requantize_acc for
        # a float32 scalar scale.
        acc = x.reshape(-1, size).sum(axis=1, dtype=np.int32, keepdims=True)
        if x_zp:
            acc -= np.int32(x_zp * size)
        lo, hi = _BOUNDS[x.dtype]
        q = np.empty(x.shape[:x.ndim - len(axes)] + (1,) * len(axes), x.dtype)
        ctx.count("output_saturations", _jit.requantize_rows(acc, scale, y_zp, lo, hi,
                                                             q.reshape(-1, 1)))
        return q
    xi = x if x.dtype.kind in "iu" else as_int(x, np.int64)
    acc = xi.sum(axis=axes, keepdims=True, dtype=np.int64) - x_zp * size
    zp = y_zero_point if y_zero_point is not None else np.zeros((), dtype=x.dtype)
    return requantize_acc(ctx, acc.astype(np.float64), scale[0], real, zp, elem_type_of(x))


@register("QLinearGlobalAveragePool", MS_DOMAIN)
def qlinear_global_average_pool(ctx: KernelContext, x: np.ndarray, x_scale: np.ndarray,
                                x_zero_point: np.ndarray | None, y_scale: np.ndarray,
                                y_zero_point: np.ndarray | None = None
                                ) -> tuple[np.ndarray, ...]:
    """QLinearGlobalAveragePool: exact integer sums, requantized with
    ``x_s / (y_s * image_size)`` (float32) as MLAS does."""
    last = bool(ctx.attr("channels_last", 0))
    axes = tuple(range(1, x.ndim - 1)) if last else tuple(range(2, x.ndim))
    return (_global_average(ctx, x, x_scale, x_zero_point, y_scale, y_zero_point, axes),)


def _pool_geometry(ctx: KernelContext, x: np.ndarray) -> tuple:
    """:func:`pool_geometry` and whether the one window is the whole unpadded image."""
    kernel, strides, dil, pads, out = pool_geometry(ctx, x)
    whole = (list(kernel) == list(x.shape[2:]) and not any(pads) and all(d == 1 for d in dil)
             and all(o == 1 for o in out))
    return kernel, strides, dil, pads, out, whole


@register("QLinearAveragePool", MS_DOMAIN)
def qlinear_average_pool(ctx: KernelContext, x: np.ndarray, x_scale: np.ndarray,
                         x_zero_point: np.ndarray | None, y_scale: np.ndarray,
                         y_zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """QLinearAveragePool as onnxruntime computes it.

    A window that covers the whole unpadded image goes, as in onnxruntime, through the global
    average pool (exact integer sums, ``x_s / (y_s * size)`` in float32). Any other window is
    computed in float, as onnxruntime does: dequantize to float32, add the taps in order,
    divide by the count, then ``round(y / y_s + y_zp)``.
    """
    last = bool(ctx.attr("channels_last", 0))
    if last:
        x = np.moveaxis(x, -1, 1)
    kernel, strides, dil, pads, out, whole = ctx.cached(("geometry", x.shape),
                                                        lambda: _pool_geometry(ctx, x))
    if whole:
        q = _global_average(ctx, x, x_scale, x_zero_point, y_scale, y_zero_point,
                            tuple(range(2, x.ndim)))
    else:
        xf = _dequant(x, _f32(x_scale), _zp(x_zero_point))
        explicit = conv_pads(xf.shape[2:], kernel, strides, dil, ctx.attr("pads"),
                             ctx.attr("auto_pad", "NOTSET"))
        y = average_windows(xf, kernel, strides, dil, pads, out,
                            bool(ctx.attr("count_include_pad", 0)), explicit).astype(np.float32)
        v = np.rint(y / _f32(y_scale) + np.float32(_zp(y_zero_point)))
        q = _saturate(ctx, v.astype(np.int64), elem_type_of(x), _zp(y_zero_point))
    if last:
        q = np.moveaxis(q, 1, -1)
    return (q,)


def _softmax_table(x_scale: np.float32, reduce_len: int) -> np.ndarray:
    # float32 table: exp((i - 255 + shift) * x_scale), shift keeping sum(exp) below FLT_MAX.
    fmax = np.float32(np.finfo(np.float32).max) / np.float32(reduce_len)
    bit_shift = max(0.0, float(np.log(np.float64(fmax))) - 5.0) / float(x_scale)
    i = np.arange(256, dtype=np.float64)
    return np.exp((i - 255.0 + bit_shift) * float(x_scale)).astype(np.float32)


@register("QLinearSoftmax", MS_DOMAIN)
def qlinear_softmax(ctx: KernelContext, x: np.ndarray, x_scale: np.ndarray,
                    x_zero_point: np.ndarray | None, y_scale: np.ndarray,
                    y_zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """QLinearSoftmax as onnxruntime's CPU kernel: a float32 exp table indexed by
    ``x - max(x) + 255``, a float32 sum in element order, then
    ``round(table * floor(1 / y_s) / sum) + y_zp``."""
    opset = int(ctx.attr("opset", 13))
    axis = int(ctx.attr("axis", -1 if opset >= 13 else 1)) % x.ndim
    signed = x.dtype == np.int8
    if opset < 13:
        xi = as_int(x, np.int64).reshape(int(np.prod(x.shape[:axis])), -1)
    else:
        xi = np.moveaxis(as_int(x, np.int64), axis, -1)
    d = xi.shape[-1]
    table = ctx.cached("table", lambda: _softmax_table(_f32(x_scale), d), 1)
    vt = table[xi - xi.max(axis=-1, keepdims=True) + 255]
    vsum = np.zeros(vt.shape[:-1], dtype=np.float32)
    for j in range(d):  # float additions in element order, as the C++ loop
        vsum += vt[..., j]
    inv = np.float32(np.floor(np.float32(1.0) / _f32(y_scale)))
    q = np.rint((vt * inv) / vsum[..., None]).astype(np.int64) + _zp(y_zero_point)
    q = np.minimum(q, 255)
    y = ((q + 128) % 256 - 128).astype(np.int8) if signed else q.astype(np.uint8)
    if opset < 13:
        return (y.reshape(x.shape),)
    return (np.moveaxis(y, -1, axis),)
