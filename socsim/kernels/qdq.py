"""QDQ lowering for execution: ``DequantizeLinear -> op -> QuantizeLinear`` groups become
integer operators.

The groups and their rewrite are socsim's one QDQ fuser (:mod:`socsim.graph.qdq_groups`,
:mod:`socsim.graph.qdq_lowering`), which the timing graph uses too: the kernels execute the
ops the simulator times. The rewrite produces the QOperator form onnxruntime's graph optimizer
produces (QLinearConv, QLinearMatMul, com.microsoft QGemm, QLinearAdd, ...), named after the
group's compute node so that per-node arithmetic and statistics follow the op a user sees in
the model; a fused activation is an integer ``Clip`` after it (``<anchor>_clamp_socsim``).
Anything that does not match stays as it is and runs in float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx

from socsim.graph.qdq_groups import RULES, Rules
from socsim.graph.qdq_lowering import lower

__all__ = ["QDQ_RULES", "RULES", "Rules", "lower_qdq"]

#: The fusion rules of each interpreter ``qdq`` mode that lowers (``"reference"`` does not).
QDQ_RULES: dict[str, str] = {"integer": "onnxruntime_x86", "tflite": "tflite"}


def lower_qdq(nodes: Sequence[onnx.NodeProto], consts: Mapping[str, np.ndarray],
              graph_outputs: Sequence[str], opset: int, rules: Rules = "onnxruntime_x86",
              *, onnxruntime: bool = False) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """Rewrites QDQ groups of ``nodes`` into integer operators.

    Args:
        nodes: the graph's nodes in topological order (all named).
        consts: the graph's constants by name.
        graph_outputs: names the caller will read.
        opset: the model's ai.onnx opset.
        rules: whose fusion rules: ``onnxruntime_x86`` (the installed onnxruntime on this
            host, the default), ``onnxruntime`` (without the x86 restrictions) or ``tflite``.
        onnxruntime: leave unfused, as onnxruntime's CPU provider does, the groups it has no
            integer kernel for (16-bit Conv/MatMul/Gemm: they run as DQ -> float op -> Q);
            set when the caller asked for ``arithmetic="onnxruntime"`` (the host's exact
            behaviour), not for timing a target unit that computes 16-bit integers.

    Returns:
        The new node list (topologically ordered, dead DQ nodes removed) and the constants
        it adds (explicit zero points, clamp bounds).

    Raises:
        ValueError: for unknown rules.
    """
    result = lower(nodes, consts, graph_outputs, opset, rules, onnxruntime=onnxruntime)
    return result.nodes, result.consts
