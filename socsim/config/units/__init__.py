"""Compute units: one config class per kind, a ``units:`` entry validated by its ``kind``.

Every unit has the same outer shape (:class:`UnitBase`: cores, DVFS, power, memories,
supported ops and dtypes); each kind adds the micro-architectural parameters its cost model
reads. The kinds are open: :data:`Unit` validates an entry as the config class of the kind
registered under its ``kind`` (built-ins cpu, npu, dsp, fpga, and any kind a package publishes
in the ``socsim.units`` entry-point group, :mod:`socsim.hw.kind`); an unknown kind is an error
that lists the registered ones, at the unit's field path.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Union

from pydantic import Field, SerializeAsAny, TypeAdapter, ValidationInfo, WrapValidator

from socsim.config.units.base import (
    OP_FAMILIES,
    Arithmetic,
    ArithmeticSpec,
    Efficiency,
    OpFamily,
    UnitBase,
    check_families,
)
from socsim.config.units.cpu import Cpu
from socsim.config.units.dsp import Dsp
from socsim.config.units.fpga import FPGA_RESOURCES, Fpga, FpgaFabric, FpgaKernel
from socsim.config.units.npu import Npu

__all__ = ["FPGA_RESOURCES", "OP_FAMILIES", "Arithmetic", "ArithmeticSpec", "Cpu", "Dsp", "Efficiency", "Fpga",
           "FpgaFabric", "FpgaKernel", "Npu", "OpFamily", "Unit", "UnitBase", "check_families",
           "unit_config_classes"]


def unit_config_classes() -> tuple[type[UnitBase], ...]:
    """The config class of every registered unit kind, in registration order."""
    from socsim.hw.kind import UNIT_KINDS  # the kinds are plug-ins: their registry

    return tuple(cls.config for cls in UNIT_KINDS.classes())


@lru_cache(maxsize=8)
def _adapter(classes: tuple[type[UnitBase], ...]) -> TypeAdapter:
    """A union of ``classes`` discriminated on ``kind`` (errors carry the kind as a tag, and
    an unknown kind lists the valid ones, as pydantic's discriminated unions do)."""
    if len(classes) == 1:
        return TypeAdapter(classes[0])
    return TypeAdapter(Annotated[Union[classes], Field(discriminator="kind")])  # noqa: UP007


def _validate_unit(value: Any, handler: Any, info: ValidationInfo) -> UnitBase:
    if isinstance(value, UnitBase):
        return value
    return _adapter(unit_config_classes()).validate_python(value, context=info.context)


#: A unit of any registered kind (the field type of ``SoC.units``).
Unit = Annotated[SerializeAsAny[UnitBase], WrapValidator(_validate_unit)]
