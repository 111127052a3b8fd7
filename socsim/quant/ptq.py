"""Static post-training quantization: calibrate, optionally equalize and bias-correct, write QDQ.

Example:
    >>> from socsim.quant import Recipe, quantize_static
    >>> result = quantize_static("workloads/digits_dscnn.onnx", calib,
    ...                          Recipe(per_channel=True, method="percentile"))
    >>> onnx.save(result.model, "q.onnx"); result.table()
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import onnx
from google.protobuf.message import DecodeError

from socsim.errors import ModelError
from socsim.quant.calibrate import METHODS, TensorStats, collect_stats, tensor_range
from socsim.quant.equalize import EqualizedPair, bias_correct, equalize, layer_weight_qparams
from socsim.quant.qdq import LayerRecord, activation_tensors, weighted_layers, write_qdq

__all__ = ["SCHEMES", "QuantResult", "Recipe", "check_feeds", "load_model", "quantize_static"]

SCHEMES: dict[str, tuple[str, str]] = {
    "int8": ("int8", "int8"), "int16": ("int16", "int16"), "int4": ("int4", "int8"),
    "mixed": ("int8", "int8"),
}
"""Scheme name -> (default weight dtype, activation dtype)."""


@dataclass(frozen=True)
class Recipe:
    """How to quantize a model.

    Attributes:
        scheme: ``int8``, ``int16`` (weights and activations), ``int4`` (int4 weights, int8
            activations) or ``mixed`` (per-layer weight dtypes from ``weight_dtypes``).
        per_channel: per-output-channel weight scales.
        symmetric: symmetric activations (weights are always symmetric).
        method: activation calibration method, one of :data:`METHODS`.
        percentile: the percentile of ``|x|`` for ``method="percentile"``.
        equalize: cross-layer equalization first.
        bias_correction: fold the expected weight-quantization error into the biases.
        weight_dtypes: per weighted node name, a weight dtype overriding the scheme's.
        activation_dtypes: per weighted node name, the dtype (``int8``/``int16``) of the
            activation it writes, overriding the scheme's (mixed precision on a unit that
            computes both, e.g. Ethos-U's 16-bit activations with 8-bit weights).
    """

    scheme: str = "int8"
    per_channel: bool = False
    symmetric: bool = False
    method: str = "minmax"
    percentile: float = 99.99
    equalize: bool = False
    bias_correction: bool = False
    weight_dtypes: Mapping[str, str] = field(default_factory=dict)
    activation_dtypes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {self.scheme!r}; valid: {', '.join(SCHEMES)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid: {', '.join(METHODS)}")

    @property
    def activation_dtype(self) -> str:
        """Activation dtype of the scheme."""
        return SCHEMES[self.scheme][1]

    @property
    def weight_dtype(self) -> str:
        """Default weight dtype of the scheme."""
        return SCHEMES[self.scheme][0]

    def label(self) -> str:
        """A short name such as ``int8 per-channel minmax +CLE +BC``."""
        parts = [self.scheme, "per-channel" if self.per_channel else "per-tensor", self.method]
        parts += ["+CLE"] * self.equalize + ["+BC"] * self.bias_correction
        return " ".join(parts)


@dataclass
class QuantResult:
    """A quantized model and what was done to get it.

    Attributes:
        model: the QDQ model.
        recipe: the recipe used.
        layers: one record per quantized weighted layer.
        equalized: pairs equalized (empty without ``equalize``).
        bias_changes: per node, the largest |bias change| from bias correction.
        ranges: activation range per tensor.
    """

    model: onnx.ModelProto
    recipe: Recipe
    layers: list[LayerRecord]
    equalized: list[EqualizedPair]
    bias_changes: dict[str, float]
    ranges: dict[str, tuple[float, float]]

    @property
    def weight_bytes(self) -> int:
        """Packed weight and bias bytes of the quantized layers."""
        return sum(r.weight_bytes for r in self.layers)

    def table(self):
        """Per-layer table (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([vars(r) for r in self.layers])


def load_model(model: str | os.PathLike | onnx.ModelProto) -> onnx.ModelProto:
    """Reads and checks a float ONNX model.

    Raises:
        ModelError: naming the file when it cannot be read or has no float weighted layers.
    """
    if isinstance(model, onnx.ModelProto):
        return model
    try:
        proto = onnx.load(os.fspath(model))
        onnx.checker.check_model(proto)
    except (OSError, ValueError, DecodeError, onnx.checker.ValidationError) as exc:
        raise ModelError(f"{model}: not a readable ONNX model ({exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})",
                         hint="pass a float ONNX model, e.g. workloads/digits_cnn.onnx") from None
    if not weighted_layers(proto):
        raise ModelError(f"{model}: no Conv/Gemm/MatMul with float weights to quantize",
                         hint="pass the float model, not an already quantized one")
    return proto


def calibration_ranges(stats: Mapping[str, TensorStats], model: onnx.ModelProto,
                       recipe: Recipe) -> dict[str, tuple[float, float]]:
    """Activation ranges by the recipe's method; graph inputs and outputs always use min/max.

    Clipping the network's input or its logits discards information the task needs (entropy
    calibration on the logits of the digits models costs 70 points of accuracy), so the
    clipping methods apply to internal activations only.
    """
    ends = {i.name for i in model.graph.input} | {o.name for o in model.graph.output}
    per_tensor = activation_tensors(model, recipe.activation_dtypes)

    def bits(tensor: str) -> int:
        dtype = per_tensor.get(tensor, recipe.activation_dtype)
        return int(dtype.removeprefix("u").removeprefix("int"))

    return {k: tensor_range(v, "minmax" if k in ends else recipe.method, bits=bits(k),
                            percentile=recipe.percentile) for k, v in stats.items()}


def quantize_static(model: str | os.PathLike | onnx.ModelProto, calib: Mapping[str, np.ndarray],
                    recipe: Recipe | None = None, *, stats: Mapping[str, TensorStats] | None = None,
                    progress: Callable[[int], None] | None = None) -> QuantResult:
    """Quantizes a float model with calibration data.

    Args:
        model: float model or its path.
        calib: calibration arrays keyed by input name, samples along the first axis.
        recipe: what to do (default: int8 per-tensor minmax).
        stats: statistics of the *same* (unequalized) model from an earlier call, to skip
            calibration; ignored when ``recipe.equalize`` changes the weights.
        progress: called with samples done while calibrating.

    Returns:
        The :class:`QuantResult`.

    Raises:
        ModelError: for an unreadable model or calibration data that lacks an input.
    """
    recipe = recipe or Recipe()
    proto = load_model(model)
    check_feeds(proto, calib, "calibration data")
    pairs: list[EqualizedPair] = []
    if recipe.equalize:
        proto, pairs = equalize(proto)
        stats = None
    if stats is None:
        stats = collect_stats(proto, calib, progress=progress)
    dtypes = dict(recipe.weight_dtypes)
    changes: dict[str, float] = {}
    if recipe.bias_correction:
        means = {n.name: stats[n.input[0]].channel_mean for n in weighted_layers(proto)
                 if n.input[0] in stats and stats[n.input[0]].channel_mean is not None}
        qps = layer_weight_qparams(proto, dtypes, recipe.weight_dtype, recipe.per_channel)
        proto, changes = bias_correct(proto, means, qps)
    ranges = calibration_ranges(stats, proto, recipe)
    qmodel, layers = write_qdq(proto, ranges, activation_dtype=recipe.activation_dtype,
                               symmetric=recipe.symmetric, weight_dtypes=dtypes,
                               default_weight_dtype=recipe.weight_dtype,
                               per_channel=recipe.per_channel,
                               activation_dtypes=recipe.activation_dtypes)
    onnx.helper.set_model_props(qmodel, {"socsim.quant.recipe": recipe.label()})
    return QuantResult(qmodel, recipe, layers, pairs, changes, ranges)


def with_dtypes(recipe: Recipe, dtypes: Mapping[str, str],
                activations: Mapping[str, str] | None = None) -> Recipe:
    """The recipe with per-layer weight dtypes (scheme ``mixed``) and, when given, per-layer
    activation dtypes."""
    extra = {} if activations is None else {"activation_dtypes": dict(activations)}
    return replace(recipe, scheme="mixed", weight_dtypes=dict(dtypes), **extra)


def check_feeds(model: onnx.ModelProto, data: Mapping[str, np.ndarray], what: str) -> None:
    """Raises ModelError naming ``what`` when ``data`` lacks one of the model's inputs."""
    inits = {i.name for i in model.graph.initializer}
    missing = [i.name for i in model.graph.input if i.name not in inits and i.name not in data]
    if missing:
        raise ModelError(f"{what} lacks the model input(s) {', '.join(missing)}; it has "
                         f"{', '.join(data) or 'no arrays'}",
                         hint="save the .npz with arrays keyed by the model's input names")
