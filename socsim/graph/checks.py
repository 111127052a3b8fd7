"""Checks that keep a model from being simulated wrongly: nothing about its shapes is guessed.

A dynamic input dimension gets the size the scenario gives it (``workloads[i].shapes``) or is an
error naming it; zero-size tensors, opsets newer than the installed onnx and NaN weights are
errors; infinite weights are kept (an attention mask's -inf) and returned as warnings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from socsim.errors import ModelError


def check_opsets(model: onnx.ModelProto, where: str) -> None:
    """Refuse an opset newer than the installed onnx: its operators would be read with the
    semantics of older versions.

    Raises:
        ModelError: naming the declared opset and the newest one known.
    """
    newest = onnx.defs.onnx_opset_version()
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version > newest:
            raise ModelError(f"{where}: declares ONNX opset {imp.version}; socsim (onnx "
                             f"{onnx.__version__}) knows opsets 1 to {newest}: re-export the "
                             f"model with opset_version <= {newest}")


def _dim_text(vi: onnx.ValueInfoProto, axis: int) -> str:
    return f"dimension {axis} of {vi.name!r}"


def resolve_dims(model: onnx.ModelProto, shapes: dict[str, int],
                 where: str) -> onnx.ModelProto:
    """Give every named dynamic dimension of the graph's inputs and outputs its size.

    Raises:
        ModelError: a dimension without a size (named: how to give it one), a size for a name
            the model does not have, or a zero-size input.
    """
    g = model.graph
    consts = {i.name for i in g.initializer}
    named: dict[str, str] = {}
    unnamed: list[str] = []
    for vi in g.input:
        if vi.name in consts or not vi.type.tensor_type.HasField("shape"):
            continue
        for axis, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.HasField("dim_value"):
                if d.dim_value <= 0:
                    raise ModelError(f"{where}: input {vi.name!r} has size {d.dim_value} in "
                                     f"dimension {axis}: a zero-size tensor holds no data; "
                                     "re-export it with a positive size")
            elif d.dim_param:
                named.setdefault(d.dim_param, _dim_text(vi, axis))
            else:
                unnamed.append(_dim_text(vi, axis))
    if unnamed:
        raise ModelError(f"{where}: {unnamed[0]} has no size and no name; re-export the model "
                         "with static input shapes (or name the dimension with "
                         "onnx.tools.update_model_dims and give its size in `shapes`)")
    missing = [n for n in named if n not in shapes]
    if missing:
        example = ", ".join(f"{n}: 1" for n in named)
        raise ModelError(f"{where}: {named[missing[0]]} is dynamic ({missing[0]!r}); socsim "
                         f"simulates one size: give it in the scenario's workload as "
                         f"`shapes: {{{example}}}`")
    unknown = sorted(set(shapes) - set(named))
    if unknown:
        raise ModelError(f"{where}: `shapes` names {unknown}, which are not dynamic dimensions "
                         f"of the model's inputs; valid: {sorted(named) or 'none (all static)'}")
    if not named:
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for vi in (*model.graph.input, *model.graph.output):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param in shapes:
                d.dim_value = shapes[d.dim_param]
    return model


def static_shape(vi: onnx.ValueInfoProto, where: str) -> tuple[int, ...]:
    """The shape of an inferred tensor, every dimension known and positive.

    Raises:
        ModelError: naming the tensor and the dimension.
    """
    shape = []
    for axis, d in enumerate(vi.type.tensor_type.shape.dim):
        if not d.HasField("dim_value"):
            raise ModelError(f"{where}: shape inference left {_dim_text(vi, axis)} unknown "
                             f"({d.dim_param or 'unnamed'}), so its work cannot be costed; "
                             "export the model with static shapes (e.g. onnxsim)")
        if d.dim_value <= 0:
            raise ModelError(f"{where}: tensor {vi.name!r} has size {d.dim_value} in dimension "
                             f"{axis}: a zero-size tensor holds no data; check the model's "
                             "shapes")
        shape.append(d.dim_value)
    return tuple(shape)


def check_weights(model: onnx.ModelProto, where: str) -> list[str]:
    """NaN weights are errors; infinite ones are kept (a mask's -inf) and reported.

    Raises:
        ModelError: naming the first tensor holding NaN.
    """
    warnings = []
    tensors = list(model.graph.initializer)
    tensors += [a.t for n in model.graph.node if n.op_type == "Constant"
                for a in n.attribute if a.name == "value"]
    for t in tensors:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            continue
        try:
            value = numpy_helper.to_array(t)
        except Exception:  # noqa: BLE001, S112 - dtypes numpy cannot hold (float8, strings):
            continue  # the kernels report those if they run
        if not np.issubdtype(value.dtype, np.floating):
            continue
        nan = int(np.isnan(value).sum())
        if nan:
            raise ModelError(f"{where}: weight {t.name!r} holds {nan} NaN value(s) of "
                             f"{value.size}: its outputs would be NaN; re-export the model "
                             "from a checkpoint without NaN")
        inf = int(np.isinf(value).sum())
        if inf:
            warnings.append(f"{Path(where).name}: weight {t.name!r} holds {inf} infinite "
                            f"value(s) of {value.size} (kept as given, e.g. a mask's -inf)")
    return warnings
