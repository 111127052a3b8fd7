"""The SimPy engine and the trace it records."""

from socsim.sim.engine import Simulation
from socsim.sim.memory import MemoryPool
from socsim.sim.program import Job
from socsim.sim.trace import (
    INFERENCE_COLUMNS,
    OP_COLUMNS,
    TRANSFER_COLUMNS,
    CounterRecord,
    EvictionRecord,
    InferenceRecord,
    OpRecord,
    ReconfigRecord,
    Trace,
    TransferRecord,
)

__all__ = ["INFERENCE_COLUMNS", "OP_COLUMNS", "TRANSFER_COLUMNS", "CounterRecord",
           "EvictionRecord", "InferenceRecord", "Job", "MemoryPool", "OpRecord",
           "ReconfigRecord", "Simulation", "Trace", "TransferRecord"]
