"""The fast path: an inference that runs alone replays a recording in one step.

An inference whose ops run while nothing else happens in the system (no other inference in
flight, no op, transfer or page-in under way, no allocation waiting, and no other event due
before it ends) has an outcome that is a pure function of the state at its start: which
program, each unit's operating point and free engines, each memory's bytes in use, each
weight cache's resident segments in LRU order. The first such inference from a given state
runs op by op while :class:`FastPath` records its effects relative to its start (its op,
transfer and eviction records, the integer counters it advanced, the state it left); a later
one from the same state, if the next event of anyone else is due strictly after its end,
applies those effects shifted to its own start and sleeps once for the recorded duration
(docs/model.md, "Fast path").

Exactness: times are integer ns, so shifting them is exact; the bandwidth fabric's float
arithmetic is relative to an integer origin inside the window (socsim.sim.bandwidth), so a
recorded period rounds as it would at any other time; an op's leakage share is recomputed
with the engine's own formula at the shifted times, and every running float sum is added to
in the op-by-op order (the order of the op records). A recording is kept only if nothing
foreign ran inside its window and it left no event or process of its own behind.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from typing import TYPE_CHECKING

from socsim.sim.trace import EvictionRecord, OpRecord, TransferRecord, new_record

if TYPE_CHECKING:
    from socsim.sim.engine import Simulation
    from socsim.sim.program import Program

__all__ = ["FastPath"]


class _Outcome:
    """What one inference did, relative to its start ``t0`` (see the module)."""

    __slots__ = ("duration", "ops", "transfers", "evictions", "ints", "traffic", "pools",
                 "caches", "stations", "busy", "fabric")


class _Recording:
    """The state at the start of an inference being recorded."""

    __slots__ = ("key", "prog", "index", "t0", "peek", "queued", "n_ops", "flush_at",
                 "n_transfers", "n_evictions", "n_reconfigs", "n_counters", "ints", "peaks",
                 "traffic", "acc", "busy", "disturbed")


class FastPath:
    """Records and replays inferences that run alone (one per :class:`Simulation`).

    Attributes:
        replayed: inferences applied from a recording in one step.
        simulated: inferences simulated op by op (recorded or not).
    """

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.units = list(sim.units.values())
        self.pools = list(sim.pools.values())
        self.caches = [p.cache for p in self.pools if p.cache is not None]
        self.stations = [*self.units, *sim.dma.values()]
        self.outcomes: dict[tuple, _Outcome] = {}
        self.replayed = 0
        self.simulated = 0
        self.executing = 0  # inferences between the start and the end of their ops
        self._recording: _Recording | None = None
        #: per program index: whether its ops may be replayed (no reconfigurable kernel: a
        #: configuration port's state is not part of the key)
        self._replayable: dict[int, bool] = {}

    def summary(self) -> dict[str, int]:
        """The summary's ``fast_path`` block."""
        return {"inferences_replayed": self.replayed, "inferences_simulated": self.simulated,
                "recordings": len(self.outcomes)}

    # -- the engine's hooks ------------------------------------------------------------------

    def enter(self, prog: Program, index: int):
        """An inference's ops are about to start. Returns the duration (int ns) when its
        recorded outcome was applied (the caller sleeps that long and is done), a recording
        handle to pass to :meth:`leave` (it runs op by op, recorded), or None (op by op)."""
        self.executing += 1
        rec = self._recording
        if rec is not None:  # a second inference inside a recorded window: discard it
            rec.disturbed = True
        sim = self.sim
        env = sim.env
        if (self.executing > 1 or sim._busy or sim.memory.put_queue or sim.bandwidth.flows
                or not self._can_replay(prog) or any(c.pending for c in self.caches)):
            self.simulated += 1
            return None
        now = env.now
        peek = env.peek()
        if peek <= now:
            peek = _next_live(env._queue)
            if peek <= now:  # an event at this instant may run before our ops: keep the order
                self.simulated += 1
                return None
        key = self._key(prog)
        out = self.outcomes.get(key)
        if out is not None:
            if now + out.duration < peek:
                self._apply(out, prog, index, now)
                self.replayed += 1
                return out.duration
            self.simulated += 1
            return None
        self.simulated += 1
        self._recording = rec = self._start(key, prog, index, now, peek)
        return rec

    def leave(self, rec: _Recording | None) -> None:
        """An inference's ops ended (``rec``: its recording from :meth:`enter`, or None)."""
        self.executing -= 1
        if rec is not None:
            self._recording = None
            self._finish(rec)

    # -- state --------------------------------------------------------------------------------

    def _can_replay(self, prog: Program) -> bool:
        ok = self._replayable.get(prog.index)
        if ok is None:
            ok = self._replayable[prog.index] = all(s.kernel is None for s in prog.specs)
        return ok

    def _key(self, prog: Program) -> tuple:
        """Everything of the system state the op path reads (see the module)."""
        return (prog.index,
                tuple(u.freq_mhz for u in self.units),
                tuple(p.used for p in self.pools),
                tuple(tuple(s._free) for s in self.stations),
                tuple((tuple(c.resident.items()), tuple(sorted(c.pinned)), c.pinned_bytes,
                       tuple(k for k, n in c.in_use.items() if n)) for c in self.caches))

    def _ints(self) -> list[int]:
        """The integer counters an inference advances, in a fixed order."""
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

    def _set_ints(self, deltas: list[int]) -> None:
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

    def _start(self, key: tuple, prog: Program, index: int, now: int, peek: int
               ) -> _Recording:
        sim = self.sim
        trace = sim.trace
        rec = _Recording()
        rec.key, rec.prog, rec.index, rec.t0, rec.peek = key, prog, index, now, peek
        rec.queued = {id(ev) for *_, ev in sim.env._queue if ev.callbacks}
        rec.disturbed = False
        # no flush inside the window (the records are sliced off the list at its end);
        # _finish hands on the chunks exactly where op by op would have
        rec.flush_at = trace.flush_at
        trace.flush_at = sys.maxsize
        rec.n_ops = len(trace.ops)
        rec.n_transfers = len(trace.transfers)
        rec.n_evictions = len(trace.evictions)
        rec.n_reconfigs = len(trace.reconfigs)
        rec.n_counters = len(trace.counters)
        rec.ints = self._ints()
        rec.peaks = [p.peak for p in self.pools]
        for p in self.pools:  # the window's own peak, measured from its start
            p.peak = p.used
        rec.traffic = {id(c): (c, c[5]) for s in prog.specs for c in s.traffic_cost.values()}
        rec.acc = [(u.op_static_pj, u.dyn_pj, u.compute_pj) for u in self.units]
        rec.busy = [(u._busy_ns, u._t_busy) for u in self.units]
        return rec

    def _finish(self, rec: _Recording) -> None:
        """Close a recording: restore what it suspended, and keep it if it is valid."""
        sim = self.sim
        env = sim.env
        trace = sim.trace
        t0 = rec.t0
        now = env.now
        window_peaks = [p.peak for p in self.pools]
        for p, old in zip(self.pools, rec.peaks):
            p.peak = max(old, p.peak)
        ops = trace.ops[rec.n_ops:]
        trace.flush_at = rec.flush_at
        while len(trace.ops) >= trace.flush_at:  # the chunks op by op would have handed on
            rest = trace.ops[trace.flush_at:]
            del trace.ops[trace.flush_at:]
            trace.flush_ops()
            trace.ops.extend(rest)
        if not self._valid(rec, ops):
            return
        out = _Outcome()
        out.duration = now - t0
        units = {u.name: u for u in self.units}
        out.ops = [(units[r[5]], r[0], r[2], r[3], r[4], r[5], r[6], r[7] - t0, r[8] - t0,
                    *r[9:18], r[19], r[20]) for r in ops]
        out.transfers = [(r[0], r[2], r[3], r[4], r[5], r[6], r[7] - t0, r[8] - t0, *r[9:])
                         for r in trace.transfers[rec.n_transfers:]]
        out.evictions = [(r[0] - t0, *r[1:]) for r in trace.evictions[rec.n_evictions:]]
        out.ints = [b - a for a, b in zip(rec.ints, self._ints())]
        out.traffic = []
        for s in rec.prog.specs:
            for c in s.traffic_cost.values():
                before = rec.traffic.get(id(c), (c, 0))[1]
                if c[5] != before:
                    out.traffic.append((c, c[5] - before))
        out.pools = [(p, p.used, wp) for p, wp in zip(self.pools, window_peaks)]
        out.caches = [(c, tuple(c.resident.items()), set(c.pinned), c.pinned_bytes,
                       dict(c.in_use)) for c in self.caches]
        out.stations = [(s, list(s._free)) for s in self.stations]
        out.busy = [(u, u._busy_ns - b, None if tb == u._t_busy else u._t_busy - t0)
                    for u, (b, tb) in zip(self.units, rec.busy)]
        # the fabric is idle at both ends (its clock restarts with the next flow); what the
        # window left: its clock if it ran, and no wake-up to honour
        fabric = sim.bandwidth
        out.fabric = ((fabric.origin - t0, fabric._t, fabric._next_end)
                      if fabric.origin >= t0 else None, fabric._wake is None)
        # a self-check: the op records give the order of every running float sum
        if not self._sums_match(rec, ops):
            return
        self.outcomes[rec.key] = out

    def _valid(self, rec: _Recording, ops: list) -> bool:
        """Whether the window held this inference alone and left nothing behind."""
        sim = self.sim
        env = sim.env
        trace = sim.trace
        now = env.now
        if rec.disturbed or now >= rec.peek or sim._busy or sim.memory.put_queue:
            return False
        if sim.bandwidth.flows or sim.bandwidth._waiting or any(c.pending
                                                                for c in self.caches):
            return False
        if len(trace.reconfigs) != rec.n_reconfigs or len(trace.counters) != rec.n_counters:
            return False
        foreign = rec.queued
        for *_, ev in env._queue:  # of ours, only events no one waits for may remain
            if ev.callbacks and id(ev) not in foreign:
                return False
        name = rec.prog.name
        return all(r[0] == name and r[1] == rec.index for r in ops)

    def _sums_match(self, rec: _Recording, ops: list) -> bool:
        acc = {u.name: list(a) for u, a in zip(self.units, rec.acc)}
        for r in ops:
            a = acc[r[5]]
            a[0] += r[18]
            a[1] += r[15]
            a[2] += r[15]
        return all(acc[u.name] == [u.op_static_pj, u.dyn_pj, u.compute_pj] for u in self.units)

    # -- replay -------------------------------------------------------------------------------

    def _apply(self, out: _Outcome, prog: Program, index: int, t0: int) -> None:
        """Apply ``out`` to an inference ``index`` of ``prog`` starting at ``t0``."""
        sim = self.sim
        trace = sim.trace
        records = trace.ops
        flush_at = trace.flush_at
        for (u, wl, op, op_type, dtype, uname, engine, so, eo, cycles, macs, util, b_in, wb,
             b_out, dyn, sram, dram, freq, volt) in out.ops:
            start = t0 + so
            end = t0 + eo
            static = (u.static_pj(end) - u.static_pj(start)) / u.engines
            u.op_static_pj += static
            u.dyn_pj += dyn
            u.compute_pj += dyn
            records.append(new_record(OpRecord, (
                wl, index, op, op_type, dtype, uname, engine, start, end, cycles, macs, util,
                b_in, wb, b_out, dyn, sram, dram, static, freq, volt)))
            if len(records) >= flush_at:
                trace.flush_ops()
        transfers = trace.transfers
        for wl, tensor, kind, src, dst, nbytes, so, eo, *rest in out.transfers:
            transfers.append(new_record(TransferRecord, (
                wl, index, tensor, kind, src, dst, nbytes, t0 + so, t0 + eo, *rest)))
        for to, *rest in out.evictions:
            trace.evictions.append(EvictionRecord(t0 + to, *rest))
        self._set_ints(out.ints)
        for c, n in out.traffic:
            c[5] += n
        for p, used, peak in out.pools:
            p.used = used
            if peak is not None and peak > p.peak:
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


def _next_live(queue: list) -> float:
    """The time of the first scheduled event someone waits for (an event without callbacks,
    such as a finished process's, does nothing when it is processed)."""
    return min((t for t, _, _, ev in queue if ev.callbacks), default=float("inf"))
