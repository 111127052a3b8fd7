"""socsim: a discrete-event simulator of heterogeneous edge SoCs running quantized networks.

Public API: :func:`run_scenario` (load, place, simulate, tabulate), :func:`execute` (run an ONNX
model on socsim's bit-accurate integer kernels), :func:`load_scenario`, :func:`load_soc`,
:func:`load_graph`, and the error classes.

Names are imported on first use (PEP 562 ``__getattr__``): ``import socsim`` and
``socsim --version`` stay fast, and onnx, pandas, matplotlib and numba load only for the
commands and functions that need them.
"""

from __future__ import annotations

import importlib

from socsim.errors import (
    ConfigError,
    ModelError,
    PlacementError,
    SimulationError,
    SocsimError,
    UnsupportedOpError,
)

__version__ = "0.1.0"

_LAZY = {
    "load_scenario": "socsim.config",
    "load_soc": "socsim.config",
    "load_graph": "socsim.graph",
    "RunResult": "socsim.run",
    "run_scenario": "socsim.run",
}


def __getattr__(name: str):
    """Import a public name's module on first use (``execute``: the callable module)."""
    if name == "execute":
        return importlib.import_module("socsim.execute")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'socsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ConfigError", "ModelError", "PlacementError", "RunResult", "SimulationError", "SocsimError",
    "UnsupportedOpError", "__version__", "execute", "load_graph", "load_scenario", "load_soc",
    "run_scenario",
]
