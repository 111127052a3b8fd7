"""Accuracy and SQNR of a model on a data set, run by onnxruntime (or socsim's kernels)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx

__all__ = ["accuracy", "outputs", "sqnr_db"]


def outputs(model: onnx.ModelProto, data: Mapping[str, np.ndarray], *, engine: str = "onnxruntime",
            batch: int = 256) -> np.ndarray:
    """The first output of ``model`` over all samples of ``data`` (keys other than inputs ignored).

    Args:
        model: any model onnxruntime (or ``socsim.execute`` with ``engine="socsim"``) runs.
        data: arrays keyed by input name, samples along the first axis.
        engine: ``onnxruntime`` or ``socsim``.
        batch: samples per run when the first dimension is symbolic.
    """
    from socsim.quant.calibrate import batch_size_for

    names = [i.name for i in model.graph.input
             if i.name not in {t.name for t in model.graph.initializer}]
    step = batch if batch_size_for(model) > 1 else 1
    data = {k: (data[k].astype(np.float32) if data[k].dtype == np.float64 else data[k])
            for k in names}
    n = len(data[names[0]])
    if engine == "socsim":
        from socsim.execute import compile_model

        compiled = compile_model(model, arithmetic="onnxruntime")
        out_name = model.graph.output[0].name
        run = lambda feeds: compiled.run(feeds).outputs[out_name]
    else:
        import onnxruntime as ort

        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        run = lambda feeds: sess.run(None, feeds)[0]
    parts = [run({k: data[k][i:i + step] for k in names}) for i in range(0, n, step)]
    return np.concatenate(parts)


def accuracy(model: onnx.ModelProto, data: Mapping[str, np.ndarray], *,
             engine: str = "onnxruntime") -> float:
    """Top-1 accuracy of the first output against ``data["labels"]``."""
    return float((outputs(model, data, engine=engine).argmax(axis=-1) == data["labels"]).mean())


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio ``10 log10(sum(ref^2) / sum((ref - test)^2))`` in dB."""
    noise = float(np.sum((reference.astype(np.float64) - test) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)
