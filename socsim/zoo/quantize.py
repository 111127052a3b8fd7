"""Static int8 QDQ quantization of a zoo model with onnxruntime's quantizer.

Settings: ``QuantFormat.QDQ``, int8 activations (asymmetric, MinMax ranges) and int8 weights
(symmetric, per output channel), biases int32. Inputs and outputs stay float: the graph starts
with a QuantizeLinear and ends with a DequantizeLinear.

The activation ranges do not come from onnxruntime's calibrator, which would run the model on
the host's own float kernels and so make the bytes depend on the machine: they are computed in
float64 and rounded outward onto a coarse grid (:mod:`socsim.zoo._calibrate`, where the argument
is made), then handed to ``quantize_static`` as its calibration cache, so it runs no inference.
Everything else the quantizer does (weights, biases, scales from ranges) is numpy arithmetic on
float32 values, which gives the same bits on every host.

What onnxruntime does to the graph, and what we decided about it:

* **Removable activations.** ReLU and ``Clip(0, 6)`` that follow a quantized op are *deleted*
  (``QDQKeepRemovableActivations`` left at its default, False): the producer's QuantizeLinear
  takes the activation's calibrated range, so it saturates at exactly 0 and at the calibrated
  maximum (at most 6 for ReLU6). This is what an int8 kernel with a fused activation does, so
  the int8 graphs of the CNNs contain no Relu/Clip at all.
* **Mixed precision in the transformer.** Ops the quantizer does not know (``Div``, ``Erf``) stay
  float between a DequantizeLinear and the next QuantizeLinear; the constant operand of an
  ``Add``/``Mul`` (MatMul biases, GELU's 1 and 0.5) becomes an int8 tensor, per tensor.
* **No pre-processing.** ``quant_pre_process`` would (a) run onnx shape inference, which
  ``quantize_static`` runs itself anyway (the results are identical apart from a metadata tag),
  and (b) run onnxruntime's graph optimizer, which rewrites the transformer's 3-D MatMul + Add
  into Reshape + Gemm + Reshape and adds a ``com.microsoft`` opset import. Our generators already
  emit folded, static-shaped graphs, so we skip it and silence the quantizer's two warnings
  suggesting it.
* **Output clean-up.** The quantizer's ``value_info`` (stale shape-inference results) and its
  ``onnx.infer`` metadata tag are dropped, and provenance metadata is written instead, so that
  the float and int8 files are alike and the bytes depend only on the inputs and the onnxruntime
  version, not on the host. The quantizer writes its intermediate models (and the ranges) to a
  private temporary directory; the result is byte-identical from build to build, across
  ``PYTHONHASHSEED`` values and across hosts (checked by ``tests/zoo``, the last under
  ``tools/qemu_avx2.sh``).
* **Per-tensor LayerNorm gamma.** The quantizer tries gamma per channel along axis 1, which a
  rank-1 gamma lacks, warns, and falls back to per-tensor; we request per-tensor up front.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnxruntime.quantization import (
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

from socsim.zoo._calibrate import GRID_BITS, calibration_ranges

__all__ = ["quantize_qdq"]


class _DropPreprocessHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _no_preprocess_hint() -> Iterator[None]:
    # quantize_static logs through the root logger; the filter must sit on its handlers.
    root = logging.getLogger()
    hint = _DropPreprocessHint()
    targets: list[logging.Filterer] = [root, *root.handlers]
    for t in targets:
        t.addFilter(hint)
    try:
        yield
    finally:
        for t in targets:
            t.removeFilter(hint)


def _per_tensor_norm_scales(model: onnx.ModelProto) -> dict[str, list[dict[str, object]]]:
    # The quantizer quantizes a LayerNormalization's gamma per channel along axis 1, which a
    # rank-1 gamma lacks; it then warns and falls back to per-tensor. Ask for per-tensor outright.
    inits = {i.name for i in model.graph.initializer}
    return {
        n.input[1]: [{"symmetric": True}]
        for n in model.graph.node
        if n.op_type == "LayerNormalization" and n.input[1] in inits
    }


def quantize_qdq(
    model: onnx.ModelProto,
    calibration: Sequence[dict[str, np.ndarray]],
    *,
    metadata: dict[str, str] | None = None,
) -> onnx.ModelProto:
    """Quantizes a float model to int8 QDQ with onnxruntime's ``quantize_static``.

    Args:
        model: float32 model (not modified).
        calibration: input dicts whose float64 evaluation gives the MinMax ranges.
        metadata: extra ``metadata_props`` to record on the result.

    Returns:
        The QDQ model, same inputs and outputs as ``model``.
    """
    ranges = TensorsData(CalibrationMethod.MinMax, {
        name: TensorData(lowest=np.array([lo]), highest=np.array([hi]))
        for name, (lo, hi) in calibration_ranges(model, calibration).items()})
    with tempfile.TemporaryDirectory(prefix="socsim-zoo-") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        cache = Path(tmp) / "ranges.json"
        onnx.save_model(model, src)
        save_tensors_data(ranges, cache)
        with _no_preprocess_hint():
            quantize_static(
                src,
                dst,
                None,
                calibration_cache_path=cache,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                extra_options={"TensorQuantOverrides": _per_tensor_norm_scales(model)},
            )
        qmodel = onnx.load_model(dst)
    qmodel.graph.ClearField("value_info")
    props = {
        "socsim.zoo.quantizer": (
            f"onnxruntime {onnxruntime.__version__} quantize_static QDQ int8 per-channel MinMax, "
            f"ranges of {len(calibration)} calibration inputs in float64 rounded outward to "
            f"{GRID_BITS} significant bits"
        ),
        **(metadata or {}),
    }
    qmodel.ClearField("metadata_props")
    onnx.helper.set_model_props(qmodel, dict(sorted(props.items())))
    qmodel.producer_name = model.producer_name
    qmodel.producer_version = model.producer_version
    qmodel.doc_string = model.doc_string + " (int8 QDQ)"
    return qmodel
