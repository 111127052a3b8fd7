"""The generators' building blocks: TensorFlow 'same' padding and per-layer seeding."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from socsim.zoo._builder import GraphBuilder, same_pads


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pads"),
    [
        ((224, 224), (3, 3), (2, 2), [0, 0, 1, 1]),  # MobileNetV2 stem: odd pixel at the end
        ((112, 112), (3, 3), (1, 1), [1, 1, 1, 1]),
        ((49, 10), (10, 4), (2, 2), [4, 1, 5, 1]),  # DS-CNN: total 9 rows, 2 columns
        ((32, 32), (1, 1), (2, 2), [0, 0, 0, 0]),  # ResNet-8 projection shortcut
        ((7, 7), (3, 3), (2, 2), [1, 1, 1, 1]),
    ],
)
def test_same_pads_match_tensorflow(size, kernel, stride, pads) -> None:
    # TensorFlow: out = ceil(n / s); total = max((out - 1) * s + k - n, 0); begin = total // 2.
    assert same_pads(size, kernel, stride) == pads


def test_conv_output_shape_matches_onnxruntime() -> None:
    g = GraphBuilder("t", seed=0)
    x = g.input("input", (1, 1, 49, 10))
    y = g.conv(x, "conv", 8, (10, 4), (2, 2))
    g.output(y)
    sess = ort.InferenceSession(
        g.model("t").SerializeToString(), providers=["CPUExecutionProvider"]
    )
    out = sess.run(None, {"input": np.zeros(x.shape, np.float32)})[0]
    assert out.shape == y.shape == (1, 8, 25, 5)


def test_layer_weights_depend_on_seed_and_name_only() -> None:
    def weights(order: list[str], seed: int) -> dict[str, np.ndarray]:
        g = GraphBuilder("t", seed=seed)
        x = g.input("input", (1, 4, 8, 8))
        for name in order:
            g.conv(x, name, 4, (3, 3))
        return {i.name: numpy_helper.to_array(i) for i in g._inits}

    a, b = weights(["a", "b"], 0), weights(["b", "a"], 0)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["a.weight"], a["b.weight"])
    assert not np.array_equal(a["a.weight"], weights(["a"], 1)["a.weight"])


def test_duplicate_node_names_are_rejected() -> None:
    g = GraphBuilder("t", seed=0)
    x = g.input("input", (1, 4))
    g.relu(x, "act")
    with pytest.raises(ValueError, match="duplicate node name 'act'"):
        g.relu(x, "act")
