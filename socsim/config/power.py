"""DVFS operating points and power parameters of a unit."""

from __future__ import annotations

from pydantic import Field, model_validator

from socsim.config._base import (
    DeltaC,
    DoublingC,
    DType,
    Energy,
    Freq,
    PowerMw,
    Spec,
    Temp,
    ThermalC,
    ThermalR,
    TimeUs,
    Volt,
)


class OperatingPoint(Spec):
    """One DVFS operating point of a clock domain."""

    freq_mhz: Freq = Field(description="Clock frequency at this point, MHz.")
    voltage_v: Volt = Field(description="Supply voltage at this point, volts.")


class Dvfs(Spec):
    """The operating points of a unit and the one it starts at.

    Dynamic energy scales with (V / V_nominal)^2, where V_nominal is the voltage of the
    ``nominal_mhz`` point: the point the per-MAC energies in :class:`Power` were quoted at.
    """

    points: list[OperatingPoint] = Field(min_length=1, description="Available (f, V) points.")
    nominal_mhz: Freq = Field(description="Point at which the Power energies hold.")
    default_mhz: Freq | None = Field(
        None, description="Point the unit runs at unless the scenario picks another "
        "(run.operating_points); defaults to nominal_mhz.")
    transition_us: TimeUs = Field(
        0.0, description="Time a change of operating point takes (PLL relock, regulator "
        "ramp), µs; ops starting meanwhile run at the old point.")

    @model_validator(mode="after")
    def _points_known(self) -> Dvfs:
        freqs = [p.freq_mhz for p in self.points]
        if len(set(freqs)) != len(freqs):
            raise ValueError(f"duplicate freq_mhz among points {freqs}")
        for field in ("nominal_mhz", "default_mhz"):
            value = getattr(self, field)
            if value is not None and value not in freqs:
                raise ValueError(f"{field}={value:g} is not one of the points {freqs}")
        return self

    def point(self, freq_mhz: float) -> OperatingPoint:
        """The operating point at ``freq_mhz``.

        Raises:
            KeyError: if no point has that frequency.
        """
        for p in self.points:
            if p.freq_mhz == freq_mhz:
                return p
        raise KeyError(freq_mhz)

    @property
    def nominal(self) -> OperatingPoint:
        return self.point(self.nominal_mhz)

    @property
    def default(self) -> OperatingPoint:
        return self.point(self.default_mhz if self.default_mhz is not None else self.nominal_mhz)


class Power(Spec):
    """Energy parameters of a unit at its nominal operating point."""

    energy_pj_per_mac: dict[DType, Energy] = Field(
        description="Dynamic energy of one multiply-accumulate per operand dtype, pJ.")
    energy_pj_per_op: dict[DType, Energy] = Field(
        description="Dynamic energy of one elementwise / pooling / activation operation per "
        "dtype, pJ.")
    leakage_mw: PowerMw = Field(
        description="Static (leakage) power while powered, at nominal voltage and "
        "leakage_ref_c, mW. Scales linearly with V/V_nominal.")
    leakage_doubling_c: DoublingC | None = Field(
        None, description="Leakage doubles every this many °C above leakage_ref_c "
        "(subthreshold leakage grows exponentially with temperature); None: no dependence.")
    leakage_ref_c: Temp = Field(25.0, description="Temperature at which leakage_mw holds, °C.")


class Thermal(Spec):
    """A first-order RC thermal model of a unit's die region.

    dT/dt = (P - (T - T_ambient) / R) / C, with P the unit's power (dynamic + static); at
    steady state T = T_ambient + P * R.
    """

    r_k_per_w: ThermalR = Field(description="Thermal resistance to ambient, K/W.")
    c_j_per_k: ThermalC = Field(description="Thermal capacitance, J/K.")
    trip_c: Temp | None = Field(None, description="Trip point: the `thermal` governor steps "
                                 "the frequency down while the unit is hotter, °C.")
    hysteresis_c: DeltaC = Field(5.0, description="The `thermal` governor steps back "
                                           "up once the unit is this far below trip_c, °C.")
