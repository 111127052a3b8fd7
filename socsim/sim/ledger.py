"""The engine's own running totals, kept apart from the trace records.

The trace holds one record per op and transfer, each with its energy parts; the report adds
those records up. Adding up the same records twice cannot catch a record that was lost,
duplicated, filed under the wrong component or priced with the wrong figure. So, as it runs,
the engine also counts in plain counters that never read the trace:

- per unit: dynamic compute energy of its ops and conversions, reconfiguration energy, the
  static shares its ops were charged, and its leakage integral over the run;
- per memory: bytes read and bytes written (op operands and weights, conversion ends, both
  ends of every DMA transfer), priced only at the end from the device file's pJ/byte;
- per DMA engine: transfers and bytes moved, priced at the end from its pJ/byte.

:func:`socsim.report.reconcile.reconcile` compares the report with this ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Ledger:
    """Totals the engine accumulated independently of its trace records (pJ, bytes).

    Attributes:
        unit_compute_pj: per unit, dynamic energy of its ops and layout conversions.
        unit_reconfig_pj: per unit, energy of its reconfigurations (an FPGA's partial
            reconfigurations).
        unit_dynamic_pj: per unit, the dynamic energy its thermal model was fed (compute plus
            reconfiguration, counted by the unit state itself).
        unit_op_static_pj: per unit, the leakage charged to its ops and conversions.
        unit_leakage_pj: per unit, its leakage integrated over [0, makespan].
        unit_ops: per unit, ops and conversions it executed.
        memory_read_bytes, memory_written_bytes: per memory, bytes read and written.
        memory_pj: per memory, read bytes x read_pj_per_byte + written bytes x
            write_pj_per_byte.
        memory_kind: per memory, ``sram`` or ``dram`` (the report's energy category).
        memory_static_pj: per memory, leakage x makespan.
        dma_transfers, dma_bytes: per DMA engine, transfers (copies and page-ins) and bytes.
        dma_pj: per DMA engine, bytes x energy_pj_per_byte.
    """

    unit_compute_pj: dict[str, float] = field(default_factory=dict)
    unit_reconfig_pj: dict[str, float] = field(default_factory=dict)
    unit_dynamic_pj: dict[str, float] = field(default_factory=dict)
    unit_op_static_pj: dict[str, float] = field(default_factory=dict)
    unit_leakage_pj: dict[str, float] = field(default_factory=dict)
    unit_ops: dict[str, int] = field(default_factory=dict)
    memory_read_bytes: dict[str, int] = field(default_factory=dict)
    memory_written_bytes: dict[str, int] = field(default_factory=dict)
    memory_pj: dict[str, float] = field(default_factory=dict)
    memory_kind: dict[str, str] = field(default_factory=dict)
    memory_static_pj: dict[str, float] = field(default_factory=dict)
    dma_transfers: dict[str, int] = field(default_factory=dict)
    dma_bytes: dict[str, int] = field(default_factory=dict)
    dma_pj: dict[str, float] = field(default_factory=dict)

    def category_pj(self) -> dict[str, float]:
        """The seven energy categories of the report, from these counters alone."""
        return {
            "compute": sum(self.unit_compute_pj.values()),
            "sram": sum(pj for m, pj in self.memory_pj.items()
                        if self.memory_kind[m] == "sram"),
            "dram": sum(pj for m, pj in self.memory_pj.items()
                        if self.memory_kind[m] == "dram"),
            "dma": sum(self.dma_pj.values()),
            "reconfig": sum(self.unit_reconfig_pj.values()),
            "static": sum(self.unit_op_static_pj.values())
            + sum(self.memory_static_pj.values()),
            "idle": sum(self.unit_leakage_pj[u] - self.unit_op_static_pj[u]
                        for u in self.unit_leakage_pj),
        }

    def total_pj(self) -> float:
        """Every picojoule the run spent, from these counters alone."""
        return sum(self.category_pj().values())
