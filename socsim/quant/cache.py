"""Quantize on load, cached: the piece a scenario's "float model + recipe" needs.

``quantized_path(model, calib, recipe)`` returns the path of the QDQ model for that float
model, calibration file and recipe, quantizing only when no cached file exists. The cache key
is the SHA-256 of the model bytes, the calibration file bytes and the recipe, so editing any of
them quantizes again and nothing stale is reused.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import onnx

from socsim.errors import ModelError
from socsim.quant.ptq import Recipe, quantize_static

__all__ = ["PROJECT_CACHE", "cache_key", "cached_path", "quantized_path"]

PROJECT_CACHE = Path(".socsim-cache") / "quant"
"""The default cache folder, relative to the working directory (the project, as ``reports/``
is): quantized models are derived files, kept out of the folders of the models and
scenarios, which may be read-only or shared."""


def cache_key(model: Path, calib: Path, recipe: Recipe) -> str:
    """SHA-256 (hex, 16 chars) of the model bytes, calibration bytes and recipe."""
    h = hashlib.sha256()
    for p in (model, calib):
        h.update(Path(p).read_bytes())
    h.update(json.dumps(asdict(recipe), sort_keys=True, default=dict).encode())
    return h.hexdigest()[:16]


def cached_path(model: str | os.PathLike, calib: str | os.PathLike, recipe: Recipe, *,
                cache_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`quantized_path` keeps this model, whether or not it is there yet (reads
    the model and calibration files, writes nothing).

    Raises:
        ModelError: if a file is missing or unreadable.
    """
    model, calib = Path(model), Path(calib)
    for p, what in ((model, "model"), (calib, "calibration data")):
        if not p.is_file():
            raise ModelError(f"{p}: the {what} file does not exist",
                             hint="paths in a scenario resolve relative to the scenario file")
    folder = Path(cache_dir) if cache_dir else PROJECT_CACHE
    return folder / f"{model.stem}.{cache_key(model, calib, recipe)}.onnx"


def quantized_path(model: str | os.PathLike, calib: str | os.PathLike, recipe: Recipe, *,
                   cache_dir: str | os.PathLike | None = None) -> Path:
    """The cached QDQ model for ``model`` quantized by ``recipe`` on ``calib``.

    Args:
        model: float ONNX file.
        calib: calibration .npz (arrays keyed by input name).
        recipe: the quantization recipe (``scheme="mixed"`` needs its ``weight_dtypes``).
        cache_dir: where quantized models are kept (default: :data:`PROJECT_CACHE`,
            ``.socsim-cache/quant`` under the working directory).

    Returns:
        Path of the quantized model (written now or found in the cache).

    Raises:
        ModelError: if a file is missing or unreadable, or the calibration arrays do not fit
            the model's inputs (:mod:`socsim.npz`).
    """
    out = cached_path(model, calib, recipe, cache_dir=cache_dir)
    if out.is_file():
        return out
    from socsim.npz import load_npz, onnx_inputs

    proto = onnx.load(Path(model))
    data = load_npz(calib, onnx_inputs(proto), what="calibration file", layout="batch",
                    error=ModelError)
    result = quantize_static(proto, data, recipe)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    onnx.save(result.model, tmp)
    os.replace(tmp, out)  # atomic: concurrent runs never read a half-written file
    return out
