"""Pydantic models of devices and scenarios, and the one YAML loader for both."""

from socsim.config._base import DTYPE_BITS, DType, bits_of
from socsim.config.dma import DmaEngine
from socsim.config.loading import load_any, load_scenario, load_soc
from socsim.config.memory import Dram, Memory, Sram
from socsim.config.power import Dvfs, OperatingPoint, Power
from socsim.config.scenario import PolicySpec, RunSettings, Scenario, Workload
from socsim.config.soc import SoC
from socsim.config.units import OP_FAMILIES, Arithmetic, Cpu, Dsp, Fpga, Npu, Unit

__all__ = [
    "DTYPE_BITS", "OP_FAMILIES", "Arithmetic", "Cpu", "DType", "DmaEngine", "Dram", "Dsp", "Dvfs",
    "Fpga", "Memory", "Npu", "OperatingPoint", "PolicySpec", "Power", "RunSettings", "Scenario",
    "SoC", "Sram", "Unit", "Workload", "bits_of", "load_any", "load_scenario", "load_soc",
]
