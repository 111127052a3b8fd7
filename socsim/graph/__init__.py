"""ONNX loading, the Graph/Op/Tensor IR and per-op cost descriptors."""

from socsim.graph.cost import SUPPORTED_OPS, family_of, op_work
from socsim.graph.ir import Graph, Op, Tensor
from socsim.graph.loading import LoadedModel, load_graph, load_model

__all__ = ["SUPPORTED_OPS", "Graph", "LoadedModel", "Op", "Tensor", "family_of", "load_graph",
           "load_model", "op_work"]
