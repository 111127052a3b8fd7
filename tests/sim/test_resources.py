"""The engine's resources: puts that succeed when an allocation fits, queues FIFO or by priority.

Expected times and orders are worked out by hand from the scripted processes below.
"""

from __future__ import annotations

import pytest
import simpy

from socsim.sim.memory import Memories, MemoryPool
from socsim.sim.resources import FitResource, PriorityFitResource, Request
from socsim.sim.stations import PriorityStation, Station


def _memory(capacity: int, page: int = 1) -> tuple[simpy.Environment, Memories, MemoryPool]:
    env = simpy.Environment()
    pool = MemoryPool("sram", capacity, page)
    return env, Memories(env, {"sram": pool}), pool


def test_put_that_fits_is_granted_without_an_event():
    env, mem, pool = _memory(100, page=16)
    assert mem.put(lambda: pool.alloc(20)) == 32  # two 16-byte pages
    assert pool.used == 32
    assert not mem.put_queue


def test_waiter_is_granted_at_the_free_that_makes_room():
    env, mem, pool = _memory(100)
    log = []

    def holder():
        size = pool.alloc(80)
        yield env.timeout(10)
        mem.free([("sram", None, size, None)])  # 80 free at t=10

    def waiter():
        size = yield from mem.fit(lambda: pool.alloc(50))  # 50 > 20 free until t=10
        log.append((env.now, size, pool.used))

    env.process(holder())
    env.process(waiter())
    env.run()
    assert log == [(10, 50, 50)]


def test_queued_puts_are_retried_in_arrival_order_and_small_ones_pass_large_ones():
    env, mem, pool = _memory(100)
    pool.alloc(100)  # full
    log = []

    def want(name, nbytes, delay):
        yield env.timeout(delay)
        yield from mem.fit(lambda: pool.alloc(nbytes))
        log.append((env.now, name))

    env.process(want("big", 90, 1))
    env.process(want("a", 30, 2))
    env.process(want("b", 30, 3))

    def freer():
        yield env.timeout(5)
        mem.free([("sram", None, 60, None)])  # 60 free: big (90) does not fit; a then b (30 + 30) do
        yield env.timeout(5)
        mem.free([("sram", None, 40, None), ("sram", None, 30, None),
                  ("sram", None, 30, None)])  # 100 free: big fits

    env.process(freer())
    env.run()
    assert log == [(5, "a"), (5, "b"), (10, "big")]


def test_priority_queue_serves_lower_priority_first():
    env = simpy.Environment()
    room = [0]
    res = PriorityFitResource(env)
    log = []

    def take():
        if room[0]:
            room[0] -= 1
            return True
        return None

    def want(name, priority):
        yield from res.fit(take, priority)
        log.append(name)

    for name, prio in (("late", 5), ("urgent", 1), ("mid", 3), ("urgent2", 1)):
        env.process(want(name, prio))

    def give():
        for _ in range(4):
            yield env.timeout(1)
            room[0] += 1
            res.released()

    env.process(give())
    env.run()
    assert log == ["urgent", "urgent2", "mid", "late"]


def test_fifo_queue_ignores_priority():
    env = simpy.Environment()
    res = FitResource(env)
    reqs = [res.put(lambda: None, prio) for prio in (5, 1, 3)]
    assert all(isinstance(r, Request) for r in reqs)
    assert list(res.put_queue) == reqs


def test_attempt_that_raises_fails_its_own_waiter():
    env = simpy.Environment()
    res = FitResource(env)
    calls = [0]

    def attempt():
        calls[0] += 1
        if calls[0] == 2:
            raise ValueError("never fits")
        return None

    seen = []

    def waiter():
        try:
            yield from res.fit(attempt)
        except ValueError as exc:
            seen.append((env.now, str(exc)))

    def release():
        yield env.timeout(7)
        res.released()

    env.process(waiter())
    env.process(release())
    env.run()
    assert seen == [(7, "never fits")]
    assert not res.put_queue


@pytest.mark.parametrize(("cls", "order"), [(Station, ["p5", "p1", "p3"]),
                                            (PriorityStation, ["p1", "p3", "p5"])])
def test_station_queue_is_one_class_attribute(cls, order):
    env = simpy.Environment()
    station = cls(env, "npu", 1)
    log = []

    def op(name, priority, delay):
        yield env.timeout(delay)
        slot = station.acquire(priority)
        if slot.__class__ is not int:
            slot = yield slot
        log.append(name)
        yield env.timeout(10)
        station.release(slot)

    env.process(op("first", 0, 0))  # holds the one slot over t=0..10
    env.process(op("p5", 5, 1))
    env.process(op("p1", 1, 2))
    env.process(op("p3", 3, 3))
    env.run()
    assert log == ["first", *order]
