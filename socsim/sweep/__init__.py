"""Sweeps: many runs of one scenario over axes of changes (``socsim sweep SWEEP.yaml``).

spec (the sweep file), space (grid and random points), search (optuna NSGA-II), worker (one
point), metrics (a point's numbers from its trace), executors (local processes, Dask), store
(streamed parquet parts, resume), pareto (front, ranks, plot), runner (the loop), cli.
Names load on first use, so ``import socsim.sweep`` stays light.
"""

from __future__ import annotations

import importlib

__all__ = ["load_sweep", "pareto_front", "run_sweep"]

_WHERE = {"load_sweep": "socsim.sweep.spec", "pareto_front": "socsim.sweep.pareto",
          "run_sweep": "socsim.sweep.runner"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'socsim.sweep' has no attribute {name!r}")
