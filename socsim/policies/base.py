"""The placement-policy interface and the Plan it produces."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.hw.kind import kind_of


class PolicyParams(BaseModel):
    """Base of every policy's parameter model: frozen, unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def check(self, soc: SoC) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-checks against the SoC (e.g. unit names): (field path, message) pairs."""
        return []


@dataclass(frozen=True)
class Plan:
    """Where every op of one graph runs.

    Attributes:
        units: unit name per op, aligned with ``graph.ops``.
        notes: what the policy wants the user to know (e.g. fallbacks it made).
    """

    units: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def validate(self, graph: Graph, soc: SoC) -> None:
        """Check every op is placed on an existing unit that supports its type and dtype.

        Raises:
            PlacementError: listing every bad assignment.
        """
        if len(self.units) != len(graph.ops):
            raise PlacementError(f"plan places {len(self.units)} ops; {graph.name} has "
                                 f"{len(graph.ops)}")
        bad = []
        for op, uname in zip(graph.ops, self.units):
            unit = soc.units.get(uname)
            if unit is None:
                bad.append(f"op {op.name!r} placed on unknown unit {uname!r} "
                           f"(the SoC has {sorted(soc.units)})")
            elif not unit.supports(op.op_type, op.dtype):
                bad.append(f"op {op.name!r} ({op.op_type}, {op.dtype}) placed on {uname!r}, "
                           f"which supports ops {unit.ops} in {unit.dtypes}")
        if bad:
            raise PlacementError(bad)


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


def fallback_unit(soc: SoC, op_type: str, dtype: str) -> str | None:
    """The first host unit (a CPU; then any unit) supporting ``op_type`` in ``dtype``, or
    None."""
    ordered = sorted(soc.units.items(), key=lambda kv: not kind_of(kv[1]).is_host)
    for name, unit in ordered:
        if unit.supports(op_type, dtype):
            return name
    return None


def require_units(soc: SoC, names: list[str], path: tuple[str | int, ...]
                  ) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems for every name in ``names`` that is not a unit of ``soc``."""
    return [((*path, i) if len(names) > 1 else path,
             f"unknown unit {n!r}; the SoC has {sorted(soc.units)}")
            for i, n in enumerate(names) if n not in soc.units]
