"""Calibration thresholds on samples whose answer is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from socsim.quant.calibrate import entropy_threshold, mse_threshold, percentile_threshold

B = 1.0
N = 2_000_000


@pytest.fixture(scope="module")
def laplace_hist():
    x = np.random.default_rng(0).laplace(0.0, B, N)
    a = np.abs(x)
    edges = np.linspace(0, a.max(), 2049)
    return np.histogram(a, edges)[0], edges, x


@pytest.mark.parametrize("p", [99.0, 99.9, 99.99])
def test_percentile_of_laplace(laplace_hist, p):
    # |X| ~ Exponential(b): P(|X| > t) = exp(-t / b)  =>  t = -b ln(1 - p/100)
    hist, edges, _ = laplace_hist
    expected = -B * np.log(1 - p / 100)
    step = edges[1] - edges[0]
    assert abs(percentile_threshold(hist, edges, p) - expected) < 0.02 * expected + step


@pytest.mark.parametrize("bits", [4, 8])
def test_mse_matches_closed_form(laplace_hist, bits):
    # Expected MSE of a symmetric quantizer with step T/qmax on Laplace(b):
    # clipping 2 b^2 exp(-T/b) + rounding (T/qmax)^2 / 12 (Banner et al., ACIQ, 2019);
    # its minimiser, found here by a dense grid, is the known answer.
    hist, edges, _ = laplace_hist
    qmax = 2 ** (bits - 1) - 1
    t = np.linspace(0.5, 15, 200_001)
    expected = t[np.argmin(2 * B**2 * np.exp(-t / B) + (t / qmax) ** 2 / 12)]
    assert mse_threshold(hist, edges, bits) == pytest.approx(expected, rel=0.06)


def test_entropy_hand_computed():
    # bits=2 -> 2 levels; hist [8, 4, 0, 1] over edges 0..4.
    # i=2: ref [8, 5] (tail folded), candidate [8, 4]: KL = 8/13 ln((8/13)/(2/3))
    #      + 5/13 ln((5/13)/(1/3)) = 0.00578
    # i=3: ref [8, 4, 1] has mass where the candidate's bin is empty (hist[2] = 0): skipped
    # i=4: ref [8, 4, 0, 1], candidate [6, 6, 0, 1]: KL = 8/13 ln(8/6) + 4/13 ln(4/6) = 0.0523
    # -> minimum at i=2, threshold = edges[2] = 2
    assert entropy_threshold(np.array([8, 4, 0, 1]), np.arange(5.0), bits=2) == 2.0
    # hist [4, 2, 1, 1]: KL(i=2) = 0.0589, KL(i=3) = 0.0822, KL(i=4) = 0.0425 -> edges[4]
    assert entropy_threshold(np.array([4, 2, 1, 1]), np.arange(5.0), bits=2) == 4.0


def test_entropy_on_laplace_clips_the_tail(laplace_hist):
    # KL clipping keeps more than the 99.9th percentile (6.9 b) and cuts the sparse tail
    # (the sample maximum of 2e6 draws is ~15 b).
    hist, edges, _ = laplace_hist
    t = entropy_threshold(hist, edges, 8)
    assert -B * np.log(1e-3) < t < 0.9 * edges[-1]


def test_entropy_of_uniform_keeps_the_range():
    x = np.random.default_rng(1).uniform(-1, 1, 500_000)
    edges = np.linspace(0, 1, 2049)
    hist = np.histogram(np.abs(x), edges)[0]
    assert entropy_threshold(hist, edges, 8) > 0.95
