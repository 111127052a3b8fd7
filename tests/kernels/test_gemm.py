"""Blocked float products (:func:`socsim.kernels._gemm.matmul_blocks`) against one product.

The float Conv computes in the BLAS's order; cutting the columns into blocks must not change a
bit of it. Random float32 sums of a hundred or more products differ in their last bits under
almost any change of order, so equal arrays here mean the same order, not luck.
"""

from __future__ import annotations

import numpy as np
import pytest

from socsim.kernels._gemm import _PANEL_BYTES, conv_nd, matmul_blocks


@pytest.mark.parametrize(("m", "k", "p", "batch"), [
    (16, 144, 1024, 1),   # ResNet-8's first 3x3 convolution: blocked
    (16, 144, 1024, 2),
    (8, 300, 999, 1),     # blocks of unequal width
    (32, 144, 256, 1),    # below the threshold: one product
    (4, 2000, 64, 3),
])
def test_blocks_give_the_bits_of_one_product(m: int, k: int, p: int, batch: int) -> None:
    rng = np.random.default_rng(m * k + p)
    w = rng.standard_normal((m, k)).astype(np.float32)
    cols = rng.standard_normal((batch, k, p)).astype(np.float32)
    got = matmul_blocks(w, cols)
    assert got.shape == (batch, m, p) and got.dtype == np.float32
    for b in range(batch):
        np.testing.assert_array_equal(got[b], w @ cols[b])
    # and the same as the stacked product the float Conv used before
    np.testing.assert_array_equal(got[:, None], np.matmul(w[None, None], cols[:, None]))


def test_blocked_convolution_matches_the_single_product() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 16, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    assert 16 * 9 * 32 * 32 * 4 > _PANEL_BYTES  # this one goes through blocks
    got = conv_nd(x, w, 1, [1, 1], [1, 1], np.float32, [1, 1, 1, 1])
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    cols = np.ascontiguousarray(cols.transpose(0, 1, 4, 5, 2, 3)).reshape(1, 144, 1024)
    np.testing.assert_array_equal(got.reshape(1, 16, -1), w.reshape(16, -1) @ cols)
