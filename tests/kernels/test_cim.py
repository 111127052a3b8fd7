"""The CiM dot product (socsim.kernels.cim) against hand computations and exact integer
references.

References are independent of the module: exact products come from numpy int64 matmul and a
plain loop convolution; the ADC's hand cases are worked out in the comments.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socsim.kernels.cim import (
    CimDot,
    adc_dequantize,
    adc_quantize,
    cim_conv,
    cim_matmul,
    crossbar_product,
    exact_adc_bits,
    full_scale,
    round_half_even_div,
)


def _ref_conv(x, zx, w, zw, group, strides, pads):
    """Loop convolution of integers: sum (x - zx)(w - zw) over each window (2-D)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.full((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]), zx, np.int64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (xp.shape[2] - kh) // strides[0] + 1
    ow = (xp.shape[3] - kw) // strides[1] + 1
    wz = w.astype(np.int64) - np.asarray(zw, np.int64).reshape(-1, 1, 1, 1)
    y = np.zeros((n, m, oh, ow), np.int64)
    mg = m // group
    for o in range(m):
        g = o // mg
        for i in range(oh):
            for j in range(ow):
                win = xp[:, g * cg:(g + 1) * cg, i * strides[0]:i * strides[0] + kh,
                         j * strides[1]:j * strides[1] + kw]
                y[:, o, i, j] = ((win - zx) * wz[o]).reshape(n, -1).sum(axis=1)
    return y


def test_round_half_even_by_hand():
    # 5/2 = 2.5 -> 2, 7/2 = 3.5 -> 4, 7/3 = 2.33 -> 2, 8/3 = 2.67 -> 3, 0/5 = 0
    n = np.array([5, 7, 7, 8, 0])
    d = np.array([2, 2, 3, 3, 5])
    assert round_half_even_div(n, d).tolist() == [2, 4, 2, 3, 0]


def test_adc_by_hand():
    # 2-bit ADC (L = 3) over full scale 9: psum 4 -> 4*3/9 = 1.33 -> code 1 -> 1*9/3 = 3;
    # psum 5 -> 1.67 -> 2 -> 6; psum 9 -> 3 -> 9; psum 0 -> 0; psum 1.5*... psum 6 -> 2 -> 6.
    psum = np.array([4, 5, 9, 0, 6])
    code = adc_quantize(psum, 9, 2)
    assert code.tolist() == [1, 2, 3, 0, 2]
    assert adc_dequantize(code, 9, 2).tolist() == [3, 6, 9, 0, 6]


def test_full_scale_and_exact_bits_by_hand():
    spec = CimDot(rows=64, dac_bits=4, bits_per_cell=4, adc_bits=4)
    assert int(full_scale(64, spec)) == 64 * 15 * 15  # 14400
    assert exact_adc_bits(spec) == 14                 # 2^13 - 1 < 14400 <= 2^14 - 1
    assert exact_adc_bits(spec, k=9) == 11            # 9 * 225 = 2025 <= 2047
    assert exact_adc_bits(CimDot(128, 1, 1, 8)) == 8  # 128 <= 255


def test_one_tile_by_hand():
    # 2 rows, 2-bit inputs sent 1 bit per cycle, 2-bit weights in 1-bit cells, 1-bit ADC.
    # a = [3, 1], w = [[2], [3]]: exact a.w = 6 + 3 = 9.
    # Slices: x0 = [1, 1], x1 = [1, 0]; c0 = [0, 1], c1 = [1, 1]; FS = 2 * 1 * 1 = 2, L = 1.
    # psum(x0,c0) = 1 -> round(0.5) = 0 -> 0;  psum(x0,c1) = 2 -> 1 -> 2;
    # psum(x1,c0) = 0 -> 0;                    psum(x1,c1) = 1 -> round(0.5) = 0 -> 0.
    # P_hat = 0*1 + 2*2 + 0*2 + 0*4 = 4.
    a = np.array([[3, 1]], np.int64)
    w = np.array([[2], [3]], np.int64)
    spec = CimDot(rows=2, dac_bits=1, bits_per_cell=1, adc_bits=1)
    out, stats = crossbar_product(a, w, 2, 2, spec)
    assert out.tolist() == [[4]]
    assert stats.conversions == 4 and stats.inexact == 2
    exact, stats = crossbar_product(a, w, 2, 2, CimDot(2, 1, 1, 2))  # L = 3 >= FS = 2
    assert exact.tolist() == [[9]] and stats.inexact == 0


_int8 = st.integers(-128, 127)


@settings(max_examples=60, deadline=None)
@given(p=st.integers(1, 4), k=st.integers(1, 150), n=st.integers(1, 6),
       rows=st.sampled_from([1, 3, 16, 64, 128]), dac=st.integers(1, 4),
       cell=st.integers(1, 4), signed=st.booleans(), per_channel=st.booleans(),
       seed=st.integers(0, 2**31 - 1), extra=st.integers(0, 3))
def test_enough_adc_bits_is_exact(p, k, n, rows, dac, cell, signed, per_channel, seed, extra):
    """With adc_bits >= exact_adc_bits the CiM product equals the exact integer product."""
    rng = np.random.default_rng(seed)
    a = (rng.integers(-128, 128, (p, k)).astype(np.int8) if signed
         else rng.integers(0, 256, (p, k)).astype(np.uint8))
    za = int(rng.integers(-128, 128)) if signed else int(rng.integers(0, 256))
    w = rng.integers(-128, 128, (k, n)).astype(np.int8)
    zw = rng.integers(-4, 5, n) if per_channel else int(rng.integers(-4, 5))
    spec0 = CimDot(rows, dac, cell, 1)
    spec = CimDot(rows, dac, cell, exact_adc_bits(spec0, k) + extra)
    got, stats = cim_matmul(a, za, w, np.asarray(zw), spec)
    ref = (a.astype(np.int64) - za) @ (w.astype(np.int64) - np.asarray(zw, np.int64))
    np.testing.assert_array_equal(got, ref)
    assert stats.inexact == 0


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 128), dac=st.integers(1, 4), cell=st.integers(1, 4))
def test_quantizer_is_identity_exactly_from_exact_bits(rows, dac, cell):
    """Over every partial sum 0..FS, the ADC round trip is the identity at exact_adc_bits and
    is not one bit below it."""
    spec = CimDot(rows, dac, cell, 1)
    fs = int(full_scale(rows, spec))
    bits = exact_adc_bits(spec)
    psum = np.arange(fs + 1)
    assert np.array_equal(adc_dequantize(adc_quantize(psum, fs, bits), fs, bits), psum)
    if bits > 1:
        low = adc_dequantize(adc_quantize(psum, fs, bits - 1), fs, bits - 1)
        assert not np.array_equal(low, psum)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(2, 200), bits=st.integers(1, 7), seed=st.integers(0, 2**31 - 1))
def test_quantized_error_within_bound(k, bits, seed):
    """Each conversion errs by at most half a step (FS / L / 2) plus the dequantization's 1/2,
    and the shift-add weights of 8-bit operands sum to (2^8 - 1)^2 per tile."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (32, k)).astype(np.int64)
    w = rng.integers(0, 256, (k, 8)).astype(np.int64)
    spec = CimDot(64, 1, 1, bits)
    got, stats = crossbar_product(a, w, 8, 8, spec)
    ref = a @ w
    tiles = -(-k // 64)
    fs = int(full_scale(64, spec))
    bound = tiles * (255 * 255) * (fs / ((1 << bits) - 1) / 2 + 0.5)
    assert np.abs(got - ref).max() <= bound
    assert stats.conversions == 8 * 8 * tiles * 32 * 8


def test_error_shrinks_with_adc_bits():
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, (64, 288)).astype(np.int8)
    w = rng.integers(-128, 128, (288, 32)).astype(np.int8)
    ref = (a.astype(np.int64) + 3) @ w.astype(np.int64)
    errs = []
    for bits in (4, 6, 8, 10, 12, 14):
        got, _ = cim_matmul(a, -3, w, 0, CimDot(64, 4, 4, bits))
        errs.append(float(np.abs(got - ref).mean()))
    assert errs == sorted(errs, reverse=True) and errs[-1] == 0.0


@pytest.mark.parametrize("group,strides,pads", [(1, (1, 1), (1, 1, 1, 1)),
                                                (2, (2, 1), (0, 1, 2, 0)),
                                                (4, (1, 1), (1, 1, 1, 1))])
def test_conv_exact_matches_loop_reference(group, strides, pads):
    rng = np.random.default_rng(group)
    x = rng.integers(-128, 128, (2, 4, 6, 5)).astype(np.int8)
    w = rng.integers(-128, 128, (8, 4 // group, 3, 3)).astype(np.int8)
    zw = rng.integers(-2, 3, 8)
    spec = CimDot(16, 2, 2, exact_adc_bits(CimDot(16, 2, 2, 1)))
    got, stats = cim_conv(x, np.int8(-7), w, zw, group, strides, (1, 1), pads, spec)
    ref = _ref_conv(x.astype(np.int64), -7, w, zw, group, strides, pads)
    np.testing.assert_array_equal(got, ref)
    assert stats.inexact == 0 and stats.conversions > 0


def test_conv_low_adc_bits_equals_matmul_of_windows():
    """The conv is the matmul of its windows: the same quantized partial sums."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (1, 3, 4, 4)).astype(np.uint8)
    w = rng.integers(-128, 128, (5, 3, 2, 2)).astype(np.int8)
    spec = CimDot(8, 4, 2, 3)
    got, _ = cim_conv(x, np.uint8(10), w, None, 1, (1, 1), (1, 1), (0, 0, 0, 0), spec)
    rows = np.stack([x[0, :, i:i + 2, j:j + 2].reshape(-1) for i in range(3) for j in range(3)])
    want, _ = cim_matmul(rows, 10, w.reshape(5, -1).T, None, spec)
    np.testing.assert_array_equal(got[0].reshape(5, -1).T, want)


def test_bad_spec_is_refused():
    with pytest.raises(ValueError, match="adc_bits"):
        CimDot(64, 4, 4, 0)


def test_tabulated_adc_equals_the_formula(monkeypatch):
    """The round trip through a table of 0..FS gives the formula's values on every psum."""
    import socsim.kernels.cim as cim

    rng = np.random.default_rng(11)
    a = rng.integers(0, 256, (40, 150)).astype(np.int64)
    w = rng.integers(0, 256, (150, 6)).astype(np.int64)
    spec = CimDot(64, 2, 2, 5)
    tabulated, s1 = crossbar_product(a, w, 8, 8, spec)
    monkeypatch.setattr(cim, "_TABLE_MAX", -1)
    direct, s2 = crossbar_product(a, w, 8, 8, spec)
    np.testing.assert_array_equal(tabulated, direct)
    assert s1 == s2 and s1.inexact > 0


def test_batched_matmul_hook_is_one_product_per_batch_entry():
    """CimDot.matmul on batched weights (a MatMul of activations) equals a loop of 2-D
    products, and is exact with enough bits."""
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (3, 4, 20)).astype(np.int8)
    b = rng.integers(-128, 128, (3, 20, 6)).astype(np.int8)
    low = CimDot(8, 2, 2, 3)
    got = low.matmul(a, np.int8(2), b, None)
    for i in range(3):
        np.testing.assert_array_equal(got[i], cim_matmul(a[i], 2, b[i], None, low)[0])
    exact = CimDot(8, 2, 2, exact_adc_bits(low))
    want = np.matmul(a.astype(np.int64) - 2, b.astype(np.int64))
    np.testing.assert_array_equal(exact.matmul(a, np.int8(2), b, None), want)
