"""Data movement and shapes: Reshape, Flatten, Transpose, Concat, Pad, Squeeze, Unsqueeze, Shape,
Size, ConstantOfShape, Slice, Gather, Cast, CastLike. Exact for every dtype, integer tensors
included."""

from __future__ import annotations

import math

import numpy as np
from onnx import helper

from socsim.kernels.registry import KernelContext, register


@register("Reshape")
def reshape(ctx: KernelContext, x: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, ...]:
    """Reshape: 0 copies the input dim (unless ``allowzero``), -1 is inferred."""
    new = [int(s) for s in shape]
    if not ctx.attr("allowzero", 0):
        new = [x.shape[i] if s == 0 else s for i, s in enumerate(new)]
    return (x.reshape(new),)


@register("Flatten")
def flatten(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Flatten to 2-D at ``axis``."""
    axis = int(ctx.attr("axis", 1))
    axis = axis + x.ndim if axis < 0 else axis
    lead = math.prod(x.shape[:axis])
    return (x.reshape(lead, -1) if x.size else x.reshape(lead, math.prod(x.shape[axis:])),)


@register("Transpose")
def transpose(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Transpose (reversed axes by default)."""
    perm = ctx.attr("perm")
    return (np.ascontiguousarray(np.transpose(x, perm)),)


@register("Concat")
def concat(ctx: KernelContext, *xs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Concat along ``axis``."""
    return (np.concatenate([x for x in xs if x is not None], axis=int(ctx.attr("axis"))),)


def _axes(ctx: KernelContext, axes: np.ndarray | None) -> list[int] | None:
    if axes is not None:
        return [int(a) for a in axes]
    a = ctx.attr("axes")
    return None if a is None else [int(v) for v in a]


@register("Squeeze")
def squeeze(ctx: KernelContext, x: np.ndarray, axes: np.ndarray | None = None
            ) -> tuple[np.ndarray, ...]:
    """Squeeze the given (or all size-1) axes."""
    ax = _axes(ctx, axes)
    return (np.squeeze(x, axis=tuple(ax) if ax is not None else None),)


@register("Unsqueeze")
def unsqueeze(ctx: KernelContext, x: np.ndarray, axes: np.ndarray | None = None
              ) -> tuple[np.ndarray, ...]:
    """Unsqueeze: insert size-1 axes at positions of the output."""
    ax = _axes(ctx, axes) or []
    rank = x.ndim + len(ax)
    shape = list(x.shape)
    for a in sorted(a % rank for a in ax):
        shape.insert(a, 1)
    return (x.reshape(shape),)


@register("Pad")
def pad(ctx: KernelContext, x: np.ndarray, pads: np.ndarray | None = None,
        constant_value: np.ndarray | None = None, axes: np.ndarray | None = None
        ) -> tuple[np.ndarray, ...]:
    """Pad: constant, reflect, edge or wrap; negative pads crop."""
    p = [int(v) for v in (pads if pads is not None else ctx.attr("pads"))]
    value = (constant_value if constant_value is not None and np.size(constant_value)
             else ctx.attr("value", 0))
    mode = ctx.attr("mode", "constant")
    ax = [int(a) % x.ndim for a in axes] if axes is not None else list(range(x.ndim))
    k = len(ax)
    width = [(0, 0)] * x.ndim
    for i, a in enumerate(ax):
        width[a] = (p[i], p[i + k])
    crop = tuple(slice(max(0, -b), x.shape[i] - max(0, -e)) for i, (b, e) in enumerate(width))
    x = x[crop]
    width = [(max(0, b), max(0, e)) for b, e in width]
    if mode == "constant":
        y = np.pad(x, width, mode="constant", constant_values=np.asarray(value).item())
    else:
        y = np.pad(x, width, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])
    return (y.astype(x.dtype, copy=False),)


@register("Shape")
def shape(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Shape, with ``start``/``end``."""
    s = np.array(x.shape, dtype=np.int64)
    start, end = ctx.attr("start", 0), ctx.attr("end", None)
    return (s[start:end],)


@register("Size")
def size(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Size: element count as an int64 scalar."""
    return (np.array(x.size, dtype=np.int64),)


@register("ConstantOfShape")
def constant_of_shape(ctx: KernelContext, shape_: np.ndarray) -> tuple[np.ndarray, ...]:
    """ConstantOfShape: ``value`` (a one-element tensor; default float32 0) of the given shape."""
    value = ctx.attr("value")
    value = np.zeros(1, dtype=np.float32) if value is None else np.asarray(value)
    return (np.full([int(d) for d in shape_], value.reshape(-1)[0], dtype=value.dtype),)


@register("Slice")
def slice_(ctx: KernelContext, x: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           axes: np.ndarray | None = None, steps: np.ndarray | None = None
           ) -> tuple[np.ndarray, ...]:
    """Slice (opset 10+)."""
    ax = [int(a) % x.ndim for a in axes] if axes is not None else list(range(len(starts)))
    st = [int(s) for s in steps] if steps is not None else [1] * len(ax)
    idx = [slice(None)] * x.ndim
    for a, b, e, s in zip(ax, starts, ends, st):
        idx[a] = slice(*slice(int(b), int(e), s).indices(x.shape[a]))
    return (x[tuple(idx)],)


@register("Gather")
def gather(ctx: KernelContext, x: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gather along ``axis``."""
    return (np.take(x, indices.astype(np.int64), axis=int(ctx.attr("axis", 0))),)


@register("Cast")
def cast(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cast to the ``to`` element type."""
    return (x.astype(helper.tensor_dtype_to_np_dtype(int(ctx.attr("to")))),)


@register("CastLike")
def cast_like(ctx: KernelContext, x: np.ndarray, like: np.ndarray) -> tuple[np.ndarray, ...]:
    """CastLike: cast ``x`` to the element type of ``like``."""
    return (x.astype(like.dtype),)
