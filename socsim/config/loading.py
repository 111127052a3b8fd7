"""One loader for every YAML file: parse, locate errors by line, validate, resolve paths.

Every problem becomes a :class:`socsim.errors.Problem` with ``file:line:col`` and the dotted
field path, so a user sees ``scenarios/x.yaml:12:5: workloads.0.rate_hz: ...``.
"""

from __future__ import annotations

import difflib
import math
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from socsim.config.document import Document, Loc, Origin, read
from socsim.config.scenario import NAME_PATTERN, NAME_RULE, Scenario
from socsim.config.soc import SoC
from socsim.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
_DEVICE_FIELDS = "name, units, memories (and optionally dma)"
_SCENARIO_FIELDS = "name, soc, workloads, policy (and optionally run)"


def _fields_at(cls: Any, loc: Loc) -> list[str] | None:
    """Field names of the pydantic model reached by following ``loc`` from ``cls``."""
    for part in loc:
        cls = _unwrap(cls, part)
        if cls is None:
            return None
    cls = _unwrap(cls, None)
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return list(cls.model_fields)
    return None


def _unwrap(tp: Any, part: str | int | None) -> Any:
    """One step of :func:`_fields_at`: the type found under key ``part`` inside ``tp``."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0], part)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if part is None:
            return models[0] if len(models) == 1 else None
        for m in models:  # a discriminated-union tag, or a class-name union tag
            kind = m.model_fields.get("kind")
            if (kind is not None and kind.default == part) or m.__name__ == part:
                return m
        for m in models:
            if part in m.model_fields:
                return m.model_fields[part].annotation
        return None
    if part is None:
        return tp
    if origin in (list, dict, typing.Sequence):
        return typing.get_args(tp)[-1]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        if field is None:  # an open union's tag (units: the subclass of that `kind`)
            return _variant(tp, part)
        return field.annotation
    return None


def _variant(base: type[BaseModel], tag: str | int) -> type[BaseModel] | None:
    """The subclass of ``base`` whose ``kind`` defaults to ``tag``, or None."""
    for sub in base.__subclasses__():
        kind = sub.model_fields.get("kind")
        if kind is not None and kind.default == tag:
            return sub
        found = _variant(sub, tag)
        if found is not None:
            return found
    return None


def _message(cls: type[BaseModel], err: Any) -> str:
    kind, loc, msg = err["type"], tuple(err["loc"]), err["msg"]
    value = err.get("input")
    if kind == "extra_forbidden":
        valid = _fields_at(cls, loc[:-1]) or []
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown field {loc[-1]!r}{hint}; valid fields: {', '.join(valid)}"
    if kind == "missing":
        return f"required field {loc[-1]!r} is missing; add it"
    if kind == "union_tag_invalid":
        return f"{msg}"
    if kind in ("float_type", "int_type", "finite_number", "int_from_float"):
        return _number_message(kind, value)
    if kind == "string_type":
        return f"expected a string, got {_shown(value)}; quote it"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return (f"expected a mapping (indented `name: value` lines or {{name: value}}), got "
                f"{_kind_of(value)}")
    if kind == "list_type":
        return f"expected a list (`- item` lines or [1, 2]), got {_kind_of(value)}"
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == NAME_PATTERN:
        return f"{value!r} is not a valid name: use {NAME_RULE}"
    msg = msg.removeprefix("Value error, ")
    if isinstance(value, (dict, list)) or "outside the plausible range" in msg:
        return msg
    return f"{msg} (got {_shown(value)})"


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return _shown(value)


def _shown(value: Any) -> str:
    if value is None:
        return "an empty value (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def _number_message(kind: str, value: Any) -> str:
    """Why a value is not the number a field needs, and what to write instead."""
    want = "a whole number" if kind.startswith("int") else "a number"
    if isinstance(value, bool):
        return (f"expected {want}, got the boolean {str(value).lower()} (YAML reads true, false, "
                "yes, no, on, off as booleans); write a number")
    if isinstance(value, str):
        return (f"expected {want}, got the string {value!r}; write a plain number such as 1.5 "
                "or 2.5e3 (units are in the field name)")
    if isinstance(value, float) and math.isnan(value):
        return "expected a finite number, got NaN (.nan); give a value"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return f"expected a finite number, got {value:g}; give a value"
    if kind.startswith("int") and isinstance(value, float):
        return f"expected a whole number, got {value!r}; drop the fraction or exponent"
    return f"expected {want}, got {_shown(value)}"


def validate(cls: type[M], doc: Document) -> M:
    """Validate ``doc`` as ``cls``, reporting every error with its file position.

    Raises:
        ConfigError: one problem per validation error.
    """
    try:
        return cls.model_validate(doc.data if doc.data is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            problems.append(doc.locate(loc, _message(cls, err), missing=err["type"] == "missing"))
        raise ConfigError(problems) from None


def _check_soc(soc: SoC, doc: Document, prefix: Loc = ()) -> None:
    problems = [doc.locate((*prefix, *loc), msg) for loc, msg in soc.check()]
    if problems:
        raise ConfigError(problems)


def _kind_problem(doc: Document, want: str) -> str | None:
    """Why ``doc`` is the other kind of file than ``want`` ("device" or "scenario"), or None."""
    data = doc.data if isinstance(doc.data, dict) else {}
    if want == "device" and "workloads" in data and "units" not in data:
        return ("this is a scenario (it has `workloads`), not a device file; `soc:` must name a "
                "device file such as ../devices/mcu_m55_u55.yaml")
    if want == "scenario" and "units" in data and "workloads" not in data:
        return ("this is a device file (it has `units`), not a scenario; run a scenario that "
                "names it in `soc:` (e.g. scenarios/quickstart.yaml)")
    return None


def _soc_from(doc: Document, overrides: Sequence[str] = (),
              origins: Sequence[Origin] | None = None) -> SoC:
    problem = _kind_problem(doc, "device")
    if problem:
        raise ConfigError(doc.locate((), problem))
    doc.require_mapping("device file", _DEVICE_FIELDS)
    doc.apply_overrides(overrides, origins)
    soc = validate(SoC, doc)
    _check_soc(soc, doc)
    return soc


def load_soc(path: str | Path, overrides: Sequence[str] = ()) -> SoC:
    """Load and check a device file, with ``dotted.path=value`` overrides applied.

    Raises:
        ConfigError: with ``file:line:col: field.path: message`` for each problem.
    """
    return _soc_from(read(Path(path)), overrides)


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Load a scenario, apply ``--set`` overrides, load its SoC and resolve its paths.

    Paths in the scenario (the device file, each model, inputs and calibration file) resolve
    relative to the scenario file.
    The policy's parameters are checked later, against the SoC, by the policy itself
    (:func:`socsim.policies.make_policy`); the models' contents by :mod:`socsim.check`.

    Raises:
        ConfigError: for malformed YAML, unknown fields, impossible values or missing files.
    """
    return _scenario_from(read(Path(path)), Path(path), overrides)


def _scenario_from(doc: Document, path: Path, overrides: Sequence[str] = ()) -> Scenario:
    problem = _kind_problem(doc, "scenario")
    if problem:
        raise ConfigError(doc.locate((), problem))
    doc.require_mapping("scenario", _SCENARIO_FIELDS)
    soc_overrides = [o[len("soc."):] for o in overrides if o.startswith("soc.")]
    doc.apply_overrides([o for o in overrides if not o.startswith("soc.")])
    scenario = validate(Scenario, doc)
    base = path.parent
    if soc_overrides and not isinstance(scenario.soc, str):
        doc.apply_overrides([f"soc.{o}" for o in soc_overrides])
        scenario = validate(Scenario, doc)
    if isinstance(scenario.soc, str):
        soc = _linked_soc(doc, base, scenario, soc_overrides)
    else:
        if scenario.soc_set:
            raise ConfigError(doc.locate(("soc_set",), "soc_set changes a device file; with "
                                         "an inline `soc`, edit it in place"))
        soc = scenario.soc
        _check_soc(soc, doc, ("soc",))
    problems = []
    workloads = []
    for i, w in enumerate(scenario.workloads):
        model, why = _usable_file(base, w.model, "model", ".onnx")
        if why:
            problems.append(doc.locate(("workloads", i, "model"), why))
        update = {"model": model}
        if w.inputs is not None:
            inputs, why = _usable_file(base, w.inputs, "inputs", ".npz")
            if why:
                problems.append(doc.locate(("workloads", i, "inputs"), why))
            update["inputs"] = inputs
        if w.quantize is not None:
            calib, why = _usable_file(base, w.quantize.calib, "calib", ".npz")
            if why:
                problems.append(doc.locate(("workloads", i, "quantize", "calib"), why))
            update["quantize"] = w.quantize.model_copy(update={"calib": calib})
        if w.arrival_trace is not None:
            trace, why = _usable_file(base, w.arrival_trace, "arrival_trace", ".txt")
            if why is None:  # read now: a bad line stops the run before it starts
                from socsim.sim.arrivals import read_arrival_trace

                try:
                    read_arrival_trace(trace)
                except ConfigError as exc:
                    why = str(exc)
            if why:
                problems.append(doc.locate(("workloads", i, "arrival_trace"), why))
            update["arrival_trace"] = trace
        variants = []
        for j, v in enumerate(w.variants):
            vmodel, why = _usable_file(base, v.model, "model", ".onnx")
            if why:
                problems.append(doc.locate(("workloads", i, "variants", j, "model"), why))
            variants.append(v.model_copy(update={"model": vmodel}))
        update["variants"] = variants
        workloads.append(w.model_copy(update=update))
    problems += [doc.locate(loc, msg) for loc, msg in _check_run(scenario, soc)]
    if problems:
        raise ConfigError(problems)
    resolved = scenario.model_copy(update={"soc": soc, "workloads": workloads})
    resolved._doc = doc
    return resolved


def _linked_soc(doc: Document, base: Path, scenario: Scenario,
                soc_overrides: Sequence[str]) -> SoC:
    """The device file a scenario's `soc:` names, with `soc_set` and `--set soc.` applied;
    a file that is missing or of the wrong kind is reported at the `soc:` line."""
    assert isinstance(scenario.soc, str)
    try:
        device = read(base / scenario.soc)
    except ConfigError as exc:
        raise ConfigError(doc.locate(("soc",), f"device file {scenario.soc!r}: "
                                     f"{exc.problems[0].message}")) from None
    problem = _kind_problem(device, "device")
    if problem:
        raise ConfigError(doc.locate(("soc",), f"{scenario.soc!r}: {problem}"))
    origins = []
    for i in range(len(scenario.soc_set)):
        at = doc.locate(("soc_set", i), "")  # a line of the file, or the --set that wrote it
        origins.append(Origin(at.file or doc.file, at.line, at.col, at.path))
    origins += [Origin(f"--set soc.{o}") for o in soc_overrides]
    return _soc_from(device, [*scenario.soc_set, *soc_overrides], origins)


def _usable_file(base: Path, name: str, what: str, suffix: str) -> tuple[str, str | None]:
    """The absolute path of a file a scenario names, and why it cannot be read (or None)."""
    path = Path(os.path.realpath(base / name))
    try:
        path.stat()
    except FileNotFoundError:
        if what == "model" and (zoo := _zoo_name(path)) is not None:
            # Loading reads and checks; it never writes (a generated model is the user's
            # explicit step, so `validate` and `run` see the same files).
            return str(path), (f"{what} file {str(path)!r} does not exist; it is the zoo "
                               f"model {zoo!r}, generated rather than committed: build it "
                               f"with `socsim zoo build {zoo} --out {path.parent}`")
        return str(path), (f"{what} file {str(path)!r} does not exist; check the path "
                           f"(relative to the scenario file) and give a {suffix} file")
    except OSError as exc:
        return str(path), f"{what} file {name!r}: {exc.strerror or exc}; give a {suffix} file"
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        return str(path), f"{what} file {str(path)!r} is {kind}; give a {suffix} file"
    return str(path), None


def _zoo_name(path: Path) -> str | None:
    """The zoo model a missing ``<name>.onnx`` would be (:data:`socsim.zoo.NAMES`), else None."""
    if path.suffix != ".onnx":
        return None
    from socsim.zoo.registry import NAMES  # onnx and the builders: only on this error path

    return path.stem if path.stem in NAMES else None


def _check_run(scenario: Scenario, soc: SoC) -> list[tuple[Loc, str]]:
    """Run settings that name units and operating points must match the SoC."""
    problems: list[tuple[Loc, str]] = []
    run = scenario.run

    def point_ok(loc: Loc, unit: str, freq: float) -> None:
        freqs = [p.freq_mhz for p in soc.units[unit].dvfs.points]
        if freq not in freqs:
            problems.append((loc, f"{freq:g} MHz is not an operating point of {unit!r}; "
                            f"choose one of {freqs}"))

    for section in ("operating_points", "governors"):
        for unit in getattr(run, section):
            if unit not in soc.units:
                problems.append((("run", section, unit),
                                 f"unknown unit {unit!r}; the SoC has {sorted(soc.units)}"))
    for unit, freq in run.operating_points.items():
        if unit in soc.units:
            point_ok(("run", "operating_points", unit), unit, freq)
    for unit, gov in run.governors.items():
        if unit not in soc.units:
            continue
        if gov.freq_mhz is not None:
            if gov.name != "fixed":
                problems.append((("run", "governors", unit, "freq_mhz"),
                                 f"freq_mhz applies to the `fixed` governor only, not "
                                 f"{gov.name!r}"))
            point_ok(("run", "governors", unit, "freq_mhz"), unit, gov.freq_mhz)
        if gov.down_threshold >= gov.up_threshold:
            problems.append((("run", "governors", unit),
                             f"down_threshold={gov.down_threshold} must be below "
                             f"up_threshold={gov.up_threshold}"))
        thermal = soc.thermal_of(unit)
        if gov.name == "thermal" and (thermal is None or thermal.trip_c is None):
            problems.append((("run", "governors", unit, "name"),
                             f"the thermal governor needs {unit!r} to have `thermal` (or a "
                             "`thermal_zone`) with `trip_c` in the device file"))
    return problems


def scenario_document(scenario: Scenario) -> Document | None:
    """The parsed document a scenario came from (to locate later errors, e.g. policy params)."""
    return scenario._doc


def load_any(path: str | Path) -> SoC | Scenario:
    """Load a device or scenario file, telling them apart by their top-level keys.

    Raises:
        ConfigError: as :func:`load_scenario` or :func:`load_soc`, or neither kind of file.
    """
    doc = read(Path(path))
    either = f"a scenario ({_SCENARIO_FIELDS}) or a device file ({_DEVICE_FIELDS})"
    doc.require_mapping("socsim file", f"the fields of {either}")
    if "workloads" in doc.data:
        return _scenario_from(doc, Path(path))
    if "units" in doc.data:
        return _soc_from(doc)
    raise ConfigError(doc.locate((), f"neither {either}: add `workloads` or `units`"))
