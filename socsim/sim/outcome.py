"""What the fast path records of a group of inferences, and how it applies a recording again.

A recording covers a *window*: from the instant a group of inferences start their ops (one
inference, or several starting at the same instant) in a quiet system until the last of them
ends. It holds every effect relative to the window's start ``t0``: the op, transfer and
eviction records (times as offsets, the inference number as the member's position), the
integer counters advanced, the state left behind (bytes in use and peak per memory, weight
caches in LRU order, free engines and channels, busy-time integrals), and each member's
duration. See :mod:`socsim.sim.replay` for when a window may be recorded and replayed.

Part of the fast path; only :mod:`socsim.sim.replay` uses it.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from socsim.sim.trace import (
    OP_COLUMNS,
    EvictionRecord,
    OpBuffer,
    OpRecord,
    TransferRecord,
    new_record,
)

if TYPE_CHECKING:
    from socsim.sim.engine import Simulation
    from socsim.sim.program import Program


class Outcome:
    """A recorded window, relative to its start (see the module)."""

    __slots__ = ("durations", "ops", "transfers", "evictions", "ints", "traffic", "pools",
                 "caches", "stations", "busy", "fabric", "columns")


class Recording:
    """A window being recorded: the state at its start and its members."""

    __slots__ = ("key", "members", "where", "t0", "peek", "live", "n_ops", "flush_at",
                 "n_transfers", "n_evictions", "n_reconfigs", "n_counters", "ints", "peaks",
                 "traffic", "acc", "busy", "disturbed", "ends", "order", "used", "free")


class State:
    """Reads, records and restores the parts of a simulation's state the op path touches."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.units = list(sim.units.values())
        self.by_name = sim.units
        self.pools = list(sim.pools.values())
        self.caches = [p.cache for p in self.pools if p.cache is not None]
        self.stations = [*self.units, *sim.dma.values()]

    def key(self, progs: tuple[int, ...]) -> tuple:
        """The group's programs and everything of the state their ops read: each unit's
        operating point and free engines, each DMA engine's free channels, each memory's
        bytes in use, each weight cache's segments in LRU order (pinned, in use)."""
        return (progs,
                tuple(u.freq_mhz for u in self.units),
                tuple(p.used for p in self.pools),
                tuple(tuple(s._free) for s in self.stations),
                tuple((tuple(c.resident.items()), tuple(sorted(c.pinned)), c.pinned_bytes,
                       tuple(k for k, n in c.in_use.items() if n)) for c in self.caches))

    def ints(self) -> list[int]:
        """The integer counters a window advances, in a fixed order."""
        sim = self.sim
        trace = sim.trace
        out = [trace.spills, trace.spill_bytes, trace.page_faults, sim.memory._order]
        for p in self.pools:
            out += (p.read_bytes, p.written_bytes)
        for u in self.units:
            out.append(u.ops)
        for s in self.stations:
            out.append(s._order)
        out += sim._dma_transfers.values()
        out += sim._dma_bytes.values()
        return out

    def add_ints(self, deltas: list[int]) -> None:
        sim = self.sim
        trace = sim.trace
        it = iter(deltas)
        trace.spills += next(it)
        trace.spill_bytes += next(it)
        trace.page_faults += next(it)
        sim.memory._order += next(it)
        for p in self.pools:
            p.read_bytes += next(it)
            p.written_bytes += next(it)
        for u in self.units:
            u.ops += next(it)
        for s in self.stations:
            s._order += next(it)
        for d in (sim._dma_transfers, sim._dma_bytes):
            for name in d:
                d[name] += next(it)

    # -- recording ----------------------------------------------------------------------------

    def start(self, key: tuple, members: list[tuple[Program, int]], peek: float,
              live: set[int]) -> Recording:
        """Begin recording a window of ``members`` ((program, inference number), in start
        order) now; ``peek`` is when the next foreign event is due, ``live`` the ids of the
        events someone waits for now."""
        trace = self.sim.trace
        rec = Recording()
        rec.key, rec.members, rec.t0, rec.peek, rec.live = (key, members, self.sim.env.now,
                                                            peek, live)
        rec.where = {(p.name, i): pos for pos, (p, i) in enumerate(members)}
        rec.disturbed = False
        rec.ends = [None] * len(members)
        rec.order = []
        # no flush inside the window (its records are sliced off the list at its end);
        # finish() hands on the chunks exactly where op by op would have
        rec.flush_at = trace.flush_at
        trace.flush_at = sys.maxsize
        rec.n_ops = list.__len__(trace.ops)  # tuples (an OpBuffer's blocks come before)
        rec.n_transfers = len(trace.transfers)
        rec.n_evictions = len(trace.evictions)
        rec.n_reconfigs = len(trace.reconfigs)
        rec.n_counters = len(trace.counters)
        rec.ints = self.ints()
        rec.peaks = [p.peak for p in self.pools]
        for p in self.pools:  # the window's own peak, measured from its start
            p.peak = p.used
        rec.traffic = {id(c): c[5] for p, _ in members for s in p.specs
                       for c in s.traffic_cost.values()}
        rec.acc = [(u.op_static_pj, u.dyn_pj, u.compute_pj) for u in self.units]
        rec.busy = [(u._busy_ns, u._t_busy) for u in self.units]
        rec.used = [p.used for p in self.pools]
        rec.free = [list(s._free) for s in self.stations]
        return rec

    def finish(self, rec: Recording, valid) -> Outcome | None:
        """Close ``rec`` (restoring what it suspended); its outcome if ``valid(rec, ops)``."""
        sim = self.sim
        trace = sim.trace
        t0 = rec.t0
        window_peaks = [p.peak for p in self.pools]
        for p, old in zip(self.pools, rec.peaks):
            p.peak = max(old, p.peak)
        ops = trace.ops[rec.n_ops:]
        # before the chunks below: a streamed run's sink takes transfers with each op chunk
        transfers = trace.transfers[rec.n_transfers:]
        trace.flush_at = rec.flush_at
        while len(trace.ops) >= trace.flush_at:  # the chunks op by op would have handed on
            cut = trace.flush_at - (len(trace.ops) - list.__len__(trace.ops))  # blocks first
            rest = trace.ops[cut:]
            del trace.ops[cut:]
            trace.flush_ops()
            trace.ops.extend(rest)
        where = rec.where
        if (not valid(rec) or len(trace.reconfigs) != rec.n_reconfigs
                or len(trace.counters) != rec.n_counters
                or not all((r[0], r[1]) in where for r in ops)
                or not all((r[0], r[1]) in where for r in transfers)
                or not self._sums_match(rec, ops)):
            return None
        out = Outcome()
        out.columns = None  # built on the first replay into an OpBuffer (_columns)
        out.durations = [end - t0 for end in rec.ends]
        units = self.by_name
        out.ops = [(units[r[5]], where[r[0], r[1]], r[0], r[2], r[3], r[4], r[5], r[6],
                    r[7] - t0, r[8] - t0, *r[9:18], r[19], r[20]) for r in ops]
        out.transfers = [(where[r[0], r[1]], r[0], *r[2:7], r[7] - t0, r[8] - t0, *r[9:])
                         for r in transfers]
        out.evictions = [(r[0] - t0, *r[1:]) for r in trace.evictions[rec.n_evictions:]]
        # only what the window changed (the rest is in the key, so equal at every replay)
        out.ints = [b - a for a, b in zip(rec.ints, self.ints())]
        if not any(out.ints):
            out.ints = None
        out.traffic = [(c, c[5] - rec.traffic.get(id(c), 0)) for p, _ in rec.members
                       for s in p.specs for c in s.traffic_cost.values()
                       if c[5] != rec.traffic.get(id(c), 0)]
        out.pools = [(p, p.used, wp) for p, wp, u0 in zip(self.pools, window_peaks, rec.used)
                     if p.used != u0 or wp > u0]
        out.caches = [(c, tuple(c.resident.items()), set(c.pinned), c.pinned_bytes,
                       dict(c.in_use)) for c in self.caches]
        out.stations = [(s, list(s._free)) for s, f0 in zip(self.stations, rec.free)
                        if s._free != f0]
        out.busy = [(u, u._busy_ns - b, None if tb == u._t_busy else u._t_busy - t0)
                    for u, (b, tb) in zip(self.units, rec.busy)
                    if u._busy_ns != b or u._t_busy != tb]
        # the fabric is idle at both ends (its clock restarts with its next flow): keep its
        # clock if the window ran it, and that no wake-up is left to honour
        fabric = sim.bandwidth
        out.fabric = ((fabric.origin - t0, fabric._t, fabric._next_end)
                      if fabric.origin >= t0 else None, fabric._wake is None)
        return out

    def _sums_match(self, rec: Recording, ops: list) -> bool:
        """The op records, in order, give every running float sum of the window (a check
        that nothing else added to them)."""
        acc = {u.name: list(a) for u, a in zip(self.units, rec.acc)}
        for r in ops:
            a = acc[r[5]]
            a[0] += r[18]
            a[1] += r[15]
            a[2] += r[15]
        return all(acc[u.name] == [u.op_static_pj, u.dyn_pj, u.compute_pj] for u in self.units)

    # -- replay -------------------------------------------------------------------------------

    def apply(self, out: Outcome, indices: list[int]) -> None:
        """Apply ``out`` now to a group whose members are inferences number ``indices``."""
        sim = self.sim
        t0 = sim.env.now
        trace = sim.trace
        records = trace.ops
        if records.__class__ is OpBuffer:
            self._apply_columns(out, indices, t0, records)
        else:
            self._apply_records(out, indices, t0, records)
        self._apply_rest(out, indices, t0)

    def _apply_records(self, out: Outcome, indices: list[int], t0: int, records: list
                       ) -> None:
        """The op records as tuples (a run that keeps them)."""
        trace = self.sim.trace
        flush_at = trace.flush_at
        for (u, pos, wl, op, op_type, dtype, uname, engine, so, eo, cycles, macs, util, b_in,
             wb, b_out, dyn, sram, dram, freq, volt) in out.ops:
            start = t0 + so
            end = t0 + eo
            # the engine's formula (socsim.sim.execution._hold) at the shifted times
            static = (u.static_pj(end) - u.static_pj(start)) / u.engines
            u.op_static_pj += static
            u.dyn_pj += dyn
            u.compute_pj += dyn
            records.append(new_record(OpRecord, (
                wl, indices[pos], op, op_type, dtype, uname, engine, start, end, cycles, macs,
                util, b_in, wb, b_out, dyn, sram, dram, static, freq, volt)))
            if len(records) >= flush_at:
                trace.flush_ops()

    def _apply_columns(self, out: Outcome, indices: list[int], t0: int,
                       records: OpBuffer) -> None:
        """The op records as one block of columns (a streamed run): no tuple per op. The
        running sums are added to in record order, as :meth:`_apply_records` does."""
        columns, units, seq, offsets, positions = out.columns or self._columns(out)
        # per unit: UnitState.static_pj's terms (fixed within the window: nothing else runs)
        # and its running sums, added to in record order and stored back at the end
        params = [(u._static_pj, u.leak_mw, t0 - u._t_static, u.engines) for u in units]
        sums = [[u.op_static_pj, u.dyn_pj, u.compute_pj] for u in units]
        statics = []
        keep = statics.append
        for k, so, eo, dyn in seq:
            sp, leak, d, engines = params[k]
            # UnitState.static_pj at the shifted end and start, inline (the same expression:
            # t0 + eo - t_static == eo + (t0 - t_static), integers)
            static = ((sp + leak * (eo + d)) - (sp + leak * (so + d))) / engines
            acc = sums[k]
            acc[0] += static
            acc[1] += dyn
            acc[2] += dyn
            keep(static)
        for u, (op_static, dyn_pj, compute_pj) in zip(units, sums):
            u.op_static_pj, u.dyn_pj, u.compute_pj = op_static, dyn_pj, compute_pj
        n = len(statics)
        if not n:
            return
        cols = dict(columns)
        cols["inference"] = np.array(indices, dtype=np.int64)[positions]
        cols["start_ns"] = offsets[0] + t0
        cols["end_ns"] = offsets[1] + t0
        cols["static_pj"] = np.array(statics, dtype=np.float64)
        trace = self.sim.trace
        a = 0
        while a < n:  # chunk boundaries exactly where record-by-record appends put them
            b = min(n, a + trace.flush_at - len(records))
            records.add_block(cols if a == 0 and b == n
                              else {c: v[a:b] for c, v in cols.items()}, b - a)
            if len(records) >= trace.flush_at:
                trace.flush_ops()
            a = b

    @staticmethod
    def _columns(out: Outcome) -> tuple:
        """The fixed columns of ``out``'s op records, typed as pandas types a list of their
        values (socsim.report.stream.records_frame), and what changes per replay."""
        fields = {"workload": 2, "op": 3, "op_type": 4, "dtype": 5, "unit": 6, "engine": 7,
                  "cycles": 10, "macs": 11, "utilisation": 12, "bytes_in": 13,
                  "weight_bytes": 14, "bytes_out": 15, "compute_pj": 16, "sram_pj": 17,
                  "dram_pj": 18, "freq_mhz": 19, "voltage_v": 20}
        strings = ("workload", "op", "op_type", "dtype", "unit")
        columns = {c: None for c in OP_COLUMNS}
        for c, i in fields.items():
            columns[c] = np.array([r[i] for r in out.ops],
                                  dtype=object if c in strings else None)
        units = list(dict.fromkeys(r[0] for r in out.ops))
        slot = {u: k for k, u in enumerate(units)}
        seq = [(slot[r[0]], r[8], r[9], r[16]) for r in out.ops]
        offsets = (np.array([r[8] for r in out.ops], dtype=np.int64),
                   np.array([r[9] for r in out.ops], dtype=np.int64))
        positions = np.array([r[1] for r in out.ops], dtype=np.intp)
        out.columns = (columns, units, seq, offsets, positions)
        return out.columns

    def _apply_rest(self, out: Outcome, indices: list[int], t0: int) -> None:
        """Everything but the op records."""
        sim = self.sim
        trace = sim.trace
        transfers = trace.transfers
        for pos, wl, tensor, kind, src, dst, nbytes, so, eo, *rest in out.transfers:
            transfers.append(new_record(TransferRecord, (
                wl, indices[pos], tensor, kind, src, dst, nbytes, t0 + so, t0 + eo, *rest)))
        for to, *rest in out.evictions:
            trace.evictions.append(EvictionRecord(t0 + to, *rest))
        if out.ints is not None:
            self.add_ints(out.ints)
        for c, n in out.traffic:
            c[5] += n
        for p, used, peak in out.pools:
            p.used = used
            if peak > p.peak:
                p.peak = peak
        for c, resident, pinned, pinned_bytes, in_use in out.caches:
            c.resident = OrderedDict(resident)
            c.pinned = set(pinned)
            c.pinned_bytes = pinned_bytes
            c.in_use = dict(in_use)
        for s, free in out.stations:
            s._free = list(free)
        for u, busy, t_busy in out.busy:
            u._busy_ns += busy
            if t_busy is not None:
                u._t_busy = t0 + t_busy
        fabric = sim.bandwidth
        clock, cleared = out.fabric
        if clock is not None:
            origin, fabric._t, fabric._next_end = clock
            fabric.origin = t0 + origin
        if cleared:
            fabric._wake = None
