"""Placement policies: the interface, the registry and the built-in strategies."""

from socsim.policies import (  # noqa: F401  (register built-ins)
    energy_aware,
    greedy_eft,
    heft,
    layerwise,
    priority,
    rules,
    single,
    subgraph,
)
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams
from socsim.policies.registry import available_policies, get_policy, make_policy, register_policy

__all__ = ["Plan", "PlacementPolicy", "PolicyParams", "available_policies", "get_policy",
           "make_policy", "register_policy"]
