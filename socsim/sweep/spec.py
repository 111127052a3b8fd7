"""The sweep file: a base scenario, axes of changes to it, and how to explore them.

Every axis value becomes ``dotted.path=value`` overrides of the base scenario, applied by the
same mechanism as ``socsim run --set`` (:meth:`socsim.config.document.Document.apply_overrides`):
``soc.``-prefixed paths change the device file. Shortcuts name the common axes:

=================  ==================================  =====================================
axis key           values                              overrides
=================  ==================================  =====================================
``path: P``        any YAML values                     ``P=value``
``policies``       ``{name, params}`` mappings         ``policy.name``, ``policy.params``
``devices``        device files (rel. to sweep file)   ``soc=<file>``
``operating_point: U``  frequencies, MHz               ``run.operating_points.U``
``governor: U``    governor names or mappings          ``run.governors.U.name`` / ``run.governors.U``
``model: W``       model files (rel. to sweep file)    ``workloads.<i>.model``
``sram: M``        sizes, KiB                          ``soc.memories.M.size_kib``
``rate: W``        rates, Hz                           ``workloads.<i>.rate_hz``
``variants``       ``{label, set: {path: value}}``     each ``path=value`` of ``set``
=================  ==================================  =====================================

Errors are located in the sweep file (``file:line:col: field.path: message``) as in every
socsim file; values that are only wrong for the SoC (an operating point it lacks, an SRAM too
small) are not errors of the file: their points are recorded as failed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from socsim.config._base import Range, Spec, count_in
from socsim.config.document import Document, read
from socsim.config.scenario import NAME_PATTERN, NAME_RULE, PolicySpec, Seed
from socsim.errors import ConfigError, Problem

__all__ = ["METRICS", "Axis", "CompiledAxis", "Sweep", "SweepSpec", "load_sweep"]

#: The per-point metrics (result columns) objectives and constraints may name.
METRICS = ("latency_p50_ms", "latency_p99_ms", "energy_per_inference_mj", "deadline_misses",
           "peak_temp_c", "dma_bytes")
Metric = Literal["latency_p50_ms", "latency_p99_ms", "energy_per_inference_mj",
                 "deadline_misses", "peak_temp_c", "dma_bytes"]
#: Result columns an axis may not be named after.
RESERVED = frozenset({"point", "id", "seed", "status", "error", "set", "inferences",
                      "elapsed_s", "worker", "session", "pareto", "rank", "feasible",
                      *METRICS})
#: Axis keys that say where the values go; exactly one per axis.
TARGETS = ("path", "operating_point", "governor", "model", "sram", "rate", "policies",
           "devices", "variants")
_WITH_VALUES = ("path", "operating_point", "governor", "model", "sram", "rate")
AXIS_NAME = r"^[a-z_][a-z0-9_]{0,39}$"
MAX_POINTS = 10_000_000
Count = count_in(Range(1, MAX_POINTS, "", "each point is a whole simulation; ten million "
                      "is months of host time"))

Population = count_in(Range(2, 10_000, "", "NSGA-II populations are tens"))


class Variant(Spec):
    """One value of a ``variants`` axis: several changes under one label."""

    label: str = Field(min_length=1, max_length=60, description="Shown in tables and plots.")
    set: dict[str, Any] = Field(min_length=1, description="dotted.path: value changes.")


class Axis(Spec):
    """One dimension of the sweep: where its values go (one target key) and the values."""

    path: str | None = Field(None, description="A dotted path of the scenario (`soc.` for "
                             "the device file), as for `socsim run --set`.")
    operating_point: str | None = Field(None, description="A unit: values are its DVFS "
                                        "frequencies, MHz (run.operating_points.<unit>).")
    governor: str | None = Field(None, description="A unit: values are governor names or "
                                 "governor mappings (run.governors.<unit>).")
    model: str | None = Field(None, description="A workload name: values are model files, "
                              "relative to the sweep file (workloads.<i>.model).")
    sram: str | None = Field(None, description="A memory: values are sizes in KiB "
                             "(soc.memories.<memory>.size_kib).")
    rate: str | None = Field(None, description="A workload name: values are arrival rates, "
                             "Hz (workloads.<i>.rate_hz).")
    policies: list[PolicySpec] | None = Field(None, min_length=1, description="Placement "
                                              "policies with their params.")
    devices: list[str] | None = Field(None, min_length=1, description="Device files, relative "
                                      "to the sweep file (the scenario's `soc`).")
    variants: list[Variant] | None = Field(None, min_length=1, description="Labelled sets of "
                                           "changes.")
    values: list[Any] | None = Field(None, min_length=1, description="The values, for path, "
                                     "operating_point, governor, model, sram and rate.")
    labels: list[str] | None = Field(None, description="Labels of the values in tables and "
                                     "plots (default: the values themselves).")

    @model_validator(mode="after")
    def _one_target(self) -> Axis:
        given = [k for k in TARGETS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(TARGETS)} (got "
                             f"{', '.join(given) or 'none'})")
        if given[0] in _WITH_VALUES and self.values is None:
            raise ValueError(f"`{given[0]}` needs `values: [...]`, the values to sweep")
        if given[0] not in _WITH_VALUES and self.values is not None:
            raise ValueError(f"`values` goes with {', '.join(_WITH_VALUES)}; `{given[0]}` "
                             "lists its values itself")
        return self

    @property
    def target(self) -> str:
        """The one target key given."""
        return next(k for k in TARGETS if getattr(self, k) is not None)


class Bound(Spec):
    """A constraint on a metric: feasible when min <= value <= max."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give `max`, `min` or both")
        return self


class RandomSpec(Spec):
    """``mode: random``: ``n`` distinct points of the grid, drawn with the sweep's seed."""

    n: Count = Field(description="Points to draw (at most the grid's size).")


class SearchSpec(Spec):
    """``mode: search``: multi-objective search with optuna's NSGA-II sampler."""

    objectives: dict[Metric, Literal["minimize", "maximize"]] = Field(
        min_length=1, description="Metric -> direction.")
    constraints: dict[Metric, Bound] = Field(default_factory=dict, description="Metric -> "
                                             "bounds; infeasible points rank behind feasible.")
    n_trials: Count = Field(description="Points evaluated (repeats of a point reuse it).")
    population: Population = Field(
        8, description="NSGA-II population size (also the batch evaluated in parallel).")


class SweepSpec(Spec):
    """The top-level sweep document."""

    name: str = Field(pattern=NAME_PATTERN, description=f"Identifier, default out folder "
                      f"reports/<name>: {NAME_RULE}.")
    scenario: str = Field(description="Base scenario file, relative to the sweep file.")
    seed: Seed = Field(0, description="Sweep seed: random draws, search, and each point's "
                       "run.seed (derived from it and the point id).")
    common_seed: bool = Field(False, description="Run every point at run.seed = seed (common "
                              "random numbers) instead of a seed derived per point.")
    set: dict[str, Any] = Field(default_factory=dict, description="dotted.path: value changes "
                                "applied to every point.")
    axes: dict[str, Axis] = Field(min_length=1, description="Axis name -> axis.")
    mode: Literal["grid", "random", "search"] = Field("grid", description="Every combination, "
                                                      "a seeded random subset, or a search.")
    random: RandomSpec | None = None
    search: SearchSpec | None = None

    @field_validator("axes")
    @classmethod
    def _names(cls, value: dict[str, Axis]) -> dict[str, Axis]:
        import re

        for name in value:
            if not re.match(AXIS_NAME, name) or name in RESERVED:
                raise ValueError(f"axis name {name!r}: use lowercase letters, digits and _ "
                                 f"(a result column), not one of {sorted(RESERVED)}")
        return value

    @model_validator(mode="after")
    def _mode_settings(self) -> SweepSpec:
        want = {"random": self.random, "search": self.search}
        if self.mode in want and want[self.mode] is None:
            raise ValueError(f"mode: {self.mode} needs a `{self.mode}:` section")
        return self


@dataclass(frozen=True)
class CompiledAxis:
    """An axis as labels and the overrides each value stands for."""

    name: str
    labels: tuple[str, ...]
    overrides: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Sweep:
    """A checked sweep, ready to enumerate.

    Attributes:
        spec: the validated document.
        file: the sweep file.
        scenario: absolute path of the base scenario.
        fixed: overrides applied to every point (``set``, then ``run.functional=false``).
        axes: the compiled axes, in file order.
        fingerprint: hash of everything that decides the points' results (to refuse resuming
            a different sweep).
    """

    spec: SweepSpec
    file: str
    scenario: str
    fixed: tuple[str, ...]
    axes: tuple[CompiledAxis, ...]
    fingerprint: str

    @property
    def size(self) -> int:
        """Points in the full grid."""
        n = 1
        for a in self.axes:
            n *= len(a.labels)
        return n


def assignment(path: str, value: Any) -> str:
    """``path=value`` with the value written as JSON (which YAML reads back exactly)."""
    return f"{path}={json.dumps(value, sort_keys=True)}"


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def policy_label(p: PolicySpec) -> str:
    """``name`` or ``name(k=v,...)`` for a policy value."""
    if not p.params:
        return p.name
    return p.name + "(" + ",".join(f"{k}={_label(v)}" for k, v in sorted(p.params.items())) + ")"


def load_sweep(path: str | Path) -> Sweep:
    """Read, validate and compile a sweep file against its base scenario.

    Raises:
        ConfigError: located in the sweep file (or the base scenario's own errors).
    """
    from socsim.config.loading import validate

    path = Path(path)
    doc = read(path)
    doc.require_mapping("sweep file", "name, scenario, axes (and optionally mode, seed, set)")
    spec = validate(SweepSpec, doc)
    base = path.parent
    scenario = (base / spec.scenario).resolve()
    if not scenario.is_file():
        raise ConfigError(doc.locate(("scenario",), f"{str(scenario)!r} is not a file; give "
                                     "the base scenario's path, relative to the sweep file"))
    fixed = [assignment(k, v) for k, v in spec.set.items()] + ["run.functional=false"]
    from socsim.run import load

    try:
        loaded = load(scenario, fixed)
    except ConfigError as exc:
        raise ConfigError([*exc.problems, doc.locate(("scenario",), "the base scenario (with "
                                                     "`set`) does not load; fix it first")],
                          hint=exc.hint) from None
    from socsim.sweep._compile import compile_axis

    problems: list[Problem] = []
    axes = []
    for name, axis in spec.axes.items():
        compiled, found = compile_axis(name, axis, loaded, base, doc)
        problems += found
        axes.append(compiled)
    problems += _check_mode(spec, axes, doc)
    if problems:
        raise ConfigError(problems)
    fingerprint = _fingerprint(spec, scenario, fixed, axes)
    return Sweep(spec, str(path), str(scenario), tuple(fixed), tuple(axes), fingerprint)


def _check_mode(spec: SweepSpec, axes: list[CompiledAxis], doc: Document) -> list[Problem]:
    size = 1
    for a in axes:
        size *= len(a.labels)
    if spec.mode == "grid" and size > MAX_POINTS:
        return [doc.locate(("axes",), f"the grid has {size:,} points, more than {MAX_POINTS:,}"
                           "; use mode: random or mode: search")]
    if spec.mode == "random" and spec.random.n > size:
        return [doc.locate(("random", "n"), f"{spec.random.n} points asked of a grid of "
                           f"{size}; at most {size} (or use mode: grid)")]
    return []


def _fingerprint(spec: SweepSpec, scenario: Path, fixed: list[str],
                 axes: list[CompiledAxis]) -> str:
    """What decides the results: the scenario's text, the overrides, the axes, seeds, mode."""
    h = hashlib.sha256()
    h.update(scenario.read_bytes())
    h.update(json.dumps({"fixed": fixed, "axes": [(a.name, a.labels, a.overrides) for a in axes],
                         "seed": spec.seed, "common_seed": spec.common_seed, "mode": spec.mode,
                         "random": spec.random.model_dump() if spec.random else None,
                         "search": spec.search.model_dump() if spec.search else None},
                        sort_keys=True).encode())
    return h.hexdigest()[:16]
