"""Write a QDQ ONNX model from a float model, calibrated ranges and per-layer bit-widths.

The form is onnxruntime's QDQ format, so onnxruntime and ``socsim.execute`` fuse the same
groups into integer operators:

* every float activation that a quantizable op reads or writes gets ``QuantizeLinear ->
  DequantizeLinear`` (graph inputs and outputs included, so the model still takes and returns
  float);
* weights of Conv / Gemm / MatMul are stored as integers (int4, int8 or int16) behind a
  DequantizeLinear, per tensor or per output channel, symmetric;
* biases are int32 with ``scale = input scale x weight scale`` and zero point 0;
* a Relu after a Conv/Gemm/MatMul/Add that is its only reader is deleted when the output's
  zero point sits on ``qmin`` (asymmetric activations): the QuantizeLinear then clamps at
  exactly 0, as a fused integer activation does; with symmetric activations the Relu stays;
* MaxPool / Flatten / Reshape / Transpose / Squeeze / Unsqueeze keep their input's scale, so
  onnxruntime can run them on integers.

int4 and int16 tensors need opset 21 (and IR 10); the model is raised to that opset only when
they occur (the ops of the bundled models have the same semantics at 19 and 21).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from socsim.quant.params import ONNX_TYPES, QParams, qparams_for, quantize, weight_qparams

__all__ = [
    "QUANT_OPS",
    "SAME_SCALE_OPS",
    "WEIGHTED_OPS",
    "LayerRecord",
    "activation_tensors",
    "weight_axis",
    "weighted_layers",
    "write_qdq",
]

WEIGHTED_OPS = ("Conv", "Gemm", "MatMul")
SAME_SCALE_OPS = ("MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze")
QUANT_OPS = (*WEIGHTED_OPS, *SAME_SCALE_OPS, "Relu", "Clip", "Add", "Mul", "AveragePool",
             "GlobalAveragePool", "Concat", "Sigmoid", "LeakyRelu", "Softmax")
_FOLDABLE = ("Conv", "Gemm", "MatMul", "Add")


@dataclass(frozen=True)
class LayerRecord:
    """What was done to one weighted layer.

    Attributes:
        name: node name.
        op_type: Conv, Gemm or MatMul.
        weight_dtype: int4, int8 or int16.
        per_channel: one weight scale per output channel.
        weight_scale_min: smallest weight scale.
        weight_scale_max: largest weight scale.
        weight_bytes: packed weight size (bits x elements / 8) plus int32 bias bytes.
        params: number of weight and bias elements.
    """

    name: str
    op_type: str
    weight_dtype: str
    per_channel: bool
    weight_scale_min: float
    weight_scale_max: float
    weight_bytes: int
    params: int


def weight_axis(node: onnx.NodeProto) -> int:
    """The output-channel axis of a weighted node's weight (input 1)."""
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return 0 if node.op_type == "Conv" else 1


def weighted_layers(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Conv / Gemm / MatMul nodes whose weight (input 1) is a float initializer."""
    inits = {i.name: i for i in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type in WEIGHTED_OPS and len(n.input) > 1
            and n.input[1] in inits and inits[n.input[1]].data_type == onnx.TensorProto.FLOAT]


def activation_tensors(model: onnx.ModelProto, by_layer: Mapping[str, str]) -> dict[str, str]:
    """Activation dtype per tensor from per-layer choices: a weighted node's output, the
    output of a Relu/Clip that is its only reader, and on through ops that keep their input's
    scale (MaxPool, Flatten, ...), which must keep its dtype too."""
    if not by_layer:
        return {}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    out: dict[str, str] = {}
    for n in model.graph.node:
        if n.name not in by_layer:
            continue
        t = n.output[0]
        out[t] = by_layer[n.name]
        nxt = readers.get(t, [])
        if len(nxt) == 1 and nxt[0].op_type in ("Relu", "Clip"):
            t = nxt[0].output[0]
            out[t] = by_layer[n.name]
        while True:
            nxt = [r for r in readers.get(t, []) if r.op_type in SAME_SCALE_OPS]
            if len(nxt) != 1:
                break
            t = nxt[0].output[0]
            out[t] = by_layer[n.name]
    return out


def _bits(dtype: str) -> int:
    return int("".join(c for c in dtype if c.isdigit()))


class _Writer:
    def __init__(self, model: onnx.ModelProto, ranges: Mapping[str, tuple[float, float]],
                 act_dtype: str, symmetric: bool,
                 tensor_dtypes: Mapping[str, str] | None = None) -> None:
        self.model = onnx.ModelProto()
        self.model.CopyFrom(model)
        self.g = self.model.graph
        self.ranges = dict(ranges)
        self.act_dtype, self.symmetric = act_dtype, symmetric
        self.tensor_dtypes = dict(tensor_dtypes or {})
        self.inits = {i.name: i for i in self.g.initializer}
        self.act_qp: dict[str, QParams] = {}
        self.new_nodes: list[onnx.NodeProto] = []
        self.new_inits: list[onnx.TensorProto] = []
        self.needs_opset21 = any(d in ("int16", "uint16")
                                 for d in (act_dtype, *self.tensor_dtypes.values()))

    def dtype_of(self, tensor: str) -> str:
        """Activation dtype of ``tensor``: its per-layer override, else the recipe's."""
        return self.tensor_dtypes.get(tensor, self.act_dtype)

    def consumers(self, name: str) -> list[onnx.NodeProto]:
        return [n for n in self.g.node if name in n.input]

    def fold_relus(self) -> None:
        outputs = {o.name for o in self.g.output}
        producer = {o: n for n in self.g.node for o in n.output}
        for relu in [n for n in self.g.node if n.op_type == "Relu"]:
            src = producer.get(relu.input[0])
            if (src is None or src.op_type not in _FOLDABLE or relu.input[0] in outputs
                    or len(self.consumers(relu.input[0])) != 1 or relu.output[0] not in self.ranges):
                continue
            lo, hi = self.ranges[relu.output[0]]
            qp = qparams_for(lo, hi, self.dtype_of(relu.output[0]), symmetric=self.symmetric)
            if int(qp.zero_point) != qp.qmin:
                continue
            src.output[0] = relu.output[0]
            self.g.node.remove(relu)

    def propagate_same_scale(self) -> None:
        for n in self.g.node:
            if n.op_type in SAME_SCALE_OPS and n.input[0] in self.ranges:
                self.ranges[n.output[0]] = self.ranges[n.input[0]]

    def const(self, name: str, array: np.ndarray, dtype: str | None = None) -> str:
        if dtype in ("int4", "uint4"):
            t = helper.make_tensor(name, ONNX_TYPES[dtype], list(array.shape),
                                   array.astype(np.int64).ravel().tolist())
        else:
            t = numpy_helper.from_array(array, name)
        self.new_inits.append(t)
        return name

    def qp_consts(self, base: str, qp: QParams) -> tuple[str, str]:
        np_type = {"int4": np.int8, "uint4": np.uint8}.get(qp.dtype, np.dtype(qp.dtype))
        s = self.const(f"{base}_scale", qp.scale.astype(np.float32))
        zp_arr = qp.zero_point.astype(np_type)
        z = self.const(f"{base}_zero_point", zp_arr, qp.dtype)
        return s, z

    def dq_node(self, src: str, out: str, s: str, z: str, axis: int | None) -> None:
        kw = {} if axis is None else {"axis": axis}
        self.new_nodes.append(helper.make_node("DequantizeLinear", [src, s, z], [out],
                                               name=f"{out}_DQ", **kw))

    def quantize_activations(self) -> dict[str, str]:
        """Q/DQ after every quantized activation; returns the renaming for readers."""
        float_inputs = [i.name for i in self.g.input if i.name not in self.inits and
                        i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT]
        targets = [t for t in float_inputs if t in self.ranges]
        for n in self.g.node:
            if n.op_type in QUANT_OPS:
                targets += [o for o in n.output if o in self.ranges]
        outputs = {o.name for o in self.g.output}
        rename: dict[str, str] = {}
        for t in targets:
            lo, hi = self.ranges[t]
            qp = qparams_for(lo, hi, self.dtype_of(t), symmetric=self.symmetric)
            self.act_qp[t] = qp
            s, z = self.qp_consts(t, qp)
            src = t
            if t in outputs:
                src = f"{t}_float"
                for n in self.g.node:
                    for i, o in enumerate(n.output):
                        if o == t:
                            n.output[i] = src
                dq_out = t
            else:
                dq_out = f"{t}_dq"
                rename[t] = dq_out
            self.new_nodes.append(helper.make_node("QuantizeLinear", [src, s, z], [f"{t}_q"],
                                                   name=f"{t}_Q"))
            self.dq_node(f"{t}_q", dq_out, s, z, None)
        return rename

    def quantize_weight(self, node: onnx.NodeProto, dtype: str, per_channel: bool) -> LayerRecord:
        w = numpy_helper.to_array(self.inits[node.input[1]]).astype(np.float32)
        axis = weight_axis(node)
        qp = weight_qparams(w, dtype, per_channel=per_channel, axis=axis)
        if dtype in ("int4", "uint4", "int16", "uint16"):
            self.needs_opset21 = True
        base = f"{node.name}_W"
        wq = self.const(f"{base}_quantized", quantize(w, qp).astype(
            {"int4": np.int8, "uint4": np.uint8}.get(dtype, np.dtype(dtype))), dtype)
        s, z = self.qp_consts(base, qp)
        self.dq_node(wq, f"{base}_dq", s, z, axis if per_channel else None)
        node.input[1] = f"{base}_dq"
        nbytes = -(-w.size * _bits(dtype) // 8)
        params = w.size
        x_qp = self.act_qp.get(node.input[0].removesuffix("_dq"))
        if len(node.input) > 2 and node.input[2] in self.inits and x_qp is not None:
            b = numpy_helper.to_array(self.inits[node.input[2]]).astype(np.float64)
            bscale = (np.float64(x_qp.scale) * qp.scale.astype(np.float64)).astype(np.float32)
            bqp = QParams(np.broadcast_to(bscale, b.shape).copy() if per_channel else bscale,
                          np.zeros(b.shape if per_channel else (), np.int64), "int32",
                          0 if per_channel else None)
            bq = self.const(f"{node.name}_B_quantized", quantize(b, bqp).astype(np.int32))
            bs, bz = self.qp_consts(f"{node.name}_B", bqp)
            self.dq_node(bq, f"{node.name}_B_dq", bs, bz, 0 if per_channel else None)
            node.input[2] = f"{node.name}_B_dq"
            nbytes += 4 * b.size
            params += b.size
        return LayerRecord(node.name, node.op_type, dtype, per_channel, float(qp.scale.min()),
                           float(qp.scale.max()), int(nbytes), int(params))


def write_qdq(model: onnx.ModelProto, ranges: Mapping[str, tuple[float, float]], *,
              activation_dtype: str = "int8", symmetric: bool = False,
              weight_dtypes: Mapping[str, str] | None = None, default_weight_dtype: str = "int8",
              per_channel: bool = False, activation_dtypes: Mapping[str, str] | None = None
              ) -> tuple[onnx.ModelProto, list[LayerRecord]]:
    """Builds the QDQ model.

    Args:
        model: float model (not modified); its weights are quantized as they are, so apply
            equalization and bias correction before.
        ranges: calibrated ``(rmin, rmax)`` per activation tensor name.
        activation_dtype: ``int8``, ``uint8`` or ``int16``.
        symmetric: symmetric activations (zero point 0).
        weight_dtypes: per weighted node name, ``int4``, ``int8`` or ``int16``; others take
            ``default_weight_dtype``. A node mapped to ``"float"`` keeps float weights.
        default_weight_dtype: weight dtype of unlisted layers.
        per_channel: per-output-channel weight scales.
        activation_dtypes: per weighted node name, the dtype (``int8``/``int16``) of the
            activation it writes (:func:`activation_tensors`); others take
            ``activation_dtype``.

    Returns:
        The QDQ model and one :class:`LayerRecord` per quantized weighted layer.
    """
    wr = _Writer(model, ranges, activation_dtype, symmetric,
                 activation_tensors(model, activation_dtypes or {}))
    wr.fold_relus()
    wr.propagate_same_scale()
    layers = [n.name for n in weighted_layers(wr.model)]
    rename = wr.quantize_activations()
    for n in wr.g.node:
        for i, name in enumerate(n.input):
            if name in rename:
                n.input[i] = rename[name]
    records = []
    for n in list(wr.g.node):
        if n.name in layers:
            dtype = (weight_dtypes or {}).get(n.name, default_weight_dtype)
            if dtype != "float":
                records.append(wr.quantize_weight(n, dtype, per_channel))
    nodes = list(wr.g.node) + wr.new_nodes
    wr.g.ClearField("node")
    wr.g.node.extend(_toposort(nodes, wr.g))
    used = {i for n in wr.g.node for i in n.input}
    kept = [i for i in wr.g.initializer if i.name in used]
    wr.g.ClearField("initializer")
    wr.g.initializer.extend(kept + wr.new_inits)
    wr.g.ClearField("value_info")
    if wr.needs_opset21:
        for op in wr.model.opset_import:
            if op.domain in ("", "ai.onnx") and op.version < 21:
                op.version = 21
        wr.model.ir_version = max(wr.model.ir_version, 10)
    onnx.checker.check_model(wr.model)
    return wr.model, records


def _toposort(nodes: list[onnx.NodeProto], g: onnx.GraphProto) -> list[onnx.NodeProto]:
    produced = {o for n in nodes for o in n.output}
    ready = {i for n in nodes for i in n.input if i not in produced}
    out, pending = [], list(nodes)
    inits_new = {i for n in nodes for i in n.input}  # consts appended later count as ready
    ready |= {i for i in inits_new if not any(i in m.output for m in nodes)}
    while pending:
        rest = []
        for n in pending:
            if all(i in ready for i in n.input):
                out.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise ValueError(f"cycle or missing input near node {rest[0].name!r}")
        pending = rest
    return out
