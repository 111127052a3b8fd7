"""QLinearConv planned once per node: exact float32 sums and ``onnx_rne`` requantization.

The plan applies when every operand but ``x`` is constant, the unit requantizes with
``onnx_rne`` and a bound computed from the weights proves that no partial sum, bias included,
reaches 2^24 (so float32 adds every integer exactly, in any order) nor the accumulator's range
(so nothing saturates). Then

* the activation zero point moves into the bias: ``sum(w * (x - x_zp)) + b`` is
  ``sum(w * x) + (b - x_zp * sum(w))``, with padding filled with ``x_zp`` instead of 0, so the
  raw integers feed the product with no subtraction pass;
* for a 1x1 or im2col convolution, the folded bias rides in the product as one more weight
  column against a row of ones, so the product comes out of the BLAS as the int32 accumulator;
* a depthwise convolution adds its taps, one vectorised multiply-add per tap over all channels.

The accumulator is then requantized in place: ``rint(float32(acc) * scale)``, plus the zero
point, clamped and counted, exactly as :func:`socsim.kernels.requant.requantize` does for
``onnx_rne``. Anything outside these conditions returns no plan and takes the general path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from socsim.kernels._common import out_scale
from socsim.kernels._gemm import conv_pads
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.dtypes import as_int, elem_type_of, int_range, np_dtype

_F32_EXACT = 2**24

PlanKind = Literal["pointwise", "depthwise", "im2col"]


@dataclass(frozen=True)
class QConvPlan:
    """What one QLinearConv node needs at run time, derived from its constant operands.

    Attributes:
        kind: ``pointwise`` (1x1, stride 1, no padding), ``depthwise`` (one filter per
            channel) or ``im2col`` (any other 2-D convolution with one group).
        weights: pointwise/im2col: ``(M, K + 1)`` float32, the last column the folded bias,
            the rest ordered (kh, kw, C); depthwise: ``(taps, C, 1, 1)`` float32.
        bias: depthwise only: the folded bias, ``(C, 1, 1)`` float32.
        kernel: spatial kernel shape.
        strides: spatial strides.
        dilations: spatial dilations.
        pads_attr: the node's ``pads`` attribute (None when absent).
        auto_pad: the node's ``auto_pad`` attribute.
        pad_value: the activation zero point, the value padding takes.
        scale: float32 ``x_s * w_s / y_s``, a scalar or an ``(M, 1)`` / ``(M, 1, 1)`` column.
        zero_point: output zero point.
        lo: smallest output value.
        hi: largest output value.
        out_dtype: numpy dtype of the output.
    """

    kind: PlanKind
    weights: np.ndarray
    bias: np.ndarray | None
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads_attr: tuple[int, ...] | None
    auto_pad: str
    pad_value: int
    scale: np.ndarray
    zero_point: int
    lo: int
    hi: int
    out_dtype: np.dtype
    _pads: dict[tuple[int, ...], list[int]] = field(default_factory=dict, compare=False)

    def pads(self, spatial: tuple[int, ...]) -> list[int]:
        """Explicit pads for an input of spatial shape ``spatial`` (memoised)."""
        p = self._pads.get(spatial)
        if p is None:
            p = self._pads[spatial] = conv_pads(spatial, self.kernel, self.strides,
                                                self.dilations, self.pads_attr, self.auto_pad)
        return p


def plan_qlinear_conv(attrs: dict, arithmetic: Arithmetic, x_dtype: np.dtype,
                      x_scale: np.ndarray, x_zero_point: np.ndarray, w: np.ndarray,
                      w_scale: np.ndarray, w_zero_point: np.ndarray, y_scale: np.ndarray,
                      y_zero_point: np.ndarray, b: np.ndarray | None) -> QConvPlan | None:
    """The plan of a QLinearConv node for activations of ``x_dtype``, or None if the fast
    path does not apply (see the module docstring)."""
    if arithmetic.requant != "onnx_rne" or w.ndim != 4:
        return None
    if x_zero_point.size != 1 or y_zero_point.size != 1:
        return None
    try:
        x_range = int_range(elem_type_of(np.empty(0, x_dtype)))
        y_range = int_range(elem_type_of(y_zero_point))
    except (KeyError, ValueError, TypeError):
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

    scale32, _ = out_scale(x_scale, w_scale, y_scale)
    if kind == "depthwise":
        weights = np.ascontiguousarray(
            flat.T.reshape(-1, m, 1, 1).astype(np.float32))  # (taps, C, 1, 1)
        bias_f = bias.astype(np.float32).reshape(m, 1, 1)
        col = (m, 1, 1)
    else:
        ordered = wi.transpose(0, 2, 3, 1).reshape(m, -1)  # (M, kh * kw * C)
        weights = np.concatenate([ordered, bias.reshape(m, 1)], axis=1).astype(np.float32)
        bias_f = None
        col = (m, 1)
    scale = scale32.reshape(()) if scale32.size == 1 else scale32.reshape(col)
    return QConvPlan(kind, weights, bias_f, kernel, strides, dil, pads_attr, auto_pad, x_zp,
                     scale, int(as_int(y_zero_point, np.int64).reshape(-1)[0]), y_range.lo,
                     y_range.hi, np_dtype(y_range.elem_type))


def run_plan(plan: QConvPlan, x: np.ndarray) -> tuple[np.ndarray, int]:
    """Runs ``plan`` on ``x`` (N, C, H, W); returns the output and how many outputs saturated."""
    pads = plan.pads(x.shape[2:])
    outs, saturated = [], 0
    for image in x:
        if plan.kind == "pointwise":
            acc, shape = _pointwise(plan, image)
        elif plan.kind == "depthwise":
            acc, shape = _depthwise(plan, _padded(image, pads, plan.pad_value))
        else:
            acc, shape = _im2col(plan, _padded(image, pads, plan.pad_value))
        q, sat = requantize_rne(acc, plan.scale, plan.zero_point, plan.lo, plan.hi,
                                plan.out_dtype)
        outs.append(q.reshape(shape))
        saturated += sat
    return np.stack(outs) if len(outs) != 1 else outs[0][None], saturated


def requantize_rne(acc: np.ndarray, scale: np.ndarray, zero_point: int, lo: int, hi: int,
                   out_dtype: np.dtype) -> tuple[np.ndarray, int]:
    """``clamp(rint(acc * scale) + zp)`` of float32 integral ``acc`` (overwritten) in the
    output type, and how many values were clamped.

    Adding the zero point before clamping is exact wherever it matters: below 2^24 the sum is
    exact, and beyond it the value is far outside the output range either way.
    """
    np.multiply(acc, scale, out=acc)
    np.rint(acc, out=acc)
    if zero_point:
        np.add(acc, np.float32(zero_point), out=acc)
    mask = np.less(acc, lo)
    saturated = int(np.count_nonzero(mask))
    np.greater(acc, hi, out=mask)
    saturated += int(np.count_nonzero(mask))
    np.clip(acc, lo, hi, out=acc)
    return acc.astype(out_dtype), saturated


def _padded(image: np.ndarray, pads: list[int], value: int) -> np.ndarray:
    """``image`` (C, H, W) padded with ``value``, in its own integer type."""
    if not any(pads):
        return image
    c, h, w = image.shape
    t, left, bottom, right = pads
    out = np.full((c, h + t + bottom, w + left + right), value, dtype=image.dtype)
    out[:, t:t + h, left:left + w] = image
    return out


def _out_hw(plan: QConvPlan, hp: int, wp: int) -> tuple[int, int]:
    (kh, kw), (sh, sw), (dh, dw) = plan.kernel, plan.strides, plan.dilations
    return (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1


def _tap(xp: np.ndarray, plan: QConvPlan, i: int, j: int, ho: int, wo: int) -> np.ndarray:
    (sh, sw), (dh, dw) = plan.strides, plan.dilations
    return xp[:, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]


def _pointwise(plan: QConvPlan, image: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    c = image.shape[0]
    cols = np.empty((c + 1, image[0].size), dtype=np.float32)
    cols[:c] = image.reshape(c, -1)
    cols[c] = 1.0
    return plan.weights @ cols, (plan.weights.shape[0],) + image.shape[1:]


def _im2col(plan: QConvPlan, xp: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    c = xp.shape[0]
    ho, wo = _out_hw(plan, *xp.shape[1:])
    kh, kw = plan.kernel
    cols = np.empty((kh * kw * c + 1, ho, wo), dtype=np.float32)
    for t in range(kh * kw):
        cols[t * c:(t + 1) * c] = _tap(xp, plan, *divmod(t, kw), ho, wo)
    cols[-1] = 1.0
    return plan.weights @ cols.reshape(cols.shape[0], -1), (plan.weights.shape[0], ho, wo)


def _depthwise(plan: QConvPlan, xp: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    ho, wo = _out_hw(plan, *xp.shape[1:])
    kw = plan.kernel[1]
    xf = xp.astype(np.float32)
    acc = np.multiply(_tap(xf, plan, 0, 0, ho, wo), plan.weights[0])
    tmp = np.empty_like(acc)
    for t in range(1, plan.weights.shape[0]):
        np.multiply(_tap(xf, plan, *divmod(t, kw), ho, wo), plan.weights[t], out=tmp)
        np.add(acc, tmp, out=acc)
    np.add(acc, plan.bias, out=acc)
    return acc, acc.shape
