"""onnxruntime's float32 Conv, Gemm and GlobalAveragePool on x86-64, in MLAS's order.

onnxruntime runs a float Conv whose weights are computed at run time (a DequantizeLinear's
output: the 16-bit QDQ groups its CPU EP does not fuse, and every group without optimisation)
through ``MlasConv`` (``onnxruntime/core/mlas/lib/convolve.cpp``), whose result depends on how it
slices the work:

* ``MlasConvPrepare`` picks the algorithm: a pointwise conv (1x1, stride 1, no padding) is one
  GEMM on the input (``GemmDirect``); a conv with more filters than output pixels expands the
  whole input (im2col) and runs one GEMM (``ExpandThenGemm``); any other conv expands and
  multiplies slice by slice (``ExpandThenGemmSegmented``, :func:`_segmented_ranges`).
* Each GEMM is ``MlasSgemmOperation`` (:func:`sgemm_operation`): an output is one fused
  multiply-add chain over a K slice, in order of k, started from zero; the slices' results are
  added to the output one after the other (as :func:`socsim.kernels._mlas.sgemm`). A one-row
  GEMM (a depthwise conv's filter, one per group; a Gemm at batch 1) goes to
  ``MlasSgemmKernelM1Avx`` (products in groups of four rows, each group's sum added to the
  output) or, with a transposed B, ``MlasSgemmKernelM1TransposeBAvx`` (eight-lane dot products
  reduced in the pattern of the output's row block); a one-column GEMM with contiguous B and C
  (a one-pixel conv output) runs the same kernels with A and B flipped.
* The bias is added afterwards, once per output (``MlasActivation``, identity with bias).

onnxruntime's float Gemm copies the broadcast bias ``C`` into the output and calls ``MlasGemm``
with ``beta`` (1 when there is a bias): each K slice's chain is added onto it (:func:`gemm`); a
constant ``B`` is prepacked (K slices of 256).

``MlasPoolGlobalKernel`` (``pooling.cpp``) averages a channel in four float32 lanes (element i
into lane i mod 4), reduces the lanes as ``(l0 + l2) + (l1 + l3)``, adds the leftover elements
one at a time and divides by the element count.

Single-threaded slicing is modelled. MLAS splits a GEMM or a batch-1, group-1 conv across
threads only above ``MLAS_SGEMM_THREAD_COMPLEXITY`` (2^21 MACs on x86-64) and only up to
onnxruntime's pool size; each thread's share of N then sets its own K slices, which can change
the bits for such large layers. A batch or a group count above one runs whole images per
thread, as modelled. ``GemmDirect`` on a strided view of a one-channel input (a kernel spanning
the input width or height) is not modelled: :func:`conv` returns None there and the caller
keeps its own order.
"""

from __future__ import annotations

import numpy as np

from socsim.kernels._mlas import _F, _gemm_m1, _stride_k, _strides, fma

__all__ = ["conv", "gemm", "global_average_pool", "sgemm_operation"]


def _m1(a: np.ndarray, b: np.ndarray, c: np.ndarray | None) -> np.ndarray:
    """``MlasSgemmKernelM1Avx``: ``a[..., 1, K] @ b[..., K, N]``, rows of B four at a time,
    products rounded and added in order, each group's sum added onto ``c`` (0 when None)."""
    return _gemm_m1(a, b, c)


def _m1_transpose_b(a: np.ndarray, bt: np.ndarray, c: np.ndarray | None) -> np.ndarray:
    """``MlasSgemmKernelM1TransposeBAvx``: ``a[..., 1, K]`` dotted with each row of
    ``bt[..., N, K]``, giving ``[..., 1, N]``.

    Eight lanes each add the rounded products of every eighth k (the last partial block
    masked); the lanes are then reduced in the pattern of the output's row block: rows four at
    a time ``(((l0+l1)+l2)+l3) + (((l4+l5)+l6)+l7)``, then a pair
    ``((l0+l2)+(l4+l6)) + ((l1+l3)+(l5+l7))``, then one ``((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))``
    (the vunpck/vhadd sequences of the kernel), and added onto ``c``.
    """
    k_total, n = a.shape[-1], bt.shape[-2]
    lanes = np.zeros(np.broadcast_shapes(a.shape[:-2], bt.shape[:-2]) + (n, 8), _F)
    full = k_total - k_total % 8
    av = a[..., 0, :][..., None, :]  # [..., 1, K]: broadcast over the rows of bt
    for k0 in range(0, full, 8):
        lanes = lanes + av[..., k0:k0 + 8] * bt[..., k0:k0 + 8]
    if full < k_total:
        rem = k_total - full
        lanes[..., :rem] = lanes[..., :rem] + av[..., full:] * bt[..., full:]
    lo = lanes
    four = (((lo[..., 0] + lo[..., 1]) + lo[..., 2]) + lo[..., 3]) + (
        ((lo[..., 4] + lo[..., 5]) + lo[..., 6]) + lo[..., 7])
    two = ((lo[..., 2] + lo[..., 0]) + (lo[..., 6] + lo[..., 4])) + (
        (lo[..., 3] + lo[..., 1]) + (lo[..., 7] + lo[..., 5]))
    one = ((lo[..., 0] + lo[..., 1]) + (lo[..., 2] + lo[..., 3])) + (
        (lo[..., 4] + lo[..., 5]) + (lo[..., 6] + lo[..., 7]))
    rows = np.arange(n)
    blocks4 = n - n % 4
    form = np.where(rows < blocks4, 0, np.where((n % 4 >= 2) & (rows < blocks4 + 2), 1, 2))
    out = np.where(form == 0, four, np.where(form == 1, two, one))[..., None, :]
    return out if c is None else out + c


def sgemm_operation(a: np.ndarray, b: np.ndarray, c: np.ndarray | None, *,
                    trans_a: bool = False, trans_b: bool = False, vectors: bool = True,
                    unit_beta: bool = True) -> np.ndarray:
    """``MlasSgemmOperation`` (one thread, ``alpha = 1``, beta 0 when ``c`` is None else 1)
    on the logical operands ``a[..., M, K]`` and ``b[..., K, N]``; ``trans_a``/``trans_b`` say
    how they are stored (which kernel runs), ``vectors`` that a one-column B and C are
    contiguous (``ldb = ldc = 1``, the flipped small-M case); ``unit_beta`` False for a beta
    other than 0 or 1 (``c`` then already scaled by it), which rules the small-M kernels out."""
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if m == 1 and not trans_a and unit_beta:
        if trans_b:
            return _m1_transpose_b(a, np.swapaxes(b, -1, -2), c)
        return _m1(a, b, c)
    if n == 1 and vectors and unit_beta:  # Transpose(A B) = B' A': the small-M kernels with A and B flipped
        bt = np.swapaxes(b, -1, -2)  # [..., 1, K]
        cc = None if c is None else np.swapaxes(c, -1, -2)
        out = _m1(bt, np.swapaxes(a, -1, -2), cc) if trans_a else _m1_transpose_b(bt, a, cc)
        return np.swapaxes(out, -1, -2)
    stride = 128
    if n >= k:
        stride_n = 128
        while stride // 2 >= k:
            stride_n, stride = stride_n * 2, stride // 2
    elif not trans_a:
        stride = _stride_k(k, n, packed_b=False)
    shape = np.broadcast_shapes(a.shape[:-1] + (1,), b.shape[:-2] + (1, n))
    for k0 in range(0, k, stride):
        acc = np.zeros(shape, _F)
        for kk in range(k0, min(k, k0 + stride)):
            acc = fma(a[..., kk:kk + 1], b[..., kk:kk + 1, :], acc)
        c = acc if c is None else c + acc
    return c


def _gemm(w: np.ndarray, col: np.ndarray, c: np.ndarray | None, k_lo: int, k_hi: int,
          vectors: bool) -> np.ndarray:
    """One ``MlasSgemmOperation`` of a convolution: filters ``w[..., M, K]`` times the
    column buffer ``col[..., K, N]`` over ``k_lo:k_hi``, onto ``c``."""
    return sgemm_operation(w[..., k_lo:k_hi], col[..., k_lo:k_hi, :], c, vectors=vectors)


def _segmented_ranges(k: int, n: int) -> tuple[int, int]:
    """``MlasConvOperation``'s (StrideN, StrideK) for a segment of ``n`` outputs, ``K = k``."""
    return _strides(k, n)


def _im2col(x: np.ndarray, kernel: tuple[int, int], strides: list[int], dil: list[int],
            pads: list[int], out_hw: tuple[int, int]) -> np.ndarray:
    """(B, C, H, W) -> (B, C * kh * kw, OH * OW), zeros for padding (``MlasConvIm2Col``)."""
    b, c = x.shape[:2]
    kh, kw = kernel
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh, ow = out_hw
    cols = np.empty((b, c, kh, kw, oh, ow), _F)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dil[0], j * dil[1]
            cols[:, :, i, j] = xp[:, :, r0:r0 + strides[0] * (oh - 1) + 1:strides[0],
                                  c0:c0 + strides[1] * (ow - 1) + 1:strides[1]]
    return cols.reshape(b, c * kh * kw, oh * ow)


def conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, group: int,
         strides: list[int], dilations: list[int], pads: list[int]) -> np.ndarray | None:
    """onnxruntime's float32 Conv (1-D or 2-D, NCHW) as ``MlasConv`` computes it, one thread.

    Args:
        x: input, float32 ``(B, C, *spatial)``.
        w: weights, float32 ``(M, C / group, *kernel)``.
        bias: float32 ``(M,)`` or None.
        group: the ``group`` attribute.
        strides, dilations: per spatial axis.
        pads: ONNX order (begins, then ends).

    Returns:
        The output, float32, or None where MLAS's order is not modelled (3-D convs, the
        strided ``GemmDirect`` of a one-channel input).
    """
    if x.ndim == 3:  # MlasConvPrepare promotes 1-D to 2-D
        y = conv(x[:, :, None], w[:, :, None], bias, group, [1, *strides], [1, *dilations],
                 [0, pads[0], 0, pads[1]])
        return None if y is None else y[:, :, 0]
    if x.ndim != 4:
        return None
    b, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    mg = m // group
    oh = (h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    k, n = cg * kh * kw, oh * ow
    unit = all(s == 1 for s in strides) and not any(pads)
    if unit and k != cg and cg == 1 and all(d == 1 for d in dilations) and (
            kw == wd or (kh == h and kw == 1)):
        return None  # GemmDirect on a strided view of the input: not modelled
    cols = _im2col(x.astype(_F, copy=False), (kh, kw), strides, dilations, pads, (oh, ow))
    cols = cols.reshape(b, group, k, n)
    wg = w.astype(_F, copy=False).reshape(1, group, mg, k)
    if (unit and k == cg) or mg > n:  # GemmDirect / ExpandThenGemm: one GEMM over all of K
        y = _gemm(wg, cols, None, 0, k, vectors=n == 1)
    else:  # ExpandThenGemmSegmented, one segment of all n outputs
        stride_n, stride_k = _segmented_ranges(k, n)
        parts = []
        for n0 in range(0, n, stride_n):
            seg = cols[..., n0:n0 + stride_n]
            out = None
            for k0 in range(0, k, stride_k):
                out = _gemm(wg, seg, out, k0, min(k, k0 + stride_k),
                            vectors=seg.shape[-1] == 1 and n == 1)
            parts.append(out)
        y = np.concatenate(parts, axis=-1)
    y = y.reshape(b, m, oh, ow)
    if bias is not None:
        y = y + bias.astype(_F).reshape(1, m, 1, 1)
    return y


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray | None, beta: float, *,
         trans_a: bool, trans_b: bool, packed_b: bool) -> np.ndarray:
    """onnxruntime's float32 Gemm with ``alpha = 1``: ``A' @ B' + beta * C`` (``a`` and ``b``
    already transposed as transA/transB say; the flags say how they were stored)."""
    m, k = a.shape
    n = b.shape[1]
    c0 = None
    if c is not None and beta != 0.0:
        c0 = np.array(np.broadcast_to(c.astype(_F), (m, n)))
        if beta != 1.0:  # MlasSgemmMultiplyBeta first
            c0 = c0 * _F(beta)
    a, b = a.astype(_F, copy=False), b.astype(_F, copy=False)
    if packed_b:  # MlasGemm on a prepacked B: 256-deep K slices, no small-M kernels
        y = c0
        for k0 in range(0, k, 256):
            acc = np.zeros((m, n), _F)
            for kk in range(k0, min(k, k0 + 256)):
                acc = fma(a[:, kk:kk + 1], b[kk:kk + 1, :], acc)
            y = acc if y is None else y + acc
        return y if y is not None else np.zeros((m, n), _F)
    return sgemm_operation(a, b, c0, trans_a=trans_a, trans_b=trans_b,
                           vectors=(not trans_b or k == 1), unit_beta=beta in (0.0, 1.0))


def global_average_pool(x: np.ndarray) -> np.ndarray:
    """onnxruntime's float32 GlobalAveragePool (``MlasPoolGlobalKernel``), keepdims."""
    b, c = x.shape[:2]
    flat = x.astype(_F, copy=False).reshape(b, c, -1)
    size = flat.shape[-1]
    whole = size - size % 4
    lanes = np.zeros((b, c, 4), _F)
    for i in range(0, whole, 4):
        lanes = lanes + flat[..., i:i + 4]
    total = (lanes[..., 0] + lanes[..., 2]) + (lanes[..., 1] + lanes[..., 3])
    for i in range(whole, size):
        total = total + flat[..., i]
    return (total / _F(size)).reshape(b, c, *([1] * (x.ndim - 2)))
