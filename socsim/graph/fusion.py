"""Timing ops from the lowered node list: one :class:`Op` per node the kernels execute.

:func:`ops_from_lowering` takes :func:`socsim.graph.qdq_lowering.lower`'s result, the same list
:mod:`socsim.kernels.qdq` hands the kernels, and turns each node into one op: a lowered group
(QLinearConv, QGemm, ...) keeps its anchor's op type (``Conv`` in int8) and covers the group's
Q / DQ / activation / clamp nodes; a node whose inputs are all constants is folded (the
interpreter computes it once at compile time, so it costs nothing per inference: a
DequantizeLinear of weights outside any group becomes float weights); everything else is one op.
"""

from __future__ import annotations

from dataclasses import replace

import onnx
from onnx import helper

from socsim.errors import UnsupportedOpError
from socsim.graph.cost import family_of, op_work
from socsim.graph.ir import Op, Tensor
from socsim.graph.qdq_lowering import Lowering

_NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike",
                               "RandomUniformLike", "Bernoulli", "Multinomial"})
#: Inputs that are arguments (shapes, indices, bounds), never operands streamed as weights.
_ARG_ONLY = ("Reshape", "Expand", "Pad", "Slice", "Squeeze", "Unsqueeze", "Clip",
             "ReduceMean", "ReduceSum", "Split", "QuantizeLinear", "DequantizeLinear")


def ops_from_lowering(low: Lowering, tensors: dict[str, Tensor], where: str) -> list[Op]:
    """One op per executed node of ``low`` (see the module docstring).

    ``tensors`` gains the constants the lowering adds and marks folded outputs constant.

    Raises:
        UnsupportedOpError: an op type socsim has no cost formula for.
    """
    for name, value in low.consts.items():
        tensors.setdefault(name, Tensor(name, tuple(value.shape), str(value.dtype), True))
    members: dict[str, list[str]] = {}
    for node, owner in low.absorbed.items():
        members.setdefault(owner, []).append(node)
    for clamp, owner in low.clamps.items():
        members.setdefault(owner, []).append(clamp)
    # a removed activation belongs to the Q that absorbed it, which may itself be in a group
    for owner in list(members):
        boss = low.absorbed.get(owner)
        if boss is not None and boss != owner:
            members.setdefault(boss, []).extend(members.pop(owner))
    ops: list[Op] = []
    for node in low.nodes:
        if node.name in low.clamps:
            continue
        ins = [t for t in node.input if t]
        if ins and all(tensors[t].const for t in ins) and node.op_type not in _NONDETERMINISTIC:
            for o in node.output:  # computed once at compile time: a constant (e.g. float
                if o:  # weights a DequantizeLinear of int8 ones gives an unfused Conv)
                    tensors[o] = replace(tensors[o], const=True)
            continue
        group = low.groups.get(node.name)
        if group is not None and group.eligible:
            ops.append(_group_op(node, group, tensors, members, where))
        else:
            ops.append(_plain_op(node, ins, tensors, members, where))
    return ops


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _make(name: str, op_type: str, attrs: dict, onnx_inputs: list[str], outputs: list[str],
          tensors: dict[str, Tensor], nodes: list[str], where: str) -> Op:
    in_shapes = [tensors[t].shape for t in onnx_inputs]
    try:
        family = family_of(op_type, attrs, in_shapes)
    except UnsupportedOpError as exc:
        raise UnsupportedOpError(f"{where}: node {name!r}: {exc}") from None
    macs, elem = op_work(op_type, attrs, in_shapes, [tensors[t].shape for t in outputs], [])
    acts = tuple(dict.fromkeys(t for t in onnx_inputs if not tensors[t].const))
    weights = tuple(dict.fromkeys(t for t in onnx_inputs if tensors[t].const)) \
        if op_type not in _ARG_ONLY else ()
    return Op(name=name, op_type=op_type, domain="", family=family,
              dtype=compute_dtype(op_type, acts, outputs, weights, tensors),
              inputs=acts, outputs=tuple(outputs), weights=weights, macs=macs, elem_ops=elem,
              nodes=tuple(dict.fromkeys(nodes)), attrs=attrs, onnx_inputs=tuple(onnx_inputs))


def _group_op(node: onnx.NodeProto, group, tensors: dict[str, Tensor],
              members: dict[str, list[str]], where: str) -> Op:
    anchor = group.anchor
    attrs = _attrs(anchor)
    act = next((a for a in group.activation if a.op_type in ("Relu", "Clip")), None)
    if act is not None:
        attrs["fused_activation"] = act.op_type
    if group.clamp is not None:
        attrs["clamp"] = group.clamp
    operands = [t for t in group.operands if t]
    return _make(anchor.name, anchor.op_type, attrs, operands, [group.output], tensors,
                 [anchor.name, *members.get(anchor.name, [])], where)


def _plain_op(node: onnx.NodeProto, ins: list[str], tensors: dict[str, Tensor],
              members: dict[str, list[str]], where: str) -> Op:
    outs = [t for t in node.output if t]
    return _make(node.name, node.op_type, _attrs(node), ins, outs, tensors,
                 [node.name, *members.get(node.name, [])], where)


def small_int(dtype: str) -> bool:
    """8/16-bit (and narrower) integer types: the quantized ones."""
    return dtype.startswith(("int", "uint")) and dtype not in ("int32", "int64", "uint32",
                                                               "uint64")


def compute_dtype(op_type: str, acts: tuple[str, ...], outs: list[str],
                  weights: tuple[str, ...], tensors: dict[str, Tensor]) -> str:
    """The precision an op computes in.

    An integer op either reads and writes quantized tensors (a fused ``DQ -> op -> Q``, an
    integer view), is a QuantizeLinear, or multiplies quantized operands (``MatMulInteger``);
    it computes in the type of its quantized operand. A DequantizeLinear computes in its
    input type. Anything else (e.g. a float Conv between a DequantizeLinear and a
    QuantizeLinear that the rules do not fuse) computes in float.
    """
    operand = next((tensors[t].dtype for t in (*acts, *weights)
                    if small_int(tensors[t].dtype)), None)
    out_int = next((tensors[t].dtype for t in outs if small_int(tensors[t].dtype)), None)
    if op_type == "DequantizeLinear" and operand:
        return operand
    if op_type == "QuantizeLinear" and out_int:
        return out_int
    if operand and (out_int or op_type in ("ConvInteger", "MatMulInteger")):
        return operand
    for t in (*acts, *outs):
        if tensors[t].dtype.startswith("float"):
            return tensors[t].dtype
    return tensors[acts[0]].dtype if acts else "float32"
