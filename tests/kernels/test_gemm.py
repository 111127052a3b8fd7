"""Blocked exact products (:func:`socsim.kernels._gemm.matmul_row_blocks`) against int64 sums.

The planned QLinearConv feeds the BLAS integers whose partial sums stay below 2^24, so float32
adds them exactly in any order and any blocking; the result must equal the int64 product bit
for bit, whichever way the rows are cut (one product, equal or unequal blocks, a transposed
view as the pointwise path passes).
"""

from __future__ import annotations

import numpy as np
import pytest

from socsim.kernels._gemm import _NARROW, _PANEL_BYTES, matmul_row_blocks


@pytest.mark.parametrize(("p", "k", "m", "transposed"), [
    (1024, 145, 16, False),  # ResNet-8's planned 3x3 QLinearConv: blocked
    (12544, 33, 16, True),   # a pointwise layer whose columns are a transposed view
    (3001, 97, 24, False),   # blocks of unequal height
    (256, 289, 32, False),   # wide: one product
    (64, 577, 64, False),    # small: one product
])
def test_row_blocks_equal_the_int64_product(p: int, k: int, m: int, transposed: bool) -> None:
    rng = np.random.default_rng(p + k + m)
    a = rng.integers(0, 256, (k, p) if transposed else (p, k))
    a = a.T if transposed else a
    a[:, -1] = 1  # the folded bias's column of ones
    w = rng.integers(-128, 128, (k, m)).clip(-(2**23 // (255 * k)), 2**23 // (255 * k))
    w[-1] = rng.integers(-(2**20), 2**20, m)
    bound = 255 * np.abs(w[:-1]).sum(axis=0) + np.abs(w[-1])
    assert bound.max() < 2**24  # every partial sum exact in float32
    af = a.astype(np.float32)
    got = matmul_row_blocks(af.T.copy().T if transposed else af, w.astype(np.float32))
    assert got.shape == (p, m) and got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got.astype(np.int64), a @ w)


def test_only_large_narrow_products_are_blocked() -> None:
    a = np.ones((1024, 145), np.float32)
    assert a.nbytes > _PANEL_BYTES
    narrow, wide = np.ones((145, _NARROW - 1), np.float32), np.ones((145, _NARROW), np.float32)
    np.testing.assert_array_equal(matmul_row_blocks(a, narrow), np.full((1024, 31), 145.0))
    np.testing.assert_array_equal(matmul_row_blocks(a, wide), np.full((1024, 32), 145.0))
