"""Convolutions: Conv (float), ConvInteger and QLinearConv (integer, requantized)."""

from __future__ import annotations

import numpy as np

from socsim.kernels import _mlas_ops, _pairs
from socsim.kernels._common import act_bound, channel_shape, out_scale, requantize_acc, zp_int
from socsim.kernels._gemm import conv_nd, conv_pads, exact_dtype
from socsim.kernels._qconv_plan import pairs_apply, plan_qlinear_conv, run_plan
from socsim.kernels.dtypes import as_int, elem_type_of
from socsim.kernels.registry import KernelContext, register


def _geometry(ctx: KernelContext, x: np.ndarray, w: np.ndarray):
    key = ("geometry", x.shape, w.shape)
    if key not in ctx.cache:
        ctx.cache[key] = _decode_geometry(ctx, x, w)
    return ctx.cache[key]


def _decode_geometry(ctx: KernelContext, x: np.ndarray, w: np.ndarray):
    kernel = list(ctx.attr("kernel_shape") or w.shape[2:])
    n = len(kernel)
    strides = list(ctx.attr("strides") or [1] * n)
    dil = list(ctx.attr("dilations") or [1] * n)
    pads = conv_pads(x.shape[2:], kernel, strides, dil, ctx.attr("pads"),
                     ctx.attr("auto_pad", "NOTSET"))
    return strides, dil, pads, int(ctx.attr("group", 1))


@register("Conv")
def conv(ctx: KernelContext, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None
         ) -> tuple[np.ndarray, ...]:
    """Float Conv. float32 with weights computed at run time (a DequantizeLinear's output):
    onnxruntime's ``MlasConv`` order (:mod:`socsim.kernels._mlas_ops`), as onnxruntime runs
    such a conv; otherwise BLAS order (not bit-exact to any other float implementation)."""
    strides, dil, pads, group = _geometry(ctx, x, w)
    if x.dtype == w.dtype == np.float32 and not ctx.is_initializer(1):
        y = _mlas_ops.conv(x, w, b, group, strides, dil, pads)
        if y is not None:
            return (y,)
    dt = np.float64 if x.dtype == np.float64 else np.float32
    y = conv_nd(x, w, group, strides, dil, dt, pads)
    if b is not None:
        np.add(y, channel_shape(b.astype(dt), y.ndim), out=y)  # y is conv_nd's own array
    return (y.astype(x.dtype, copy=False),)


def _int_conv(ctx: KernelContext, x: np.ndarray, x_zp: np.ndarray | None, w: np.ndarray,
              w_zp: np.ndarray | None) -> np.ndarray:
    """Exact ``sum((x - x_zp) * (w - w_zp))`` as integral float64, shape (N, M, *out)."""
    strides, dil, pads, group = _geometry(ctx, x, w)
    if ctx.arithmetic.integer_dot is not None:  # the unit's own dot product (e.g. CiM ADCs)
        return ctx.arithmetic.integer_dot.conv(x, x_zp, w, w_zp, group, strides, dil,
                                               pads).astype(np.float64)

    def prep() -> tuple[np.ndarray, float]:
        wi = as_int(w, np.int64)
        if w_zp is not None:
            wi = wi - channel_shape(as_int(w_zp, np.int64), wi.ndim, 0)
        l1 = float(np.abs(wi).reshape(wi.shape[0], -1).sum(axis=1).max()) if wi.size else 0.0
        return wi.astype(np.float64), l1

    w_inputs = (3, 5) if ctx.op_type == "QLinearConv" else (1, 3)
    wf, l1 = ctx.cached("w", prep, *w_inputs)
    dt = exact_dtype(act_bound(x, x_zp) * l1) or np.float64
    xi = as_int(x, np.int32)
    xf = xi.astype(dt) - dt(zp_int(x_zp)) if x_zp is not None else xi.astype(dt)
    y = conv_nd(xf, wf, group, strides, dil, dt, pads)
    return y.astype(np.float64, copy=False)


def _conv_pairs(ctx: KernelContext, x: np.ndarray, x_zero_point: np.ndarray, w: np.ndarray,
                acc: np.ndarray) -> None:
    """Adds the saturated-pair corrections of a non-depthwise uint8 x int8 convolution."""
    strides, dil, pads, group = _geometry(ctx, x, w)
    if w.shape[1] == 1 and w.shape[0] == group and group > 1:
        return  # depthwise: MLAS's depthwise kernels add exactly
    plans = ctx.cached("pairs", lambda: _pairs.conv_pair_plans(w, group), 3)
    if any(p is not None for p in plans):
        ctx.count("pair_saturations", _pairs.conv_corrections(
            x, int(zp_int(x_zero_point)), w, group, strides, dil, pads, acc, plans))


@register("ConvInteger")
def conv_integer(ctx: KernelContext, x: np.ndarray, w: np.ndarray,
                 x_zero_point: np.ndarray | None = None, w_zero_point: np.ndarray | None = None
                 ) -> tuple[np.ndarray, ...]:
    """ConvInteger: int32 sums of zero-point-corrected products (saturated to the accumulator).

    Exact on every modelled target: onnxruntime's ConvInteger does not reach MLAS's U8S8
    kernels (checked under ``qemu-x86_64 -cpu Haswell``, tests/kernels/test_pairs.py).
    """
    acc = _int_conv(ctx, x, x_zero_point, w, w_zero_point)
    lo, hi = ctx.arithmetic.acc_min, ctx.arithmetic.acc_max
    ctx.count("accumulator_saturations", int(np.count_nonzero((acc < lo) | (acc > hi))))
    return (np.clip(acc, lo, hi).astype(np.int32),)


@register("QLinearConv")
def qlinear_conv(ctx: KernelContext, x: np.ndarray, x_scale: np.ndarray,
                 x_zero_point: np.ndarray, w: np.ndarray, w_scale: np.ndarray,
                 w_zero_point: np.ndarray, y_scale: np.ndarray, y_zero_point: np.ndarray,
                 b: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """QLinearConv: exact integer sums plus int32 bias, requantized in the unit's mode.

    Constant operands are planned once (:mod:`socsim.kernels._qconv_plan`); the plan runs
    whenever it applies, the general path below otherwise. Both give the same bits. On a
    ``u8s8_pairs_int16`` target, uint8 x int8 sums are those of saturated int16 pairs in
    onnxruntime's K order (:mod:`socsim.kernels._pairs`), except for depthwise convolutions,
    which MLAS adds exactly.
    """
    key = ("plan", x.dtype, x.ndim)
    plan = ctx.cache.get(key, False)
    if plan is False:  # first call: plan once, or remember that there is no plan
        constant = all(ctx.is_const(i) for i in range(1, 8 if b is None else 9))
        plan = plan_qlinear_conv(ctx.attrs, ctx.arithmetic, x.dtype, x_scale, x_zero_point, w,
                                 w_scale, w_zero_point, y_scale, y_zero_point, b
                                 ) if (constant and x.ndim == 4
                                       and ctx.arithmetic.integer_dot is None) else None
        if constant:
            ctx.cache[key] = plan
    if plan is not None:
        y, saturated, pairs = run_plan(plan, x)
        ctx.count("output_saturations", saturated)
        ctx.count("pair_saturations", pairs)
        return (y,)
    acc = _int_conv(ctx, x, x_zero_point, w, w_zero_point)
    if pairs_apply(ctx.arithmetic, x.dtype, w):
        _conv_pairs(ctx, x, x_zero_point, w, acc)
    if b is not None:
        acc = acc + channel_shape(as_int(b, np.int64).astype(np.float64), acc.ndim)
    scale, real = ctx.cached("scale", lambda: out_scale(x_scale, w_scale, y_scale), 1, 4, 6)
    scale = channel_shape(scale, acc.ndim)
    real = channel_shape(real, acc.ndim)
    return (requantize_acc(ctx, acc, scale, real, y_zero_point, elem_type_of(y_zero_point)),)
