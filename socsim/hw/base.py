"""Cycles of one op on one unit: the unit kind's cycle model plus the launch overhead.

A cycle model is a pure function of the unit's config, the op and the graph: it knows the
unit's micro-architecture, never time, DVFS state or SimPy. Each kind provides its own
(:meth:`socsim.hw.kind.UnitKind.cycles`); :func:`op_cycles` adds the unit's fixed per-op
launch overhead.
"""

from __future__ import annotations

from collections.abc import Mapping

from socsim.config.units import UnitBase
from socsim.graph.ir import Graph, Op
from socsim.hw.kind import Cycles, kind_of

__all__ = ["Cycles", "input_rereads", "mac_dtype", "op_cycles"]


def input_rereads(unit: UnitBase, op: Op, graph: Graph) -> int:
    """How many times ``op`` on ``unit`` reads its activation inputs from memory (the kind's
    :meth:`~socsim.hw.kind.UnitKind.input_rereads`, e.g. a CPU's cache blocking; else 1)."""
    return kind_of(unit).input_rereads(unit, op, graph)


#: Weight dtypes ONNX packs two to a byte (``Tensor.nbytes`` already counts them packed).
_PACKED4 = ("int4", "uint4")


def mac_dtype(unit: UnitBase, op: Op, graph: Graph,
              rates: Mapping[str, float] | None = None) -> str:
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


def op_cycles(unit: UnitBase, op: Op, graph: Graph) -> Cycles:
    """Cycles ``op`` takes on ``unit``, launch overhead included."""
    c = kind_of(unit).cycles(unit, op, graph)
    return Cycles(c.compute + unit.launch_overhead_cycles, c.utilisation)
