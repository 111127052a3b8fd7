"""What a simulation produced: one record per op, transfer, inference; totals for the rest.

Records are plain tuples in the column order named here (cheap to append in the hot loop);
:mod:`socsim.report` turns them into pandas frames. Times are integer nanoseconds, energies pJ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from socsim.sim.ledger import Ledger

OP_COLUMNS = ("workload", "inference", "op", "op_type", "dtype", "unit", "engine", "start_ns",
              "end_ns", "cycles", "macs", "utilisation", "bytes_in", "weight_bytes", "bytes_out",
              "compute_pj", "sram_pj", "dram_pj", "static_pj", "freq_mhz", "voltage_v")
TRANSFER_COLUMNS = ("workload", "inference", "tensor", "kind", "src", "dst", "bytes", "start_ns",
                    "end_ns", "engine", "channel", "dma_pj", "sram_pj", "dram_pj")
EVICTION_COLUMNS = ("time_ns", "memory", "workload", "op", "bytes")
RECONFIG_COLUMNS = ("workload", "inference", "op", "unit", "kernel", "start_ns", "end_ns",
                    "bitstream_bytes", "reconfig_pj", "evicted")
INFERENCE_COLUMNS = ("workload", "inference", "arrival_ns", "end_ns", "deadline_ns")


@dataclass
class Trace:
    """Everything one simulation run recorded.

    Attributes:
        ops: one tuple per executed op (:data:`OP_COLUMNS`).
        transfers: one per DMA transfer or zero-copy hand-off (:data:`TRANSFER_COLUMNS`).
        inferences: one per completed inference (:data:`INFERENCE_COLUMNS`).
        makespan_ns: simulated time at which the last inference completed.
        idle_static_pj: static energy of each unit outside its ops, and of each memory, pJ.
        units: the SoC's unit names; dma_engines: its DMA engine names.
        unit_kinds: each unit's kind (the report asks the kind about its reconfigurations).
        engines: ops each unit runs at once; DMA channels per engine (for utilisation).
        memory_peak_bytes: the most bytes each memory held at once.
        memory_capacity_bytes: each memory's capacity.
        counters: (time_ns, unit, counter, value) samples: ``freq_mhz`` at the start and at
            every DVFS change, ``temp_c`` every sampling period of a unit with a thermal model.
        spills: tensors that did not fit their unit's preferred memory and went to the next;
            spill_bytes: their bytes.
        page_faults: weight pages paged into a ``weights_cache`` SRAM on a miss (each page-in
            is also a ``page_in`` transfer).
        evictions: one per weight segment evicted from an SRAM (:data:`EVICTION_COLUMNS`).
        reconfigs: one per reconfiguration of a reconfigurable unit (an FPGA's partial
            reconfiguration), loading the configuration (``kernel``) an op needs (:data:`RECONFIG_COLUMNS`; ``evicted`` names the kernels it replaced, joined
            by spaces).
        notes: messages for the user (placement fallbacks, ...).
        ledger: the engine's own running totals, counted apart from these records
            (:mod:`socsim.sim.ledger`), to check the records against.
    """

    ops: list[tuple] = field(default_factory=list)
    transfers: list[tuple] = field(default_factory=list)
    inferences: list[tuple] = field(default_factory=list)
    makespan_ns: int = 0
    idle_static_pj: dict[str, float] = field(default_factory=dict)
    units: list[str] = field(default_factory=list)
    dma_engines: list[str] = field(default_factory=list)
    engines: dict[str, int] = field(default_factory=dict)
    unit_kinds: dict[str, str] = field(default_factory=dict)
    memory_peak_bytes: dict[str, int] = field(default_factory=dict)
    memory_capacity_bytes: dict[str, int] = field(default_factory=dict)
    counters: list[tuple] = field(default_factory=list)
    spills: int = 0
    spill_bytes: int = 0
    page_faults: int = 0
    evictions: list[tuple] = field(default_factory=list)
    reconfigs: list[tuple] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
