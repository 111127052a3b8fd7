"""Cost and energy models of units, memories and DMA: pure functions of the device file."""

from socsim.hw import cpu, dsp, fpga, npu  # noqa: F401  (register the cost models)
from socsim.hw.base import Cycles, cost_model, op_cycles
from socsim.hw.timing import compute_ns, dynamic_pj, leakage_mw, transfer_ns

__all__ = ["Cycles", "compute_ns", "cost_model", "dynamic_pj", "leakage_mw", "op_cycles",
           "transfer_ns"]
