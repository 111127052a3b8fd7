"""An ONNX backend (``onnx.backend.base.Backend``) that runs models on socsim's kernels.

It lets ONNX's backend node tests run against socsim::

    from onnx.backend.test.runner import Runner
    from socsim.backend import SocsimBackend
    runner = Runner(SocsimBackend, __name__)

QDQ patterns run in socsim's default ``qdq="integer"`` mode; pass ``qdq="reference"`` to
:meth:`SocsimBackend.prepare` for the specification's dequantize -> float op -> quantize.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from socsim.errors import SocsimError
from socsim.kernels.interpreter import CompiledModel

__all__ = ["SocsimBackend", "SocsimBackendRep"]


class SocsimBackendRep(BackendRep):
    """A prepared model: inputs by position (graph order) or by name, outputs in graph order."""

    def __init__(self, compiled: CompiledModel) -> None:
        self.compiled = compiled

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        """Runs one inference and returns the graph outputs in order."""
        if isinstance(inputs, Mapping):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            feeds = dict(zip(self.compiled.input_names, inputs))
        res = self.compiled.run(feeds)
        return tuple(res.outputs[n] for n in self.compiled.output_names)


class SocsimBackend(Backend):
    """socsim's kernels behind the ONNX backend API (CPU only)."""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any
                ) -> SocsimBackendRep:
        """Compiles ``model`` once.

        Raises:
            UnsupportedOpError: if the model uses an op socsim has no kernel for.
        """
        super().prepare(model, device, **kwargs)
        return SocsimBackendRep(CompiledModel(model, qdq=kwargs.get("qdq", "integer"),
                                              arithmetic=kwargs.get("arithmetic")))

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> tuple[np.ndarray, ...]:
        """Prepares and runs ``model`` once."""
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Sequence[np.ndarray], device: str = "CPU",
                 outputs_info: Sequence[tuple[Any, Any]] | None = None, **kwargs: Any
                 ) -> tuple[np.ndarray, ...]:
        """Runs a single node (inputs by position)."""
        from socsim.kernels.interpreter import _decode
        from socsim.kernels.registry import KernelContext, lookup

        kernel = lookup(node.domain, node.op_type, node.name)
        ctx = KernelContext(name=node.name, op_type=node.op_type,
                            attrs={a.name: _decode(a) for a in node.attribute},
                            opset=int(kwargs.get("opset_version", 21)))
        return tuple(kernel(ctx, *inputs))

    @classmethod
    def supports_device(cls, device: str) -> bool:
        """Only the CPU: socsim's kernels are numpy."""
        return device == "CPU"

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        """True when every op of the model has a socsim kernel."""
        try:
            CompiledModel(model)
        except SocsimError:
            return False
        return True


prepare = SocsimBackend.prepare
run_model = SocsimBackend.run_model
run_node = SocsimBackend.run_node
supports_device = SocsimBackend.supports_device
