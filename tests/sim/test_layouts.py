"""Layout conversions between units, computed by hand from tests/fixtures/float_soc.yaml.

x[1,8,4,4] f32 (512 B) -> Relu on cpu -> y -> Relu on acc -> z, inputs in ``sram``, which acc
also addresses (a zero-copy hand-off if the layouts agree).

cpu Relu: 128 ops at 1 op/cycle, 100 MHz = 1280 ns (memory: 512 + 512 B at 1 GB/s = 1024 ns).
With acc in NHWC and channels padded to 16, y (NCHW, 8 channels) is converted on acc: it reads
512 B and writes 512 x 16 / 8 = 1024 B; 1024 B / 4 B per cycle = 256 cycles at 200 MHz =
1280 ns (memory: 512 B at 1 GB/s + 1024 B at 2 GB/s = 1024 ns). acc Relu then reads 1024 B and
writes 1024 B in acc_sram at 2 GB/s (1024 ns; 128 ops / 4 per cycle = 160 ns).
"""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from socsim.errors import PlacementError
from socsim.run import run_scenario
from tests.conftest import FIXTURES, write_scenario

CPU_NS = 1280
CONVERT_NS = 1280
ACC_NS = 1024


def _model(path):
    shape = [1, 8, 4, 4]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu_cpu"),
         helper.make_node("Relu", ["y"], ["z"], name="relu_acc")], "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def _run(tmp_path, *acc_set: str):
    sets = ["inputs_in=sram", "units.acc.memories=[acc_sram, sram]", *acc_set]
    text = f"""
name: layouts
soc: {FIXTURES / "float_soc.yaml"}
soc_set: {sets}
workloads:
  - {{name: w, model: {_model(tmp_path / "chain.onnx")}, inferences: 1}}
policy: {{name: rules, params: {{rules: [{{names: [relu_acc], unit: acc}}], default: cpu}}}}
"""
    return run_scenario(write_scenario(tmp_path, text))


def test_same_layout_is_a_zero_copy_hand_off(tmp_path):
    r = _run(tmp_path)
    assert r.summary["zero_copy_count"] == 1
    assert "LayoutConvert" not in set(r.tables.ops["op_type"])
    # acc reads y (512 B) in place from sram at 1 GB/s and writes z to acc_sram at 2 GB/s
    assert r.trace.makespan_ns == CPU_NS + 512 + 256


def test_a_layout_change_costs_a_conversion_on_the_consumer(tmp_path):
    r = _run(tmp_path, "units.acc.layout=NHWC", "units.acc.channel_align=16",
             "units.acc.convert_bytes_per_cycle=4")
    ops = r.tables.ops.set_index("op")
    conv = ops.loc["y>NHWC/c16@acc"]
    assert (conv.op_type, conv.unit, conv.bytes_in, conv.bytes_out) == ("LayoutConvert", "acc",
                                                                        512, 1024)
    assert (conv.start_ns, conv.end_ns) == (CPU_NS, CPU_NS + CONVERT_NS)
    assert ops.loc["relu_acc", "bytes_in"] == 1024 and ops.loc["relu_acc", "bytes_out"] == 1024
    assert r.trace.makespan_ns == CPU_NS + CONVERT_NS + ACC_NS
    # energy: 128 moves at acc's 1 pJ per float32 op; 512 B read from sram at 1 pJ/B, 1024 B
    # written to acc_sram at 0.5 pJ/B; acc's 2 mW leakage over the conversion
    assert conv.compute_pj == pytest.approx(128 * 1.0)
    assert conv.sram_pj == pytest.approx(512 * 1.0 + 1024 * 0.5)
    assert conv.static_pj == pytest.approx(2.0 * CONVERT_NS)
    # the read in place is still recorded as a hand-off
    assert r.summary["zero_copy_count"] == 1


def test_a_unit_that_must_convert_needs_its_conversion_rate(tmp_path):
    with pytest.raises(PlacementError, match="units.acc.convert_bytes_per_cycle"):
        _run(tmp_path, "units.acc.layout=NHWC")


def test_the_writer_converts_when_the_reader_cannot(tmp_path):
    """acc (NHWC, c16) has no conversion rate; cpu (1 B/cycle) writes the NHWC copy into its
    own sram, which acc reads in place: 1024 B at 100 MHz = 10240 ns (memory: 512 + 1024 B
    at 1 GB/s = 1536 ns); acc's Relu then reads 1024 B from sram at 1 GB/s and writes 1024 B
    to acc_sram at 2 GB/s: 1536 ns."""
    r = _run(tmp_path, "units.acc.layout=NHWC", "units.acc.channel_align=16",
             "units.cpu.convert_bytes_per_cycle=1")
    conv = r.tables.ops.set_index("op").loc["y>NHWC/c16@cpu"]
    assert (conv.unit, conv.start_ns, conv.end_ns) == ("cpu", CPU_NS, CPU_NS + 10240)
    assert r.trace.makespan_ns == CPU_NS + 10240 + 1536


def test_placement_estimate_of_a_conversion():
    from socsim.config import load_soc
    from socsim.graph.ir import Tensor
    from socsim.hw.estimate import convert_estimate_ns

    soc = load_soc(FIXTURES / "float_soc.yaml", ["units.acc.layout=NHWC",
                                                 "units.acc.channel_align=16"])
    y = Tensor("y", (1, 8, 4, 4), "float32")
    assert convert_estimate_ns(soc, "cpu", "acc", y) == float("inf")  # nobody can convert
    soc = load_soc(FIXTURES / "float_soc.yaml", ["units.acc.layout=NHWC",
                                                 "units.acc.channel_align=16",
                                                 "units.acc.convert_bytes_per_cycle=4"])
    assert convert_estimate_ns(soc, "cpu", "acc", y) == CONVERT_NS  # as simulated
    assert convert_estimate_ns(soc, None, "acc", y) == 0.0  # a workload input
    assert convert_estimate_ns(soc, "cpu", "cpu", y) == 0.0


def test_a_reader_converts_a_tensor_it_must_first_copy_in(tmp_path):
    """acc (NHWC, c16, 4 B/cycle) addresses only acc_sram, so y (in cpu's sram) is first
    copied by dma0 (100 + 512 B / 1 GB/s = 612 ns), then converted on acc (1280 ns, as
    above), then read by acc's Relu (1024 ns). Found by the property tests: the conversion's
    own source copy used to wait for the conversion (a false deadlock)."""
    r = _run(tmp_path, "units.acc.memories=[acc_sram]", "units.acc.layout=NHWC",
             "units.acc.channel_align=16", "units.acc.convert_bytes_per_cycle=4")
    copy = r.tables.transfers.set_index("tensor").loc["y"]
    assert (copy.kind, copy.src, copy.dst) == ("dma", "sram", "acc_sram")
    assert (copy.start_ns, copy.end_ns) == (CPU_NS, CPU_NS + 612)
    conv = r.tables.ops.set_index("op").loc["y>NHWC/c16@acc"]
    assert (conv.start_ns, conv.end_ns) == (CPU_NS + 612, CPU_NS + 612 + CONVERT_NS)
    assert r.trace.makespan_ns == CPU_NS + 612 + CONVERT_NS + ACC_NS
