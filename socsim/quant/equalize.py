"""Cross-layer equalization and bias correction (Nagel et al., "Data-Free Quantization Through
Weight Equalization and Bias Correction", ICCV 2019), on a float ONNX model.

**Equalization.** For two layers ``y = W2 f(W1 x + b1) + b2`` with ``f`` positively homogeneous
per channel (ReLU, and also max-pool and average-pool, which act on each channel alone), scaling
output channel ``i`` of layer 1 by ``1 / s_i`` and input channel ``i`` of layer 2 by ``s_i``
leaves the function unchanged. With ``r1_i = max |W1[i]|`` and ``r2_i = max |W2[:, i]|``,
``s_i = sqrt(r1_i / r2_i)`` makes both ranges ``sqrt(r1_i r2_i)`` (Nagel eq. 9-10), which narrows
the spread of per-channel ranges that per-tensor quantization must cover. Pairs are Conv or Gemm
(layer 2 may be a depthwise Conv, whose input channel ``i`` is its output channel ``i``) joined by
Relu / MaxPool / AveragePool / GlobalAveragePool / Flatten, each tensor read by one node only;
the whole chain is swept until the scales settle. Clip (ReLU6) is not positively homogeneous, so
it breaks a pair.

**Bias correction.** Quantizing weights shifts each output's mean by ``E[(W_q - W) x] =
(W_q - W) E[x]``. With the per-channel input means from calibration (the empirical form of
Nagel's section 4.2, which derives ``E[x]`` from BatchNorm statistics), the bias absorbs
``-(W_q - W) E[x]`` before it is quantized. Border effects of zero padding are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from socsim.quant.params import QParams, fake_quantize, weight_qparams
from socsim.quant.qdq import weight_axis, weighted_layers

__all__ = ["EqualizedPair", "bias_correct", "equalization_pairs", "equalize",
           "layer_weight_qparams"]

_PASS_THROUGH = ("Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten")


@dataclass(frozen=True)
class EqualizedPair:
    """One equalized pair of layers.

    Attributes:
        first: node whose output channels were divided by ``s``.
        second: node whose input channels were multiplied by ``s``.
        spread_before: max / min of the first layer's per-channel ranges before.
        spread_after: the same after equalization.
    """

    first: str
    second: str
    spread_before: float
    spread_after: float


def _arrays(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    return next((a.i for a in node.attribute if a.name == name), default)


def equalization_pairs(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, onnx.NodeProto]]:
    """(first, second) weighted nodes joined only by per-channel positively homogeneous ops."""
    g = model.graph
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    outputs = {o.name for o in g.output}
    weighted = {n.name for n in weighted_layers(model) if n.op_type in ("Conv", "Gemm")}
    pairs = []
    for n in g.node:
        if n.name not in weighted or _attr(n, "group", 1) not in (1, _channels(model, n)):
            continue
        if n.op_type == "Gemm" and not _attr(n, "transB", 0):
            continue
        t = n.output[0]
        while True:
            rs = readers.get(t, [])
            if t in outputs or len(rs) != 1:
                break
            nxt = rs[0]
            if nxt.op_type in _PASS_THROUGH:
                t = nxt.output[0]
                continue
            if nxt.name in weighted and nxt.input[0] == t and _second_ok(model, nxt):
                pairs.append((n, nxt))
            break
    return pairs


def _channels(model: onnx.ModelProto, node: onnx.NodeProto) -> int:
    w = next(i for i in model.graph.initializer if i.name == node.input[1])
    return int(w.dims[0])


def _second_ok(model: onnx.ModelProto, node: onnx.NodeProto) -> bool:
    if node.op_type == "Gemm":
        return bool(_attr(node, "transB", 0))
    group = _attr(node, "group", 1)
    return group == 1 or group == _channels(model, node)


def _in_slices(w2: np.ndarray, node: onnx.NodeProto) -> np.ndarray:
    """Per input channel of ``node``, the max |weight|; and the axis to scale."""
    if node.op_type == "Conv" and _attr(node, "group", 1) > 1:  # depthwise: [C, 1, k, k]
        return np.abs(w2).reshape(w2.shape[0], -1).max(axis=1)
    moved = np.moveaxis(np.abs(w2), 1, 0)
    return moved.reshape(moved.shape[0], -1).max(axis=1)


def _scale_in(w2: np.ndarray, node: onnx.NodeProto, s: np.ndarray) -> np.ndarray:
    if node.op_type == "Conv" and _attr(node, "group", 1) > 1:
        return w2 * s.reshape(-1, *([1] * (w2.ndim - 1)))
    shape = [1] * w2.ndim
    shape[1] = -1
    return w2 * s.reshape(shape)


def _spread(r: np.ndarray) -> float:
    return float(r.max() / max(r.min(), 1e-12))


def equalize(model: onnx.ModelProto, *, iterations: int = 20,
             tol: float = 1e-6) -> tuple[onnx.ModelProto, list[EqualizedPair]]:
    """Cross-layer equalization of every eligible pair (see the module docstring).

    Args:
        model: float model (not modified).
        iterations: maximum sweeps over the chain of pairs.
        tol: stop when every scale of a sweep is within ``tol`` of 1.

    Returns:
        The equalized model and one record per pair.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    pairs = equalization_pairs(out)
    arr = _arrays(out)
    before = {}
    for first, _ in pairs:
        w1 = arr[first.input[1]]
        before[first.name] = _spread(np.abs(w1).reshape(w1.shape[0], -1).max(axis=1))
    for _ in range(iterations):
        worst = 0.0
        for first, second in pairs:
            w1, w2 = arr[first.input[1]], arr[second.input[1]]
            r1 = np.abs(w1).reshape(w1.shape[0], -1).max(axis=1)
            r2 = _in_slices(w2, second)
            if r2.shape != r1.shape:  # Flatten of a non-1x1 map: channels do not line up
                continue
            ok = (r1 > 0) & (r2 > 0)
            s = np.where(ok, np.sqrt(np.where(ok, r1 / np.where(ok, r2, 1), 1)), 1.0)
            arr[first.input[1]] = w1 / s.reshape(-1, *([1] * (w1.ndim - 1)))
            if len(first.input) > 2 and first.input[2] in arr:
                arr[first.input[2]] = arr[first.input[2]] / s
            arr[second.input[1]] = _scale_in(w2, second, s)
            worst = max(worst, float(np.abs(s - 1).max()))
        if worst < tol:
            break
    for init in out.graph.initializer:
        if init.name in arr:
            init.CopyFrom(numpy_helper.from_array(arr[init.name].astype(np.float32), init.name))
    records = []
    for first, second in pairs:
        w1 = arr[first.input[1]]
        after = _spread(np.abs(w1).reshape(w1.shape[0], -1).max(axis=1))
        records.append(EqualizedPair(first.name, second.name, before[first.name], after))
    return out, records


def bias_correct(model: onnx.ModelProto, input_means: Mapping[str, np.ndarray],
                 weight_qparams_of: Mapping[str, QParams]) -> tuple[onnx.ModelProto, dict[str, float]]:
    """Moves each layer's expected weight-quantization error into its bias.

    Args:
        model: float model (not modified).
        input_means: per weighted node name, the mean of its input per channel (axis 1).
        weight_qparams_of: per weighted node name, the weight's :class:`QParams`.

    Returns:
        The corrected model and, per corrected node, the largest |bias change|.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {i.name: i for i in out.graph.initializer}
    changes = {}
    for node in weighted_layers(out):
        if (node.name not in input_means or node.name not in weight_qparams_of
                or len(node.input) < 3 or node.input[2] not in inits):
            continue
        w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        err = fake_quantize(w, weight_qparams_of[node.name]).astype(np.float64) - w
        mean = np.asarray(input_means[node.name], np.float64)
        if mean.ndim != 1 or mean.shape[0] != (w.shape[0] if node.op_type == "MatMul" or (
                node.op_type == "Gemm" and not _attr(node, "transB", 0)) else
                w.shape[0] if _attr(node, "group", 1) > 1 else w.shape[1]):
            continue
        if node.op_type == "Conv":
            if _attr(node, "group", 1) > 1:
                shift = err.reshape(err.shape[0], -1).sum(axis=1) * mean
            else:
                shift = err.reshape(err.shape[0], err.shape[1], -1).sum(axis=2) @ mean
        elif node.op_type == "Gemm":
            shift = (err if _attr(node, "transB", 0) else err.T) @ mean
        else:
            shift = err.T @ mean
        b = numpy_helper.to_array(inits[node.input[2]]).astype(np.float64)
        if b.shape != shift.shape:
            continue
        inits[node.input[2]].CopyFrom(numpy_helper.from_array((b - shift).astype(np.float32),
                                                              node.input[2]))
        changes[node.name] = float(np.abs(shift).max())
    return out, changes


def layer_weight_qparams(model: onnx.ModelProto, dtypes: Mapping[str, str], default: str,
                         per_channel: bool) -> dict[str, QParams]:
    """The weight :class:`QParams` :func:`socsim.quant.qdq.write_qdq` will use, per node."""
    inits = {i.name: i for i in model.graph.initializer}
    res = {}
    for n in weighted_layers(model):
        dtype = dtypes.get(n.name, default)
        if dtype == "float":
            continue
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        res[n.name] = weight_qparams(w, dtype, per_channel=per_channel, axis=weight_axis(n))
    return res
