"""The placement-policy interface and the Plan it produces."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from socsim.config.soc import SoC
from socsim.graph.ir import Graph


class PolicyParams(BaseModel):
    """Base of every policy's parameter model: frozen, unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """pydantic's lax mode reads ``true`` as 1 where a number is expected (YAML's
        ``inferences: yes``); refuse it, naming the field."""
        annotation = cls.model_fields[info.field_name].annotation
        if _takes_numbers(annotation):
            items = value if isinstance(value, (list, tuple)) else (value,)
            bad = next((v for v in items if isinstance(v, bool)), None)
            if bad is not None:
                where = "" if items is not value else (
                    " in [" + ", ".join(str(v).lower() if isinstance(v, bool) else repr(v)
                                        for v in value) + "]")
                raise ValueError(f"expected a number, got the boolean {str(bad).lower()}{where}"
                                 " (YAML reads true/false/yes/no/on/off as booleans); give a "
                                 "number, or quote a name")
        return value

    def check(self, soc: SoC) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-checks against the SoC (e.g. unit names): (field path, message) pairs."""
        return []


def _takes_numbers(annotation: Any) -> bool:
    """Whether a field's type admits int or float (at any depth) and not bool."""
    if annotation is bool:
        return False
    if annotation in (int, float):
        return True
    args = get_args(annotation)
    return bool(args) and bool not in args and any(_takes_numbers(a) for a in args
                                                   if a is not Ellipsis)


#: How a unit's waiting ops are ordered: first come first served, by the workloads' fixed
#: ``priority`` (higher first), or by their inferences' absolute deadlines (earliest first).
QUEUES = ("fifo", "priority", "edf")


@dataclass(frozen=True)
class Plan:
    """Where every op of one graph runs, and how.

    Attributes:
        units: unit name per op, aligned with ``graph.ops``.
        notes: what the policy wants the user to know (e.g. fallbacks it made, and why).
        groups: launch group per op (None: every op is its own launch). Ops sharing a number
            run on one unit as one launch (a compiled subgraph): only the group's first op,
            in graph order, pays the unit's ``launch_overhead_cycles``.
        points: ``(unit, freq_mhz)`` operating points the plan fixes for the run (the engine
            holds each such unit at its point; see :meth:`operating_points`).
        queue: how each unit orders the ops waiting for it (one of :data:`QUEUES`).
    """

    units: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    groups: tuple[int, ...] | None = None
    points: tuple[tuple[str, float], ...] = ()
    queue: str = "fifo"

    @property
    def operating_points(self) -> dict[str, float]:
        """Unit name -> the freq_mhz the plan fixes."""
        return dict(self.points)

    def validate(self, graph: Graph, soc: SoC, workload: str | None = None) -> None:
        """Check the plan can run: every op on an existing unit that runs its type, dtype and
        attributes; every hand-off addressable or routed by DMA; every layout conversion
        possible; groups on one unit each; points among the units' DVFS points.

        The one plan check (:mod:`socsim.policies.validation`), called by ``socsim validate``,
        the run and the simulation's constructor.

        Raises:
            PlacementError: listing the problems, with a hint.
        """
        from socsim.policies.validation import check_plan

        check_plan(self, graph, soc, workload)


class PlacementPolicy(ABC):
    """A strategy that maps a graph's ops onto a SoC's units.

    Subclasses set ``name`` and ``Params`` (a :class:`PolicyParams` model) and implement
    :meth:`place`. A policy sees only the graph and the SoC description.
    """

    name: ClassVar[str]
    Params: ClassVar[type[PolicyParams]] = PolicyParams

    def __init__(self, params: PolicyParams | dict[str, Any] | None = None):
        if not isinstance(params, PolicyParams):
            params = self.Params.model_validate(params or {})
        self.params = params

    @abstractmethod
    def place(self, graph: Graph, soc: SoC) -> Plan:
        """Return a plan for ``graph`` on ``soc``.

        Raises:
            PlacementError: when no valid placement exists under the parameters.
        """


def require_units(soc: SoC, names: list[str], path: tuple[str | int, ...]
                  ) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems for every name in ``names`` that is not a unit of ``soc``."""
    return [((*path, i) if len(names) > 1 else path,
             f"unknown unit {n!r}; the SoC has {sorted(soc.units)}")
            for i, n in enumerate(names) if n not in soc.units]
