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
least -32768 / 255) cannot, whatever the uint8 activations. The compiled loop skips, per row, the
pairs that these activations cannot push beyond int16, and counts the pairs that saturated.
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
        weights: the raw int8 weights as int32, ``(K, M)``, rows in MLAS's K order.
        pairs: indices ``j`` of the pairs ``(2j, 2j + 1)`` with at least one risky column.
        ptr: CSR row pointer into ``cols``, one row per entry of ``pairs``.
        cols: the output columns of each risky pair.
        top: per risky pair, the largest positive weight of each of its two rows over its
            risky columns (0 if none): ``a0 * top0 + a1 * top1`` bounds every pair sum above.
        bottom: the same for the most negative weights, a bound below.
    """

    weights: np.ndarray
    pairs: np.ndarray
    ptr: np.ndarray
    cols: np.ndarray
    top: np.ndarray
    bottom: np.ndarray


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
    ptr = np.concatenate([[0], np.cumsum(sub.sum(axis=1))]).astype(np.int64)
    cols = np.nonzero(sub)[1].astype(np.int32)
    masked = np.where(sub[:, None, :], w[pairs], 0)  # (R, 2, M), risky columns only
    return PairPlan(np.ascontiguousarray(weights.astype(np.int32)), pairs.astype(np.int64),
                    ptr, cols, masked.max(axis=2, initial=0).astype(np.int32),
                    masked.min(axis=2, initial=0).astype(np.int32))


@njit(**_OPTIONS)
def _correct(a, weights, pairs, ptr, cols, top, bottom, acc):  # pragma: no cover - compiled
    """Adds ``sat16(s) - s`` of every saturating pair to ``acc`` (P, M); returns their count."""
    count = 0
    for p in range(a.shape[0]):
        for r in range(pairs.size):
            k = 2 * pairs[r]
            a0 = np.int32(a[p, k])
            a1 = np.int32(a[p, k + 1])
            if (a0 * top[r, 0] + a1 * top[r, 1] <= 32767
                    and a0 * bottom[r, 0] + a1 * bottom[r, 1] >= -32768):
                continue  # these two activations cannot leave int16 with any risky column
            for i in range(ptr[r], ptr[r + 1]):
                n = cols[i]
                s = a0 * weights[k, n] + a1 * weights[k + 1, n]
                if s > 32767:
                    acc[p, n] += 32767 - s
                    count += 1
                elif s < -32768:
                    acc[p, n] += -32768 - s
                    count += 1
    return count


def add_corrections(a: np.ndarray, plan: PairPlan, acc: np.ndarray) -> int:
    """Turns the exact sums ``acc`` (P, M) of raw uint8 rows ``a`` (P, K, any layout, integer
    or integral float) against ``plan``'s weights into sums of saturated pairs, in place.

    Returns:
        How many pair sums saturated.
    """
    if a.strides[0] < a.strides[1]:
        a = np.ascontiguousarray(a)  # the loop reads rows: a copy beats strided reads
    return int(_correct(a, plan.weights, plan.pairs, plan.ptr, plan.cols, plan.top, plan.bottom,
                        acc))


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
