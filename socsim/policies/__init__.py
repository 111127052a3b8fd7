"""Placement policies: the interface, the registry and the built-in strategies."""

from socsim.policies import greedy_eft, rules, single  # noqa: F401  (register built-ins)
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams
from socsim.policies.registry import available_policies, get_policy, make_policy, register_policy

__all__ = ["Plan", "PlacementPolicy", "PolicyParams", "available_policies", "get_policy",
           "make_policy", "register_policy"]
