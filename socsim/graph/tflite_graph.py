""".tflite -> :class:`Graph`: the TFLite converter's int8 operators as socsim's timing graph.

Every TFLite operator is one :class:`Op` (TFLite has already fused what a runtime fuses:
activations into convolutions, batch normalisation into weights), named after its first output
tensor, with its builtin name mapped to the IR's (ONNX) op type so that units' ``ops`` lists,
cost formulas and policies read it as they read an ONNX model's ops.

Shapes follow the IR's convention, the one every cost model reads: 4-D activations as
``(N, C, H, W)``, convolution weights as ``(O, I / group, KH, KW)`` (a depthwise convolution is a
Conv with ``group = C``), fully connected weights as Gemm's ``(O, I)`` with ``transB = 1``. The
file stores them NHWC / OHWI (``attrs["layout"] = "NHWC"``); only the element counts and
types matter to the timing model. Each op's attrs also carry ``tflite_op`` (the builtin name) and
``fused_activation`` (``Relu`` or ``Clip``) where the file fuses one.
"""

from __future__ import annotations

from math import prod
from pathlib import Path

from socsim.errors import UnsupportedOpError
from socsim.graph.cost import family_of, op_work
from socsim.graph.ir import Graph, Op, Tensor
from socsim.graph.loading import LoadedModel
from socsim.graph.tflite_read import TflModel, TflOp, TflTensor, read_tflite, tensor_names

#: TFLite builtin operator -> the IR's op type.
OP_TYPES: dict[str, str] = {
    "CONV_2D": "Conv", "DEPTHWISE_CONV_2D": "Conv", "FULLY_CONNECTED": "Gemm",
    "ADD": "Add", "SUB": "Sub", "MUL": "Mul",
    "AVERAGE_POOL_2D": "AveragePool", "MAX_POOL_2D": "MaxPool",
    "MEAN": "ReduceMean", "REDUCE_MAX": "ReduceMax",
    "SOFTMAX": "Softmax", "LOGISTIC": "Sigmoid", "TANH": "Tanh", "HARD_SWISH": "HardSwish",
    "CONCATENATION": "Concat", "RESHAPE": "Reshape", "SQUEEZE": "Squeeze",
    "EXPAND_DIMS": "Unsqueeze", "PAD": "Pad", "PADV2": "Pad",
    "QUANTIZE": "QuantizeLinear", "DEQUANTIZE": "DequantizeLinear",
}

_FUSED = {"RELU": "Relu", "RELU6": "Clip", "RELU_N1_TO_1": "Clip"}
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def _ir_shape(t: TflTensor, rows: set[int] = frozenset()) -> tuple[int, ...]:
    if t.index in rows and len(t.shape) > 2:  # a FULLY_CONNECTED input: its (rows, I) view
        n = t.shape[0]
        return (n, 1, 1, prod(t.shape) // n) if len(t.shape) == 4 else (n, prod(t.shape) // n)
    if len(t.shape) == 4 and not t.const:
        n, h, w, c = t.shape
        return (n, c, h, w)
    return t.shape


def _weight_shape(op: TflOp, t: TflTensor) -> tuple[int, ...]:
    if op.opcode == "CONV_2D":
        o, kh, kw, i = t.shape
        return (o, i, kh, kw)
    if op.opcode == "DEPTHWISE_CONV_2D":
        _, kh, kw, oc = t.shape
        return (oc, 1, kh, kw)
    return t.shape


def _attrs(op: TflOp, tensors: tuple[TflTensor, ...]) -> dict[str, object]:
    o = op.options
    attrs: dict[str, object] = {"tflite_op": op.opcode, "layout": "NHWC"}
    act = o.get("fused_activation_function")
    if act in _FUSED:
        attrs["fused_activation"] = _FUSED[act]
    x = tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = tensors[op.inputs[1]]
        attrs.update(kernel_shape=[w.shape[1], w.shape[2]],
                     strides=[o["stride_h"], o["stride_w"]],
                     dilations=[o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)],
                     group=x.shape[3] if op.opcode == "DEPTHWISE_CONV_2D" else 1,
                     auto_pad="SAME_UPPER" if o["padding"] == "SAME" else "VALID")
    elif op.opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        attrs.update(kernel_shape=[o["filter_height"], o["filter_width"]],
                     strides=[o["stride_h"], o["stride_w"]],
                     auto_pad="SAME_UPPER" if o["padding"] == "SAME" else "VALID")
    elif op.opcode == "FULLY_CONNECTED":
        attrs["transB"] = 1
    elif op.opcode in ("MEAN", "REDUCE_MAX"):
        axes = [int(a) for a in tensors[op.inputs[1]].data.reshape(-1)]
        rank = len(x.shape)
        axes = [a % rank for a in axes]
        attrs.update(axes=[_NHWC_TO_NCHW_AXIS[a] for a in axes] if rank == 4 else axes,
                     keepdims=int(bool(o.get("keep_dims", False))))
    elif op.opcode == "CONCATENATION":
        rank = len(tensors[op.outputs[0]].shape)
        axis = int(o.get("axis", 0)) % rank
        attrs["axis"] = _NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis
    elif op.opcode == "SOFTMAX":
        attrs["axis"] = -1
    return attrs


#: Operators whose constant inputs are operands (streamed as weights), not parameters.
_OPERAND_CONSTS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB",
                             "MUL", "CONCATENATION"})

#: Shape arithmetic the converter leaves in a graph (Keras' Flatten: SHAPE -> STRIDED_SLICE ->
#: PACK -> RESHAPE's shape operand). With static shapes its values are known when the model is
#: loaded, so it is folded away, as TFLite's and Vela's compilers fold it: no op, no time.
_SHAPE_OPS = frozenset({"SHAPE", "STRIDED_SLICE", "PACK", "CONCATENATION", "GATHER", "SLICE",
                        "SQUEEZE", "EXPAND_DIMS", "RESHAPE", "CAST", "MUL", "ADD", "SUB"})


def _static_tensors(model: TflModel) -> tuple[set[int], set[int]]:
    """(tensors whose values are known at load time, the ops that only compute them): a
    SHAPE of a tensor with a static shape, and shape ops over such values or constants."""
    ts = model.tensors
    consts = {t.index for t in ts if t.const}
    static = set(consts)
    folded: set[int] = set()
    for op in model.ops:
        ins = [i for i in op.inputs if i >= 0]
        shape_of_static = (op.opcode == "SHAPE" and ins and all(d > 0 for d in ts[ins[0]].shape))
        if shape_of_static or (op.opcode in _SHAPE_OPS and ins and all(i in static for i in ins)
                               and any(i not in consts for i in ins)):
            static.update(op.outputs)
            folded.add(op.index)
    return static, folded


def lower_tflite(model: TflModel) -> Graph:
    """The timing graph of a read .tflite model (see the module docstring).

    Raises:
        UnsupportedOpError: an operator with no IR op type, naming it and listing the supported.
    """
    ts = model.tensors
    names = tensor_names(model)
    # FULLY_CONNECTED reads its input as rows of I values: its 4-D inputs (an average pool's
    # N x 1 x 1 x C) are given a shape whose last dimension is I, as Gemm's cost reads it.
    rows = {op.inputs[0] for op in model.ops if op.opcode == "FULLY_CONNECTED"}
    static, folded = _static_tensors(model)
    tensors: dict[str, Tensor] = {}
    ops: list[Op] = []
    for op in model.ops:
        if op.index in folded:
            continue
        if op.opcode not in OP_TYPES:
            raise UnsupportedOpError(
                f"{model.path}: operator {op.index} ({op.opcode}, output "
                f"{names[op.outputs[0]]!r}): socsim has no mapping for TFLite operator "
                f"{op.opcode}; supported: {', '.join(sorted(OP_TYPES))}",
                hint="re-export the model with supported operators")
        op_type = OP_TYPES[op.opcode]
        attrs = _attrs(op, ts)
        acts, weights, in_shapes = [], [], []
        for k, i in enumerate(op.inputs):
            if i < 0:
                continue
            t = ts[i]
            shape = (_weight_shape(op, t)
                     if t.const and k == 1 else _ir_shape(t, rows))
            tensors.setdefault(names[i], Tensor(names[i], shape, t.dtype, t.const))
            in_shapes.append(shape)
            if i in static and not t.const:   # a folded shape value: a parameter
                continue
            if not t.const:
                acts.append(names[i])
            elif op.opcode in _OPERAND_CONSTS:
                weights.append(names[i])
        outs = []
        for i in op.outputs:
            t = ts[i]
            tensors[names[i]] = Tensor(names[i], _ir_shape(t, rows), t.dtype)
            outs.append(names[i])
        out_shapes = [tensors[n].shape for n in outs]
        family = family_of(op_type, attrs, in_shapes)
        macs, elem = op_work(op_type, attrs, in_shapes, out_shapes, [])
        ops.append(Op(name=outs[0], op_type=op_type, domain="", family=family,
                      dtype=_dtype(op, ts), inputs=tuple(acts), outputs=tuple(outs),
                      weights=tuple(weights), macs=macs, elem_ops=elem, nodes=(outs[0],),
                      attrs=attrs))
    for i in (*model.inputs, *model.outputs):
        tensors.setdefault(names[i], Tensor(names[i], _ir_shape(ts[i], rows), ts[i].dtype))
    return Graph(model.name, tuple(ops), tensors, tuple(names[i] for i in model.inputs),
                 tuple(names[i] for i in model.outputs), model.path)


def _dtype(op: TflOp, ts: tuple[TflTensor, ...]) -> str:
    if op.opcode == "QUANTIZE":
        return ts[op.outputs[0]].dtype
    first = next((ts[i] for i in op.inputs if i >= 0 and not ts[i].const), None)
    return first.dtype if first is not None else ts[op.outputs[0]].dtype


def load_tflite_model(path: str | Path) -> LoadedModel:
    """Reads a .tflite file as a :class:`LoadedModel` (see :func:`lower_tflite`).

    Raises:
        ModelError: the file cannot be read as a TFLite model.
        UnsupportedOpError: an operator socsim has no mapping for.
    """
    return LoadedModel(lower_tflite(read_tflite(path)))


def is_tflite(source: object) -> bool:
    """Whether ``source`` is a path naming a ``.tflite`` file."""
    return isinstance(source, (str, Path)) and Path(source).suffix.lower() == ".tflite"
