"""The points of a sweep: every combination (grid) or a seeded random subset of them.

A point is one choice of value per axis. Its id is a hash of the axis names and the chosen
labels (so it does not depend on the order points are run in, or on which other points a
sweep holds), and its ``run.seed`` is derived from the sweep seed and that id.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from socsim.sweep.spec import Sweep

__all__ = ["Point", "grid_points", "make_point", "point_id", "point_seed", "random_points",
           "sweep_points"]


@dataclass(frozen=True)
class Point:
    """One configuration to simulate.

    Attributes:
        index: the point's place in the sweep (grid order, draw order or trial order).
        id: 12 hex digits identifying the axis values.
        labels: (axis, label) per axis, in axis order.
        overrides: every ``dotted.path=value`` applied to the base scenario, in order.
        seed: the point's ``run.seed``.
    """

    index: int
    id: str
    labels: tuple[tuple[str, str], ...]
    overrides: tuple[str, ...]
    seed: int


def point_id(labels: Sequence[tuple[str, str]]) -> str:
    """The id of the point with these (axis, label) pairs."""
    text = json.dumps([list(p) for p in labels], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def point_seed(sweep_seed: int, pid: str) -> int:
    """A point's run.seed: 62 bits of sha256(sweep seed, point id)."""
    return int(hashlib.sha256(f"{sweep_seed}:{pid}".encode()).hexdigest()[:16], 16) >> 2


def make_point(sweep: Sweep, index: int, choice: Sequence[int]) -> Point:
    """The point choosing value ``choice[k]`` of axis ``k``."""
    labels = tuple((a.name, a.labels[c]) for a, c in zip(sweep.axes, choice))
    pid = point_id(labels)
    seed = sweep.spec.seed if sweep.spec.common_seed else point_seed(sweep.spec.seed, pid)
    sets = tuple(s for a, c in zip(sweep.axes, choice) for s in a.overrides[c])
    return Point(index, pid, labels, (*sweep.fixed, *sets, f"run.seed={seed}"), seed)


def grid_points(sweep: Sweep) -> Iterator[Point]:
    """Every combination, the last axis varying fastest."""
    ranges = [range(len(a.labels)) for a in sweep.axes]
    for i, choice in enumerate(itertools.product(*ranges)):
        yield make_point(sweep, i, choice)


def random_points(sweep: Sweep, n: int) -> list[Point]:
    """``n`` distinct grid points drawn without replacement with the sweep seed."""
    import numpy as np

    sizes = [len(a.labels) for a in sweep.axes]
    flat = np.random.default_rng(sweep.spec.seed).choice(sweep.size, size=n, replace=False)
    points = []
    for i, k in enumerate(int(x) for x in flat):
        choice = []
        for size in reversed(sizes):  # mixed radix, last axis fastest (as the grid)
            k, c = divmod(k, size)
            choice.append(c)
        points.append(make_point(sweep, i, choice[::-1]))
    return points


def sweep_points(sweep: Sweep) -> list[Point]:
    """The points of a grid or random sweep (a search chooses its own)."""
    if sweep.spec.mode == "random":
        return random_points(sweep, sweep.spec.random.n)
    if sweep.spec.mode == "grid":
        return list(grid_points(sweep))
    raise ValueError("a search sweep chooses its points as it goes (socsim.sweep.search)")
