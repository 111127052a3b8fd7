"""The runtime manager's typed trace records."""

from __future__ import annotations

from typing import NamedTuple


class SwitchRecord(NamedTuple):
    """One action of the runtime manager: ``kind`` is ``variant`` (a workload's variant),
    ``dvfs`` (a unit's operating point, MHz as text), ``drop`` (dropping on/off), or
    ``escalate`` (a cascade ran the next variant for one inference)."""

    time_ns: int
    manager: str
    kind: str
    target: str  # workload or unit
    old: str
    new: str
    reason: str


class InferenceVariants(NamedTuple):
    """Which variants one completed inference ran, in order (``+``-joined), and its end."""

    workload: str
    inference: int
    variants: str
    arrival_ns: int
    end_ns: int
    missed: bool


class DropRecord(NamedTuple):
    """One arrival the runtime manager dropped."""

    time_ns: int
    workload: str
    inference: int
