"""Host-independent calibration (socsim.zoo._calibrate): the grid, the float64 ranges, and their
use by the quantizer, each against a hand computation."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
import pytest
from _zoo_reference import SMALL
from onnx import TensorProto, helper, numpy_helper

from socsim.zoo import registry
from socsim.zoo._calibrate import GRID_BITS, calibration_ranges, float64_ranges, round_outward

Built = Callable[[str], onnx.ModelProto]


@pytest.mark.parametrize(("value", "up", "want"), [
    (math.pi, True, 202 / 64), (math.pi, False, 201 / 64),  # pi * 64 = 201.06...
    (-math.pi, True, -201 / 64), (-math.pi, False, -202 / 64),
    (1.0, True, 1.0), (1.0, False, 1.0), (0.0, True, 0.0), (-0.0, False, 0.0),
    (0.99958, True, 1.0), (0.99958, False, 255 / 256), (-0.99958, False, -1.0),
    (3 * 2.0**-100 + 2.0**-110, True, 3 * 2.0**-100 + 2.0**-106),  # 8 bits: steps of 2**-106
])
def test_round_outward_by_hand(value: float, up: bool, want: float) -> None:
    assert round_outward(value, up, 8) == want


def test_round_outward_keeps_grid_bits_and_contains_the_value() -> None:
    rng = np.random.default_rng(5)
    for v in rng.standard_normal(2000) * np.exp2(rng.integers(-30, 30, 2000)):
        lo, hi = round_outward(float(v), False), round_outward(float(v), True)
        assert lo <= v <= hi and hi - lo <= abs(v) * 2.0 ** (1 - GRID_BITS)
        for r in (lo, hi):
            mant = math.frexp(r)[0]
            assert math.ldexp(mant, GRID_BITS).is_integer() and float(np.float32(r)) == r
    with pytest.raises(ValueError, match="not finite"):
        round_outward(math.nan, True)


def _tiny_model() -> onnx.ModelProto:
    # y = Relu(x) * 3 + b, with a Softmax output too: ranges are worked out by hand below.
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "k"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["y"]),
             helper.make_node("Softmax", ["y"], ["s"], axis=-1)]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.array(3, np.float32), "k"),
         numpy_helper.from_array(np.array([0, 0, 0, 0.1], np.float32), "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_float64_ranges_by_hand() -> None:
    samples = [{"x": np.array([[-2, -1, 0.5, 1]], np.float32)},
               {"x": np.array([[1, 2, -3, 0.25]], np.float32)}]
    got = float64_ranges(_tiny_model(), samples)
    assert set(got) == {"x", "r", "m", "y", "s"}  # no constants
    assert got["x"] == (-3.0, 2.0) and got["r"] == (0.0, 2.0) and got["m"] == (0.0, 6.0)
    # y = [0, 0, 1.5, 3.1] and [3, 6, 0, 0.85]; 0.1 is float32's 0.1, kept in float64.
    b = float(np.float32(0.1))
    assert got["y"] == (0.0, 6.0)
    e1 = np.exp(np.array([0, 0, 1.5, 3 + b]) - (3 + b))
    e2 = np.exp(np.array([3, 6, 0, 0.75 + b]) - 6)
    s1, s2 = e1 / e1.sum(), e2 / e2.sum()
    lo, hi = min(s1.min(), s2.min()), max(s1.max(), s2.max())
    assert got["s"] == (lo, hi)  # the same float64 operations in the same order
    grid = calibration_ranges(_tiny_model(), samples)
    assert grid["x"] == (np.float32(-3), np.float32(2)) and grid["m"] == (0, 6)
    assert grid["s"][1] == np.float32(round_outward(float(got["s"][1]), True))


def test_int8_input_scale_is_the_grid_range(built: Built) -> None:
    # ds_cnn's calibration inputs are uniform on (-1, 1); their extremes (|x| > 255/256) round
    # outward to exactly -1 and 1, so the input QuantizeLinear has scale 2/255 (float32) and
    # zero point round(-128 + 127.5) = 0, as onnxruntime's compute_scale_zp makes them.
    model = built("ds_cnn_int8")
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    (q,) = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "input"]
    assert inits[q.input[1]] == np.float32(2) / np.float32(255)
    assert inits[q.input[2]] == 0
    props = {p.key: p.value for p in model.metadata_props}
    assert f"{GRID_BITS} significant bits" in props["socsim.zoo.quantizer"]


# Hosts disagree on a float64 range end by at most ~6e-16 relative (measured: the small models'
# ranges on an AVX-512 host and under qemu-x86_64 -cpu Haswell). An end that far from a grid
# point rounds the same way on every host; this margin leaves room for six orders of magnitude.
_MARGIN = 1e-9


def _grid_distance(value: float) -> float:
    scaled = math.ldexp(math.frexp(value)[0], GRID_BITS)
    return min(scaled - math.floor(scaled), math.ceil(scaled) - scaled) / abs(scaled)


@pytest.mark.parametrize("name", SMALL)
def test_range_ends_sit_far_from_grid_points(name: str) -> None:
    # An end exactly on the grid must be exact on every host: 0, a graph input (float32 values
    # from numpy's generator) or a Clip/Relu bound; any other end keeps its distance.
    spec = registry.spec(name)
    model = spec.build(0)
    rng = np.random.default_rng([0, registry._CALIBRATION_STREAM])
    samples = [registry._draw(spec, rng) for _ in range(registry.CALIBRATION_SAMPLES)]
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    exact = {"input"} | {t for t, op in producer.items() if op in ("Clip", "Relu")}
    for tensor, ends in float64_ranges(model, samples).items():
        for end in ends:
            if end == 0.0 or (tensor in exact and _grid_distance(end) == 0.0):
                continue
            assert _grid_distance(end) > _MARGIN, (tensor, end)
