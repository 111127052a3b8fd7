"""CPU cost model: SIMD lanes x threads x efficiency.

MAC rate per core = vector_bits_per_cycle / bits(dtype) (one MAC per lane per cycle);
an op split over ``threads_per_op`` cores divides its work among them;
``efficiency[family]`` is the fraction of that peak a real kernel library reaches.

Caches matter only as a bandwidth bound (:meth:`CpuKind.input_rereads`): a blocked conv / GEMM keeps
half the cache of weights resident and streams the activations past each block.
"""

from __future__ import annotations

from math import ceil

from socsim.config._base import bits_of
from socsim.config.units import Cpu
from socsim.graph.ir import Graph, Op
from socsim.hw.base import mac_dtype
from socsim.hw.kind import Cycles, UnitKind


def cpu_cycles(unit: Cpu, op: Op, graph: Graph) -> Cycles:
    eff = unit.efficiency.get(op.family, unit.efficiency["default"])

    def rate(dtype: str) -> float:
        return max(1.0, unit.vector_bits_per_cycle / bits_of(dtype)) * unit.threads_per_op * eff

    cycles = op.macs / rate(mac_dtype(unit, op, graph)) + op.elem_ops / rate(op.dtype)
    return Cycles(cycles, eff if op.macs else 0.0)


def cpu_input_rereads(unit: Cpu, op: Op, graph: Graph) -> int:
    """How many times ``op`` on CPU ``unit`` reads its activation inputs from memory.

    1, unless ``unit`` has ``cache_kib`` and ``op`` is a conv or matrix op whose
    weights, inputs and outputs together exceed the cache: then the kernel blocks the weights
    by half the cache and streams the activations once per block,
    ``⌈weight bytes / (cache / 2)⌉`` times.
    """
    if unit.cache_kib is None or op.family not in ("conv", "gemm"):
        return 1
    cache = unit.cache_kib * 1024
    weights = graph.bytes_of(op.weights)
    if weights + graph.bytes_of(op.inputs) + graph.bytes_of(op.outputs) <= cache:
        return 1
    return max(1, ceil(weights / (cache / 2)))


class CpuKind(UnitKind):
    """Kind ``cpu``: the host that runs what accelerators cannot (policies' fallback)."""

    name = "cpu"
    config = Cpu
    is_host = True

    def cycles(self, unit: Cpu, op: Op, graph: Graph) -> Cycles:
        return cpu_cycles(unit, op, graph)

    def input_rereads(self, unit: Cpu, op: Op, graph: Graph) -> int:
        return cpu_input_rereads(unit, op, graph)
