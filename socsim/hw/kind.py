"""Unit kinds as plug-ins: the per-kind protocol (:class:`UnitKind`) and its registry.

Generic code (the engine, the report, the policies, the CLI) never names a kind: it asks the
unit's kind (:func:`kind_of`) for what differs between kinds. A kind is a small class with

- ``name``: the ``kind:`` value a device file gives;
- ``config``: its pydantic config class, a subclass of
  :class:`socsim.config.units.base.UnitBase` with ``kind: Literal["<name>"] = "<name>"``;
- :meth:`UnitKind.cycles`: compute cycles of an op (required);
- hooks with defaults: :meth:`~UnitKind.input_rereads` (a cache's re-reads, the CPU's),
  :meth:`~UnitKind.operand_bytes` (bytes an op reads and writes), :meth:`~UnitKind.dynamic_pj`
  (energy), :meth:`~UnitKind.arithmetic` (the integer arithmetic of the functional path),
  :meth:`~UnitKind.reconfigurable` and :meth:`~UnitKind.configuration` (a resource an op must
  make resident first: the FPGA's kernels, keyed by op type; a CiM unit's crossbar weights,
  keyed by the op), ``is_host`` (a fallback target policies try first);
- ``reconfig_section`` / ``reconfig_label`` / :meth:`~UnitKind.reconfig_summary` /
  :meth:`~UnitKind.unit_summary`: the kind's summary block (its reconfigurations, and what
  else the kind reports about a unit: a CiM unit's cell writes and endurance), if it has one.

How to add a unit kind (a compute-in-memory macro, say ``cim``):

1. **Config class** (e.g. ``socsim/config/units/cim.py``, or your own package)::

       class Cim(UnitBase):
           kind: Literal["cim"] = "cim"
           crossbar_rows: int = Field(description="...")

   Give every field a description and a unit in its name; cross-field checks go in a
   ``model_validator``. Nothing else in ``config/`` changes: a ``units:`` entry is validated as
   the config class registered for its ``kind`` (:data:`socsim.config.units.Unit`), and an
   unknown kind is an error listing the registered ones.
2. **Model module** (e.g. ``socsim/hw/cim.py``)::

       class CimKind(UnitKind):
           name = "cim"
           config = Cim

           def cycles(self, unit, op, graph):
               return Cycles(compute=..., utilisation=...)

   Override only the hooks whose default does not fit (weights that stay in the crossbar:
   :meth:`~UnitKind.operand_bytes`; ADC and DAC energy: :meth:`~UnitKind.dynamic_pj`; ADC
   quantisation of partial sums: :meth:`~UnitKind.arithmetic` returning an
   :class:`~socsim.kernels.arithmetic.Arithmetic` whose ``integer_dot`` replaces the exact
   integer sums, as ``socsim.hw.cim`` does; weight programming as a
   resource made resident before an op runs: :meth:`~UnitKind.reconfigurable` returning an
   object with the :class:`Reconfigurable` methods, and :meth:`~UnitKind.configuration`).
3. **Registration**: a third-party package declares an entry point in its ``pyproject.toml``::

       [project.entry-points."socsim.units"]
       cim = "my_package.cim:CimKind"

   A kind shipped with socsim is one line in :data:`BUILTIN_KINDS` (loaded by the same entry-
   point code path). ``register_unit_kind`` (a decorator) registers a class at import time.
4. **Tests**: ``tests/sim/test_estimate_equals_simulation.py`` holds for every registered kind
   on the devices it lists: add a device with the new kind there; cost-model tests against a
   hand computation in ``tests/hw/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from socsim.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

    from socsim.config.power import OperatingPoint
    from socsim.config.units.base import UnitBase
    from socsim.graph.ir import Graph, Op
    from socsim.kernels.arithmetic import Arithmetic

__all__ = ["BUILTIN_KINDS", "UNIT_KINDS", "Cycles", "Reconfigurable", "ReconfigCost", "UnitKind",
           "available_unit_kinds", "configuration_of", "kind_of", "kind_summaries",
           "reconfigurable", "register_unit_kind", "unit_kind"]

#: The kinds shipped with socsim, as entry-point values (``module:attribute``).
BUILTIN_KINDS: dict[str, str] = {
    "cpu": "socsim.hw.cpu:CpuKind",
    "npu": "socsim.hw.npu:NpuKind",
    "dsp": "socsim.hw.dsp:DspKind",
    "fpga": "socsim.hw.fpga:FpgaKind",
    "cim": "socsim.hw.cim:CimKind",
}

#: unit kinds by name: the built-ins, then the ``socsim.units`` entry-point group
UNIT_KINDS: Registry[type[UnitKind]] = Registry("unit kind", "socsim.units", BUILTIN_KINDS)


@dataclass(frozen=True)
class Cycles:
    """Compute cycles of an op on a unit, and how well it used the unit's peak MAC rate.

    Attributes:
        compute: cycles of arithmetic (MACs and elementwise work), before launch overhead.
        utilisation: achieved MACs / peak MACs over those cycles (0 for ops without MACs).
    """

    compute: float
    utilisation: float = 0.0


class ReconfigCost(Protocol):
    """What making a configuration resident cost (:meth:`Reconfigurable.acquire`)."""

    time_ns: float
    energy_pj: float
    bitstream_bytes: int  # bytes written through the configuration port
    evicted: tuple[str, ...]  # configurations evicted to make room
    hit: bool  # already resident: costs nothing


class Reconfigurable(Protocol):
    """A resource an op must make resident before it runs (the FPGA's kernel library, a CiM
    unit's crossbars).

    Configurations are named by strings (:meth:`UnitKind.configuration`); a kind whose
    configurations differ in size and cost per op may return a ``str`` subclass carrying them
    (:class:`socsim.hw.cim_residency.CrossbarWeights`), which its resource reads.

    One instance per unit per run (or per plan); pure, no SimPy: the engine decides when and
    how long (:mod:`socsim.sim.reconfiguration`), through one configuration port per unit.
    """

    def is_resident(self, name: str) -> bool:
        """Whether configuration ``name`` is resident now."""

    def reconfig_cost(self, name: str) -> tuple[float, float]:
        """``(time_ns, energy_pj)`` of loading ``name`` from scratch."""

    def can_load(self, name: str) -> bool:
        """Whether :meth:`acquire` would succeed now."""

    def load(self, name: str) -> ReconfigCost:
        """Make ``name`` resident (evicting others as the resource decides)."""

    def acquire(self, name: str) -> ReconfigCost:
        """:meth:`load` and pin ``name`` until :meth:`release`."""

    def release(self, name: str) -> None:
        """Undo one :meth:`acquire`."""


class UnitKind:
    """The protocol of a unit kind (subclass it, set ``name`` and ``config``, register it).

    Hooks are methods of a stateless instance (one per kind); each receives the unit's config.

    Attributes:
        name: the ``kind:`` value of a device file.
        config: the pydantic config class of the kind's units.
        is_host: a general-purpose host: policies fall back to it first for ops the chosen
            units cannot run (a CPU).
        reconfig_section: the key of the kind's summary block (its units' reconfigurations,
            and :meth:`unit_summary`; None: no block); reconfig_label: its title on the
            terminal.
    """

    name: ClassVar[str]
    config: ClassVar[type[UnitBase]]
    is_host: ClassVar[bool] = False
    reconfig_section: ClassVar[str | None] = None
    reconfig_label: ClassVar[str] = ""

    def cycles(self, unit: Any, op: Op, graph: Graph) -> Cycles:
        """Compute cycles of ``op`` on ``unit`` before the launch overhead, and the achieved
        fraction of the peak MAC rate."""
        raise NotImplementedError

    def input_rereads(self, unit: Any, op: Op, graph: Graph) -> int:
        """How many times ``op``'s kernel reads its activation inputs from memory (1; a CPU's
        cache blocking re-reads them)."""
        return 1

    def operand_bytes(self, unit: Any, op: Op, graph: Graph
                      ) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        """``(bytes read per input, bytes written per output, weight bytes)`` of ``op``.

        Default (:func:`socsim.hw.operands.stored_operand_bytes`): produced 4-D activations in
        the unit's channel alignment, workload inputs as they arrived, inputs re-read
        :meth:`input_rereads` times, the weights once.
        """
        from socsim.hw.operands import stored_operand_bytes
        return stored_operand_bytes(unit, op, graph, self.input_rereads(unit, op, graph))

    def dynamic_pj(self, unit: Any, op: Op, point: OperatingPoint, graph: Graph) -> float:
        """Dynamic compute energy of ``op`` at ``point``, pJ (default: per MAC and per
        elementwise op by dtype from ``power``, scaled by (V / V_nominal)^2). ``graph`` gives
        the shapes a kind needs beyond ``op.macs`` (a CiM unit's conversions per layer)."""
        from socsim.hw.base import mac_dtype
        from socsim.hw.timing import dynamic_pj
        return dynamic_pj(unit, op, point, mac_dtype(unit, op, graph))

    def parallel_ports(self, unit: Any) -> bool:
        """Whether ``unit``'s memories sit on separate ports that transfer at once (an
        Ethos-U's AXI masters, whose cycles already include its own port model): its SRAM
        time and DRAM streams then overlap, ``max(compute, SRAM, DRAM)``, instead of adding
        up (default: False, one port)."""
        return False

    def arithmetic(self, unit: Any) -> Arithmetic:
        """The integer arithmetic the functional path runs ``unit``'s ops with (default: the
        target its ``arithmetic`` block names)."""
        return unit.arithmetic.target()

    def reconfigurable(self, unit: Any) -> Reconfigurable | None:
        """A fresh residency model of the unit's reconfigurable resource, or None."""
        return None

    def configuration(self, unit: Any, op: Op, graph: Graph) -> str | None:
        """The configuration ``op`` (of ``graph``) needs resident on ``unit`` (None: none).

        A kind whose configurations serve an op type (an FPGA kernel) looks at ``op.op_type``
        and ``op.dtype`` only; one whose configuration is the op's own weights (CiM crossbars)
        names it after the op."""
        return None

    def reconfig_summary(self, records: pd.DataFrame) -> dict:
        """The summary of one unit's reconfiguration records
        (:data:`socsim.sim.trace.RECONFIG_COLUMNS`)."""
        evicted = [k for e in records["evicted"] for k in e.split()]
        return {"reconfigurations": len(records),
                "reconfig_ms": float((records["end_ns"] - records["start_ns"]).sum()) / 1e6,
                "bitstream_mb": float(records["bitstream_bytes"].sum()) / 1e6,
                "energy_mj": float(records["reconfig_pj"].sum()) / 1e9,
                "loaded": {k: int(n) for k, n in
                           records["kernel"].value_counts(sort=False).items()},
                "evictions": len(evicted)}

    def unit_summary(self, unit: Any, records: pd.DataFrame, inferences: int) -> dict:
        """What the kind adds to ``unit``'s entry of its summary block, beyond
        :meth:`reconfig_summary` (default: nothing). ``records``: the unit's reconfiguration
        records; ``inferences``: inferences completed in the run."""
        return {}


_INSTANCES: dict[type[UnitKind], UnitKind] = {}


def register_unit_kind(cls: type[UnitKind]) -> type[UnitKind]:
    """Register a unit kind under ``cls.name`` (decorator; returns the class unchanged).

    Raises:
        ValueError: if the name is taken by another class.
    """
    return UNIT_KINDS.register(cls)


def available_unit_kinds() -> list[str]:
    """Names of every registered unit kind, built-ins first."""
    return [cls.name for cls in UNIT_KINDS.classes()]


def unit_kind(name: str) -> UnitKind:
    """The kind registered as ``name``.

    Raises:
        KeyError: naming the registered kinds.
    """
    cls = UNIT_KINDS.get(name)
    kind = _INSTANCES.get(cls)
    if kind is None:
        kind = _INSTANCES[cls] = cls()
    return kind


def kind_of(unit: Any) -> UnitKind:
    """The kind of a unit config."""
    return unit_kind(unit.kind)


def reconfigurable(unit: Any) -> Reconfigurable | None:
    """A fresh model of ``unit``'s reconfigurable resource, or None (any kind)."""
    return kind_of(unit).reconfigurable(unit)


def configuration_of(unit: Any, op: Op, graph: Graph) -> str | None:
    """The configuration ``unit`` needs resident to run ``op`` of ``graph``, or None."""
    return kind_of(unit).configuration(unit, op, graph)


def kind_summaries(units: dict[str, Any], reconfigs: pd.DataFrame, inferences: int,
                   summary: dict) -> None:
    """Add each unit's :meth:`UnitKind.unit_summary` to its entry of its kind's summary
    block in ``summary`` (in place). A unit whose kind adds nothing is left as the report
    built it (:func:`socsim.report.tables.summary`); one without reconfigurations gets the
    kind's :meth:`~UnitKind.reconfig_summary` of none first."""
    for name, unit in units.items():
        kind = kind_of(unit)
        records = reconfigs[reconfigs["unit"] == name]
        extra = kind.unit_summary(unit, records, inferences)
        if not extra or kind.reconfig_section is None:
            continue
        block = summary.setdefault(kind.reconfig_section, {})
        entry = block.get(name) or kind.reconfig_summary(records)
        block[name] = {**entry, **extra}
