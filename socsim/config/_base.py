"""Shared pydantic base, strict number types with plausible ranges, and small value types.

Every number in a device or scenario file is strict (a boolean or a string is not a number),
finite, and inside a range wide enough for any real chip; the reason for each bound is written
into the field's description (:class:`Spec` appends it) and into the error a user sees.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

#: Data types a unit can compute in, by the ONNX element type names socsim uses everywhere.
DType = Literal["int4", "uint4", "int8", "uint8", "int16", "uint16", "int32", "float16", "float32"]

#: Bits per element of each :data:`DType`.
DTYPE_BITS: dict[str, int] = {
    "int4": 4, "uint4": 4, "int8": 8, "uint8": 8, "int16": 16, "uint16": 16,
    "int32": 32, "float16": 16, "float32": 32,
}


@dataclass(frozen=True)
class Range:
    """A plausible range for one kind of quantity, and why its bounds are where they are.

    Attributes:
        lo: lowest valid value.
        hi: highest valid value.
        unit: unit shown in messages ("" for a count).
        why: the reason for the bounds, quoted in the field description and in errors.
        lo_open: ``lo`` itself is invalid (e.g. a bandwidth of exactly 0).
    """

    lo: float
    hi: float
    unit: str
    why: str
    lo_open: bool = False

    def text(self) -> str:
        """The range as ``lo < x ≤ hi unit``."""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.lo:g} {'<' if self.lo_open else '≤'} x ≤ {self.hi:g}{unit}"

    def __call__(self, value: float) -> float:
        low = value <= self.lo if self.lo_open else value < self.lo
        if low or value > self.hi:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            raise ValueError(f"{shown} is outside the plausible range {self.text()} "
                             f"({self.why})")
        return value


def real_in(r: Range) -> Any:
    """A strict, finite float type bounded by ``r``."""
    return Annotated[float, Strict(), Field(allow_inf_nan=False), AfterValidator(r), r]


def count_in(r: Range) -> Any:
    """A strict int type (booleans and floats rejected) bounded by ``r``."""
    return Annotated[int, Strict(), AfterValidator(r), r]


# The ranges. Each bound leaves an order of magnitude or more around the real parts it cites.
FREQ = Range(1e-3, 1e5, "MHz", "1 kHz is below the slowest MCU clock (a 32.768 kHz RTC); "
             "100 GHz is beyond any CMOS logic")
VOLT = Range(0.05, 5.0, "V", "near-threshold logic runs at 0.3 V, core rails stay below 1.5 V "
             "and 5 V is the highest digital supply in use")
BANDWIDTH = Range(1e-6, 1e5, "GB/s", "1 kB/s is below an I2C EEPROM; 100 TB/s is beyond any "
                  "memory (an HBM3E stack gives 1.2 TB/s)")
SIZE = Range(2 ** -10, 2 ** 32, "KiB", "from one byte to 4 TiB, beyond any edge memory")
ENERGY = Range(0.0, 1e6, "pJ", "a MAC costs 0.01-10 pJ and a DRAM byte 20-100 pJ; 1 µJ per "
               "operation or byte is beyond any circuit")
POWER = Range(0.0, 1e6, "mW", "1 kW is beyond any edge SoC")
TIME_NS = Range(0.0, 1e9, "ns", "up to one second of fixed cost per event")
TIME_US = Range(0.0, 1e6, "µs", "up to one second (PLL relock and regulator ramps take µs to ms)")
CYCLES = Range(0.0, 1e9, "cycles", "up to a second at 1 GHz of fixed cost per op")
RATE = Range(0.0, 1e6, "per cycle", "a million per cycle is beyond any datapath (a 256 x 256 "
             "systolic array retires 65,536 MACs per cycle)", lo_open=True)
TEMP = Range(-100.0, 300.0, "°C", "military-grade parts run from -55 °C and silicon fails far "
             "below 300 °C")
THERMAL_R = Range(0.0, 1e4, "K/W", "packages are 0.1-100 K/W", lo_open=True)
THERMAL_C = Range(0.0, 1e6, "J/K", "a die region is mJ/K to J/K, a heat sink hundreds of J/K",
                  lo_open=True)
DELTA_C = Range(0.0, 300.0, "°C", "a temperature difference within the range of TEMP")
DOUBLING_C = Range(0.0, 1000.0, "°C", "leakage doubles every 10-30 °C in CMOS", lo_open=True)
FRACTION = Range(0.0, 1.0, "", "a fraction")
CORES = Range(1, 1024, "", "the largest edge parts have tens of cores and the simulator keeps "
              "state per core")
CHANNELS = Range(1, 1024, "", "DMA engines have 1-64 channels")
ARRAY_DIM = Range(1, 65536, "", "TPU v1's systolic array is 256 x 256")
VECTOR_BITS = Range(1, 65536, "bits", "SVE's widest vector is 2048 bits")
ALIGN = Range(1, 1024, "channels", "datapaths pad channels to 4-64")
PREFETCH = Range(0, 1024, "ops", "compilers double- or triple-buffer")
BYTES = Range(1, 2 ** 40, "bytes", "up to 1 TiB")
FPGA_COUNT = Range(0, 1e8, "", "the largest FPGA (AMD VP1902) has 18.5 million logic cells "
                   "and 6,864 DSP slices")
FPGA_CYCLES = Range(1, 1e6, "", "pipelines initiate every 1-100 cycles and start at most a few "
                    "thousand MACs")
FPGA_BW = Range(0.0, 1e6, "MB/s", "configuration ports run at 100-3,200 MB/s", lo_open=True)


PositiveFloat = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
FiniteFloat = Annotated[float, Strict(), Field(allow_inf_nan=False)]

Freq = real_in(FREQ)
Volt = real_in(VOLT)
Bandwidth = real_in(BANDWIDTH)
Size = real_in(SIZE)
Energy = real_in(ENERGY)
PowerMw = real_in(POWER)
TimeNs = real_in(TIME_NS)
TimeUs = real_in(TIME_US)
Cycles = real_in(CYCLES)
Rate = real_in(RATE)
Temp = real_in(TEMP)
ThermalR = real_in(THERMAL_R)
ThermalC = real_in(THERMAL_C)
DeltaC = real_in(DELTA_C)
DoublingC = real_in(DOUBLING_C)
Fraction = real_in(FRACTION)
Cores = count_in(CORES)
Channels = count_in(CHANNELS)
ArrayDim = count_in(ARRAY_DIM)
VectorBits = count_in(VECTOR_BITS)
Align = count_in(ALIGN)
Prefetch = count_in(PREFETCH)
Bytes = count_in(BYTES)
FpgaCount = count_in(FPGA_COUNT)
FpgaReal = real_in(FPGA_COUNT)
FpgaCycles = count_in(FPGA_CYCLES)
FpgaDepth = real_in(Range(0, 1e6, "cycles", "pipelines fill in tens to thousands of cycles"))
FpgaBw = real_in(FPGA_BW)
AccumulatorBits = count_in(Range(8, 32, "bits", "integer datapaths accumulate in 8 to 32 bits"))


def range_of(field: Any) -> Range | None:
    """The :class:`Range` of a field (also inside ``X | None``, a list or a dict), or None."""
    for meta in getattr(field, "metadata", ()):
        if isinstance(meta, Range):
            return meta
    stack = [getattr(field, "annotation", None)]
    while stack:
        tp = stack.pop()
        if typing.get_origin(tp) is Annotated:
            found = [m for m in typing.get_args(tp)[1:] if isinstance(m, Range)]
            if found:
                return found[0]
        stack.extend(typing.get_args(tp))
    return None


class Spec(BaseModel):
    """Base of every config model: frozen, unknown fields are errors, numbers strict.

    Each field whose type carries a :class:`Range` gets the range and its reason appended to its
    description, so the schema and the docs say why a bound is where it is.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for field in cls.model_fields.values():
            r = range_of(field)
            if r is not None and (field.description is None or "Range:" not in field.description):
                field.description = (f"{field.description or ''} Range: {r.text()} "
                                     f"({r.why}).").strip()


def bits_of(dtype: str) -> int:
    """Bits per element of ``dtype`` (one of :data:`DType`)."""
    return DTYPE_BITS[dtype]
