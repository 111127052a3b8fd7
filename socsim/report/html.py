"""``socsim report``: one self-contained HTML page comparing report folders side by side.

Reads each folder's ``summary.json`` (tables; its ``series`` block over the whole run:
latency, units' utilisation, power, frequency, temperature, model variant per workload;
battery state of charge; a panel shows when some run has its data) and its ops / transfers
tables (``ops.csv`` or ``ops.parquet``; the Gantt of one window). Figures are plotly, with
plotly.js embedded once, inline: the page works offline. A last script counts the figures
plotly rendered and writes ``data-plots-rendered`` on ``<body>`` and a line into
``#socsim-render-check`` and each figure's box in page pixels ([left, top, width, height])
as JSON into ``data-plot-boxes`` (the headless-browser tests read them, and crop a screenshot
to the boxes); script errors are listed in ``#socsim-errors``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.io import to_html
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from socsim.errors import SocsimError

_ERRORS_JS = """window.socsimErrors = [];
window.addEventListener('error', function (e) {
  window.socsimErrors.push(String(e.message));
  var box = document.getElementById('socsim-errors');
  if (box) { box.textContent = 'script errors: ' + window.socsimErrors.join('; '); }
});"""

_CHECK_JS = """(function () {
  function check(tries) {
    var plots = document.querySelectorAll('.plotly-graph-div');
    var drawn = 0;
    plots.forEach(function (p) { if (p.querySelector('svg.main-svg')) { drawn += 1; } });
    if (drawn < plots.length && tries > 0) { setTimeout(function () { check(tries - 1); }, 100); return; }
    document.body.setAttribute('data-plots-rendered', String(drawn));
    var boxes = [];
    plots.forEach(function (p) {
      var r = p.getBoundingClientRect();
      boxes.push([r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]);
    });
    document.body.setAttribute('data-plot-boxes', JSON.stringify(boxes));
    document.getElementById('socsim-render-check').textContent =
      'rendered ' + drawn + ' of ' + plots.length + ' plots; errors: ' + window.socsimErrors.length;
  }
  window.addEventListener('load', function () { check(50); });
})();"""


class ReportInputError(SocsimError):
    """A folder given to ``socsim report`` is not a socsim report folder."""


def load_run(folder: Path) -> dict:
    """A report folder's summary and tables.

    Raises:
        ReportInputError: no folder, or no readable summary.json in it.
    """
    path = folder / "summary.json"
    if not path.is_file():
        raise ReportInputError(f"{folder}: no summary.json: not a socsim report folder",
                               hint="give folders written by `socsim run` (e.g. reports/NAME)")
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportInputError(f"{path}: cannot be read as JSON: {exc}",
                               hint="run the scenario again to rewrite the report") from None
    return {"name": folder.name, "summary": summary, "ops": _table(folder, "ops"),
            "transfers": _table(folder, "transfers")}


def _table(folder: Path, stem: str) -> pd.DataFrame | None:
    if (folder / f"{stem}.parquet").is_file():
        return pd.read_parquet(folder / f"{stem}.parquet")
    if (folder / f"{stem}.csv").is_file():
        return pd.read_csv(folder / f"{stem}.csv")
    return None


def _label(run: dict, runs: list[dict]) -> str:
    names = [r["name"] for r in runs]
    return run["name"] if names.count(run["name"]) == 1 else f"{run['name']}#{runs.index(run)}"


def comparison_table(runs: list[dict]) -> pd.DataFrame:
    """One row per metric, one column per run, from the summaries."""
    rows: dict[str, list] = {}

    def put(key, values):
        rows[key] = values

    sums = [r["summary"] for r in runs]
    put("scenario", [s["scenario"] for s in sums])
    put("SoC", [s["soc"] for s in sums])
    put("policy", [s["policy"]["name"] for s in sums])
    put("simulated ms", [s["simulated_ms"] for s in sums])
    put("inferences", [s["inferences"] for s in sums])
    for p in ("p50", "p99", "max"):
        put(f"latency {p} ms", [s["latency_ms"][p] for s in sums])
    put("deadline misses", [s["deadline_misses"] for s in sums])
    put("energy mJ", [s["energy_mj"]["total"] for s in sums])
    put("energy per inference mJ", [s["energy_mj"]["per_inference"] for s in sums])
    for c in ("compute", "sram", "dram", "dma", "reconfig", "static", "idle"):
        put(f"  {c} mJ", [s["energy_mj"][c] for s in sums])
    put("average power mW", [s.get("power", {}).get("average_mw") for s in sums])
    put("peak power mW", [s.get("power", {}).get("peak_mw") for s in sums])
    put("over power budget", [s.get("power", {}).get("over_budget") for s in sums])
    put("battery life h", [s.get("battery", {}).get("life_h") for s in sums])
    units = sorted({u for s in sums for u in s["units"]})
    for u in units:
        put(f"{u} utilisation", [s["units"].get(u, {}).get("utilisation") for s in sums])
        put(f"{u} max °C", [s["units"].get(u, {}).get("temp_c_max") for s in sums])
    return pd.DataFrame(rows, index=[_label(r, runs) for r in runs]).T


def _panels(runs: list[dict]) -> list[str]:
    """The over-time panels with something to show in at least one run."""
    sums = [r["summary"] for r in runs]
    series = [s.get("series", {}) for s in sums]
    has = {
        "latency (ms)": any(x.get("latency") for x in series),
        "utilisation (busy fraction)": any(x.get("bins", {}).get("utilisation")
                                           for x in series),
        "power (mW)": any(x.get("power", {}).get("power_mw") for x in series),
        "frequency (MHz)": any("freq_mhz" in c for x in series
                               for c in x.get("counters", {}).values()),
        "temperature (°C)": any("temp_c" in c for x in series
                                for c in x.get("counters", {}).values()),
        "battery state of charge (%)": any(s.get("battery") for s in sums),
        "model variant": any(x.get("variants") for x in series),
    }
    return [p for p, shown in has.items() if shown] or ["latency (ms)"]


def _over_time(runs: list[dict]) -> go.Figure:
    panels = _panels(runs)
    row = {p: i + 1 for i, p in enumerate(panels)}
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, subplot_titles=panels,
                        vertical_spacing=0.25 / len(panels))

    def add(panel: str, trace) -> None:
        if panel in row:
            fig.add_trace(trace, row=row[panel], col=1)

    for run in runs:
        name, series = _label(run, runs), run["summary"].get("series", {})
        for w, b in series.get("latency", {}).items():
            add("latency (ms)", go.Scatter(x=b["time_ms"], y=b["latency_ms"],
                                           mode="markers+lines", name=f"{name}: {w}",
                                           marker={"size": 4}))
            if "latency_max_ms" in b:
                add("latency (ms)", go.Scatter(x=b["time_ms"], y=b["latency_max_ms"],
                                               mode="lines", line={"dash": "dot"},
                                               name=f"{name}: {w} max per bin"))
        bins = series.get("bins", {})
        for unit, u in bins.get("utilisation", {}).items():
            add("utilisation (busy fraction)",
                go.Scatter(x=bins["time_ms"], y=u, name=f"{name}: {unit} busy",
                           line={"shape": "hv"}))
        p = series.get("power")
        if p:
            add("power (mW)", go.Scatter(x=p["time_ms"], y=p["power_mw"],
                                         name=f"{name}: power", line={"shape": "hv"}))
        for unit, per in series.get("counters", {}).items():
            for counter, panel in (("freq_mhz", "frequency (MHz)"),
                                   ("temp_c", "temperature (°C)")):
                if counter in per:
                    c = per[counter]
                    add(panel, go.Scatter(x=c["time_ms"], y=c["value"],
                                          name=f"{name}: {unit} {counter}",
                                          line={"shape": "hv" if counter == "freq_mhz"
                                                else "linear"}))
        bat = run["summary"].get("battery")
        if bat:
            add("battery state of charge (%)",
                go.Scatter(x=bat["series"]["time_ms"], y=[100 * s for s in bat["series"]["soc"]],
                           name=f"{name}: state of charge"))
        end_ms = run["summary"].get("simulated_ms")
        for w, v in series.get("variants", {}).items():
            # a step per switch, held to the run's end
            xs, ys = list(v["time_ms"]), list(v["variant"])
            if end_ms is not None and xs and end_ms > xs[-1]:
                xs, ys = [*xs, end_ms], [*ys, ys[-1]]
            add("model variant", go.Scatter(x=xs, y=ys, name=f"{name}: {w} variant",
                                            mode="lines+markers", line={"shape": "hv"},
                                            marker={"size": 5}))
    fig.update_xaxes(title_text="simulated time (ms)", row=len(panels), col=1)
    fig.update_layout(height=230 * len(panels) + 160, title="Over the whole run",
                      legend={"font": {"size": 10}})
    return fig


def _distributions(runs: list[dict]) -> go.Figure:
    fig = go.Figure()
    for run in runs:
        for w, h in run["summary"].get("series", {}).get("latency_histogram", {}).items():
            e = h["edges_ms"]
            fig.add_trace(go.Bar(x=[(a + b) / 2 for a, b in zip(e, e[1:])], y=h["counts"],
                                 width=[b - a for a, b in zip(e, e[1:])], opacity=0.6,
                                 name=f"{_label(run, runs)}: {w}"))
    fig.update_layout(barmode="overlay", title="Latency distributions",
                      xaxis_title="latency (ms)", yaxis_title="inferences", height=400)
    return fig


def default_window_us(ops: pd.DataFrame) -> tuple[float, float]:
    """The first inference to start: its first op's start to its last op's end, µs."""
    first = ops.loc[ops["start_us"].idxmin()]
    mine = ops[(ops["workload"] == first["workload"]) & (ops["inference"] == first["inference"])]
    return float(mine["start_us"].min()), float(mine["end_us"].max())


def _gantt(run: dict, runs: list[dict], window_ms: tuple[float, float] | None) -> go.Figure:
    ops, xfers = run["ops"], run["transfers"]
    fig = go.Figure()
    if ops is None or ops.empty:
        fig.update_layout(title=f"{_label(run, runs)}: no ops table in the folder")
        return fig
    lo, hi = ((window_ms[0] * 1e3, window_ms[1] * 1e3) if window_ms
              else default_window_us(ops))
    frames = [ops.assign(row=ops["unit"], what=ops["op_type"], label=ops["op"])]
    if xfers is not None and not xfers.empty:
        moved = xfers[xfers["kind"] != "zero_copy"]
        frames.append(moved.assign(row=moved["engine"], what="transfer: " + moved["kind"],
                                   label=moved["tensor"]))
    for f in frames:
        f = f[(f["end_us"] >= lo) & (f["start_us"] <= hi)]
        for what, g in f.groupby("what"):
            fig.add_trace(go.Bar(y=g["row"], x=g["end_us"] - g["start_us"], base=g["start_us"],
                                 orientation="h", name=str(what), text=g["label"],
                                 hovertemplate="%{text}<br>%{base:.3f}-%{x:.3f} µs"))
    fig.update_layout(title=f"{_label(run, runs)}: window {lo:.6g}-{hi:.6g} µs",
                      barmode="overlay", xaxis_title="simulated time (µs)", height=380,
                      xaxis={"range": [lo, hi]})
    return fig


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def render(folders: list[Path], window_ms: tuple[float, float] | None = None) -> str:
    """The HTML page comparing the report ``folders``."""
    runs = [load_run(f) for f in folders]
    table = comparison_table(runs)
    figs = [_over_time(runs), _distributions(runs), *(_gantt(r, runs, window_ms) for r in runs)]
    divs = "\n".join(to_html(f, include_plotlyjs=False, full_html=False,
                             config={"responsive": True}) for f in figs)
    title = "socsim report: " + ", ".join(_label(r, runs) for r in runs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>{_ERRORS_JS}</script>
<script>{get_plotlyjs()}</script>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}</style></head>
<body><h1>{html.escape(title)}</h1>
<div id="socsim-errors"></div><div id="socsim-render-check">not rendered</div>
<h2>Summary</h2>
{table.map(_cell).to_html(escape=True)}
<h2>Plots</h2>
{divs}
<script>{_CHECK_JS}</script>
</body></html>
"""
