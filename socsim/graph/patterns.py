"""Converter patterns a deployed runtime folds away, applied to the timing graph's ops.

Exporters leave ops in a model that no runtime executes as such; simulating them would charge
work nobody does. Applied in this order (each only where it is exact):

- **Pad into Conv**: a constant zero Pad (spatial dims only) whose one reader is a Conv's
  input is the Conv's own padding (onnxruntime's PadFusion; TFLite and Vela pad in the
  convolution). The Conv reads the unpadded tensor; its ``pads`` attribute grows.
- **Float Conv epilogues**: BatchNormalization, Mul / Add by a per-channel or scalar constant
  (what converters leave of a folded batch norm) after a float Conv whose weights are
  constant are folded into its weights (onnxruntime's ConvBNFusion, ConvMulFusion,
  ConvAddFusion); a following Relu / Clip / LeakyRelu / Sigmoid / Tanh / HardSigmoid runs as
  the Conv's (or Gemm's) epilogue (ConvActivationFusion, GemmActivationFusion: FusedConv,
  FusedGemm). Integer activations are fused by the QDQ fuser as a clamp.
- **Views** (Reshape, Flatten, Squeeze, Unsqueeze, Identity) relabel a buffer: they are not
  simulated, cost nothing and need no unit; their readers read the producer's tensor (and
  keep the view's name in :attr:`Op.onnx_inputs` for shapes).
- **Input Transpose**: a ``perm=[0, 3, 1, 2]`` Transpose of a 4-D graph input (tf2onnx's
  NHWC -> NCHW) is a layout conversion; socsim delivers graph inputs in the layout their
  reader wants, so its readers read the input itself.

The kernels still execute these nodes (their results are the same); only time is affected.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from socsim.graph.cost import VIEW_OPS
from socsim.graph.ir import Op, Tensor

_EPILOGUE_ACTS = ("Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid")
_AFFINE = ("BatchNormalization", "Mul", "Add")
_NCHW = [0, 3, 1, 2]


def apply_patterns(ops: list[Op], tensors: dict[str, Tensor], consts: dict[str, np.ndarray],
                   graph_inputs: tuple[str, ...], graph_outputs: tuple[str, ...]
                   ) -> tuple[list[Op], tuple[str, ...]]:
    """The ops after the folds of the module docstring, and the graph outputs (a graph output
    a view writes is the tensor it relabels)."""
    outs = set(graph_outputs)
    ops = _fold_pads(ops, tensors, consts, outs)
    ops = _fold_epilogues(ops, tensors, consts, outs)
    return _skip_relabels(ops, tensors, graph_inputs, graph_outputs)


def _readers(ops: list[Op]) -> dict[str, int]:
    count: dict[str, int] = {}
    for op in ops:
        for t in dict.fromkeys(op.inputs):
            count[t] = count.get(t, 0) + 1
    return count


def _merge(producer: Op, follower: Op, attrs: dict | None = None) -> Op:
    folded = [*producer.attrs.get("folded", ()), follower.op_type]
    return replace(producer, outputs=follower.outputs, nodes=producer.nodes + follower.nodes,
                   attrs={**producer.attrs, **(attrs or {}), "folded": folded})


def _fold_pads(ops: list[Op], tensors: dict[str, Tensor], consts: dict[str, np.ndarray],
               outs: set[str]) -> list[Op]:
    readers = _readers(ops)
    by_input: dict[str, int] = {}
    for i, op in enumerate(ops):
        if op.op_type == "Conv" and op.inputs:
            by_input.setdefault(op.operands[0], i)
    result: list[Op | None] = list(ops)
    for k, pad in enumerate(ops):
        if pad.op_type != "Pad" or len(pad.inputs) != 1 or len(pad.outputs) != 1:
            continue
        t = pad.outputs[0]
        i = by_input.get(t)
        spatial = _zero_pad_spatial(pad, tensors, consts)
        if i is None or spatial is None or readers.get(t) != 1 or t in outs:
            continue
        conv = result[i]
        rank = len(spatial) // 2
        old = list(conv.attrs.get("pads", [0] * (2 * rank)))
        pads = [a + b for a, b in zip(old, spatial)]
        result[i] = replace(conv, inputs=(pad.inputs[0], *conv.inputs[1:]),
                            nodes=conv.nodes + pad.nodes,
                            attrs={**conv.attrs, "pads": pads,
                                   "folded": [*conv.attrs.get("folded", ()), "Pad"]})
        result[k] = None
    return [op for op in result if op is not None]


def _zero_pad_spatial(pad: Op, tensors: dict[str, Tensor], consts: dict[str, np.ndarray]
                      ) -> list[int] | None:
    """The spatial pads (begin..., end...) of a constant zero Pad of a 4-D (or 3-D/5-D)
    tensor that pads no batch or channel, else None."""
    mode = pad.attrs.get("mode", b"constant")
    if mode not in (b"constant", "constant"):
        return None
    args = pad.onnx_inputs[1:] if pad.onnx_inputs else ()
    pads = pad.attrs.get("pads")
    if pads is None:
        if not args or args[0] not in consts:
            return None
        pads = [int(v) for v in consts[args[0]].reshape(-1)]
        if len(args) > 2 and args[2]:  # axes
            return None
        if len(args) > 1 and args[1]:
            value = consts.get(args[1])
            if value is None or (not np.issubdtype(value.dtype, np.integer)
                                 and float(value.reshape(-1)[0]) != 0.0):
                return None
    elif float(pad.attrs.get("value", 0.0)) != 0.0:
        return None
    rank = len(pads) // 2
    if rank < 3 or any(pads[a] or pads[a + rank] for a in (0, 1)):
        return None
    return [*pads[2:rank], *pads[rank + 2:]]


def _fold_epilogues(ops: list[Op], tensors: dict[str, Tensor], consts: dict[str, np.ndarray],
                    outs: set[str]) -> list[Op]:
    readers = _readers(ops)
    producer: dict[str, int] = {}
    result: list[Op | None] = list(ops)
    for j, op in enumerate(ops):
        if len(op.inputs) == 1 and op.inputs[0] in producer and op.dtype.startswith("float"):
            t = op.inputs[0]
            i = producer[t]
            prod = result[i]
            ok = readers.get(t) == 1 and t not in outs and prod.dtype.startswith("float")
            if ok and op.op_type in _AFFINE and prod.op_type == "Conv" and prod.weights \
                    and _per_channel(op, prod, tensors):
                result[i], result[j] = _merge(prod, op), None
            elif ok and op.op_type in _EPILOGUE_ACTS and prod.op_type in ("Conv", "Gemm") \
                    and "fused_activation" not in prod.attrs:
                result[i] = _merge(prod, op, {"fused_activation": op.op_type})
                result[j] = None
            if result[j] is None:
                for o in op.outputs:
                    producer[o] = i
                continue
        for o in op.outputs:
            producer[o] = j
    return [op for op in result if op is not None]


def _per_channel(op: Op, conv: Op, tensors: dict[str, Tensor]) -> bool:
    """Whether an affine op's constants hold one value per output channel of ``conv`` (or one
    in all), as onnxruntime's ConvMulFusion / ConvAddFusion require."""
    if op.op_type == "BatchNormalization":
        return len(op.outputs) == 1
    if len(op.weights) != 1:
        return False
    shape = tensors[op.weights[0]].shape
    channels = tensors[conv.outputs[0]].shape[1] if len(tensors[conv.outputs[0]].shape) > 1 \
        else 0
    dims = [d for d in shape if d != 1]
    if not dims:
        return True
    rank = len(tensors[conv.outputs[0]].shape)
    return dims == [channels] and len(shape) in (rank - 1, rank) and shape[-rank + 1] == channels


def _skip_relabels(ops: list[Op], tensors: dict[str, Tensor], graph_inputs: tuple[str, ...],
                   graph_outputs: tuple[str, ...]) -> tuple[list[Op], tuple[str, ...]]:
    storage: dict[str, str] = {}
    inputs = set(graph_inputs)
    kept: list[Op] = []
    for op in ops:
        ins = tuple(storage.get(t, t) for t in op.inputs)
        relabel = (op.op_type in VIEW_OPS and len(ins) == 1 and len(op.outputs) == 1) or (
            op.op_type == "Transpose" and len(ins) == 1 and ins[0] in inputs
            and len(tensors[ins[0]].shape) == 4 and list(op.attrs.get("perm", [])) == _NCHW)
        if relabel:
            storage[op.outputs[0]] = ins[0]
            continue
        kept.append(replace(op, inputs=tuple(dict.fromkeys(ins)),
                            onnx_inputs=op.onnx_inputs or (*op.inputs, *op.weights)))
    return kept, tuple(dict.fromkeys(storage.get(t, t) for t in graph_outputs))
