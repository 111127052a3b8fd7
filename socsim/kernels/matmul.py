"""Matrix products: MatMul, Gemm (float), MatMulInteger, QLinearMatMul and com.microsoft QGemm."""

from __future__ import annotations

import numpy as np

from socsim.kernels import _mlas, _mlas_ops, _pairs
from socsim.kernels._common import act_bound, requantize_acc, zp_int
from socsim.kernels._gemm import exact_dtype, int_matmul
from socsim.kernels.dtypes import as_int, elem_type_of
from socsim.kernels.registry import MS_DOMAIN, KernelContext, register


@register("MatMul")
def matmul(ctx: KernelContext, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Float MatMul with numpy broadcasting; float32 in MLAS sgemm's order for the target's
    float kernel family (bit-exact to onnxruntime, :func:`socsim.kernels._mlas.matmul`)."""
    if a.dtype == np.float32 and b.dtype == np.float32:
        return (_mlas.matmul(a, b, b_const=ctx.is_initializer(1),
                             float_kernels=ctx.arithmetic.float_kernels),)
    return (np.matmul(a, b),)


@register("Gemm")
def gemm(ctx: KernelContext, a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None
         ) -> tuple[np.ndarray, ...]:
    """Float Gemm: ``alpha * A' @ B' + beta * C``; float32 with ``alpha = 1`` in onnxruntime's
    ``MlasGemm`` order (:func:`socsim.kernels._mlas_ops.gemm`), else BLAS order."""
    a = a.T if ctx.attr("transA", 0) else a
    b = b.T if ctx.attr("transB", 0) else b
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    if alpha == 1.0 and a.dtype == b.dtype == np.float32 and a.ndim == b.ndim == 2 and (
            c is None or c.dtype == np.float32):
        return (_mlas_ops.gemm(a, b, c, beta, trans_a=bool(ctx.attr("transA", 0)),
                               trans_b=bool(ctx.attr("transB", 0)),
                               packed_b=ctx.is_initializer(1)),)
    y = np.matmul(a, b)
    if alpha != 1.0:
        y = y * a.dtype.type(alpha)
    if c is not None:
        y = y + (c * c.dtype.type(beta) if beta != 1.0 else c)
    return (y.astype(a.dtype, copy=False),)


def _b_prepared(ctx: KernelContext, b: np.ndarray, b_zp: np.ndarray | None, b_idx: int,
                zp_idx: int, trans: bool = False) -> tuple[np.ndarray, float]:
    """``b - b_zp`` as float64 (per-column zero points along the last axis) and its bound."""

    def prep() -> tuple[np.ndarray, float]:
        bi = as_int(b, np.int64)
        if trans:
            bi = bi.T
        if b_zp is not None:
            z = as_int(b_zp, np.int64)
            bi = bi - (z.reshape(z.shape[:-2] + (1, z.shape[-1])) if z.ndim >= 2 else z)
        col_l1 = np.abs(bi).sum(axis=-2).max() if bi.size else 0
        return bi.astype(np.float64), float(col_l1)

    return ctx.cached(("b", trans), prep, b_idx, zp_idx)


def _int_product(ctx: KernelContext, a: np.ndarray, a_zp: np.ndarray | None, b: np.ndarray,
                 b_zp: np.ndarray | None, b_idx: int, zp_idx: int, trans_b: bool = False
                 ) -> np.ndarray:
    if ctx.arithmetic.integer_dot is not None:  # the unit's own dot product (e.g. CiM ADCs)
        bt = np.swapaxes(b, -1, -2) if trans_b else b
        return ctx.arithmetic.integer_dot.matmul(a, a_zp, bt, b_zp).astype(np.float64)
    bf, l1 = _b_prepared(ctx, b, b_zp, b_idx, zp_idx, trans_b)
    bound = act_bound(a, a_zp) * l1
    dt = exact_dtype(bound) or np.float64
    af = as_int(a, np.int32).astype(dt)
    if a_zp is not None:
        af = af - dt(zp_int(a_zp)) if np.size(a_zp) == 1 else \
            af - as_int(a_zp, np.int64).astype(dt).reshape(-1, 1)
    acc = int_matmul(af, bf, bound)
    if ctx.arithmetic.dot == "u8s8_pairs_int16" and a.dtype == np.uint8 and b.dtype == np.int8:
        _add_pairs(ctx, a, b, b_idx, trans_b, acc)
    return acc


def _add_pairs(ctx: KernelContext, a: np.ndarray, b: np.ndarray, b_idx: int, trans: bool,
               acc: np.ndarray) -> None:
    """Turns the exact uint8 x int8 sums ``acc`` into MLAS's saturated int16 pairs (K in
    the operands' own order, :mod:`socsim.kernels._pairs`) and counts the saturations."""
    def plans() -> list[_pairs.PairPlan | None]:
        bi = as_int(b, np.int64)
        bi = np.swapaxes(bi, -1, -2) if trans else bi
        flat = bi.reshape((-1,) + bi.shape[-2:])
        return [_pairs.plan_pairs(m) for m in flat]

    per_batch = ctx.cached(("pairs", trans), plans, b_idx)
    if all(p is None for p in per_batch):
        return
    if len(per_batch) == 1:
        ctx.count("pair_saturations", _pairs.matmul_corrections(a, per_batch[0], acc))
        return
    k = a.shape[-1]
    batch = acc.shape[:-2]
    a_b = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    b_shape = b.shape[:-2]
    index = np.broadcast_to(np.arange(len(per_batch)).reshape(b_shape or (1,)),
                            batch).reshape(-1)
    flat = acc.reshape((-1,) + acc.shape[-2:])
    count = 0
    for i, (rows, j) in enumerate(zip(a_b, index)):
        if per_batch[j] is not None:
            count += _pairs.matmul_corrections(rows.reshape(-1, k), per_batch[j], flat[i])
    ctx.count("pair_saturations", count)


@register("MatMulInteger")
def matmul_integer(ctx: KernelContext, a: np.ndarray, b: np.ndarray,
                   a_zero_point: np.ndarray | None = None, b_zero_point: np.ndarray | None = None
                   ) -> tuple[np.ndarray, ...]:
    """MatMulInteger: int32 products of zero-point-corrected operands (per-row ``a`` zero
    points, per-column ``b`` zero points), saturated to the accumulator. uint8 x int8 on a
    ``u8s8_pairs_int16`` target: sums of saturated int16 pairs (:mod:`socsim.kernels._pairs`)."""
    acc = _int_product(ctx, a, a_zero_point, b, b_zero_point, 1, 3)
    lo, hi = ctx.arithmetic.acc_min, ctx.arithmetic.acc_max
    ctx.count("accumulator_saturations", int(np.count_nonzero((acc < lo) | (acc > hi))))
    return (np.clip(acc, lo, hi).astype(np.int32),)


def _scales(a_scale: np.ndarray, b_scale: np.ndarray, y_scale: np.ndarray | None,
            alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    f32 = np.float32(alpha) * a_scale.astype(np.float32) * b_scale.astype(np.float32)
    f64 = float(alpha) * a_scale.astype(np.float64) * b_scale.astype(np.float64)
    if y_scale is not None:
        f32 = f32 / y_scale.astype(np.float32)
        f64 = f64 / y_scale.astype(np.float64)
    return f32.astype(np.float32), f64


def _per_column(v: np.ndarray) -> np.ndarray:
    # b's scale is per tensor, per column ([N]) or per batch and column ([..., 1, N]).
    return v.reshape(()) if v.size == 1 else (v if v.ndim >= 2 else v.reshape(1, -1))


@register("QLinearMatMul")
def qlinear_matmul(ctx: KernelContext, a: np.ndarray, a_scale: np.ndarray,
                   a_zero_point: np.ndarray, b: np.ndarray, b_scale: np.ndarray,
                   b_zero_point: np.ndarray, y_scale: np.ndarray, y_zero_point: np.ndarray
                   ) -> tuple[np.ndarray, ...]:
    """QLinearMatMul: integer products (exact, or saturated pairs for uint8 x int8 on a
    ``u8s8_pairs_int16`` target) requantized with ``a_s * b_s / y_s``."""
    acc = _int_product(ctx, a, a_zero_point, b, b_zero_point, 3, 5)
    scale, real = ctx.cached("scale", lambda: _scales(a_scale, b_scale, y_scale), 1, 4, 6)
    return (requantize_acc(ctx, acc, _per_column(scale), _per_column(real), y_zero_point,
                           elem_type_of(y_zero_point)),)


@register("QGemm", MS_DOMAIN)
def qgemm(ctx: KernelContext, a: np.ndarray, a_scale: np.ndarray, a_zero_point: np.ndarray,
          b: np.ndarray, b_scale: np.ndarray, b_zero_point: np.ndarray,
          c: np.ndarray | None = None, y_scale: np.ndarray | None = None,
          y_zero_point: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """com.microsoft QGemm: int32 bias ``C`` added to the product (exact, or saturated pairs as
    for QLinearMatMul), then requantized with
    ``alpha * a_s * b_s / y_s`` (or scaled to float32 when ``y_scale`` is absent)."""
    a = a.T if ctx.attr("transA", 0) else a
    acc = _int_product(ctx, a, a_zero_point, b, b_zero_point, 3, 5,
                       trans_b=bool(ctx.attr("transB", 0)))
    if c is not None:
        acc = acc + as_int(c, np.int64).astype(np.float64)
    alpha = float(ctx.attr("alpha", 1.0))
    scale, real = ctx.cached("scale", lambda: _scales(a_scale, b_scale, y_scale, alpha), 1, 4, 7)
    if y_zero_point is None:
        return ((acc.astype(np.float32) * _per_column(scale)).astype(np.float32),)
    return (requantize_acc(ctx, acc, _per_column(scale), _per_column(real), y_zero_point,
                           elem_type_of(y_zero_point)),)
