"""The graph IR the simulator and the policies see: ops in topological order over tensors.

An :class:`Op` is what a unit executes as one piece: an ONNX compute node together with the
QuantizeLinear / DequantizeLinear nodes fused into it (``DQ -> Conv -> Q`` becomes one int8
Conv), the way an integer accelerator runs it. Its cost descriptor (MACs, elementwise ops,
bytes by role) is computed once at load time by :mod:`socsim.graph.cost`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod


@dataclass(frozen=True)
class Tensor:
    """A tensor of the model: its static shape and element type.

    Attributes:
        name: ONNX value name.
        shape: static shape (dynamic batch dims are set to 1).
        dtype: socsim dtype name (``int8``, ``float32``, ...).
        const: True for initializers and Constant outputs (weights, biases, scales).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    const: bool = False

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        from socsim.config._base import DTYPE_BITS

        return (self.size * DTYPE_BITS.get(self.dtype, 32) + 7) // 8


@dataclass(frozen=True)
class Op:
    """One schedulable operation.

    Attributes:
        name: the ONNX node name of the compute node (unique in the graph).
        op_type: ONNX op type of the compute node (``Conv``, ``Add``, ``QuantizeLinear``...).
        domain: ONNX domain ('' for the default domain).
        family: cost family (conv, depthwise, gemm, elementwise, pool, reduce, normalize,
            quantize, data).
        dtype: the precision the op computes in (int8 for a fused QDQ Conv, float32 for a float
            op).
        inputs: activation tensors it reads (after QDQ fusion: the quantized tensors).
        outputs: tensors it writes.
        weights: constant tensors it reads (weights and biases, in their stored dtype).
        macs: multiply-accumulates.
        elem_ops: elementwise operations (activations, pooling, normalisation, conversions).
        nodes: names of every ONNX node this op covers (the compute node and fused Q/DQ).
        attrs: decoded attributes of the compute node (for cost models needing shapes); a
            fused activation adds ``fused_activation`` (its op type) and, when it narrows
            the output's range, ``clamp`` (the integer ``(qmin, qmax)``).
        onnx_inputs: the compute node's inputs in ONNX order (quantized tensors for a fused
            group; a view's or an input Transpose's output where the op reads through one),
            for shape lookups; ``inputs`` and ``weights`` name the stored tensors read.
    """

    name: str
    op_type: str
    domain: str
    family: str
    dtype: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    weights: tuple[str, ...]
    macs: int
    elem_ops: int
    nodes: tuple[str, ...]
    attrs: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    onnx_inputs: tuple[str, ...] = field(default=(), compare=False)

    @property
    def operands(self) -> tuple[str, ...]:
        """The inputs in ONNX order for shape lookups (``onnx_inputs``, else inputs then
        weights)."""
        return self.onnx_inputs or (*self.inputs, *self.weights)


@dataclass(frozen=True)
class Graph:
    """A model as socsim sees it.

    Attributes:
        name: model name (file stem).
        ops: ops in a topological order (producers before consumers).
        tensors: every tensor by name.
        inputs: graph input tensors (activations only).
        outputs: graph output tensors.
        path: the file it came from, if any.
        rules: the QDQ fusion rules the ops were grouped by
            (:data:`socsim.graph.qdq_groups.RULES`).
    """

    name: str
    ops: tuple[Op, ...]
    tensors: dict[str, Tensor]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    path: str | None = None
    rules: str = "onnxruntime"

    def op(self, name: str) -> Op:
        """The op called ``name``.

        Raises:
            KeyError: listing a few valid names.
        """
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(f"no op named {name!r}; ops include {[o.name for o in self.ops[:5]]}")

    def producer(self) -> dict[str, int]:
        """Tensor name -> index of the op producing it (graph inputs absent)."""
        return {t: i for i, op in enumerate(self.ops) for t in op.outputs}

    def consumers(self) -> dict[str, list[int]]:
        """Tensor name -> indices of the ops reading it, in order."""
        result: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                result.setdefault(t, []).append(i)
        return result

    def bytes_of(self, names: tuple[str, ...]) -> int:
        return sum(self.tensors[n].nbytes for n in names)

    @property
    def total_macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def weight_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors.values() if t.const)
