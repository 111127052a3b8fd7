"""One cost model: an op on a unit at an operating point, as one :class:`OpCost` record.

The simulator (:mod:`socsim.sim.program` compiles these records; the engine adds the time the
bytes take in the memories it actually used) and every policy's estimate
(:mod:`socsim.hw.estimate`) read the same record, so a policy plans with the model that is
simulated. The formulas (docs/model.md):

- compute cycles from the unit kind's cycle model plus the launch overhead
  (:func:`socsim.hw.base.op_cycles`); time ``cycles / f_MHz * 1e3``
  (:func:`socsim.hw.timing.compute_ns`); dynamic energy from the kind's energy hook
  (:meth:`socsim.hw.kind.UnitKind.dynamic_pj`);
- bytes an op moves, from the kind's :meth:`~socsim.hw.kind.UnitKind.operand_bytes` (by
  default each input as read: a produced 4-D activation in the unit's own layout, channels
  padded to its ``channel_align``, :func:`padded_bytes`; a workload input as it arrived;
  re-read as the unit kind's kernels do; each output in the unit's format; the weights); a
  view moves none of its own;
- memory time ``bytes / bw_GBps`` per SRAM operand, each DRAM's bytes one stream
  (:func:`memory_time`); read energy per byte (:func:`read_pj`);
- layout conversions: who converts (:func:`converter`) and how many cycles
  (:func:`convert_cycles`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from socsim.config.memory import Memory
from socsim.config.power import OperatingPoint
from socsim.config.soc import SoC
from socsim.config.units import UnitBase as Unit
from socsim.graph.cost import VIEW_OPS
from socsim.graph.ir import Graph, Op
from socsim.hw.base import op_cycles
from socsim.hw.kind import kind_of
from socsim.hw.operands import activation_channels, padded_bytes
from socsim.hw.timing import compute_ns

__all__ = ["OpCost", "activation_channels", "convert_cycles", "converter", "memory_ns_of",
           "memory_time", "op_cost", "padded_bytes", "read_pj"]


@dataclass(frozen=True)
class OpCost:
    """The cost of one op on one unit at one operating point.

    Attributes:
        cycles: compute cycles, launch overhead included.
        utilisation: achieved / peak MACs over those cycles (0 without MACs).
        compute_ns: ``cycles`` at the point's frequency.
        dynamic_pj: dynamic compute energy at the point's voltage.
        in_bytes: bytes read per input (padded, and re-read as the unit's kernels do).
        out_bytes: bytes written per output (in the unit's format).
        weight_bytes: bytes of the op's weights.
        moves: False for a view (it moves no bytes of its own: in/out are not traffic).
    """

    cycles: float
    utilisation: float
    compute_ns: float
    dynamic_pj: float
    in_bytes: tuple[int, ...]
    out_bytes: tuple[int, ...]
    weight_bytes: int
    moves: bool

    def memory_ns(self, soc: SoC, unit: Unit, in_mems: tuple[str, ...] | None = None,
                  out_mem: str | None = None, weights_from: str | None = None) -> float:
        """Time the op's operand traffic takes alone at the bandwidths of the memories.

        As the engine times it: ``bytes / bw`` per operand in an SRAM, summed; the bytes in
        each DRAM streamed as one flow (``total / bw``), the DRAMs in parallel; the SRAM time
        and the DRAM streams added, or overlapped on a unit whose kind has
        :meth:`~socsim.hw.kind.UnitKind.parallel_ports`.

        Args:
            soc: the device.
            unit: the unit the op runs on.
            in_mems: the memory each input is read from (default: the unit's home memory,
                the first of its ``memories``).
            out_mem: where the outputs are written (default: the home memory).
            weights_from: where the weights are read (default: the unit's ``weights_in``).
        """
        mems = soc.memories
        home = out_mem or unit.memories[0]
        operands = [(weights_from or unit.weights_in, self.weight_bytes)]
        if self.moves:
            operands += [(in_mems[i] if in_mems else home, nb)
                         for i, nb in enumerate(self.in_bytes)]
            operands += [(home, nb) for nb in self.out_bytes]
        sram_ns, dram_bytes = memory_time(mems, operands)
        dram_ns = max((nb / mems[m].bw_gbps for m, nb in dram_bytes.items()), default=0.0)
        return memory_ns_of(unit, sram_ns, dram_ns)

    def run_ns(self, soc: SoC, unit: Unit, in_mems: tuple[str, ...] | None = None,
               out_mem: str | None = None, weights_from: str | None = None) -> float:
        """The roofline ``max(compute, memory)`` of the op alone (see :meth:`memory_ns`)."""
        return max(self.compute_ns, self.memory_ns(soc, unit, in_mems, out_mem, weights_from))


def op_cost(unit: Unit, op: Op, graph: Graph, point: OperatingPoint | None = None) -> OpCost:
    """The cost of ``op`` on ``unit`` at ``point`` (default: the unit's default point).

    Inputs that are 4-D activations produced by another op are read in the unit's format
    (a producer in another format has them converted first); workload inputs are read as
    they arrived.
    """
    point = point or unit.dvfs.default
    kind = kind_of(unit)
    cyc = op_cycles(unit, op, graph)
    in_bytes, out_bytes, weight_bytes = kind.operand_bytes(unit, op, graph)
    return OpCost(
        cycles=cyc.compute, utilisation=cyc.utilisation,
        compute_ns=compute_ns(cyc.compute, point.freq_mhz),
        dynamic_pj=kind.dynamic_pj(unit, op, point, graph),
        in_bytes=in_bytes, out_bytes=out_bytes, weight_bytes=weight_bytes,
        moves=op.op_type not in VIEW_OPS)


def memory_ns_of(unit: Unit, sram_ns: float, dram_ns: float) -> float:
    """An op's memory time from its SRAM time and its DRAM streams' time: one port, the SRAM
    time then the streams (added); separate ports (the kind's
    :meth:`~socsim.hw.kind.UnitKind.parallel_ports`), side by side (the larger)."""
    if kind_of(unit).parallel_ports(unit):
        return max(sram_ns, dram_ns)
    return sram_ns + dram_ns


def memory_time(memories: Mapping[str, Memory], operands: Iterable[tuple[str, int]]
                ) -> tuple[float, dict[str, int]]:
    """(SRAM ns, bytes per DRAM) of moving each (memory, bytes) operand, in order: an SRAM
    operand takes ``bytes / bw_gbps`` of its memory (summed); the bytes in each DRAM add up,
    to stream as one flow sharing the DRAM's bandwidth (the engine's, see
    :mod:`socsim.sim.bandwidth`; alone, ``bytes / bw_gbps``)."""
    sram_ns = 0.0
    dram_bytes: dict[str, int] = {}
    for name, nb in operands:
        mem = memories[name]
        if mem.kind == "dram":
            dram_bytes[name] = dram_bytes.get(name, 0) + nb
        else:
            sram_ns += nb / mem.bw_gbps
    return sram_ns, dram_bytes


def read_pj(mem: Memory, nbytes: int) -> tuple[float, float]:
    """(SRAM pJ, DRAM pJ) of reading ``nbytes`` from ``mem`` (charged to its kind)."""
    pj = nbytes * mem.read_pj_per_byte
    return (pj, 0.0) if mem.kind != "dram" else (0.0, pj)


def converter(soc: SoC, writer: str, reader: str) -> str | None:
    """Who converts a tensor ``writer`` wrote for ``reader`` in another format: the reader if
    it can, else the writer (as a host CPU formats tensors for an accelerator's runtime),
    else None (nobody can)."""
    if soc.units[reader].convert_bytes_per_cycle is not None:
        return reader
    if soc.units[writer].convert_bytes_per_cycle is not None:
        return writer
    return None


def convert_cycles(unit: Unit, in_bytes: int, out_bytes: int) -> float:
    """Cycles ``unit`` takes to rewrite ``in_bytes`` as ``out_bytes`` in another layout
    (a strided pass at ``convert_bytes_per_cycle``, plus the launch overhead)."""
    return max(in_bytes, out_bytes) / unit.convert_bytes_per_cycle + unit.launch_overhead_cycles
