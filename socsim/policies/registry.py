"""Policies by name: built-ins register with a decorator, third parties via the
``socsim.policies`` entry-point group (merged on first lookup)."""

from __future__ import annotations

from pydantic import ValidationError

from socsim.config.scenario import PolicySpec
from socsim.config.soc import SoC
from socsim.errors import ConfigError, Problem
from socsim.policies.base import PlacementPolicy
from socsim.registry import Registry

#: the policies by name (built-ins by decorator, others from the entry-point group)
POLICIES: Registry[type[PlacementPolicy]] = Registry("policy", "socsim.policies")


def register_policy(cls: type[PlacementPolicy]) -> type[PlacementPolicy]:
    """Register a policy class under ``cls.name`` (decorator; returns the class unchanged).

    Raises:
        ValueError: if the name is taken.
    """
    return POLICIES.register(cls)


def available_policies() -> list[str]:
    """Names of every registered policy."""
    return POLICIES.names()


def get_policy(name: str | type[PlacementPolicy]) -> type[PlacementPolicy]:
    """The policy class registered as ``name`` (or ``name`` itself if it is a class).

    Raises:
        KeyError: naming the valid policies.
    """
    if isinstance(name, type):
        return name
    return POLICIES.get(name)


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
