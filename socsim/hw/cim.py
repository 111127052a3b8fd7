"""Compute-in-memory unit kind ``cim``: cycles, operand bytes, energy and arithmetic of an op
mapped onto crossbars (:mod:`socsim.hw.cim_mapping`), registered through the unit-kind protocol
(:mod:`socsim.hw.kind`).

- cycles: the mapping's stream cycles (``rounds * M * I * ADC steps``) plus, for a layer larger
  than the crossbars, the cycles reprogramming them; elementwise work on the digital periphery
  at ``elementwise_ops_per_cycle``;
- bytes: a layer that fits keeps its weights in the crossbars (no weight traffic when it runs);
  one that does not reads its weights once per run, to program them;
- energy (at the nominal point, scaled by ``(V / V_nominal)^2`` as every unit):
  ``slice_macs * mac_pj_per_slice + conversions * adc_pj_per_conversion
  + cell_writes * program_pj_per_cell + elem_ops * energy_pj_per_op[dtype]``;
- arithmetic: the target of the unit's ``arithmetic`` block with the ADC-quantized integer dot
  product of :class:`socsim.kernels.cim.CimDot` (rows, DAC bits, bits per cell, ADC bits) as
  its ``integer_dot``.

Residency (:mod:`socsim.hw.cim_residency`): a layer that fits the crossbars is a configuration
(its weights, named after the op) programmed before it runs when not resident, evicting the
least recently used layers; programming time and energy are charged as the engine charges any
reconfiguration (:mod:`socsim.sim.reconfiguration`). The run summary's ``cim`` block reports,
per unit, the programmings, the cells written, average writes per cell per inference, the
lifetime in inferences against ``endurance_writes`` and the ADC resolution
(:meth:`CimKind.unit_summary`). :func:`programming` is the static view of one inference with
every layer resident, for benchmarks/bench_cim_adc.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from math import ceil, prod
from typing import TYPE_CHECKING

from socsim.config._base import bits_of
from socsim.config.power import OperatingPoint
from socsim.config.units.cim import Cim
from socsim.graph.cost import gemm_view
from socsim.graph.ir import Graph, Op
from socsim.hw.cim_mapping import Crossbars, Mapping, map_gemm
from socsim.hw.cim_residency import CimResidency, CrossbarWeights
from socsim.hw.kind import Cycles, UnitKind
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.cim import CimDot

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CimKind", "Programming", "cell_writes_per_run", "crossbars_of", "lifetime_runs",
           "op_mapping", "programming"]

_MATMUL = ("MatMul", "MatMulInteger", "QLinearMatMul")


def crossbars_of(unit: Cim) -> Crossbars:
    """The crossbar parameters of a ``cim`` unit."""
    return Crossbars(rows=unit.crossbar_rows, cols=unit.crossbar_cols, crossbars=unit.crossbars,
                     bits_per_cell=unit.bits_per_cell, dac_bits=unit.dac_bits,
                     adcs_per_crossbar=unit.adcs_per_crossbar,
                     program_cycles_per_row=unit.program_cycles_per_row)


def op_mapping(unit: Cim, op: Op, graph: Graph) -> Mapping | None:
    """How ``op`` maps onto ``unit``'s crossbars (None for an op without MACs).

    A MatMul whose second operand is an activation (no constant weights) writes it into the
    crossbars every run; a batched second operand is one GEMM per batch entry.
    """
    if not op.macs:
        return None
    shapes = [graph.tensors[t].shape for t in (*op.inputs, *op.weights)]
    out = graph.tensors[op.outputs[0]].shape
    groups, m, k, n = gemm_view(op.op_type, op.attrs, shapes, out)
    if op.op_type in _MATMUL:
        b = shapes[3] if op.op_type == "QLinearMatMul" else shapes[1]
        batch = prod(out[:-2]) if len(b) > 2 and prod(b[:-2]) > 1 else 1
        groups, m = groups * batch, m // batch
    in_bits = bits_of(op.dtype)
    w_bits = bits_of(graph.tensors[op.weights[0]].dtype) if op.weights else in_bits
    return map_gemm(crossbars_of(unit), groups, m, k, n, in_bits, w_bits,
                    constant_weights=bool(op.weights))


def cell_writes_per_run(unit: Cim, op: Op, graph: Graph) -> int:
    """Weight cells ``op`` writes each time it runs on ``unit`` (0 when its weights stay)."""
    mp = op_mapping(unit, op, graph)
    return 0 if mp is None else mp.cell_writes


def lifetime_runs(unit: Cim, writes_per_cell_per_run: float) -> float:
    """Runs until the most-written cell reaches ``endurance_writes`` (inf: SRAM, or no
    writes)."""
    if unit.endurance_writes is None or writes_per_cell_per_run <= 0:
        return float("inf")
    return unit.endurance_writes / writes_per_cell_per_run


@dataclass(frozen=True)
class Programming:
    """Weight programming of one inference on a ``cim`` unit, for the ops placed on it.

    Attributes:
        reprogrammed: ops larger than the crossbars, rewritten on every run.
        cell_writes: cells written per inference.
        writes_per_cell: writes per inference of the most-written cell (a crossbar is
            rewritten once per round of each reprogrammed op).
        lifetime_inferences: inferences until that cell reaches ``endurance_writes`` (inf for
            SRAM or no writes).
        resident_tiles: crossbars the other ops keep their weights in.
        fits_together: whether those fit the unit at once; if not, the real unit would also
            reprogram between them, which the per-op cost does not charge.
    """

    reprogrammed: tuple[str, ...]
    cell_writes: int
    writes_per_cell: int
    lifetime_inferences: float
    resident_tiles: int
    fits_together: bool


def programming(unit: Cim, graph: Graph, ops: Iterable[Op]) -> Programming:
    """The :class:`Programming` of ``ops`` (those of ``graph`` placed on ``unit``)."""
    maps = [(op.name, op_mapping(unit, op, graph)) for op in ops]
    maps = [(name, mp) for name, mp in maps if mp is not None]
    again = [(name, mp) for name, mp in maps if mp.reprogrammed]
    writes = sum(mp.rounds for _, mp in again)
    resident = sum(mp.tiles for _, mp in maps if not mp.reprogrammed)
    return Programming(reprogrammed=tuple(name for name, _ in again),
                       cell_writes=sum(mp.cell_writes for _, mp in again),
                       writes_per_cell=writes, lifetime_inferences=lifetime_runs(unit, writes),
                       resident_tiles=resident, fits_together=resident <= unit.crossbars)


class CimKind(UnitKind):
    """The ``cim`` unit kind (module docstring)."""

    name = "cim"
    config = Cim
    reconfig_section = "cim"
    reconfig_label = "CiM crossbar"

    def cycles(self, unit: Cim, op: Op, graph: Graph) -> Cycles:
        cycles = 0.0
        util = 0.0
        mp = op_mapping(unit, op, graph)
        if mp is not None:
            cycles = float(mp.cycles)
            peak = crossbars_of(unit).peak_macs_per_cycle(mp.input_cycles * unit.dac_bits,
                                                          mp.cells_per_weight
                                                          * unit.bits_per_cell)
            util = mp.macs / (cycles * peak) if cycles else 0.0
        if op.elem_ops:
            cycles += op.elem_ops / unit.elementwise_ops_per_cycle
        return Cycles(cycles, util)

    def operand_bytes(self, unit: Cim, op: Op, graph: Graph
                      ) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        in_bytes, out_bytes, weight_bytes = super().operand_bytes(unit, op, graph)
        mp = op_mapping(unit, op, graph)
        if mp is not None and not mp.reprogrammed:
            weight_bytes = 0  # resident in the crossbars since deployment
        return in_bytes, out_bytes, weight_bytes

    def dynamic_pj(self, unit: Cim, op: Op, point: OperatingPoint, graph: Graph) -> float:
        p = unit.power
        energy = 0.0
        mp = op_mapping(unit, op, graph)
        if mp is not None:
            energy += (mp.slice_macs * unit.mac_pj_per_slice
                       + mp.conversions * unit.adc_pj_per_conversion
                       + mp.cell_writes * unit.program_pj_per_cell)
        if op.elem_ops:
            energy += op.elem_ops * p.energy_pj_per_op[op.dtype]
        return energy * (point.voltage_v / unit.dvfs.nominal.voltage_v) ** 2

    def arithmetic(self, unit: Cim) -> Arithmetic:
        return replace(unit.arithmetic.target(),
                       integer_dot=CimDot(unit.crossbar_rows, unit.dac_bits, unit.bits_per_cell,
                                          unit.adc_bits))

    def reconfigurable(self, unit: Cim) -> CimResidency:
        return CimResidency(unit.crossbars)

    def configuration(self, unit: Cim, op: Op, graph: Graph) -> CrossbarWeights | None:
        """The op's weights, ``<graph>/<op>`` (None: no constant weights, as a product of two
        activations, which writes the crossbars in every run of its own cost)."""
        mp = op_mapping(unit, op, graph)
        if mp is None or not op.weights:
            return None
        name = f"{graph.name}/{op.name}"
        nbytes = ceil(mp.weight_cells * unit.bits_per_cell / 8)
        if mp.reprogrammed:
            return CrossbarWeights(name, unit.crossbars, 0.0, 0.0, nbytes, transient=True)
        return CrossbarWeights(name, mp.tiles, mp.load_cycles * 1e3 / unit.dvfs.nominal_mhz,
                               mp.weight_cells * unit.program_pj_per_cell, nbytes)

    def unit_summary(self, unit: Cim, records: pd.DataFrame, inferences: int) -> dict:
        """Cell writes of the run (weight bytes programmed * 8 / ``bits_per_cell``), their
        average per cell and inference over all ``crossbars * rows * cols`` cells (wear
        levelled), the inferences until that average reaches ``endurance_writes`` (None:
        unlimited or no writes), and ``adc_bits``."""
        writes = int(records["bitstream_bytes"].sum()) * 8 // unit.bits_per_cell
        cells = unit.crossbars * unit.crossbar_rows * unit.crossbar_cols
        per_cell = writes / cells / inferences if inferences else 0.0
        life = lifetime_runs(unit, per_cell)
        return {"cell_writes": writes, "writes_per_cell_per_inference": per_cell,
                "endurance_writes": unit.endurance_writes,
                "lifetime_inferences": None if life == float("inf") else life,
                "adc_bits": unit.adc_bits}
