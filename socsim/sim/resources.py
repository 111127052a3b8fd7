"""Resources in SimPy's shape (``simpy/resources/base.py``): a put hook, a get hook, a queue.

A :class:`FitResource` grants a *put* (a request for room: memory for a tensor, area for a
reconfigurable unit's configuration) when its ``attempt`` succeeds, i.e. when the allocation
fits; its get hook, :meth:`FitResource.released` (memory freed, a configuration released,
pages made evictable), retries the queued puts in queue order. This is the
one "wait until this allocation fits" path of the engine: callers never loop on a
wake-everyone event.

The queue is one class attribute, ``queue_type``, as in SimPy (``PriorityResource`` is
``Resource`` with a sorted queue): :class:`FifoQueue` serves requests in arrival order,
:class:`PriorityQueue` by ``(priority, arrival)`` (lower first), which is what priority and
earliest-deadline-first scheduling need (pass the deadline as the priority).
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

import simpy

__all__ = ["FifoQueue", "FitResource", "PriorityFitResource", "PriorityQueue", "Request"]


class Request(simpy.Event):
    """A queued put: succeeds with the value of ``attempt`` once that is not None.

    Args:
        env: the environment.
        attempt: tries the allocation; returns its result, or None when it does not fit yet
            (None for a plain slot request, see :class:`socsim.sim.stations.Station`).
        priority: the queue key of a :class:`PriorityQueue` (lower first); ignored by FIFO.
        order: arrival number, which breaks ties between equal priorities.
    """

    def __init__(self, env: simpy.Environment, attempt: Callable[[], Any] | None,
                 priority: float, order: int):
        super().__init__(env)
        self.attempt = attempt
        self.key = (priority, order)

    def __lt__(self, other: Request) -> bool:
        return self.key < other.key


class FifoQueue(deque):
    """Requests in arrival order."""

    def push(self, request: Request) -> None:
        """Enqueue ``request`` behind every earlier one."""
        self.append(request)

    def pop_first(self) -> Request:
        """Dequeue the request served next."""
        return self.popleft()


class PriorityQueue(list):
    """Requests ordered by ``(priority, arrival)``, lowest first (ties: first come first)."""

    def push(self, request: Request) -> None:
        """Enqueue ``request`` after every request of lower or equal priority."""
        insort(self, request)

    def pop_first(self) -> Request:
        """Dequeue the request served next."""
        return self.pop(0)


class FitResource:
    """Grants puts once they fit; every get retries the queued puts in queue order.

    A put whose attempt succeeds at once is granted without an event (as
    :class:`socsim.sim.stations.Station` grants a free slot): the engine allocates hundreds of
    thousands of tensors and most fit. A put that does not fit joins the queue, even if
    earlier requests wait (a small allocation is not held up by a larger one that cannot fit
    yet).

    Args:
        env: the environment.
    """

    #: the put queue's class: FIFO here, by priority in :class:`PriorityFitResource`
    queue_type: ClassVar[type] = FifoQueue

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.put_queue = self.queue_type()
        self._order = 0

    def put(self, attempt: Callable[[], Any], priority: float = 0) -> Any:
        """Request room: the result of ``attempt()`` now, or a :class:`Request` that succeeds
        with it once a get makes room.

        Args:
            attempt: tries the allocation; returns its result, or None when it does not fit.
                It may raise when it can never fit (the caller sees the error at once).
            priority: the request's key in a priority queue (lower first).
        """
        got = attempt()
        if got is not None:
            return got
        return self.enqueue(attempt, priority)

    def enqueue(self, attempt: Callable[[], Any], priority: float = 0) -> Request:
        """Queue a put whose ``attempt`` the caller has just seen fail (the second half of
        :meth:`put`, for a hot path that tried the allocation inline)."""
        self._order += 1
        req = Request(self.env, attempt, priority, self._order)
        self.put_queue.push(req)
        return req

    def fit(self, attempt: Callable[[], Any], priority: float = 0):
        """Wait until ``attempt`` fits and return its result (``got = yield from r.fit(f)``).

        Args:
            attempt: as for :meth:`put`.
            priority: as for :meth:`put`.
        """
        got = self.put(attempt, priority)
        if got.__class__ is Request:
            got = yield got
        return got

    def released(self) -> None:
        """The get hook: room was released (or may have been), so grant every queued put
        that fits now, in queue order. An attempt that raises fails its own request (its
        process sees the error)."""
        queue = self.put_queue
        if not queue:
            return
        idx = 0
        while idx < len(queue):
            req = queue[idx]
            try:
                got = req.attempt()
            except Exception as exc:  # noqa: BLE001 - delivered to the waiting process
                del queue[idx]
                req.fail(exc)
                continue
            if got is None:
                idx += 1
            else:
                del queue[idx]
                req.succeed(got)


class PriorityFitResource(FitResource):
    """A :class:`FitResource` whose queued puts are served by priority (lower first)."""

    queue_type = PriorityQueue
