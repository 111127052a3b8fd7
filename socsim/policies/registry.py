"""Policies by name: built-ins register with a decorator, third parties via the
``socsim.policies`` entry-point group (merged on first lookup)."""

from __future__ import annotations

from importlib.metadata import entry_points

from pydantic import ValidationError

from socsim.config.scenario import PolicySpec
from socsim.config.soc import SoC
from socsim.errors import ConfigError, Problem
from socsim.policies.base import PlacementPolicy

_REGISTRY: dict[str, type[PlacementPolicy]] = {}
_entry_points_loaded = False


def register_policy(cls: type[PlacementPolicy]) -> type[PlacementPolicy]:
    """Register a policy class under ``cls.name`` (decorator; returns the class unchanged).

    Raises:
        ValueError: if the name is taken.
    """
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"a policy named {cls.name!r} is already registered "
                         f"({_REGISTRY[cls.name].__module__})")
    _REGISTRY[cls.name] = cls
    return cls


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group="socsim.policies"):
        register_policy(ep.load())


def available_policies() -> list[str]:
    """Names of every registered policy."""
    _load_entry_points()
    return sorted(_REGISTRY)


def get_policy(name: str | type[PlacementPolicy]) -> type[PlacementPolicy]:
    """The policy class registered as ``name`` (or ``name`` itself if it is a class).

    Raises:
        KeyError: naming the valid policies.
    """
    if isinstance(name, type):
        return name
    _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown policy {name!r}; available: {available_policies()}") from None


def make_policy(spec: PolicySpec, soc: SoC, locate=None) -> PlacementPolicy:
    """Build the policy a scenario names, checking its params against its model and the SoC.

    Args:
        locate: optional ``(loc, message) -> Problem`` placing errors in the scenario file.

    Raises:
        ConfigError: unknown policy, bad params, or params naming units the SoC lacks.
    """
    locate = locate or (lambda loc, msg: Problem(msg, path=".".join(map(str, loc))))
    try:
        cls = get_policy(spec.name)
    except KeyError as exc:
        raise ConfigError(locate(("policy", "name"), exc.args[0])) from None
    try:
        params = cls.Params.model_validate(spec.params)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ("policy", "params", *err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = (f"unknown parameter {err['loc'][-1]!r} for policy {spec.name!r}; valid: "
                       f"{list(cls.Params.model_fields)}")
            problems.append(locate(loc, msg))
        raise ConfigError(problems) from None
    problems = [locate(("policy", "params", *loc), msg) for loc, msg in params.check(soc)]
    if problems:
        raise ConfigError(problems)
    return cls(params)
