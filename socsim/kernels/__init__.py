"""Bit-accurate numpy kernels for quantized (and float) ONNX graphs.

One module per operator family registers its kernels by ``(domain, op_type)``; the interpreter
compiles a model into steps once and runs them; :mod:`socsim.kernels.qdq` lowers QDQ groups to
integer operators; :mod:`socsim.kernels.requant` holds the three requantization modes.
"""

from __future__ import annotations

from socsim.kernels.arithmetic import REQUANT_MODES, Arithmetic, RequantMode
from socsim.kernels.interpreter import CompiledModel, ExecutionResult, OpStats, compile_model
from socsim.kernels.registry import KernelContext, lookup, register, supported

__all__ = [
    "REQUANT_MODES",
    "Arithmetic",
    "CompiledModel",
    "ExecutionResult",
    "KernelContext",
    "OpStats",
    "RequantMode",
    "compile_model",
    "lookup",
    "register",
    "supported",
]
