"""Pareto fronts and ranks on hand-made sets whose fronts are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from socsim.sweep.pareto import pareto_front, pareto_plot, pareto_ranks, ranked

# (latency, energy): a=(1,9) b=(2,5) c=(3,6) d=(4,1) e=(2,5) f=(5,5) g=(nan,0)
# a, b, e (equal to b), d are non-dominated; c is dominated by b; f by b and d; g failed.
POINTS = np.array([[1, 9], [2, 5], [3, 6], [4, 1], [2, 5], [5, 5], [math.nan, 0]])


def test_front_by_hand():
    assert pareto_front(POINTS).tolist() == [True, True, False, True, True, False, False]


def test_ranks_by_hand():
    # without the front {a, b, e, d}: c=(3,6) and f=(5,5) do not dominate each other
    assert pareto_ranks(POINTS).tolist() == [0, 0, 1, 0, 0, 1, -1]


def test_maximize_flips_a_column():
    # maximising the second column, a=(1,9) has the lowest latency and the highest score:
    # it dominates every other point
    assert pareto_front(POINTS, ["minimize", "maximize"]).tolist() == [
        True, False, False, False, False, False, False]


def test_front_against_brute_force():
    rng = np.random.default_rng(3)
    v = rng.integers(0, 6, size=(60, 3)).astype(float)
    want = [not any((v[j] <= v[i]).all() and (v[j] < v[i]).any() for j in range(60))
            for i in range(60)]
    assert pareto_front(v).tolist() == want


def _frame():
    return pd.DataFrame({"point": range(7), "policy": list("abcdefg"),
                         "status": ["ok"] * 6 + ["error"],
                         "latency_p99_ms": POINTS[:, 0], "energy_per_inference_mj": POINTS[:, 1]})


def test_ranked_orders_by_layer_then_objectives():
    r = ranked(_frame(), {"latency_p99_ms": "minimize", "energy_per_inference_mj": "minimize"})
    assert r["policy"].tolist() == ["a", "b", "e", "d", "c", "f"]
    assert r["rank"].tolist() == [0, 0, 0, 0, 1, 1]


def test_plot_marks_the_front():
    fig = pareto_plot(_frame(), ["policy"], title="hand")
    whole, close, key = fig.axes
    assert fig._suptitle.get_text() == ("hand: 6 points, 4 on the front; 1 failed point(s) "
                                        "not shown")
    # the front by latency then energy: a (1,9), b (2,5), e (2,5), d (4,1), numbered 1-4
    for ax in (whole, close):
        assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "3", "4"]
    text = key.texts[0].get_text()
    for k, name in enumerate("abed", 1):
        assert f"{k:>2}  {name}\n" in text
    assert " c\n" not in text and " f\n" not in text  # dominated: not in the key


def test_constraints_rank_infeasible_rows_last():
    from types import SimpleNamespace

    r = ranked(_frame(), {"latency_p99_ms": "minimize", "energy_per_inference_mj": "minimize"},
               {"energy_per_inference_mj": SimpleNamespace(min=None, max=5.5)})
    # feasible: b, e, d, f (energy <= 5.5); front of those: b, e, d; then f; then a, c
    assert r["policy"].tolist() == ["b", "e", "d", "f", "a", "c"]
    assert r["rank"].tolist() == [0, 0, 0, 1, 2, 2]
    assert r["feasible"].tolist() == [True] * 4 + [False] * 2
