"""Static int8 QDQ quantization of a zoo model with onnxruntime's quantizer.

Settings: ``QuantFormat.QDQ``, int8 activations (asymmetric, MinMax calibration) and int8 weights
(symmetric, per output channel), biases int32. Inputs and outputs stay float: the graph starts
with a QuantizeLinear and ends with a DequantizeLinear.

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
  version. The quantizer writes its intermediate models to a private temporary directory; the
  result is byte-identical from build to build and across ``PYTHONHASHSEED`` values (checked by
  ``tests/zoo``).
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
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

__all__ = ["quantize_qdq"]


class _ListReader(CalibrationDataReader):
    """Feeds a fixed list of input dicts to the calibrator, once."""

    def __init__(self, samples: Sequence[dict[str, np.ndarray]]) -> None:
        self._samples = list(samples)
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= len(self._samples):
            return None
        self._next += 1
        return self._samples[self._next - 1]

    def __len__(self) -> int:
        return len(self._samples)


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
        calibration: input dicts to run for MinMax calibration.
        metadata: extra ``metadata_props`` to record on the result.

    Returns:
        The QDQ model, same inputs and outputs as ``model``.
    """
    with tempfile.TemporaryDirectory(prefix="socsim-zoo-") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save_model(model, src)
        with _no_preprocess_hint():
            quantize_static(
                src,
                dst,
                _ListReader(calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                calibration_providers=["CPUExecutionProvider"],
                extra_options={"TensorQuantOverrides": _per_tensor_norm_scales(model)},
            )
        qmodel = onnx.load_model(dst)
    qmodel.graph.ClearField("value_info")
    props = {
        "socsim.zoo.quantizer": (
            f"onnxruntime {onnxruntime.__version__} quantize_static QDQ int8 per-channel MinMax, "
            f"{len(calibration)} calibration inputs"
        ),
        **(metadata or {}),
    }
    qmodel.ClearField("metadata_props")
    onnx.helper.set_model_props(qmodel, dict(sorted(props.items())))
    qmodel.producer_name = model.producer_name
    qmodel.producer_version = model.producer_version
    qmodel.doc_string = model.doc_string + " (int8 QDQ)"
    return qmodel
