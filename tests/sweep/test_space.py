"""Grid and random enumeration: every combination once, ids from the axis values, seeds from
the sweep seed; random draws are a seeded subset of the grid."""

from __future__ import annotations

import itertools

from socsim.sweep.space import grid_points, point_id, point_seed, random_points
from socsim.sweep.spec import load_sweep
from tests.sweep._support import SMALL, write_sweep


def test_grid_is_the_cartesian_product_in_order(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SMALL))
    points = list(grid_points(sweep))
    want = list(itertools.product(*(a.labels for a in sweep.axes)))
    assert [tuple(lab for _, lab in p.labels) for p in points] == want
    assert [p.index for p in points] == list(range(16))
    assert len({p.id for p in points}) == 16 and len({p.seed for p in points}) == 16


def test_ids_and_seeds_depend_on_the_values_not_the_order(tmp_path):
    a = load_sweep(write_sweep(tmp_path, SMALL, "a.yaml"))
    b = load_sweep(write_sweep(tmp_path, SMALL.replace("values: [10, 20]", "values: [20, 10]")
                               .replace("seed: 7", "seed: 8"), "b.yaml"))
    by_labels = {p.labels: p for p in grid_points(a)}
    for p in grid_points(b):
        q = by_labels[p.labels]
        assert p.id == q.id == point_id(p.labels)
        assert p.seed == point_seed(8, p.id) != q.seed == point_seed(7, q.id)


def test_common_seed_runs_every_point_at_the_sweep_seed(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SMALL + "common_seed: true\n"))
    assert {p.seed for p in grid_points(sweep)} == {7}
    assert all(p.overrides[-1] == "run.seed=7" for p in grid_points(sweep))


def test_random_is_a_seeded_subset_of_distinct_grid_points(tmp_path):
    body = SMALL + "mode: random\nrandom: {n: 6}\n"
    sweep = load_sweep(write_sweep(tmp_path, body))
    grid = {p.id: p for p in grid_points(sweep)}
    drawn = random_points(sweep, 6)
    assert len({p.id for p in drawn}) == 6
    for p in drawn:  # the same point as in the grid, overrides and all
        assert p.overrides == grid[p.id].overrides and p.labels == grid[p.id].labels
    assert [p.id for p in random_points(sweep, 6)] == [p.id for p in drawn]
    other = load_sweep(write_sweep(tmp_path, body.replace("seed: 7", "seed: 9"), "o.yaml"))
    assert [p.id for p in random_points(other, 6)] != [p.id for p in drawn]
    assert {p.id for p in random_points(sweep, 16)} == set(grid)  # n = size: all of them
