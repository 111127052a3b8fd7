"""Trace -> pandas frames and the summary dictionary.

Definitions used in every report:
- latency of an inference = completion time - arrival time;
- busy_ms of a unit = sum of its ops' durations (engine-time); utilisation = busy /
  (engines x simulated time), so a 4-core cluster with one core always busy is at 0.25;
- energy categories: ``compute`` (ops' dynamic MAC/elementwise energy), ``sram`` and ``dram``
  (bytes read and written by ops, DMA transfers and page-ins, times each memory's pJ/byte, by
  the memory's kind; ``memory`` = their sum), ``dma`` (engines' own pJ/byte), ``reconfig``
  (reconfigurable units' loads, e.g. an FPGA's partial reconfigurations), ``static``
  (leakage of units while they run ops, attributed to those ops, and of memories over the
  whole run), ``idle`` (leakage of units outside their ops).
  compute + sram + dram + dma + reconfig + static + idle = ``total``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from socsim.hw.kind import UNIT_KINDS, unit_kind
from socsim.report.bins import RunBins, RunSeries
from socsim.report.totals import KeyedTotals
from socsim.report.transfers import TransferTotals, transfer_frame
from socsim.sim.trace import (
    INFERENCE_COLUMNS,
    OP_COLUMNS,
    RECONFIG_COLUMNS,
    OpRecord,
    Trace,
)

PJ_PER_MJ = 1e9
PJ_PER_UJ = 1e6


_OP_PJ = ["compute_pj", "sram_pj", "dram_pj", "static_pj"]
_OP_BYTES = ["macs", "bytes_in", "weight_bytes", "bytes_out"]
#: the columns of :attr:`Tables.op_totals`, per unit
OP_TOTAL_COLUMNS: tuple[str, ...] = ("ops", "busy_ns", *_OP_PJ, *_OP_BYTES)


@dataclass(frozen=True)
class Tables:
    """The frames a report is made of.

    ``ops`` holds every op record, except in a streamed run (``run.ops_table: parquet`` or
    ``none``), where it holds those the plots and the trace window need; the summary reads
    ``op_totals`` and the time series ``series`` (:mod:`socsim.report.bins`), which always
    cover every op. Likewise ``transfers`` (all of them, or in a streamed run those kept) and
    ``transfer_totals`` (every transfer: :mod:`socsim.report.transfers`).
    """

    ops: pd.DataFrame
    transfers: pd.DataFrame
    inferences: pd.DataFrame
    energy: pd.DataFrame  # component, kind, category, energy_pj
    reconfigs: pd.DataFrame  # reconfigurations (RECONFIG_COLUMNS)
    op_totals: pd.DataFrame = field(default=None)  # per unit (index): OP_TOTAL_COLUMNS
    series: RunSeries = field(default=None)  # binned over the whole run (socsim.report.bins)
    transfer_totals: TransferTotals = field(default=None)  # every transfer's


def op_frame(records: Sequence[OpRecord]) -> pd.DataFrame:
    """The op records as a frame (OP_COLUMNS), with ``memory_pj`` and ``energy_pj``."""
    ops = pd.DataFrame.from_records(records, columns=list(OP_COLUMNS))
    ops["memory_pj"] = ops["sram_pj"] + ops["dram_pj"]
    ops["energy_pj"] = ops["compute_pj"] + ops["memory_pj"] + ops["static_pj"]
    return ops


class OpTotals(KeyedTotals):
    """Per-unit totals of op records (OP_TOTAL_COLUMNS), added chunk by chunk, so a streamed
    run's summary needs no op records kept (:class:`socsim.report.totals.KeyedTotals`)."""

    def __init__(self) -> None:
        super().__init__("unit", OP_TOTAL_COLUMNS, "ops", _OP_PJ)


def tables(trace: Trace, component_kinds: dict[str, str], *,
           streamed: tuple[pd.DataFrame, OpTotals, RunBins] | None = None,
           streamed_transfers: tuple[pd.DataFrame, TransferTotals] | None = None) -> Tables:
    """Build the report frames of ``trace``.

    Args:
        component_kinds: component name -> kind (a unit's kind, ``dma``, a memory's kind).
        streamed: for a run whose op records went to a sink (:mod:`socsim.report.stream`):
            the ops it kept, the totals and the bins of all of them; None: every op is in
            ``trace.ops`` (added to the same totals and bins here).
        streamed_transfers: likewise for transfers (:class:`~socsim.report.transfers.
            TransferStream`, which added them to those bins): the kept ones and the totals;
            None: every transfer is in ``trace.transfers``.
    """
    if streamed is None:
        ops = op_frame(trace.ops)
        totals, bins = OpTotals(), RunBins()
        totals.add(ops)
        bins.add_ops(ops)
    else:
        ops, totals, bins = streamed
    op_totals = totals.frame()
    if streamed_transfers is None:
        transfers, xfer_totals = transfer_frame(trace.transfers), TransferTotals()
        xfer_totals.add(transfers)
        bins.add_transfers(transfers)
    else:
        transfers, xfer_totals = streamed_transfers
    inferences = pd.DataFrame.from_records(trace.inferences, columns=list(INFERENCE_COLUMNS))
    inferences["latency_ns"] = inferences["end_ns"] - inferences["arrival_ns"]
    inferences["missed"] = inferences["deadline_ns"].notna() & (
        inferences["end_ns"] > inferences["deadline_ns"].fillna(np.inf))

    reconfigs = pd.DataFrame.from_records(trace.reconfigs, columns=list(RECONFIG_COLUMNS))

    rows = []
    for unit, pj in reconfigs.groupby("unit")["reconfig_pj"].sum().items():
        rows.append((unit, "reconfig", pj))
    for unit, r in op_totals[_OP_PJ].iterrows():
        rows += [(unit, "compute", r.compute_pj), (unit, "sram", r.sram_pj),
                 (unit, "dram", r.dram_pj), (unit, "static", r.static_pj)]
    for engine, r in xfer_totals.engines().iterrows():
        rows += [(engine, "dma", r.dma_pj), (engine, "sram", r.sram_pj),
                 (engine, "dram", r.dram_pj)]
    for name, pj in trace.idle_static_pj.items():
        rows.append((name, "idle" if name in trace.units else "static", pj))
    energy = pd.DataFrame(rows, columns=["component", "category", "energy_pj"])
    energy = energy.groupby(["component", "category"], as_index=False, sort=False).sum()
    energy.insert(1, "kind", energy["component"].map(component_kinds))
    bins.add_reconfigs(reconfigs)
    background = {"idle": 0.0, "static": 0.0}
    for name, pj in trace.idle_static_pj.items():
        background["idle" if name in trace.units else "static"] += pj
    series = bins.finish(trace.makespan_ns, background)
    return Tables(ops, transfers, inferences, energy, reconfigs, op_totals, series,
                  xfer_totals)


def _reconfigurations(t: Tables, trace: Trace) -> dict[str, dict]:
    """The summary blocks of reconfigurations: one per registered kind that reconfigures
    (its ``reconfig_section``, present even when empty), holding per unit with
    reconfigurations what the kind's :meth:`~socsim.hw.kind.UnitKind.reconfig_summary` says."""
    sections: dict[str, dict] = {s: {} for s in reconfig_sections()}
    for unit, g in t.reconfigs.groupby("unit", sort=False):
        kind = unit_kind(trace.unit_kinds[unit])
        sections.setdefault(kind.reconfig_section or "reconfigurations", {})[unit] = \
            kind.reconfig_summary(g)
    return sections


def reconfig_sections() -> list[str]:
    """The summary keys of every registered kind's reconfigurations."""
    return list(dict.fromkeys(c.reconfig_section for c in UNIT_KINDS.classes()
                              if c.reconfig_section))


def _percentiles(values: pd.Series) -> dict[str, float]:
    if values.empty:
        return {"p50": None, "p99": None, "max": None, "mean": None}
    ms = values.to_numpy(dtype=float) / 1e6
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()), "mean": float(ms.mean())}


def summary(t: Tables, trace: Trace, *, scenario: str, soc: str, policy: dict,
            seed: int) -> dict:
    """The ``summary.json`` dictionary (see :mod:`socsim.report.tables` for definitions)."""
    span_ns = trace.makespan_ns
    n = len(t.inferences)
    cat = t.energy.groupby("category")["energy_pj"].sum()
    total_pj = float(t.energy["energy_pj"].sum())
    units = {}
    busy = t.op_totals["busy_ns"]
    unit_energy = t.energy.groupby("component")["energy_pj"].sum()
    for name in trace.units:
        b = float(busy.get(name, 0))
        engines = trace.engines[name]
        units[name] = {
            "ops": int(t.op_totals["ops"].get(name, 0)),
            "busy_ms": b / 1e6,
            "utilisation": b / (engines * span_ns) if span_ns else 0.0,
            "energy_mj": float(unit_energy.get(name, 0.0)) / PJ_PER_MJ,
            **_dynamics(trace, name),
        }
    xt = t.transfer_totals
    dma = xt.engines()
    engines = {}
    for name, r in dma.iterrows():
        b = float(r["busy_ns"])
        engines[name] = {"transfers": int(r["transfers"]), "bytes": int(r["bytes"]),
                         "busy_ms": b / 1e6,
                         "utilisation": b / (trace.engines[name] * span_ns) if span_ns else 0.0}
    per_workload = {}
    for w, group in t.inferences.groupby("workload", sort=False):
        per_workload[w] = {"inferences": len(group),
                           "latency_ms": _percentiles(group["latency_ns"]),
                           "deadline_misses": int(group["missed"].sum())}
    return {
        "scenario": scenario,
        "soc": soc,
        "policy": policy,
        "seed": seed,
        "simulated_ms": span_ns / 1e6,
        "inferences": n,
        "latency_ms": _percentiles(t.inferences["latency_ns"]),
        "deadline_misses": int(t.inferences["missed"].sum()),
        "workloads": per_workload,
        "energy_mj": {
            "total": total_pj / PJ_PER_MJ,
            "per_inference": total_pj / PJ_PER_MJ / n if n else None,
            **{c: float(cat.get(c, 0.0)) / PJ_PER_MJ
               for c in ("compute", "sram", "dram", "dma", "reconfig", "static", "idle")},
            "memory": float(cat.get("sram", 0.0) + cat.get("dram", 0.0)) / PJ_PER_MJ,
        },
        "units": units,
        "dma": engines,
        "dma_bytes": int(dma["bytes"].sum()),
        "zero_copy_count": xt.zero_copy_count,
        "zero_copy_bytes": xt.zero_copy_bytes,
        "page_faults": trace.page_faults,
        "paging": _paging(t, trace),
        **_reconfigurations(t, trace),
        "spills": trace.spills,
        "spill_bytes": trace.spill_bytes,
        "memory_peak_kib": {m: trace.memory_peak_bytes[m] / 1024
                            for m in trace.memory_peak_bytes},
        "notes": list(trace.notes),
    }


def _paging(t: Tables, trace: Trace) -> dict:
    """Weight paging: faults (pages), page-ins (transfers, bytes, ms, mJ), evictions."""
    xt = t.transfer_totals
    return {
        "page_faults": trace.page_faults,
        "page_ins": xt.page_ins,
        "page_in_bytes": xt.page_in_bytes,
        "page_in_ms": xt.page_in_ns / 1e6,
        "page_in_mj": xt.page_in_pj / PJ_PER_MJ,
        "evictions": len(trace.evictions),
        "evicted_bytes": int(sum(rec.bytes for rec in trace.evictions)),
    }


def _dynamics(trace: Trace, unit: str) -> dict:
    """A unit's DVFS and thermal history: frequency changes, final/min frequency, peak and
    final temperature (None without a thermal model)."""
    freqs = [r.value for r in trace.counters if r.unit == unit and r.counter == "freq_mhz"]
    temps = [r.value for r in trace.counters if r.unit == unit and r.counter == "temp_c"]
    return {
        "freq_changes": max(0, len(freqs) - 1),
        "freq_mhz_final": freqs[-1] if freqs else None,
        "freq_mhz_min": min(freqs) if freqs else None,
        "temp_c_max": max(temps) if temps else None,
        "temp_c_final": temps[-1] if temps else None,
    }
