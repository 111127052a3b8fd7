"""Reductions and normalizations: Softmax, LayerNormalization, ReduceMean/Sum/Max/Min."""

from __future__ import annotations

import numpy as np

from socsim.kernels import _mlas, _mlas_softmax
from socsim.kernels.arithmetic import FloatKernels
from socsim.kernels.registry import KernelContext, register


@register("Softmax")
def softmax(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Softmax along ``axis`` (opset 13: one axis; earlier: flattened from ``axis``).

    float32 is onnxruntime's MLAS kernel, bit-exact for the target's float kernel family
    (``ctx.arithmetic.float_kernels``, :mod:`socsim.kernels._mlas_softmax`); other float types
    are evaluated in float64 and rounded once.
    """
    kernels = ctx.arithmetic.float_kernels
    axis = int(ctx.attr("axis", -1 if ctx.opset >= 13 else 1))
    if ctx.opset < 13:
        axis %= max(x.ndim, 1)
        rows = x.reshape(int(np.prod(x.shape[:axis])), -1) if x.size else x.reshape(0, 0)
        return (_softmax_rows(rows, kernels).reshape(x.shape),)
    if x.dtype == np.float32:
        return (_mlas_softmax.softmax(x, axis, kernels),)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    return ((e / e.sum(axis=axis, keepdims=True)).astype(x.dtype),)


def _softmax_rows(x: np.ndarray, kernels: FloatKernels) -> np.ndarray:
    if x.dtype == np.float32:
        return _mlas_softmax.softmax_rows(x, kernels)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)


@register("LayerNormalization")
def layer_normalization(ctx: KernelContext, x: np.ndarray, scale: np.ndarray,
                        bias: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """LayerNormalization over the axes from ``axis``, bit-exact to onnxruntime's float kernel
    (:func:`socsim.kernels._mlas.layer_norm`).

    Also returns the mean and ``1 / std``. float32 (and float16, computed in float32) gives the
    bits of onnxruntime's float kernel; both MLAS families give these bits. float64 is
    evaluated in float64: two-pass mean and variance, then ``(x - mean) / sqrt(var + eps)``.
    """
    axis = int(ctx.attr("axis", -1)) % x.ndim
    eps = float(ctx.attr("epsilon", 1e-5))
    rows = int(np.prod(x.shape[:axis]))
    stat_shape = x.shape[:axis] + (1,) * (x.ndim - axis)
    if x.dtype == np.float64:
        xr = x.reshape(rows, -1)
        mean = xr.mean(axis=1, keepdims=True)
        dev = xr - mean
        inv = 1.0 / np.sqrt((dev * dev).mean(axis=1, keepdims=True) + eps)
        y = dev * inv * scale.astype(np.float64).reshape(1, -1)
        if bias is not None:
            y = y + bias.astype(np.float64).reshape(1, -1)
        return y.reshape(x.shape), mean.reshape(stat_shape), inv.reshape(stat_shape)
    xr = x.astype(np.float32, copy=False).reshape(rows, -1)
    y, mean, inv = _mlas.layer_norm(
        xr, scale.astype(np.float32).reshape(-1),
        None if bias is None else bias.astype(np.float32).reshape(-1), eps,
        ctx.arithmetic.float_kernels)
    return (y.reshape(x.shape).astype(x.dtype), mean.reshape(stat_shape),
            inv.reshape(stat_shape))


def _reduce_axes(ctx: KernelContext, x: np.ndarray, axes: np.ndarray | None
                 ) -> tuple[int, ...] | None | bool:
    """The axes of a Reduce* node (attribute before opset 13/18, input after); ``None`` for all
    axes, ``False`` for the no-op that ``noop_with_empty_axes`` asks for."""
    ax = axes if axes is not None else ctx.attr("axes")
    if ax is None or len(ax) == 0:
        if ctx.attr("noop_with_empty_axes", 0):
            return False
        return None
    return tuple(int(a) % x.ndim for a in ax)


@register("ReduceMean")
def reduce_mean(ctx: KernelContext, x: np.ndarray, axes: np.ndarray | None = None
                ) -> tuple[np.ndarray, ...]:
    """ReduceMean (axes as attribute before opset 18, input after), summed in float64."""
    ax = _reduce_axes(ctx, x, axes)
    if ax is False:
        return (x,)
    keep = bool(ctx.attr("keepdims", 1))
    return (x.mean(axis=ax, keepdims=keep, dtype=np.float64).astype(x.dtype),)


@register("ReduceSum")
def reduce_sum(ctx: KernelContext, x: np.ndarray, axes: np.ndarray | None = None
               ) -> tuple[np.ndarray, ...]:
    """ReduceSum (axes as input from opset 13), floats summed in float64, integers exactly."""
    ax = _reduce_axes(ctx, x, axes)
    if ax is False:
        return (x,)
    keep = bool(ctx.attr("keepdims", 1))
    acc = np.float64 if x.dtype.kind == "f" else None
    return (x.sum(axis=ax, keepdims=keep, dtype=acc).astype(x.dtype),)


def _reduce_extreme(fn, empty: str):
    def kernel(ctx: KernelContext, x: np.ndarray, axes: np.ndarray | None = None
               ) -> tuple[np.ndarray, ...]:
        ax = _reduce_axes(ctx, x, axes)
        if ax is False:
            return (x,)
        keep = bool(ctx.attr("keepdims", 1))
        if x.size == 0:
            # The identity of the reduction: -inf for max, +inf for min (the type's limit).
            shape = [1 if (ax is None or i in ax) else d for i, d in enumerate(x.shape)]
            if not keep:
                shape = [d for i, d in enumerate(x.shape) if not (ax is None or i in ax)]
            info = np.finfo(x.dtype) if x.dtype.kind == "f" else np.iinfo(x.dtype)
            fill = {"max": -np.inf if x.dtype.kind == "f" else info.min,
                    "min": np.inf if x.dtype.kind == "f" else info.max}[empty]
            return (np.full(shape, fill, dtype=x.dtype),)
        return (fn(x, axis=ax, keepdims=keep),)

    kernel.__doc__ = f"Reduce{empty.capitalize()} (axes as input from opset 18)."
    return kernel


register("ReduceMax")(_reduce_extreme(np.max, "max"))
register("ReduceMin")(_reduce_extreme(np.min, "min"))
