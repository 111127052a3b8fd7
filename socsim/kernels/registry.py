"""The kernel registry: ``(domain, op_type) -> kernel``, filled by the :func:`register` decorator.

A kernel is a function ``kernel(ctx, *inputs) -> tuple[np.ndarray, ...]``: ndarrays in (``None``
for an omitted optional input), a tuple of ndarrays out. ``ctx`` (:class:`KernelContext`) carries
the node's attributes, decoded once when the model is compiled, the unit's :class:`Arithmetic`,
and a per-step cache for data derived from constant inputs (packed weights, multipliers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from socsim.errors import UnsupportedOpError
from socsim.kernels.arithmetic import Arithmetic

MS_DOMAIN = "com.microsoft"

Kernel = Callable[..., tuple[np.ndarray, ...]]

_KERNELS: dict[tuple[str, str], Kernel] = {}


def _norm_domain(domain: str) -> str:
    return "" if domain in ("", "ai.onnx") else domain


def register(op_type: str, domain: str = "") -> Callable[[Kernel], Kernel]:
    """Decorator: registers ``fn`` as the kernel of ``(domain, op_type)`` and returns it unchanged.

    Raises:
        ValueError: if that key is already registered.
    """
    key = (_norm_domain(domain), op_type)

    def deco(fn: Kernel) -> Kernel:
        if key in _KERNELS:
            raise ValueError(f"kernel {key} registered twice ({_KERNELS[key].__module__}, "
                             f"{fn.__module__})")
        _KERNELS[key] = fn
        return fn

    return deco


def supported() -> list[tuple[str, str]]:
    """Every registered ``(domain, op_type)``, sorted (domain ``""`` is ai.onnx)."""
    _load_all()
    return sorted(_KERNELS)


def lookup(domain: str, op_type: str, node: str = "", *, semantics: str = "onnx") -> Kernel:
    """The kernel for ``(domain, op_type)``; with ``semantics="tflite"``, TFLite's integer
    kernel where there is one (:mod:`socsim.kernels.tflite.onnx_ops`), else the ONNX one.

    Raises:
        UnsupportedOpError: naming the op, its domain and node, and listing what is supported.
    """
    if semantics == "tflite":
        from socsim.kernels.tflite.onnx_ops import lookup as tflite_lookup

        kernel = tflite_lookup(domain, op_type)
        if kernel is not None:
            return kernel
    _load_all()
    key = (_norm_domain(domain), op_type)
    try:
        return _KERNELS[key]
    except KeyError:
        listing = ", ".join(f"{d + '.' if d else ''}{o}" for d, o in sorted(_KERNELS))
        raise UnsupportedOpError(
            f"no socsim kernel for op {op_type!r} (domain {domain or 'ai.onnx'!r}, "
            f"node {node!r}); supported: {listing}",
            hint="replace the op with supported ones, or run the model timing-only",
        ) from None


def _load_all() -> None:
    # Importing the family modules runs their @register decorators.
    from socsim.kernels import (  # noqa: F401
        conv,
        elementwise,
        matmul,
        normalization,
        pool,
        qlinear,
        quantize,
        shape,
    )


_MISSING = object()


@dataclass
class KernelContext:
    """What a kernel may know besides its inputs.

    Attributes:
        name: ONNX node name (for messages).
        op_type: ONNX op type.
        attrs: attributes, decoded to Python values once at compile time.
        opset: the model's opset for the node's domain.
        arithmetic: the integer arithmetic of the unit running the node.
        const: per input, True when it is a constant of the model (its value never changes).
        initializer: per input, True when it is an initializer or Constant of the ONNX graph
            itself (what onnxruntime prepacks), not a value socsim computed from constants.
        cache: per-step storage for data derived from constant inputs.
        events: counters of the current run (``accumulator_saturations``,
            ``output_saturations``, ``requant_overflows``, ``pair_saturations``); the
            interpreter resets them per run.
    """

    name: str
    op_type: str
    attrs: Mapping[str, Any]
    opset: int = 21
    arithmetic: Arithmetic = field(default_factory=Arithmetic)
    const: tuple[bool, ...] = ()
    initializer: tuple[bool, ...] = ()
    cache: dict[Any, Any] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, n: int) -> None:
        """Adds ``n`` events of ``kind`` to this run's counters."""
        if n:
            self.events[kind] = self.events.get(kind, 0) + int(n)

    def attr(self, key: str, default: Any = None) -> Any:
        """Attribute ``key`` or ``default``."""
        return self.attrs.get(key, default)

    def is_const(self, i: int) -> bool:
        """True when input ``i`` is a model constant."""
        return i < len(self.const) and self.const[i]

    def is_initializer(self, i: int) -> bool:
        """True when input ``i`` is an initializer (or Constant) of the ONNX graph."""
        return i < len(self.initializer) and self.initializer[i]

    def cached(self, key: Any, make: Callable[[], Any], *inputs: int) -> Any:
        """``make()`` memoised under ``key`` when all of ``inputs`` are constants."""
        value = self.cache.get(key, _MISSING)
        if value is not _MISSING:  # stored only when its inputs were constants, which they stay
            return value
        if not all(self.is_const(i) for i in inputs):
            return make()
        value = self.cache[key] = make()
        return value
