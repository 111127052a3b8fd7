"""DS-CNN, the MLPerf Tiny keyword-spotting reference (Google Speech Commands, 12 classes).

Source: ``ds_cnn`` in ``benchmark/training/keyword_spotting/keras_model.py`` of mlcommons/tiny,
itself the DS-CNN-S of Zhang et al., "Hello Edge: Keyword Spotting on Microcontrollers"
(arXiv:1711.07128). Input is 49 frames x 10 MFCC coefficients (NCHW ``[1, 1, 49, 10]``).

A 10x4 stride-2 conv to 64 channels (output 25x5), four depthwise-separable blocks (3x3
depthwise + 1x1 pointwise, 64 channels, each followed by ReLU), an average pool and a Dense layer
to 12 classes. BatchNorm is folded; padding is Keras ``same`` (the 10x4 conv pads 4 rows on top, 5
below and 1 column each side). The reference pools with ``AveragePooling2D(pool_size=(24, 5))``
(``int(49/2), int(10/2)``) on the 25x5 map, so the pooled window skips the last row: reproduced
here as an AveragePool, not a GlobalAveragePool. The reference ends in softmax; this graph returns
``logits``.

Published: ~2.7M MACs (Hello Edge: 5.4M ops). Hello Edge quotes DS-CNN-S as "38.6K", but that is
its *memory* figure (8-bit weights plus activation buffers); the parameter count is 22,604 with
BatchNorm folded into conv biases (Keras counts 24,908 including BatchNorm's four per-channel
values).
"""

from __future__ import annotations

import onnx

from socsim.zoo._builder import GraphBuilder

INPUT_SHAPE = (1, 1, 49, 10)
NUM_CLASSES = 12
FILTERS = 64
BLOCKS = 4


def build(seed: int = 0) -> onnx.ModelProto:
    """Builds float32 DS-CNN (input ``input`` [1,1,49,10], output ``logits`` [1,12]).

    Args:
        seed: weight seed.
    """
    g = GraphBuilder("ds_cnn", seed)
    x = g.input("input", INPUT_SHAPE)
    x = g.relu(g.conv(x, "conv1", FILTERS, (10, 4), (2, 2)), "conv1_relu")
    for i in range(1, BLOCKS + 1):
        x = g.conv(x, f"ds{i}_dw_conv", FILTERS, (3, 3), group=FILTERS)
        x = g.relu(x, f"ds{i}_dw_relu")
        x = g.relu(g.conv(x, f"ds{i}_pw_conv", FILTERS, (1, 1)), f"ds{i}_pw_relu")
    pool = (INPUT_SHAPE[2] // 2, INPUT_SHAPE[3] // 2)
    x = g.flatten(g.avg_pool(x, "pool", pool), "flatten")
    g.output(g.gemm(x, "classifier", NUM_CLASSES, out="logits"))
    return g.model("DS-CNN, MLPerf Tiny keyword spotting, seeded random weights, BN folded")
