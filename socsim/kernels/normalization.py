"""Reductions and normalizations: Softmax, LayerNormalization, ReduceMean."""

from __future__ import annotations

import numpy as np

from socsim.kernels.registry import KernelContext, register


@register("Softmax")
def softmax(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Softmax along ``axis`` (opset 13: one axis; earlier: flattened from ``axis``)."""
    axis = int(ctx.attr("axis", -1 if ctx.opset >= 13 else 1))
    x64 = x.astype(np.float64)
    if ctx.opset < 13:
        axis %= max(x.ndim, 1)
        shape = x.shape
        x64 = x64.reshape(int(np.prod(shape[:axis])), -1)
        e = np.exp(x64 - x64.max(axis=1, keepdims=True))
        return ((e / e.sum(axis=1, keepdims=True)).reshape(shape).astype(x.dtype),)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    return ((e / e.sum(axis=axis, keepdims=True)).astype(x.dtype),)


@register("LayerNormalization")
def layer_normalization(ctx: KernelContext, x: np.ndarray, scale: np.ndarray,
                        bias: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """LayerNormalization over the axes from ``axis``; also returns mean and inverse std dev."""
    axis = int(ctx.attr("axis", -1)) % x.ndim
    eps = float(ctx.attr("epsilon", 1e-5))
    axes = tuple(range(axis, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    y = (x64 - mean) * inv * scale.astype(np.float64)
    if bias is not None:
        y = y + bias.astype(np.float64)
    stash = np.float32 if ctx.attr("stash_type", 1) == 1 else x.dtype
    return y.astype(x.dtype), mean.astype(stash), inv.astype(stash)


@register("ReduceMean")
def reduce_mean(ctx: KernelContext, x: np.ndarray, axes: np.ndarray | None = None
                ) -> tuple[np.ndarray, ...]:
    """ReduceMean (axes as attribute before opset 18, input after)."""
    ax = axes if axes is not None else ctx.attr("axes")
    keep = bool(ctx.attr("keepdims", 1))
    if ax is None or len(ax) == 0:
        if ctx.attr("noop_with_empty_axes", 0) and ax is not None:
            return (x,)
        ax_t = None
    else:
        ax_t = tuple(int(a) % x.ndim for a in ax)
    return (x.mean(axis=ax_t, keepdims=keep, dtype=np.float64).astype(x.dtype),)
