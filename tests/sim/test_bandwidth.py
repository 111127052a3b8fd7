"""The fluid bandwidth model against hand-computed cases."""

from __future__ import annotations

import simpy

from socsim.sim.bandwidth import BandwidthFabric, Link

INF = float("inf")


def _run_flows(specs, link_caps):
    """specs: (start_ns, bytes, link names, cap); returns each flow's end time."""
    env = simpy.Environment()
    fabric = BandwidthFabric(env)
    links = {n: Link(n, c) for n, c in link_caps.items()}
    ends = {}

    def proc(i, t0, nbytes, names, cap):
        yield env.timeout(t0)
        flow = fabric.start(nbytes, tuple(links[n] for n in names), cap)
        end = fabric.end_time(flow)
        if end is None:
            yield fabric.wait(flow)
            end = flow.end
        ends[i] = end

    for i, spec in enumerate(specs):
        env.process(proc(i, *spec))
    env.run()
    return ends


def test_a_later_flow_halves_the_first_until_it_leaves():
    # A: 1000 B from 0 alone at 1 B/ns; at 200 B (500 B) joins: both 0.5 B/ns.
    # B done at 200 + 500 / 0.5 = 1200; A has 800 - 500 = 300 B left, alone again: 1500.
    ends = _run_flows([(0, 1000, ["bus"], INF), (200, 500, ["bus"], INF)], {"bus": 1.0})
    assert ends == {0: 1500, 1: 1200}


def test_a_capped_flow_leaves_the_rest_to_the_other():
    # caps 0.25 and inf on a 1 B/ns link: rates 0.25 and 0.75.
    ends = _run_flows([(0, 250, ["bus"], 0.25), (0, 750, ["bus"], INF)], {"bus": 1.0})
    assert ends == {0: 1000, 1: 1000}


def test_max_min_fairness_across_two_links():
    # X on (L1, L2), Y on L1, Z on L2; L1 = 1, L2 = 2 B/ns. L1 is the bottleneck: X = Y = 0.5;
    # Z gets what is left of L2: 1.5. With 600 B each: X, Y end at 1200; Z's 600 B at 1.5 end
    # at 400, after which nothing changes for X and Y (L1 still binds).
    ends = _run_flows([(0, 600, ["l1", "l2"], INF), (0, 600, ["l1"], INF),
                       (0, 600, ["l2"], INF)], {"l1": 1.0, "l2": 2.0})
    assert ends == {0: 1200, 1: 1200, 2: 400}


def test_alone_a_flow_runs_at_the_smaller_of_its_cap_and_the_link():
    ends = _run_flows([(0, 1000, ["bus"], 0.5)], {"bus": 2.0})
    assert ends == {0: 2000}
