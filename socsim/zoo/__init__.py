"""The model zoo: real edge architectures as ONNX, with seeded weights, in float32 and int8 QDQ.

Nothing is downloaded: every model is generated from its published architecture with
:mod:`onnx.helper` and quantized with onnxruntime's static quantizer. The same name and seed always
give byte-identical files.

Example:
    >>> from socsim import zoo
    >>> model = zoo.build("resnet8_int8")
    >>> feeds = zoo.example_inputs("resnet8_int8")
"""

from __future__ import annotations

from socsim.zoo.registry import (
    INT8_SUFFIX,
    NAMES,
    ModelSpec,
    build,
    ensure,
    example_inputs,
    input_spec,
    save,
    spec,
)

__all__ = [
    "INT8_SUFFIX",
    "NAMES",
    "ModelSpec",
    "build",
    "ensure",
    "example_inputs",
    "input_spec",
    "save",
    "spec",
]
