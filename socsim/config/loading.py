"""One loader for every YAML file: parse, locate errors by line, validate, resolve paths.

Every problem becomes a :class:`socsim.errors.Problem` with ``file:line:col`` and the dotted
field path, so a user sees ``scenarios/x.yaml:12:5: workloads.0.rate_hz: ...``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from socsim.config.scenario import Scenario
from socsim.config.soc import SoC
from socsim.errors import ConfigError, Problem

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


class _Document:
    """A parsed YAML document: the plain data and the node tree that knows line numbers."""

    def __init__(self, text: str, file: str):
        self.file = file
        try:
            self.node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(Problem(
                f"malformed YAML: {problem}", file,
                mark.line + 1 if mark else None, mark.column + 1 if mark else None)) from None
        self._check_duplicate_keys(self.node, ())
        self.overrides: dict[Loc, str] = {}

    def _check_duplicate_keys(self, node: yaml.Node | None, loc: Loc) -> None:
        problems = []
        stack = [(node, loc)]
        while stack:
            node, loc = stack.pop()
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for key, value in node.value:
                    if key.value in seen:
                        problems.append(Problem(
                            f"duplicate key {key.value!r} (YAML would silently keep the last)",
                            self.file, key.start_mark.line + 1, key.start_mark.column + 1,
                            _dotted((*loc, key.value))))
                    seen.add(key.value)
                    stack.append((value, (*loc, key.value)))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((v, (*loc, i)) for i, v in enumerate(node.value))
        if problems:
            raise ConfigError(sorted(problems, key=lambda p: p.line or 0))

    def locate(self, loc: Loc, message: str, *, missing: bool = False) -> Problem:
        """A :class:`Problem` at the deepest node of ``loc`` that exists in the file.

        Elements of ``loc`` that are not in the document (pydantic's union tags) are left out
        of the path, except the last one of a ``missing`` field, which is its name; the error
        points at the nearest enclosing node.
        """
        for prefix, origin in self.overrides.items():
            shown = _through(loc, prefix)
            if shown is not None:
                return Problem(message, origin, path=_dotted(shown))
        node = self.node
        key_node = None
        shown: list[str | int] = []
        for i, part in enumerate(loc):
            found = False
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == str(part):
                        key_node, node, found = key, value, True
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    key_node, node, found = None, node.value[part], True
            if found or (missing and i == len(loc) - 1):  # else it is a union tag
                shown.append(part)
        mark = (key_node or node).start_mark if node is not None else None
        return Problem(message, self.file, mark.line + 1 if mark else None,
                       mark.column + 1 if mark else None, _dotted(shown))

    def apply_overrides(self, assignments: Sequence[str]) -> None:
        """Apply ``dotted.path=value`` overrides (values parsed as YAML scalars)."""
        for assignment in assignments:
            origin = f"--set {assignment}"
            path, sep, raw = assignment.partition("=")
            if not sep or not path:
                raise ConfigError(Problem("expected dotted.path=value, e.g. "
                                          "run.seed=3 or workloads.0.inferences=100", origin))
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                value = raw
            loc = tuple(int(p) if p.isdigit() else p for p in path.split("."))
            if not isinstance(self.data, dict):
                self.data = {}
            target: Any = self.data
            for i, part in enumerate(loc[:-1]):
                if isinstance(target, list) and isinstance(part, int) and part < len(target):
                    target = target[part]
                elif isinstance(target, dict):
                    target = target.setdefault(part, {})
                else:
                    raise ConfigError(Problem(
                        f"cannot descend into {_dotted(loc[:i + 1])!r}: it is not a mapping or "
                        "an existing list index", origin, path=path))
            last = loc[-1]
            if isinstance(target, list) and isinstance(last, int) and last < len(target):
                target[last] = value
            elif isinstance(target, dict):
                target[last] = value
            else:
                raise ConfigError(Problem(f"cannot set {path!r}", origin, path=path))
            self.overrides[loc] = origin


def _through(loc: Loc, prefix: Loc) -> Loc | None:
    """``loc`` without pydantic's union tags if it lies under the override path ``prefix``
    (the tags are elements of ``loc`` that the path skips), else None."""
    shown: list[str | int] = []
    i = 0
    for part in loc:
        if i < len(prefix) and str(part) == str(prefix[i]):
            i += 1
            shown.append(part)
        elif i < len(prefix) and not isinstance(part, int) and shown:
            continue  # a union tag between two elements of the path
        elif i == len(prefix):
            shown.append(part)
        else:
            return None
    return tuple(shown) if i == len(prefix) else None


def _dotted(loc: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in loc)


def _read(path: Path) -> _Document:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Problem("file not found; check the path", str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(Problem(f"cannot read: {exc}", str(path))) from None
    return _Document(text, str(path))


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
        return field.annotation if field is not None else None
    return None


def _message(cls: type[BaseModel], err: Any) -> str:
    kind, loc, msg = err["type"], tuple(err["loc"]), err["msg"]
    if kind == "extra_forbidden":
        valid = _fields_at(cls, loc[:-1]) or []
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown field {loc[-1]!r}{hint}; valid fields: {', '.join(valid)}"
    if kind == "missing":
        return f"required field {loc[-1]!r} is missing; add it"
    if kind == "union_tag_invalid":
        return f"{msg}"
    msg = msg.removeprefix("Value error, ")
    value = err.get("input")
    shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
    return f"{msg}{shown}"


def validate(cls: type[M], doc: _Document) -> M:
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


def _check_soc(soc: SoC, doc: _Document, prefix: Loc = ()) -> None:
    problems = [doc.locate((*prefix, *loc), msg) for loc, msg in soc.check()]
    if problems:
        raise ConfigError(problems)


def load_soc(path: str | Path, overrides: Sequence[str] = ()) -> SoC:
    """Load and check a device file, with ``dotted.path=value`` overrides applied.

    Raises:
        ConfigError: with ``file:line:col: field.path: message`` for each problem.
    """
    doc = _read(Path(path))
    doc.apply_overrides(overrides)
    soc = validate(SoC, doc)
    _check_soc(soc, doc)
    return soc


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Load a scenario, apply ``--set`` overrides, load its SoC and resolve its paths.

    Paths in the scenario (the device file, each model) resolve relative to the scenario file.
    The policy's parameters are checked later, against the SoC, by the policy itself
    (:func:`socsim.policies.make_policy`).

    Raises:
        ConfigError: for malformed YAML, unknown fields, impossible values or missing files.
    """
    from socsim.zoo import ensure  # the zoo builds bundled models on first use

    path = Path(path)
    doc = _read(path)
    soc_overrides = [o[len("soc."):] for o in overrides if o.startswith("soc.")]
    doc.apply_overrides([o for o in overrides if not o.startswith("soc.")])
    scenario = validate(Scenario, doc)
    base = path.parent
    if soc_overrides and not isinstance(scenario.soc, str):
        doc.apply_overrides([f"soc.{o}" for o in soc_overrides])
        scenario = validate(Scenario, doc)
    if isinstance(scenario.soc, str):
        soc = load_soc(base / scenario.soc, [*scenario.soc_set, *soc_overrides])
    else:
        if scenario.soc_set:
            raise ConfigError(doc.locate(("soc_set",), "soc_set changes a device file; with "
                                         "an inline `soc`, edit it in place"))
        soc = scenario.soc
        _check_soc(soc, doc, ("soc",))
    problems = []
    workloads = []
    for i, w in enumerate(scenario.workloads):
        model = (base / w.model).resolve()
        if not model.exists() and not ensure(model):
            problems.append(doc.locate(("workloads", i, "model"),
                                       f"model file {str(model)!r} does not exist"))
        update = {"model": str(model)}
        if w.inputs is not None:
            inputs = (base / w.inputs).resolve()
            if not inputs.exists():
                problems.append(doc.locate(("workloads", i, "inputs"),
                                           f"inputs file {str(inputs)!r} does not exist"))
            update["inputs"] = str(inputs)
        workloads.append(w.model_copy(update=update))
    problems += [doc.locate(loc, msg) for loc, msg in _check_run(scenario, soc)]
    if problems:
        raise ConfigError(problems)
    resolved = scenario.model_copy(update={"soc": soc, "workloads": workloads})
    resolved._doc = doc
    return resolved


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


def scenario_document(scenario: Scenario) -> _Document | None:
    """The parsed document a scenario came from (to locate later errors, e.g. policy params)."""
    return scenario._doc


def load_any(path: str | Path) -> SoC | Scenario:
    """Load a device or scenario file, telling them apart by their top-level keys."""
    doc = _read(Path(path))
    if isinstance(doc.data, dict) and "workloads" in doc.data:
        return load_scenario(path)
    if isinstance(doc.data, dict) and "units" in doc.data:
        return load_soc(path)
    raise ConfigError(doc.locate((), "neither a scenario (needs `workloads`) nor a device file "
                                 "(needs `units`)"))
