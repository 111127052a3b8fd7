"""Compiles a ``.tflite`` model once into kernel steps with TFLite's integer semantics, then runs
inferences on numpy inputs: the ``.tflite`` counterpart of :class:`socsim.kernels.interpreter.
CompiledModel`, with the same :meth:`run` result.

Each operator's kernel is built once (options, multipliers, tables); an op is named after its
first output tensor, as in the graph IR (:mod:`socsim.graph.tflite_graph`), so that a
per-node arithmetic map from a placement applies. A unit's ``requant`` selects TFLite's
rounding build (``tflite_single``: ``TFLITE_SINGLE_ROUNDING``; anything else: the default
double rounding); its ``accumulator_bits`` saturates the convolution sums.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from socsim.errors import ModelError, UnsupportedOpError
from socsim.graph.tflite_read import TflModel, read_tflite, tensor_names
from socsim.kernels.arithmetic import DEFAULT, Arithmetic
from socsim.kernels.interpreter import ExecutionResult, OpStats
from socsim.kernels.tflite.base import TflKernel, builder


def op_names(model: TflModel) -> list[str]:
    """The names socsim gives the operators: their first output tensor's (unique) name."""
    names = tensor_names(model)
    return [names[op.outputs[0]] for op in model.ops]


@dataclass(frozen=True)
class _Step:
    name: str
    opcode: str
    kernel: TflKernel
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


class CompiledTflite:
    """A .tflite model compiled to TFLite-semantics kernel steps."""

    def __init__(self, model: str | os.PathLike | TflModel, *,
                 arithmetic: Arithmetic | Mapping[str, Arithmetic] | str | None = None) -> None:
        """Compiles ``model``.

        Args:
            model: a .tflite path or a read :class:`TflModel`.
            arithmetic: None, one :class:`Arithmetic`, or a mapping from op name (its first
                output tensor) to the arithmetic of the unit running it; ``"onnxruntime"`` is
                taken as the default (TFLite's arithmetic does not depend on the host).

        Raises:
            ModelError: the file cannot be read.
            UnsupportedOpError: an operator socsim has no TFLite kernel for.
        """
        self.model = model if isinstance(model, TflModel) else read_tflite(model)
        m = self.model
        names = tensor_names(m)
        self.input_names = [names[i] for i in m.inputs]
        self.output_names = [names[i] for i in m.outputs]
        self.constants = {t.index: t.data for t in m.tensors if t.data is not None}
        steps = []
        for op, name in zip(m.ops, op_names(m)):
            if isinstance(arithmetic, Arithmetic):
                arith = arithmetic
            elif isinstance(arithmetic, Mapping):
                arith = arithmetic.get(name, DEFAULT)
            else:
                arith = DEFAULT
            where = f"{m.path}: operator {op.index} ({name!r}): "
            _check_integer(op, m, where)
            make = builder(op.opcode, where)
            steps.append(_Step(name, op.opcode, make(op, m.tensors, arith), op.inputs,
                               op.outputs))
        self.steps = tuple(steps)

    def _feeds(self, inputs: Mapping[str, np.ndarray]) -> dict[int, np.ndarray]:
        env: dict[int, np.ndarray] = {}
        for idx, name in zip(self.model.inputs, self.input_names):
            if name not in inputs:
                raise ModelError(f"missing input {name!r}; the model's inputs are "
                                 f"{', '.join(self.input_names)}")
            t = self.model.tensors[idx]
            arr = np.asarray(inputs[name])
            if arr.shape != t.shape and len(t.shape) == 4:
                nchw = (t.shape[0], t.shape[3], t.shape[1], t.shape[2])
                if arr.shape == nchw:  # the graph IR's (N, C, H, W) view of the input
                    arr = arr.transpose(0, 2, 3, 1)
            if arr.shape != t.shape:
                raise ModelError(f"input {name!r} has shape {arr.shape}; the model expects "
                                 f"{t.shape} (N, H, W, C)")
            env[idx] = arr.astype(t.dtype, copy=False)
        return env

    def run_all(self, inputs: Mapping[str, np.ndarray]) -> dict[int, np.ndarray]:
        """Runs one inference and returns every tensor it computed, by tensor index."""
        env = self._feeds(inputs)
        for step in self.steps:
            outs = self._call(step, env)
            for idx, val in zip(step.outputs, outs):
                env[idx] = val
        return env

    def _call(self, step: _Step, env: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        args = [env[i] if i in env else self.constants.get(i) for i in step.inputs if i >= 0]
        try:
            return step.kernel(*args[:step.kernel.arity])
        except (ValueError, IndexError, TypeError, KeyError) as e:
            raise ModelError(f"TFLite operator {step.name!r} ({step.opcode}) failed: "
                             f"{e}") from e

    def run(self, inputs: Mapping[str, np.ndarray]) -> ExecutionResult:
        """Runs one inference; outputs by name and each op's integer events."""
        env = self._feeds(inputs)
        stats: dict[str, OpStats] = {}
        for step in self.steps:
            step.kernel.events = {}
            for idx, val in zip(step.outputs, self._call(step, env)):
                env[idx] = val
            stats[step.name] = OpStats(step.opcode, **step.kernel.events)
        outputs = {name: np.ascontiguousarray(env[idx])
                   for idx, name in zip(self.model.outputs, self.output_names)}
        return ExecutionResult(outputs, stats)


def _check_integer(op, model: TflModel, where: str) -> None:
    """socsim executes full-integer models: every activation an op reads or writes is
    quantized (a QUANTIZE reads float, a DEQUANTIZE writes it).

    Raises:
        UnsupportedOpError: naming the op and the unquantized tensor.
    """
    ts = model.tensors
    reads = [] if op.opcode == "QUANTIZE" else [i for i in op.inputs if i >= 0
                                                and not ts[i].const]
    writes = [] if op.opcode == "DEQUANTIZE" else list(op.outputs)
    for i in (*reads, *writes):
        if not ts[i].quantized:
            raise UnsupportedOpError(
                f"{where}{op.opcode} on the {ts[i].dtype} tensor {ts[i].name!r}: socsim runs "
                "TFLite models with full-integer quantization (int8 activations) only",
                hint="convert with a representative dataset and TFLITE_BUILTINS_INT8, or run "
                     "the model timing-only (run.functional: false)")


def compile_tflite(model: str | os.PathLike | TflModel, *,
                   arithmetic: Arithmetic | Mapping[str, Arithmetic] | str | None = None
                   ) -> CompiledTflite:
    """Compiles a .tflite model (see :class:`CompiledTflite`)."""
    return CompiledTflite(model, arithmetic=arithmetic)
