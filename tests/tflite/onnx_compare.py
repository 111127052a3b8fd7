"""Compares a tf2onnx conversion run by socsim with TFLite's reference-kernel tensors.

tf2onnx names each tensor that stands for a TFLite tensor (QuantizeLinear outputs, the integer
Concat / Reshape / Transpose outputs, the graph outputs) after it, so every tensor of the ONNX
graph that carries a TFLite tensor's name is matched to it;
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


def layouts(model: onnx.ModelProto) -> dict[str, str]:
    """``NHWC`` or ``NCHW`` of every tensor, followed from the graph inputs (NHWC, as TFLite's)
    through tf2onnx's layout Transposes; other ops pass their first input's layout on."""
    layout = {i.name: "NHWC" for i in model.graph.input}
    for node in model.graph.node:
        src = layout.get(node.input[0], "NHWC") if node.input else "NHWC"
        if node.op_type == "Reshape":  # tf2onnx reshapes (N, H, W, 1) to (N, 1, H, W)
            src = "unknown"
        if node.op_type == "Transpose":
            perm = list(helper.get_attribute_value(node.attribute[0]))
            src = {(0, 3, 1, 2): "NCHW", (0, 2, 3, 1): "NHWC"}.get(tuple(perm), src)
        for o in node.output:
            layout[o] = src
    return layout


def compare_onnx(onnx_path: Path, qdq: str, arithmetic=None
                 ) -> tuple[int, int, list[tuple[str, int, int]]]:
    """(tensors compared, tensors differing, [(name, differing elements, size)]) of the ONNX
    conversion's quantized tensors that carry a TFLite tensor's name."""
    tfl = read_tflite(onnx_path.with_suffix(".tflite"))
    with np.load(onnx_path.with_suffix(".npz")) as data:
        ref = {t.name: data[f"t{t.index}"] for t in tfl.tensors if f"t{t.index}" in data.files}
    model = onnx.load(str(onnx_path))
    produced = {o for n in model.graph.node for o in n.output}
    names = [n for n in produced if n in ref]
    compiled = compile_model(with_outputs(model, names), qdq=qdq, arithmetic=arithmetic)
    feeds = {}
    for name in compiled.input_names:
        feeds[name] = ref[name]
    outs = compiled.run(feeds).outputs
    layout = layouts(model)
    rows = []
    for name in sorted(names):
        got, want = outs[name], ref[name]
        if got.ndim == 4:  # the layout decides where the shapes cannot (C = H = W)
            nhwc = got.transpose(0, 2, 3, 1)
            if got.shape != want.shape or layout.get(name) == "NCHW":
                got = nhwc
        rows.append((name, int(np.count_nonzero(got.astype(np.int64)
                                                 != want.astype(np.int64))), want.size))
    return len(rows), sum(1 for r in rows if r[1]), rows
