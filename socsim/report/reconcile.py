"""Check a report against the engine's ledger: the records must add up to what was spent.

The report sums the trace's records; the engine's :class:`~socsim.sim.ledger.Ledger` counted
the same run in separate counters (energy per unit, bytes per memory priced from the device
file at the end, bytes and transfers per DMA engine). A record lost, counted twice, filed under
the wrong component or priced with the wrong pJ/byte makes the two disagree.
"""

from __future__ import annotations

import math

from socsim.report.tables import PJ_PER_MJ, Tables
from socsim.sim.trace import Trace

#: Relative tolerance: the two sides add the same numbers in different orders.
REL_TOL = 1e-9


def reconcile(trace: Trace, t: Tables, s: dict) -> list[str]:
    """Every disagreement between the report of a run and its engine's ledger.

    Args:
        trace: the run's trace (its ``ledger`` filled by the engine).
        t: the report frames built from ``trace`` (:func:`socsim.report.tables.tables`).
        s: the summary built from them (:func:`socsim.report.tables.summary`).

    Returns:
        One message per mismatch (component, quantity, report value, ledger value); empty when
        the report accounts for exactly what the engine counted.
    """
    ledger = trace.ledger
    scale = max(1.0, ledger.total_pj())
    problems: list[str] = []

    def same(what: str, reported: float, counted: float) -> None:
        if not math.isclose(reported, counted, rel_tol=REL_TOL, abs_tol=REL_TOL * scale):
            problems.append(f"{what}: report {reported!r}, ledger {counted!r}")

    rows = t.energy.groupby(["component", "category"])["energy_pj"].sum().to_dict()

    def row(component: str, category: str) -> float:
        return float(rows.get((component, category), 0.0))

    for unit, leak in ledger.unit_leakage_pj.items():
        compute, reconfig = row(unit, "compute"), row(unit, "reconfig")
        same(f"{unit} compute pJ", compute, ledger.unit_compute_pj[unit])
        same(f"{unit} reconfig pJ", reconfig, ledger.unit_reconfig_pj[unit])
        same(f"{unit} dynamic pJ (thermal input)", compute + reconfig,
             ledger.unit_dynamic_pj[unit])
        same(f"{unit} static pJ of its ops", row(unit, "static"), ledger.unit_op_static_pj[unit])
        same(f"{unit} static + idle pJ (leakage)", row(unit, "static") + row(unit, "idle"), leak)
        same(f"{unit} ops", s["units"][unit]["ops"], ledger.unit_ops[unit])
    for category in ("sram", "dram"):
        counted = sum(pj for m, pj in ledger.memory_pj.items()
                      if ledger.memory_kind[m] == category)
        same(f"{category} pJ (bytes per memory x pJ/byte)",
             s["energy_mj"][category] * PJ_PER_MJ, counted)
    for mem, pj in ledger.memory_static_pj.items():
        same(f"{mem} static pJ", row(mem, "static"), pj)
    for engine, n in ledger.dma_transfers.items():
        reported = s["dma"].get(engine, {"transfers": 0, "bytes": 0})
        same(f"{engine} transfers", reported["transfers"], n)
        same(f"{engine} bytes", reported["bytes"], ledger.dma_bytes[engine])
        same(f"{engine} dma pJ", row(engine, "dma"), ledger.dma_pj[engine])
    moved = int(t.transfer_totals.engines()["bytes"].sum())  # every transfer's, streamed too
    same("bytes read (ops' inputs and weights, DMA sources)",
         int(t.op_totals["bytes_in"].sum() + t.op_totals["weight_bytes"].sum() + moved),
         sum(ledger.memory_read_bytes.values()))
    same("bytes written (ops' outputs, DMA destinations)",
         int(t.op_totals["bytes_out"].sum() + moved),
         sum(ledger.memory_written_bytes.values()))
    counted = ledger.category_pj()
    for category, pj in counted.items():
        same(f"{category} pJ", s["energy_mj"][category] * PJ_PER_MJ, pj)
    same("total pJ", s["energy_mj"]["total"] * PJ_PER_MJ, sum(counted.values()))
    return problems
