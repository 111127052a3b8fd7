"""Elementwise ops with numpy broadcasting: arithmetic, comparisons, Where, activations, Erf/Gelu,
Identity.

Results keep the input's float type. float32 Erf, Tanh and Gelu are MLAS's polynomials,
bit-exact to onnxruntime with either MLAS kernel family (:mod:`socsim.kernels._mlas`); other
transcendental functions are evaluated in float64 and rounded once, so they are correctly
rounded in all but rare cases.
"""

from __future__ import annotations

import math

import numpy as np

from socsim.kernels import _mlas
from socsim.kernels.registry import MS_DOMAIN, KernelContext, register

_erf64 = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """Error function: float32 as onnxruntime computes it (MLAS), other types via float64
    ``math.erf`` rounded to ``x``'s type."""
    if x.size == 0:
        return x.copy()
    if x.dtype == np.float32:
        return _mlas.erf(x)
    return _erf64(x.astype(np.float64)).astype(np.float64).astype(x.dtype)


def tanh(x: np.ndarray) -> np.ndarray:
    """Tanh: float32 as onnxruntime computes it (MLAS's rational approximation), other types
    via float64 ``numpy.tanh`` rounded to ``x``'s type."""
    if x.dtype == np.float32:
        return _mlas.tanh(x)
    return np.tanh(x.astype(np.float64)).astype(x.dtype)


def _binary(fn):
    def kernel(ctx: KernelContext, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
        return (fn(a, b).astype(np.result_type(a, b), copy=False),)

    kernel.__doc__ = f"ONNX {fn.__name__} with numpy broadcasting."
    return kernel


for _op, _fn in (("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply),
                 ("Max", np.maximum), ("Min", np.minimum), ("Pow", np.power)):
    register(_op)(_binary(_fn))


@register("Div")
def div(ctx: KernelContext, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Div: true division for floats, truncation toward zero for integers (as C++)."""
    if a.dtype.kind in "iu":
        q = np.trunc(a.astype(np.float64) / b.astype(np.float64))
        return (q.astype(np.result_type(a, b)),)
    return (np.divide(a, b),)


def _unary(name: str, fn) -> None:
    def kernel(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
        return (np.asarray(fn(x)).astype(x.dtype, copy=False),)

    kernel.__doc__ = f"ONNX {name}."
    register(name)(kernel)


for _name, _f in (("Neg", np.negative), ("Abs", np.abs), ("Sqrt", np.sqrt),
                  ("Exp", lambda x: np.exp(x.astype(np.float64))),
                  ("Tanh", tanh),
                  ("Reciprocal", np.reciprocal), ("Erf", erf)):
    _unary(_name, _f)


@register("Sum")
def sum_(ctx: KernelContext, *xs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sum: variadic, broadcast, added left to right in the inputs' type."""
    y = xs[0]
    for x in xs[1:]:
        y = y + x
    return (np.asarray(y).astype(xs[0].dtype, copy=False),)


@register("Less")
def less(ctx: KernelContext, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Less: boolean ``a < b``."""
    return (np.less(a, b),)


@register("Where")
def where(ctx: KernelContext, cond: np.ndarray, a: np.ndarray, b: np.ndarray
          ) -> tuple[np.ndarray, ...]:
    """Where: ``a`` where ``cond`` else ``b``, broadcast."""
    return (np.where(cond, a, b).astype(np.result_type(a, b), copy=False),)


@register("Round")
def round_(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Round: to nearest, ties to even (numpy's ``rint``)."""
    return (np.rint(x),)


@register("Identity")
def identity(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Identity."""
    return (x,)


@register("Relu")
def relu(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Relu."""
    return (np.maximum(x, x.dtype.type(0)),)


@register("LeakyRelu")
def leaky_relu(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """LeakyRelu: ``x`` if positive else ``alpha * x``."""
    alpha = x.dtype.type(ctx.attr("alpha", 0.01))
    return (np.where(x >= 0, x, x * alpha).astype(x.dtype),)


@register("Clip")
def clip(ctx: KernelContext, x: np.ndarray, lo: np.ndarray | None = None,
         hi: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Clip (attributes before opset 11, inputs after)."""
    if ctx.opset < 11:
        lo = ctx.attr("min", None)
        hi = ctx.attr("max", None)
    y = x
    if lo is not None and np.size(lo):
        y = np.maximum(y, np.asarray(lo).astype(x.dtype))
    if hi is not None and np.size(hi):
        y = np.minimum(y, np.asarray(hi).astype(x.dtype))
    return (y.astype(x.dtype, copy=False),)


@register("Sigmoid")
def sigmoid(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sigmoid, evaluated in float64."""
    x64 = x.astype(np.float64)
    return ((1.0 / (1.0 + np.exp(-x64))).astype(x.dtype),)


@register("HardSigmoid")
def hard_sigmoid(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """HardSigmoid: ``max(0, min(1, alpha * x + beta))``."""
    t = x.dtype.type
    alpha, beta = t(ctx.attr("alpha", 0.2)), t(ctx.attr("beta", 0.5))
    return (np.clip(x * alpha + beta, t(0), t(1)).astype(x.dtype),)


@register("HardSwish")
def hard_swish(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """HardSwish: ``x * max(0, min(1, x / 6 + 1 / 2))``."""
    t = x.dtype.type
    return ((x * np.clip(x * t(1 / 6) + t(0.5), t(0), t(1))).astype(x.dtype),)


@register("Gelu")
def gelu(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gelu (opset 20): exact (erf) or ``approximate="tanh"``. float32 is onnxruntime's
    (:func:`socsim.kernels._mlas.gelu`), bit-exact; other types are evaluated in float64."""
    approximate = ctx.attr("approximate", "none")
    if x.dtype == np.float32:
        return (_mlas.gelu(x, approximate, ctx.arithmetic.float_kernels),)
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        y = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)))
    else:
        y = 0.5 * x64 * (1 + _erf64(x64 / math.sqrt(2)).astype(np.float64))
    return (y.astype(x.dtype),)


@register("Gelu", MS_DOMAIN)
def gelu_ms(ctx: KernelContext, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """com.microsoft Gelu: the exact (erf) form, as ONNX Gelu without ``approximate``."""
    return gelu(ctx, x)
