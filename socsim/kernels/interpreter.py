"""Compiles an ONNX model once into a list of steps, then runs them on numpy inputs.

Compilation loads the model, decodes every attribute, folds Constant nodes, optionally lowers
QDQ groups to integer operators (:mod:`socsim.kernels.qdq`), binds each node to its kernel and
its unit's :class:`Arithmetic`, evaluates the nodes whose inputs are all constants (weight
DequantizeLinear, mostly) once, and works out when each intermediate tensor can be freed.
Running is a loop over the steps; nothing is looked up or decoded per inference.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from onnx import helper, numpy_helper

from socsim.errors import ModelError, UnsupportedOpError
from socsim.kernels.arithmetic import DEFAULT, Arithmetic
from socsim.kernels.host import onnxruntime_arithmetic
from socsim.kernels.qdq import QDQ_RULES, Rules, lower_qdq
from socsim.kernels.registry import MS_DOMAIN, Kernel, KernelContext, lookup

QdqMode = Literal["integer", "reference", "tflite"]
_NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike",
                               "RandomUniformLike", "Bernoulli", "Multinomial"})
ArithmeticSpec = Arithmetic | Mapping[str, Arithmetic] | Literal["onnxruntime"] | None


@dataclass(frozen=True)
class OpStats:
    """Integer events of one node during one inference.

    Attributes:
        op_type: the op that ran (after QDQ lowering, e.g. ``QLinearConv`` for a QDQ Conv).
        accumulator_saturations: outputs whose exact sum did not fit the accumulator width.
        output_saturations: outputs clamped to the range of their integer type because the
            value lay beyond the real range the tensor represents. Clamps at the bound the
            output zero point sits on (a range that starts at real 0, e.g. int8 zero point
            -128 after a fused ReLU) are the ReLU's floor and are not counted.
        requant_overflows: int32 overflows inside a fixed-point requantization (TFLite modes).
        pair_saturations: pairs of 8-bit products whose int16 sum saturated on a
            ``u8s8_pairs_int16`` target (x86 VPMADDUBSW; :mod:`socsim.kernels._pairs`).
    """

    op_type: str
    accumulator_saturations: int = 0
    output_saturations: int = 0
    requant_overflows: int = 0
    pair_saturations: int = 0


@dataclass(frozen=True)
class ExecutionResult:
    """Outputs of one inference and the integer events of each node.

    Attributes:
        outputs: graph outputs by name.
        stats: per node name, the :class:`OpStats` of that inference.
    """

    outputs: dict[str, np.ndarray]
    stats: dict[str, OpStats]


@dataclass(frozen=True)
class _Step:
    kernel: Kernel
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    ctx: KernelContext
    free: tuple[str, ...]
    quiet: OpStats
    """The statistics of a run without events (shared, as OpStats is frozen)."""
    args: tuple[tuple[bool, Any], ...] = ()
    """Per input, ``(True, name)`` for a tensor of the run, ``(False, value)`` for a constant
    (or None for an omitted input), bound once so that a run looks up only what it computes."""


def _decode(attr: onnx.AttributeProto) -> Any:
    v = helper.get_attribute_value(attr)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [s.decode() for s in v]
    return v


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    a = node.attribute[0]
    v = _decode(a)
    if a.name == "value":
        return v
    if a.name in ("value_float", "value_floats"):
        return np.asarray(v, dtype=np.float32)
    if a.name in ("value_int", "value_ints"):
        return np.asarray(v, dtype=np.int64)
    raise UnsupportedOpError(f"Constant node {node.name!r} with attribute {a.name!r} is not "
                             "supported; supported: value, value_float(s), value_int(s)")


def load(model: str | os.PathLike | onnx.ModelProto) -> onnx.ModelProto:
    """The ModelProto of a path or a ModelProto.

    Raises:
        ModelError: if the file cannot be read as ONNX.
    """
    if isinstance(model, onnx.ModelProto):
        return model
    try:
        return onnx.load(str(Path(model)))
    except (OSError, onnx.onnx_cpp2py_export.checker.ValidationError, Exception) as e:
        raise ModelError(f"cannot load ONNX model {str(model)!r}: {e}") from e


class CompiledModel:
    """A model compiled to steps; :meth:`run` executes one inference.

    Not thread-safe: a step's event counters are shared between runs of one instance.
    """

    def __init__(self, model: str | os.PathLike | onnx.ModelProto, *, qdq: QdqMode = "integer",
                 arithmetic: ArithmeticSpec = None, rules: Rules | None = None) -> None:
        """Compiles ``model``.

        Args:
            model: a path or a ModelProto (float, QDQ or QOperator form).
            qdq: ``"integer"`` lowers QDQ groups to integer operators; ``"reference"`` runs
                DequantizeLinear -> float op -> QuantizeLinear as written; ``"tflite"`` lowers
                them by TFLite's rules and binds TFLite's integer kernels
                (:mod:`socsim.kernels.tflite.onnx_ops`).
            arithmetic: one :class:`Arithmetic` for every node, or a mapping from node name
                (for a QDQ group, its compute node) to the arithmetic of the unit it runs on;
                unlisted nodes (and None) use int32 accumulation and ``onnx_rne``;
                ``"onnxruntime"``: the arithmetic of the installed onnxruntime on this host
                (:func:`socsim.kernels.host.onnxruntime_arithmetic`).
            rules: the QDQ fusion rules of ``qdq="integer"`` (:mod:`socsim.graph.qdq_groups`;
                None: ``onnxruntime_x86``, the installed onnxruntime on this host). A run's
                functional path passes its timing graph's rules (``onnxruntime``: what the
                target unit executes), so it computes the ops the simulator times.

        Raises:
            ModelError: if the model cannot be read or uses subgraphs.
            UnsupportedOpError: if an op has no kernel.
            ValueError: if ``qdq`` is not one of the three modes.
        """
        if qdq not in ("integer", "reference", "tflite"):
            raise ValueError(f"qdq must be 'integer', 'reference' or 'tflite', got {qdq!r}")
        follow_ort = isinstance(arithmetic, str) and arithmetic == "onnxruntime"
        if isinstance(arithmetic, str):
            if arithmetic != "onnxruntime":
                raise ValueError("arithmetic must be an Arithmetic, a mapping of node names to "
                                 f"Arithmetic, 'onnxruntime' or None; got {arithmetic!r}")
            arithmetic = onnxruntime_arithmetic()
        proto = load(model)
        graph = proto.graph
        opsets = {(o.domain or ""): o.version for o in proto.opset_import}
        self.qdq = qdq
        consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i)
                                         for i in graph.initializer}
        init_names = set(consts)
        self.input_names = [i.name for i in graph.input if i.name not in init_names]
        self.input_types = {i.name: i.type.tensor_type.elem_type for i in graph.input}
        self.output_names = [o.name for o in graph.output]
        nodes: list[onnx.NodeProto] = []
        for k, n in enumerate(graph.node):
            if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
                consts[n.output[0]] = _constant_value(n)
                continue
            if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                   for a in n.attribute):
                raise ModelError(f"node {n.name!r} ({n.op_type}) has a subgraph; socsim "
                                 "executes graphs without control flow only")
            if not n.name:
                n = onnx.NodeProto.FromString(n.SerializeToString())
                n.name = f"{n.op_type}_{k}"
            nodes.append(n)
        self._graph_consts = frozenset(consts)
        if qdq in ("integer", "tflite"):
            nodes, extra = lower_qdq(nodes, consts, self.output_names, opsets.get("", 1),
                                     rules if rules is not None and qdq == "integer"
                                     else QDQ_RULES[qdq], onnxruntime=follow_ort)
            consts.update(extra)
        self.constants = consts
        self._folded: dict[str, OpStats] = {}
        self.steps = self._schedule_frees(self._fold(self._bind(nodes, opsets, arithmetic)))

    def _bind(self, nodes: list[onnx.NodeProto], opsets: Mapping[str, int],
              arithmetic: ArithmeticSpec) -> list[_Step]:
        steps = []
        for n in nodes:
            domain = n.domain if n.domain not in ("ai.onnx",) else ""
            kernel = lookup(domain, n.op_type, n.name,
                            semantics="tflite" if self.qdq == "tflite" else "onnx")
            if isinstance(arithmetic, Arithmetic):
                arith = arithmetic
            elif arithmetic is None:
                arith = DEFAULT
            else:
                arith = arithmetic.get(n.name, DEFAULT)
            ctx = KernelContext(
                name=n.name, op_type=n.op_type,
                attrs={a.name: _decode(a) for a in n.attribute},
                opset=opsets.get(domain, opsets.get("", 1) if domain == MS_DOMAIN else 1),
                arithmetic=arith,
                const=tuple((not i) or i in self.constants for i in n.input),
                initializer=tuple(bool(i) and i in self._graph_consts for i in n.input),
            )
            steps.append(_Step(kernel, tuple(n.input), tuple(n.output), ctx, (),
                               OpStats(n.op_type)))
        return steps

    def _fold(self, steps: list[_Step]) -> list[_Step]:
        """Runs the steps whose inputs are all constants now; their outputs become constants.

        A folded node's events are the same on every run: they are kept and reported with
        each run's statistics. A step whose kernel fails is left to fail at run time.
        """
        kept: list[_Step] = []
        for step in steps:
            ins = [i for i in step.inputs if i]
            if (not ins or step.ctx.op_type in _NONDETERMINISTIC
                    or not all(i in self.constants for i in ins)):
                kept.append(step)
                continue
            try:
                step.ctx.events = {}
                outs = step.kernel(step.ctx, *[self.constants[i] if i else None
                                               for i in step.inputs])
            except Exception:  # noqa: BLE001 - reported when the step runs
                kept.append(step)
                continue
            for name, val in zip(step.outputs, outs):
                if name:
                    self.constants[name] = val
            self._folded[step.ctx.name] = OpStats(step.ctx.op_type, **step.ctx.events)
        return kept

    def _schedule_frees(self, steps: list[_Step]) -> list[_Step]:
        """Marks each input that is read for the last time, and refreshes which are constant."""
        last_use: dict[str, int] = {}
        for k, s in enumerate(steps):
            for i in s.inputs:
                if i:
                    last_use[i] = k
        keep = set(self.output_names) | set(self.constants)
        out = []
        for k, s in enumerate(steps):
            s.ctx.const = tuple((not i) or i in self.constants for i in s.inputs)
            free = tuple(i for i in dict.fromkeys(s.inputs)
                         if i and last_use.get(i) == k and i not in keep)
            args = tuple((False, self.constants[i] if i else None) if s.ctx.const[j]
                         else (True, i) for j, i in enumerate(s.inputs))
            out.append(_Step(s.kernel, s.inputs, s.outputs, s.ctx, free, s.quiet, args))
        return out

    def run(self, inputs: Mapping[str, np.ndarray]) -> ExecutionResult:
        """Runs one inference.

        Args:
            inputs: every graph input by name (arrays are cast to the declared element type).

        Raises:
            ModelError: if an input is missing or a kernel rejects its operands.
        """
        env: dict[str, np.ndarray] = {}  # what this run computes; steps hold the constants
        for name in self.input_names:
            if name not in inputs:
                raise ModelError(f"missing input {name!r}; the model's inputs are "
                                 f"{', '.join(self.input_names)}")
            arr = np.asarray(inputs[name])
            et = self.input_types.get(name, 0)
            if et:
                want = helper.tensor_dtype_to_np_dtype(et)
                if arr.dtype != want:
                    arr = arr.astype(want)
            env[name] = arr
        stats: dict[str, OpStats] = dict(self._folded)
        for step in self.steps:
            ctx = step.ctx
            events = ctx.events = {}
            try:
                outs = step.kernel(ctx, *[env[v] if computed else v for computed, v in step.args])
            except (ValueError, IndexError, TypeError, KeyError) as e:
                raise ModelError(f"node {ctx.name!r} ({ctx.op_type}) failed: {e}") from e
            for name, val in zip(step.outputs, outs):
                if name:
                    env[name] = val
            for name in step.free:
                env.pop(name, None)
            stats[ctx.name] = OpStats(ctx.op_type, **events) if events else step.quiet
        # Planned kernels may hand back transposed views; outputs leave in C order.
        outputs = {o: v if v.flags.c_contiguous else np.ascontiguousarray(v)
                   for o in self.output_names
                   for v in (env[o] if o in env else self.constants[o],)}
        return ExecutionResult(outputs, stats)


def compile_model(model: str | os.PathLike | onnx.ModelProto, *, qdq: QdqMode = "integer",
                  arithmetic: ArithmeticSpec = None, rules: Rules | None = None
                  ) -> CompiledModel:
    """Compiles ``model`` once for many :meth:`CompiledModel.run` calls (see CompiledModel)."""
    return CompiledModel(model, qdq=qdq, arithmetic=arithmetic, rules=rules)
