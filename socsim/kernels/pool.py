"""Pooling: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (any dtype MaxPool works on).

Average pools add the window's taps one at a time in row-major order in the input's float type,
skipping padding, and divide by the count: the order onnxruntime's pooling loops use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from socsim.kernels import _mlas_ops
from socsim.kernels._gemm import conv_pads, windows
from socsim.kernels.registry import KernelContext, register


def pool_geometry(ctx: KernelContext, x: np.ndarray) -> tuple[list[int], list[int], list[int],
                                                               list[int], list[int]]:
    """``(kernel, strides, dilations, pads, out_shape)`` of a pooling node over ``x``.

    ``pads`` include any extra end padding that ``ceil_mode`` needs; windows that would start
    in the end padding are dropped, as ONNX requires.
    """
    kernel = list(ctx.attr("kernel_shape"))
    n = len(kernel)
    strides = list(ctx.attr("strides") or [1] * n)
    dil = list(ctx.attr("dilations") or [1] * n)
    spatial = x.shape[2:]
    pads = conv_pads(spatial, kernel, strides, dil, ctx.attr("pads"),
                     ctx.attr("auto_pad", "NOTSET"))
    ceil = bool(ctx.attr("ceil_mode", 0))
    out = []
    for i in range(n):
        ext = (kernel[i] - 1) * dil[i] + 1
        span = spatial[i] + pads[i] + pads[i + n] - ext
        o = (-(-span // strides[i]) if ceil else span // strides[i]) + 1
        if ceil and (o - 1) * strides[i] >= spatial[i] + pads[i]:
            o -= 1
        out.append(o)
        need = (o - 1) * strides[i] + ext - (spatial[i] + pads[i] + pads[i + n])
        if need > 0:
            pads[i + n] += need
    return kernel, strides, dil, pads, out


def _padded(x: np.ndarray, pads: Sequence[int], value: float) -> np.ndarray:
    n = len(pads) // 2
    if not any(pads):
        return x
    width = [(0, 0)] * (x.ndim - n) + [(pads[i], pads[i + n]) for i in range(n)]
    return np.pad(x, width, constant_values=value)


def _trim(v: np.ndarray, out: Sequence[int]) -> np.ndarray:
    n = len(out)
    return v[(slice(None), slice(None)) + tuple(slice(0, o) for o in out) + (Ellipsis,)] \
        if n else v


@register("MaxPool")
def max_pool(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """MaxPool over padded windows (padding never wins); also returns flat argmax indices."""
    kernel, strides, dil, pads, out = pool_geometry(ctx, x)
    low = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _padded(x, pads, -np.inf if x.dtype.kind == "f" else low)
    v = _trim(windows(xp, kernel, strides, dil), out)
    n = len(kernel)
    flat = v.reshape(v.shape[:2 + n] + (-1,))
    y = flat.max(axis=-1)
    # Indices into the unpadded input, row-major (storage_order 0) or column-major (1).
    arg = flat.argmax(axis=-1)
    tap = np.unravel_index(arg, kernel)
    coords = []
    for i in range(n):
        base = (np.arange(out[i]) * strides[i] - pads[i]).reshape(
            (1, 1) + tuple(-1 if j == i else 1 for j in range(n)))
        coords.append(base + tap[i] * dil[i])
    spatial = x.shape[2:]
    order = list(range(n)) if not ctx.attr("storage_order", 0) else list(range(n))[::-1]
    idx = np.zeros(y.shape, dtype=np.int64)
    for i in order:
        idx = idx * spatial[i] + coords[i]
    nc = (np.arange(x.shape[0])[:, None] * x.shape[1] + np.arange(x.shape[1])[None, :])
    idx = idx + nc.reshape(nc.shape + (1,) * n) * int(np.prod(spatial))
    return y, idx


def average_windows(x: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
                    dil: Sequence[int], pads: Sequence[int], out: Sequence[int],
                    count_include_pad: bool, explicit_pads: Sequence[int]) -> np.ndarray:
    """Sums taps in order in ``x``'s float type and divides by the window count."""
    n = len(kernel)
    xp = _padded(x, pads, 0.0)
    v = _trim(windows(xp, kernel, strides, dil), out)
    acc = np.zeros(v.shape[:2 + n], dtype=x.dtype)
    for tap in np.ndindex(*kernel):
        acc += v[(Ellipsis,) + tap]
    ones = np.ones((1, 1) + tuple(x.shape[2:]), dtype=np.int64)
    if count_include_pad:
        # Explicit pads count; the extra end padding of ceil_mode does not.
        ones = _padded(ones, explicit_pads, 1)
        extra = [p - e for p, e in zip(pads, explicit_pads)]
        cnt_src = _padded(ones, extra, 0)
    else:
        cnt_src = _padded(ones, pads, 0)
    cnt = _trim(windows(cnt_src, kernel, strides, dil), out).reshape(
        (1, 1) + tuple(out) + (-1,)).sum(axis=-1)
    return acc / cnt.astype(x.dtype)


@register("AveragePool")
def average_pool(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """AveragePool with ``count_include_pad`` and ``ceil_mode``."""
    kernel, strides, dil, pads, out = pool_geometry(ctx, x)
    explicit = conv_pads(x.shape[2:], kernel, strides, dil, ctx.attr("pads"),
                         ctx.attr("auto_pad", "NOTSET"))
    y = average_windows(x, kernel, strides, dil, pads, out,
                        bool(ctx.attr("count_include_pad", 0)), explicit)
    return (y.astype(x.dtype, copy=False),)


@register("GlobalAveragePool")
def global_average_pool(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """GlobalAveragePool: mean over all spatial axes, keeping them as size 1; float32 in
    onnxruntime's ``MlasPoolGlobalKernel`` order (:mod:`socsim.kernels._mlas_ops`)."""
    if x.dtype == np.float32 and x.ndim >= 3:
        return (_mlas_ops.global_average_pool(x),)
    axes = tuple(range(2, x.ndim))
    return (x.mean(axis=axes, keepdims=True, dtype=np.float64).astype(x.dtype),)


@register("GlobalMaxPool")
def global_max_pool(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """GlobalMaxPool."""
    return (x.max(axis=tuple(range(2, x.ndim)), keepdims=True),)
