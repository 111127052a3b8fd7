"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED with TFLite's int8 arithmetic, NHWC.

Exact int32 sums of ``(x - x_zp) * (w - w_zp)`` plus the int32 bias (saturated to the unit's
accumulator width), per-channel ``MultiplyByQuantizedMultiplier`` with the multiplier of
``double(x_scale) * double(w_scale[c]) / double(y_scale)`` (``PopulateConvolutionQuantization
Params``), the output zero point added in int32, then the fused activation's clamp.
Out-of-image taps contribute nothing (the reference kernels skip them).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from socsim.kernels.arithmetic import DEFAULT, Arithmetic
from socsim.kernels.tflite.base import (
    Multiplier,
    QParams,
    TflKernel,
    activation_range,
    as_i64,
    qparams,
    register,
    requant_mode,
    saturate_acc,
)


def same_padding(in_size: int, k: int, stride: int, dilation: int, out_size: int) -> int:
    """Leading padding of TFLite's ``ComputePaddingWithOffset`` (the odd pixel goes last)."""
    eff = (k - 1) * dilation + 1
    return max((out_size - 1) * stride + eff - in_size, 0) // 2


def out_size(in_hw, k_hw, stride, dilation, padding: str | tuple[int, int, int, int]
             ) -> tuple[int, int]:
    """Output height and width: TFLite's ``ComputeOutSize`` for ``SAME`` / ``VALID``, or
    ``floor((in + pads - effective kernel) / stride) + 1`` for explicit ``(top, left, bottom,
    right)`` pads (an ONNX model's)."""
    out = []
    for axis, (size, k, s, d) in enumerate(zip(in_hw, k_hw, stride, dilation)):
        eff = (k - 1) * d + 1
        if isinstance(padding, tuple):
            out.append((size + padding[axis] + padding[axis + 2] - eff) // s + 1)
        else:
            out.append((size + s - 1) // s if padding == "SAME" else (size + s - eff) // s)
    return out[0], out[1]


def taps(x: np.ndarray, kh: int, kw: int, stride: tuple[int, int], dilation: tuple[int, int],
         pad: tuple[int, int], out_hw: tuple[int, int]
         ) -> Iterator[tuple[int, int, np.ndarray]]:
    """For each kernel tap ``(i, j)``, the ``(N, OH, OW, C)`` input values it multiplies.

    ``x`` is already offset by its zero point, so the zero padding stands for skipped taps.
    """
    n, h, w, c = x.shape
    oh, ow = out_hw
    need_h = (oh - 1) * stride[0] + (kh - 1) * dilation[0] + 1
    need_w = (ow - 1) * stride[1] + (kw - 1) * dilation[1] + 1
    pb, pr = max(need_h - h - pad[0], 0), max(need_w - w - pad[1], 0)
    xp = np.pad(x, ((0, 0), (pad[0], pb), (pad[1], pr), (0, 0)))
    for i in range(kh):
        for j in range(kw):
            r, s = i * dilation[0], j * dilation[1]
            yield i, j, xp[:, r:r + (oh - 1) * stride[0] + 1:stride[0],
                           s:s + (ow - 1) * stride[1] + 1:stride[1], :]


class _Requantized(TflKernel):
    """The int32 accumulator -> output path shared by conv, depthwise and fully connected."""

    def __init__(self, x: QParams, w: QParams, y: QParams, bias: np.ndarray | None,
                 activation: str, arithmetic: Arithmetic) -> None:
        super().__init__()
        self.x, self.w, self.y = x, w, y
        real = (np.float64(x.s) * np.asarray(w.scale, np.float64)) / np.float64(y.s)
        self.mult = Multiplier(real, requant_mode(arithmetic.requant))
        self.bits = arithmetic.accumulator_bits
        self.bias = None if bias is None else as_i64(bias)
        self.lo, self.hi = activation_range(activation, y)

    def finish(self, acc: np.ndarray) -> np.ndarray:
        acc = np.rint(acc).astype(np.int64) if acc.dtype.kind == "f" else acc
        if self.bias is not None:
            acc = acc + self.bias
        acc = saturate_acc(self, acc, self.bits)
        before = self.mult.overflows
        q = self.mult(acc) + self.y.zp
        self.count("requant_overflows", self.mult.overflows - before)
        return self.clamp(q, self.lo, self.hi, self.y)


class Conv2D(_Requantized):
    """CONV_2D, per-channel int8: ``reference/integer_ops/conv.h`` (``ConvPerChannel``) with
    the parameters of ``kernels/conv.cc`` and ``kernels/kernel_util.cc``.

    Weights are ``(O, KH, KW, I)``; the input ``(N, H, W, I)``; ``padding`` is ``SAME``,
    ``VALID`` or explicit ``(top, left, bottom, right)`` pads.
    """

    opcode = "CONV_2D"

    def __init__(self, weights: np.ndarray, bias: np.ndarray | None, x: QParams, w: QParams,
                 y: QParams, *, stride: tuple[int, int], dilation: tuple[int, int],
                 padding: str | tuple[int, int, int, int], activation: str,
                 arithmetic: Arithmetic = DEFAULT) -> None:
        super().__init__(x, w, y, bias, activation, arithmetic)
        self.weights = (as_i64(weights) - _channel_zp(w, weights.ndim)).astype(np.float64)
        self.stride, self.dilation, self.padding = stride, dilation, padding

    def _geometry(self, x: np.ndarray, out_hw: tuple[int, int]) -> tuple[int, int]:
        kh, kw = self.weights.shape[1:3]
        if isinstance(self.padding, tuple):
            return self.padding[0], self.padding[1]
        if self.padding != "SAME":
            return 0, 0
        return (same_padding(x.shape[1], kh, self.stride[0], self.dilation[0], out_hw[0]),
                same_padding(x.shape[2], kw, self.stride[1], self.dilation[1], out_hw[1]))

    def out_hw(self, x: np.ndarray) -> tuple[int, int]:
        return out_size(x.shape[1:3], self.weights.shape[1:3], self.stride, self.dilation,
                        self.padding)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        out_hw = self.out_hw(x)
        xc = as_i64(x).astype(np.float64) - self.x.zp
        kh, kw = self.weights.shape[1:3]
        acc = np.zeros((x.shape[0], *out_hw, self.weights.shape[0]), np.float64)
        for i, j, tap in taps(xc, kh, kw, self.stride, self.dilation,
                              self._geometry(x, out_hw), out_hw):
            acc += tap @ self.weights[:, i, j, :].T
        return (self.finish(acc),)


class DepthwiseConv2D(Conv2D):
    """DEPTHWISE_CONV_2D, per-channel int8: ``reference/integer_ops/depthwise_conv.h``
    (``DepthwiseConvPerChannel``); output channel ``c * multiplier + m`` reads input channel
    ``c``. Weights are ``(1, KH, KW, I * multiplier)``."""

    opcode = "DEPTHWISE_CONV_2D"

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        out_hw = self.out_hw(x)
        xc = as_i64(x).astype(np.float64) - self.x.zp
        kh, kw = self.weights.shape[1:3]
        channels = self.weights.shape[3]
        mult = channels // x.shape[3]
        acc = np.zeros((x.shape[0], *out_hw, channels), np.float64)
        for i, j, tap in taps(xc, kh, kw, self.stride, self.dilation,
                              self._geometry(x, out_hw), out_hw):
            acc += (np.repeat(tap, mult, axis=3) if mult > 1 else tap) * self.weights[0, i, j]
        return (self.finish(acc),)


class FullyConnected(_Requantized):
    """FULLY_CONNECTED, int8 (per-tensor or per-channel): ``reference/integer_ops/
    fully_connected.h``; the input is read as ``(-1, I)`` rows, weights ``(O, I)``."""

    opcode = "FULLY_CONNECTED"

    def __init__(self, weights: np.ndarray, bias: np.ndarray | None, x: QParams, w: QParams,
                 y: QParams, *, out_shape: tuple[int, ...], activation: str,
                 arithmetic: Arithmetic = DEFAULT) -> None:
        super().__init__(x, w, y, bias, activation, arithmetic)
        self.weights = (as_i64(weights) - _channel_zp(w, 2)).astype(np.float64)
        self.out_shape = out_shape

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        rows = (as_i64(x).astype(np.float64) - self.x.zp).reshape(-1, self.weights.shape[1])
        return (self.finish(rows @ self.weights.T).reshape(self.out_shape),)


def _channel_zp(w: QParams, ndim: int) -> np.ndarray:
    zp = np.asarray(w.zero_point, np.int64)
    if zp.size <= 1:
        return zp.reshape(()) if zp.size else np.int64(0)
    shape = [1] * ndim
    shape[w.axis] = zp.size
    return zp.reshape(shape)


def _bias(tensors, idx: tuple[int, ...]) -> np.ndarray | None:
    return tensors[idx[2]].data if len(idx) > 2 and idx[2] >= 0 else None


@register("CONV_2D")
def _conv(op, tensors, arithmetic: Arithmetic) -> Conv2D:
    x, w, y = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    o = op.options
    return Conv2D(w.data, _bias(tensors, op.inputs), qparams(x), qparams(w), qparams(y),
                  stride=(o["stride_h"], o["stride_w"]),
                  dilation=(o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)),
                  padding=o["padding"], activation=o["fused_activation_function"],
                  arithmetic=arithmetic)


@register("DEPTHWISE_CONV_2D")
def _depthwise(op, tensors, arithmetic: Arithmetic) -> DepthwiseConv2D:
    x, w, y = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    o = op.options
    return DepthwiseConv2D(w.data, _bias(tensors, op.inputs), qparams(x), qparams(w),
                           qparams(y), stride=(o["stride_h"], o["stride_w"]),
                           dilation=(o.get("dilation_h_factor", 1),
                                     o.get("dilation_w_factor", 1)),
                           padding=o["padding"], activation=o["fused_activation_function"],
                           arithmetic=arithmetic)


@register("FULLY_CONNECTED")
def _fc(op, tensors, arithmetic: Arithmetic) -> FullyConnected:
    x, w, y = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    return FullyConnected(w.data, _bias(tensors, op.inputs), qparams(x), qparams(w), qparams(y),
                          out_shape=y.shape,
                          activation=op.options.get("fused_activation_function", "NONE"),
                          arithmetic=arithmetic)
