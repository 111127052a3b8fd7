"""What a simulation produced: one record per op, transfer, inference; totals for the rest.

Records are typed named tuples (:class:`OpRecord`, ...): read by field name, as small and as
cheap to append in the hot loop as plain tuples; :mod:`socsim.report` turns them into pandas
frames with the records' field names as columns. Times are integer nanoseconds, energies pJ.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from socsim.sim.ledger import Ledger


class OpRecord(NamedTuple):
    """One executed op (or layout conversion): who ran it, when, how much work and energy."""

    workload: str
    inference: int
    op: str
    op_type: str
    dtype: str
    unit: str
    engine: int  # the unit's engine (track) it held
    start_ns: int
    end_ns: int
    cycles: float
    macs: int
    utilisation: float
    bytes_in: int
    weight_bytes: int
    bytes_out: int
    compute_pj: float
    sram_pj: float
    dram_pj: float
    static_pj: float
    freq_mhz: float
    voltage_v: float


class TransferRecord(NamedTuple):
    """One DMA transfer, weight page-in or zero-copy hand-off (``kind``)."""

    workload: str
    inference: int
    tensor: str
    kind: str  # "dma", "page_in" or "zero_copy"
    src: str
    dst: str
    bytes: int
    start_ns: int
    end_ns: int
    engine: str | None  # None for a zero-copy hand-off
    channel: int | None
    dma_pj: float
    sram_pj: float
    dram_pj: float


class EvictionRecord(NamedTuple):
    """One weight segment evicted from an SRAM."""

    time_ns: int
    memory: str
    workload: str
    op: str
    bytes: int


class ReconfigRecord(NamedTuple):
    """One reconfiguration of a reconfigurable unit, loading the configuration (``kernel``)
    an op needs; ``evicted`` names the configurations it replaced, joined by spaces."""

    workload: str
    inference: int
    op: str
    unit: str
    kernel: str
    start_ns: int
    end_ns: int
    bitstream_bytes: int
    reconfig_pj: float
    evicted: str


class InferenceRecord(NamedTuple):
    """One completed inference."""

    workload: str
    inference: int
    arrival_ns: int
    end_ns: int
    deadline_ns: int | None


class CounterRecord(NamedTuple):
    """A sample of a unit's counter track (``freq_mhz``, ``temp_c``)."""

    time_ns: int
    unit: str
    counter: str
    value: float


class OpBuffer(list):
    """The op records of a streamed run between two chunks: :class:`OpRecord` tuples, and
    between them *blocks* of records given as columns (the fast path's replayed windows,
    :mod:`socsim.sim.outcome`), which cost no tuple per op. ``len`` counts every record;
    indexing and iteration see the tuples only; :meth:`segments` gives all in order.

    A block is a dict of :data:`OP_COLUMNS` -> 1-D numpy arrays of equal length.
    """

    __slots__ = ("blocks", "extra")

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[tuple[int, dict]] = []  # (tuples before it, columns)
        self.extra = 0  # records held in blocks

    def __len__(self) -> int:
        return list.__len__(self) + self.extra

    def add_block(self, columns: dict, n: int) -> None:
        """Append ``n`` records given as columns (after every record held so far)."""
        self.blocks.append((list.__len__(self), columns))
        self.extra += n

    def clear(self) -> None:
        list.clear(self)
        self.blocks = []
        self.extra = 0

    def fields_from(self, start: int, names: tuple[str, ...]):
        """The fields ``names`` (of :data:`OP_COLUMNS`) of each record from the ``start``-th
        on, tuples and blocks alike, in order, as tuples of Python values."""
        seen = 0
        for kind, part in self.segments():
            n = len(part[names[0]]) if kind == "block" else len(part)
            skip = start - seen
            seen += n
            if skip >= n:
                continue
            skip = max(skip, 0)
            if kind == "block":
                yield from zip(*(part[c][skip:].tolist() for c in names))
            else:
                at = [OpRecord._fields.index(c) for c in names]
                for rec in part[skip:]:
                    yield tuple(rec[i] for i in at)

    def segments(self):
        """The records in order: lists of tuples and column blocks, as ``("records", list)``
        and ``("block", columns)``."""
        prev = 0
        for pos, columns in self.blocks:
            if pos > prev:
                yield "records", self[prev:pos]
            yield "block", columns
            prev = pos
        if list.__len__(self) > prev:
            yield "records", self[prev:]


#: ``new_record(OpRecord, (field, ...))``: a record from one tuple of its fields in order, as
#: the engine's per-op paths build them (a NamedTuple's own constructor is a Python call per
#: record, about 5% of a timing-only run; this is tuple's, in C)
new_record = tuple.__new__

OP_COLUMNS: tuple[str, ...] = OpRecord._fields
TRANSFER_COLUMNS: tuple[str, ...] = TransferRecord._fields
EVICTION_COLUMNS: tuple[str, ...] = EvictionRecord._fields
RECONFIG_COLUMNS: tuple[str, ...] = ReconfigRecord._fields
INFERENCE_COLUMNS: tuple[str, ...] = InferenceRecord._fields


@dataclass
class Trace:
    """Everything one simulation run recorded.

    Attributes:
        ops: one :class:`OpRecord` per executed op or layout conversion.
        transfers: one :class:`TransferRecord` per DMA transfer, page-in or zero-copy hand-off.
        inferences: one :class:`InferenceRecord` per completed inference.
        makespan_ns: simulated time at which the last inference completed.
        idle_static_pj: static energy of each unit outside its ops, and of each memory, pJ.
        units: the SoC's unit names; dma_engines: its DMA engine names.
        unit_kinds: each unit's kind (the report asks the kind about its reconfigurations).
        engines: ops each unit runs at once; DMA channels per engine (for utilisation).
        memory_peak_bytes: the most bytes each memory held at once.
        memory_capacity_bytes: each memory's capacity.
        counters: :class:`CounterRecord` samples: ``freq_mhz`` at the start and at
            every DVFS change, ``temp_c`` every sampling period of a unit with a thermal model.
        spills: tensors that did not fit their unit's preferred memory and went to the next;
            spill_bytes: their bytes.
        page_faults: weight pages paged into a ``weights_cache`` SRAM on a miss (each page-in
            is also a ``page_in`` transfer).
        evictions: one :class:`EvictionRecord` per weight segment evicted from an SRAM.
        reconfigs: one :class:`ReconfigRecord` per reconfiguration of a reconfigurable unit
            (an FPGA's partial reconfiguration).
        notes: messages for the user (placement fallbacks, ...).
        ledger: the engine's own running totals, counted apart from these records
            (:mod:`socsim.sim.ledger`), to check the records against.
        op_sink: when set (:meth:`stream_ops`), receives the op records in chunks of
            ``flush_at`` as the run goes and ``ops`` holds only the latest, unflushed ones;
            None: ``ops`` keeps every record.
        flush_at: the chunk size; the op paths call :meth:`flush_ops` once ``ops`` holds
            that many records.
    """

    ops: list[OpRecord] = field(default_factory=list)
    transfers: list[TransferRecord] = field(default_factory=list)
    inferences: list[InferenceRecord] = field(default_factory=list)
    makespan_ns: int = 0
    idle_static_pj: dict[str, float] = field(default_factory=dict)
    units: list[str] = field(default_factory=list)
    dma_engines: list[str] = field(default_factory=list)
    engines: dict[str, int] = field(default_factory=dict)
    unit_kinds: dict[str, str] = field(default_factory=dict)
    memory_peak_bytes: dict[str, int] = field(default_factory=dict)
    memory_capacity_bytes: dict[str, int] = field(default_factory=dict)
    counters: list[CounterRecord] = field(default_factory=list)
    spills: int = 0
    spill_bytes: int = 0
    page_faults: int = 0
    evictions: list[EvictionRecord] = field(default_factory=list)
    reconfigs: list[ReconfigRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the runtime manager's actions (socsim.runtime.records.SwitchRecord), time-ordered
    switches: list = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    #: the fast path's counts (socsim.sim.replay.FastPath.summary), None when it was off
    fast_path: dict[str, int] | None = None
    op_sink: Callable[[list[OpRecord]], None] | None = None
    flush_at: int = sys.maxsize
    #: called before and after each chunk goes to the sink (readers of the pending records,
    #: e.g. the battery's live view, catch up before they go)
    flush_hooks: list[Callable[[], None]] = field(default_factory=list)

    def stream_ops(self, sink: Callable[[list[OpRecord]], None], chunk: int) -> None:
        """Hand the op records to ``sink`` in chunks of ``chunk`` from now on (bounded memory)."""
        if chunk < 1:
            raise ValueError(f"chunk = {chunk}; a chunk holds at least one record")
        self.op_sink = sink
        self.flush_at = chunk
        if not self.ops:  # a buffer that also takes replayed records as columns
            self.ops = OpBuffer()

    def flush_ops(self) -> None:
        """Give the sink the records held (if any), then forget them; no sink: keep them."""
        if self.op_sink is not None and self.ops:
            for hook in self.flush_hooks:
                hook()
            self.op_sink(self.ops)
            self.ops.clear()  # in place: the op paths may hold the list
            for hook in self.flush_hooks:
                hook()
