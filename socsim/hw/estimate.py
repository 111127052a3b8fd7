"""Static estimates of op and transfer times for the policies, from the one cost model.

An op's run time is the roofline ``max(compute, memory)`` of its
:class:`~socsim.hw.cost.OpCost` (the record the simulator compiles), where memory time sums
``bytes / bw`` of each input (from the memory it is read in), each output (written to the
unit's home memory, the first of its ``memories``) and the weights (streamed from
``weights_in``).
"""

from __future__ import annotations

from collections.abc import Sequence

from socsim.config.power import OperatingPoint
from socsim.config.soc import SoC
from socsim.config.units import Unit
from socsim.graph.ir import Graph, Op, Tensor
from socsim.hw.cost import activation_channels, convert_cycles, converter, op_cost, padded_bytes
from socsim.hw.timing import compute_ns, transfer_ns


def input_memory(soc: SoC) -> str:
    """Where a workload's input tensors arrive: ``soc.inputs_in``, else the first DRAM, else
    the largest memory."""
    if soc.inputs_in is not None:
        return soc.inputs_in
    for name, mem in soc.memories.items():
        if mem.kind == "dram":
            return name
    return max(soc.memories, key=lambda m: soc.memories[m].size_kib)


def memory_ns(soc: SoC, unit: Unit, op: Op, graph: Graph,
              in_mems: Sequence[str] | None = None, out_mem: str | None = None) -> float:
    """Time the op's operand traffic takes at the bandwidths of the memories involved."""
    return op_cost(unit, op, graph).memory_ns(soc, unit, tuple(in_mems) if in_mems else None,
                                              out_mem)


def op_run_ns(unit: Unit, op: Op, graph: Graph, soc: SoC,
              point: OperatingPoint | None = None) -> float:
    """Estimated run time of ``op`` on ``unit`` with operands in the unit's home memory."""
    return op_cost(unit, op, graph, point).run_ns(soc, unit)


def transfer_estimate_ns(soc: SoC, src_mem: str, unit: Unit, tensor: Tensor) -> float:
    """0 when ``unit`` addresses ``src_mem``; else one DMA to its home memory (inf if no
    engine connects them)."""
    if src_mem in unit.memories:
        return 0.0
    for dst in unit.memories:
        engine = soc.dma_between(src_mem, dst)
        if engine is not None:
            return float(transfer_ns(soc.dma[engine], tensor.nbytes))
    return float("inf")


def convert_estimate_ns(soc: SoC, writer: str | None, reader: str, tensor: Tensor) -> float:
    """Time to convert ``tensor`` from ``writer``'s layout to ``reader``'s (docs/model.md,
    "Layouts"): 0 when no conversion is needed (not 4-D, a workload input, or the same layout
    and channel alignment); else the converter's (reader, else writer) bytes / rate at its
    default operating point; inf when neither can convert."""
    if writer is None or len(tensor.shape) != 4:
        return 0.0
    w, r = soc.units[writer], soc.units[reader]
    if (w.layout, w.channel_align) == (r.layout, r.channel_align):
        return 0.0
    who = converter(soc, writer, reader)
    if who is None:
        return float("inf")
    unit = soc.units[who]
    c = activation_channels(tensor)
    # the engine converts the copy the writer stored (padded to its alignment) into the
    # reader's format
    src = padded_bytes(tensor.nbytes, c, w.channel_align) if c else tensor.nbytes
    dst = padded_bytes(tensor.nbytes, c, r.channel_align) if c else tensor.nbytes
    return compute_ns(convert_cycles(unit, src, dst), unit.dvfs.default.freq_mhz)
