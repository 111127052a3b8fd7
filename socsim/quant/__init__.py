"""``socsim.quant``: post-training quantization of float ONNX models into QDQ ONNX.

Calibration (:mod:`~socsim.quant.calibrate`), QDQ writing (:mod:`~socsim.quant.qdq`), cross-layer
equalization and bias correction (:mod:`~socsim.quant.equalize`), per-layer sensitivity
(:mod:`~socsim.quant.sensitivity`), mixed precision for a size or accuracy budget on a device's
unit (:mod:`~socsim.quant.mixed`), dynamic quantization of MatMul/Gemm
(:mod:`~socsim.quant.dynamic`) and operator substitution (:mod:`~socsim.quant.substitute`).
See docs/quantization.md.
"""

from __future__ import annotations

from socsim.quant.calibrate import (
                                    METHODS,
                                    TensorStats,
                                    collect_stats,
                                    entropy_threshold,
                                    mse_threshold,
                                    percentile_threshold,
                                    tensor_range,
)
from socsim.quant.dynamic import quantize_dynamic
from socsim.quant.equalize import EqualizedPair, bias_correct, equalize
from socsim.quant.evaluate import accuracy, outputs, sqnr_db
from socsim.quant.mixed import (
    MixedChoice,
    UnitTarget,
    search_accuracy,
    search_accuracy_mixed,
    search_size,
    unit_target,
)
from socsim.quant.params import QParams, dequantize, fake_quantize, qparams_for, quantize
from socsim.quant.ptq import SCHEMES, QuantResult, Recipe, load_model, quantize_static
from socsim.quant.qdq import LayerRecord, write_qdq
from socsim.quant.sensitivity import Sensitivity, plot_sensitivity, sensitivity
from socsim.quant.substitute import SUBSTITUTIONS, Substitution, substitute

__all__ = [
                                    "METHODS",
                                    "SCHEMES",
                                    "SUBSTITUTIONS",
                                    "EqualizedPair",
                                    "LayerRecord",
                                    "MixedChoice",
                                    "QParams",
                                    "QuantResult",
                                    "Recipe",
                                    "Sensitivity",
                                    "Substitution",
                                    "TensorStats",
                                    "UnitTarget",
                                    "accuracy",
                                    "bias_correct",
                                    "collect_stats",
                                    "dequantize",
                                    "entropy_threshold",
                                    "equalize",
                                    "fake_quantize",
                                    "load_model",
                                    "mse_threshold",
                                    "outputs",
                                    "percentile_threshold",
                                    "plot_sensitivity",
                                    "qparams_for",
                                    "quantize",
                                    "quantize_dynamic",
                                    "quantize_static",
                                    "quantized_path",
                                    "search_accuracy",
                                    "search_accuracy_mixed",
                                    "search_size",
                                    "sensitivity",
                                    "sqnr_db",
                                    "substitute",
                                    "tensor_range",
                                    "unit_target",
                                    "write_qdq",
]
