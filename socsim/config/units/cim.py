"""A compute-in-memory unit (kind ``cim``): weights in crossbars, inputs bit-serial through DACs,
column partial sums through ADCs (docs/devices.md, "Compute-in-memory unit")."""

from __future__ import annotations

from math import ceil
from typing import Literal

from pydantic import Field, model_validator

from socsim.config._base import (
    ArrayDim,
    Cycles,
    Energy,
    Range,
    Rate,
    bits_of,
    count_in,
    real_in,
)
from socsim.config.units.base import UnitBase

__all__ = ["Cim"]

ConverterBits = count_in(Range(1, 16, "bits", "published CiM macros use 1-8 bit DACs and "
                                              "3-8 bit ADCs"))
AdcBits = count_in(Range(1, 24, "bits", "CiM ADCs have 1-10 bits; 24 covers the full scale "
                                        "of any crossbar exactly"))
CellBits = count_in(Range(1, 8, "bits", "SRAM cells hold 1 bit, multi-level RRAM/PCM 2-4"))
Endurance = real_in(Range(1.0, 1e20, "writes", "RRAM endures 1e6-1e12 writes, SRAM is unlimited"))


class Cim(UnitBase):
    """Crossbars of ``crossbar_rows`` x ``crossbar_cols`` weight cells (kind ``cim``).

    An op's weights are bit-sliced over ``ceil(weight bits / bits_per_cell)`` cells; inputs
    enter ``dac_bits`` at a time; each column's partial sum over at most ``crossbar_rows`` rows
    is converted by one of the crossbar's ``adcs_per_crossbar`` ADCs at ``adc_bits``. The
    cost model is :mod:`socsim.hw.cim` (mapping formulas :mod:`socsim.hw.cim_mapping`); the
    functional path quantizes partial sums as :mod:`socsim.kernels.cim` does.

    ``power.energy_pj_per_mac`` must hold, per supported dtype of ``b`` bits, the energy of one
    full-precision MAC on a full crossbar,
    ``I * J * (mac_pj_per_slice + adc_pj_per_conversion / crossbar_rows)`` with
    ``I = ceil(b / dac_bits)`` and ``J = ceil(b / bits_per_cell)`` (checked within 1 %): the
    one figure a reader compares with other units. The simulator charges the mapped counts.
    """

    kind: Literal["cim"] = "cim"
    crossbar_rows: ArrayDim = Field(description="Rows (word lines) per crossbar: products "
                                    "added in one analog partial sum.")
    crossbar_cols: ArrayDim = Field(description="Columns per crossbar, one weight cell "
                                    "(bit slice) each.")
    crossbars: ArrayDim = Field(description="Crossbars (macros) of the unit; a layer needing "
                                "more is run in rounds, reprogramming them.")
    bits_per_cell: CellBits = Field(description="Weight bits one cell holds (bit slicing).")
    dac_bits: ConverterBits = Field(description="Input bits applied per input cycle "
                                    "(bit-serial inputs: a b-bit input takes ceil(b / "
                                    "dac_bits) cycles).")
    adc_bits: AdcBits = Field(description="Resolution of the column ADCs: the uniform "
                              "quantizer of each partial sum over its full scale.")
    adcs_per_crossbar: ArrayDim = Field(description="ADCs per crossbar; columns share them "
                                        "through a multiplexer (crossbar_cols / ADCs "
                                        "conversions in sequence per input cycle).")
    program_cycles_per_row: Cycles = Field(description="Cycles to write one row of a "
                                           "crossbar's weights.")
    mac_pj_per_slice: Energy = Field(description="Analog energy of one product of an input "
                                     "slice and a weight cell, pJ (at the nominal point).")
    adc_pj_per_conversion: Energy = Field(description="Energy of one ADC conversion with its "
                                          "share of the periphery (drivers, DACs, shift-add), "
                                          "pJ.")
    program_pj_per_cell: Energy = Field(description="Energy of writing one weight cell, pJ.")
    endurance_writes: Endurance | None = Field(
        None, description="Writes a cell endures; None: unlimited (SRAM).")
    elementwise_ops_per_cycle: Rate = Field(description="Digital periphery throughput for "
                                            "elementwise work (bias, activation), ops/cycle.")

    @model_validator(mode="after")
    def _consistent(self) -> Cim:
        if self.adcs_per_crossbar > self.crossbar_cols:
            raise ValueError(f"adcs_per_crossbar={self.adcs_per_crossbar} exceeds "
                             f"crossbar_cols={self.crossbar_cols}; at most one ADC per column")
        for dtype in self.dtypes:
            want = self.full_crossbar_mac_pj(bits_of(dtype))
            have = self.power.energy_pj_per_mac.get(dtype)
            if have is not None and abs(have - want) > 0.01 * want:
                raise ValueError(
                    f"power.energy_pj_per_mac.{dtype}={have:g} disagrees with the crossbar "
                    f"figures: I * J * (mac_pj_per_slice + adc_pj_per_conversion / "
                    f"crossbar_rows) = {want:.6g}; set it to that")
        return self

    def full_crossbar_mac_pj(self, bits: int) -> float:
        """Energy of one ``bits``-bit MAC on a full crossbar, pJ (class docstring)."""
        i = ceil(bits / self.dac_bits)
        j = ceil(bits / self.bits_per_cell)
        return i * j * (self.mac_pj_per_slice + self.adc_pj_per_conversion / self.crossbar_rows)
