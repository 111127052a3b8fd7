"""Operator compatibility: whether a unit runs an op, and if not, why.

An op runs on a unit when the unit lists its op type (``ops``), its compute bit-width
(``dtypes``; on an FPGA with a kernel library, a kernel implements both) and its attributes fit
the unit's ``limits`` (:class:`socsim.config.limits.OpLimits`: strides, dilations, dilated
kernel sizes, pooling windows, grouped convolutions). Every policy asks this module, so a plan
never puts an op where its attributes cannot run, and the fallbacks it makes carry the reason.

Where the quantization toolkit has a rewrite for an op type a unit lacks
(:data:`socsim.quant.substitute.SUBSTITUTIONS`) and the unit runs every op of the rewrite,
:func:`substitution_hint` says so: the workload's ``substitute: true`` then keeps the op on
the unit as a composition.
"""

from __future__ import annotations

from collections.abc import Iterable

from socsim.config.soc import SoC
from socsim.config.units import Unit
from socsim.graph.ir import Graph, Op
from socsim.hw.kind import kind_of

__all__ = ["candidates", "fallback_unit", "substitution_hint", "supports", "unsupported_reason"]

_CONV = ("Conv", "ConvInteger", "QLinearConv", "ConvTranspose")
_POOL = ("AveragePool", "MaxPool", "LpPool")


def _pair(values, default: int = 1) -> tuple[int, int]:
    vals = list(values or [])
    if not vals:
        return default, default
    return (int(vals[0]), int(vals[1] if len(vals) > 1 else vals[0]))


def _kernel(op: Op, graph: Graph) -> tuple[int, int] | None:
    if "kernel_shape" in op.attrs:
        return _pair(op.attrs["kernel_shape"])
    for w in op.weights:  # a Conv's weight is (M, C/group, kH, kW)
        shape = graph.tensors[w].shape
        if len(shape) == 4:
            return int(shape[2]), int(shape[3])
    return None


def _stride(op: Op, graph: Graph) -> tuple[int, int]:
    """The op's strides, 1 along an axis with a single output position (one window: the
    stride moves nothing, as for a pool covering its whole input)."""
    stride = _pair(op.attrs.get("strides"))
    shape = graph.tensors[op.outputs[0]].shape if op.outputs else ()
    if len(shape) == 4:
        return tuple(1 if out == 1 else s for s, out in zip(stride, shape[2:]))
    return stride


def _over(value: tuple[int, int], limit: tuple[int, int] | None) -> bool:
    return limit is not None and (value[0] > limit[0] or value[1] > limit[1])


def _limit_reason(unit: Unit, op: Op, graph: Graph) -> str | None:
    lim = unit.limits
    if lim is None:
        return None
    if op.op_type in _CONV:
        stride = _stride(op, graph)
        dil = _pair(op.attrs.get("dilations"))
        if _over(stride, lim.stride_max):
            return f"stride {list(stride)} exceeds limits.stride_max {list(lim.stride_max)}"
        if _over(dil, lim.dilation_max):
            return f"dilation {list(dil)} exceeds limits.dilation_max {list(lim.dilation_max)}"
        k = _kernel(op, graph)
        if k is not None:
            dk = ((k[0] - 1) * dil[0] + 1, (k[1] - 1) * dil[1] + 1)
            if _over(dk, lim.kernel_max):
                return (f"dilated kernel {list(dk)} exceeds limits.kernel_max "
                        f"{list(lim.kernel_max)}")
            if lim.kernel_area_max is not None and dk[0] * dk[1] > lim.kernel_area_max:
                return (f"dilated kernel area {dk[0] * dk[1]} exceeds "
                        f"limits.kernel_area_max {lim.kernel_area_max}")
        group = int(op.attrs.get("group", 1) or 1)
        if not lim.grouped_conv and group > 1 and op.inputs:
            shape = graph.tensors[op.inputs[0]].shape
            channels = shape[1] if len(shape) >= 2 else group
            if group != channels:
                return (f"grouped convolution (group {group} of {channels} channels) and "
                        "limits.grouped_conv is false")
    elif op.op_type in _POOL:
        stride = _stride(op, graph)
        if _over(stride, lim.stride_max):
            return f"stride {list(stride)} exceeds limits.stride_max {list(lim.stride_max)}"
        k = _kernel(op, graph)
        if k is not None:
            if _over(k, lim.pool_kernel_max):
                return (f"pooling window {list(k)} exceeds limits.pool_kernel_max "
                        f"{list(lim.pool_kernel_max)}")
            if lim.pool_kernel_area_max is not None and k[0] * k[1] > lim.pool_kernel_area_max:
                return (f"pooling window area {k[0] * k[1]} exceeds "
                        f"limits.pool_kernel_area_max {lim.pool_kernel_area_max}")
            padded = any(int(p) for p in op.attrs.get("pads") or []) or op.attrs.get(
                "auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER", b"SAME_UPPER",
                                          b"SAME_LOWER")
            if (op.op_type == "AveragePool" and padded
                    and _over(k, lim.padded_avgpool_kernel_max)):
                return (f"padded AveragePool window {list(k)} exceeds "
                        f"limits.padded_avgpool_kernel_max {list(lim.padded_avgpool_kernel_max)}")
    return None


def unsupported_reason(unit: Unit, op: Op, graph: Graph) -> str | None:
    """Why ``unit`` cannot run ``op`` (None: it can)."""
    if op.op_type not in unit.ops:
        return f"no {op.op_type} among its ops"
    if op.dtype not in unit.dtypes:
        return f"no {op.dtype} among its dtypes {unit.dtypes}"
    if not unit.supports(op.op_type, op.dtype):
        return f"no kernel of its library implements {op.op_type} in {op.dtype}"
    return _limit_reason(unit, op, graph)


def supports(unit: Unit, op: Op, graph: Graph) -> bool:
    """Whether ``unit`` runs ``op``: type, bit-width and attributes."""
    return unsupported_reason(unit, op, graph) is None


def candidates(soc: SoC, op: Op, graph: Graph, names: Iterable[str] | None = None
               ) -> list[str]:
    """The units (of ``names``, default all, in declaration order) that run ``op``."""
    names = list(soc.units) if names is None else list(names)
    return [n for n in names if supports(soc.units[n], op, graph)]


def generality(soc: SoC) -> list[str]:
    """Unit names from the most general to the least: host units first (their kind's
    ``is_host``, e.g. the CPU), then most op types, then most dtypes; ties keep declaration
    order. The most general unit is where fallbacks go: a host processor runs what an
    accelerator cannot, whatever its kind is called."""
    order = list(soc.units)
    return sorted(order, key=lambda n: (not kind_of(soc.units[n]).is_host,
                                        -len(soc.units[n].ops), -len(soc.units[n].dtypes),
                                        order.index(n)))


def fallback_unit(soc: SoC, op: Op, graph: Graph, exclude: Iterable[str] = ()) -> str | None:
    """The most general unit (see :func:`generality`) not in ``exclude`` that runs ``op``,
    or None."""
    skip = set(exclude)
    for name in generality(soc):
        if name not in skip and supports(soc.units[name], op, graph):
            return name
    return None


def substitution_hint(unit: Unit, op: Op) -> str | None:
    """A note when the quantization toolkit can rewrite ``op`` as ops ``unit`` runs (None when
    it cannot, or the op's type is not what the unit lacks)."""
    if op.op_type in unit.ops:
        return None
    from onnx import helper

    from socsim.quant.substitute import rewrite_ops

    try:
        node = helper.make_node(op.op_type, [*op.inputs, *op.weights], list(op.outputs),
                                name=op.name,
                                **{k: v for k, v in op.attrs.items() if v is not None})
        ops = rewrite_ops(node)
    except (TypeError, ValueError, KeyError, IndexError):  # attributes the rule cannot take
        return None
    if ops and all(unit.supports(t, op.dtype) for t in ops):
        return f"rewritable as {'/'.join(dict.fromkeys(ops))} (set `substitute: true`)"
    return None
