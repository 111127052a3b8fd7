"""Runtime dynamics: model variants per workload and runtime managers that switch them, drop
frames and move DVFS points during a run (docs/runtime.md).

A manager is a strategy with a registry (``socsim.runtime_managers`` entry points), like the
placement policies: :class:`RuntimeManager`, :func:`register_manager`.
"""

from socsim.runtime.base import (
    MANAGERS,
    RuntimeManager,
    SystemState,
    available_managers,
    get_manager,
    register_manager,
)

__all__ = ["MANAGERS", "RuntimeManager", "SystemState", "available_managers", "get_manager",
           "register_manager"]
