"""``socsim.execute``: run an ONNX model on socsim's own bit-accurate kernels.

Example:
    >>> from socsim.execute import execute
    >>> outputs = execute("workloads/resnet8_int8.onnx", {"input": x})
"""

from __future__ import annotations

import inspect
import os
import sys
import types
from collections.abc import Mapping

import numpy as np
import onnx

from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.interpreter import (
    ArithmeticSpec,
    CompiledModel,
    ExecutionResult,
    OpStats,
    QdqMode,
)
from socsim.kernels.interpreter import compile_model as _compile_onnx

__all__ = ["Arithmetic", "CompiledModel", "ExecutionResult", "OpStats", "compile_model",
           "execute", "run_model"]


def compile_model(model: str | os.PathLike | onnx.ModelProto, *, qdq: QdqMode = "integer",
                  arithmetic: ArithmeticSpec = None, rules: str | None = None):
    """Compiles ``model`` once for many ``run`` calls: an ONNX model
    (:class:`CompiledModel`; ``rules``: the QDQ fusion rules of ``qdq="integer"``, None for
    the host's onnxruntime), or a ``.tflite`` file, which always runs with TFLite's integer
    semantics (:class:`socsim.kernels.tflite.CompiledTflite`; ``qdq`` and ``rules`` do not
    apply)."""
    if isinstance(model, (str, os.PathLike)) and str(model).lower().endswith(".tflite"):
        from socsim.kernels.tflite import compile_tflite

        return compile_tflite(model, arithmetic=arithmetic)
    return _compile_onnx(model, qdq=qdq, arithmetic=arithmetic, rules=rules)


def run_model(model: str | os.PathLike | onnx.ModelProto, inputs: Mapping[str, np.ndarray], *,
              qdq: QdqMode = "integer", arithmetic: ArithmeticSpec = None) -> ExecutionResult:
    """Runs one inference and returns the outputs with per-node integer event counts.

    Args:
        model: a path or a ModelProto (float, QDQ or QOperator form).
        inputs: graph inputs by name.
        qdq: ``"integer"`` (default) runs DequantizeLinear -> op -> QuantizeLinear groups as
            integer ops (int32 accumulation, requantization), bit-exact to onnxruntime's fused
            kernels; ``"reference"`` dequantizes, runs the float op and quantizes, as the ONNX
            specification evaluates the graph; ``"tflite"`` lowers them by TFLite's rules and runs
            them with TFLite's integer kernels (:mod:`socsim.kernels.tflite`), bit-exact to
            TFLite's reference kernels on a converter's model. A ``.tflite`` file always runs
            with TFLite's semantics.
        arithmetic: None (int32 accumulator, ``onnx_rne``), one :class:`Arithmetic` for all
            nodes, or a mapping from node name (a QDQ group's compute node) to the arithmetic
            of the unit that runs it.

    Raises:
        ModelError: if the model cannot be read or an input is missing.
        UnsupportedOpError: if the model uses an op socsim has no kernel for.
    """
    return compile_model(model, qdq=qdq, arithmetic=arithmetic).run(inputs)


def execute(model: str | os.PathLike | onnx.ModelProto, inputs: Mapping[str, np.ndarray], *,
            qdq: QdqMode = "integer", arithmetic: ArithmeticSpec = None
            ) -> dict[str, np.ndarray]:
    """Runs ``model`` on ``inputs`` with socsim's kernels and returns its outputs by name.

    See :func:`run_model` for the arguments.

    Raises:
        ModelError: if the model cannot be read or an input is missing.
        UnsupportedOpError: if the model uses an op socsim has no kernel for.
    """
    return run_model(model, inputs, qdq=qdq, arithmetic=arithmetic).outputs


class _CallableModule(types.ModuleType):
    """``socsim.execute`` is both this module (``import socsim.execute as sx; sx.run_model``)
    and the function (``socsim.execute(model, inputs)``): a package attribute can only be one
    object, and binding the function there would hide the module from ``import ... as``. The
    module makes itself callable, so this holds however it is first imported."""

    def __call__(self, *args, **kwargs):
        return self.execute(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
__signature__ = inspect.signature(execute)
