"""TFLite's integer semantics: one kernel class per builtin operator, following TFLite's
reference kernels (``tensorflow/lite/kernels/internal/reference/``), and a runner for
``.tflite`` models (:func:`compile_tflite`)."""

from socsim.kernels.tflite.base import QParams, TflKernel, supported_opcodes
from socsim.kernels.tflite.runner import CompiledTflite, compile_tflite

__all__ = ["CompiledTflite", "QParams", "TflKernel", "compile_tflite", "supported_opcodes"]
