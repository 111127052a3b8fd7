"""A scenario: a SoC, the workloads it runs, a placement policy and run settings."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from socsim.config._base import PositiveFloat, PositiveInt, Spec
from socsim.config.soc import SoC


class PolicySpec(Spec):
    """Which placement policy to use, and its parameters (checked by the policy itself)."""

    name: str = Field(description="A registered policy: single, rules, greedy_eft, ...")
    params: dict[str, Any] = Field(default_factory=dict, description="Policy parameters.")


class Workload(Spec):
    """One model and how its inferences arrive.

    Either ``inferences`` (a closed loop: a new inference starts as soon as fewer than
    ``max_in_flight`` are running) or ``rate_hz`` + ``duration_s`` (an open loop of arrivals,
    periodic or Poisson, for ``duration_s`` seconds of simulated time).
    """

    name: str = Field(description="Identifier used in reports.")
    model: str = Field(description="ONNX file, relative to the scenario file.")
    inferences: PositiveInt | None = Field(None, description="Number of inferences to run.")
    max_in_flight: PositiveInt = Field(1, description="Inferences of this workload in flight "
                                       "at once; further arrivals queue (FIFO) and their "
                                       "latency includes the wait.")
    rate_hz: PositiveFloat | None = Field(None, description="Open loop: arrival rate, 1/s.")
    duration_s: PositiveFloat | None = Field(None, description="Open loop: arrival window, s.")
    arrival: Literal["periodic", "poisson"] = Field(
        "periodic", description="Open loop: fixed period, or exponential gaps from run.seed.")
    deadline_ms: PositiveFloat | None = Field(None, description="Relative deadline per "
                                              "inference; misses are counted.")
    inputs: str | None = Field(None, description="Optional .npz of input arrays by input name, "
                               "samples along the first axis (cycled over inferences), used "
                               "when run.functional is true; default: seeded random inputs.")
    policy: PolicySpec | None = Field(None, description="Placement policy for this workload "
                                      "only; default: the scenario's `policy`.")
    pin_weights: list[str] = Field(
        default_factory=list, description="Regular expressions of op names whose weights, once "
        "paged into their unit's `weights_cache`, are never evicted ('.*': all).")

    @field_validator("pin_weights")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_arrival_mode(self) -> Workload:
        closed = self.inferences is not None
        opened = self.rate_hz is not None or self.duration_s is not None
        if closed == opened:
            raise ValueError("give either `inferences: N` or both `rate_hz` and `duration_s`")
        if opened and (self.rate_hz is None or self.duration_s is None):
            raise ValueError("an open-loop workload needs both `rate_hz` and `duration_s`")
        return self


class GovernorSpec(Spec):
    """A DVFS governor for one unit.

    - ``fixed``: stay at ``freq_mhz`` (default: the unit's default point);
    - ``performance`` / ``powersave``: the highest / lowest point;
    - ``ondemand``: every ``sample_ms``, jump to the highest point when utilisation over the
      last sample exceeds ``up_threshold``, step one point down when it is below
      ``down_threshold`` (Linux's ondemand);
    - ``thermal``: start at the highest point; step down while the unit's temperature is above
      its ``thermal.trip_c``, step up once it is ``hysteresis_c`` below.
    """

    name: str = Field(description="A registered governor (socsim.hw.governors: the built-ins "
                      "below, or one from the `socsim.governors` entry-point group).")
    freq_mhz: PositiveFloat | None = Field(None, description="For `fixed`.")
    sample_ms: PositiveFloat = Field(1.0, description="Sampling period of ondemand / thermal "
                                     "and of the temperature trace, ms.")
    up_threshold: float = Field(0.8, gt=0, le=1, description="ondemand: go to max above this.")
    down_threshold: float = Field(0.3, ge=0, lt=1, description="ondemand: step down below this.")


class RunSettings(Spec):
    """How to run the simulation."""

    seed: int = Field(0, description="Seed of every random draw (arrivals, inputs).")
    functional: bool = Field(True, description="Execute the integer arithmetic of every "
                             "inference too (outputs.npz, integer events in the summary); "
                             "false runs timing and energy only (faster for many inferences).")
    out: str | None = Field(None, description="Report folder; default reports/<name>/.")
    operating_points: dict[str, PositiveFloat] = Field(
        default_factory=dict, description="Unit name -> DVFS freq_mhz to run at (else the "
        "unit's dvfs.default_mhz).")
    governors: dict[str, GovernorSpec] = Field(
        default_factory=dict, description="Unit name -> DVFS governor (default: fixed at the "
        "unit's operating point).")
    ambient_c: float | None = Field(None, description="Ambient temperature, °C (default: the "
                                    "SoC's ambient_c).")
    zero_copy: bool = Field(True, description="Let a unit read tensors in place from a memory "
                            "it shares with the producer; false forces a DMA copy for every "
                            "hand-off between units.")


class Scenario(Spec):
    """The top-level scenario document."""

    name: str = Field(description="Identifier; also the default report folder name.")
    soc: Annotated[Annotated[SoC, Tag("inline")] | Annotated[str, Tag("path")],
                   Discriminator(lambda v: "path" if isinstance(v, str) else "inline")] = Field(
        description="Path to a device file (relative to this file), or the "
                           "SoC inline.")
    soc_set: list[str] = Field(
        default_factory=list, description="`dotted.path=value` changes to the device file "
        "(when `soc` is a path), validated like the file: what-if variants of a part without "
        "copying it, e.g. `memories.sram0.size_kib=256`. `socsim run --set soc.PATH=VALUE` "
        "adds to them.")
    workloads: list[Workload] = Field(min_length=1)
    policy: PolicySpec
    run: RunSettings = Field(default_factory=RunSettings)
    _doc: Any = PrivateAttr(None)  # the parsed YAML, to locate errors found after loading

    @field_validator("workloads")
    @classmethod
    def _unique_names(cls, value: list[Workload]) -> list[Workload]:
        names = [w.name for w in value]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"workload names must be unique; repeated: {dup}")
        return value

    @property
    def device(self) -> SoC:
        """The resolved SoC (the loader replaces a path by the loaded device)."""
        if not isinstance(self.soc, SoC):
            raise TypeError("scenario.soc is still a path; load it with socsim.load_scenario")
        return self.soc
