"""A thin, shape-tracking wrapper over :mod:`onnx.helper` for the zoo's generators.

Every layer draws its weights from a generator seeded by ``(model seed, crc32(layer name))``, so a
layer's weights depend only on the seed and its own name: renaming or inserting one layer leaves
the others' weights unchanged, and the bytes are the same in every process (``crc32`` is stable,
``hash`` is not).

Weights are what a trained network looks like *after* BatchNorm folding: a conv weight with a
per-output-channel gain (``gamma / sqrt(var + eps)``, drawn log-normal) and a bias (``beta -
gamma * mean / sqrt(var + eps)``, drawn small). Scales follow He (ReLU follows) or LeCun (linear
output) so that activations keep roughly unit second moment through the depth of the network.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 19
"""ONNX opset of every zoo model (the reference evaluator needs >= 19 for DequantizeLinear)."""

IR_VERSION = 9
"""IR version that introduced opset 19; every onnxruntime since 1.15 loads it."""

_BN_GAIN_SIGMA = 0.2
"""Log-normal spread of the folded BatchNorm gain per output channel."""

_BIAS_STD = 0.05
"""Standard deviation of a folded bias, relative to unit-variance activations."""


@dataclass(frozen=True)
class Value:
    """A tensor in the graph under construction.

    Attributes:
        name: the ONNX tensor name.
        shape: its static shape.
    """

    name: str
    shape: tuple[int, ...]


def same_pads(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """Explicit ONNX pads equal to TensorFlow's ``padding='same'``.

    TensorFlow puts the odd padding pixel at the end (bottom/right), as ONNX ``SAME_UPPER`` does;
    the Keras references (MLPerf Tiny, TF-slim MobileNetV2) rely on that.

    Args:
        size: spatial input size, e.g. ``(H, W)``.
        kernel: kernel size per spatial axis.
        stride: stride per spatial axis.

    Returns:
        ``[begin_0, begin_1, ..., end_0, end_1, ...]`` as ONNX ``pads`` expects.
    """
    begins, ends = [], []
    for n, k, s in zip(size, kernel, stride, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


class GraphBuilder:
    """Accumulates nodes and seeded initializers, then emits a checked :class:`onnx.ModelProto`.

    Node names must be unique; a layer's output tensor takes the node's name unless ``out`` is
    given. Methods take and return :class:`Value` so shapes are known without shape inference.

    Args:
        graph_name: name of the ONNX graph.
        seed: model seed; every weight is a function of it and the layer name.
    """

    def __init__(self, graph_name: str, seed: int) -> None:
        self.graph_name = graph_name
        self.seed = seed
        self._nodes: list[onnx.NodeProto] = []
        self._inits: list[TensorProto] = []
        self._init_names: set[str] = set()
        self._node_names: set[str] = set()
        self._inputs: list[onnx.ValueInfoProto] = []
        self._outputs: list[onnx.ValueInfoProto] = []

    # -- plumbing --------------------------------------------------------------------------------

    def _rng(self, layer: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(layer.encode())])

    def _node(self, op: str, name: str, inputs: list[str], out: str, **attrs: object) -> str:
        if name in self._node_names:
            raise ValueError(f"duplicate node name {name!r}")
        self._node_names.add(name)
        self._nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def const(self, name: str, array: np.ndarray) -> str:
        """Adds (once) an initializer and returns its name; reusing a name reuses the tensor."""
        if name not in self._init_names:
            self._init_names.add(name)
            self._inits.append(numpy_helper.from_array(np.require(array, requirements="C"), name))
        return name

    def _scalar(self, name: str, value: float) -> str:
        return self.const(name, np.array(value, dtype=np.float32))

    def input(self, name: str, shape: tuple[int, ...]) -> Value:
        """Declares a float32 graph input."""
        self._inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        return Value(name, tuple(shape))

    def output(self, x: Value) -> None:
        """Declares ``x`` a float32 graph output."""
        self._outputs.append(
            helper.make_tensor_value_info(x.name, TensorProto.FLOAT, list(x.shape))
        )

    # -- layers with weights ---------------------------------------------------------------------

    def conv(
        self,
        x: Value,
        name: str,
        cout: int,
        kernel: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
        *,
        group: int = 1,
        relu_follows: bool = True,
        gain: float = 1.0,
    ) -> Value:
        """Conv with BN folded in (weight and bias), TensorFlow ``same`` padding.

        Args:
            x: NCHW input.
            name: node name; initializers are ``{name}.weight`` and ``{name}.bias``.
            cout: output channels.
            kernel: ``(kh, kw)``.
            stride: ``(sh, sw)``.
            group: ONNX group (``cin`` for depthwise).
            relu_follows: He scaling if a ReLU follows, LeCun scaling if the output is linear.
            gain: extra factor on the weights (e.g. to damp a residual branch).
        """
        n, cin, h, w = x.shape
        fan_in = cin // group * kernel[0] * kernel[1]
        std = gain * math.sqrt((2.0 if relu_follows else 1.0) / fan_in)
        rng = self._rng(name)
        weight = rng.normal(0.0, std, size=(cout, cin // group, *kernel))
        weight *= np.exp(rng.normal(0.0, _BN_GAIN_SIGMA, size=(cout, 1, 1, 1)))
        bias = rng.normal(0.0, _BIAS_STD, size=(cout,))
        pads = same_pads((h, w), kernel, stride)
        out = self._node(
            "Conv",
            name,
            [
                x.name,
                self.const(f"{name}.weight", weight.astype(np.float32)),
                self.const(f"{name}.bias", bias.astype(np.float32)),
            ],
            name,
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=pads,
            dilations=[1, 1],
            group=group,
        )
        return Value(out, (n, cout, -(-h // stride[0]), -(-w // stride[1])))

    def gemm(self, x: Value, name: str, cout: int, *, out: str | None = None) -> Value:
        """Fully connected layer ``x @ W.T + b`` as Gemm (``transB=1``, PyTorch's layout).

        LeCun scaling: the output is linear (logits).
        """
        m, k = x.shape
        rng = self._rng(name)
        weight = rng.normal(0.0, math.sqrt(1.0 / k), size=(cout, k))
        bias = rng.normal(0.0, _BIAS_STD, size=(cout,))
        y = self._node(
            "Gemm",
            name,
            [
                x.name,
                self.const(f"{name}.weight", weight.astype(np.float32)),
                self.const(f"{name}.bias", bias.astype(np.float32)),
            ],
            out or name,
            transB=1,
        )
        return Value(y, (m, cout))

    def linear(self, x: Value, name: str, cout: int) -> Value:
        """MatMul by a ``[cin, cout]`` weight then Add a bias, as transformer exports write it.

        Xavier scaling. Nodes are ``{name}_matmul`` and ``{name}_bias``.
        """
        cin = x.shape[-1]
        rng = self._rng(name)
        weight = rng.normal(0.0, math.sqrt(2.0 / (cin + cout)), size=(cin, cout))
        bias = rng.normal(0.0, _BIAS_STD, size=(cout,))
        shape = (*x.shape[:-1], cout)
        mm = self._node(
            "MatMul",
            f"{name}_matmul",
            [x.name, self.const(f"{name}.weight", weight.astype(np.float32))],
            f"{name}_matmul",
        )
        y = self._node(
            "Add",
            f"{name}_bias",
            [mm, self.const(f"{name}.bias", bias.astype(np.float32))],
            f"{name}_bias",
        )
        return Value(y, shape)

    def layer_norm(self, x: Value, name: str, *, out: str | None = None) -> Value:
        """LayerNormalization over the last axis with a near-identity seeded affine."""
        d = x.shape[-1]
        rng = self._rng(name)
        scale = 1.0 + rng.normal(0.0, 0.05, size=(d,))
        bias = rng.normal(0.0, 0.02, size=(d,))
        y = self._node(
            "LayerNormalization",
            name,
            [
                x.name,
                self.const(f"{name}.scale", scale.astype(np.float32)),
                self.const(f"{name}.bias", bias.astype(np.float32)),
            ],
            out or name,
            axis=-1,
            epsilon=1e-5,
        )
        return Value(y, x.shape)

    # -- weightless layers -----------------------------------------------------------------------

    def relu(self, x: Value, name: str) -> Value:
        """ReLU."""
        return Value(self._node("Relu", name, [x.name], name), x.shape)

    def relu6(self, x: Value, name: str) -> Value:
        """ReLU6 as ``Clip(x, 0, 6)`` (bounds shared as two scalar initializers)."""
        lo, hi = self._scalar("relu6_min", 0.0), self._scalar("relu6_max", 6.0)
        return Value(self._node("Clip", name, [x.name, lo, hi], name), x.shape)

    def add(self, a: Value, b: Value, name: str, *, out: str | None = None) -> Value:
        """Elementwise Add of two same-shaped tensors."""
        if a.shape != b.shape:
            raise ValueError(f"{name}: shapes {a.shape} and {b.shape} differ")
        return Value(self._node("Add", name, [a.name, b.name], out or name), a.shape)

    def mul(self, a: Value, b: Value, name: str) -> Value:
        """Elementwise Mul of two same-shaped tensors."""
        return Value(self._node("Mul", name, [a.name, b.name], name), a.shape)

    def scalar_op(self, op: str, x: Value, name: str, const: str, value: float) -> Value:
        """``op(x, c)`` for a broadcast float scalar ``c`` stored as initializer ``const``."""
        return Value(self._node(op, name, [x.name, self._scalar(const, value)], name), x.shape)

    def unary(self, op: str, x: Value, name: str) -> Value:
        """A shape-preserving unary operator (Erf, ...)."""
        return Value(self._node(op, name, [x.name], name), x.shape)

    def softmax(self, x: Value, name: str) -> Value:
        """Softmax over the last axis."""
        return Value(self._node("Softmax", name, [x.name], name, axis=-1), x.shape)

    def matmul(self, a: Value, b: Value, name: str) -> Value:
        """Batched MatMul of two activations."""
        if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
            raise ValueError(f"{name}: cannot multiply {a.shape} by {b.shape}")
        shape = (*a.shape[:-1], b.shape[-1])
        return Value(self._node("MatMul", name, [a.name, b.name], name), shape)

    def reshape(self, x: Value, name: str, shape: tuple[int, ...]) -> Value:
        """Reshape to a fully static shape (stored as ``{name}.shape``)."""
        if math.prod(shape) != math.prod(x.shape):
            raise ValueError(f"{name}: cannot reshape {x.shape} to {shape}")
        target = self.const(f"{name}.shape", np.array(shape, dtype=np.int64))
        return Value(self._node("Reshape", name, [x.name, target], name), tuple(shape))

    def transpose(self, x: Value, name: str, perm: tuple[int, ...]) -> Value:
        """Transpose by ``perm``."""
        shape = tuple(x.shape[p] for p in perm)
        return Value(self._node("Transpose", name, [x.name], name, perm=list(perm)), shape)

    def global_avg_pool(self, x: Value, name: str) -> Value:
        """GlobalAveragePool, NCHW to NC11."""
        return Value(self._node("GlobalAveragePool", name, [x.name], name), (*x.shape[:2], 1, 1))

    def avg_pool(self, x: Value, name: str, kernel: tuple[int, int]) -> Value:
        """AveragePool with ``stride == kernel`` and no padding (Keras ``AveragePooling2D``)."""
        n, c, h, w = x.shape
        y = self._node(
            "AveragePool", name, [x.name], name, kernel_shape=list(kernel), strides=list(kernel)
        )
        return Value(y, (n, c, (h - kernel[0]) // kernel[0] + 1, (w - kernel[1]) // kernel[1] + 1))

    def flatten(self, x: Value, name: str) -> Value:
        """Flatten to ``[N, rest]``."""
        return Value(
            self._node("Flatten", name, [x.name], name, axis=1),
            (x.shape[0], math.prod(x.shape[1:])),
        )

    # -- result ----------------------------------------------------------------------------------

    def model(self, doc: str) -> onnx.ModelProto:
        """Returns the finished model (opset :data:`OPSET`, IR :data:`IR_VERSION`), checked.

        Raises:
            onnx.checker.ValidationError: if the graph is malformed (a bug in a generator).
        """
        graph = helper.make_graph(
            self._nodes, self.graph_name, self._inputs, self._outputs, initializer=self._inits
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            ir_version=IR_VERSION,
            producer_name="socsim.zoo",
            doc_string=doc,
        )
        onnx.checker.check_model(model, full_check=True)
        return model
