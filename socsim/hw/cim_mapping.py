"""How a layer maps onto a compute-in-memory unit's crossbars, and what it costs: pure formulas.

A layer with MACs is ``groups`` GEMMs (M x K) @ (K x N) (:func:`socsim.graph.cost.gemm_view`):
M activation vectors (output pixels) stream through crossbars holding the (K x N) weights.
With the unit's crossbars of ``rows`` x ``cols`` cells (docs/devices.md, "Compute-in-memory
unit"):

- input cycles per vector ``I = ceil(in_bits / dac_bits)`` (bit-serial inputs);
- cells per weight ``J = ceil(w_bits / bits_per_cell)`` (bit slicing): N weights take N * J
  columns;
- row tiles ``ceil(K / rows)`` (their partial sums added digitally), column tiles
  ``ceil(N * J / cols)``; ``tiles = groups * row tiles * column tiles`` crossbars;
- rounds ``ceil(tiles / crossbars)``: a layer with more tiles than the unit has crossbars runs
  in rounds, reprogramming the crossbars' weights before each;
- ADC steps per input cycle ``ceil(min(cols, N * J) / adcs_per_crossbar)`` (column
  multiplexing);
- stream cycles ``rounds * M * I * ADC steps`` (the tiles of a round work in parallel, each on
  every vector; one cycle applies one input slice and converts one ADC step of columns);
- programming (only when reprogrammed, ``tiles > crossbars``): every round writes its
  crossbars row by row, ``rounds * min(rows, K) * program_cycles_per_row`` cycles, and each
  weight's J cells once per run of the op: ``groups * K * N * J`` cell writes;
- conversions ``groups * row tiles * M * I * N * J`` (one per column, row tile and input cycle);
- analog slice-MACs ``groups * M * K * N * I * J`` (one input slice times one weight cell).

A layer that fits (``tiles <= crossbars``) reads no weights and writes no cells when it runs:
its programming (``load_cycles``, ``weight_cells``) is charged when it is made resident
(:mod:`socsim.hw.cim_residency`), which decides whether several layers fit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

__all__ = ["Crossbars", "Mapping", "map_gemm"]


@dataclass(frozen=True)
class Crossbars:
    """The crossbar parameters of a CiM unit (a unit config's fields, docs/devices.md).

    Attributes:
        rows: rows (word lines) per crossbar.
        cols: columns (bit lines, one weight cell each) per crossbar.
        crossbars: crossbars of the unit.
        bits_per_cell: weight bits per cell.
        dac_bits: input bits per input cycle.
        adcs_per_crossbar: ADCs per crossbar (columns share them through a multiplexer).
        program_cycles_per_row: cycles to write one row of a crossbar.
    """

    rows: int
    cols: int
    crossbars: int
    bits_per_cell: int
    dac_bits: int
    adcs_per_crossbar: int
    program_cycles_per_row: float

    def peak_macs_per_cycle(self, in_bits: int, w_bits: int) -> float:
        """Full-precision MACs per cycle with every crossbar full:
        ``crossbars * rows * floor(cols / J) / (I * ceil(cols / adcs))``."""
        i = ceil(in_bits / self.dac_bits)
        j = ceil(w_bits / self.bits_per_cell)
        steps = ceil(self.cols / self.adcs_per_crossbar)
        return self.crossbars * self.rows * max(1, self.cols // j) / (i * steps)


@dataclass(frozen=True)
class Mapping:
    """One layer on the crossbars (module docstring for each formula).

    Attributes:
        input_cycles: I, input cycles per vector.
        cells_per_weight: J, cells per weight.
        row_tiles: crossbars a weight column's K rows span.
        col_tiles: crossbars the N * J columns span.
        tiles: crossbars the layer needs (all groups).
        rounds: times the layer's vectors stream through the crossbars.
        reprogrammed: the layer exceeds the crossbars and rewrites them every run.
        adc_steps: ADC conversions in sequence per input cycle (column multiplexing).
        stream_cycles: cycles applying inputs and converting.
        program_cycles: cycles writing weights (0 when resident).
        conversions: ADC conversions.
        slice_macs: analog products of one input slice and one weight cell.
        cell_writes: cells written (0 when resident).
        macs: full-precision MACs (groups * M * K * N).
        weight_cells: cells the weights occupy (``groups * K * N * J``).
        load_cycles: cycles programming one round of tiles, all at once
            (``min(rows, K) * program_cycles_per_row``): a resident layer's programming.
    """

    input_cycles: int
    cells_per_weight: int
    row_tiles: int
    col_tiles: int
    tiles: int
    rounds: int
    reprogrammed: bool
    adc_steps: int
    stream_cycles: int
    program_cycles: float
    conversions: int
    slice_macs: int
    cell_writes: int
    macs: int
    weight_cells: int
    load_cycles: float

    @property
    def cycles(self) -> float:
        """Compute cycles: streaming plus programming."""
        return self.stream_cycles + self.program_cycles


def map_gemm(xb: Crossbars, groups: int, m: int, k: int, n: int, in_bits: int, w_bits: int,
             constant_weights: bool = True) -> Mapping:
    """The mapping of ``groups`` GEMMs (m x k) @ (k x n) with ``in_bits`` inputs and ``w_bits``
    weights onto ``xb``.

    ``constant_weights=False`` (a product of two activations) rewrites the crossbars on every
    run, fitting or not.
    """
    i = ceil(in_bits / xb.dac_bits)
    j = ceil(w_bits / xb.bits_per_cell)
    row_tiles = ceil(k / xb.rows)
    col_tiles = ceil(n * j / xb.cols)
    tiles = groups * row_tiles * col_tiles
    rounds = ceil(tiles / xb.crossbars)
    reprogrammed = tiles > xb.crossbars or not constant_weights
    steps = ceil(min(xb.cols, n * j) / xb.adcs_per_crossbar)
    load = min(xb.rows, k) * xb.program_cycles_per_row
    program = rounds * load if reprogrammed else 0.0
    return Mapping(
        input_cycles=i, cells_per_weight=j, row_tiles=row_tiles, col_tiles=col_tiles,
        tiles=tiles, rounds=rounds, reprogrammed=reprogrammed, adc_steps=steps,
        stream_cycles=rounds * m * i * steps, program_cycles=program,
        conversions=groups * row_tiles * m * i * n * j,
        slice_macs=groups * m * k * n * i * j,
        cell_writes=groups * k * n * j if reprogrammed else 0,
        macs=groups * m * k * n, weight_cells=groups * k * n * j, load_cycles=load)
