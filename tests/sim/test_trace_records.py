"""Trace records are typed: every record of a run is its record class with one value per
field, and the report's frames take their columns from the records' fields."""

from __future__ import annotations

import textwrap

from socsim.run import run_scenario
from socsim.sim.trace import (
    CounterRecord,
    EvictionRecord,
    InferenceRecord,
    OpRecord,
    ReconfigRecord,
    TransferRecord,
)
from tests.conftest import REPO, write_scenario


def test_every_record_of_a_run_is_typed_and_whole(tmp_path):
    # the FPGA device with its kernel library, two inferences: ops, DMA transfers and
    # zero-copy hand-offs, reconfigurations where greedy_eft picks the fabric, counters
    scenario = write_scenario(tmp_path, textwrap.dedent(f"""
        name: records
        soc: {REPO / "devices" / "zynq_us.yaml"}
        workloads:
          - {{name: w, model: {REPO / "workloads" / "resnet8_int8.onnx"}, inferences: 2}}
        policy: {{name: greedy_eft}}
        run: {{seed: 0, functional: false}}
        """))
    result = run_scenario(scenario)
    trace = result.trace
    for records, cls in ((trace.ops, OpRecord), (trace.transfers, TransferRecord),
                         (trace.inferences, InferenceRecord), (trace.counters, CounterRecord),
                         (trace.evictions, EvictionRecord), (trace.reconfigs, ReconfigRecord)):
        assert all(type(r) is cls and len(r) == len(cls._fields) for r in records), cls
    assert trace.ops and trace.transfers and trace.counters and len(trace.inferences) == 2
    assert list(result.tables.ops.columns[:len(OpRecord._fields)]) == list(OpRecord._fields)
    # fields read by name agree with the frames built from the records
    first = trace.ops[0]
    row = result.tables.ops.iloc[0]
    assert (first.op, first.unit, first.end_ns - first.start_ns) == (
        row["op"], row["unit"], row["end_ns"] - row["start_ns"])
    assert trace.makespan_ns == max(r.end_ns for r in trace.inferences)
