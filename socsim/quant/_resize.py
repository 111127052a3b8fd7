"""The Resize substitution: upsampling rewritten as ops an NPU has (Reshape, Concat, MatMul,
Transpose), for :mod:`socsim.quant.substitute`.

A Resize of a 4-D NCHW tensor over H and W is separable: each output row (column) is a
weighted sum of input rows (columns), the weights fixed by the mode, the coordinate
transformation and the shapes (ONNX Resize, opset 11-19). This module computes, per axis, the
``out x in`` interpolation matrix from the ONNX formulas:

- ``x_original`` from the output index: ``half_pixel`` ``(x + 0.5) / s - 0.5``,
  ``pytorch_half_pixel`` (the same, 0 when the output length is 1), ``asymmetric`` ``x / s``,
  ``align_corners`` ``x (in - 1) / (out - 1)``; ``s = out / in`` for ``sizes``, else the scale;
- ``nearest``: one 1 at the ``nearest_mode`` rounding of ``x_original``, clamped to the input;
- ``linear``: ``1 - r`` at ``floor(x_original)`` and ``r`` at the next index, both clamped to
  the input (edge values repeat), ``r`` the fractional part.

Then:

- nearest with every row of a matrix selecting input ``i // k`` (upsampling by an integer
  ``k``): each axis becomes Reshape (a new unit axis after it) and Concat of ``k`` copies along
  it, then one Reshape merges them: data movement only, exact;
- otherwise: ``MatMul(x, A_w')``, Transpose, ``MatMul(., A_h')``, Transpose. Nearest stays
  exact (each sum has one product by 1, the rest by 0); linear rounds a two-term sum, so the
  rewrite's relative error against onnxruntime's Resize is a few float32 ulps. The MACs are
  real work an NPU without a resampler would do (``N C H W W' + N C W' H H'``).

Cubic, antialiasing, ``exclude_outside``, ``keep_aspect_ratio_policy`` other than ``stretch``,
``tf_crop_and_resize`` and axes other than H and W are not rewritten (ValueError naming why).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper

__all__ = ["interpolation_matrix", "resize_rule"]

_TRANSFORMS = ("half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners")
_ROUNDING: dict[str, Callable[[float], int]] = {
    "round_prefer_floor": lambda x: math.ceil(x - 0.5),
    "round_prefer_ceil": lambda x: math.floor(x + 0.5),
    "floor": math.floor,
    "ceil": math.ceil,
}


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    a = next((a for a in node.attribute if a.name == name), None)
    v = default if a is None else helper.get_attribute_value(a)
    return v.decode() if isinstance(v, bytes) else v


def interpolation_matrix(n_in: int, n_out: int, scale: float, mode: str, transform: str,
                         nearest_mode: str = "round_prefer_floor") -> np.ndarray:
    """The ``n_out x n_in`` float64 matrix of one axis of an ONNX Resize (module docstring)."""
    a = np.zeros((n_out, n_in))
    for x in range(n_out):
        if transform == "align_corners":
            xo = 0.0 if n_out == 1 else x * (n_in - 1) / (n_out - 1)
        elif transform == "asymmetric":
            xo = x / scale
        elif transform == "pytorch_half_pixel" and n_out == 1:
            xo = 0.0
        else:
            xo = (x + 0.5) / scale - 0.5
        if mode == "nearest":
            a[x, min(max(_ROUNDING[nearest_mode](xo), 0), n_in - 1)] = 1.0
        else:
            lo = math.floor(xo)
            r = xo - lo
            a[x, min(max(lo, 0), n_in - 1)] += 1.0 - r
            a[x, min(max(lo + 1, 0), n_in - 1)] += r
    return a


def _repeat_factor(a: np.ndarray) -> int | None:
    """``k`` when row ``x`` of ``a`` selects input ``x // k`` exactly, else None."""
    n_out, n_in = a.shape
    if n_out % n_in:
        return None
    k = n_out // n_in
    want = np.zeros_like(a)
    want[np.arange(n_out), np.arange(n_out) // k] = 1.0
    return k if np.array_equal(a, want) else None


def _plan(node: onnx.NodeProto, c) -> tuple[tuple[int, ...], np.ndarray, np.ndarray, str]:
    """(input shape, A_h, A_w, mode) of a Resize node; ValueError where not rewritable."""
    why = f"{node.name}: Resize"
    mode = str(_attr(node, "mode", "nearest"))
    transform = str(_attr(node, "coordinate_transformation_mode", "half_pixel"))
    if mode not in ("nearest", "linear"):
        raise ValueError(f"{why} mode {mode!r} is not rewritten (nearest and linear are)")
    if transform not in _TRANSFORMS:
        raise ValueError(f"{why} coordinate_transformation_mode {transform!r} is not "
                         f"rewritten ({', '.join(_TRANSFORMS)} are)")
    if int(_attr(node, "antialias", 0)) or int(_attr(node, "exclude_outside", 0)) or str(
            _attr(node, "keep_aspect_ratio_policy", "stretch")) != "stretch" or list(
            _attr(node, "axes", []) or []):
        raise ValueError(f"{why} with antialias, exclude_outside, axes or a "
                         "keep_aspect_ratio_policy is not rewritten")
    info = c.model
    shape = info.shapes.get(node.input[0]) if info is not None else None
    if shape is None or len(shape) != 4:
        raise ValueError(f"{why} needs a static 4-D (NCHW) input shape to be rewritten")
    scales = info.consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    sizes = info.consts.get(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    if scales is not None and scales.size:
        scale = [float(v) for v in scales]
        out = [int(math.floor(d * s)) for d, s in zip(shape, scale)]
    elif sizes is not None and sizes.size:
        out = [int(v) for v in sizes]
        scale = [o / d for o, d in zip(out, shape)]
    else:
        raise ValueError(f"{why} needs constant scales or sizes to be rewritten")
    if out[:2] != list(shape[:2]):
        raise ValueError(f"{why} resizes N or C; only H and W are rewritten")
    nearest = str(_attr(node, "nearest_mode", "round_prefer_floor"))
    a_h = interpolation_matrix(shape[2], out[2], scale[2], mode, transform, nearest)
    a_w = interpolation_matrix(shape[3], out[3], scale[3], mode, transform, nearest)
    return tuple(shape), a_h, a_w, mode


def resize_rule(node: onnx.NodeProto, c) -> list[onnx.NodeProto]:
    """Replacement nodes of a Resize (see the module docstring); ``c`` is the substitution
    context. Without model information (listing the op types only) it describes the nearest
    2x form."""
    x, y = node.input[0], node.output[0]
    if c.model is None:
        if _attr(node, "mode", "nearest") == "nearest":
            return [c.n("Reshape", [x, x], y), c.n("Concat", [x], y, axis=0),
                    c.n("Reshape", [x, x], y)]
        return [c.n("MatMul", [x, x], y), c.n("Transpose", [x], y), c.n("MatMul", [x, x], y),
                c.n("Transpose", [x], y)]
    (n, ch, h, w), a_h, a_w, mode = _plan(node, c)
    kh, kw = _repeat_factor(a_h), _repeat_factor(a_w)
    if mode == "nearest" and kh is not None and kw is not None:
        nodes = [c.n("Reshape", [x, c.i64([n, ch, h, 1, w, 1], "shape6")], c.t("x6"))]
        last = c.t("x6")
        if kw > 1:
            nodes.append(c.n("Concat", [last] * kw, c.t("rep_w"), axis=5))
            last = c.t("rep_w")
        if kh > 1:
            nodes.append(c.n("Concat", [last] * kh, c.t("rep_h"), axis=3))
            last = c.t("rep_h")
        nodes.append(c.n("Reshape", [last, c.i64([n, ch, h * kh, w * kw], "shape4")], y))
        return nodes
    return [c.n("MatMul", [x, c.c(a_w.T.astype(np.float32), "interp_w")], c.t("rows")),
            c.n("Transpose", [c.t("rows")], c.t("rows_t"), perm=[0, 1, 3, 2]),
            c.n("MatMul", [c.t("rows_t"), c.c(a_h.T.astype(np.float32), "interp_h")],
                c.t("cols_t")),
            c.n("Transpose", [c.t("cols_t")], y, perm=[0, 1, 3, 2])]
