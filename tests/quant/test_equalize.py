"""Cross-layer equalization keeps the float function and narrows per-channel ranges."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import numpy_helper

from socsim.quant import equalize
from socsim.quant.equalize import equalization_pairs


def _run(model, x):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"input": x})[0]


def test_equalization_keeps_function_and_narrows_spread(digits):
    _, model, _, test = digits
    eq, pairs = equalize(model)
    x = test["input"][:64]
    a, b = _run(model, x), _run(eq, x)
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())
    assert len(pairs) == len(equalization_pairs(model)) >= 7
    # the last depthwise layer's ~1,200x max/min channel spread (a near-dead channel) is the
    # one per-tensor quantization cannot cover; after equalization no layer exceeds 4x
    assert max(p.spread_before for p in pairs) > 1000
    assert max(p.spread_after for p in pairs) < 4
    # a balanced pair may widen a layer that was already narrow, never the network overall
    assert sum(np.log(p.spread_after) for p in pairs) < sum(np.log(p.spread_before)
                                                           for p in pairs) / 2


def test_pair_ranges_are_equal_after_equalization(digits):
    # Nagel eq. 10: after convergence r1_i = r2_i = sqrt(r1_i r2_i) for each channel.
    _, model, _, _ = digits
    eq, _ = equalize(model, iterations=200, tol=1e-9)
    w = {i.name: numpy_helper.to_array(i) for i in eq.graph.initializer}
    first, second = equalization_pairs(eq)[0]  # conv1 -> depthwise conv2
    r1 = np.abs(w[first.input[1]]).reshape(w[first.input[1]].shape[0], -1).max(1)
    w2 = w[second.input[1]]
    r2 = np.abs(w2).reshape(w2.shape[0], -1).max(1)
    np.testing.assert_allclose(r1, r2, rtol=1e-3)
