"""A scenario: a SoC, the workloads it runs, a placement policy and run settings."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Strict,
    Tag,
    field_validator,
    model_validator,
)

from socsim.config._base import FRACTION, Freq, Range, Spec, Temp, count_in, real_in
from socsim.config.battery import BatterySpec, BudgetMw
from socsim.config.runtime import Accuracy, BurstS, JitterMs, RuntimeSpec

if TYPE_CHECKING:
    from socsim.quant.ptq import Recipe

#: Most inferences (closed loop) or arrivals (open loop) one workload may ask for: every
#: inference is simulated op by op, and a million of even a small model is hours of host time.
MAX_INFERENCES = 1_000_000
Inferences = count_in(Range(1, MAX_INFERENCES, "", "each inference is simulated op by op; a "
                          "million is hours of host time"))
InFlight = count_in(Range(1, 10_000, "", "a queue deeper than any runtime's"))
RateHz = real_in(Range(0.0, 1e6, "Hz", "sensor frames and audio windows arrive at 1 Hz to 10 kHz",
                     lo_open=True))
DurationS = real_in(Range(0.0, 86_400.0, "s", "one day of simulated arrivals at most",
                        lo_open=True))
DurationMs = real_in(Range(0.0, 86_400_000.0, "ms", "one day of simulated time at most"))
DeadlineMs = real_in(Range(0.0, 1e7, "ms", "edge deadlines are 1-1000 ms", lo_open=True))
SampleMs = real_in(Range(1e-3, 1e6, "ms", "governors sample every 1-1000 ms; below 1 µs the "
                       "samples outnumber the ops"))
Seed = count_in(Range(0, 2 ** 63 - 1, "", "numpy seeds are non-negative; 63 bits keep them "
                    "portable"))
DimSize = count_in(Range(1, 1_000_000, "", "batch sizes, sequence lengths and image sides of "
                         "edge models are 1 to a few thousand"))
Threshold = real_in(Range(0.0, 1.0, "", FRACTION.why))
Percentile = real_in(Range(50.0, 100.0, "%", "clipping below the median discards half of every "
                           "activation's range; 100 is min/max"))
Flag = Annotated[bool, Strict()]

#: Names that become folder names and ``workload/inference/output`` keys.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}$"
NAME_RULE = ("letters, digits and _ . + - (at most 100, not starting with . + -): it names the "
         "report folder and keys of outputs.npz")
from socsim.config.soc import SoC


class PolicySpec(Spec):
    """Which placement policy to use, and its parameters (checked by the policy itself)."""

    name: str = Field(description="A registered policy: single, rules, greedy_eft, ...")
    params: dict[str, Any] = Field(default_factory=dict, description="Policy parameters.")


class VariantSpec(Spec):
    """One build of a workload's network (e.g. its int4 build), placed on its own.

    The workload's own ``model`` (and ``policy``) is always its first variant, named
    ``variant`` there (default ``default``); each entry here adds one.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$",
                      description="Identifier of the variant (summary keys, switch events).")
    model: str = Field(description="ONNX file of this build, relative to the scenario file.")
    accuracy: Accuracy | None = Field(None, description="Top-1 accuracy of this build, as a "
                                      "fraction (accuracy-weighted throughput).")
    policy: PolicySpec | None = Field(None, description="Placement policy of this variant; "
                                      "default: the workload's.")


class QuantizeSpec(Spec):
    """A static post-training quantization recipe applied to a float model on load.

    The quantized model is what the workload runs; it is kept in the project's cache
    (``.socsim-cache/quant/`` under the working directory, named by a hash of the model, the
    calibration data and the recipe) and made again only when one of them changes. It equals
    ``socsim quantize MODEL --calib CALIB --out Q.onnx`` with the same options, byte for byte.
    """

    calib: str = Field(description="Calibration .npz (arrays keyed by the model's input "
                       "names, samples along the first axis), relative to the scenario file.")
    scheme: Literal["int8", "int16", "int4"] = Field(
        "int8", description="Weights and activations: int8/int8, int16/int16, int4/int8.")
    per_channel: Flag = Field(False, description="Per-output-channel weight scales.")
    symmetric: Flag = Field(False, description="Symmetric activations (weights always are).")
    method: Literal["minmax", "percentile", "entropy", "mse"] = Field(
        "minmax", description="Activation calibration method.")
    percentile: Percentile = Field(99.99, description="Percentile of |x| kept by "
                                   "`method: percentile`.")
    equalize: Flag = Field(False, description="Cross-layer equalization first.")
    bias_correction: Flag = Field(False, description="Fold the expected weight-quantization "
                                  "error into the biases.")

    def recipe(self) -> Recipe:
        """The :class:`socsim.quant.Recipe` these fields describe."""
        from socsim.quant.ptq import Recipe  # here: socsim.quant imports onnxruntime

        return Recipe(self.scheme, per_channel=self.per_channel, symmetric=self.symmetric,
                      method=self.method, percentile=self.percentile, equalize=self.equalize,
                      bias_correction=self.bias_correction)


class Workload(Spec):
    """One model and how its inferences arrive.

    Either ``inferences`` (a closed loop: a new inference starts as soon as fewer than
    ``max_in_flight`` are running) or ``rate_hz`` + ``duration_s`` (an open loop of arrivals,
    periodic or Poisson, for ``duration_s`` seconds of simulated time).
    """

    name: str = Field(pattern=NAME_PATTERN, description=f"Identifier used in reports: {NAME_RULE}.")
    model: str = Field(description="ONNX file, relative to the scenario file.")
    inferences: Inferences | None = Field(None, description="Number of inferences to run.")
    max_in_flight: InFlight = Field(1, description="Inferences of this workload in flight "
                                       "at once; further arrivals queue (FIFO) and their "
                                       "latency includes the wait.")
    rate_hz: RateHz | None = Field(None, description="Open loop: arrival rate, 1/s.")
    duration_s: DurationS | None = Field(None, description="Open loop: arrival window, s.")
    arrival: Literal["periodic", "poisson", "bursty", "trace"] = Field(
        "periodic", description="Open loop: fixed period (plus `jitter_ms`), exponential gaps "
        "from run.seed (Poisson), `bursty` (periodic at `rate_hz` during `burst_on_s`, silent "
        "for `burst_off_s`, repeating), or `trace` (the timestamps of `arrival_trace`).")
    jitter_ms: JitterMs = Field(0.0, description="Periodic/bursty: each arrival moves by a "
                                "uniform draw in [-jitter_ms/2, +jitter_ms/2] (from run.seed).")
    burst_on_s: BurstS | None = Field(None, description="Bursty: length of an on phase, s.")
    burst_off_s: BurstS | None = Field(None, description="Bursty: length of an off phase, s.")
    arrival_trace: str | None = Field(None, description="Trace: a text file of arrival times "
                                      "in seconds, one per line ('#' comments), relative to "
                                      "the scenario file; arrivals past duration_s are cut.")
    variant: str = Field("default", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$",
                         description="Name of the variant `model` is.")
    accuracy: Accuracy | None = Field(None, description="Top-1 accuracy of `model`, a fraction.")
    variants: list[VariantSpec] = Field(default_factory=list, max_length=16, description=(
        "Further builds of this network a runtime manager may switch to."))
    deadline_ms: DeadlineMs | None = Field(None, description="Relative deadline per "
                                              "inference; misses are counted (and, under "
                                              "policy `priority` with `discipline: edf`, its "
                                              "ops are served earliest deadline first).")
    priority: Annotated[int, Strict()] = Field(
        0, ge=-1000, le=1000, description="Fixed priority of the workload's ops in the units' "
        "queues under policy `priority` (`discipline: fixed`): higher is served first; equal "
        "priorities in arrival order. Ignored by FIFO queues.")
    shapes: dict[str, DimSize] = Field(
        default_factory=dict, description="Size of each named dynamic dimension of the model's "
        "inputs, e.g. `{N: 1}` for a batch dimension 'N'; a model with dynamic dimensions needs "
        "every one given (socsim simulates one size, never a guessed one).")
    inputs: str | None = Field(None, description="Optional .npz of input arrays by input name, "
                               "samples along the first axis (cycled over inferences), used "
                               "when run.functional is true; default: seeded random inputs.")
    policy: PolicySpec | None = Field(None, description="Placement policy for this workload "
                                      "only; default: the scenario's `policy`.")
    quantize: QuantizeSpec | None = Field(None, description="`model` is float: quantize it "
                                          "with this recipe on load (cached) and run that.")
    substitute: Flag = Field(False, description="Rewrite the ops the placement would move off "
                             "their unit (HardSwish, Gelu, LayerNormalization, ...) as ops that "
                             "unit has, before placing; each rewrite is listed in the "
                             "summary's `substitutions`.")
    pin_weights: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=1000, description="Regular expressions of op names "
        "whose weights, once paged into their unit's `weights_cache`, are never evicted ('.*': "
        "all). At most 1,000 patterns of 1,000 characters: a few patterns cover any model.")

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
        if self.arrival == "bursty" and (self.burst_on_s is None or self.burst_off_s is None):
            raise ValueError("`arrival: bursty` needs `burst_on_s` and `burst_off_s`")
        if self.arrival == "trace" and self.arrival_trace is None:
            raise ValueError("`arrival: trace` needs `arrival_trace: FILE`")
        names = [self.variant, *(v.name for v in self.variants)]
        if len(set(names)) < len(names):
            raise ValueError(f"variant names must be unique; got {names}")
        if opened and self.rate_hz * self.duration_s > MAX_INFERENCES:
            raise ValueError(f"rate_hz x duration_s = {self.rate_hz * self.duration_s:g} "
                             f"arrivals; at most {MAX_INFERENCES:,} (each is simulated op by "
                             "op): lower the rate or the duration")
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
    freq_mhz: Freq | None = Field(None, description="For `fixed`.")
    sample_ms: SampleMs = Field(1.0, description="Sampling period of ondemand / thermal "
                                     "and of the temperature trace, ms.")
    up_threshold: Threshold = Field(0.8, gt=0, description="ondemand: go to max above this.")
    down_threshold: Threshold = Field(0.3, lt=1, description="ondemand: step down below this.")


TraceS = real_in(Range(0.0, 86_400.0, "s", "a run simulates at most a day of arrivals"))


class TraceWindow(Spec):
    """The part of the run that trace.json holds (see docs/long_runs.md)."""

    window_s: tuple[TraceS, TraceS] = Field(description="[start, end] of simulated time, s: "
                                           "the ops, transfers and counters overlapping it.")

    @model_validator(mode="after")
    def _ordered(self) -> TraceWindow:
        start, end = self.window_s
        if not end > start:
            raise ValueError(f"window_s = [{start:g}, {end:g}]: the end must be after the "
                             "start, e.g. [10, 11]")
        return self


class RunSettings(Spec):
    """How to run the simulation."""

    seed: Seed = Field(0, description="Seed of every random draw (arrivals, inputs).")
    functional: bool = Field(True, description="Execute the integer arithmetic of every "
                             "inference too (outputs.npz, integer events in the summary); "
                             "false runs timing and energy only (faster for many inferences).")
    out: str | None = Field(None, description="Report folder; default reports/<name>/.")
    operating_points: dict[str, Freq] = Field(
        default_factory=dict, description="Unit name -> DVFS freq_mhz to run at (else the "
        "unit's dvfs.default_mhz).")
    governors: dict[str, GovernorSpec] = Field(
        default_factory=dict, description="Unit name -> DVFS governor (default: fixed at the "
        "unit's operating point).")
    ambient_c: Temp | None = Field(None, description="Ambient temperature, °C (default: the "
                                    "SoC's ambient_c).")
    battery: BatterySpec | None = Field(None, description="The battery the device runs from "
                                        "(socsim.config.battery); the summary estimates its life.")
    power_budget_mw: BudgetMw | None = Field(None, description="Average and peak power the "
                                             "summary flags when exceeded, mW.")
    plot_window_ms: tuple[DurationMs, DurationMs] | None = Field(
        None, description="[start, end] of timeline.png's zoomed window, ms of simulated "
        "time (default: the first inference).")
    zero_copy: bool = Field(True, description="Let a unit read tensors in place from a memory "
                            "it shares with the producer; false forces a DMA copy for every "
                            "hand-off between units.")
    ops_table: Literal["csv", "parquet", "none"] = Field(
        "csv", description="The per-op table: ops.csv (kept in memory until the end), "
        "ops.parquet (written in chunks as the run goes: bounded memory, for long runs) or "
        "none.")
    fast_path: bool = Field(True, description="Replay an inference that runs alone (nothing "
                            "else in flight or due before it ends) from a recording of the same "
                            "system state in one step instead of op by op; results are "
                            "identical (docs/long_runs.md). false simulates every op.")
    trace: Annotated[Annotated[Flag, Tag("flag")] | Annotated[TraceWindow, Tag("window")],
                     Discriminator(lambda v: "flag" if isinstance(v, bool) else "window")] = Field(
        True, description="trace.json: true (every op), false (none) or "
        "{window_s: [start, end]} (what overlaps that window of simulated time).")


class Scenario(Spec):
    """The top-level scenario document."""

    name: str = Field(pattern=NAME_PATTERN, description="Identifier; also the default report "
                      f"folder name: {NAME_RULE}.")
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
    runtime: RuntimeSpec = Field(default_factory=RuntimeSpec, description="The runtime "
                                 "manager (default `static`: no decision during the run).")
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
