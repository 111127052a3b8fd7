"""ONNX loading, the Graph/Op/Tensor IR and per-op cost descriptors."""

from socsim.graph.cost import SUPPORTED_OPS, family_of, op_work
from socsim.graph.ir import Graph, Op, Tensor
from socsim.graph.loading import load_graph

__all__ = ["SUPPORTED_OPS", "Graph", "Op", "Tensor", "family_of", "load_graph", "op_work"]
