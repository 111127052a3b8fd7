"""The cost-model interface: cycles of one op on one unit kind, and a registry by kind.

A cost model is a pure function ``(unit, op, graph) -> cycles``: it knows the unit's
micro-architecture, never time, DVFS state or SimPy. :func:`op_cycles` adds the unit's fixed
per-op launch overhead. Deeper models (issue "Hardware fidelity") replace a kind's function
without touching the simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from socsim.config.units import Unit
from socsim.graph.ir import Graph, Op

CycleModel = Callable[[Unit, Op, Graph], "Cycles"]
RereadModel = Callable[[Unit, Op, Graph], int]
_MODELS: dict[str, CycleModel] = {}
_REREADS: dict[str, RereadModel] = {}


@dataclass(frozen=True)
class Cycles:
    """Compute cycles of an op on a unit, and how well it used the unit's peak MAC rate.

    Attributes:
        compute: cycles of arithmetic (MACs and elementwise work), before launch overhead.
        utilisation: achieved MACs / peak MACs over those cycles (0 for ops without MACs).
    """

    compute: float
    utilisation: float = 0.0


def cost_model(kind: str) -> Callable[[CycleModel], CycleModel]:
    """Register the cycle model of a unit kind (decorator; returns the function unchanged)."""

    def register(fn: CycleModel) -> CycleModel:
        if kind in _MODELS:
            raise ValueError(f"a cost model for kind {kind!r} is already registered")
        _MODELS[kind] = fn
        return fn

    return register


def rereads_model(kind: str) -> Callable[[RereadModel], RereadModel]:
    """Register how many times a unit kind's kernels read an op's activation inputs
    (decorator; returns the function unchanged). Kinds without one read them once."""

    def register(fn: RereadModel) -> RereadModel:
        if kind in _REREADS:
            raise ValueError(f"a reread model for kind {kind!r} is already registered")
        _REREADS[kind] = fn
        return fn

    return register


def input_rereads(unit: Unit, op: Op, graph: Graph) -> int:
    """How many times ``op`` on ``unit`` reads its activation inputs from memory (the kind's
    reread model, e.g. a CPU's cache blocking; else 1)."""
    model = _REREADS.get(unit.kind)
    return 1 if model is None else model(unit, op, graph)


#: Weight dtypes ONNX packs two to a byte (``Tensor.nbytes`` already counts them packed).
_PACKED4 = ("int4", "uint4")


def mac_dtype(unit: Unit, op: Op, graph: Graph, rates: Mapping[str, float] | None = None) -> str:
    """The dtype whose MAC rate and MAC energy ``op``'s MACs are charged at on ``unit``.

    The op's compute dtype (its activations'), except for 4-bit weights (ONNX int4/uint4,
    e.g. socsim's ``int4`` scheme: int4 weights, int8 activations) on a unit that declares
    int4 MACs by listing ``int4`` in its ``dtypes`` (its power tables then have an int4 entry,
    which the MAC energy uses) and, for the time, an ``int4`` entry in the kind's rate table
    where it has one (``rates``: an NPU's ``macs_per_pe_per_cycle``, a DSP's
    ``macs_per_cycle``; a CPU's lanes follow the dtype's bits). Any other unit unpacks the
    weights and runs int8 MACs. Activations wider than 8 bits keep their own dtype. The
    weights' bytes are packed either way (``Tensor.nbytes``: two int4 per byte, as ONNX
    stores them and TFLite Micro's int4 kernels read them).
    """
    if (op.macs and "int4" in unit.dtypes and (rates is None or "int4" in rates)
            and op.dtype in ("int8", "uint8", "int4", "uint4")
            and any(graph.tensors[w].dtype in _PACKED4 for w in op.weights)):
        return "int4"
    return op.dtype


def op_cycles(unit: Unit, op: Op, graph: Graph) -> Cycles:
    """Cycles ``op`` takes on ``unit``, launch overhead included."""
    c = _MODELS[unit.kind](unit, op, graph)
    return Cycles(c.compute + unit.launch_overhead_cycles, c.utilisation)
