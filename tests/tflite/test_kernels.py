"""TFLite kernels against hand computations of TFLite's formulas."""

from __future__ import annotations

import numpy as np

from socsim.kernels.tflite.activations import HardSwish
from socsim.kernels.tflite.base import QParams, activation_range, round_away
from socsim.kernels.tflite.binary import AddSub, Mul
from socsim.kernels.tflite.pool import AveragePool2D, Mean


def q(scale: float, zp: int = 0) -> QParams:
    return QParams(np.array([scale], np.float32), np.array([zp]), "int8")


def test_round_away_is_std_round():
    v = np.array([2.5, -2.5, 0.5, -0.5, 1.4999999, np.float32(0.49999997)], np.float32)
    assert round_away(v).tolist() == [3, -3, 1, -1, 1, 0]


def test_activation_range_relu6():
    # scale 6/255, zero point -128: 0 -> -128, 6 -> -128 + round(255) = 127
    assert activation_range("RELU6", q(6 / 255, -128)) == (-128, 127)
    # scale 0.05, zero point 10: 0 -> 10, 6 -> 10 + 120 = 130 > 127
    assert activation_range("RELU6", q(0.05, 10)) == (10, 127)
    assert activation_range("RELU", q(0.05, 10)) == (10, 127)
    assert activation_range("RELU_N1_TO_1", q(0.05, 10)) == (-10, 30)


def test_add_rounds_half_away_from_zero():
    """s_a = s_b = 0.5, s_y = 1: 0.5*3 + 0.5*2 = 2.5. Hand-computed TFLite path: inputs
    3<<20 and 2<<20 times M = 2^30 (0.5 as Q0.31, shift 0): 1572864 + 1048576 = 2621440; output
    multiplier 2^-20 = 2^30 x 2^-50 (shift -19): high mul 1310720, then 1310720 / 2^19 = 2.5,
    rounded away from zero: 3 (onnxruntime's round-half-even would give 2)."""
    add = AddSub(q(0.5), q(0.5), q(1.0), subtract=False, activation="NONE")
    out = add(np.array([3, -3], np.int8), np.array([2, -2], np.int8))[0]
    assert out.tolist() == [3, -3]
    sub = AddSub(q(0.5), q(0.5), q(1.0), subtract=True, activation="NONE")
    assert sub(np.array([7], np.int8), np.array([2], np.int8))[0].tolist() == [3]  # 2.5 -> 3


def test_mul_uses_one_fixed_point_multiplier():
    # 0.5 * 0.5 / 0.25 = 1 exactly: (5 - 1) * (3 - 0) = 12, plus zp 2
    mul = Mul(q(0.5, 1), q(0.5), q(0.25, 2), activation="NONE")
    assert mul(np.array([5], np.int8), np.array([3], np.int8))[0].tolist() == [14]


def test_average_pool_divides_by_in_image_count_rounding_away():
    pool = AveragePool2D(q(1.0), q(1.0), filter_hw=(2, 2), stride=(2, 2), padding="SAME",
                         activation="NONE")
    x = np.array([1, 2, 7, -1, -2, -7, 5], np.int8).reshape(1, 1, 7, 1)
    out = pool(x)[0].reshape(-1).tolist()
    # windows (1, 2): 1.5 -> 2; (7, -1): 3; (-2, -7): -4.5 -> -5; (5): the lone in-image
    # element of the last window, divided by 1
    assert out == [2, 3, -5, 5]


def test_mean_folds_the_count_into_the_multiplier():
    """s_in / s_out = 1 -> (M, shift) = (2^30, 1); n = 3: k = 1, M' = (2^30 << 1) // 3 =
    715827882, shift 0. A sum of 5: 5 x 715827882 / 2^31 = 1.6667 -> 2; a sum of 4 -> 1."""
    mean = Mean(q(1.0), q(1.0), axes=(1,), out_shape=(2,))
    assert mean.multiplier(3) == (715827882, 0)
    assert mean(np.array([[1, 2, 2], [1, 1, 2]], np.int8))[0].tolist() == [2, 1]


def test_hard_swish_stays_within_one_step_of_the_real_function():
    x_q, y_q = q(0.05, 3), q(0.03, -40)
    hs = HardSwish(x_q, y_q)
    grid = np.arange(-128, 128, dtype=np.int8)
    got = hs(grid)[0].astype(np.int64)
    real = 0.05 * (grid.astype(np.float64) - 3)
    want = np.clip(np.round(real * np.clip(real + 3, 0, 6) / 6 / 0.03) - 40, -128, 127)
    assert np.max(np.abs(got - want)) <= 1


def test_single_rounding_build_stays_within_one_step_of_the_reference():
    """``requant: tflite_single`` (TFLITE_SINGLE_ROUNDING) on the first DS-CNN convolution:
    one rounding instead of two moves an element by at most one step from the reference."""
    from socsim.kernels.arithmetic import Arithmetic
    from socsim.kernels.tflite import compile_tflite
    from tests.conftest import REPO

    path = REPO / "tests" / "data" / "tflite" / "ds_cnn.tflite"
    ref = np.load(path.with_suffix(".npz"))
    single = compile_tflite(path, arithmetic=Arithmetic(requant="tflite_single"))
    step = single.steps[0]
    got = step.kernel(ref[f"t{step.inputs[0]}"])[0].astype(np.int64)
    want = ref[f"t{step.outputs[0]}"].astype(np.int64)
    assert np.max(np.abs(got - want)) <= 1
