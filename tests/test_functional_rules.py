"""The functional path computes the ops the simulator times: it lowers QDQ groups by the timing
graph's rules (``onnxruntime``, the target's), not the x86 host's (socsim.functional)."""

from __future__ import annotations

from socsim.config import load_scenario
from socsim.execute import compile_model
from socsim.graph import load_graph
from socsim.graph.cost import VIEW_OPS
from tests.conftest import REPO


def test_functional_ops_equal_timing_ops_on_a_bundled_scenario():
    scenario = load_scenario(REPO / "scenarios" / "imx8mp_mobilenetv2.yaml")
    path = scenario.workloads[0].model
    graph = load_graph(path)
    assert graph.rules == "onnxruntime"
    compiled = compile_model(path, rules=graph.rules)
    # the timing graph elides views (a Flatten relabels its input): compare the rest
    functional = [(s.ctx.name, s.ctx.op_type) for s in compiled.steps
                  if s.ctx.op_type not in VIEW_OPS]
    timing = [op.name for op in graph.ops]
    assert [name for name, _ in functional] == timing
    # every int8 op with MACs in the timing graph is an integer op functionally
    kinds = dict(functional)
    for op in graph.ops:
        if op.macs and op.dtype == "int8":
            assert kinds[op.name].startswith(("QLinear", "QGemm")), (op.name, kinds[op.name])
    # the host's rules run the int8-activation Convs as DQ -> float Conv -> Q: other ops
    host = [s.ctx.name for s in compile_model(path).steps if s.ctx.op_type not in VIEW_OPS]
    assert host != timing and len(host) > len(timing)
