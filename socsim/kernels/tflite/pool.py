"""AVERAGE_POOL_2D, MAX_POOL_2D, MEAN and REDUCE_MAX with TFLite's integer arithmetic, NHWC."""

from __future__ import annotations

import numpy as np

from socsim.kernels.arithmetic import DEFAULT, Arithmetic
from socsim.kernels.requant import multiply_double, multiply_single, quantize_multiplier
from socsim.kernels.tflite.base import (
    QParams,
    TflKernel,
    activation_range,
    as_i64,
    qparams,
    register,
    requant_mode,
)
from socsim.kernels.tflite.conv import out_size, same_padding, taps


def _c_div_round(acc: np.ndarray, count: np.ndarray | int) -> np.ndarray:
    """``acc > 0 ? (acc + n/2) / n : (acc - n/2) / n`` with C's truncating division: the
    quotient rounded half away from zero."""
    half = np.asarray(count) // 2
    num = np.where(acc > 0, acc + half, acc - half)
    q = np.abs(num) // count
    return np.where(num < 0, -q, q)


class _Pool(TflKernel):
    def __init__(self, x: QParams, y: QParams, *, filter_hw: tuple[int, int],
                 stride: tuple[int, int], padding: str | tuple[int, int, int, int],
                 activation: str) -> None:
        super().__init__()
        self.x, self.y = x, y
        self.filter_hw, self.stride, self.padding = filter_hw, stride, padding
        self.lo, self.hi = activation_range(activation, y)

    def geometry(self, x: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
        out = out_size(x.shape[1:3], self.filter_hw, self.stride, (1, 1), self.padding)
        if isinstance(self.padding, tuple):
            return out, (self.padding[0], self.padding[1])
        if self.padding != "SAME":
            return out, (0, 0)
        return out, tuple(same_padding(size, k, s, 1, o) for size, k, s, o
                          in zip(x.shape[1:3], self.filter_hw, self.stride, out))


class AveragePool2D(_Pool):
    """AVERAGE_POOL_2D, int8: ``reference/integer_ops/pooling.h`` (``AveragePool``): the integer
    sum of the window's in-image elements divided by their count, rounded half away from zero;
    input and output share scale and zero point (the converter guarantees it)."""

    opcode = "AVERAGE_POOL_2D"

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        out_hw, pad = self.geometry(x)
        kh, kw = self.filter_hw
        acc = np.zeros((x.shape[0], *out_hw, x.shape[3]), np.int64)
        count = np.zeros((1, *out_hw, 1), np.int64)
        ones = np.ones((1, *x.shape[1:3], 1), np.int64)
        xi = as_i64(x)
        for (_, _, tap), (_, _, inside) in zip(
                taps(xi, kh, kw, self.stride, (1, 1), pad, out_hw),
                taps(ones, kh, kw, self.stride, (1, 1), pad, out_hw)):
            acc += tap
            count += inside
        return (self.clamp(_c_div_round(acc, count), self.lo, self.hi, self.y),)


class MaxPool2D(_Pool):
    """MAX_POOL_2D, int8: ``reference/integer_ops/pooling.h`` (``MaxPool``): the largest
    in-image element, clamped to the fused activation's range."""

    opcode = "MAX_POOL_2D"

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        out_hw, pad = self.geometry(x)
        kh, kw = self.filter_hw
        floor = np.iinfo(np.int64).min
        xi = as_i64(x)
        best = np.full((x.shape[0], *out_hw, x.shape[3]), floor, np.int64)
        ones = np.ones((1, *x.shape[1:3], 1), np.int64)
        for (_, _, tap), (_, _, inside) in zip(
                taps(xi, kh, kw, self.stride, (1, 1), pad, out_hw),
                taps(ones, kh, kw, self.stride, (1, 1), pad, out_hw)):
            best = np.maximum(best, np.where(inside > 0, tap, floor))
        return (self.clamp(best, self.lo, self.hi, self.y),)


class Mean(TflKernel):
    """MEAN, int8: ``reference_ops::QuantizedMeanOrSum`` (``reference/reduce.h``) with the
    multiplier of ``PrepareMeanOrSum`` (``kernels/reduce.cc``).

    ``QuantizeMultiplier(double(s_in) / double(s_out))`` gives ``(M, shift)``; the division by
    the count ``n`` is folded into it: ``k = min(floor(log2 n), 32, 31 + shift)``,
    ``M' = (M << k) // n``, ``shift' = shift - k``. Each output is
    ``MultiplyByQuantizedMultiplier(sum(x) - zp_in * n, M', shift') + zp_out``, clamped.
    """

    opcode = "MEAN"

    def __init__(self, x: QParams, y: QParams, *, axes: tuple[int, ...],
                 out_shape: tuple[int, ...], arithmetic: Arithmetic = DEFAULT) -> None:
        super().__init__()
        self.x, self.y, self.axes, self.out_shape = x, y, axes, out_shape
        self.mode = requant_mode(arithmetic.requant)
        self.m, self.shift = quantize_multiplier(np.float64(x.s) / np.float64(y.s),
                                                 single_rounding=self.mode == "tflite_single")

    def multiplier(self, count: int) -> tuple[int, int]:
        """``(M', shift')`` for a mean over ``count`` elements."""
        k = min(count.bit_length() - 1, 32, 31 + int(self.shift))
        return (int(self.m) << k) // count, int(self.shift) - k

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        axes = tuple(sorted({a % x.ndim for a in self.axes}))
        count = int(np.prod([x.shape[a] for a in axes]))
        m, shift = self.multiplier(count)
        total = as_i64(x).sum(axis=axes) - self.x.zp * count
        fn = multiply_single if self.mode == "tflite_single" else multiply_double
        out, over = fn(total, np.int64(m), np.int64(shift))
        self.count("requant_overflows", over)
        lo, hi = self.y.range
        return (self.clamp(out + self.y.zp, lo, hi, self.y).reshape(self.out_shape),)


class ReduceMax(TflKernel):
    """REDUCE_MAX, int8 (``kernels/reduce.cc``, ``EvalType`` / ``ReduceGeneric``): the largest
    element; input and output share scale and zero point."""

    opcode = "REDUCE_MAX"

    def __init__(self, axes: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.axes, self.out_shape = axes, out_shape

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        axes = tuple(sorted({a % x.ndim for a in self.axes}))
        return (x.max(axis=axes).reshape(self.out_shape),)


def _pool_args(op) -> dict:
    o = op.options
    return {"filter_hw": (o["filter_height"], o["filter_width"]),
            "stride": (o["stride_h"], o["stride_w"]), "padding": o["padding"],
            "activation": o.get("fused_activation_function", "NONE")}


@register("AVERAGE_POOL_2D")
def _avg(op, tensors, arithmetic: Arithmetic) -> AveragePool2D:
    return AveragePool2D(qparams(tensors[op.inputs[0]]), qparams(tensors[op.outputs[0]]),
                         **_pool_args(op))


@register("MAX_POOL_2D")
def _max(op, tensors, arithmetic: Arithmetic) -> MaxPool2D:
    return MaxPool2D(qparams(tensors[op.inputs[0]]), qparams(tensors[op.outputs[0]]),
                     **_pool_args(op))


def _axes(op, tensors) -> tuple[int, ...]:
    return tuple(int(a) for a in np.asarray(tensors[op.inputs[1]].data).reshape(-1))


@register("MEAN")
def _mean(op, tensors, arithmetic: Arithmetic) -> Mean:
    y = tensors[op.outputs[0]]
    return Mean(qparams(tensors[op.inputs[0]]), qparams(y), axes=_axes(op, tensors),
                out_shape=y.shape, arithmetic=arithmetic)


@register("REDUCE_MAX")
def _reduce_max(op, tensors, arithmetic: Arithmetic) -> ReduceMax:
    return ReduceMax(_axes(op, tensors), tensors[op.outputs[0]].shape)
