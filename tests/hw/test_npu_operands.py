"""The NPU model's operand handling (issue 11 item 5), each against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from socsim.config.units import Npu
from socsim.graph import load_graph
from socsim.graph.ir import Graph, Op, Tensor
from socsim.hw.npu import npu_cycles
from tests.hw.test_npu_scalesim import CONFIGS
from tools.scalesim.compare import npu

U55 = CONFIGS["u55_16x16"]  # devices/mcu_m55_u55.yaml's 16x16 array; SRAMs 32 / 16 / 16 KiB


def _model(nodes, inputs, outputs, inits, opset=19):
    graph = helper.make_graph(nodes, "m", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def test_matmul_with_a_constant_first_operand_reduces_over_its_columns():
    """Y = W x with W [8, 512] constant, x [512, 16]: M = 8, K = 512, N = 16. Output
    stationary on 16x16: one fold (ceil(8/16) * ceil(16/16)) of T + R + C - 2 = 512 + 30."""
    s = numpy_helper.from_array(np.array(0.02, np.float32), "s")
    zp = numpy_helper.from_array(np.array(0, np.int8), "zp")
    w = numpy_helper.from_array(np.ones((8, 512), np.int8), "w")
    model = _model(
        [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="q_x"),
         helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xd"], name="dq_x"),
         helper.make_node("DequantizeLinear", ["w", "s", "zp"], ["wd"], name="dq_w"),
         helper.make_node("MatMul", ["wd", "xd"], ["y"], name="wx"),
         helper.make_node("QuantizeLinear", ["y", "s", "zp"], ["yq"], name="q_y")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [512, 16])],
        [helper.make_tensor_value_info("yq", TensorProto.INT8, [8, 16])], [s, zp, w])
    g = load_graph(model)
    op = g.op("wx")
    assert (op.dtype, op.inputs, op.weights, op.operands) == ("int8", ("xq",), ("w",),
                                                              ("w", "xq"))
    cyc = npu_cycles(npu(U55, "os"), op, g)
    assert cyc.compute == 542
    assert cyc.utilisation == pytest.approx(8 * 512 * 16 / (542 * 16 * 16))
    assert cyc.utilisation <= 1.0


def test_qlinearconv_without_kernel_shape_reads_its_window_from_the_weights():
    """QOperator QLinearConv, 3x3 weights, no kernel_shape attribute, x [1, 3, 8, 8], pads 1.
    Distinct ifmap words: 3 channels x ((8 - 1) * 1 + 3)^2 = 300 (a 1x1 window would be 3
    x 8 x 8 = 192). Buffered u55 (fill 10 words/cycle): fill max(ceil(300/10),
    ceil(27*4/10)) = 30, + 1 hit, drain ceil(64*4 / 16) = 16 -> 47; the array: M = 64, K = 27,
    N = 4, os: ceil(64/16) * ceil(4/16) = 4 folds of 27 + 30 = 57 -> 228."""
    inits = [numpy_helper.from_array(np.array(v, dt), n) for n, v, dt in (
        ("xs", 0.02, np.float32), ("xz", 0, np.int8), ("ws", 0.01, np.float32),
        ("wz", 0, np.int8), ("ys", 0.05, np.float32), ("yz", 0, np.int8))]
    inits.append(numpy_helper.from_array(np.ones((4, 3, 3, 3), np.int8), "w"))
    model = _model(
        [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"],
                          name="qconv", pads=[1, 1, 1, 1])],
        [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 4, 8, 8])], inits)
    g = load_graph(model)
    op = g.op("qconv")
    assert "kernel_shape" not in op.attrs and op.macs == 64 * 27 * 4
    assert npu_cycles(npu(U55, "os", buffered=True), op, g).compute == 228 + 47


def _packed_matmul(dtype: str) -> tuple[Op, Graph]:
    """MatMul x [64, 1024] @ w [1024, 64] in ``dtype`` (built directly: no ONNX needed)."""
    tensors = {"x": Tensor("x", (64, 1024), dtype), "w": Tensor("w", (1024, 64), dtype, True),
               "y": Tensor("y", (64, 64), dtype)}
    op = Op("mm", "MatMul", "", "gemm", dtype, ("x",), ("y",), ("w",), 64 * 1024 * 64, 0,
            ("mm",), onnx_inputs=("x", "w"))
    return op, Graph("g", (op,), tensors, ("x",), ("y",))


@pytest.mark.parametrize("dtype,word_bytes", [("int4", 0.5), ("uint4", 0.5), ("uint16", 2),
                                              ("int8", 1)])
def test_sram_words_follow_the_element_width(dtype, word_bytes):
    """Words an SRAM half holds = KiB * 1024 / bytes per element / 2: int4 and uint4 pack two
    elements to a byte (ONNX's int4 packing), uint16 takes two bytes."""
    base = npu(U55, "os", buffered=True)
    unit = Npu.model_validate(base.model_dump() | {
        "macs_per_pe_per_cycle": {**base.macs_per_pe_per_cycle, dtype: 1}})
    op, g = _packed_matmul(dtype)
    half = {k: int(U55[k] * 1024 / word_bytes) // 2
            for k in ("ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib")}
    fill = max(-(-min(64 * 1024, half["ifmap_sram_kib"]) // 10),
               -(-min(1024 * 64, half["filter_sram_kib"]) // 10))
    drain = -(-min(64 * 64, half["ofmap_sram_kib"]) // 16)
    array = 4 * 4 * (1024 + 30)  # ceil(64/16) * ceil(64/16) folds of K + R + C - 2
    assert npu_cycles(unit, op, g).compute == array + fill + 1 + drain
    assert g.tensors["w"].nbytes == int(1024 * 64 * word_bytes)
