"""QDQ lowering: the groups of :mod:`socsim.graph.qdq_groups` rewritten into integer operators.

:func:`lower` runs the rules' graph passes (onnxruntime's Relu/ClipQuantFusion, its x86
QDQS8ToU8), matches every group, and replaces each eligible one by its integer node, followed
by an integer ``Clip`` when a fused activation narrows the output's range. The result is the
node list socsim's kernels execute (:func:`socsim.kernels.qdq.lower_qdq`) and the timing
graph costs (:mod:`socsim.graph.loading`): one matcher, one list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from socsim.graph.qdq_groups import (
    DEFAULT_DOMAINS,
    RULES,
    QdqGroup,
    QGraph,
    match_group,
    real_range,
    type_range,
)

_S8_WEIGHT_KEEP = frozenset({"MatMul", "Conv", "Gemm"})
"""Consumers whose int8 constant operands onnxruntime leaves signed (its u8s8 kernels take them)."""


@dataclass(frozen=True)
class Lowering:
    """The lowered node list and what became of the original nodes.

    Attributes:
        nodes: the nodes to execute, topologically ordered (dead DequantizeLinear removed).
        consts: constants the rewrite adds (explicit zero points, clamp bounds).
        groups: every matched group by anchor name, eligible or not (with the reason).
        absorbed: original node name -> the node (in ``nodes``) that now does its work:
            a group's Q / activation / Q-DQ around it -> the anchor; an activation
            onnxruntime removes before a Q -> that Q; a DequantizeLinear no node reads any
            more -> the first group that read it.
        clamps: clamp node name -> the anchor it belongs to.
    """

    nodes: list[onnx.NodeProto]
    consts: dict[str, np.ndarray]
    groups: dict[str, QdqGroup]
    absorbed: dict[str, str]
    clamps: dict[str, str]


def _with_inputs(node: onnx.NodeProto, inputs: Sequence[str]) -> onnx.NodeProto:
    new = onnx.NodeProto()
    new.CopyFrom(node)
    del new.input[:]
    new.input.extend(inputs)
    return new


def _int8_scalar(g: QGraph, name: str) -> np.ndarray | None:
    v = g.const(name) if name else None
    return v if v is not None and v.dtype == np.int8 and v.size == 1 else None


def s8_to_u8(g: QGraph) -> None:
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
        if node.domain not in DEFAULT_DOMAINS or id(node) in done:
            continue
        if node.op_type == "QuantizeLinear" and len(node.input) == 3:
            users = g.consumers.get(node.output[0], [])
            if node.output[0] in g.outputs or len(users) != 1:
                continue
            dq = users[0]
            if (dq.op_type != "DequantizeLinear" or dq.domain not in DEFAULT_DOMAINS
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


def _q_range(g: QGraph, q: onnx.NodeProto) -> tuple[np.dtype, float, int] | None:
    """(integer type, scale, zero point) of a per-tensor Q with constant parameters."""
    scale = g.const(q.input[1])
    zp_name = q.input[2] if len(q.input) > 2 and q.input[2] else ""
    zp = g.const(zp_name) if zp_name else np.zeros((), np.uint8)
    if scale is None or zp is None or scale.size != 1 or zp.size != 1:
        return None
    return zp.dtype, float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])


def remove_quant_activations(g: QGraph) -> dict[str, str]:
    """onnxruntime's ``ReluQuantFusion`` and ``ClipQuantFusion`` (core/optimizer/
    qdq_transformer/relu_quantizelinear.cc, clip_quantizelinear.cc): a Relu or Clip whose one
    reader is a QuantizeLinear is removed when the Q's saturation already does its work:
    Relu when the zero point is the type's minimum (int8 -128, uint8 0); Clip when
    ``min <= scale * (qmin - zp) + eps`` and ``max >= scale * (qmax - zp) - eps`` (eps the
    float32 epsilon, as there). Exact: the removed op changes no value the Q can write.

    Returns:
        removed node name -> the Q that absorbed it.
    """
    g.index()
    removed: dict[str, str] = {}
    rename: dict[str, str] = {}
    for node in g.nodes:
        if node.op_type not in ("Relu", "Clip") or node.domain not in DEFAULT_DOMAINS:
            continue
        q = g.only_q(node.output[0])
        qr = _q_range(g, q) if q is not None else None
        if qr is None or qr[0] not in (np.int8, np.uint8, np.int16, np.uint16):
            continue
        dtype, scale, zp = qr
        qmin, qmax = type_range(dtype)
        if node.op_type == "Relu":
            if zp != qmin:
                continue
        else:
            bounds = real_range(g, node)
            if bounds is None:
                continue
            eps = np.finfo(np.float32).eps
            lower = np.float32(scale) * np.float32(qmin - zp)
            upper = np.float32(scale) * np.float32(qmax - zp)
            if eps < bounds[0] - lower or eps < upper - bounds[1]:
                continue
        removed[node.name] = q.name
        rename[node.output[0]] = node.input[0]
    if removed:
        g.nodes = [_with_inputs(n, [rename.get(i, i) for i in n.input])
                   if any(i in rename for i in n.input) else n
                   for n in g.nodes if n.name not in removed]
    return removed


def _clamp_node(g: QGraph, group: QdqGroup, y: str) -> tuple[onnx.NodeProto, str]:
    """An integer Clip applying ``group.clamp`` to the lowered node's output; returns it and
    the name the lowered node writes instead of ``y``."""
    lo, hi = group.clamp
    dtype = g.const(_out_zp(group.lowered)).dtype
    raw = f"{y}_unclamped_socsim"
    name = f"{group.anchor.name}_clamp_socsim"
    if g.opset < 11:
        return helper.make_node("Clip", [raw], [y], name=name, min=float(lo), max=float(hi)), raw
    bounds = (f"{name}_min", f"{name}_max")
    g.new_consts[bounds[0]] = np.array(lo, dtype)
    g.new_consts[bounds[1]] = np.array(hi, dtype)
    return helper.make_node("Clip", [raw, *bounds], [y], name=name), raw


def _out_zp(node: onnx.NodeProto) -> str:
    """The output zero point input of a lowered matrix node."""
    return node.input[7] if node.op_type in ("QLinearConv", "QLinearMatMul") else node.input[-1]


def lower(nodes: Sequence[onnx.NodeProto], consts: Mapping[str, np.ndarray],
          graph_outputs: Sequence[str], opset: int, rules: str = "onnxruntime_x86",
          *, onnxruntime: bool = False) -> Lowering:
    """Rewrites the QDQ groups of ``nodes`` that ``rules`` fuse into integer operators.

    Args:
        nodes: the graph's nodes in topological order (all named; Constant nodes folded).
        consts: the graph's constants by name.
        graph_outputs: names the caller will read.
        opset: the model's ai.onnx opset.
        rules: ``onnxruntime_x86``, ``onnxruntime`` or ``tflite`` (see
            :mod:`socsim.graph.qdq_groups`).
        onnxruntime: also leave unfused the 16-bit matrix groups onnxruntime's CPU provider
            has no integer kernel for (``arithmetic="onnxruntime"``, see
            :func:`socsim.kernels.qdq.lower_qdq`).

    Raises:
        ValueError: for unknown rules.
    """
    if rules not in RULES:
        raise ValueError(f"rules must be one of {', '.join(RULES)}, got {rules!r}")
    g = QGraph(list(nodes), dict(consts), set(graph_outputs), opset,
               unfused_16bit_matrix=onnxruntime)
    absorbed: dict[str, str] = {}
    if rules != "tflite":
        absorbed.update(remove_quant_activations(g))
    if rules == "onnxruntime_x86":
        s8_to_u8(g)
    g.index()
    groups: dict[str, QdqGroup] = {}
    replaced: dict[int, list[onnx.NodeProto]] = {}
    clamps: dict[str, str] = {}
    for node in g.nodes:
        group = match_group(g, node, rules)
        if group is None:
            continue
        groups[node.name] = group
        if not group.eligible:
            continue
        new = [group.lowered]
        if group.clamp is not None:
            clip, raw = _clamp_node(g, group, group.output)
            lowered = onnx.NodeProto()
            lowered.CopyFrom(group.lowered)
            lowered.output[0] = raw
            new = [lowered, clip]
            clamps[clip.name] = node.name
        replaced[id(node)] = new
        for n in (group.q, *group.activation):
            absorbed[n.name] = node.name
    drop = {n for n in absorbed}
    out: list[onnx.NodeProto] = []
    for node in g.nodes:
        if node.name in drop and id(node) not in replaced:
            continue
        out.extend(replaced.get(id(node), [node]))
    # Drop nodes (DequantizeLinear of weights, mostly) whose outputs nobody reads any more.
    while True:
        used = {i for n in out for i in n.input if i} | set(graph_outputs)
        keep = [n for n in out if any(o in used for o in n.output if o)]
        if len(keep) == len(out):
            break
        kept = {id(n) for n in keep}
        for n in out:
            if id(n) not in kept and n.op_type == "DequantizeLinear":
                owner = next((a for a, grp in groups.items()
                              if grp.eligible and n.name in grp.dq), None)
                if owner is not None:
                    absorbed.setdefault(n.name, owner)
        out = keep
    return Lowering(out, g.new_consts, groups, absorbed, clamps)
