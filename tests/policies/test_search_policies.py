"""The search policies against brute force on small graphs (tests/policies/graphs.py).

References are independent of the policies: every placement of a 6-op graph is simulated
by the engine (Simulation, no policy involved) and the best simulated latency is the
optimum; subgraph's min cut is checked against an enumeration of its own objective.
"""

from __future__ import annotations

from itertools import product

import pytest

from socsim.config import PolicySpec
from socsim.graph import load_graph
from socsim.policies import Plan, make_policy
from socsim.policies.compat import supports
from socsim.policies.estimate import Estimator, contiguous_groups
from socsim.policies.subgraph import serial_cost
from tests.policies.graphs import fork_join, save, simulate


@pytest.fixture(scope="module")
def fj(tmp_path_factory):
    return load_graph(save(fork_join(), tmp_path_factory.mktemp("m"), "fork_join"))


def _place(soc, graph, name, **params) -> Plan:
    plan = make_policy(PolicySpec(name=name, params=params), soc).place(graph, soc)
    plan.validate(graph, soc)
    return plan


def _valid_placements(soc, graph):
    options = [[u for u in soc.units if supports(soc.units[u], op, graph)] for op in graph.ops]
    return [tuple(p) for p in product(*options)]


def _acc_groups(units, acc="acc"):
    """One launch per maximal run of accelerator ops; host ops one each (subgraph's rule)."""
    groups, g = [], -1
    for i, u in enumerate(units):
        if u != acc or i == 0 or units[i - 1] != acc:
            g += 1
        groups.append(g)
    return tuple(groups)


def test_the_chain_has_64_placements_minus_the_sigmoid_on_acc(soc, chain):
    assert len(chain.ops) == 6
    assert len(_valid_placements(soc, chain)) == 32  # Sigmoid runs on host only


def test_layerwise_reaches_the_simulated_optimum_of_its_split_points(soc, chain):
    plan = _place(soc, chain, "layerwise", units=["acc", "host"])
    got, _ = simulate(soc, chain, plan)
    # brute force: every split (prefix on acc, suffix on host; Sigmoid falls back), simulated
    best = min(simulate(soc, chain, Plan(tuple(
        ("acc" if i < s else "host") if supports(soc.units["acc"], op, chain) else "host"
        for i, op in enumerate(chain.ops))))[0] for s in range(7))
    assert got == best
    # and on this chain the best split is the best of all 32 placements
    assert best == min(simulate(soc, chain, Plan(p))[0] for p in _valid_placements(soc, chain))


def test_subgraph_min_cut_is_the_optimum_of_its_objective(soc, chain, fj):
    for graph in (chain, fj):
        est = Estimator(graph, soc)
        plan = _place(soc, graph, "subgraph", accelerator="acc")
        brute = min(serial_cost(est, list(p), "acc") for p in _valid_placements(soc, graph))
        assert serial_cost(est, list(plan.units), "acc") == pytest.approx(brute, rel=1e-12)


def test_subgraph_reaches_the_simulated_optimum_on_a_chain(soc, chain):
    """On a chain, serial time is latency: the plan's simulated latency (one launch per
    accelerator subgraph) is the best over all 32 placements, each simulated with that
    launch rule."""
    plan = _place(soc, chain, "subgraph", accelerator="acc")
    assert plan.groups == _acc_groups(plan.units)
    got, _ = simulate(soc, chain, plan)
    best = min(simulate(soc, chain, Plan(p, groups=_acc_groups(p)))[0]
               for p in _valid_placements(soc, chain))
    assert got == best


def test_one_launch_per_subgraph_is_what_the_engine_charges(soc, chain):
    """Four accelerator ops in one group: the three after the first compute without the
    unit's launch_overhead_cycles (2000 in search_soc.yaml); host ops keep theirs."""
    from socsim.config.scenario import RunSettings, Workload
    from socsim.sim.engine import Job, Simulation

    units = ("acc", "acc", "acc", "acc", "host", "host")

    def cycles(plan):
        w = Workload(name="w", model="m.onnx", inferences=1)
        trace = Simulation(soc, [Job(w, chain, plan)], RunSettings(functional=False)).run()
        return [rec[9] for rec in trace.ops]

    alone = cycles(Plan(units))
    grouped = cycles(Plan(units, groups=(0, 0, 0, 0, 1, 2)))
    assert [a - g for a, g in zip(alone, grouped)] == [0, 2000, 2000, 2000, 0, 0]


@pytest.mark.parametrize("policy", ["heft", "subgraph"])
def test_heft_and_subgraph_match_or_beat_greedy_on_a_fork_join(soc, fj, policy):
    params = {"accelerator": "acc"} if policy == "subgraph" else {}
    greedy, _ = simulate(soc, fj, _place(soc, fj, "greedy_eft"))
    got, _ = simulate(soc, fj, _place(soc, fj, policy, **params))
    assert got <= greedy


def test_heft_with_inferences_in_flight_beats_or_matches_greedy_throughput(soc, fj):
    greedy = _place(soc, fj, "greedy_eft")
    heft = _place(soc, fj, "heft", inferences=4)
    g, _ = simulate(soc, fj, greedy, inferences=8, max_in_flight=4)
    h, _ = simulate(soc, fj, heft, inferences=8, max_in_flight=4)
    assert h <= g


def test_energy_aware_meets_its_bound_and_spends_less_than_greedy(soc, chain):
    greedy_lat, greedy_pj = simulate(soc, chain, _place(soc, chain, "greedy_eft"))
    bound_ms = 3 * greedy_lat / 1e6
    plan = _place(soc, chain, "energy_aware", latency_ms=bound_ms)
    lat, pj = simulate(soc, chain, plan)
    assert lat <= bound_ms * 1e6
    assert pj < greedy_pj
    # the plan fixes points, the engine ran there (a lower point somewhere)
    points = plan.operating_points
    assert set(points) == {"host", "acc"}
    assert points != {"host": 200, "acc": 400}


def test_energy_aware_under_a_tight_bound_is_fast(soc, chain):
    greedy_lat, _ = simulate(soc, chain, _place(soc, chain, "greedy_eft"))
    plan = _place(soc, chain, "energy_aware", latency_ms=greedy_lat / 1e6)
    lat, _ = simulate(soc, chain, plan)
    assert lat <= greedy_lat


def test_estimates_equal_the_simulation_for_every_placement(soc, chain):
    """The search objective is the simulated quantity (uncontended, one inference)."""
    est = Estimator(chain, soc)
    for p in _valid_placements(soc, chain)[::5]:
        lat, pj = simulate(soc, chain, Plan(p, groups=contiguous_groups(p)))
        e_lat, e_pj = est.evaluate(p, contiguous_groups(p))
        assert abs(e_lat - lat) <= len(p)  # the engine rounds each op up to whole ns
        assert e_pj == pytest.approx(pj, rel=1e-3)
