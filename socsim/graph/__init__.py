"""ONNX loading, the one QDQ fuser, the Graph/Op/Tensor IR and per-op cost descriptors."""

from socsim.graph.cost import SUPPORTED_OPS, family_of, op_work
from socsim.graph.ir import Graph, Op, Tensor
from socsim.graph.loading import LoadedModel, load_graph, load_model
from socsim.graph.qdq_graph import RULES, Rules

__all__ = ["RULES", "SUPPORTED_OPS", "Graph", "LoadedModel", "Op", "Rules", "Tensor", "family_of",
           "load_graph", "load_model", "op_work"]
