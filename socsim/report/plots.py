"""Matplotlib figures of a run. Functions return Figures; nothing touches pyplot state.

:func:`timeline`: an overview strip of the whole run (busy fraction of every unit and DMA
engine, the zoom window shaded), frequency and temperature tracks where they change, and a
zoomed Gantt at op level of one window (one inference by default, or ``run.plot_window_ms``)
showing every kind of busy time: ops, layout conversions, reconfigurations, DMA copies and
weight page-ins. :func:`energy`: energy per inference of each workload by category, with the
run's idle and static energy apart from active work.

Every drawn collection carries a ``label`` (``op:<type>``, ``LayoutConvert``, ``reconfig``,
``dma:<kind>``) and every axes a ``gid`` (``overview``, ``tracks``, ``zoom``), so that tests
and tools can read what a figure shows without looking at pixels.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from socsim.report.tables import PJ_PER_MJ, Tables

_CATEGORY_COLOURS = {"compute": "#4C72B0", "sram": "#F0B27A", "dram": "#C0504D",
                     "dma": "#55A868", "reconfig": "#8172B2", "static": "#8C8C8C",
                     "idle": "#D0D0D0"}
_KIND_COLOURS = {"dma": "#2CA02C", "page_in": "#FF7F0E", "reconfig": "#8172B2",
                 "LayoutConvert": "#E377C2"}


def first_inference(t: Tables) -> tuple[str, int] | None:
    """(workload, inference) of the first inference to arrive."""
    if t.inferences.empty:
        return None
    first = t.inferences.sort_values(["arrival_ns", "workload", "inference"]).iloc[0]
    return str(first["workload"]), int(first["inference"])


def default_window(t: Tables) -> tuple[int, int, str]:
    """The zoom window: the first inference to arrive (its arrival to its end), ns."""
    key = first_inference(t)
    if key is None:
        return 0, 1, "no inference"
    row = t.inferences[(t.inferences["workload"] == key[0])
                       & (t.inferences["inference"] == key[1])].iloc[0]
    return int(row["arrival_ns"]), int(row["end_ns"]), f"{key[0]} inference {key[1]}"


def _scale(span_ns: float) -> tuple[float, str]:
    for div, name in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if span_ns >= 2 * div:
            return div, name
    return 1.0, "ns"


def _overlapping(f: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    return f[(f["end_ns"] >= lo) & (f["start_ns"] <= hi)]


def _busy_image(t: Tables, rows: list[str], engines: dict[str, int]) -> np.ndarray:
    """Per row and bin of ``t.series``, the fraction of the row's engine-time that is busy
    (ops, conversions, transfers, page-ins, reconfigurations): every record of the run, also
    of a streamed one (:mod:`socsim.report.bins`)."""
    return np.clip(np.array([t.series.utilisation(row, engines.get(row, 1), everything=True)
                             for row in rows]).reshape(len(rows), -1), 0.0, 1.0)


def _tracks(counters: list, span: int) -> dict[str, dict[str, tuple[list, list]]]:
    """Per counter, per unit whose value changes, (times, values) extended to the run end."""
    out: dict[str, dict[str, tuple[list, list]]] = {}
    for rec in counters:
        xs, ys = out.setdefault(rec.counter, {}).setdefault(rec.unit, ([], []))
        xs.append(rec.time_ns)
        ys.append(rec.value)
    for counter in list(out):
        out[counter] = {u: (xs + [max(span, xs[-1])], ys + [ys[-1]])
                        for u, (xs, ys) in out[counter].items() if len(set(ys)) > 1}
        if not out[counter]:
            del out[counter]
    return out


def timeline(t: Tables, rows: list[str], engines: dict[str, int], *, counters=(),
             window_ns: tuple[int, int] | None = None) -> Figure:
    """Overview of the whole run, changing frequency/temperature tracks, and an op-level
    Gantt of ``window_ns`` (default :func:`default_window`).

    Args:
        rows: units then DMA engines, top to bottom.
        engines: lanes per row (a unit's cores, an engine's channels).
        counters: the trace's counter records (``freq_mhz``, ``temp_c``).
        window_ns: the zoom window, ns.
    """
    span = int(t.series.edges_ns[-1])  # the whole run, also when streamed
    focus = None
    if window_ns is None:
        lo, hi, what = default_window(t)
        focus = first_inference(t)
    else:
        lo, hi = int(window_ns[0]), int(window_ns[1])
        what = "window"
    tracks = _tracks(list(counters), span)
    heights = [0.5 + 0.18 * len(rows)] + [1.2] * len(tracks) + [0.6 + 0.5 * len(rows)]
    fig = Figure(figsize=(12, 1.2 + sum(heights)), layout="constrained")
    axes = fig.subplots(len(heights), 1, height_ratios=heights)
    ov, zoom, track_axes = axes[0], axes[-1], axes[1:-1]
    div, unit = _scale(span)
    ov.set_gid("overview")
    img = _busy_image(t, rows, engines)
    # gamma < 1: a 65 µs inference in a 1 ms bin still shows (busy 6 % -> 38 % of the scale)
    ov.imshow(img, aspect="auto", cmap="Blues", norm=PowerNorm(0.35, vmin=0, vmax=1),
              interpolation="nearest",
              extent=(0, span / div, len(rows) - 0.5, -0.5))
    ov.axvspan(lo / div, max(hi, lo + span / 400) / div, color="#D62728", alpha=0.35,
               label="zoom window")
    ov.set_yticks(range(len(rows)), rows, fontsize="small")
    ov.set_xlim(0, span / div)
    ov.set_title(f"Whole run ({span / div:.4g} {unit}): busy fraction per unit and DMA "
                 f"engine; red: the zoomed window ({what})", fontsize="medium")
    for ax, (counter, per_unit) in zip(track_axes, tracks.items()):
        ax.set_gid("tracks")
        for u, (xs, ys) in per_unit.items():
            ax.step(np.asarray(xs) / div, ys, where="post", label=f"{counter}:{u}")
        ax.axvspan(lo / div, max(hi, lo + span / 400) / div, color="#D62728", alpha=0.15)
        ax.set_xlim(0, span / div)
        ax.set_ylabel("MHz" if counter == "freq_mhz" else "°C" if counter == "temp_c"
                      else counter)
        ax.legend(fontsize="x-small", loc="upper right")
        ax.grid(alpha=0.3)
    ov.set_xlabel(f"simulated time ({unit})")
    _gantt(zoom, t, rows, engines, lo, hi, focus)
    zdiv, zunit = _scale(hi - lo)
    others = "; other inferences' work faded" if focus else ""
    zoom.set_title(f"Zoom at op level: {what}, {lo / zdiv:.6g}-{hi / zdiv:.6g} {zunit} "
                   "(reconfigurations hatched; transfers on "
                   f"DMA engines{others})", fontsize="medium")
    return fig


def _gantt(ax, t: Tables, rows: list[str], engines: dict[str, int], lo: int, hi: int,
           focus: tuple[str, int] | None = None) -> None:
    ax.set_gid("zoom")
    div, unit = _scale(hi - lo)
    ops = _overlapping(t.ops, lo, hi)
    moved = _overlapping(t.transfers[t.transfers["kind"] != "zero_copy"], lo, hi)
    reconf = _overlapping(t.reconfigs, lo, hi)
    types = [k for k in t.ops.groupby("op_type")["macs"].sum().sort_values(ascending=False)
             .index if k != "LayoutConvert"]
    cmap = matplotlib.colormaps["tab10"]
    colour = {k: cmap(i) for i, k in enumerate(types[:9])}
    colour["LayoutConvert"] = _KIND_COLOURS["LayoutConvert"]
    other = cmap(9)
    shown: dict[str, object] = {}

    def bars(frame, y, lanes, lane_col, label, face, **kw):
        h = 0.8 / lanes
        edge = kw.pop("edge", "none")
        mine = (frame["workload"] == focus[0]) & (frame["inference"] == focus[1]) \
            if focus else pd.Series(True, index=frame.index)
        for lane, g in frame.groupby(lane_col) if lane_col else [(0, frame)]:
            for own, part in ((True, g[mine[g.index]]), (False, g[~mine[g.index]])):
                if part.empty:
                    continue
                spans = list(zip((part["start_ns"] - lo) / div,
                                 (part["end_ns"] - part["start_ns"]) / div))
                alpha = kw.get("alpha", 1.0) * (1.0 if own else 0.3)
                ax.broken_barh(spans, (y - 0.4 + int(lane) * h, h * 0.9), facecolors=face,
                               edgecolor=edge, label=label, **{**kw, "alpha": alpha})
        shown.setdefault(label, (face, kw.get("hatch")))

    for y, row in enumerate(rows):
        lanes = max(1, engines.get(row, 1))
        r = reconf[reconf["unit"] == row]
        if len(r):
            bars(r, y, 1, None, "reconfig", _KIND_COLOURS["reconfig"], hatch="//",
                 alpha=0.7)
        o = ops[ops["unit"] == row]
        for kind, g in o.groupby("op_type"):
            label = "LayoutConvert" if kind == "LayoutConvert" else f"op:{kind}"
            bars(g, y, lanes, "engine", label, colour.get(kind, other), edge="white",
                 linewidth=0.4)  # a thin gap shows where back-to-back ops meet
        d = moved[moved["engine"] == row]
        for kind, g in d.groupby("kind"):
            bars(g, y, lanes, "channel", f"dma:{kind}", _KIND_COLOURS.get(kind, "#222222"),
                 edge="white", linewidth=0.3)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, (hi - lo) / div)
    ax.set_xlabel(f"time since {lo / 1e6:.6g} ms ({unit})")
    ax.grid(axis="x", alpha=0.3)
    handles = [Patch(facecolor=face, hatch=hatch, label=label.removeprefix("op:")
                     .replace("dma:dma", "DMA copy").replace("dma:page_in", "weight page-in"))
               for label, (face, hatch) in shown.items()]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18),
              ncols=min(6, max(1, len(handles))), fontsize="small", frameon=False)


def energy(t: Tables) -> Figure:
    """Left: energy per inference of each workload (its ops, conversions, transfers and
    reconfigurations) by category, µJ. Right: the whole run split into active work, idle
    (unit leakage outside ops) and static (memory leakage), mJ."""
    # every op's, transfer's and reconfiguration's energy by workload, streamed runs too
    per = pd.DataFrame.from_dict(t.series.workload_pj, orient="index")
    per = per.loc[:, (per != 0).any()] if len(per) else pd.DataFrame()
    counts = t.inferences.groupby("workload").size()
    per = per.div(counts.reindex(per.index), axis=0) / 1e6  # pJ -> µJ per inference
    fig = Figure(figsize=(12, 1.8 + 0.5 * max(2, len(per))), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2, 1])
    left.set_gid("per_inference")
    base = np.zeros(len(per))
    for cat in [c for c in _CATEGORY_COLOURS if c in per.columns]:
        vals = per[cat].to_numpy()
        left.barh(per.index, vals, left=base, color=_CATEGORY_COLOURS[cat], label=cat)
        base = base + vals
    left.invert_yaxis()
    left.set_xlabel("µJ per inference (active work: its ops, transfers, reconfigurations)")
    left.set_title("Energy per inference by category")
    left.legend(fontsize="small", loc="lower right")
    left.grid(axis="x", alpha=0.3)
    cat = t.energy.groupby("category")["energy_pj"].sum()
    idle = float(cat.get("idle", 0.0))
    static_mem = float(t.energy[(t.energy["category"] == "static")
                                & ~t.energy["component"].isin(t.op_totals.index)]
                       ["energy_pj"].sum())
    active = float(cat.sum()) - idle - static_mem
    right.set_gid("whole_run")
    parts = {"active work": active, "idle (units)": idle, "static (memories)": static_mem}
    right.barh(list(parts), [v / PJ_PER_MJ for v in parts.values()],
               color=[_CATEGORY_COLOURS["compute"], _CATEGORY_COLOURS["idle"],
                      _CATEGORY_COLOURS["static"]])
    right.invert_yaxis()
    right.set_xlabel("mJ over the whole run")
    right.set_title(f"Whole run: {float(cat.sum()) / PJ_PER_MJ:.4g} mJ")
    right.grid(axis="x", alpha=0.3)
    return fig
