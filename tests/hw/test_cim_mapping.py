"""Crossbar mapping formulas (socsim.hw.cim_mapping) against hand computations.

The unit is the Sinangil et al. (JSSC 2021) macro as devices/imx8mp_cim.yaml describes it:
64 rows x 16 four-bit columns, 16 ADCs, 4-bit inputs per cycle; 64 crossbars.
"""

from __future__ import annotations

import pytest

from socsim.hw.cim_mapping import Crossbars, map_gemm

MACRO = Crossbars(rows=64, cols=16, crossbars=64, bits_per_cell=4, dac_bits=4,
                  adcs_per_crossbar=16, program_cycles_per_row=1.0)


def test_digits_conv2_fits():
    # conv2 of digits_cnn: 16 -> 32 channels, 3x3, 8x8 output: M = 64, K = 16*9 = 144, N = 32.
    mp = map_gemm(MACRO, 1, 64, 144, 32, 8, 8)
    assert (mp.input_cycles, mp.cells_per_weight) == (2, 2)        # 8/4, 8/4
    assert (mp.row_tiles, mp.col_tiles, mp.tiles) == (3, 4, 12)    # ceil(144/64), 64/16
    assert (mp.rounds, mp.reprogrammed, mp.adc_steps) == (1, False, 1)
    assert mp.stream_cycles == 64 * 2 * 1                          # M * I * steps
    assert mp.program_cycles == 0 and mp.cell_writes == 0
    assert mp.conversions == 3 * 64 * 2 * (32 * 2)                 # tiles_r * M * I * N*J
    assert mp.slice_macs == 64 * 144 * 32 * 2 * 2
    assert mp.macs == 294_912                                      # the graph's MACs


def test_oversubscribed_layer_reprograms_every_round():
    small = Crossbars(64, 16, 4, 4, 4, 16, 1.0)
    mp = map_gemm(small, 1, 64, 144, 32, 8, 8)
    assert (mp.tiles, mp.rounds, mp.reprogrammed) == (12, 3, True)
    assert mp.stream_cycles == 3 * 64 * 2
    assert mp.program_cycles == 3 * 64 * 1.0       # rounds * min(rows, K) rows
    assert mp.cell_writes == 144 * 32 * 2           # each weight's two cells, once per run
    assert mp.cycles == 3 * 128 + 192


def test_column_multiplexing_and_bit_serial_inputs():
    # 1-bit DAC, 1-bit cells, 128 x 128 crossbar, 8 columns per ADC (NeuroSim-like).
    xb = Crossbars(128, 128, 8, 1, 1, 16, 2.0)
    mp = map_gemm(xb, 1, 10, 100, 10, 8, 8)
    assert (mp.input_cycles, mp.cells_per_weight) == (8, 8)
    assert mp.adc_steps == 5                         # ceil(min(128, 80) / 16)
    assert mp.stream_cycles == 10 * 8 * 5
    assert mp.conversions == 1 * 10 * 8 * 80


def test_groups_take_their_own_crossbars():
    # depthwise 3x3 over 16 channels: 16 GEMMs of K = 9, N = 1.
    mp = map_gemm(MACRO, 16, 64, 9, 1, 8, 8)
    assert mp.tiles == 16 and mp.rounds == 1
    assert mp.conversions == 16 * 1 * 64 * 2 * 2


def test_activation_product_always_programs():
    mp = map_gemm(MACRO, 1, 4, 8, 8, 8, 8, constant_weights=False)
    assert mp.reprogrammed and mp.cell_writes == 8 * 8 * 2
    assert mp.program_cycles == 8 * 1.0


@pytest.mark.parametrize("in_bits,w_bits,peak", [(8, 8, 64 * 64 * 8 / 2), (4, 4, 64 * 64 * 16)])
def test_peak(in_bits, w_bits, peak):
    assert MACRO.peak_macs_per_cycle(in_bits, w_bits) == peak
