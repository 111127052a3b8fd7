"""Memory: page-granular capacity accounting per memory (never over capacity), and the
memories as one :class:`~socsim.sim.resources.FitResource` whose put succeeds when an
allocation fits."""

from __future__ import annotations

from collections.abc import Iterable

import simpy

from socsim.errors import SimulationError
from socsim.sim.resources import FitResource


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

    def alloc(self, nbytes: int) -> int | None:
        """Allocate ``nbytes`` if they fit (evicting cached weight pages if need be); return
        the footprint (0 for 0 bytes), or None when they do not fit."""
        size = -(-nbytes // self.page) * self.page
        if self.used + size > self.capacity and (
                self.cache is None or not self.cache.evict_for(nbytes)):
            return None
        self.used += size
        if self.used > self.peak:
            self.peak = self.used
        return size

    def free(self, size: int) -> None:
        """Release a footprint returned by :meth:`alloc`."""
        self.used -= size
        if self.used < 0:
            raise SimulationError(f"memory {self.name}: freed more than was allocated")


class Memories(FitResource):
    """The SoC's memories as one resource: a put allocates (when it fits), a free is the get.

    One queue serves every memory because a request may fit in any of several (an op's
    outputs go to the first of its unit's memories with room) and cached weight pages of one
    memory become evictable without a free. Requests are retried in queue order on every
    release, whichever memory it touched.

    Args:
        env: the environment.
        pools: the capacity accounting of each memory, by name.
    """

    def __init__(self, env: simpy.Environment, pools: dict[str, MemoryPool]):
        super().__init__(env)
        self.pools = pools

    def free(self, copies: Iterable[tuple[str, object, int, object]]) -> None:
        """Release every copy of a tensor, given as the engine's locations ``(memory, owner,
        footprint, format)``, then grant the queued allocations that fit."""
        pools = self.pools
        for mem, _, size, _ in copies:
            pools[mem].free(size)
        if self.put_queue:
            self.released()
