"""``mode: search`` (optuna NSGA-II) on a space small enough to enumerate: the points it
finds best are on the grid's Pareto front, its rows equal the grid's for the same points, and
the same seed asks the same points."""

from __future__ import annotations

import pandas as pd

from socsim.sweep.executors import LocalExecutor
from socsim.sweep.pareto import pareto_front
from socsim.sweep.runner import run_sweep
from socsim.sweep.spec import load_sweep
from socsim.sweep.store import TIMING
from tests.sweep._support import write_sweep

# 4 policies x 3 NPU points x 3 CPU points = 36 points
SPACE = """\
name: space
scenario: {scenarios}/quickstart.yaml
seed: 1
set: {workloads.0.duration_s: 0.3}
axes:
  policy:
    policies:
      - {name: single, params: {unit: npu}}
      - {name: single, params: {unit: cpu}}
      - {name: greedy_eft}
      - {name: rules, params: {rules: [{op_types: [Conv], unit: npu}], default: cpu}}
  npu_mhz: {operating_point: npu, values: [400, 200, 100]}
  cpu_mhz: {operating_point: cpu, values: [400, 200, 100]}
"""
SEARCH = SPACE + """\
mode: search
search:
  objectives: {latency_p99_ms: minimize, energy_per_inference_mj: minimize}
  constraints: {deadline_misses: {max: 0}}
  n_trials: 24
  population: 8
"""
OBJ = ["latency_p99_ms", "energy_per_inference_mj"]


def _front_ids(df: pd.DataFrame) -> set[str]:
    ok = df[df["status"] == "ok"]
    return set(ok["id"][pareto_front(ok[OBJ].to_numpy(float))])


def test_search_finds_points_of_the_grid_front(tmp_path):
    ex = LocalExecutor(2)
    try:
        grid = run_sweep(load_sweep(write_sweep(tmp_path, SPACE, "g.yaml")), tmp_path / "g",
                         executor=ex).table
        found = run_sweep(load_sweep(write_sweep(tmp_path, SEARCH, "s.yaml")), tmp_path / "s",
                          executor=ex).table
        again = run_sweep(load_sweep(write_sweep(tmp_path, SEARCH, "s.yaml")), tmp_path / "s2",
                          executor=ex).table
    finally:
        ex.close()
    assert len(grid) == 36 and 8 <= len(found) <= 24  # repeats of a point are not rerun
    assert found["id"].tolist() == again["id"].tolist()  # same seed, same points, same order
    grid_front = _front_ids(grid)
    search_front = _front_ids(found)
    assert search_front and search_front <= grid_front, (search_front, grid_front)
    # each point the search ran gave the row the grid gave it
    cols = [c for c in found.columns if c not in (*TIMING, "point")]
    g = grid.set_index("id").loc[found["id"], [c for c in cols if c != "id"]].reset_index()
    pd.testing.assert_frame_equal(found[cols].reset_index(drop=True), g)
