"""ResNet-8, the MLPerf Tiny image-classification reference (CIFAR-10).

Source: ``resnet_v1_eembc`` in ``benchmark/training/image_classification/keras_model.py`` of
mlcommons/tiny (originally EEMBC's), as submitted in MLPerf Tiny v0.5/v1.0 with 16 base filters
(Banbury et al., "MLPerf Tiny Benchmark", NeurIPS Datasets and Benchmarks 2021).

A 3x3 conv to 16, then three stacks of two 3x3 convs with a residual Add and ReLU (16, 32, 64
filters; stacks 2 and 3 stride 2 and use a 1x1 stride-2 projection conv on the shortcut, without
BatchNorm, as the reference does), an 8x8 average pool, and a Dense layer to 10 classes. BatchNorm
is folded; padding is Keras ``same``. The reference ends in softmax; this graph returns the
pre-softmax ``logits`` (softmax does not change the argmax, and a simulator costs it separately).

Published: ~78K parameters (Keras counts 78,666 with BatchNorm's four per-channel values; folded
into conv biases that is 77,706), ~12.5M MACs.
"""

from __future__ import annotations

import onnx

from socsim.zoo._builder import GraphBuilder, Value

INPUT_SHAPE = (1, 3, 32, 32)
NUM_CLASSES = 10
FILTERS = (16, 32, 64)

_RESIDUAL_GAIN = 0.5
"""Damps the last conv of each residual branch so the Adds do not inflate activations."""


def _stack(g: GraphBuilder, x: Value, i: int, filters: int, stride: int) -> Value:
    p = f"stack{i}"
    y = g.conv(x, f"{p}_conv1", filters, (3, 3), (stride, stride))
    y = g.relu(y, f"{p}_relu1")
    y = g.conv(y, f"{p}_conv2", filters, (3, 3), relu_follows=False, gain=_RESIDUAL_GAIN)
    if stride != 1:
        x = g.conv(x, f"{p}_shortcut_conv", filters, (1, 1), (stride, stride), relu_follows=False)
    return g.relu(g.add(x, y, f"{p}_add"), f"{p}_relu2")


def build(seed: int = 0) -> onnx.ModelProto:
    """Builds float32 ResNet-8 (input ``input`` [1,3,32,32], output ``logits`` [1,10]).

    Args:
        seed: weight seed.
    """
    g = GraphBuilder("resnet8", seed)
    x = g.input("input", INPUT_SHAPE)
    x = g.relu(g.conv(x, "stem_conv", FILTERS[0], (3, 3)), "stem_relu")
    for i, filters in enumerate(FILTERS, start=1):
        x = _stack(g, x, i, filters, 1 if i == 1 else 2)
    # Keras: AveragePooling2D(pool_size=min(H, W)) on the 8x8 map, i.e. a global average.
    x = g.flatten(g.avg_pool(x, "pool", x.shape[2:]), "flatten")
    g.output(g.gemm(x, "classifier", NUM_CLASSES, out="logits"))
    return g.model("ResNet-8, MLPerf Tiny image classification, seeded random weights, BN folded")
