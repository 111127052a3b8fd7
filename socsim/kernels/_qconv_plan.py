"""QLinearConv planned once per node: exact float32 sums and ``onnx_rne`` requantization.

The plan applies when every operand but ``x`` is constant, the unit requantizes with
``onnx_rne`` and a bound computed from the weights proves that no partial sum, bias included,
reaches 2^24 (so float32 adds every integer exactly, in any order) nor the accumulator's range
(so nothing saturates). Then

* the activation zero point moves into the bias: ``sum(w * (x - x_zp)) + b`` is
  ``sum(w * x) + (b - x_zp * sum(w))``, with padding filled with ``x_zp`` instead of 0, so the
  raw integers feed the product with no subtraction pass;
* for a 1x1 or im2col convolution, the folded bias rides in the product as one more weight
  row against a column of ones, so the BLAS returns the int32 accumulator itself;
* a depthwise convolution is one compiled loop (:func:`socsim.kernels._jit.depthwise_rne`):
  int32 sums over the taps of each output pixel, channels innermost, a tap in the padding
  adding ``x_zp * w``, and the requantization fused in.

Sums come out channels-last, ``(H, W, C)``, and are requantized in one compiled pass
(:func:`socsim.kernels._jit.requantize_rows`): ``rint(float32(acc) * scale)`` plus the zero
point, clamped and counted, exactly as :func:`socsim.kernels.requant.requantize` does for
``onnx_rne``. The output is the ``(N, C, H, W)`` transposed view of that channels-last array,
which the next planned convolution reads without a transposing copy. Outside these conditions
(and for activation types other than numpy's integers) there is no plan and the node takes the
general path.

On a target that adds uint8 x int8 products in saturating int16 pairs
(``dot="u8s8_pairs_int16"``, :mod:`socsim.kernels._pairs`), a pointwise or im2col plan also
holds the pairs of its raw weights that can saturate, in onnxruntime's K order (kh, kw, C), the
order of the plan's own columns; their correction is added to the exact sums before
requantization. Depthwise convolutions add exactly on that target too (MLAS's depthwise
kernels widen to 16 bits before multiplying), so their plan does not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from socsim.kernels import _jit, _pairs
from socsim.kernels._common import out_scale
from socsim.kernels._gemm import conv_pads, matmul_row_blocks
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.dtypes import as_int, elem_type_of, int_range, np_dtype

_F32_EXACT = 2**24
_CHANNELS_LAST_MIN = 8
"""From this many input channels, im2col gathers from a channels-last copy of the input."""

PlanKind = Literal["pointwise", "depthwise", "im2col"]


@dataclass(frozen=True)
class QConvPlan:
    """What one QLinearConv node needs at run time, derived from its constant operands.

    Attributes:
        kind: ``pointwise`` (1x1, stride 1, no padding), ``depthwise`` (one filter per
            channel) or ``im2col`` (any other 2-D convolution with one group).
        weights: pointwise/im2col: ``(K + 1, M)`` float32, rows ordered (kh, kw, C), the last
            row the folded bias; depthwise: ``(taps, C)`` int32.
        bias: depthwise only: the folded bias, ``(C,)`` int32.
        padded: depthwise only: what a tap in the padding adds, ``x_zp * weights``, int32.
        kernel: spatial kernel shape.
        strides: spatial strides.
        dilations: spatial dilations.
        pads_attr: the node's ``pads`` attribute (None when absent).
        auto_pad: the node's ``auto_pad`` attribute.
        pad_value: the activation zero point, the value padding takes.
        scale: float32 ``x_s * w_s / y_s`` per output channel, ``(M,)`` (repeated when per
            tensor).
        zero_point: output zero point.
        lo: smallest output value.
        hi: largest output value.
        out_dtype: numpy dtype of the output.
        pairs: the weights' pairs that can saturate on a ``u8s8_pairs_int16`` target (None:
            exact sums).
    """

    kind: PlanKind
    weights: np.ndarray
    bias: np.ndarray | None
    padded: np.ndarray | None
    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads_attr: tuple[int, ...] | None
    auto_pad: str
    pad_value: int
    scale: np.ndarray
    zero_point: int
    lo: int
    hi: int
    out_dtype: np.dtype
    pairs: _pairs.PairPlan | None = None
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def pads(self, spatial: tuple[int, ...]) -> list[int]:
        """Explicit pads for an input of spatial shape ``spatial``."""
        key = ("pads", spatial)
        if key not in self._memo:
            self._memo[key] = conv_pads(spatial, self.kernel, self.strides, self.dilations,
                                        self.pads_attr, self.auto_pad)
        return self._memo[key]


def plan_qlinear_conv(attrs: dict, arithmetic: Arithmetic, x_dtype: np.dtype,
                      x_scale: np.ndarray, x_zero_point: np.ndarray, w: np.ndarray,
                      w_scale: np.ndarray, w_zero_point: np.ndarray, y_scale: np.ndarray,
                      y_zero_point: np.ndarray, b: np.ndarray | None) -> QConvPlan | None:
    """The plan of a QLinearConv node for activations of ``x_dtype``, or None if the fast
    path does not apply (see the module docstring)."""
    if arithmetic.requant != "onnx_rne" or w.ndim != 4 or x_dtype.kind not in "iu":
        return None
    if x_zero_point.size != 1 or y_zero_point.size != 1:
        return None
    try:
        x_range = int_range(elem_type_of(np.empty(0, x_dtype)))
        y_range = int_range(elem_type_of(y_zero_point))
    except (KeyError, ValueError, TypeError):
        return None
    if np_dtype(y_range.elem_type).kind not in "iu":  # int4/uint4 (ml_dtypes): general path
        return None
    m, cg = w.shape[:2]
    kernel = tuple(int(k) for k in (attrs.get("kernel_shape") or w.shape[2:]))
    strides = tuple(int(s) for s in (attrs.get("strides") or (1, 1)))
    dil = tuple(int(d) for d in (attrs.get("dilations") or (1, 1)))
    pads_attr = tuple(int(p) for p in attrs["pads"]) if attrs.get("pads") else None
    auto_pad = attrs.get("auto_pad", "NOTSET")
    group = int(attrs.get("group", 1))
    if group == 1:
        pointwise = (kernel == (1, 1) and strides == (1, 1) and not any(pads_attr or ())
                     and auto_pad in ("NOTSET", "VALID"))
        kind: PlanKind = "pointwise" if pointwise else "im2col"
    elif group == m and cg == 1:
        kind = "depthwise"
    else:
        return None

    wi = as_int(w, np.int64) - as_int(w_zero_point, np.int64).reshape(-1, 1, 1, 1)
    flat = wi.reshape(m, -1)
    x_zp = int(as_int(x_zero_point, np.int64).reshape(-1)[0])
    bias = flat.sum(axis=1) * -x_zp
    if b is not None:
        bias = bias + as_int(b, np.int64).reshape(-1)
    x_abs = max(abs(x_range.lo), abs(x_range.hi))
    bound = int(np.abs(flat).sum(axis=1).max()) * x_abs + int(np.abs(bias).max())
    if bound >= _F32_EXACT or bound > arithmetic.acc_max:
        return None

    pairs = None
    if kind == "depthwise":
        weights = np.ascontiguousarray(flat.T.astype(np.int32))  # (taps, C)
        bias_i, padded = bias.astype(np.int32), weights * np.int32(x_zp)
    else:
        ordered = wi.transpose(2, 3, 1, 0).reshape(-1, m)  # (kh * kw * C, M)
        weights = np.concatenate([ordered, bias.reshape(1, m)]).astype(np.float32)
        bias_i = padded = None
        if pairs_apply(arithmetic, x_dtype, w):
            pairs = _pairs.plan_pairs(as_int(w, np.int64).transpose(2, 3, 1, 0).reshape(-1, m))
    scale32, _ = out_scale(x_scale, w_scale, y_scale)
    scale = np.ascontiguousarray(np.broadcast_to(scale32.reshape(-1), (m,)))
    return QConvPlan(kind, weights, bias_i, padded, kernel, strides, dil, pads_attr, auto_pad,
                     x_zp, scale, int(as_int(y_zero_point, np.int64).reshape(-1)[0]),
                     y_range.lo, y_range.hi, np_dtype(y_range.elem_type), pairs)


def pairs_apply(arithmetic: Arithmetic, x_dtype: np.dtype, w: np.ndarray) -> bool:
    """True when the target pairs products in saturating int16 (uint8 x int8 only)."""
    return (arithmetic.dot == "u8s8_pairs_int16" and np.dtype(x_dtype) == np.uint8
            and w.dtype == np.int8)


def run_plan(plan: QConvPlan, x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Runs ``plan`` on ``x`` (N, C, H, W), any memory layout.

    Returns:
        The output (N, M, Ho, Wo), channels-last in memory, how many outputs saturated and
        how many pair sums saturated (``u8s8_pairs_int16`` targets).

    Raises:
        ValueError: if the kernel does not fit in the padded input.
    """
    n, _, h, w = x.shape
    pads = plan.pads(x.shape[2:])
    ho, wo = _out_hw(plan, h + pads[0] + pads[2], w + pads[1] + pads[3])
    if min(ho, wo) < 1:
        raise ValueError(f"kernel {plan.kernel} (dilations {plan.dilations}) is larger than "
                         f"the padded input {tuple(x.shape[2:])} + pads {pads}")
    out = np.empty((n, ho, wo, plan.scale.size), plan.out_dtype)
    saturated = pair_saturations = 0
    for image, y in zip(x, out):
        if plan.kind == "depthwise":
            saturated += _depthwise(plan, image, pads, y)
            continue
        cols = _pointwise(image) if plan.kind == "pointwise" else _im2col(plan, image, pads)
        acc = matmul_row_blocks(cols, plan.weights)
        if plan.pairs is not None:
            pair_saturations += _pairs.add_corrections(cols[:, :-1], plan.pairs, acc)
        saturated += _jit.requantize_rows(acc, plan.scale, plan.zero_point, plan.lo, plan.hi,
                                          y.reshape(ho * wo, -1))
    return out.transpose(0, 3, 1, 2), saturated, pair_saturations


def _out_hw(plan: QConvPlan, hp: int, wp: int) -> tuple[int, int]:
    (kh, kw), (sh, sw), (dh, dw) = plan.kernel, plan.strides, plan.dilations
    return (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1


def _pointwise(image: np.ndarray) -> np.ndarray:
    """Columns ``(H * W, C + 1)`` of ``image`` (C, H, W): pixels, then a column of ones."""
    c, h, w = image.shape
    if image.transpose(1, 2, 0).flags.c_contiguous:  # channels-last: rows of pixels
        cols = np.empty((h * w, c + 1), dtype=np.float32)
        cols[:, :c] = image.transpose(1, 2, 0).reshape(h * w, c)
        cols[:, c] = 1.0
    else:
        cols = np.empty((c + 1, h * w), dtype=np.float32)
        cols[:c].reshape(c, h, w)[...] = image
        cols[c] = 1.0
        cols = cols.T
    return cols


def _im2col(plan: QConvPlan, image: np.ndarray, pads: list[int]) -> np.ndarray:
    """Columns ``(Ho * Wo, kh * kw * C + 1)`` of ``image`` (C, H, W), rows (kh, kw, C), padding
    ``plan.pad_value``, then a column of ones."""
    c, h, w = image.shape
    top, left, bottom, right = pads
    ho, wo = _out_hw(plan, h + top + bottom, w + left + right)
    (kh, kw), (sh, sw), (dh, dw) = plan.kernel, plan.strides, plan.dilations
    k = kh * kw * c
    if c >= _CHANNELS_LAST_MIN:
        # Pixel rows (kh, kw, C) from a channels-last padded copy: the product then reads
        # C-contiguous rows, which the BLAS prefers for narrow outputs.
        xp = np.full((h + top + bottom, w + left + right, c), plan.pad_value, dtype=image.dtype)
        xp[top:top + h, left:left + w] = image.transpose(1, 2, 0)
        sy, sx, sc = xp.strides
        taps = np.ndarray((ho, wo, kh, kw, c), xp.dtype, xp, 0,
                          (sy * sh, sx * sw, sy * dh, sx * dw, sc))
        cols = np.empty((ho * wo, k + 1), dtype=np.float32)
        cols[:, :k].reshape(taps.shape)[...] = taps
        cols[:, k] = 1.0
    else:  # few channels: columns per (kh, kw, C) row, each a long contiguous copy
        xp = np.full((c, h + top + bottom, w + left + right), plan.pad_value, dtype=image.dtype)
        xp[:, top:top + h, left:left + w] = image
        sc, sy, sx = xp.strides
        taps = np.ndarray((kh, kw, c, ho, wo), xp.dtype, xp, 0,
                          (sy * dh, sx * dw, sc, sy * sh, sx * sw))
        cols_t = np.empty((k + 1, ho * wo), dtype=np.float32)
        cols_t[:k].reshape(taps.shape)[...] = taps
        cols_t[k] = 1.0
        cols = cols_t.T
    return cols


def _depthwise(plan: QConvPlan, image: np.ndarray, pads: list[int], out: np.ndarray) -> int:
    """Depthwise convolution of ``image`` (C, H, W) requantized into ``out`` (Ho, Wo, C)."""
    hwc = image.transpose(1, 2, 0)
    if not hwc.flags.c_contiguous:
        hwc = np.ascontiguousarray(hwc)
    return _jit.depthwise_rne(hwc, plan.weights, plan.padded, plan.bias, plan.kernel,
                              plan.strides, plan.dilations, pads[0], pads[1], plan.scale,
                              plan.zero_point, plan.lo, plan.hi, out)
