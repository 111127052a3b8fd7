"""Random ONNX graphs for the property tests: chains and DAGs of 1-30 layers of Conv / MatMul /
Add / Relu / Concat / AveragePool / Sigmoid, float32 or int8 QDQ, valid and shape-inferable."""

from __future__ import annotations

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper


class _GraphBuilder:
    """Accumulates nodes and initializers; in QDQ mode, activations are int8 and every layer is
    ``DQ -> op -> Q`` with int8 weights behind a DequantizeLinear."""

    def __init__(self, quant: bool, rng: np.random.Generator):
        self.quant = quant
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0
        if quant:
            self.inits += [numpy_helper.from_array(np.array(0.05, np.float32), "s"),
                           numpy_helper.from_array(np.array(0, np.int8), "zp")]

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def node(self, op_type: str, inputs: list[str], **attrs) -> str:
        out = self.name("t")
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name(op_type.lower()),
                                           **attrs))
        return out

    def weight(self, shape: tuple[int, ...]) -> str:
        w = self.name("W")
        if self.quant:
            self.inits.append(numpy_helper.from_array(
                self.rng.integers(-127, 128, size=shape).astype(np.int8), w))
            return self.node("DequantizeLinear", [w, "s", "zp"])
        self.inits.append(numpy_helper.from_array(
            self.rng.normal(size=shape).astype(np.float32), w))
        return w

    def layer(self, op_type: str, acts: list[str], weights: list[str] = (), **attrs) -> str:
        """One layer on activations ``acts``: dequantize them first and quantize the result
        in QDQ mode."""
        if self.quant:
            acts = [self.node("DequantizeLinear", [a, "s", "zp"]) for a in acts]
        out = self.node(op_type, [*acts, *weights], **attrs)
        return self.node("QuantizeLinear", [out, "s", "zp"]) if self.quant else out


@st.composite
def onnx_models(draw) -> onnx.ModelProto:
    """A valid, shape-inferable ONNX model: a chain or a DAG of 1-30 layers."""
    quant = draw(st.booleans())
    spatial = draw(st.booleans())  # [1, C, H, W] activations, else [1, K]
    hw = draw(st.integers(1, 6))
    chain = draw(st.booleans())
    layers = draw(st.integers(1, 30))
    b = _GraphBuilder(quant, np.random.default_rng(draw(st.integers(0, 3))))
    c0 = draw(st.integers(1, 16))
    shape_of = {"x": (1, c0, hw, hw) if spatial else (1, c0)}
    x = "x"
    if quant:
        q = b.node("QuantizeLinear", ["x", "s", "zp"])
        shape_of[q] = shape_of["x"]
        x = q
    live = [x]
    consumed: set[str] = set()
    kinds = ["Conv", "Add", "Relu", "Concat", "AveragePool", "Sigmoid"] if spatial else \
        ["MatMul", "Add", "Relu", "Concat", "Sigmoid"]
    for _ in range(layers):
        kind = draw(st.sampled_from(kinds))
        a = live[-1] if chain else draw(st.sampled_from(live))
        shape = shape_of[a]
        if kind == "Conv":
            k = draw(st.sampled_from([1, 3]))
            c_out = draw(st.integers(1, 16))
            out = b.layer("Conv", [a], [b.weight((c_out, shape[1], k, k))], kernel_shape=[k, k],
                          pads=[k // 2] * 4)
            new = (1, c_out, hw, hw)
        elif kind == "MatMul":
            n = draw(st.integers(1, 64))
            out = b.layer("MatMul", [a], [b.weight((shape[1], n))])
            new = (1, n)
        elif kind in ("Add", "Concat"):
            same = [t for t in live if shape_of[t] == shape] if kind == "Add" else live
            other = a if chain else draw(st.sampled_from(same))
            consumed.add(other)
            if kind == "Add":
                out, new = b.layer("Add", [a, other]), shape
            else:
                out = b.layer("Concat", [a, other], axis=1)
                new = (1, shape[1] + shape_of[other][1], *shape[2:])
        elif kind == "AveragePool":
            out, new = b.layer("AveragePool", [a], kernel_shape=[3, 3], pads=[1] * 4), shape
        else:
            out, new = b.layer(kind, [a]), shape
        consumed.add(a)
        shape_of[out] = new
        live.append(out)
    leaves = [t for t in live if t not in consumed and t != "x"] or [live[-1]]
    outputs = []
    for t in leaves:
        if quant:
            t_out = b.node("DequantizeLinear", [t, "s", "zp"])
        else:
            t_out = t
        outputs.append(helper.make_tensor_value_info(t_out, TensorProto.FLOAT, shape_of[t]))
    graph = helper.make_graph(b.nodes, "random",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             shape_of["x"])],
                              outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


