"""Shared test constants, and independent measurements of a model: parameter and MAC counts
from ONNX shape inference."""

from __future__ import annotations

import math

import numpy as np
import onnx

BASES = ("mobilenetv2", "resnet8", "ds_cnn", "transformer_block")
SMALL = ("resnet8", "ds_cnn", "transformer_block")
"""Base models cheap enough to build several times per session."""


def count_params(model: onnx.ModelProto) -> int:
    """Float weights and biases: every float initializer of rank >= 1 (scalars are constants)."""
    return sum(
        math.prod(i.dims)
        for i in model.graph.initializer
        if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) >= 1
    )


def count_macs(model: onnx.ModelProto) -> int:
    """Multiply-accumulates of Conv, Gemm and MatMul, from shapes found by onnx shape inference.

    Conv: each output element costs ``cin/group * kh * kw``; Gemm/MatMul: each output element
    costs the reduction length ``K`` (the last axis of A, or of A^T for ``transA``).
    """
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*g.value_info, *g.input, *g.output)
    }
    shapes.update({i.name: list(i.dims) for i in g.initializer})
    total = 0
    for node in g.node:
        out = math.prod(shapes[node.output[0]])
        if node.op_type == "Conv":
            total += out * math.prod(shapes[node.input[1]][1:])
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes[node.input[0]]
            trans_a = any(x.name == "transA" and x.i for x in node.attribute)
            total += out * (a[-2] if trans_a else a[-1])
    return total


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays taken as flat float64 vectors."""
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
