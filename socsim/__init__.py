"""socsim: a discrete-event simulator of heterogeneous edge SoCs running quantized networks.

Public API: :func:`run_scenario` (load, place, simulate, tabulate), :func:`execute` (run an ONNX
model on socsim's bit-accurate integer kernels), :func:`load_scenario`, :func:`load_soc`,
:func:`load_graph`, and the error classes.
"""

from __future__ import annotations

__version__ = "0.1.0"

from socsim.config import load_scenario, load_soc  # noqa: E402
from socsim.errors import (  # noqa: E402
    ConfigError, ModelError, PlacementError, SimulationError, SocsimError, UnsupportedOpError)
from socsim.graph import load_graph  # noqa: E402
from socsim.run import RunResult, run_scenario  # noqa: E402

import inspect as _inspect  # noqa: E402
import types as _types  # noqa: E402

from socsim import execute  # noqa: E402


class _CallableModule(_types.ModuleType):
    """``socsim.execute`` is both the module (``import socsim.execute as sx; sx.run_model``) and
    the function (``socsim.execute(model, inputs)``): a package attribute can only be one
    object, and binding the function there would hide the module from ``import ... as``."""

    def __call__(self, *args, **kwargs):
        return self.execute(*args, **kwargs)


execute.__class__ = _CallableModule
execute.__signature__ = _inspect.signature(execute.execute)

__all__ = [
    "ConfigError", "ModelError", "PlacementError", "RunResult", "SimulationError", "SocsimError",
    "UnsupportedOpError", "__version__", "execute", "load_graph", "load_scenario", "load_soc",
    "run_scenario",
]
