"""ONNX -> :class:`Graph`: check, infer shapes, lower QDQ groups, cost every executed op.

Nothing is guessed (:mod:`socsim.graph.checks`): a dynamic dimension must be given a size
(``shapes``); a zero-size tensor, an opset newer than onnx knows, an empty graph and NaN weights
are errors; infinite weights (an attention mask's -inf) are kept but reported in
:attr:`LoadedModel.warnings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from socsim.errors import ModelError, UnsupportedOpError
from socsim.graph.checks import check_opsets, check_weights, resolve_dims, static_shape
from socsim.graph.cost import SUPPORTED_OPS
from socsim.graph.fusion import ops_from_lowering
from socsim.graph.ir import Graph, Tensor
from socsim.graph.patterns import apply_patterns
from socsim.graph.qdq_groups import RULES, Rules
from socsim.graph.qdq_lowering import lower


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
               shapes: Mapping[str, int] | None = None, rules: Rules = "onnxruntime") -> Graph:
    """Load an ONNX model as a socsim :class:`Graph` (see :func:`load_model`).

    Raises:
        ModelError: as :func:`load_model`.
        UnsupportedOpError: an op type socsim cannot cost.
        ValueError: unknown ``rules``.
    """
    return load_model(source, shapes, rules).graph


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    a = node.attribute[0]
    v = helper.get_attribute_value(a)
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if a.name in ("value_float", "value_floats"):
        return np.asarray(v, dtype=np.float32)
    if a.name in ("value_int", "value_ints"):
        return np.asarray(v, dtype=np.int64)
    return np.asarray(v)


def load_model(source: str | Path | onnx.ModelProto,
               shapes: Mapping[str, int] | None = None,
               rules: Rules = "onnxruntime") -> LoadedModel:
    """Load an ONNX model as a socsim :class:`Graph`, with warnings about its contents.

    The model is checked, its dynamic input dimensions are given the sizes in ``shapes``,
    shapes are inferred, QDQ groups are lowered by socsim's one QDQ fuser under ``rules``
    (:mod:`socsim.graph.qdq_lowering`, the node list the kernels execute), each executed node
    becomes one op with its cost descriptor (:mod:`socsim.graph.fusion`), and the patterns
    runtimes fold are applied (:mod:`socsim.graph.patterns`: views, an input Transpose, Pad
    into Conv, BatchNormalization / Mul / Add / activations into a float Conv).

    Args:
        source: an .onnx path or a ModelProto.
        shapes: size of each named dynamic dimension (``{"N": 1}``); every one must be given.
        rules: the QDQ fusion rules (:data:`socsim.graph.qdq_groups.RULES`): ``onnxruntime``
            (default: what an integer unit runs), ``onnxruntime_x86`` (the installed
            onnxruntime on an x86 host) or ``tflite``.

    Raises:
        ModelError: the file is not a valid model; an opset newer than onnx knows; a dynamic
            dimension without a size; a zero-size tensor; an empty graph; NaN weights.
        UnsupportedOpError: an op type socsim cannot cost.
        ValueError: unknown ``rules``.
    """
    if rules not in RULES:
        raise ValueError(f"rules must be one of {', '.join(RULES)}, got {rules!r}")
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
            value = _constant_value(node)
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
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    consts.update({n.output[0]: _constant_value(n) for n in nodes if n.op_type == "Constant"})
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    low = lower([n for n in nodes if n.op_type != "Constant"], consts, graph_outputs, opset,
                rules)
    ops = ops_from_lowering(low, tensors, where)
    ops, graph_outputs = apply_patterns(ops, tensors, consts, graph_inputs, graph_outputs)
    if not ops:
        raise ModelError(f"{where}: the graph has no operators (only constants or nothing): "
                         "nothing to simulate; check that the export wrote the model's nodes")
    graph = Graph(name, tuple(ops), tensors, graph_inputs, graph_outputs, path, rules)
    return LoadedModel(graph, tuple(warnings))
