"""Operator substitution: rewrite an op a unit lacks as a composition of ops it has.

Each rule returns the replacement nodes and constants for one node; :func:`substitute` applies
the rules to the op types asked for and :func:`verify` runs the original and the rewrite in
onnxruntime on the same inputs and returns the largest absolute difference, so a caller can
check the stated bound (``Substitution.bound``: the float error the rewrite may add, in units of
the output's magnitude; 0 where the composition performs the same float operations).

| op | rewrite |
| --- | --- |
| HardSwish | x * Clip(x * (1/6) + 0.5, 0, 1) (HardSigmoid's alpha, beta) |
| HardSigmoid | Clip(x * alpha + beta, 0, 1) |
| Gelu (none) | 0.5 * x * (1 + Erf(x / sqrt 2)) |
| Gelu (tanh) | 0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 x^3))) |
| LayerNormalization | (x - ReduceMean x) / Sqrt(ReduceMean (x - mean)^2 + eps) * gamma + beta |
| Softmax | Exp(x - ReduceMax x) / ReduceSum Exp(x - ReduceMax x) |
| Resize (nearest, integer scales) | Reshape -> Concat (copies) per axis -> Reshape: exact |
| Resize (linear, or other nearest) | MatMul by the per-axis interpolation matrix, twice, with Transposes |

Resize needs static shapes and constant scales or sizes (:mod:`socsim.quant._resize`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from socsim.quant._resize import resize_rule

__all__ = ["SUBSTITUTIONS", "Substitution", "rewrite_ops", "substitute", "verify"]

_Rule = Callable[[onnx.NodeProto, "_Ctx"], list[onnx.NodeProto]]


@dataclass(frozen=True)
class Substitution:
    """One rewrite that was made.

    Attributes:
        node: the original node name.
        op_type: its op type.
        ops: the op types it became.
        bound: relative float error the rewrite is stated to stay within.
    """

    node: str
    op_type: str
    ops: tuple[str, ...]
    bound: float


class _Ctx:
    def __init__(self, node: onnx.NodeProto, model: _ModelInfo | None = None) -> None:
        self.p = node.name or node.output[0]
        self.consts: list[onnx.TensorProto] = []
        self.k = 0
        self.model = model

    def i64(self, value: Iterable[int], what: str) -> str:
        name = f"{self.p}_{what}"
        self.consts.append(numpy_helper.from_array(np.asarray(list(value), np.int64), name))
        return name

    def c(self, value: float | np.ndarray, what: str) -> str:
        name = f"{self.p}_{what}"
        self.consts.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def t(self, what: str) -> str:
        return f"{self.p}_{what}"

    def n(self, op: str, ins: list[str], out: str, **attrs: object) -> onnx.NodeProto:
        self.k += 1
        return helper.make_node(op, ins, [out], name=f"{self.p}_{op}_{self.k}", **attrs)


@dataclass(frozen=True)
class _ModelInfo:
    """What a rule may need beyond its node: static shapes and constant values."""

    shapes: Mapping[str, tuple[int, ...]]
    consts: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, model: onnx.ModelProto) -> _ModelInfo:
        inferred = onnx.shape_inference.infer_shapes(model)
        shapes = {}
        for vi in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
            dims = vi.type.tensor_type.shape.dim
            if dims and all(d.HasField("dim_value") for d in dims):
                shapes[vi.name] = tuple(d.dim_value for d in dims)
        consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        return cls(shapes, consts)


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    a = next((a for a in node.attribute if a.name == name), None)
    v = default if a is None else helper.get_attribute_value(a)
    return v.decode() if isinstance(v, bytes) else v


def _hard_sigmoid(x: str, y: str, alpha: float, beta: float, c: _Ctx) -> list[onnx.NodeProto]:
    return [c.n("Mul", [x, c.c(alpha, "alpha")], c.t("ax")),
            c.n("Add", [c.t("ax"), c.c(beta, "beta")], c.t("axb")),
            c.n("Clip", [c.t("axb"), c.c(0.0, "zero"), c.c(1.0, "one")], y)]


def _hardswish(node: onnx.NodeProto, c: _Ctx) -> list[onnx.NodeProto]:
    x, y = node.input[0], node.output[0]
    return _hard_sigmoid(x, c.t("hsig"), 1 / 6, 0.5, c) + [c.n("Mul", [x, c.t("hsig")], y)]


def _hardsigmoid(node: onnx.NodeProto, c: _Ctx) -> list[onnx.NodeProto]:
    return _hard_sigmoid(node.input[0], node.output[0], float(_attr(node, "alpha", 0.2)),
                         float(_attr(node, "beta", 0.5)), c)


def _gelu(node: onnx.NodeProto, c: _Ctx) -> list[onnx.NodeProto]:
    x, y = node.input[0], node.output[0]
    if _attr(node, "approximate", "none") == "tanh":
        inner = [c.n("Mul", [x, x], c.t("x2")), c.n("Mul", [c.t("x2"), x], c.t("x3")),
                 c.n("Mul", [c.t("x3"), c.c(0.044715, "k")], c.t("kx3")),
                 c.n("Add", [x, c.t("kx3")], c.t("s")),
                 c.n("Mul", [c.t("s"), c.c(np.sqrt(2 / np.pi), "sqrt_2_pi")], c.t("u")),
                 c.n("Tanh", [c.t("u")], c.t("f"))]
    else:
        inner = [c.n("Div", [x, c.c(np.sqrt(2.0), "sqrt2")], c.t("u")),
                 c.n("Erf", [c.t("u")], c.t("f"))]
    return inner + [c.n("Add", [c.t("f"), c.c(1.0, "one")], c.t("f1")),
                    c.n("Mul", [x, c.t("f1")], c.t("xf")),
                    c.n("Mul", [c.t("xf"), c.c(0.5, "half")], y)]


def _layernorm(node: onnx.NodeProto, c: _Ctx) -> list[onnx.NodeProto]:
    x, y = node.input[0], node.output[0]
    axis = int(_attr(node, "axis", -1))
    if axis != -1:
        raise ValueError(f"{node.name}: LayerNormalization substitution handles axis=-1 only")
    eps = float(_attr(node, "epsilon", 1e-5))
    axes = c.p + "_axes"
    c.consts.append(numpy_helper.from_array(np.array([-1], np.int64), axes))
    nodes = [c.n("ReduceMean", [x, axes], c.t("mean")),
             c.n("Sub", [x, c.t("mean")], c.t("d")),
             c.n("Mul", [c.t("d"), c.t("d")], c.t("d2")),
             c.n("ReduceMean", [c.t("d2"), axes], c.t("var")),
             c.n("Add", [c.t("var"), c.c(eps, "eps")], c.t("var_eps")),
             c.n("Sqrt", [c.t("var_eps")], c.t("std")),
             c.n("Div", [c.t("d"), c.t("std")], c.t("norm"))]
    last = c.t("norm")
    if len(node.input) > 2 and node.input[2]:
        nodes.append(c.n("Mul", [last, node.input[1]], c.t("scaled")))
        nodes.append(c.n("Add", [c.t("scaled"), node.input[2]], y))
    else:
        nodes.append(c.n("Mul", [last, node.input[1]], y))
    return nodes


def _softmax(node: onnx.NodeProto, c: _Ctx) -> list[onnx.NodeProto]:
    x, y = node.input[0], node.output[0]
    axes = c.p + "_axes"
    c.consts.append(numpy_helper.from_array(np.array([int(_attr(node, "axis", -1))], np.int64),
                                            axes))
    return [c.n("ReduceMax", [x, axes], c.t("max")), c.n("Sub", [x, c.t("max")], c.t("shift")),
            c.n("Exp", [c.t("shift")], c.t("e")), c.n("ReduceSum", [c.t("e"), axes], c.t("sum")),
            c.n("Div", [c.t("e"), c.t("sum")], y)]


SUBSTITUTIONS: dict[str, tuple[_Rule, float]] = {
    "HardSwish": (_hardswish, 1e-6), "HardSigmoid": (_hardsigmoid, 1e-6),
    "Gelu": (_gelu, 1e-6), "LayerNormalization": (_layernorm, 1e-5), "Softmax": (_softmax, 1e-6),
    "Resize": (resize_rule, 1e-6),
}
"""op type -> (rule, stated relative float error bound)."""


def rewrite_ops(node: onnx.NodeProto) -> tuple[str, ...] | None:
    """The op types ``node`` would become (None when its op type has no rule)."""
    entry = SUBSTITUTIONS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    return None if entry is None else tuple(n.op_type for n in entry[0](node, _Ctx(node)))


def substitute(model: onnx.ModelProto, op_types: Iterable[str] | None = None
               ) -> tuple[onnx.ModelProto, list[Substitution]]:
    """Rewrites every node whose op type is in ``op_types`` (default: all with a rule).

    Reduce ops take their axes as an input (opset >= 18), so the model is raised to opset 18
    when it is older.

    Raises:
        ValueError: for an op type without a rule (listing those with one), or a node its
            rule cannot rewrite (e.g. a Resize without static shapes), naming why.
    """
    wanted = set(SUBSTITUTIONS if op_types is None else op_types)
    unknown = wanted - set(SUBSTITUTIONS)
    if unknown:
        raise ValueError(f"no substitution for {', '.join(sorted(unknown))}; available: "
                         f"{', '.join(SUBSTITUTIONS)}")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes, done = [], []
    info: _ModelInfo | None = None
    for n in out.graph.node:
        if n.op_type in wanted and n.domain in ("", "ai.onnx"):
            rule, bound = SUBSTITUTIONS[n.op_type]
            if info is None:
                info = _ModelInfo.of(model)
            ctx = _Ctx(n, info)
            new = rule(n, ctx)
            nodes += new
            out.graph.initializer.extend(ctx.consts)
            done.append(Substitution(n.name, n.op_type, tuple(x.op_type for x in new), bound))
        else:
            nodes.append(n)
    out.graph.ClearField("node")
    out.graph.node.extend(nodes)
    for op in out.opset_import:
        if op.domain in ("", "ai.onnx") and op.version < 18:
            op.version = 18
    onnx.checker.check_model(out)
    return out, done


def verify(original: onnx.ModelProto, rewritten: onnx.ModelProto,
           feeds: Mapping[str, np.ndarray]) -> float:
    """Largest |difference| between the two models' outputs in onnxruntime, relative to the
    largest |output| (each model run with graph optimizations off, so nothing is re-fused)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    runs = [ort.InferenceSession(m.SerializeToString(), opts,
                                 providers=["CPUExecutionProvider"]).run(None, dict(feeds))
            for m in (original, rewritten)]
    worst = 0.0
    for a, b in zip(*runs, strict=True):
        worst = max(worst, float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30)))
    return worst
