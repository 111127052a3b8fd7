"""Matplotlib figures of a run. Functions return Figures; nothing touches pyplot state."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from socsim.report.tables import PJ_PER_MJ, Tables  # noqa: E402

_CATEGORY_COLOURS = {"compute": "#4C72B0", "memory": "#DD8452", "dma": "#55A868",
                     "static": "#8C8C8C"}


def timeline(t: Tables, rows: list[str], engines: dict[str, int], *,
             max_inferences: int = 8) -> Figure:
    """Gantt chart: one row per unit and DMA engine, a sub-lane per core / channel.

    Only the first ``max_inferences`` inferences of each workload are drawn so that bars stay
    legible; the title says so when the run had more.
    """
    ops = t.ops[t.ops["inference"] < max_inferences]
    dma = t.transfers[(t.transfers["kind"] == "dma") & (t.transfers["inference"] < max_inferences)]
    span_ns = max([ops["end_ns"].max() if len(ops) else 0, dma["end_ns"].max() if len(dma) else 0])
    unit_ms = 1e6 if span_ns > 2e6 else 1e3
    unit_label = "ms" if unit_ms == 1e6 else "µs"
    workloads = list(dict.fromkeys(t.ops["workload"]))
    cmap = matplotlib.colormaps["tab10"]
    colour = {w: cmap(i % 10) for i, w in enumerate(workloads)}
    fig = Figure(figsize=(12, 0.9 + 0.55 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    for y, row in enumerate(rows):
        lanes = max(1, engines.get(row, 1))
        h = 0.8 / lanes
        is_unit = row in set(t.ops["unit"])
        frame = ops[ops["unit"] == row] if is_unit else dma[dma["engine"] == row]
        lane_col = "engine" if is_unit else "channel"
        for (w, lane), g in frame.groupby(["workload", lane_col]):
            spans = list(zip(g["start_ns"] / unit_ms, (g["end_ns"] - g["start_ns"]) / unit_ms))
            ax.broken_barh(spans, (y - 0.4 + int(lane) * h, h * 0.9),
                           facecolors=colour.get(w, "#555555"),
                           edgecolor="black" if len(spans) < 400 else "none", linewidth=0.3)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(f"simulated time ({unit_label})")
    ax.grid(axis="x", alpha=0.3)
    shown = t.inferences["inference"].nunique()
    title = "Timeline (bars: ops on units, transfers on DMA engines)"
    if shown > max_inferences:
        title += f": first {max_inferences} of {shown} inferences per workload"
    ax.set_title(title)
    if len(workloads) > 1:
        ax.legend(handles=[Patch(color=colour[w], label=w) for w in workloads],
                  loc="upper right", fontsize="small")
    return fig


def energy(t: Tables) -> Figure:
    """Stacked horizontal bars: energy of each component split by category, mJ."""
    pivot = t.energy.pivot_table(index="component", columns="category", values="energy_pj",
                                 aggfunc="sum", fill_value=0.0, sort=False) / PJ_PER_MJ
    pivot = pivot.loc[pivot.sum(axis=1) > 0]
    fig = Figure(figsize=(10, 1.2 + 0.45 * max(1, len(pivot))), layout="constrained")
    ax = fig.add_subplot()
    left = None
    for cat in [c for c in _CATEGORY_COLOURS if c in pivot.columns]:
        values = pivot[cat].to_numpy()
        ax.barh(pivot.index, values, left=left, color=_CATEGORY_COLOURS[cat], label=cat)
        left = values if left is None else left + values
    total = pivot.to_numpy().sum()
    ax.set_xlabel("energy (mJ)")
    ax.invert_yaxis()
    ax.set_title(f"Energy by component and category (total {total:.4g} mJ)")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    return fig
