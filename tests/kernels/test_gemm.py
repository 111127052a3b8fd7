"""Blocked products against one product.

:func:`socsim.kernels._gemm.matmul_row_blocks` (the planned QLinearConv) gets integers whose
partial sums stay below 2^24, so float32 adds them exactly in any order and any blocking: the
result must equal the int64 product bit for bit, whichever way the rows are cut (one product,
equal or unequal blocks, a transposed view as the pointwise path passes).

:func:`socsim.kernels._gemm.matmul_blocks` (the float Conv) gets float sums, which blocks may
reorder: whatever it decides for a shape, it must give the bits of the one stacked product the
float Conv computed before, on operands other than those it decided on.
"""

from __future__ import annotations

import numpy as np
import pytest

from socsim.kernels import _gemm
from socsim.kernels._gemm import _NARROW, _PANEL_BYTES, matmul_blocks, matmul_row_blocks


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


@pytest.mark.parametrize(("m", "k", "p", "batch"), [
    (16, 144, 1024, 1),   # ResNet-8's first 3x3 convolution
    (16, 144, 1024, 2),
    (8, 300, 999, 1),     # blocks of unequal width
    (16, 97, 3001, 1),    # blocks that change OpenBLAS's kernel (SkylakeX): one product
    (32, 144, 256, 1),    # below the size threshold: one product
    (4, 2000, 64, 3),
])
def test_float_blocks_give_the_bits_of_one_product(m: int, k: int, p: int, batch: int) -> None:
    rng = np.random.default_rng(m * k + p)
    w = rng.standard_normal((m, k)).astype(np.float32)
    cols = (rng.standard_normal((batch, k, p)) * 10).astype(np.float32)
    got = matmul_blocks(w, cols)
    assert got.shape == (batch, m, p) and got.dtype == np.float32
    np.testing.assert_array_equal(got, np.matmul(w[None, None], cols[:, None])[:, 0])


def test_float_blocks_fall_back_where_they_disagreed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(_gemm, "_column_blocks", lambda *a: calls.append(a) or 1 / 0)
    monkeypatch.setitem(_gemm._BLOCKS_AGREE, (16, 144, 1024, np.dtype(np.float32),
                                              np.dtype(np.float32)), False)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 144)).astype(np.float32)
    cols = rng.standard_normal((1, 144, 1024)).astype(np.float32)
    np.testing.assert_array_equal(matmul_blocks(w, cols), (w @ cols[0])[None])
    assert not calls
