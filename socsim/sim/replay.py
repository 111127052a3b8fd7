"""The fast path: inferences that run alone replay a recording in one step.

An inference that starts its ops in a *quiet* system (no other inference in flight, no op,
transfer or page-in under way, no allocation waiting) has an outcome that is a pure function
of the state at its start: which program, each unit's operating point and free engines, each
memory's bytes in use, each weight cache's segments in LRU order. So has a *group* of
inferences starting at the same instant in a quiet system (two streams whose rates are
multiples of each other: a 30 fps camera frame and a 10 Hz keyword window every 100 ms).

The first such window from a given state runs op by op while :class:`FastPath` records its
effects relative to its start (:mod:`socsim.sim.outcome`); a later window from the same state
with the same members, if the next event of anyone else is due strictly after the window's
end, applies those effects shifted to its own start, and each member sleeps once for its
recorded duration (docs/model.md, "Fast path").

Exactness: times are integer ns, so shifting them is exact; the bandwidth fabric's float
arithmetic is relative to an integer origin inside the window (socsim.sim.bandwidth), so a
recorded window rounds as it would at any other time; an op's leakage share is recomputed with
the engine's formula at the shifted times (the temperature may have changed), and every
running float sum is added to in the op-by-op order. A recording is kept only if nothing
foreign ran inside its window, no other inference started in it, and it left no event of its
own that anyone waits for.

The start barrier: an inference that starts in a quiet system (or beside others that did at
this instant) waits for a zero-delay event before its ops start, in every run, fast path on or
off. The inferences starting at one instant then resume in their arrival order once the
instant's other events have run, so the first of them sees the whole group; their ops start
in the same order as without the barrier, so only events of other kinds due at that instant
(a monitor's sample, a runtime manager's period) now run before the ops instead of after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from socsim.sim.outcome import Outcome, Recording, State

if TYPE_CHECKING:
    from socsim.sim.engine import Simulation
    from socsim.sim.program import Program

__all__ = ["MAX_RECORDINGS", "FastPath"]

MAX_RECORDINGS = 4096
"""Recordings kept per run at most (each holds one window's records, some kB): a run whose
state never repeats stops recording once it has this many, and runs op by op."""


class FastPath:
    """The start barrier, and (``enabled``) recording and replaying quiet windows.

    Args:
        sim: the simulation.
        enabled: ``run.fast_path``; off, only the barrier remains (the same event order).

    Attributes:
        replayed: inferences applied from a recording in one step.
        simulated: inferences simulated op by op (recorded or not).
    """

    def __init__(self, sim: Simulation, enabled: bool):
        self.sim = sim
        self.enabled = enabled
        self.state = State(sim)
        self.outcomes: dict[tuple, Outcome] = {}
        self.replayed = 0
        self.simulated = 0
        self.executing = 0  # inferences between the start and the end of their ops
        self.waiting: list = []  # barrier events of inferences starting at this instant
        self._pending: dict[int, tuple] = {}  # barrier id -> (program, inference, barrier)
        self._members: dict[int, tuple[str, object]] = {}  # barrier id -> role in a window
        self._recording: Recording | None = None
        #: program index -> whether its ops may be replayed (no reconfigurable kernel: a
        #: configuration port's state is not part of the key)
        self._replayable: dict[int, bool] = {}

    def summary(self) -> dict[str, int]:
        """The summary's ``fast_path`` block."""
        return {"inferences_replayed": self.replayed, "inferences_simulated": self.simulated,
                "recordings": len(self.outcomes)}

    # -- the engine's hooks ------------------------------------------------------------------

    def enter(self, prog: Program, index: int, queue_key: float = 0):
        """Inference ``index`` of ``prog`` (whose ops wait with ``queue_key`` in the units'
        queues) is about to place its inputs and start its ops: the barrier event to wait for
        (then call :meth:`begin`), or None (start now, op by op)."""
        rec = self._recording
        if rec is not None:  # another inference inside a recorded window: discard it
            rec.disturbed = True
        quiet = self.executing == len(self.waiting) and self._idle()
        self.executing += 1
        if not quiet:
            self.simulated += self.enabled
            return None
        ev = self.sim.env.timeout(0)
        # counted as running: the watchdogs (monitors, runtime manager) must not take an
        # inference about to start for a stall
        self.sim._busy += 1
        self.waiting.append(ev)
        self._pending[id(ev)] = (prog, index, ev, queue_key)
        return ev

    def begin(self, prog: Program, index: int, ev):
        """After the barrier ``ev``: the duration (int ns) when the inference's recorded
        outcome was applied (sleep that long, then :meth:`leave` with None), else the handle
        to pass to :meth:`leave` after running op by op."""
        self.waiting.remove(ev)
        self.sim._busy -= 1
        me = self._pending.pop(id(ev))
        role = self._members.pop(id(ev), None)
        if role is not None:  # a member of a window its first member decided
            kind, value = role
            if kind == "replay":
                self.replayed += 1
            else:
                self.simulated += 1
            return value
        if not self.enabled:
            return None
        self.simulated += 1
        sim = self.sim
        env = sim.env
        now = env.now
        group = [me] + [self._pending[id(e)] for e in self.waiting]
        if (self.executing != len(group) or not self._idle()
                or not all(self._can_replay(g[0]) for g in group)):
            return None
        if len(group) > 1 and (sim.runtime is not None or sim._slot_waiters):
            return None  # a member's end could start an inference inside the window
        barriers = {id(g[2]) for g in group}
        live = {id(e) for *_, e in env._queue if e.callbacks and id(e) not in barriers}
        peek = min((t for t, _, _, e in env._queue if id(e) in live), default=float("inf"))
        if peek <= now:  # another event at this instant may run before our ops: keep order
            return None
        # the members, and how their ops rank in a unit's queue (an EDF key is a time)
        edf = sim.queue == "edf"
        key = self.state.key(tuple((g[0].index, g[3] - now if edf else g[3]) for g in group))
        out = self.outcomes.get(key)
        if out is not None:
            if now + max(out.durations) >= peek:
                return None
            self.state.apply(out, [g[1] for g in group])
            self.simulated -= 1
            self.replayed += 1
            for g, d in zip(group[1:], out.durations[1:]):
                self._members[id(g[2])] = ("replay", d)
            return out.durations[0]
        if len(self.outcomes) >= MAX_RECORDINGS:
            return None
        rec = self._recording = self.state.start(key, [(g[0], g[1]) for g in group], peek,
                                                 live)
        for pos, g in enumerate(group[1:], 1):
            self._members[id(g[2])] = ("record", (rec, pos))
        return rec, 0

    def leave(self, handle) -> None:
        """An inference's ops ended (``handle``: what :meth:`begin` returned, or None)."""
        self.executing -= 1
        if handle is None:
            return
        rec, pos = handle
        rec.ends[pos] = self.sim.env.now
        rec.order.append(pos)
        if len(rec.order) == len(rec.members):
            self._recording = None
            out = self.state.finish(rec, self._valid)
            if out is not None:
                self.outcomes[rec.key] = out

    # -- conditions ---------------------------------------------------------------------------

    def _idle(self) -> bool:
        """Nothing runs: no op or transfer (but inferences at the barrier), no allocation
        waiting, no flow, no page-in."""
        sim = self.sim
        return not (sim._busy != len(self.waiting) or sim.memory.put_queue
                    or sim.bandwidth.flows
                    or any(c.pending for c in self.state.caches))

    def _can_replay(self, prog: Program) -> bool:
        ok = self._replayable.get(prog.index)
        if ok is None:
            ok = self._replayable[prog.index] = all(s.kernel is None for s in prog.specs)
        return ok

    def _valid(self, rec: Recording) -> bool:
        """Whether the window held its members alone, ended them in an order a replay keeps
        (by end time, ties in start order) and left nothing anyone waits for."""
        sim = self.sim
        env = sim.env
        if rec.disturbed or env.now >= rec.peek or not self._idle() or sim.bandwidth._waiting:
            return False
        if rec.order != sorted(range(len(rec.ends)), key=lambda k: (rec.ends[k], k)):
            return False
        live = rec.live
        return not any(e.callbacks and id(e) not in live for *_, e in env._queue)
