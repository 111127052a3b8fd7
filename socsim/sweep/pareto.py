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
                y: str = "energy_per_inference_mj", title: str = "", max_key: int = 30):
    """Latency against energy for the ``ok`` points, the front highlighted and joined.

    Left, every point (log scales when a metric spans more than 10x); middle, a close-up of
    the front; right, the key: each front point's number, its axis values and metrics. The
    numbers are drawn beside the front points in both panels (at most ``max_key`` of them).

    Returns:
        A matplotlib Figure (nothing touches pyplot's state).
    """
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ok = df[df["status"] == "ok"]
    xs, ys = ok[x].to_numpy(dtype=float), ok[y].to_numpy(dtype=float)
    front = pareto_front(np.column_stack([xs, ys])) if len(ok) else np.zeros(0, bool)
    idx = np.flatnonzero(front)
    idx = idx[np.lexsort((ys[idx], xs[idx]))]  # by latency, then energy
    fig = Figure(figsize=(15, 6), layout="constrained")
    whole, close, key = fig.subplots(1, 3, **width_per_ratio(0.75))
    xlabel = "latency p99 (ms)" if x == "latency_p99_ms" else x
    ylabel = "energy per inference (mJ)" if y == "energy_per_inference_mj" else y
    for ax, zoom in ((whole, False), (close, True)):
        ax.scatter(xs[~front], ys[~front], s=26, color="#9A9A9A", label="dominated", zorder=2)
        ax.step(xs[idx], ys[idx], where="post", color="#C0504D", lw=1.2, zorder=3)
        ax.scatter(xs[idx], ys[idx], s=44, color="#C0504D", label="Pareto front", zorder=4)
        for k, i in enumerate(idx[:max_key], 1):
            ax.annotate(str(k), (xs[i], ys[i]), xytext=(4, 4), textcoords="offset points",
                        fontsize=8, color="#7A1F1D", zorder=5)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3, which="both")
        if len(idx) and zoom:
            _frame_on(ax, xs[idx], ys[idx])
        elif len(xs):
            plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
            for v, setter, axis in ((xs, ax.set_xscale, ax.xaxis),
                                    (ys, ax.set_yscale, ax.yaxis)):
                if v.min() > 0 and v.max() / v.min() > 10:
                    setter("log")
                    axis.set_major_formatter(plain)
    whole.set_title("every point")
    close.set_title("the front, close up")
    whole.legend(loc="best", fontsize=8)
    key.axis("off")
    lines = [f"{k:>2}  {', '.join(str(ok.iloc[i][a]) for a in axes)}\n"
             f"    {xs[i]:.4g} ms, {ys[i]:.4g} mJ" for k, i in enumerate(idx[:max_key], 1)]
    if len(idx) > max_key:
        lines.append(f"... and {len(idx) - max_key} more on the front")
    key.text(0, 1, "Pareto front (" + ", ".join(axes) + ")\n\n" + "\n".join(lines),
             va="top", ha="left", family="monospace", fontsize=7.5, transform=key.transAxes)
    failed = int((df["status"] != "ok").sum())
    note = f"; {failed} failed point(s) not shown" if failed else ""
    fig.suptitle(f"{title}: {len(ok)} points, {int(front.sum())} on the front{note}")
    return fig


def width_per_ratio(last: float) -> dict:
    """``subplots`` keyword arguments: two plots and a key ``last`` as wide."""
    return {"gridspec_kw": {"width_ratios": [1, 1, last]}}


def _frame_on(ax, xs: np.ndarray, ys: np.ndarray) -> None:
    """Limit ``ax`` to the front's bounding box, padded by a tenth of its span."""
    for lo, hi, setter in ((xs.min(), xs.max(), ax.set_xlim), (ys.min(), ys.max(), ax.set_ylim)):
        pad = (hi - lo) * 0.1 or abs(hi) * 0.05 or 1.0
        setter(lo - pad, hi + pad)
