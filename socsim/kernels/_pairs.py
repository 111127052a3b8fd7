"""8-bit dot products whose adjacent products are added in int16 with saturation (x86 VPMADDUBSW).

This is the ``dot="u8s8_pairs_int16"`` arithmetic of :class:`socsim.kernels.arithmetic.Arithmetic`.
VPMADDUBSW (Intel SDM, "PMADDUBSW: Multiply and Add Packed Signed and Unsigned Bytes") multiplies
the unsigned bytes of one operand by the signed bytes of the other and adds each adjacent pair of
products into a signed 16-bit word, saturating; VPMADDWD against ones then widens each word to
int32 exactly. MLAS's U8S8 GEMM (``qgemm_kernel_avx2.cpp``: ``MlasGemmU8S8CopyPackAAvx2`` /
``CopyPackBAvx2`` with ``PackedK = 4``; the kernels ``QgemmU8S8KernelAvx2.S``,
``QgemmU8S8KernelAvx512Core.S``, the matrix-vector ``QgemvU8S8KernelAvx2.S`` and the symmetric
convolution ``ConvSymKernelAvx2.S``) broadcasts four consecutive bytes of a row of A (the uint8
activations) against four consecutive rows of K of B (the int8 weights), so the products paired are
``k = 2j`` and ``2j + 1`` in MLAS's K order, on the raw bytes: the zero points are applied
afterwards, exactly, through row and column sums. K is zero-padded to a multiple of 4 and cut
into slices of a multiple of 4, so no pair straddles a slice and an odd last product stands
alone (a single product, at most 255 * 128 in magnitude, never saturates).

For each output: ``sum_j sat16(s_j)`` with ``s_j = a[2j] b[2j] + a[2j+1] b[2j+1]``, which is the
exact sum plus ``sum_j (sat16(s_j) - s_j)``. socsim keeps its exact accumulator and adds that
correction. Which (pair, output column) combinations can saturate at all is decided once per
weight matrix: a pair whose positive weights add up to at most 32767 / 255 (negative ones to at
least -32768 / 255) cannot, whatever the uint8 activations. The compiled loop skips, per block of
rows, the pairs that these activations cannot push beyond int16, and counts the pairs that
saturated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from socsim.kernels._gemm import pad_spatial, windows

_I16_MIN, _I16_MAX = -32768, 32767
_U8_MAX = 255

_OPTIONS = {"cache": True, "nogil": True, "boundscheck": False, "fastmath": False,
            "error_model": "numpy"}


@dataclass(frozen=True)
class PairPlan:
    """The pairs of one weight matrix that some uint8 activations can saturate.

    Attributes:
        pairs: indices ``j`` of the pairs ``(2j, 2j + 1)`` with at least one risky column.
        cols: the output columns of each risky pair, pair after pair.
        top: per risky pair, the largest positive weight of each of its two rows over its
            risky columns (0 if none): ``a0 * top0 + a1 * top1`` bounds every pair sum above.
        bottom: the same for the most negative weights, a bound below.
        w0: per entry of ``cols``, the weight of the pair's first row in that column.
        w1: the same for the second row.
        entry_pair: per entry of ``cols``, its index into ``pairs``.
        ucols: the distinct columns of ``cols``, ascending.
        slot: per entry of ``cols``, its column's index into ``ucols``.
    """

    pairs: np.ndarray
    cols: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    w0: np.ndarray
    w1: np.ndarray
    entry_pair: np.ndarray
    ucols: np.ndarray
    slot: np.ndarray


def plan_pairs(weights: np.ndarray) -> PairPlan | None:
    """The risky pairs of raw int8 ``weights`` ``(K, M)`` against uint8 activations, or None
    when no uint8 activation can saturate any pair."""
    k, m = weights.shape
    w = weights[: k - k % 2].astype(np.int32).reshape(k // 2, 2, m)
    pos = np.maximum(w, 0).sum(axis=1) * _U8_MAX   # (pairs, M): largest pair sum
    neg = np.minimum(w, 0).sum(axis=1) * _U8_MAX   # smallest
    risky = (pos > _I16_MAX) | (neg < _I16_MIN)
    pairs = np.flatnonzero(risky.any(axis=1))
    if pairs.size == 0:
        return None
    sub = risky[pairs]
    entry_pair, cols = (i.astype(np.int64) for i in np.nonzero(sub))
    cols = cols.astype(np.int32)
    masked = np.where(sub[:, None, :], w[pairs], 0)  # (R, 2, M), risky columns only
    ucols, slot = np.unique(cols, return_inverse=True)
    return PairPlan(pairs.astype(np.int64), cols, masked.max(axis=2, initial=0).astype(np.int32),
                    masked.min(axis=2, initial=0).astype(np.int32),
                    w[pairs[entry_pair], 0, cols].astype(np.float32),
                    w[pairs[entry_pair], 1, cols].astype(np.float32), entry_pair,
                    ucols.astype(np.int64), slot.reshape(-1).astype(np.int64))


_BLOCK = 256
"""Pixels per block of the correction loop: its gathered activations and corrections stay in
the first-level caches."""


@njit(**_OPTIONS)
def _correct(a, pairs, cols, w0, w1, entry_pair, slot, ucols, top, bottom,
             acc):  # pragma: no cover - compiled
    """Adds ``sat16(s) - s`` of every saturating pair to ``acc`` (P, M); returns their count.

    By blocks of pixels: the two activations of each risky pair are gathered pixel-contiguous,
    then each (pair, column) entry computes its pair sums, their saturated difference and its
    count in a branch-free loop the compiler vectorizes; a block skips the entries of a pair
    whose largest activations cannot leave int16, and adds to ``acc`` only the columns where
    something saturated. The arithmetic is float32 on
    integers: products (at most 255 * 128) and pair sums (at most 2 * 255 * 128) are integers
    far below 2^24, so every operation is exact and the bits are those of integer arithmetic
    (numba widens int32 products to int64, which AVX2 cannot multiply in vectors).
    """
    count = 0
    npix = a.shape[0]
    nr, nu = pairs.size, ucols.size
    act = np.empty((nr, 2, _BLOCK), np.float32)
    corr = np.zeros((nu, _BLOCK), np.float32)
    live = np.empty(nr, np.bool_)
    dirty = np.zeros(nu, np.int64)  # per column, saturations in this block
    for start in range(0, npix, _BLOCK):
        b = min(_BLOCK, npix - start)
        for r in range(nr):
            k = 2 * pairs[r]
            m0 = m1 = np.float32(0)
            for q in range(b):
                v0 = np.float32(a[start + q, k])
                v1 = np.float32(a[start + q, k + 1])
                act[r, 0, q] = v0
                act[r, 1, q] = v1
                m0 = max(m0, v0)
                m1 = max(m1, v1)
            live[r] = (m0 * top[r, 0] + m1 * top[r, 1] > 32767
                       or m0 * bottom[r, 0] + m1 * bottom[r, 1] < -32768)
        for i in range(cols.size):
            r = entry_pair[i]
            if not live[r]:
                continue
            x0, x1 = act[r, 0], act[r, 1]
            c0, c1 = w0[i], w1[i]
            out = corr[slot[i]]
            n = 0
            for q in range(b):
                s = x0[q] * c0 + x1[q] * c1
                d = min(max(s, np.float32(-32768)), np.float32(32767)) - s
                out[q] += d
                n += d != 0
            if n:
                count += n
                dirty[slot[i]] += n
        for u in range(nu):  # saturations are rare: only columns that have any are added
            if dirty[u] == 0:
                continue
            col = ucols[u]
            if 16 * dirty[u] > b:  # many: add the whole column
                for q in range(b):
                    acc[start + q, col] += corr[u, q]
            else:  # few: a predictable branch skips the zeros
                for q in range(b):
                    if corr[u, q] != 0:
                        acc[start + q, col] += corr[u, q]
            corr[u, :b] = 0
            dirty[u] = 0
    return count


def add_corrections(a: np.ndarray, plan: PairPlan, acc: np.ndarray) -> int:
    """Turns the exact sums ``acc`` (P, M) of raw uint8 rows ``a`` (P, K, any layout, integer
    or integral float) against ``plan``'s weights into sums of saturated pairs, in place.

    Returns:
        How many pair sums saturated.
    """
    return int(_correct(a, plan.pairs, plan.cols, plan.w0, plan.w1, plan.entry_pair, plan.slot,
                        plan.ucols, plan.top, plan.bottom, acc))


def matmul_corrections(a: np.ndarray, plan: PairPlan, acc: np.ndarray) -> int:
    """:func:`add_corrections` for ``a`` (..., R, K) and ``acc`` (..., R, M), 2-D weights."""
    rows = a.reshape(-1, a.shape[-1])
    flat = acc.reshape(-1, acc.shape[-1])
    count = add_corrections(rows, plan, flat)
    if not np.shares_memory(flat, acc):
        acc[...] = flat.reshape(acc.shape)
    return count


def conv_corrections(x: np.ndarray, x_zero_point: int, w: np.ndarray, group: int,
                     strides: Sequence[int], dilations: Sequence[int], pads: Sequence[int],
                     acc: np.ndarray, plans: list[PairPlan | None]) -> int:
    """Pair corrections of a convolution of raw uint8 ``x`` (N, C, ...) with raw int8 ``w``
    (M, C/group, ...), added to ``acc`` (N, M, ...) in place.

    MLAS's K order is onnxruntime's NHWC im2col (``qlinearconv.cc``): taps in kernel order,
    input channels of the group innermost; padding holds the activation zero point.
    ``plans`` holds one :func:`plan_pairs` per group (:func:`conv_pair_plans`).
    """
    kernel = w.shape[2:]
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    xp = pad_spatial(np.ascontiguousarray(x), pads, value=x_zero_point)
    v = windows(xp, kernel, strides, dilations)  # (N, C, *out, *kernel)
    nk = len(kernel)
    out = v.shape[2:2 + nk]
    perm = (0,) + tuple(range(2, 2 + 2 * nk)) + (1,)
    count = 0
    for g, plan in enumerate(plans):
        if plan is None:
            continue
        cols = np.ascontiguousarray(v[:, g * cg:(g + 1) * cg].transpose(perm)).reshape(
            n, math.prod(out), cg * math.prod(kernel))
        for b in range(n):
            corr = np.zeros((cols.shape[1], mg), np.int64)
            count += add_corrections(cols[b], plan, corr)
            acc[b, g * mg:(g + 1) * mg] += corr.T.reshape((mg,) + tuple(out))
    return count


def conv_pair_plans(w: np.ndarray, group: int) -> list[PairPlan | None]:
    """One :func:`plan_pairs` per group of raw int8 ``w`` (M, C/group, ...), rows ordered
    (kernel taps, channels) as onnxruntime's NHWC im2col orders K."""
    m = w.shape[0]
    mg = m // group
    nk = w.ndim - 2
    perm = tuple(range(2, 2 + nk)) + (1, 0)
    return [plan_pairs(w[g * mg:(g + 1) * mg].transpose(perm).reshape(-1, mg))
            for g in range(group)]


def warm_up() -> None:
    """Compiles (or loads from the disk cache) the loop for the common operand types."""
    plan = plan_pairs(np.full((2, 1), 127, np.int8))
    assert plan is not None
    for a in (np.zeros((1, 2), np.uint8), np.zeros((1, 2), np.float32),
              np.zeros((2, 3), np.float32)[:, :2]):
        for acc in (np.zeros((a.shape[0], 1), np.float32), np.zeros((a.shape[0], 1), np.float64),
                    np.zeros((a.shape[0], 1), np.int64)):
            add_corrections(a, plan, acc)
