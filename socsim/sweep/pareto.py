"""Pareto fronts of a sweep's results: which points no other point beats on every objective,
the non-dominated layers behind them (for ranking), and the latency-energy plot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pareto_front", "pareto_plot", "pareto_ranks", "ranked"]


def _as_min(values, senses: Sequence[str] | None) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError("values must be a 2-D array: one row per point, one column per "
                         "objective")
    if senses is not None:
        v = v * np.array([-1.0 if s == "maximize" else 1.0 for s in senses])
    return v


def pareto_front(values, senses: Sequence[str] | None = None) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n points x k objectives).

    Row a dominates row b when a is no worse on every objective and better on one
    (``senses``: ``minimize`` (default) or ``maximize`` per column). Rows with a NaN are
    never on the front; equal rows are both on it.
    """
    v = _as_min(values, senses)
    ok = ~np.isnan(v).any(axis=1)
    front = np.zeros(len(v), dtype=bool)
    idx = np.flatnonzero(ok)
    w = v[idx]
    for j, row in zip(idx, w):
        dominated = (np.all(w <= row, axis=1) & np.any(w < row, axis=1)).any()
        front[j] = not dominated
    return front


def pareto_ranks(values, senses: Sequence[str] | None = None) -> np.ndarray:
    """Non-dominated sorting: 0 for the front, 1 for the front of the rest, ...; -1 for rows
    with a NaN."""
    v = _as_min(values, senses)
    ranks = np.full(len(v), -1, dtype=int)
    left = np.flatnonzero(~np.isnan(v).any(axis=1))
    r = 0
    while len(left):
        mask = pareto_front(v[left])
        ranks[left[mask]] = r
        left = left[~mask]
        r += 1
    return ranks


def ranked(df, objectives: dict[str, str], constraints: dict | None = None):
    """The ``ok`` rows with their ``rank`` (Pareto layer over ``objectives``), best first:
    by rank, then by the objectives in order.

    Args:
        constraints: metric -> object with ``min`` / ``max`` (None: unbounded); rows that
            break one are ranked after every feasible row, by their own layers.
    """
    ok = df[df["status"] == "ok"].copy()
    cols = list(objectives)
    senses = list(objectives.values())
    feasible = np.ones(len(ok), dtype=bool)
    for metric, bound in (constraints or {}).items():
        v = ok[metric].to_numpy(dtype=float)
        if bound.max is not None:
            feasible &= v <= bound.max
        if bound.min is not None:
            feasible &= v >= bound.min
    ranks = np.zeros(len(ok), dtype=int)
    values = ok[cols].to_numpy(dtype=float)
    ranks[feasible] = pareto_ranks(values[feasible], senses)
    offset = ranks[feasible].max() + 1 if feasible.any() else 0
    ranks[~feasible] = pareto_ranks(values[~feasible], senses) + offset
    ok["rank"] = ranks
    ok["feasible"] = feasible
    keys = ["rank", *cols]
    asc = [True, *(d == "minimize" for d in objectives.values())]
    return ok.sort_values(keys, ascending=asc, kind="stable").reset_index(drop=True)


def pareto_plot(df, axes: Sequence[str], *, x: str = "latency_p99_ms",
                y: str = "energy_per_inference_mj", title: str = "", max_labels: int = 40):
    """Scatter of ``y`` against ``x`` for the ``ok`` points, the front highlighted and joined,
    points labelled by their axis values (all of them up to ``max_labels`` points, else only
    the front's).

    Returns:
        A matplotlib Figure (nothing touches pyplot's state).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ok = df[df["status"] == "ok"]
    xs, ys = ok[x].to_numpy(dtype=float), ok[y].to_numpy(dtype=float)
    front = pareto_front(np.column_stack([xs, ys])) if len(ok) else np.zeros(0, bool)
    fig = Figure(figsize=(9, 6), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(xs[~front], ys[~front], s=28, color="#9A9A9A", label="dominated", zorder=2)
    order = np.argsort(xs[front], kind="stable")
    ax.step(xs[front][order], ys[front][order], where="post", color="#C0504D", lw=1.2,
            zorder=3)
    ax.scatter(xs[front], ys[front], s=46, color="#C0504D", label="Pareto front", zorder=4)
    labels = [", ".join(str(r[a]) for a in axes) for _, r in ok.iterrows()]
    for i, text in enumerate(labels):
        if front[i] or len(ok) <= max_labels:
            ax.annotate(text, (xs[i], ys[i]), xytext=(4, 3), textcoords="offset points",
                        fontsize=7, color="#7A1F1D" if front[i] else "#555555")
    ax.set_xlabel("latency p99 (ms)" if x == "latency_p99_ms" else x)
    ax.set_ylabel("energy per inference (mJ)" if y == "energy_per_inference_mj" else y)
    failed = int((df["status"] != "ok").sum())
    note = f"; {failed} failed point(s) not shown" if failed else ""
    ax.set_title(f"{title}: {len(ok)} points, {int(front.sum())} on the front{note}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return fig
