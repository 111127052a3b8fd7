"""Compares a tf2onnx conversion run by socsim with TFLite's reference-kernel tensors.

tf2onnx names each QuantizeLinear output (and the int8 graph input) after the TFLite tensor it
stands for, so every such tensor of the ONNX graph is matched to the TFLite tensor of that name;
4-D tensors are NCHW on the ONNX side (tf2onnx transposes) and NHWC in TFLite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from socsim.execute import compile_model
from socsim.graph.tflite_read import read_tflite


def with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """A copy of ``model`` whose graph also outputs ``names`` (so they are kept)."""
    model = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]}
    have = {o.name for o in model.graph.output}
    for n in names:
        if n not in have and n in types:
            model.graph.output.append(helper.make_tensor_value_info(n, types[n], None))
    return model


def compare_onnx(onnx_path: Path, qdq: str, arithmetic=None
                 ) -> tuple[int, int, list[tuple[str, int, int]]]:
    """(tensors compared, tensors differing, [(name, differing elements, size)]) of the ONNX
    conversion's quantized tensors that carry a TFLite tensor's name."""
    tfl = read_tflite(onnx_path.with_suffix(".tflite"))
    with np.load(onnx_path.with_suffix(".npz")) as data:
        ref = {t.name: data[f"t{t.index}"] for t in tfl.tensors if f"t{t.index}" in data.files}
    model = onnx.load(str(onnx_path))
    produced = {o for n in model.graph.node if n.op_type == "QuantizeLinear" for o in n.output}
    names = [n for n in produced if n in ref]
    compiled = compile_model(with_outputs(model, names), qdq=qdq, arithmetic=arithmetic)
    feeds = {}
    for name in compiled.input_names:
        feeds[name] = ref[name]
    outs = compiled.run(feeds).outputs
    rows = []
    for name in sorted(names):
        got, want = outs[name], ref[name]
        if got.shape != want.shape and got.ndim == 4:
            got = got.transpose(0, 2, 3, 1)
        rows.append((name, int(np.count_nonzero(got.astype(np.int64)
                                                 != want.astype(np.int64))), want.size))
    return len(rows), sum(1 for r in rows if r[1]), rows
