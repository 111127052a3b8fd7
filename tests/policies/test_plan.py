"""The one plan check, the plan's operating points and queue in the engine, greedy_eft's
estimates at the point in force and with shared DRAM, and ``socsim run --explain``."""

from __future__ import annotations

import textwrap

import pytest

from socsim.cli import main
from socsim.config import PolicySpec
from socsim.config.scenario import GovernorSpec, RunSettings, Workload
from socsim.errors import PlacementError
from socsim.policies import Plan, make_policy
from socsim.policies.estimate import Estimator, at_points, points_in_force
from socsim.policies.greedy_eft import DramBookings
from socsim.sim.engine import Job, Simulation
from tests.conftest import write_scenario
from tests.policies.graphs import SOC, chain6, save, simulate


@pytest.mark.parametrize("plan, match", [
    (Plan(("acc",) * 6), "sigmoid2.*no Sigmoid"),
    (Plan(("host",) * 6, groups=(0, 0, 0, 0, 0, 0)), None),
    (Plan(("acc", "host", "host", "host", "host", "host"), groups=(0, 0, 1, 2, 3, 4)),
     "launch group 0 spans units 'acc' and 'host'"),
    (Plan(("host",) * 6, points=(("host", 150.0),)), r"150 MHz, not one of its points"),
    (Plan(("host",) * 6, queue="lottery"), "queue 'lottery'"),
])
def test_one_check_for_validate_and_the_engine(soc, chain, plan, match):
    w = Workload(name="w", model="m.onnx", inferences=1)
    if match is None:
        plan.validate(chain, soc)
        Simulation(soc, [Job(w, chain, plan)], RunSettings(functional=False))
        return
    with pytest.raises(PlacementError, match=match):
        plan.validate(chain, soc)
    with pytest.raises(PlacementError, match=match):  # the engine refuses it the same way
        Simulation(soc, [Job(w, chain, plan)], RunSettings(functional=False))


def test_a_plan_point_holds_its_unit_even_under_a_governor(soc, chain):
    """The plan fixes host at 100 MHz; a `performance` governor would start it at 200."""
    plan = Plan(("host",) * 6, points=(("host", 100.0),))
    w = Workload(name="w", model="m.onnx", inferences=1)
    run = RunSettings(functional=False, governors={"host": GovernorSpec(name="performance")})
    trace = Simulation(soc, [Job(w, chain, plan)], run).run()
    assert {rec[19] for rec in trace.ops} == {100.0}
    # hand check against the cost model at that point: latency = estimate at 100 MHz
    est = Estimator(chain, at_points(soc, {"host": 100.0}))
    assert abs(trace.inferences[0][3] - est.evaluate(plan.units)[0]) <= 6


def test_conflicting_plan_points_are_refused(soc, chain):
    jobs = [Job(Workload(name=n, model="m.onnx", inferences=1), chain,
                Plan(("host",) * 6, points=(("host", f),))) for n, f in (("a", 100.0),
                                                                         ("b", 200.0))]
    with pytest.raises(PlacementError, match="fix unit 'host' at 100 and 200 MHz"):
        Simulation(soc, jobs, RunSettings(functional=False))


def test_greedy_plans_at_the_operating_point_in_force(soc, chain):
    """With acc slowed to 200 MHz by run.operating_points, greedy's own estimate of the plan
    (at that point) is what the engine simulates at that point."""
    run = RunSettings(functional=False, operating_points={"acc": 200.0})
    points = points_in_force(soc, run)
    assert points == {"acc": 200.0}
    planning = at_points(soc, points)
    plan = make_policy(PolicySpec(name="greedy_eft"), planning).place(chain, planning)
    w = Workload(name="w", model="m.onnx", inferences=1)
    trace = Simulation(soc, [Job(w, chain, plan)], run).run()
    assert {rec[19] for rec in trace.ops if rec[5] == "acc"} <= {200.0}
    est = Estimator(chain, planning).evaluate(plan.units)[0]
    assert abs(trace.inferences[0][3] - est) <= 6


def test_dram_bookings_leave_the_fair_share_at_least(soc):
    """dram: 2 GB/s. A stream booked at 1.5 GB/s over [0, 100) leaves 0.5 GB/s, but max-min
    fairness guarantees an equal share, 1 GB/s: 1000 bytes take 1000 ns at t = 50 and
    500 ns after the booking ends."""
    d = DramBookings(soc)
    d.book("dram", 150, 0.0, 100.0)
    assert d.dram_ns("dram", 1000, 50.0) == pytest.approx(1000.0)
    assert d.dram_ns("dram", 1000, 100.0) == pytest.approx(500.0)
    d.book("dram", 25, 0.0, 100.0)  # now 1.75 GB/s booked by two: share 2/3 GB/s
    assert d.dram_ns("dram", 1000, 50.0) == pytest.approx(1500.0)


def test_greedy_with_shared_bandwidth_is_no_slower_in_simulation(soc, chain):
    on = make_policy(PolicySpec(name="greedy_eft"), soc).place(chain, soc)
    off = make_policy(PolicySpec(name="greedy_eft", params={"share_bandwidth": False}),
                      soc).place(chain, soc)
    assert simulate(soc, chain, on)[0] <= simulate(soc, chain, off)[0]


def test_run_explain_prints_each_op_and_each_alternative(tmp_path, capsys):
    model = save(chain6(), tmp_path, "chain")
    text = textwrap.dedent(f"""
        name: explain
        soc: {SOC}
        workloads:
          - {{name: w, model: {model}, inferences: 1}}
        policy: {{name: subgraph, params: {{accelerator: acc}}}}
        run: {{seed: 0, functional: false}}
        """)
    path = write_scenario(tmp_path, text)
    assert main(["run", str(path), "--explain", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    for op in ("mm0", "relu0", "mm1", "relu1", "mm2", "sigmoid2"):
        assert op in printed
    assert "host_us" in printed and "acc_us" in printed
    assert "no Sigmoid" in printed  # the alternative it cannot run, and why
    assert "plan note: subgraph:" in printed
