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

import simpy

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
