"""TFLite's integer semantics for the integer operators of a lowered ONNX model (``qdq="tflite"``).

socsim's QDQ fuser rewrites a converter's ``DQ -> op -> [activation] -> Q`` groups into
QOperator nodes (QLinearConv, QLinearMatMul, com.microsoft QGemm / QLinearAdd / QLinearMul /
QLinearAveragePool / QLinearGlobalAveragePool / QLinearSoftmax / QLinearSigmoid /
QLinearConcat) followed by an integer Clip for a fused activation. Under ``qdq="tflite"`` these
nodes run here, on the TFLite kernels of this package, instead of onnxruntime's arithmetic; a
QuantizeLinear of float and a DequantizeLinear run as TFLite's QUANTIZE and DEQUANTIZE. Each
kernel is built once per node (``ctx.cached``) from the node's constant scales and zero points;
4-D tensors are NCHW here and transposed to the kernels' NHWC around the call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from socsim.kernels.registry import MS_DOMAIN, KernelContext
from socsim.kernels.tflite.activations import HardSwish, LookupTable, Softmax
from socsim.kernels.tflite.base import QParams
from socsim.kernels.tflite.binary import AddSub, Mul
from socsim.kernels.tflite.conv import Conv2D, DepthwiseConv2D, FullyConnected
from socsim.kernels.tflite.data import Concatenation, Dequantize, Quantize, Requantize
from socsim.kernels.tflite.pool import AveragePool2D, Mean

#: Domain of the integer operators onnxruntime has no QOperator for, which the QDQ fuser emits
#: under TFLite's rules (inputs as com.microsoft's: ``x, x_scale, x_zp[, b, b_scale, b_zp],
#: y_scale, y_zp``): QLinearSub, QLinearTanh, QLinearHardSwish, and Requantize (a
#: ``DequantizeLinear -> QuantizeLinear`` pair: TFLite's int8 -> int8 QUANTIZE).
TFLITE_DOMAIN = "ai.socsim.tflite"

OnnxKernel = Callable[..., tuple[np.ndarray, ...]]
_KERNELS: dict[tuple[str, str], OnnxKernel] = {}


def _register(op_type: str, domain: str = "") -> Callable[[OnnxKernel], OnnxKernel]:
    def deco(fn: OnnxKernel) -> OnnxKernel:
        _KERNELS[(domain, op_type)] = fn
        return fn
    return deco


def lookup(domain: str, op_type: str) -> OnnxKernel | None:
    """The TFLite-semantics kernel of an ONNX ``(domain, op_type)``, or None (then the node
    runs on socsim's ONNX kernels: data movement, integer Clip, float ops)."""
    return _KERNELS.get(("" if domain in ("", "ai.onnx") else domain, op_type))


def _q(scale: np.ndarray, zero_point: np.ndarray | None, like: np.ndarray | None = None,
       axis: int = 0) -> QParams:
    scale = np.asarray(scale, np.float32).reshape(-1)
    if zero_point is None:
        zp = np.zeros(scale.shape, np.int64)
        dtype = str(like.dtype) if like is not None else "int8"
    else:
        zp = np.asarray(zero_point).astype(np.int64).reshape(-1)
        dtype = str(np.asarray(zero_point).dtype)
    return QParams(scale, zp, dtype, axis)


def _params(ctx: KernelContext) -> range:
    """Indices of a node's inputs after the first (the constants a kernel is built from)."""
    return range(1, len(ctx.const))


def _nhwc(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 2, 3, 1) if x.ndim == 4 else x


def _nchw(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


def _pads(ctx: KernelContext, x: np.ndarray, k_hw: tuple[int, int]
          ) -> str | tuple[int, int, int, int]:
    auto = ctx.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER",):
        return "SAME"
    if auto == "VALID":
        return "VALID"
    p = list(ctx.attr("pads", [0, 0, 0, 0]))
    return (p[0], p[1], p[2], p[3])


@_register("QLinearConv")
def qlinear_conv(ctx: KernelContext, x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp,
                 bias=None):
    """QLinearConv as CONV_2D (group 1) or DEPTHWISE_CONV_2D (group = input channels)."""
    def build():
        group = int(ctx.attr("group", 1))
        kh, kw = w.shape[2:4]
        common = {"stride": tuple(ctx.attr("strides", [1, 1])),
                  "dilation": tuple(ctx.attr("dilations", [1, 1])),
                  "padding": _pads(ctx, x, (kh, kw)), "activation": "NONE",
                  "arithmetic": ctx.arithmetic}
        xq, yq = _q(x_scale, x_zp, x), _q(y_scale, y_zp)
        if group == 1:
            return Conv2D(w.transpose(0, 2, 3, 1), bias, xq, _q(w_scale, w_zp, w, 0), yq,
                          **common)
        if group == x.shape[1] and w.shape[1] == 1:
            return DepthwiseConv2D(w.transpose(1, 2, 3, 0), bias, xq, _q(w_scale, w_zp, w, 3),
                                   yq, **common)
        raise ValueError(f"grouped convolution (group {group}) has no TFLite kernel; TFLite "
                         "runs group 1 (CONV_2D) and depthwise (DEPTHWISE_CONV_2D)")
    kernel = ctx.cached("tflite", build, *_params(ctx))
    return _run(ctx, kernel, lambda: (_nchw(kernel(_nhwc(x))[0]),))


def _run(ctx: KernelContext, kernel, call):
    kernel.events = {}
    out = call()
    for k, v in kernel.events.items():
        ctx.count(k, v)
    return out


@_register("QLinearMatMul")
def qlinear_matmul(ctx: KernelContext, a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp):
    """QLinearMatMul with a constant 2-D right operand as FULLY_CONNECTED."""
    def build():
        return FullyConnected(b.T, None, _q(a_scale, a_zp, a), _q(b_scale, b_zp, b, 0),
                              _q(y_scale, y_zp), out_shape=(*a.shape[:-1], b.shape[1]),
                              activation="NONE", arithmetic=ctx.arithmetic)
    kernel = ctx.cached("tflite", build, *_params(ctx))
    return _run(ctx, kernel, lambda: kernel(a))


@_register("QGemm", MS_DOMAIN)
def qgemm(ctx: KernelContext, a, a_scale, a_zp, b, b_scale, b_zp, c=None, y_scale=None,
          y_zp=None):
    """com.microsoft QGemm (alpha 1, no transA) as FULLY_CONNECTED."""
    def build():
        if int(ctx.attr("transA", 0)) or float(ctx.attr("alpha", 1.0)) != 1.0:
            raise ValueError("QGemm with transA or alpha != 1 has no TFLite kernel")
        w = b if int(ctx.attr("transB", 0)) else b.T
        return FullyConnected(w, c, _q(a_scale, a_zp, a), _q(b_scale, b_zp, b, 0),
                              _q(y_scale, y_zp), out_shape=(a.shape[0], w.shape[0]),
                              activation="NONE", arithmetic=ctx.arithmetic)
    kernel = ctx.cached("tflite", build, *_params(ctx))
    return _run(ctx, kernel, lambda: kernel(a))


def _binary(cls, **kw):
    def fn(ctx: KernelContext, a, a_scale, a_zp, b, b_scale, b_zp, c_scale, c_zp=None):
        kernel = ctx.cached("tflite", lambda: cls(
            _q(a_scale, a_zp, a), _q(b_scale, b_zp, b), _q(c_scale, c_zp, a),
            activation="NONE", arithmetic=ctx.arithmetic, **kw),
            *(i for i in _params(ctx) if i != 3))
        return _run(ctx, kernel, lambda: kernel(a, b))
    return fn


_register("QLinearAdd", MS_DOMAIN)(_binary(AddSub, subtract=False))
_register("QLinearMul", MS_DOMAIN)(_binary(Mul))
_register("QLinearSub", TFLITE_DOMAIN)(_binary(AddSub, subtract=True))


def _unary(make):
    def fn(ctx: KernelContext, x, x_scale, x_zp, y_scale, y_zp=None):
        kernel = ctx.cached("tflite", lambda: make(_q(x_scale, x_zp, x), _q(y_scale, y_zp, x),
                                                   ctx), *_params(ctx))
        return _run(ctx, kernel, lambda: kernel(x))
    return fn


_register("QLinearTanh", TFLITE_DOMAIN)(_unary(lambda x, y, ctx: LookupTable(x, y, "tanh")))
_register("QLinearHardSwish", TFLITE_DOMAIN)(_unary(lambda x, y, ctx: HardSwish(x, y)))
_register("Requantize", TFLITE_DOMAIN)(_unary(
    lambda x, y, ctx: Requantize(x, y, ctx.arithmetic)))


@_register("QLinearAveragePool", MS_DOMAIN)
def qlinear_average_pool(ctx: KernelContext, x, x_scale, x_zp, y_scale, y_zp=None):
    """QLinearAveragePool (count_include_pad 0, NCHW) as AVERAGE_POOL_2D."""
    def build():
        k = tuple(ctx.attr("kernel_shape"))
        if int(ctx.attr("count_include_pad", 0)) or int(ctx.attr("channels_last", 0)):
            raise ValueError("AveragePool with count_include_pad or channels_last has no "
                             "TFLite kernel")
        return AveragePool2D(_q(x_scale, x_zp, x), _q(y_scale, y_zp, x), filter_hw=k,
                             stride=tuple(ctx.attr("strides", [1, 1])),
                             padding=_pads(ctx, x, k), activation="NONE")
    kernel = ctx.cached("tflite", build, *_params(ctx))
    return _run(ctx, kernel, lambda: (_nchw(kernel(_nhwc(x))[0]),))


@_register("QLinearGlobalAveragePool", MS_DOMAIN)
def qlinear_global_average_pool(ctx: KernelContext, x, x_scale, x_zp, y_scale, y_zp=None):
    """QLinearGlobalAveragePool as MEAN over height and width (keep_dims)."""
    out = (x.shape[0], x.shape[1], 1, 1)
    kernel = ctx.cached("tflite", lambda: Mean(
        _q(x_scale, x_zp, x), _q(y_scale, y_zp, x), axes=(2, 3), out_shape=out,
        arithmetic=ctx.arithmetic), *_params(ctx))
    return _run(ctx, kernel, lambda: kernel(x))


@_register("QLinearSoftmax", MS_DOMAIN)
def qlinear_softmax(ctx: KernelContext, x, x_scale, x_zp, y_scale, y_zp=None):
    """QLinearSoftmax over the last axis as SOFTMAX (beta 1)."""
    if int(ctx.attr("axis", -1)) % x.ndim != x.ndim - 1:
        raise ValueError("Softmax over an axis other than the last has no TFLite kernel")
    kernel = ctx.cached("tflite", lambda: Softmax(_q(x_scale, x_zp, x), _q(y_scale, y_zp, x),
                                                  1.0), *_params(ctx))
    return _run(ctx, kernel, lambda: kernel(x))


_register("QLinearSigmoid", MS_DOMAIN)(_unary(lambda x, y, ctx: LookupTable(x, y, "logistic")))


@_register("QLinearConcat", MS_DOMAIN)
def qlinear_concat(ctx: KernelContext, y_scale, y_zp, *triples):
    """QLinearConcat as CONCATENATION."""
    xs = triples[0::3]

    def build():
        qs = [_q(s, z, x) for x, s, z in zip(xs, triples[1::3], triples[2::3])]
        axis = int(ctx.attr("axis")) % xs[0].ndim
        return Concatenation(qs, _q(y_scale, y_zp, xs[0]), axis, "NONE")
    kernel = ctx.cached("tflite", build, 0, 1, *[2 + 3 * i + j for i in range(len(xs))
                                                  for j in (1, 2)])
    return _run(ctx, kernel, lambda: kernel(*xs))


@_register("QuantizeLinear")
def quantize_linear(ctx: KernelContext, x, y_scale, y_zp=None):
    """QuantizeLinear of float (per-tensor) as TFLite's QUANTIZE: ``round(x / s)`` half away
    from zero."""
    if np.asarray(y_scale).size != 1:
        raise ValueError("per-channel QuantizeLinear has no TFLite kernel")
    kernel = ctx.cached("tflite", lambda: Quantize(_q(y_scale, y_zp)), *_params(ctx))
    return _run(ctx, kernel, lambda: kernel(x))


@_register("DequantizeLinear")
def dequantize_linear(ctx: KernelContext, x, x_scale, x_zp=None):
    """DequantizeLinear (per-tensor) as TFLite's DEQUANTIZE; per-channel (weights the fuser
    did not fold) as ONNX specifies it."""
    if np.asarray(x_scale).size != 1:
        axis = int(ctx.attr("axis", 1)) % x.ndim
        shape = [1] * x.ndim
        shape[axis] = -1
        zp = 0 if x_zp is None else np.asarray(x_zp).astype(np.int64).reshape(shape)
        return ((x.astype(np.int64) - zp).astype(np.float32)
                * np.asarray(x_scale, np.float32).reshape(shape),)
    kernel = ctx.cached("tflite", lambda: Dequantize(_q(x_scale, x_zp, x)), *_params(ctx))
    return _run(ctx, kernel, lambda: kernel(x))
