"""From an operator's geometry to the block model's NPU operations (:class:`NpuOp`).

Two sources: a recorded TFLite operator (``tests/data/vela/index.json``: TFLite op name,
NHWC shapes, kernel, stride, weight bytes; :func:`lower_tflite`) and a socsim graph op (ONNX
op types, NCHW shapes; :func:`lower_onnx`). Operators are lowered as an Ethos-U compiler
lowers them: MEAN over H x W becomes a depthwise convolution with an H x W kernel and a
rescaling multiply; a fully connected layer is a vector product over a 1 x 1 x K input;
SOFTMAX runs as a fixed sequence of elementwise passes (``softmax_passes``) over its tensor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from math import prod
from typing import Any

from socsim.hw.npu_block import NpuOp

__all__ = ["SOFTMAX_PASSES", "lower_onnx", "lower_recorded", "lower_tflite"]

#: Elementwise NPU passes an int8 SOFTMAX is lowered to (Vela 5.2 emits 29 operations for a
#: 1 x 2 softmax, tests/data/vela; all but a handful act on one value per row).
SOFTMAX_PASSES = 29

_BITS = {"int8": 8, "uint8": 8, "int16": 16, "int32": 32}


def _hwc(shape: Sequence[int]) -> tuple[int, int, int]:
    """NHWC (or N x C) shape as (h, w, c)."""
    s = [int(d) for d in shape]
    if len(s) == 4:
        return s[1], s[2], s[3]
    if len(s) == 2:
        return 1, 1, s[1]
    if len(s) == 3:
        return 1, s[1], s[2]
    return 1, 1, prod(s) if s else 1


def _ops_for(kind: str, ifm: tuple[int, int, int], ofm: tuple[int, int, int],
             kernel: Sequence[int], stride: Sequence[int], weight_bytes: int,
             ifm2: tuple[int, int, int] | None, bits: int, obits: int) -> list[NpuOp]:
    k, s = (int(kernel[0]), int(kernel[1])), (int(stride[0]), int(stride[1]))
    if kind == "conv":
        return [NpuOp("conv", ifm, ofm, k, s, ifm_bits=bits, ofm_bits=obits,
                      weight_bytes=weight_bytes, has_bias=True)]
    if kind == "depthwise":
        return [NpuOp("depthwise", ifm, ofm, k, s, ifm_bits=bits, ofm_bits=obits,
                      weight_bytes=weight_bytes, has_bias=True)]
    if kind == "fc":
        k_in = prod(ifm)
        return [NpuOp("vector", (1, 1, k_in), (1, 1, ofm[2]), ifm_bits=bits, ofm_bits=obits,
                      weight_bytes=weight_bytes, has_bias=True)]
    if kind in ("pool_avg", "pool_max"):
        if ofm[0] == ofm[1] == 1:   # a global pool: one window, the stride is irrelevant
            s = (1, 1)
        return [NpuOp(kind, ifm, ofm, k, s, ifm_bits=bits, ofm_bits=obits)]
    if kind == "mean":
        out = (1, 1, ifm[2])
        # The averaging kernel is one constant per channel, which the weight encoder packs
        # into about a byte per channel (Vela 5.2: ~1 KiB for 1280 channels).
        return [NpuOp("depthwise", ifm, out, (ifm[0], ifm[1]), (1, 1), ifm_bits=bits,
                      ofm_bits=32, has_bias=True, weight_bytes=ifm[2]),
                NpuOp("elementwise", out, out, ifm2=(1, 1, 1), ifm_bits=32, ofm_bits=obits,
                      elementwise="mul")]
    if kind in ("add", "sub", "mul"):
        return [NpuOp("elementwise", ifm, ofm, ifm2=ifm2, ifm_bits=bits, ofm_bits=obits,
                      elementwise=kind)]
    if kind == "softmax":
        row = (1, 1, 1)
        return [NpuOp("elementwise", ofm, ofm, ifm2=ofm, elementwise="other",
                      activation="lut")] + \
            [NpuOp("elementwise", row, row, ifm2=row, ifm_bits=32, ofm_bits=32)
             for _ in range(SOFTMAX_PASSES - 1)]
    raise ValueError(f"no block-model lowering for {kind!r}")


_TFLITE = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "fc",
           "AVERAGE_POOL_2D": "pool_avg", "MAX_POOL_2D": "pool_max", "MEAN": "mean",
           "ADD": "add", "SUB": "sub", "MUL": "mul", "SOFTMAX": "softmax"}


def lower_tflite(layer: Mapping[str, Any]) -> list[NpuOp]:
    """NPU operations of one recorded TFLite operator (an ``index.json`` layer entry).

    Raises:
        ValueError: the operator has no lowering (its name is in the message).
    """
    kind = _TFLITE.get(layer["op"])
    if kind is None:
        raise ValueError(f"no block-model lowering for TFLite operator {layer['op']!r} "
                         f"(known: {sorted(_TFLITE)})")
    ifms = [_hwc(s) for s in layer["ifm_shapes"]]
    bits = _BITS.get(layer["ifm_dtypes"][0], 8)
    return _ops_for(kind, ifms[0], _hwc(layer["ofm_shape"]), layer["kernel"], layer["stride"],
                    int(layer.get("weight_bytes", 0)), ifms[1] if len(ifms) > 1 else None,
                    bits, _BITS.get(layer["ofm_dtype"], 8))


_ONNX = {"Conv": "conv", "QLinearConv": "conv", "ConvInteger": "conv",
         "Gemm": "fc", "MatMul": "fc", "QLinearMatMul": "fc", "MatMulInteger": "fc",
         "AveragePool": "pool_avg", "MaxPool": "pool_max", "GlobalAveragePool": "mean",
         "ReduceMean": "mean", "Add": "add", "QLinearAdd": "add", "Sub": "sub",
         "Mul": "mul", "QLinearMul": "mul", "Softmax": "softmax"}


def lower_onnx(op_type: str, attrs: Mapping[str, Any], in_shapes: Sequence[Sequence[int]],
               out_shape: Sequence[int], weight_shape: Sequence[int] | None,
               weight_bytes: int, dtype: str) -> list[NpuOp] | None:
    """NPU operations of one ONNX op (NCHW shapes); None for an op the NPU model does not
    cost as MAC or elementwise work (views, layout and data-movement ops)."""
    kind = _ONNX.get(op_type)
    if kind is None:
        return None

    def nhwc(s: Sequence[int]) -> tuple[int, int, int]:
        s = [int(d) for d in s]
        return (s[2], s[3], s[1]) if len(s) == 4 else _hwc(s)

    ifm, ofm = nhwc(in_shapes[0]), nhwc(out_shape)
    bits = _BITS.get(dtype, 8)
    kernel = list(attrs.get("kernel_shape") or (weight_shape[2:] if weight_shape and
                                                len(weight_shape) == 4 else [1, 1]))
    stride = list(attrs.get("strides", [1, 1]))
    if kind == "conv" and int(attrs.get("group", 1)) == ifm[2] > 1:
        kind = "depthwise"
    if kind == "fc":
        ifm = (1, 1, int(in_shapes[0][-1]))
        ofm = (1, 1, int(out_shape[-1]))
    ifm2 = nhwc(in_shapes[1]) if kind in ("add", "sub", "mul") and len(in_shapes) > 1 else None
    return _ops_for(kind, ifm, ofm, kernel, stride, weight_bytes, ifm2, bits, bits)


def lower_recorded(layer: Mapping[str, Any], details: Sequence[Mapping[str, Any]],
                   ports: Mapping[str, str] | None = None) -> list[NpuOp]:
    """:func:`lower_tflite` with the compiler's storage decisions applied: each NPU op's
    tensor layouts (NHWC / NHCWB16), the memories its tensors are in (through ``ports``,
    compiler memory name -> port name) and its encoded weight stream's size (the scales and
    biases are a separate stream, ``scale_bias_bytes_per_channel`` per output channel unless
    recorded), from the recorded ``vela_op_details``. Intermediate tensors of a lowered
    operator are NHCWB16 in the first op's output memory.

    socsim does not model Vela's weight codec, its choice of layouts or its memory
    placement; these are inputs to the cost model, as a compiled network's would be.
    """
    ops = lower_tflite(layer)
    if not details:
        return ops
    ports = ports or {}
    main = next((d for d in details if d.get("weight_total_bytes")), details[0])
    first, last = details[0], details[-1]
    fmt_in = str(main.get("ifm_format", "NHWC")).lower()
    fmt_out = str(last.get("ofm_format", "NHWC")).lower()
    mem_in = ports.get(str(first.get("ifm_memory")))
    mem_out = ports.get(str(last.get("ofm_memory")))
    mem_mid = ports.get(str(first.get("ofm_memory")), mem_out)
    out = []
    for i, op in enumerate(ops):
        is_first, is_last = i == 0, i == len(ops) - 1
        changes: dict[str, Any] = {
            "ifm_format": fmt_in if is_first else "nhcwb16",
            "ofm_format": fmt_out if is_last else "nhcwb16",
            "ifm_port": mem_in if is_first else mem_mid,
            "ofm_port": mem_out if is_last else mem_mid}
        if op.weight_bytes and main.get("weight_total_bytes"):
            changes["weight_bytes"] = int(main["weight_total_bytes"])
            if main.get("scales_total_bytes"):
                changes["scale_bytes"] = int(main["scales_total_bytes"])
        out.append(replace(op, **changes))
    return out
