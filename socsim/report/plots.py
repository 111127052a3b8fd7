"""Matplotlib figures of a run. Functions return Figures; nothing touches pyplot state."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from socsim.report.tables import PJ_PER_MJ, Tables

_DMA_COLOUR = "#222222"
_CATEGORY_COLOURS = {"compute": "#4C72B0", "sram": "#F0B27A", "dram": "#C0504D",
                     "dma": "#55A868", "reconfig": "#8172B2", "static": "#8C8C8C",
                     "idle": "#D0D0D0"}


def timeline(t: Tables, rows: list[str], engines: dict[str, int], *,
             max_inferences: int = 4) -> Figure:
    """Gantt chart: one row per unit and DMA engine, a sub-lane per core / channel, ops
    coloured by op type (the nine with most MACs), transfers in one colour.

    Only the first ``max_inferences`` inferences of each workload are drawn so that bars stay
    legible; the title says so when the run had more.
    """
    ops = t.ops[t.ops["inference"] < max_inferences]
    dma = t.transfers[(t.transfers["kind"] != "zero_copy")
                      & (t.transfers["inference"] < max_inferences)]
    span_ns = max([ops["end_ns"].max() if len(ops) else 0, dma["end_ns"].max() if len(dma) else 0])
    unit_ms = 1e6 if span_ns > 2e6 else 1e3
    unit_label = "ms" if unit_ms == 1e6 else "µs"
    types = list(t.ops.groupby("op_type")["macs"].sum().sort_values(ascending=False).index)
    cmap = matplotlib.colormaps["tab10"]
    colour = {k: cmap(i) for i, k in enumerate(types[:9])}
    other = cmap(9)
    fig = Figure(figsize=(12, 1.4 + 0.55 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    dma_rows, unit_rows = set(dma["engine"].unique()), set(t.ops["unit"].unique())
    for y, row in enumerate(rows):
        lanes = max(1, engines.get(row, 1))
        h = 0.8 / lanes
        is_unit = row not in dma_rows and row in unit_rows
        frame = ops[ops["unit"] == row] if is_unit else dma[dma["engine"] == row]
        lane_col = "engine" if is_unit else "channel"
        key = frame["op_type"] if is_unit else pd.Series("DMA transfer", index=frame.index)
        for (kind, lane), g in frame.groupby([key, lane_col]):
            spans = list(zip(g["start_ns"] / unit_ms, (g["end_ns"] - g["start_ns"]) / unit_ms))
            face = _DMA_COLOUR if kind == "DMA transfer" else colour.get(kind, other)
            ax.broken_barh(spans, (y - 0.4 + int(lane) * h, h * 0.9), facecolors=face,
                           edgecolor="none")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(f"simulated time ({unit_label})")
    ax.grid(axis="x", alpha=0.3)
    shown = t.inferences["inference"].nunique()
    title = "Timeline (bars: ops on units, transfers on DMA engines)"
    if shown > max_inferences:
        title += f": first {max_inferences} of {shown} inferences per workload"
    ax.set_title(title)
    handles = [Patch(color=colour[k], label=k) for k in types[:9]]
    if len(types) > 9:
        handles.append(Patch(color=other, label="other ops"))
    if len(dma):
        handles.append(Patch(color=_DMA_COLOUR, label="DMA transfer"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(6, len(handles)),
               fontsize="small", frameon=False)
    return fig


def energy(t: Tables) -> Figure:
    """Stacked horizontal bars: energy of each component split by category, mJ."""
    pivot = t.energy.pivot_table(index="component", columns="category", values="energy_pj",
                                 aggfunc="sum", fill_value=0.0, sort=False) / PJ_PER_MJ
    pivot = pivot.loc[pivot.sum(axis=1) > 0]
    fig = Figure(figsize=(10, 1.6 + 0.45 * max(1, len(pivot))), layout="constrained")
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
    fig.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return fig
