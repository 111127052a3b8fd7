"""MobileNetV2 1.0 at 224x224 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear
Bottlenecks", CVPR 2018, arXiv:1801.04381, Table 2).

Stem 3x3/2 conv to 32, seventeen inverted-residual blocks (1x1 expansion by ``t``, 3x3 depthwise,
linear 1x1 projection; a residual Add when stride is 1 and the width is unchanged), a 1x1 conv to
1280, global average pooling and a 1000-way classifier. ReLU6 is ``Clip(0, 6)``; BatchNorm is
folded into the convs. Padding is TensorFlow ``same`` (the paper's reference implementation), i.e.
the stride-2 3x3 convs pad one pixel at the bottom/right only.

Published: 3.4M parameters, 300M multiply-adds (paper, Table 4). This graph: 300,774,272 MACs
(convs and classifier) and 3,487,816 parameters, i.e. torchvision's 3,504,872 (convs without bias
plus BatchNorm gamma and beta on 17,056 channels) with each BatchNorm folded to one bias per
channel.
"""

from __future__ import annotations

import onnx

from socsim.zoo._builder import GraphBuilder, Value

INPUT_SHAPE = (1, 3, 224, 224)
NUM_CLASSES = 1000

# (expansion t, output channels c, repeats n, first stride s), Table 2 of the paper.
_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

_RESIDUAL_GAIN = 0.5
"""Damps the projection of residual blocks so stacked Adds do not inflate activations."""


def _inverted_residual(g: GraphBuilder, x: Value, i: int, t: int, cout: int, stride: int) -> Value:
    cin = x.shape[1]
    residual = stride == 1 and cin == cout
    p = f"block{i}"
    y = x
    if t != 1:
        y = g.relu6(g.conv(y, f"{p}_expand_conv", cin * t, (1, 1)), f"{p}_expand_relu6")
    hidden = y.shape[1]
    y = g.conv(y, f"{p}_dw_conv", hidden, (3, 3), (stride, stride), group=hidden)
    y = g.relu6(y, f"{p}_dw_relu6")
    y = g.conv(
        y,
        f"{p}_project_conv",
        cout,
        (1, 1),
        relu_follows=False,
        gain=_RESIDUAL_GAIN if residual else 1.0,
    )
    return g.add(x, y, f"{p}_add") if residual else y


def build(seed: int = 0) -> onnx.ModelProto:
    """Builds float32 MobileNetV2 1.0 (input ``input`` [1,3,224,224], output ``logits`` [1,1000]).

    Args:
        seed: weight seed.
    """
    g = GraphBuilder("mobilenetv2", seed)
    x = g.input("input", INPUT_SHAPE)
    x = g.relu6(g.conv(x, "stem_conv", 32, (3, 3), (2, 2)), "stem_relu6")
    i = 0
    for t, c, n, s in _SETTINGS:
        for r in range(n):
            x = _inverted_residual(g, x, i, t, c, s if r == 0 else 1)
            i += 1
    x = g.relu6(g.conv(x, "head_conv", 1280, (1, 1)), "head_relu6")
    x = g.flatten(g.global_avg_pool(x, "pool"), "flatten")
    g.output(g.gemm(x, "classifier", NUM_CLASSES, out="logits"))
    return g.model("MobileNetV2 1.0 224 (Sandler et al. 2018), seeded random weights, BN folded")
