"""A battery and a power budget for a scenario (``run.battery``, ``run.power_budget_mw``).

The discharge model that uses these fields is :mod:`socsim.hw.battery`; docs/battery.md
states its formulas.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from socsim.config._base import FRACTION, Range, Spec, real_in

CapacityMah = real_in(Range(0.0, 1e6, "mAh", "coin cells hold ~40 mAh, a laptop pack ~10 Ah; "
                            "1000 Ah is beyond any edge device", lo_open=True))
CellVolt = real_in(Range(0.5, 60.0, "V", "one NiMH cell is 1.2 V, a 12-cell Li-ion pack "
                         "~50 V"))
ResistanceOhm = real_in(Range(0.0, 100.0, "Ω", "cells are 10-300 mΩ; 100 Ω is a dead coin "
                              "cell"))
Efficiency = real_in(Range(0.0, 1.0, "", "a converter delivers at most what it draws",
                           lo_open=True))
SocFraction = real_in(FRACTION)
BudgetMw = real_in(Range(0.0, 1e6, "mW", "1 kW is beyond any edge SoC", lo_open=True))


class OcvPoint(Spec):
    """One point of the open-circuit-voltage curve."""

    soc: SocFraction = Field(description="State of charge, 0 (empty) to 1 (full).")
    voltage_v: CellVolt = Field(description="Open-circuit voltage of the battery there, V.")


class BatterySpec(Spec):
    """A battery: capacity, open-circuit voltage against state of charge, internal
    resistance and the cutoff voltage at which the device stops.

    Terminal voltage = OCV(soc) - I x R; the device draws its power P through a converter of
    efficiency ``converter_efficiency``, so the battery delivers P / efficiency = V_term x I.
    """

    capacity_mah: CapacityMah = Field(description="Rated capacity, mAh (the datasheet's).")
    nominal_v: CellVolt = Field(description="Nominal voltage, V (reported; the model uses "
                                "the OCV curve).")
    ocv_curve: list[OcvPoint] = Field(min_length=2, description="Open-circuit voltage by "
                                      "state of charge, ascending in soc; linear between "
                                      "points.")
    internal_resistance_ohm: ResistanceOhm = Field(description="Series resistance, Ω (the "
                                                   "datasheet's DC or 1 kHz AC impedance).")
    cutoff_v: CellVolt = Field(description="Terminal voltage at which the device stops, V.")
    initial_soc: SocFraction = Field(1.0, description="State of charge at time 0.")
    converter_efficiency: Efficiency = Field(1.0, description="Fraction of the battery's "
                                             "power that reaches the SoC (DC-DC converter).")

    @model_validator(mode="after")
    def _curve(self) -> BatterySpec:
        socs = [p.soc for p in self.ocv_curve]
        if any(b <= a for a, b in zip(socs, socs[1:])):
            raise ValueError(f"ocv_curve soc values must strictly increase; got {socs}")
        volts = [p.voltage_v for p in self.ocv_curve]
        if any(b < a for a, b in zip(volts, volts[1:])):
            raise ValueError(f"ocv_curve voltages must not fall as soc rises; got {volts}")
        if self.cutoff_v >= max(volts):
            raise ValueError(f"cutoff_v={self.cutoff_v:g} V is at or above the full-charge "
                             f"voltage {max(volts):g} V: the battery could deliver nothing")
        return self
