"""QDQ lowering: ``DequantizeLinear -> op -> QuantizeLinear`` groups become integer operators.

The rewrite is done on ONNX nodes, before compilation, and produces the QOperator form
onnxruntime's graph optimizer produces (QLinearConv, QLinearMatMul, com.microsoft QGemm,
QLinearAdd, ...), named after the group's compute node so that per-node arithmetic and
statistics follow the op a user sees in the model. Data-movement ops between a DQ and a Q of the
same scale and zero point run directly on the integers. DQ nodes left without consumers are
dropped. Anything that does not match stays as it is and runs in float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper

from socsim.kernels.registry import MS_DOMAIN

_MOVE_OPS = frozenset({"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "MaxPool",
                       "Identity", "Slice", "Gather"})
_UNARY_MS = {"AveragePool": "QLinearAveragePool", "GlobalAveragePool": "QLinearGlobalAveragePool",
             "Sigmoid": "QLinearSigmoid", "LeakyRelu": "QLinearLeakyRelu",
             "Softmax": "QLinearSoftmax"}
_BINARY_MS = {"Add": "QLinearAdd", "Mul": "QLinearMul"}


@dataclass
class _Graph:
    nodes: list[onnx.NodeProto]
    consts: dict[str, np.ndarray]
    outputs: set[str]
    opset: int
    onnxruntime: bool = False  # lower only the groups onnxruntime's CPU EP fuses
    new_consts: dict[str, np.ndarray] = field(default_factory=dict)
    producer: dict[str, onnx.NodeProto] = field(default_factory=dict)
    consumers: dict[str, list[onnx.NodeProto]] = field(default_factory=dict)

    def index(self) -> None:
        self.producer = {o: n for n in self.nodes for o in n.output if o}
        self.consumers = {}
        for n in self.nodes:
            for i in n.input:
                if i:
                    self.consumers.setdefault(i, []).append(n)

    def const(self, name: str) -> np.ndarray | None:
        if name in self.consts:
            return self.consts[name]
        return self.new_consts.get(name)

    def dq(self, tensor: str) -> onnx.NodeProto | None:
        n = self.producer.get(tensor)
        return n if n is not None and n.op_type == "DequantizeLinear" and n.domain in (
            "", "ai.onnx") else None

    def only_q(self, tensor: str) -> onnx.NodeProto | None:
        users = self.consumers.get(tensor, [])
        if tensor in self.outputs or len(users) != 1:
            return None
        q = users[0]
        return q if q.op_type == "QuantizeLinear" and q.domain in ("", "ai.onnx") else None


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _params(g: _Graph, node: onnx.NodeProto, *, quantized_type: np.dtype | None = None
            ) -> tuple[str, str, str] | None:
    """``(data, scale, zero_point)`` names of a DQ/Q node, zero point made explicit; None if
    the scale or zero point is not constant or the node is blocked."""
    if _attr(node, "block_size", 0):
        return None
    scale = node.input[1]
    if g.const(scale) is None:
        return None
    zp = node.input[2] if len(node.input) > 2 and node.input[2] else ""
    if zp and g.const(zp) is None:
        return None
    if not zp:
        if quantized_type is None:
            out_t = _attr(node, "output_dtype", 0) or onnx.TensorProto.UINT8
            quantized_type = helper.tensor_dtype_to_np_dtype(out_t)
        zp = f"{node.name or node.output[0]}_zero_point_socsim"
        g.new_consts[zp] = np.zeros(g.const(scale).shape, dtype=quantized_type)
    return node.input[0], scale, zp


def _per_tensor(g: _Graph, names: tuple[str, str, str]) -> bool:
    return g.const(names[1]).size == 1 and g.const(names[2]).size == 1


def _same_params(g: _Graph, a: tuple[str, str, str], b: tuple[str, str, str]) -> bool:
    sa, sb, za, zb = g.const(a[1]), g.const(b[1]), g.const(a[2]), g.const(b[2])
    return (sa.shape == sb.shape and za.dtype == zb.dtype and np.array_equal(sa, sb)
            and np.array_equal(za, zb))


def _qtype(g: _Graph, p: tuple[str, str, str]) -> np.dtype:
    return g.const(p[2]).dtype


def _lower_one(g: _Graph, node: onnx.NodeProto) -> tuple[list[onnx.NodeProto], str] | None:
    """The replacement nodes of ``node``'s group and the Q node output it now produces."""
    if node.domain not in ("", "ai.onnx") or not node.output or len(
            [o for o in node.output if o]) != 1:
        return None
    op = node.op_type
    q = g.only_q(node.output[0])
    if q is None:
        return None
    qp = _params(g, q)
    if qp is None:
        return None
    y = q.output[0]
    name = node.name

    def dq_params(tensor: str) -> tuple[str, str, str] | None:
        d = g.dq(tensor)
        if d is None:
            return None
        x = d.input[0]
        xt = g.const(x).dtype if g.const(x) is not None else None
        return _params(g, d, quantized_type=xt)

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    int8ish = (np.int8, np.uint8, np.int16, np.uint16)

    if op in ("Conv", "MatMul", "Gemm"):
        xp = dq_params(node.input[0])
        wp = dq_params(node.input[1])
        if xp is None or wp is None or not _per_tensor(g, xp) or not _per_tensor(g, qp):
            return None
        if _qtype(g, xp) not in int8ish or _qtype(g, qp) != _qtype(g, xp):
            return None
        # onnxruntime's x86 build fuses no Conv/MatMul with int8 activations (its S8->U8 pass
        # converts the ones it can first): those stay DQ -> float op -> Q, as there.
        if op != "Gemm" and _qtype(g, xp) == np.int8:
            return None
        if _qtype(g, xp) == np.int8 and _qtype(g, wp) != np.int8:
            return None
        # onnxruntime's QDQ selectors fuse no 16-bit Conv/MatMul/Gemm (it has no such integer
        # kernels): following it, they run DQ -> float op -> Q, as there.
        if g.onnxruntime and _qtype(g, xp) in (np.int16, np.uint16):
            return None
        bias = ""
        if len(node.input) > 2 and node.input[2]:
            d = g.dq(node.input[2])
            if d is None or g.const(d.input[0]) is None or g.const(d.input[0]).dtype != np.int32:
                return None
            bias = d.input[0]
        if op == "Conv":
            if g.const(wp[0]) is None:
                return None
            new = helper.make_node("QLinearConv", [*xp, *wp, *qp[1:], bias] if bias
                                   else [*xp, *wp, *qp[1:]], [y], name=name, **attrs)
        elif op == "MatMul":
            new = helper.make_node("QLinearMatMul", [*xp, *wp, *qp[1:]], [y], name=name)
        else:
            if float(attrs.get("beta", 1.0)) != 1.0 or g.const(wp[0]) is None:
                return None
            attrs.pop("beta", None)
            new = helper.make_node("QGemm", [*xp, *wp, bias, *qp[1:]], [y], name=name,
                                   domain=MS_DOMAIN, **attrs)
        return [new], y

    if op in _BINARY_MS:
        ap, bp = dq_params(node.input[0]), dq_params(node.input[1])
        if ap is None or bp is None or not all(_per_tensor(g, p) for p in (ap, bp, qp)):
            return None
        if not _qtype(g, ap) == _qtype(g, bp) == _qtype(g, qp) or _qtype(g, qp) not in (
                np.int8, np.uint8):
            return None
        return [helper.make_node(_BINARY_MS[op], [*ap, *bp, *qp[1:]], [y], name=name,
                                 domain=MS_DOMAIN)], y

    if op in _UNARY_MS:
        xp = dq_params(node.input[0])
        if xp is None or not _per_tensor(g, xp) or not _per_tensor(g, qp):
            return None
        if not _qtype(g, xp) == _qtype(g, qp) or _qtype(g, qp) not in (np.int8, np.uint8):
            return None
        if op == "Softmax":
            attrs = {"axis": attrs.get("axis", -1 if g.opset >= 13 else 1), "opset": g.opset}
        return [helper.make_node(_UNARY_MS[op], [*xp, *qp[1:]], [y], name=name,
                                 domain=MS_DOMAIN, **attrs)], y

    if op == "Concat":
        ps = [dq_params(i) for i in node.input]
        if any(p is None or not _per_tensor(g, p) for p in ps) or not _per_tensor(g, qp):
            return None
        if any(_qtype(g, p) != _qtype(g, qp) for p in ps):
            return None
        flat = [t for p in ps for t in p]
        return [helper.make_node("QLinearConcat", [*qp[1:], *flat], [y], name=name,
                                 domain=MS_DOMAIN, **attrs)], y

    if op in _MOVE_OPS:
        xp = dq_params(node.input[0])
        if xp is None or not _same_params(g, xp, qp):
            return None
        if op == "MaxPool" and len([o for o in node.output if o]) != 1:
            return None
        return [helper.make_node(op, [xp[0], *node.input[1:]], [y], name=name, **attrs)], y
    return None


_S8_WEIGHT_KEEP = frozenset({"MatMul", "Conv", "Gemm"})
"""Consumers whose int8 constant operands onnxruntime leaves signed (its u8s8 kernels take them)."""


def _with_inputs(node: onnx.NodeProto, inputs: Sequence[str]) -> onnx.NodeProto:
    new = onnx.NodeProto()
    new.CopyFrom(node)
    del new.input[:]
    new.input.extend(inputs)
    return new


def _int8_scalar(g: _Graph, name: str) -> np.ndarray | None:
    v = g.const(name) if name else None
    return v if v is not None and v.dtype == np.int8 and v.size == 1 else None


def _s8_to_u8(g: _Graph) -> None:
    """Mirrors onnxruntime's ``QDQS8ToU8Transformer`` (x86 builds, where QDQ int8 activations
    are not fused as int8): an int8 ``Q -> DQ`` pair whose Q feeds exactly one DQ, which in
    turn feeds one node, becomes uint8 with zero point + 128; a DQ of an int8 constant that
    feeds no Conv/MatMul/Gemm becomes uint8 the same way. The values are unchanged, but the
    fused kernels that add the zero point in float32 (QLinearAdd, QLinearAveragePool, ...)
    then round exactly as onnxruntime's uint8 kernels do, and fusion sees the same types.
    """
    g.index()
    done: set[int] = set()
    swap: dict[int, onnx.NodeProto] = {}
    for node in g.nodes:
        if node.domain not in ("", "ai.onnx") or id(node) in done:
            continue
        if node.op_type == "QuantizeLinear" and len(node.input) == 3:
            users = g.consumers.get(node.output[0], [])
            if node.output[0] in g.outputs or len(users) != 1:
                continue
            dq = users[0]
            if (dq.op_type != "DequantizeLinear" or dq.domain not in ("", "ai.onnx")
                    or len(dq.input) != 3 or dq.output[0] in g.outputs
                    or len(g.consumers.get(dq.output[0], [])) != 1):
                continue
            qz, dz = _int8_scalar(g, node.input[2]), _int8_scalar(g, dq.input[2])
            if qz is None or dz is None or int(qz.reshape(-1)[0]) != int(dz.reshape(-1)[0]):
                continue
            zp = f"{node.name or node.output[0]}_u8_zero_point_socsim"
            g.new_consts[zp] = (qz.astype(np.int16) + 128).astype(np.uint8)
            swap[id(node)] = _with_inputs(node, [node.input[0], node.input[1], zp])
            swap[id(dq)] = _with_inputs(dq, [dq.input[0], dq.input[1], zp])
            done.update((id(node), id(dq)))
        elif node.op_type == "DequantizeLinear" and len(node.input) == 3:
            data, zero = g.const(node.input[0]), g.const(node.input[2])
            if (data is None or zero is None or data.dtype != np.int8 or zero.dtype != np.int8
                    or any(u.op_type in _S8_WEIGHT_KEEP
                           for u in g.consumers.get(node.output[0], []))):
                continue
            base = node.name or node.output[0]
            names = (f"{base}_u8_data_socsim", f"{base}_u8_zero_point_socsim")
            g.new_consts[names[0]] = (data.astype(np.int16) + 128).astype(np.uint8)
            g.new_consts[names[1]] = (zero.astype(np.int16) + 128).astype(np.uint8)
            swap[id(node)] = _with_inputs(node, [names[0], node.input[1], names[1]])
    g.nodes = [swap.get(id(n), n) for n in g.nodes]


def lower_qdq(nodes: Sequence[onnx.NodeProto], consts: Mapping[str, np.ndarray],
              graph_outputs: Sequence[str], opset: int, *, onnxruntime: bool = False
              ) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """Rewrites QDQ groups of ``nodes`` into integer operators.

    Args:
        nodes: the graph's nodes in topological order (all named).
        consts: the graph's constants by name.
        graph_outputs: names the caller will read.
        opset: the model's ai.onnx opset.
        onnxruntime: leave unfused the groups onnxruntime's CPU EP does not fuse either
            (16-bit Conv/MatMul/Gemm), for ``arithmetic="onnxruntime"``.

    Returns:
        The new node list (topologically ordered, dead DQ nodes removed) and the constants
        it adds (explicit zero points).
    """
    g = _Graph(list(nodes), dict(consts), set(graph_outputs), opset, onnxruntime)
    _s8_to_u8(g)
    g.index()
    replaced: dict[int, list[onnx.NodeProto]] = {}
    dropped: set[int] = set()
    for node in g.nodes:
        res = _lower_one(g, node)
        if res is None:
            continue
        new, _ = res
        q = g.only_q(node.output[0])
        replaced[id(node)] = new
        dropped.add(id(q))
    out: list[onnx.NodeProto] = []
    for node in g.nodes:
        if id(node) in dropped:
            continue
        out.extend(replaced.get(id(node), [node]))
    # Drop nodes (DequantizeLinear of weights, mostly) whose outputs nobody reads any more.
    while True:
        used = {i for n in out for i in n.input if i} | set(graph_outputs)
        keep = [n for n in out if any(o in used for o in n.output if o)]
        if len(keep) == len(out):
            break
        out = keep
    return out, g.new_consts
