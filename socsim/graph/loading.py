"""ONNX -> :class:`Graph`: check, infer shapes, fuse QDQ groups, cost every op.

Nothing is guessed (:mod:`socsim.graph.checks`): a dynamic dimension must be given a size
(``shapes``); a zero-size tensor, an opset newer than onnx knows, an empty graph and NaN weights
are errors; infinite weights (an attention mask's -inf) are kept but reported in
:attr:`LoadedModel.warnings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import onnx
from onnx import helper, numpy_helper, shape_inference

from socsim.errors import ModelError, UnsupportedOpError
from socsim.graph.checks import check_opsets, check_weights, resolve_dims, static_shape
from socsim.graph.cost import SUPPORTED_OPS, family_of, op_work
from socsim.graph.ir import Graph, Op, Tensor

_QDQ = {"QuantizeLinear", "DequantizeLinear"}


def dtype_name(elem_type: int) -> str:
    """socsim dtype name of an ONNX TensorProto element type (``int8``, ``float32``...)."""
    np_type = helper.tensor_dtype_to_np_dtype(elem_type)
    name = onnx.TensorProto.DataType.Name(elem_type).lower()
    return {"float": "float32", "double": "float64"}.get(name, str(np_type) if name == "bool"
                                                         else name)


@dataclass(frozen=True)
class LoadedModel:
    """A graph and what the user should know about its model.

    Attributes:
        graph: the loaded graph.
        warnings: things kept as they are but worth a look (e.g. infinite weights).
    """

    graph: Graph
    warnings: tuple[str, ...] = ()


def _read(source: str | Path | onnx.ModelProto) -> tuple[onnx.ModelProto, str, str | None]:
    if isinstance(source, onnx.ModelProto):
        return source, source.graph.name or "model", None
    path = Path(source)
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise ModelError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory; give an .onnx file") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc}); give a readable .onnx "
                         "file") from None
    except Exception as exc:  # onnx raises DecodeError, ValueError... for a broken file
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})",
                         hint="regenerate it (workloads/generate.py) or re-export it") from None
    return model, path.stem, str(path)


def load_graph(source: str | Path | onnx.ModelProto,
               shapes: Mapping[str, int] | None = None) -> Graph:
    """Load an ONNX model as a socsim :class:`Graph` (see :func:`load_model`).

    Raises:
        ModelError: as :func:`load_model`.
        UnsupportedOpError: an op type socsim cannot cost.
    """
    return load_model(source, shapes).graph


def load_model(source: str | Path | onnx.ModelProto,
               shapes: Mapping[str, int] | None = None) -> LoadedModel:
    """Load an ONNX model as a socsim :class:`Graph`, with warnings about its contents.

    The model is checked, its dynamic input dimensions are given the sizes in ``shapes``,
    shapes are inferred, QuantizeLinear / DequantizeLinear pairs around a compute node are fused
    into it, DequantizeLinear of constants is folded into the consumer's weights, and every op
    gets its cost descriptor.

    Args:
        source: an .onnx path or a ModelProto.
        shapes: size of each named dynamic dimension (``{"N": 1}``); every one must be given.

    Raises:
        ModelError: the file is not a valid model; an opset newer than onnx knows; a dynamic
            dimension without a size; a zero-size tensor; an empty graph; NaN weights.
        UnsupportedOpError: an op type socsim cannot cost.
    """
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() == ".tflite":
        from socsim.graph.tflite_graph import load_tflite_model  # a .tflite: read as TFLite
        return load_tflite_model(source)
    model, name, path = _read(source)
    where = path or name
    check_opsets(model, where)
    model = resolve_dims(model, dict(shapes or {}), where)
    try:
        onnx.checker.check_model(model)
        model = shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as exc:
        raise ModelError(f"{where}: invalid ONNX model: {str(exc).splitlines()[0]}; check it "
                         "with onnx.checker.check_model and re-export it") from None
    warnings = check_weights(model, where)
    g = model.graph
    for i, node in enumerate(g.node):  # before shapes: unsupported ops have data-dependent ones
        if node.op_type not in SUPPORTED_OPS and node.op_type != "Constant":
            label = node.name or f"{node.op_type}_{i}"
            raise UnsupportedOpError(f"{where}: node {label!r}: socsim has no cost model "
                                     f"for op type {node.op_type!r}; supported: "
                                     f"{', '.join(sorted(SUPPORTED_OPS))}")
    tensors: dict[str, Tensor] = {}
    for init in g.initializer:
        tensors[init.name] = Tensor(init.name, tuple(init.dims), dtype_name(init.data_type), True)
    for vi in [*g.input, *g.value_info, *g.output]:
        if vi.name in tensors:
            continue
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            raise ModelError(f"{where}: tensor {vi.name!r} has no inferable shape",
                             hint="export the model with static input shapes")
        shape = static_shape(vi, where)
        tensors[vi.name] = Tensor(vi.name, shape, dtype_name(tt.elem_type))
    nodes = list(g.node)
    for i, node in enumerate(nodes):
        if node.op_type == "Constant":
            value = numpy_helper.to_array(node.attribute[0].t) if node.attribute[0].t else None
            if value is not None:
                tensors[node.output[0]] = Tensor(node.output[0], tuple(value.shape),
                                                 str(value.dtype), True)
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    missing = [o for n in nodes for o in n.output if o and o not in tensors]
    if missing:
        raise ModelError(f"{where}: no shape inferred for {missing[:3]}",
                         hint="export the model with static input shapes")
    graph_inputs = tuple(i.name for i in g.input if not tensors[i.name].const)
    graph_outputs = tuple(o.name for o in g.output)
    ops = _fuse_and_cost(nodes, tensors, set(graph_outputs), where)
    ops = _fuse_activations(ops, set(graph_outputs))
    if not ops:
        raise ModelError(f"{where}: the graph has no operators (only constants or nothing): "
                         "nothing to simulate; check that the export wrote the model's nodes")
    graph = Graph(name, tuple(ops), tensors, graph_inputs, graph_outputs, path)
    return LoadedModel(graph, tuple(warnings))


def _fuse_and_cost(nodes: list[onnx.NodeProto], tensors: dict[str, Tensor],
                   graph_outputs: set[str], where: str) -> list[Op]:
    consumers: dict[str, list[onnx.NodeProto]] = {}
    producer: dict[str, onnx.NodeProto] = {}
    for node in nodes:
        for t in node.input:
            consumers.setdefault(t, []).append(node)
        for t in node.output:
            producer[t] = node

    def is_const(t: str) -> bool:
        return t in tensors and tensors[t].const

    alias: dict[str, str] = {}  # DQ output -> the quantized tensor it dequantizes
    absorbed: dict[str, str] = {}  # Q/DQ node name -> compute node name that absorbs it
    for node in nodes:
        if node.op_type == "DequantizeLinear":
            users = consumers.get(node.output[0], [])
            fusable = (node.output[0] not in graph_outputs and users
                       and all(u.op_type not in _QDQ and u.op_type != "Constant" for u in users))
            if is_const(node.input[0]) or fusable:
                alias[node.output[0]] = node.input[0]
                absorbed[node.name] = users[0].name if users else node.name
    out_alias: dict[str, str] = {}  # compute output -> the Q output that replaces it
    for node in nodes:
        if node.op_type in _QDQ or node.op_type == "Constant":
            continue
        if len(node.output) != 1:
            continue
        users = consumers.get(node.output[0], [])
        if (len(users) == 1 and users[0].op_type == "QuantizeLinear"
                and node.output[0] not in graph_outputs):
            out_alias[node.output[0]] = users[0].output[0]
            absorbed[users[0].name] = node.name

    ops: list[Op] = []
    for node in nodes:
        if node.name in absorbed or node.op_type == "Constant":
            continue
        ins = [alias.get(t, t) for t in node.input if t]
        outs = [out_alias.get(t, t) for t in node.output if t]
        members = [node.name, *(n for n, owner in absorbed.items() if owner == node.name)]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        in_shapes = [tensors[t].shape for t in ins]
        try:
            family = family_of(node.op_type, attrs, in_shapes)
        except UnsupportedOpError as exc:
            raise UnsupportedOpError(f"{where}: node {node.name!r}: {exc}") from None
        macs, elem = op_work(node.op_type, attrs, in_shapes, [tensors[t].shape for t in outs], [])
        acts = tuple(t for t in ins if not is_const(t))
        weights = tuple(t for t in ins if is_const(t) and _is_operand(node.op_type, t, node, alias))
        ops.append(Op(
            name=node.name, op_type=node.op_type, domain=node.domain, family=family,
            dtype=_compute_dtype(node.op_type, acts, outs, weights, tensors),
            inputs=acts, outputs=tuple(outs), weights=weights, macs=macs, elem_ops=elem,
            nodes=tuple(members), attrs=attrs))
    return ops


#: Activations integer hardware applies as the clamp of the producer's requantization.
_ACTIVATIONS = ("Relu", "Clip", "LeakyRelu")
#: Integer ops whose requantization can absorb a following activation.
_ABSORBERS = ("conv", "depthwise", "gemm")


def _fuse_activations(ops: list[Op], graph_outputs: set[str]) -> list[Op]:
    """Fold an integer ``Relu`` / ``Clip`` / ``LeakyRelu`` (a ``DQ -> act -> Q`` group) into
    the integer conv, depthwise or matrix op it follows, when it is that op's only reader:
    NPUs, DSP libraries and onnxruntime's QDQ fusion all apply it as the clamp (or the
    lookup) of the producer's requantization, at no extra work. The fused op keeps the
    producer's name and cost, takes the activation's output, and lists both node sets.
    """
    readers: dict[str, int] = {}
    for op in ops:
        for t in op.inputs:
            readers[t] = readers.get(t, 0) + 1
    producer = {op.outputs[0]: i for i, op in enumerate(ops) if len(op.outputs) == 1}
    fused: list[Op | None] = list(ops)
    for j, act in enumerate(ops):
        if act.op_type not in _ACTIVATIONS or len(act.inputs) != 1 or not _small_int(act.dtype):
            continue
        i = producer.get(act.inputs[0])
        if i is None or fused[i] is None:
            continue
        prod = fused[i]
        if (prod.family not in _ABSORBERS or not _small_int(prod.dtype)
                or readers.get(act.inputs[0]) != 1 or act.inputs[0] in graph_outputs):
            continue
        fused[i] = replace(prod, outputs=act.outputs, weights=prod.weights + act.weights,
                           nodes=prod.nodes + act.nodes,
                           attrs={**prod.attrs, "fused_activation": act.op_type})
        fused[j] = None
        for t in act.outputs:
            producer[t] = i
    return [op for op in fused if op is not None]


def _is_operand(op_type: str, tensor: str, node: onnx.NodeProto, alias: dict[str, str]) -> bool:
    """Whether a constant input is an operand (weight, bias) rather than a scale/zero-point
    or a shape: only operands are streamed from memory and counted as weight bytes."""
    if op_type in ("Reshape", "Expand", "Pad", "Slice", "Squeeze", "Unsqueeze", "Clip",
                   "ReduceMean", "ReduceSum", "Split"):
        return False
    if op_type in ("QuantizeLinear", "DequantizeLinear"):
        return False
    return True


def _small_int(dtype: str) -> bool:
    return dtype.startswith(("int", "uint")) and dtype not in ("int32", "int64", "uint32",
                                                               "uint64")


def _compute_dtype(op_type: str, acts: tuple[str, ...], outs: list[str],
                   weights: tuple[str, ...], tensors: dict[str, Tensor]) -> str:
    """The precision an op computes in.

    An integer op either reads and writes quantized tensors (a fused ``DQ -> op -> Q``, an
    integer view), is a QuantizeLinear, or multiplies quantized operands (``DQ -> MatMul``
    with a float output, what onnxruntime runs as MatMulIntegerToFloat); it computes in the type of its
    quantized operand. A DequantizeLinear computes in its input type. Anything else (e.g. a
    Div fed by a DequantizeLinear whose result stays float, or an Erf on float inputs whose
    result is quantized) computes in float.
    """
    operand = next((tensors[t].dtype for t in (*acts, *weights)
                    if _small_int(tensors[t].dtype)), None)
    out_int = next((tensors[t].dtype for t in outs if _small_int(tensors[t].dtype)), None)
    if op_type == "DequantizeLinear" and operand:
        return operand
    if op_type == "QuantizeLinear" and out_int:
        return out_int
    if operand and (out_int or op_type in ("Conv", "MatMul", "Gemm", "ConvInteger",
                                             "MatMulInteger")):
        return operand
    for t in (*acts, *outs):
        if tensors[t].dtype.startswith("float"):
            return tensors[t].dtype
    return tensors[acts[0]].dtype if acts else "float32"
