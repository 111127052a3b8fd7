"""What every unit kind's config shares (:class:`UnitBase`), op families, arithmetic.

A kind's config (``config/units/cpu.py`` etc., or a plug-in's) subclasses :class:`UnitBase`;
:data:`socsim.config.units.Unit` validates a ``units:`` entry as the class registered for its
``kind`` (:mod:`socsim.hw.kind`).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from socsim.config._base import (
    AccumulatorBits,
    Align,
    Cores,
    Cycles,
    DType,
    Fraction,
    Prefetch,
    Rate,
    Spec,
)
from socsim.config.limits import OpLimits
from socsim.config.power import Dvfs, Power, Thermal
from socsim.kernels.arithmetic import Arithmetic

__all__ = ["OP_FAMILIES", "Arithmetic", "ArithmeticSpec", "Efficiency", "OpFamily", "UnitBase",
           "check_families"]

#: Operator families the cost models distinguish (see :func:`socsim.graph.cost.family_of`).
OpFamily = Literal["conv", "depthwise", "gemm", "elementwise", "pool", "reduce", "normalize",
                   "quantize", "data"]
OP_FAMILIES: tuple[str, ...] = OpFamily.__args__  # type: ignore[attr-defined]


class _ArithmeticFields(Spec):
    def target(self) -> Arithmetic:
        """The kernels' :class:`~socsim.kernels.arithmetic.Arithmetic` these fields name."""
        return Arithmetic(**self.model_dump())


def _arithmetic_spec() -> type[Spec]:
    """The ``arithmetic`` block of a unit: the fields of the kernels' :class:`Arithmetic`
    (names, types, defaults, descriptions), with the device files' plausible range on the
    accumulator width. A field with ``metadata["device_file"] = False`` is left out: a unit
    kind's :meth:`~socsim.hw.kind.UnitKind.arithmetic` hook sets it from the kind's own
    config instead."""
    hints = typing.get_type_hints(Arithmetic)
    fields: dict[str, Any] = {
        f.name: (_CONFIG_TYPES.get(f.name, hints[f.name]),
                 Field(f.default, description=f.metadata["description"]))
        for f in dataclasses.fields(Arithmetic) if f.metadata.get("device_file", True)}
    return create_model("ArithmeticSpec", __base__=_ArithmeticFields, __module__=__name__,
                        __doc__="Integer arithmetic of a unit: accumulator width, dot-product "
                        "form, requantization rounding, float kernels.", **fields)


#: config types that narrow a field of the kernels' Arithmetic to a device's plausible range
_CONFIG_TYPES: dict[str, Any] = {"accumulator_bits": AccumulatorBits}
ArithmeticSpec = _arithmetic_spec()


class UnitBase(Spec):
    """What every unit kind shares: cores, DVFS, power, memories, supported ops and dtypes,
    arithmetic, thermal model, layout. A kind's config subclasses it and adds
    ``kind: Literal["<name>"] = "<name>"`` and the micro-architectural fields its cost model
    reads (see :mod:`socsim.hw.kind`)."""

    kind: str
    description: str = Field("", description="Free text: what real part this models.")
    cores: Cores = Field(1, description="Cores / engines; each runs one op at a time.")
    dvfs: Dvfs
    power: Power
    memories: list[str] = Field(
        min_length=1, description="Memories this unit addresses directly, in order of "
        "preference for the tensors it produces. Sharing one with another unit makes zero-copy "
        "hand-offs possible.")
    weights_in: str = Field(description="Memory the unit streams its weights from (must be in "
                            "`memories`).")
    weights_cache: str | None = Field(
        None, description="An SRAM of `memories` that weights are paged into from `weights_in` "
        "on demand (a DMA page-in on a miss), kept there LRU across ops and inferences and "
        "evicted when the SRAM needs room; None: weights stream from `weights_in` every op.")
    weights_prefetch: Prefetch = Field(
        0, description="With a `weights_cache`: how many of the unit's next ops (graph "
        "order, same inference) get their weights paged in while the current op computes, as "
        "a compiler's double buffering does (1 = double buffering). A prefetch only uses room "
        "free or evictable now; it never waits. 0: page in on demand only.")
    ops: list[str] = Field(min_length=1, description="ONNX op types the unit executes.")
    dtypes: list[DType] = Field(min_length=1, description="Compute dtypes the unit supports.")
    launch_overhead_cycles: Cycles = Field(
        0, description="Fixed cycles per launch (dispatch, descriptor setup, kernel call). "
        "Every op is one launch, unless the plan groups consecutive ops of the unit into one "
        "(policy `subgraph`: a compiled subgraph pays it once).")
    limits: OpLimits | None = Field(
        None, description="Attribute limits of the unit's ops (kernel size, stride, dilation, "
        "groups); None: any attributes.")
    arithmetic: ArithmeticSpec = Field(default_factory=ArithmeticSpec)  # type: ignore[valid-type]
    thermal: Thermal | None = Field(None, description="RC thermal model; None: the unit "
                                    "stays at ambient temperature.")
    thermal_zone: str | None = Field(
        None, description="A name in the SoC's `thermal_zones`: the unit heats that shared RC "
        "node (a die region) with the units that name it, instead of one of its own.")
    layout: Literal["NCHW", "NHWC"] = Field(
        "NCHW", description="Layout of the 4-D activations the unit's kernels read and write. "
        "A unit reading a 4-D tensor another unit wrote in a different layout or channel "
        "alignment converts it first (docs/model.md, \"Layouts\").")
    channel_align: Align = Field(
        1, description="Channels of the 4-D activations it writes are padded to a multiple of "
        "this (e.g. 16 for a 16-lane channel-parallel datapath); the padding is stored and "
        "moved.")
    convert_bytes_per_cycle: Rate | None = Field(
        None, description="Bytes per cycle the unit rearranges when converting a tensor's "
        "layout or alignment (a strided load/store pass). Required only if a placement makes "
        "the unit convert.")

    @field_validator("memories", "ops")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        dup = sorted({v for v in value if value.count(v) > 1})
        if dup:
            raise ValueError(f"lists {dup} more than once")
        return value

    @model_validator(mode="after")
    def _weights_addressable(self) -> UnitBase:
        if self.weights_in not in self.memories:
            raise ValueError(f"weights_in={self.weights_in!r} is not one of this unit's "
                             f"memories {self.memories}")
        if self.weights_cache is not None and self.weights_cache not in self.memories:
            raise ValueError(f"weights_cache={self.weights_cache!r} is not one of this unit's "
                             f"memories {self.memories}")
        if self.weights_cache is not None and self.weights_cache == self.weights_in:
            raise ValueError("weights_cache is the same memory as weights_in: nothing to page; "
                             "drop weights_cache or name an SRAM")
        for table in ("energy_pj_per_mac", "energy_pj_per_op"):
            missing = [d for d in self.dtypes if d not in getattr(self.power, table)]
            if missing:
                raise ValueError(f"power.{table} has no entry for supported dtypes {missing}; "
                                 "add one per entry of `dtypes`")
        return self

    @property
    def engines(self) -> int:
        """Ops the unit runs at once (its cores; a kind whose ops span several cores says
        fewer)."""
        return self.cores

    def supports(self, op_type: str, dtype: str) -> bool:
        """Whether this unit executes ``op_type`` in ``dtype``."""
        return op_type in self.ops and dtype in self.dtypes


def check_families(value: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(value) - set(OP_FAMILIES) - {"default"})
    if unknown:
        raise ValueError(f"unknown op families {unknown}; valid: {['default', *OP_FAMILIES]}")
    if "default" not in value:
        raise ValueError("needs a 'default' entry for op families not listed")
    return value


#: Fraction of peak reached per op family (must have 'default').
Efficiency = dict[str, Fraction]
