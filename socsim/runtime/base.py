"""The runtime manager interface: what a manager sees and what it may do.

A manager is a strategy, like a placement policy: subclass :class:`RuntimeManager`, set
``name``, register it (:func:`register_manager`, or the ``socsim.runtime_managers``
entry-point group). The engine calls :meth:`RuntimeManager.decide` every ``runtime.period_ms``
with a :class:`SystemState` and a :class:`Controls`; :meth:`RuntimeManager.after_inference`
once a variant's inference finished (a cascade's hook).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from socsim.registry import Registry

if TYPE_CHECKING:
    from socsim.runtime.process import Controls, Finished

__all__ = ["MANAGERS", "RuntimeManager", "SystemState", "available_managers", "get_manager",
           "register_manager"]

#: built-in managers, loaded like a third party's entry points
MANAGERS: Registry[type[RuntimeManager]] = Registry("runtime manager", "socsim.runtime_managers",
                                                    {"static": "socsim.runtime.builtin:Static",
                                                     "threshold":
                                                         "socsim.runtime.builtin:Threshold",
                                                     "feedback": "socsim.runtime.builtin:Feedback",
                                                     "cascade": "socsim.runtime.cascade:Cascade"})


@dataclass(frozen=True)
class SystemState:
    """A snapshot of the system when the manager decides.

    Attributes:
        now_s: simulated time, s.
        queue: per workload, arrivals waiting for one of its slots.
        in_flight: per workload, inferences running.
        miss_rate: per workload, the fraction of inferences completed since the last decision
            that missed their deadline (None: none completed or no deadline).
        misses: per workload, deadline misses since the last decision.
        utilisation: per unit, busy engine-time over the last period (0-1).
        temp_c: per unit, temperature, °C (the ambient without a thermal model).
        freq_mhz: per unit, operating point now.
        freqs_mhz: per unit, its DVFS points (ascending).
        variant: per workload, the variant new inferences run.
        variants: per workload, its variants (primary first).
        soc_fraction: battery state of charge, 0-1, or None: no battery model in the run.
    """

    now_s: float
    queue: dict[str, int]
    in_flight: dict[str, int]
    miss_rate: dict[str, float | None]
    misses: dict[str, int]
    utilisation: dict[str, float]
    temp_c: dict[str, float]
    freq_mhz: dict[str, float]
    freqs_mhz: dict[str, list[float]]
    variant: dict[str, str]
    variants: dict[str, list[str]]
    soc_fraction: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class RuntimeManager:
    """A runtime manager (subclass it, set ``name``, register it).

    Args:
        params: the scenario's ``runtime.params`` (check them here; raise ValueError with a
            message naming the parameter and the fix).
        workloads: the scenario's workloads by name, with their variant names.
        units: the SoC's unit names with their DVFS points (ascending).
    """

    name: ClassVar[str]

    def __init__(self, params: dict[str, Any], workloads: dict[str, list[str]],
                 units: dict[str, list[float]]):
        self.params = params
        self.workloads = workloads
        self.units = units

    def begin(self, ctl: Controls) -> None:
        """At time 0, before any arrival: set the starting variants, drops or points."""

    def decide(self, state: SystemState, ctl: Controls) -> None:
        """Act on ``state`` through ``ctl`` (switch variants, drop, change DVFS points)."""

    def after_inference(self, done: Finished) -> str | None:
        """A variant's inference finished: the name of a variant to run next for the same
        arrival (a cascade's big model), or None: the inference is complete."""
        return None

    def escalation_note(self, done: Finished) -> str:
        """Why :meth:`after_inference` ran another variant (appended to the ``escalate``
        record's reason)."""
        return ""

    def summary(self) -> dict[str, Any] | None:
        """What the manager reports in summary.json ``runtime.manager_state`` (None: nothing)."""
        return None


def number(where: str, value: Any, *, integer: bool = False) -> float:
    """A manager parameter that must be a number (a whole one with ``integer``).

    Raises:
        ValueError: naming ``where`` for a boolean (YAML's true/yes/on), text or a fraction
            where a whole number is expected.
    """
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        got = f"the boolean {str(value).lower()}" if isinstance(value, bool) else repr(value)
        raise ValueError(f"{where}: expected {kind}, got {got}")
    if integer and value != int(value):
        raise ValueError(f"{where}: expected {kind}, got {value!r}")
    return int(value) if integer else float(value)


def register_manager(cls: type[RuntimeManager]) -> type[RuntimeManager]:
    """Register a manager class under its ``name`` (a decorator).

    Raises:
        ValueError: another manager (built-in or from an entry point) holds the name.
    """
    MANAGERS.classes()  # the built-ins and entry points first: a name they hold is taken
    return MANAGERS.register(cls)


def get_manager(name: str) -> type[RuntimeManager]:
    """The manager class registered as ``name`` (KeyError names the available ones)."""
    return MANAGERS.get(name)


def available_managers() -> list[str]:
    """Every registered manager name."""
    return MANAGERS.names()
