"""Weight paging: a page table per SRAM that caches weights paged in from backing memory.

A *segment* is one op's weights (all their pages move together). A miss pages the segment in
by DMA (the engine charges the transfer); to make room, least-recently-used segments that are
neither pinned nor in use by a running op are evicted. Weights are read-only, so an eviction
only drops the pages (the backing copy stays valid): it costs no transfer. Activations share
the same :class:`~socsim.sim.memory.MemoryPool`, and an activation that does not fit evicts
cached weights the same way before it spills elsewhere.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial

import simpy

from socsim.sim.program import Inference, OpSpec
from socsim.sim.trace import EvictionRecord, TransferRecord, new_record

#: A segment's key: (workload index, op index).
SegmentKey = tuple[int, int]


class PageCache:
    """The resident weight segments of one SRAM, in LRU order (oldest first).

    Args:
        pool: the SRAM's capacity accounting (shared with activations).
        on_evict: called with (key, footprint bytes) for every eviction.
    """

    __slots__ = ("pool", "on_evict", "resident", "pinned", "pinned_bytes", "in_use", "pending")

    def __init__(self, pool, on_evict: Callable[[SegmentKey, int], None]):
        self.pool = pool
        self.on_evict = on_evict
        self.resident: OrderedDict[SegmentKey, int] = OrderedDict()  # key -> footprint
        self.pinned: set[SegmentKey] = set()
        self.pinned_bytes = 0
        self.in_use: dict[SegmentKey, int] = {}
        self.pending: dict[SegmentKey, simpy.Event] = {}  # page-ins under way

    def hit(self, key: SegmentKey) -> bool:
        """Whether ``key`` is resident; a hit makes it the most recently used."""
        if key in self.resident:
            self.resident.move_to_end(key)
            return True
        return False

    def evict_for(self, nbytes: int) -> bool:
        """Evict LRU segments (unpinned, not in use) until ``nbytes`` more fit.

        Returns:
            True when they fit now; False (nothing evicted) when evicting every evictable
            segment would not make room.
        """
        pool = self.pool
        need = pool.used + pool.footprint(nbytes) - pool.capacity
        if need <= 0:
            return True
        victims, freed = [], 0
        for key, size in self.resident.items():
            if key in self.pinned or self.in_use.get(key):
                continue
            victims.append((key, size))
            freed += size
            if freed >= need:
                break
        else:
            return False
        for key, size in victims:
            del self.resident[key]
            pool.free(size)
            self.on_evict(key, size)
        return True

    def insert(self, key: SegmentKey, size: int, pinned: bool) -> None:
        """Record ``key`` as resident (its ``size`` already allocated in the pool)."""
        self.resident[key] = size
        if pinned:
            self.pinned.add(key)
            self.pinned_bytes += size

    def use(self, key: SegmentKey) -> None:
        """A running op reads ``key``: it may not be evicted until :meth:`done`."""
        self.in_use[key] = self.in_use.get(key, 0) + 1

    def done(self, key: SegmentKey) -> None:
        self.in_use[key] -= 1


class WeightPaging:
    """Page-ins on demand and ahead of time, as processes of
    :class:`socsim.sim.engine.Simulation` (a mixin: the engine's state lives there)."""

    def _page_in(self, inf: Inference, spec: OpSpec):
        """Bring the op's weights into its unit's ``weights_cache`` (a page fault), or wait for
        the page-in another inference started; leave them marked in use and return True.
        Return False (the op streams its weights instead) when pinned pages leave no room."""
        cache, key = spec.wcache, spec.wkey
        while not cache.hit(key):
            pending = cache.pending.get(key)
            if pending is not None:
                yield pending
                continue
            done = cache.pending[key] = self.env.event()
            # pages held by running ops or activations: wait; pinned pages that leave no
            # room (0): stream instead
            size = yield from self.memory.fit(partial(_room_for, spec))
            if not size:
                del cache.pending[key]
                done.succeed()
                return False
            yield from self._fill(inf, spec, size)
            del cache.pending[key]
            done.succeed()
        cache.use(key)
        return True

    def _prefetch(self, inf: Inference, spec: OpSpec):
        """Page ``spec``'s weights in ahead of its op, if they fit now (evicting only what an
        on-demand page-in could); never waits for room, so it cannot deadlock anything."""
        cache, key = spec.wcache, spec.wkey
        if key in cache.resident or key in cache.pending or (
                cache.pinned_bytes + cache.pool.footprint(spec.weight_bytes)
                > cache.pool.capacity):
            return
        size = cache.pool.alloc(spec.weight_bytes)
        if not size:
            return
        done = cache.pending[key] = self.env.event()
        yield from self._fill(inf, spec, size)
        del cache.pending[key]
        done.succeed()

    def _fill(self, inf: Inference, spec: OpSpec, size: int):
        """DMA ``spec``'s weights into the ``size`` bytes allocated for them in its cache and
        record the page-in."""
        cache = spec.wcache
        src, dst = spec.unit.unit.weights_in, cache.pool.name
        start, end, engine, channel = yield from self._dma(spec.wengine, spec.weight_bytes,
                                                           src, dst)
        self.trace.page_faults += size // cache.pool.page
        self.trace.transfers.append(new_record(TransferRecord, (
            inf.prog.name, inf.index, f"{spec.name}:weights", "page_in", src, dst,
            spec.weight_bytes, start, end, spec.wengine, channel,
            *self._transfer_pj(spec.wengine, src, dst, spec.weight_bytes))))
        cache.insert(spec.wkey, size, spec.wpin)

    def _evicted(self, key: SegmentKey, size: int) -> None:
        prog = self.programs[key[0]]
        self.trace.evictions.append(EvictionRecord(
            self.env.now, self.soc.units[prog.specs[key[1]].unit.name].weights_cache, prog.name,
            prog.specs[key[1]].name, size))


def _room_for(spec: OpSpec) -> int | None:
    """The footprint of ``spec``'s weights allocated in its cache's memory, None while they
    do not fit, 0 when pinned pages leave them no room at all."""
    cache = spec.wcache
    pool = cache.pool
    if cache.pinned_bytes + pool.footprint(spec.weight_bytes) > pool.capacity:
        return 0
    return pool.alloc(spec.weight_bytes)
