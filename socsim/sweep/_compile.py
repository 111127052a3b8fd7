"""One axis of a sweep file -> labels and ``dotted.path=value`` overrides, checked against the
base scenario (names of units, memories, workloads, policies; paths of fields)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from socsim.config.document import Document, Loc
from socsim.config.scenario import Scenario
from socsim.config.soc import SoC
from socsim.errors import Problem
from socsim.sweep.spec import Axis, CompiledAxis, _label, assignment, policy_label


def compile_axis(name: str, axis: Axis, scenario: Scenario, base: Path,
                 doc: Document) -> tuple[CompiledAxis, list[Problem]]:
    """The labels and overrides of one axis, and the problems found (located in ``doc``)."""
    at: Loc = ("axes", name)
    target = axis.target
    problems: list[Problem] = []
    soc = scenario.device
    key = getattr(axis, target)

    def named(kind: str, known: Sequence[str]) -> bool:
        if key in known:
            return True
        problems.append(doc.locate((*at, target), f"unknown {kind} {key!r}; the base scenario "
                                   f"has {sorted(known)}"))
        return False

    workloads = [w.name for w in scenario.workloads]
    values: list[Any] = list(axis.values or [])
    labels = [_label(v) for v in values]
    sets: list[tuple[str, ...]] = []
    if target == "path":
        problems += _path_problems(key, scenario, doc, (*at, "path"))
        sets = [(assignment(key, v),) for v in values]
    elif target == "operating_point" and named("unit", list(soc.units)):
        sets = [(assignment(f"run.operating_points.{key}", v),) for v in values]
    elif target == "governor" and named("unit", list(soc.units)):
        sets = [(assignment(f"run.governors.{key}" + ("" if isinstance(v, dict) else ".name"),
                            v),) for v in values]
        labels = [v.get("name", _label(v)) if isinstance(v, dict) else _label(v)
                  for v in values]
    elif target == "sram" and named("memory", list(soc.memories)):
        sets = [(assignment(f"soc.memories.{key}.size_kib", v),) for v in values]
    elif target == "rate" and named("workload", workloads):
        i = workloads.index(key)
        sets = [(assignment(f"workloads.{i}.rate_hz", v),) for v in values]
    elif target == "model" and named("workload", workloads):
        i = workloads.index(key)
        files = _files(values, base, doc, (*at, "values"), problems, ".onnx")
        sets = [(assignment(f"workloads.{i}.model", f),) for f in files]
        labels = [Path(str(v)).stem for v in values]
    elif target == "devices":
        files = _files(axis.devices, base, doc, (*at, "devices"), problems, ".yaml")
        sets = [(assignment("soc", f),) for f in files]
        labels = [Path(v).stem for v in axis.devices]
    elif target == "policies":
        for j, p in enumerate(axis.policies):
            problems += _policy_problems(p, doc, (*at, "policies", j))
        sets = [(assignment("policy.name", p.name), assignment("policy.params", p.params))
                for p in axis.policies]
        labels = [policy_label(p) for p in axis.policies]
    elif target == "variants":
        for j, v in enumerate(axis.variants):
            for path in v.set:
                problems += _path_problems(path, scenario, doc, (*at, "variants", j, "set",
                                                                  path))
        sets = [tuple(assignment(k, x) for k, x in v.set.items()) for v in axis.variants]
        labels = [v.label for v in axis.variants]
    if axis.labels is not None:
        if len(axis.labels) != len(labels):
            problems.append(doc.locate((*at, "labels"), f"{len(axis.labels)} labels for "
                                       f"{len(labels)} values; give one label per value"))
        else:
            labels = list(axis.labels)
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        problems.append(doc.locate((*at, "labels" if axis.labels else target),
                                   f"repeated values or labels {dup}; each value of an axis "
                                   "appears once (give distinct `labels` if they differ)"))
    return CompiledAxis(name, tuple(labels), tuple(sets)), problems


def _files(names: Sequence[Any], base: Path, doc: Document, at: Loc, problems: list[Problem],
           suffix: str) -> list[str]:
    """Absolute paths of files named relative to the sweep file; missing ones reported."""
    from socsim.zoo import ensure  # bundled models are built on first use

    out = []
    for j, name in enumerate(names):
        if not isinstance(name, str):
            problems.append(doc.locate((*at, j), f"expected a file name, got {name!r}"))
            out.append("")
            continue
        path = Path(os.path.realpath(base / name))
        if not path.is_file() and not (suffix == ".onnx" and ensure(path)):
            problems.append(doc.locate((*at, j), f"{str(path)!r} is not a file; give a "
                                       f"{suffix} file, relative to the sweep file"))
        out.append(str(path))
    return out


def _policy_problems(p, doc: Document, at: Loc) -> list[Problem]:
    """The policy is registered and its params fit its parameter model."""
    from socsim.policies import get_policy

    try:
        cls = get_policy(p.name)
    except KeyError as exc:
        return [doc.locate((*at, "name"), exc.args[0])]
    try:
        cls.Params.model_validate(p.params)
    except ValidationError as exc:
        return [doc.locate((*at, "params", *e["loc"]), _param_message(p.name, cls, e),
                           missing=e["type"] == "missing") for e in exc.errors()]
    return []


def _param_message(name: str, cls, err) -> str:
    key = err["loc"][-1] if err["loc"] else ""
    if err["type"] == "extra_forbidden":
        return (f"unknown parameter {key!r} for policy {name!r}; valid: "
                f"{list(cls.Params.model_fields)}")
    if err["type"] == "missing":
        return f"policy {name!r} needs parameter {key!r}; add it"
    return err["msg"].removeprefix("Value error, ")


def _path_problems(path: str, scenario: Scenario, doc: Document, at: Loc) -> list[Problem]:
    """A dotted path must name a field the scenario (or, under ``soc.``, the SoC) has."""
    from socsim.config.loading import _unwrap  # the loader's own walk through the models

    parts = path.split(".")
    if "" in parts:
        return [doc.locate(at, f"{path!r} is not a dotted path such as run.seed or "
                           "soc.memories.sram0.size_kib")]
    loc = tuple(int(p) if p.isdigit() else p for p in parts)
    tp: Any = Scenario
    if loc[0] == "soc" and len(loc) > 1:
        tp, loc = SoC, loc[1:]
    for part in loc[:-1]:
        tp = _unwrap(tp, part)
        if tp is None:
            return []  # under a free-form value (policy params): the point will tell
    fields = _model_fields(tp)
    if fields is not None and str(loc[-1]) not in fields:
        return [doc.locate(at, f"{path!r}: no field {loc[-1]!r} there; valid fields: "
                           f"{', '.join(fields)}")]
    return []


def _model_fields(tp: Any) -> list[str] | None:
    """The fields of a pydantic model type, or of every member of a union of them."""
    import types
    import typing

    from pydantic import BaseModel

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _model_fields(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        found = [f for a in typing.get_args(tp) if (f := _model_fields(a)) is not None]
        return sorted({x for f in found for x in f}) if found else None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return None
