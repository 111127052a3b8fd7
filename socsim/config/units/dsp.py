"""The config of a VLIW/SIMD DSP (kind ``dsp``); its cost model is :mod:`socsim.hw.dsp`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from socsim.config._base import DType, Rate
from socsim.config.units.base import Efficiency, UnitBase, check_families

__all__ = ["Dsp"]


class Dsp(UnitBase):
    """A VLIW/SIMD DSP: MACs per cycle per dtype."""

    kind: Literal["dsp"] = "dsp"
    macs_per_cycle: dict[DType, Rate] = Field(
        description="Peak MACs per cycle per core per dtype.")
    ops_per_cycle: dict[DType, Rate] = Field(
        description="Peak elementwise ops per cycle per core per dtype.")
    efficiency: Efficiency = Field(description="Fraction of peak reached per op family.")

    @field_validator("efficiency")
    @classmethod
    def _families(cls, value: dict[str, float]) -> dict[str, float]:
        return check_families(value)
