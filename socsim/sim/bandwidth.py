"""Shared bandwidth: concurrent flows divide links max-min fairly (a fluid model).

A *link* is anything whose bandwidth concurrent streams share: the SoC's interconnect, a DRAM.
A *flow* moves ``bytes`` over a set of links, never faster than its own ``cap`` (a DMA
channel's burst-derated rate; for an op, the rate at which it consumes its operands).
Whenever a flow starts or ends, every active flow's rate is re-solved by progressive filling
(water-filling): the most constrained link shares what is left of it equally among its
unfrozen flows, flows capped below that share take their cap, and so on. Between changes rates are constant, so progress is exact.

Cost: the bandwidth fabric is lazy. It moves flows forward only when someone starts a flow or asks about
one, retiring in order the flows that finished in between (re-solving rates after each), so a
flow nobody waits on costs no simulation event. A caller sleeps for its flow's time *alone*
(a lower bound: sharing only slows a flow), then asks :meth:`BandwidthFabric.end_time`; only if the flow
is still running does it :meth:`BandwidthFabric.wait`, and while anyone waits the fabric schedules a
wake-up at every departure, which keeps the waiters exact.
"""

from __future__ import annotations

from math import ceil

import simpy

_EPS = 1e-6  # bytes: below this a flow counts as complete (float residue of rate x time)
RESIDUE_NS = 1e-6
"""Float residue of byte / rate arithmetic, ns: a time within this of an integer ns counts as
that ns (``bytes / (bytes / t)`` need not give back exactly ``t``)."""


def ceil_ns(t: float) -> int:
    """``t`` rounded up to a whole ns, ignoring a float residue below :data:`RESIDUE_NS`."""
    return ceil(t - RESIDUE_NS)


class Link:
    """A shared resource of ``capacity`` bytes/ns (= GB/s)."""

    __slots__ = ("name", "capacity", "flows")

    def __init__(self, name: str, capacity: float):
        self.name = name
        self.capacity = capacity
        self.flows: list[Flow] = []


class Flow:
    """One stream of bytes over some links.

    Attributes:
        alone_ns: how long it takes with nothing else on its links (``bytes / rate``).
        end: the time its last byte went through (None while running).
    """

    __slots__ = ("links", "cap", "remaining", "rate", "alone_ns", "end", "done", "origin",
                 "rel_end")

    def __init__(self, links: tuple[Link, ...], cap: float, nbytes: float):
        self.links = links  # a link listed twice is crossed twice (a DRAM-to-same-DRAM copy)
        for link in links:
            if link.capacity / links.count(link) < cap:
                cap = link.capacity / links.count(link)
        self.cap = cap
        self.remaining = float(nbytes)
        self.rate = self.cap
        self.alone_ns = nbytes / self.cap
        self.end: float | None = None
        self.done: simpy.Event | None = None  # set when someone waits for it
        self.origin = 0  # the fabric's origin (integer ns) while the flow ran
        self.rel_end = 0.0  # its end relative to ``origin`` (exact, whatever the run's time)


class BandwidthFabric:
    """All the shared links of a SoC and the flows crossing them (not an FPGA's fabric:
    that is :mod:`socsim.hw.fpga_residency`)."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.flows: list[Flow] = []
        # internal times are floats relative to ``origin``, the integer ns at which the
        # fabric last went from idle to busy: a busy period's arithmetic does not depend on
        # when it happens (the same rounding at 1 ms and at 10 min), which keeps long runs
        # precise and lets the fast path (socsim.sim.replay) shift a recorded period exactly
        self.origin = 0
        self._t = 0.0  # the time (relative to origin) flows' ``remaining`` refer to
        self._next_end = float("inf")  # first departure under the current rates
        self._waiting = 0
        self._wake: simpy.Event | None = None

    def start(self, nbytes: float, links: tuple[Link, ...], cap: float) -> Flow:
        """Start a flow now."""
        now = self.env.now
        flow = Flow(links, cap, nbytes)
        if nbytes <= 0:
            flow.end = now
            flow.origin = now
            return flow
        if self.flows:
            self._advance(now - self.origin)
        if self.flows:
            self._sync(now - self.origin)
        else:  # idle: a new busy period starts its clock here
            self.origin = now
            self._t = 0.0
        flow.origin = self.origin
        self.flows.append(flow)
        for link in links:
            link.flows.append(flow)
        self._solve()
        return flow

    def end_time(self, flow: Flow) -> float | None:
        """When ``flow`` finished, or None if it is still running now."""
        if flow.end is None and self._next_end <= self.env.now - self.origin + RESIDUE_NS:
            self._advance(self.env.now - self.origin)
        return flow.end

    def wait(self, flow: Flow) -> simpy.Event:
        """An event that succeeds when the running ``flow`` finishes."""
        flow.done = self.env.event()
        self._waiting += 1
        self._schedule()
        return flow.done

    # -- internals ----------------------------------------------------------------------------

    def _sync(self, t: float) -> None:
        """Bring every flow's ``remaining`` to time ``t`` (relative to the origin; no
        departure lies before it)."""
        dt = t - self._t
        if dt > 0:
            for f in self.flows:
                f.remaining -= f.rate * dt
            self._t = t

    def _advance(self, now: float) -> None:
        """Retire, in order, the flows that finish by ``now`` (relative to the origin),
        re-solving after each."""
        while self.flows and self._next_end <= now + RESIDUE_NS:
            t = self._next_end
            self._sync(t)
            finished = [f for f in self.flows if f.remaining <= _EPS or
                        self._t + f.remaining / f.rate <= t + RESIDUE_NS]
            for f in finished:
                self.flows.remove(f)
                for link in f.links:
                    link.flows.remove(f)
                f.remaining = 0.0
                f.rel_end = t
                f.end = self.origin + t
                if f.done is not None:
                    self._waiting -= 1
                    f.done.succeed()
            self._solve()

    def _solve(self) -> None:
        flows = self.flows
        if not flows:
            self._next_end = float("inf")
            return
        if len(flows) == 1:
            f = flows[0]
            f.rate = f.cap
            self._next_end = self._t + f.remaining / f.rate
        else:
            links = {link for f in flows for link in f.links}
            if len(links) == 1 and all(len(f.links) == 1 for f in flows):
                _fill_one(next(iter(links)), flows)
            elif any(sum(g.cap for g in link.flows) > link.capacity for link in links):
                _water_fill(flows)
            else:  # no link is oversubscribed: everyone streams at its own cap
                for f in flows:
                    f.rate = f.cap
            t = self._t
            self._next_end = min(t + f.remaining / f.rate for f in flows)
        if self._waiting:
            self._schedule()

    def _schedule(self) -> None:
        """Wake at the next departure (rates change then, and waiters must see it)."""
        if not self.flows:
            return
        wake = self.env.timeout(max(0, self.origin + ceil_ns(self._next_end)
                                    - self.env.now))
        wake.callbacks.append(self._on_wake)
        self._wake = wake

    def _on_wake(self, event: simpy.Event) -> None:
        if event is not self._wake:
            return  # superseded by a later change
        self._wake = None
        self._advance(self.env.now - self.origin)
        if self._waiting and self._wake is None:
            self._schedule()


def _fill_one(link: Link, flows: list[Flow]) -> None:
    """Water-filling when every flow crosses the one ``link``: the lowest caps are met in
    full, the rest share what is left equally."""
    left, n = link.capacity, len(flows)
    ranked = sorted(flows, key=lambda f: f.cap)
    for i, f in enumerate(ranked):
        share = left / (n - i)
        if f.cap > share:
            for g in ranked[i:]:
                g.rate = share
            return
        f.rate = f.cap
        left -= f.cap


def _water_fill(flows: list[Flow]) -> None:
    """Max-min fair rates for ``flows`` under their links' capacities and their own caps."""
    left = {id(link): link.capacity for f in flows for link in f.links}
    unfrozen = set(map(id, flows))
    pending = list(flows)
    while pending:
        share = min(f.cap for f in pending)
        bottleneck = None
        for f in pending:
            for link in f.links:
                n = sum(1 for g in link.flows if id(g) in unfrozen)
                s = left[id(link)] / n
                if s < share:
                    share, bottleneck = s, link
        share = max(share, 1e-12)  # float residue must never stall a flow
        if bottleneck is None:
            frozen = [f for f in pending if f.cap <= share]
        else:
            frozen = [f for f in bottleneck.flows if id(f) in unfrozen]
        for f in frozen:
            f.rate = share
            unfrozen.discard(id(f))
            for link in f.links:
                left[id(link)] -= share
        pending = [f for f in pending if id(f) in unfrozen]
