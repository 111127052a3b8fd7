"""The run's power over time, its battery discharge and life estimate, and the power budget.

Power over time: the run's binned energy (:mod:`socsim.report.bins`: every op, conversion,
transfer and reconfiguration spreads its energy uniformly over its own [start, end],
zero-length ones fall at their instant; the leakage not charged to ops, units' ``idle`` and
memories' ``static``, spreads uniformly over the run), in windows of a power of two ns, 1,024
to 2,048 of them over the run (the last one ends at the run's end, half to one and a half
widths long); a window's power is its energy over its length. The battery is discharged window by window
(:func:`socsim.hw.battery.step`); the life estimate extrapolates the run's average power
(total energy / makespan) with :func:`socsim.hw.battery.life_s` (docs/battery.md).
"""

from __future__ import annotations

import numpy as np

from socsim.config.battery import BatterySpec
from socsim.hw.battery import life_s, ocv, step, terminal_v
from socsim.report.tables import Tables


def power_series(t: Tables, makespan_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Window edges (ns) and each window's average power (mW) over the run: the bins of
    ``t.series`` (:mod:`socsim.report.bins`), which cover every record of a streamed run
    too."""
    if makespan_ns <= 0:
        return np.array([0.0]), np.array([])
    edges = t.series.edges_ns.astype(float)
    return edges, t.series.power_mw()


def battery_summary(t: Tables, makespan_ns: int, battery: BatterySpec | None,
                    budget_mw: float | None) -> tuple[dict, list[str]]:
    """The summary's ``power`` and ``battery`` blocks, and notes for the console.

    Returns:
        ``({"power": ..., "battery": ...}, notes)``; ``battery`` only with a battery.
    """
    total_pj = float(t.energy["energy_pj"].sum())
    avg_mw = total_pj / makespan_ns if makespan_ns else 0.0
    edges, power_mw = power_series(t, makespan_ns)
    peak = float(power_mw.max()) if len(power_mw) else 0.0
    window_ms = float(edges[1] - edges[0]) / 1e6 if len(edges) > 1 else 0.0
    power = {"average_mw": avg_mw, "peak_mw": peak, "window_ms": window_ms,
             "budget_mw": budget_mw}
    notes = []
    if budget_mw is not None:
        over = int((power_mw > budget_mw).sum())
        power["over_budget"] = avg_mw > budget_mw or over > 0
        power["windows_over_budget"] = over
        if power["over_budget"]:
            notes.append(f"power budget {budget_mw:g} mW exceeded: average {avg_mw:.4g} mW, "
                         f"peak {peak:.4g} mW over {window_ms:.3g} ms windows "
                         f"({over} of {len(power_mw)} windows over)")
    out: dict = {"power": power}
    if battery is not None:
        soc, socs, volts = battery.initial_soc, [battery.initial_soc], []
        for p, dt in zip(power_mw, np.diff(edges)):
            volts.append(float(terminal_v(battery, soc, p * 1e-3)))
            soc = step(battery, soc, p * 1e-3, dt * 1e-9)
            socs.append(soc)
        life = life_s(battery, avg_mw * 1e-3)
        out["battery"] = {
            "capacity_mah": battery.capacity_mah,
            "nominal_v": battery.nominal_v,
            "initial_soc": battery.initial_soc,
            "soc_end_of_run": soc,
            "ocv_v_initial": float(ocv(battery, battery.initial_soc)),
            "min_terminal_v": float(np.nanmin(volts)) if volts else None,
            "life_h": life / 3600.0,
            "life_at_power_mw": avg_mw,
            "series": {"time_ms": [float(e) / 1e6 for e in edges[1:]],
                       "power_mw": [float(p) for p in power_mw],
                       "soc": socs[1:], "terminal_v": volts},
        }
        notes.append(f"battery: estimated life {life / 3600.0:.4g} h at the run's average "
                     f"{avg_mw:.4g} mW ({battery.capacity_mah:g} mAh, cutoff "
                     f"{battery.cutoff_v:g} V; docs/battery.md)")
    return out, notes
