"""Bytes an op reads and writes as a unit stores them: channels padded to the unit's alignment.

The default of :meth:`socsim.hw.kind.UnitKind.operand_bytes`; :func:`padded_bytes` is also how
the engine sizes a tensor in a producer's format.
"""

from __future__ import annotations

from typing import Any

from socsim.graph.ir import Graph, Op, Tensor

__all__ = ["activation_channels", "padded_bytes", "stored_operand_bytes"]


def activation_channels(tensor: Tensor) -> int:
    """C of a 4-D (N, C, H, W) activation with known dimensions, else 0 (not padded)."""
    shape = tensor.shape
    if len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape):
        return shape[1]
    return 0


def padded_bytes(nbytes: int, channels: int, align: int) -> int:
    """Bytes of a 4-D tensor of ``nbytes`` with ``channels`` channels stored with its channels
    padded to a multiple of ``align`` (whole bytes, rounded up)."""
    return -(-nbytes * (-(-channels // align) * align) // channels)


def stored_operand_bytes(unit: Any, op: Op, graph: Graph, rereads: int
                         ) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """``(bytes read per input, bytes written per output, weight bytes)`` of ``op`` on
    ``unit``: 4-D activations another op produced are read in the unit's format (channels
    padded to its ``channel_align``), workload inputs as they arrived, each input ``rereads``
    times; outputs are written in the unit's format; the weights are read once."""
    align = unit.channel_align
    graph_inputs = set(graph.inputs)

    def stored(name: str, produced: bool) -> int:
        tensor = graph.tensors[name]
        c = activation_channels(tensor)
        return padded_bytes(tensor.nbytes, c, align) if c and produced else tensor.nbytes

    in_bytes = tuple(rereads * stored(t, t not in graph_inputs) for t in op.inputs)
    out_bytes = tuple(stored(t, True) for t in op.outputs)
    return in_bytes, out_bytes, graph.bytes_of(op.weights)
