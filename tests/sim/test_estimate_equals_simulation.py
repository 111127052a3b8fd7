"""The policies' estimate of an op equals the simulated time of that op when it runs alone.

One cost model (socsim.hw.cost) serves both: for every unit kind, a one-unit plan of a bundled
model on a bundled device runs one inference with every operand in one memory and one engine
(one core: no op contends with another for the unit or the memory); then each op's simulated time
is ``⌈estimate⌉`` ns (the engine holds a unit for whole nanoseconds).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from socsim.graph import load_graph
from socsim.hw.estimate import convert_estimate_ns, op_run_ns
from socsim.run import run_scenario
from tests.conftest import write_scenario

ROOT = Path(__file__).resolve().parents[2]

#: (device, unit, its kind, the one memory every operand lives in, model, one engine)
CASES = [
    ("imx8mp", "cpu", "cpu", "ddr", "resnet8_int8", ()),  # a shared DRAM: one flow per op
    ("imx8mp", "npu", "npu", "ddr", "resnet8_int8", ()),
    ("imx8mp", "dsp", "dsp", "ocram", "ds_cnn_int8", ()),  # an SRAM: bytes / bw
    ("mcu_m55_u55", "npu", "npu", "sram0", "ds_cnn_int8", ()),
    ("mcu_m55_dsp", "dsp", "dsp", "sram0", "ds_cnn_int8", ()),
    ("zynq_us", "fpga", "fpga", "ddr", "resnet8_int8", ("units.fpga.cores=1",)),
    # stack3_conv2 needs 72 > 64 crossbars: reprogrammed each run
    ("imx8mp_cim", "cim", "cim", "ddr", "resnet8_int8", ()),
    # the block-based Ethos-U model: SRAM and flash on separate ports, overlapped
    ("ethos_u55_128_high_end_embedded", "npu", "npu", "sram", "ds_cnn_int8",
     ("units.npu.memories=[sram, flash]", "units.npu.weights_in=flash")),
]


@pytest.mark.parametrize(("device", "unit", "kind", "memory", "model", "extra"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_estimate_equals_simulated_time_op_by_op(tmp_path, device, unit, kind, memory, model,
                                                 extra):
    model_path = ROOT / "workloads" / f"{model}.onnx"
    text = f"""
name: alone
soc: {ROOT / "devices" / f"{device}.yaml"}
soc_set:
  - inputs_in={memory}
  - units.{unit}.memories=[{memory}]
  - units.{unit}.weights_in={memory}
{"".join(f"  - {e}{chr(10)}" for e in extra)}workloads:
  - {{name: w, model: {model_path}, inferences: 1}}
policy: {{name: single, params: {{unit: {unit}}}}}
run: {{seed: 0, functional: false}}
"""
    result = run_scenario(write_scenario(tmp_path, text))
    soc = result.scenario.device
    assert soc.units[unit].kind == kind
    graph = load_graph(model_path)
    ops = result.tables.ops.set_index("op")
    assert (ops["unit"] == unit).sum() >= len(graph.ops) / 2  # mostly on the unit tested
    where = {}
    for op in graph.ops:
        row = ops.loc[op.name]
        where.update(dict.fromkeys(op.outputs, row["unit"]))
        estimate = op_run_ns(soc.units[row["unit"]], op, graph, soc)
        assert row["end_ns"] - row["start_ns"] == math.ceil(estimate), (op.name, row["unit"])
    for name, row in ops[ops["op_type"] == "LayoutConvert"].iterrows():
        tensor = name.split(">")[0]  # "<tensor>><layout>/c<align>@<converter>"
        writer = where.get(tensor)
        reader = next(u for u in (unit, "cpu") if u != writer)
        estimate = convert_estimate_ns(soc, writer, reader, graph.tensors[tensor])
        assert row["end_ns"] - row["start_ns"] == math.ceil(estimate), name


def test_every_registered_unit_kind_has_a_case():
    """A kind added to socsim (its registry) must be added to CASES too."""
    from socsim.hw.kind import available_unit_kinds

    assert set(available_unit_kinds()) <= {c[2] for c in CASES}
