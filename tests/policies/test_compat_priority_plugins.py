"""Compatibility limits, priority / EDF queues, and a policy from an entry point."""

from __future__ import annotations

import textwrap

import pytest

from socsim.config import PolicySpec, load_soc
from socsim.config.scenario import RunSettings, Workload
from socsim.graph import load_graph
from socsim.policies import Plan, make_policy, registry
from socsim.run import run_scenario
from socsim.sim.engine import Job, Simulation
from tests.conftest import write_scenario
from tests.plugin_support import install_distribution
from tests.policies.graphs import SOC, big_kernel_conv, chain6, save


@pytest.fixture(scope="module")
def soc():
    return load_soc(SOC)


def test_a_kernel_over_the_limits_falls_back_with_a_note(soc, tmp_path):
    graph = load_graph(save(big_kernel_conv(), tmp_path, "conv"))
    plan = make_policy(PolicySpec(name="single", params={"unit": "acc"}), soc).place(graph, soc)
    assert plan.units == ("acc", "host")
    assert any("conv5" in n and "kernel_max [3, 3]" in n for n in plan.notes)
    for name, params in [("greedy_eft", {}), ("heft", {}), ("subgraph", {"accelerator": "acc"}),
                         ("layerwise", {"units": ["acc", "host"]})]:
        placed = make_policy(PolicySpec(name=name, params=params), soc).place(graph, soc)
        assert placed.units[1] == "host", name
    from socsim.errors import PlacementError

    with pytest.raises(PlacementError, match="conv5.*kernel_max"):
        Plan(("acc", "acc")).validate(graph, soc)


def _one_unit_soc(soc):
    """Only `host`: every workload contends for its one engine."""
    return soc.model_copy(update={"units": {"host": soc.units["host"]}})


def test_edf_serves_the_earliest_deadline_first(soc, tmp_path):
    """Three one-inference workloads arrive at t = 0 on one engine: `first` takes it; `late`
    (deadline 50 ms) queued before `soon` (5 ms). FIFO serves `late` next; EDF `soon`."""
    one = _one_unit_soc(soc)
    graph = load_graph(save(chain6(), tmp_path, "chain"))
    units = ("host",) * len(graph.ops)

    def order(queue):
        jobs = [Job(Workload(name=n, model="m.onnx", inferences=1, deadline_ms=d), graph,
                    Plan(units, queue=queue))
                for n, d in (("first", 100.0), ("late", 50.0), ("soon", 5.0))]
        trace = Simulation(one, jobs, RunSettings(functional=False)).run()
        firsts = {}
        for rec in trace.ops:
            firsts.setdefault(rec[0], rec[7])  # workload -> start of its first op
        return sorted(firsts, key=firsts.get)

    assert order("fifo") == ["first", "late", "soon"]
    assert order("edf") == ["first", "soon", "late"]


def test_a_high_priority_workload_waits_less_than_under_fifo(tmp_path):
    model = save(chain6(), tmp_path, "chain")
    text = textwrap.dedent(f"""
        name: prio
        soc: {SOC}
        soc_set: ["units.acc.ops=[Relu]"]
        workloads:
          - {{name: bulk, model: {model}, rate_hz: 4000, duration_s: 0.01, max_in_flight: 4}}
          - {{name: urgent, model: {model}, rate_hz: 1000, duration_s: 0.01, priority: 10}}
        policy: {{name: single, params: {{unit: host}}}}
        run: {{seed: 0, functional: false}}
        """)
    path = write_scenario(tmp_path, text)
    fifo = run_scenario(path, [f"run.out={tmp_path / 'f'}"]).summary
    prio = run_scenario(path, [f"run.out={tmp_path / 'p'}", "policy.name=priority",
                               "policy.params={placement: {name: single, params: {unit: host}}}"]
                        ).summary
    u_f = fifo["workloads"]["urgent"]["latency_ms"]["p50"]
    u_p = prio["workloads"]["urgent"]["latency_ms"]["p50"]
    assert u_p < u_f
    assert prio["workloads"]["bulk"]["latency_ms"]["p50"] >= fifo["workloads"]["bulk"][
        "latency_ms"]["p50"]


PLUGIN = '''
from socsim.policies import Plan, PlacementPolicy


class First(PlacementPolicy):
    """Every op on the unit declared first."""

    name = "first_unit"

    def place(self, graph, soc):
        return Plan((list(soc.units)[0],) * len(graph.ops), ("placed by first_unit",))
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    site = install_distribution(tmp_path, monkeypatch, "socsim_test_policy", PLUGIN,
                                "[socsim.policies]\nfirst_unit = socsim_test_policy:First\n")
    monkeypatch.setattr(registry.POLICIES, "entries", dict(registry.POLICIES.entries))
    monkeypatch.setattr(registry.POLICIES, "loaded", False)
    return site


def test_a_policy_from_an_entry_point_is_found_and_used(tmp_path, plugin):
    assert "first_unit" in registry.available_policies()
    model = save(chain6(), tmp_path, "chain")
    text = textwrap.dedent(f"""
        name: plug
        soc: {SOC}
        workloads:
          - {{name: w, model: {model}, inferences: 1}}
        policy: {{name: first_unit}}
        run: {{seed: 0, functional: false}}
        """)
    result = run_scenario(write_scenario(tmp_path, text))
    assert set(result.tables.ops["unit"]) == {"host"}
    assert "placed by first_unit" in result.summary["notes"]


def test_a_fallback_names_the_rewrite_that_would_keep_the_op(soc, tmp_path):
    """`acc` lacks HardSwish but has Mul, Add and Clip, the ops of its rewrite
    (socsim/quant/substitute.py): the note says `substitute: true` would keep it there."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("HardSwish", ["x"], ["y"], name="hs")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    g = load_graph(save(model, tmp_path, "hs"))
    acc = soc.units["acc"].model_copy(update={"ops": [*soc.units["acc"].ops, "Mul", "Clip"]})
    host = soc.units["host"].model_copy(update={"ops": [*soc.units["host"].ops, "HardSwish"]})
    device = soc.model_copy(update={"units": {"host": host, "acc": acc}})
    plan = make_policy(PolicySpec(name="single", params={"unit": "acc"}), device).place(
        g, device)
    assert plan.units == ("host",)
    assert any("rewritable as Mul/Add/Clip" in n and "substitute: true" in n
               for n in plan.notes), plan.notes
