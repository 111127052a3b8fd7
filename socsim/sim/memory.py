"""Capacity accounting of one memory: page-granular allocation, never over capacity."""

from __future__ import annotations

from socsim.errors import SimulationError


class MemoryPool:
    """Bytes in use in one memory, allocated in whole pages.

    Args:
        name: the memory's name.
        capacity: bytes it holds.
        page: allocation granularity in bytes (1 for DRAM).

    Attributes:
        used, peak: bytes allocated now, and at most.
        read_bytes, written_bytes: bytes read from and written to the memory so far, counted
            by the engine for its ledger.
    """

    __slots__ = ("name", "capacity", "page", "used", "peak", "cache", "read_bytes",
                 "written_bytes")

    def __init__(self, name: str, capacity: int, page: int):
        self.name = name
        self.capacity = capacity
        self.page = page
        self.used = 0
        self.peak = 0
        self.cache = None  # a PageCache whose clean weight pages may be evicted for room
        # traffic the engine counts for its ledger (socsim.sim.ledger), apart from the trace
        self.read_bytes = 0
        self.written_bytes = 0

    def footprint(self, nbytes: int) -> int:
        """Bytes an allocation of ``nbytes`` occupies (rounded up to whole pages)."""
        return -(-nbytes // self.page) * self.page

    def try_alloc(self, nbytes: int) -> int:
        """Allocate ``nbytes`` if they fit (evicting cached weight pages if need be); return
        the footprint, or 0 when they do not."""
        size = -(-nbytes // self.page) * self.page
        if self.used + size > self.capacity and (
                self.cache is None or not self.cache.evict_for(nbytes)):
            return 0
        self.used += size
        if self.used > self.peak:
            self.peak = self.used
        return size

    def free(self, size: int) -> None:
        """Release a footprint returned by :meth:`try_alloc`."""
        self.used -= size
        if self.used < 0:
            raise SimulationError(f"memory {self.name}: freed more than was allocated")
