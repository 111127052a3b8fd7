"""Exact integer products on floating-point BLAS, and the im2col behind every convolution.

Integers whose products and partial sums stay below 2^24 (float32) or 2^53 (float64) are added
exactly by any BLAS, whatever its order or fusion: every intermediate is an integer that the
format represents. :func:`exact_dtype` picks the narrowest float type for a proven bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from socsim.kernels import _jit

_F32_EXACT = float(2**24)
_F64_EXACT = float(2**53)


_PANEL_BYTES = 384 * 1024
"""Above this many bytes of rows (columns), a narrow product goes through the BLAS in blocks."""
_BLOCK_BYTES = 160 * 1024
"""Target size of one block."""
_NARROW = 32
"""Products with fewer output channels than this are narrow. OpenBLAS (0.3, SkylakeX kernels)
runs them up to twice as fast in blocks; wider products gain nothing or lose (measured on the
zoo's layers)."""


def matmul_row_blocks(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a @ w`` for 2-D ``a`` (P, K) and ``w`` (K, M), in blocks of rows when the product is
    narrow and ``a`` large.

    For exact integer products only (every partial sum below 2^24 in float32, as
    :func:`exact_dtype` proves): the block sizes change which BLAS kernel runs, and with it
    the order of a float sum, which exact sums do not see.
    """
    p, k = a.shape
    size = k * p * a.itemsize
    if size <= _PANEL_BYTES or w.shape[1] >= _NARROW:
        return a @ w
    step = -(-p // -(-size // _BLOCK_BYTES))
    out = np.empty((p, w.shape[1]), np.result_type(a, w))
    for s in range(0, p, step):
        np.matmul(a[s:s + step], w, out=out[s:s + step])
    return out


_BLOCKS_AGREE: dict[tuple, bool] = {}
"""Per float product shape: whether column blocks gave the one product's bits."""


def matmul_blocks(w: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``w @ cols`` for 2-D ``w`` (M, K) and ``cols`` (N, K, P) as one product per image, or in
    blocks of columns where that gives the same bits and the product is narrow and large.

    Float sums: the block sizes may change which BLAS kernel runs and so the order of each
    sum. The first time a shape comes, blocks and the one product are computed on seeded
    random operands of that shape and compared bit for bit (random float sums of many terms
    differ in their last bits under almost any change of order); the blocks are used for that
    shape only if every element agreed.
    """
    m, (n, k, p) = w.shape[0], cols.shape
    size = k * p * cols.itemsize
    if size <= _PANEL_BYTES or m >= _NARROW:
        return np.matmul(w.reshape(1, m, k)[None], cols.reshape(n, 1, k, p)).reshape(n, m, p)
    key = (m, k, p, w.dtype, cols.dtype)
    if key not in _BLOCKS_AGREE:
        rng = np.random.default_rng(0)
        w_try = (rng.random(w.shape) - 0.5).astype(w.dtype)
        cols_try = (rng.random((1, k, p)) - 0.5).astype(cols.dtype)
        _BLOCKS_AGREE[key] = np.array_equal(
            _column_blocks(w_try, cols_try, -(-p // -(-size // _BLOCK_BYTES))),
            np.matmul(w_try.reshape(1, m, k)[None], cols_try.reshape(1, 1, k, p)
                      ).reshape(1, m, p))
    if not _BLOCKS_AGREE[key]:
        return np.matmul(w.reshape(1, m, k)[None], cols.reshape(n, 1, k, p)).reshape(n, m, p)
    return _column_blocks(w, cols, -(-p // -(-size // _BLOCK_BYTES)))


def _column_blocks(w: np.ndarray, cols: np.ndarray, step: int) -> np.ndarray:
    n, _, p = cols.shape
    out = np.empty((n, w.shape[0], p), np.result_type(w, cols))
    for b in range(n):
        for s in range(0, p, step):
            np.matmul(w, cols[b, :, s:s + step], out=out[b, :, s:s + step])
    return out


def exact_dtype(bound: float) -> type | None:
    """float32 or float64 if every partial sum (at most ``bound`` in magnitude) is exact, else None."""
    if bound < _F32_EXACT:
        return np.float32
    if bound < _F64_EXACT:
        return np.float64
    return None


def int_matmul(a: np.ndarray, b: np.ndarray, bound: float) -> np.ndarray:
    """Exact ``a @ b`` of integer-valued arrays as float64 (int64 matmul beyond 2^53)."""
    dt = exact_dtype(bound)
    if dt is None:
        return np.matmul(a.astype(np.int64), b.astype(np.int64)).astype(np.float64)
    return np.matmul(a.astype(dt, copy=False), b.astype(dt, copy=False)).astype(np.float64,
                                                                                copy=False)


def conv_pads(in_shape: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int], pads: Sequence[int] | None, auto_pad: str
              ) -> list[int]:
    """ONNX pads ``[b1, b2, ..., e1, e2, ...]`` after resolving ``auto_pad``."""
    n = len(kernel)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for i in range(n):
            out = -(-in_shape[i] // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1
                        - in_shape[i])
            small = total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else total - small)
            ends.append(total - begins[-1])
        return begins + ends
    if auto_pad == "VALID" or not pads:
        return [0] * (2 * n)
    return [int(p) for p in pads]


def pad_spatial(x: np.ndarray, pads: Sequence[int], value: float = 0.0) -> np.ndarray:
    """Pads the trailing ``len(pads) // 2`` axes of ``x``."""
    n = len(pads) // 2
    if not any(pads):
        return x
    lead = x.shape[:x.ndim - n]
    out = np.full(lead + tuple(d + pads[i] + pads[i + n] for i, d in enumerate(x.shape[-n:])),
                  value, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(pads[i], pads[i] + d) for i, d in enumerate(x.shape[-n:]))] = x
    return out


def out_shape(padded: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int], ceil_mode: bool = False) -> list[int]:
    """Output spatial shape of a window op over already padded input."""
    out = []
    for i in range(len(kernel)):
        span = padded[i] - ((kernel[i] - 1) * dilations[i] + 1)
        out.append((-(-span // strides[i]) if ceil_mode else span // strides[i]) + 1)
    return out


def windows(xp: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
            dilations: Sequence[int]) -> np.ndarray:
    """View ``(N, C, *out, *kernel)`` of the windows of padded ``xp`` (no copy)."""
    n = len(kernel)
    lead = xp.ndim - n
    spatial = xp.shape[lead:]
    out = [(size - (k - 1) * d - 1) // s + 1
           for size, k, s, d in zip(spatial, kernel, strides, dilations)]
    if min(out, default=1) < 1:
        raise ValueError("window shape cannot be larger than input array shape")
    st = xp.strides[lead:]
    shape = xp.shape[:lead] + tuple(out) + tuple(kernel)
    view_strides = (xp.strides[:lead] + tuple(a * s for a, s in zip(st, strides))
                    + tuple(a * d for a, d in zip(st, dilations)))
    if not xp.flags.c_contiguous:
        return as_strided(xp, shape, view_strides, writeable=False)
    v = np.ndarray(shape, xp.dtype, xp, 0, view_strides)  # as_strided without its overhead
    v.flags.writeable = False
    return v


def im2col(xp: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
           dilations: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """``(N, C * prod(kernel), prod(out))`` columns of padded ``xp`` and the output shape."""
    n = len(kernel)
    if all(k == 1 for k in kernel):
        sub = xp[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)]
        return sub.reshape(xp.shape[0], xp.shape[1], -1), list(sub.shape[2:])
    v = windows(xp, kernel, strides, dilations)
    o = list(v.shape[2:2 + n])
    perm = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))
    cols = v.transpose(perm).reshape(xp.shape[0], xp.shape[1] * math.prod(kernel), -1)
    return cols, o


def conv_nd(xp: np.ndarray, w: np.ndarray, group: int, strides: Sequence[int],
            dilations: Sequence[int], dtype: type, pads: Sequence[int] | None = None
            ) -> np.ndarray:
    """Convolution of padded ``xp`` (N, C, ...) with ``w`` (M, C/group, ...) computed in ``dtype``.

    Depthwise convolutions are vectorised over channels, one multiply-add per kernel tap; the
    rest go through im2col and one batched matrix product per group. With ``pads``, ``xp`` is
    the unpadded input and the padding is zeros; a 2-D convolution with one group then builds
    its columns in one compiled pass (:func:`socsim.kernels._jit.window_columns`), the same
    array as im2col of the padded copy.
    """
    kernel = list(w.shape[2:])
    n, c = xp.shape[:2]
    m = w.shape[0]
    xp = xp.astype(dtype, copy=False)
    w = w.astype(dtype, copy=False)
    if pads is not None and group == 1 and len(kernel) == 2 and any(k > 1 for k in kernel):
        o = out_shape([d + pads[i] + pads[i + 2] for i, d in enumerate(xp.shape[2:])], kernel,
                      strides, dilations)
        if min(o) < 1:
            raise ValueError("window shape cannot be larger than input array shape")
        cols = np.empty((n, c * kernel[0] * kernel[1], o[0] * o[1]), dtype=dtype)
        _jit.window_columns(xp, tuple(kernel), tuple(strides), tuple(dilations), pads[0],
                            pads[1], o[1], cols)
        return matmul_blocks(w.reshape(m, -1), cols).reshape([n, m] + o)
    if pads is not None:
        xp = pad_spatial(xp, pads)
    if group == c and w.shape[1] == 1 and group > 1:
        mult = m // c
        v = windows(xp, kernel, strides, dilations)  # (N, C, *out, *kernel)
        nk = len(kernel)
        out_sp = v.shape[2:2 + nk]
        wk = w.reshape(c, mult, -1)
        acc = np.zeros((n, c, mult) + tuple(out_sp), dtype=dtype)
        for t, tap in enumerate(np.ndindex(*kernel)):
            xs = v[(Ellipsis,) + tap][:, :, None]
            acc += xs * wk[:, :, t].reshape((1, c, mult) + (1,) * nk)
        return acc.reshape((n, m) + tuple(out_sp))
    cols, o = im2col(xp, kernel, strides, dilations)
    cg, mg = c // group, m // group
    wm = w.reshape(group, mg, -1)
    cols = cols.reshape(n, group, cg * math.prod(kernel), -1)
    out = np.matmul(wm[None], cols)  # (N, G, Mg, P)
    return out.reshape([n, m] + o)
