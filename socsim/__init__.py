"""socsim: a discrete-event simulator of heterogeneous edge SoCs running quantized networks."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
