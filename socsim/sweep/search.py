"""``mode: search``: multi-objective search over the axes with optuna's NSGA-II sampler.

Each axis is a categorical parameter over its labels. Trials are asked one generation
(``population`` trials) at a time, the generation's new points are run in parallel on the
executor, and every trial is told its point's objectives in ask order, so the search does not
depend on the executor or on the order results arrive in. A point asked again reuses its row;
a failed point is a failed trial. Constraints are optuna's: a trial is feasible when every
``value - max`` and ``min - value`` is <= 0, and NSGA-II ranks feasible trials first.

Resuming replays the search from the start with the same seed: the same trials are asked,
the finished points' rows are read from the store, and only the others are run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from socsim.sweep.space import Point, make_point
from socsim.sweep.spec import Sweep

__all__ = ["search_points"]

_INFEASIBLE = 1e30  # a failed metric (NaN) violates every constraint


def _constraint_values(spec, row: dict) -> list[tuple[str, float]]:
    """(name, value) per bound: feasible when value <= 0."""
    out = []
    for metric, bound in spec.constraints.items():
        v = row.get(metric)
        v = math.nan if v is None else float(v)
        if bound.max is not None:
            out.append((f"{metric}_max", _INFEASIBLE if math.isnan(v) else v - bound.max))
        if bound.min is not None:
            out.append((f"{metric}_min", _INFEASIBLE if math.isnan(v) else bound.min - v))
    return out


def search_points(sweep: Sweep, run_batch: Callable[[list[Point]], dict[str, dict]]
                  ) -> list[Point]:
    """Run the search; return every distinct point tried, in the order first asked.

    Args:
        sweep: a sweep with ``mode: search``.
        run_batch: runs the given points (skipping those already finished) and returns the
            rows of all of them by point id.
    """
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.samplers import NSGAIISampler
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = sweep.spec.search
    sampler = NSGAIISampler(population_size=spec.population, seed=sweep.spec.seed)
    study = optuna.create_study(directions=list(spec.objectives.values()), sampler=sampler)
    dists = {a.name: CategoricalDistribution(a.labels) for a in sweep.axes}
    points: dict[str, Point] = {}
    asked = 0
    while asked < spec.n_trials:
        trials = [study.ask(dists) for _ in range(min(spec.population,
                                                      spec.n_trials - asked))]
        asked += len(trials)
        batch = []
        for trial in trials:
            choice = [a.labels.index(trial.params[a.name]) for a in sweep.axes]
            p = make_point(sweep, len(points), choice)
            p = points.setdefault(p.id, p)
            trial.set_user_attr("point", p.id)
            batch.append(p)
        rows = run_batch(list({p.id: p for p in batch}.values()))
        for trial, p in zip(trials, batch):
            row = rows[p.id]
            for key, value in _constraint_values(spec, row):
                trial.set_constraint(key, value)
            values = [row.get(m) for m in spec.objectives]
            if row["status"] != "ok" or any(v is None or math.isnan(float(v)) for v in values):
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, [float(v) for v in values])
    return list(points.values())
