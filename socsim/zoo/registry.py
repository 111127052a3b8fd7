"""The zoo's table of models: names, builders, inputs, and on-demand files.

Every base model ``<base>`` (float32) has an int8 QDQ twin ``<base>_int8``, calibrated on
:data:`CALIBRATION_SAMPLES` seeded inputs drawn like :func:`example_inputs` but from a separate
stream, so the example inputs are never in the calibration set.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from socsim.errors import ModelError
from socsim.zoo import ds_cnn, mobilenetv2, resnet8, transformer
from socsim.zoo.quantize import quantize_qdq

INT8_SUFFIX = "_int8"
CALIBRATION_SAMPLES = 8
_CALIBRATION_STREAM = 0xCA1B
"""Second word of the calibration generator's seed (the first is the model seed)."""


@dataclass(frozen=True)
class ModelSpec:
    """One float architecture of the zoo.

    Attributes:
        name: base name (the int8 twin is ``name + "_int8"``).
        build: ``seed -> float32 ModelProto``.
        input_shape: shape of the single float32 input ``input``.
        input_low: lower bound of the uniform example/calibration inputs.
        input_high: upper bound of the uniform example/calibration inputs.
        summary: one line for listings.
    """

    name: str
    build: Callable[[int], onnx.ModelProto]
    input_shape: tuple[int, ...]
    input_low: float
    input_high: float
    summary: str


_SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec(
            "mobilenetv2",
            mobilenetv2.build,
            mobilenetv2.INPUT_SHAPE,
            -1.0,
            1.0,
            "MobileNetV2 1.0, ImageNet 224x224, 1000 classes (Sandler et al. 2018)",
        ),
        ModelSpec(
            "resnet8",
            resnet8.build,
            resnet8.INPUT_SHAPE,
            0.0,
            1.0,
            "ResNet-8, CIFAR-10 32x32, 10 classes (MLPerf Tiny image classification)",
        ),
        ModelSpec(
            "ds_cnn",
            ds_cnn.build,
            ds_cnn.INPUT_SHAPE,
            -1.0,
            1.0,
            "DS-CNN, 49x10 MFCC, 12 keywords (MLPerf Tiny keyword spotting)",
        ),
        ModelSpec(
            # Uniform on +-sqrt(3): unit variance, like LayerNorm'd embeddings.
            "transformer_block",
            transformer.build,
            transformer.INPUT_SHAPE,
            -(3**0.5),
            3**0.5,
            "Transformer encoder block, seq 64, d_model 128, 4 heads, FFN 512",
        ),
    )
}

NAMES: tuple[str, ...] = tuple(n for base in _SPECS for n in (base, base + INT8_SUFFIX))
"""Every buildable model name: each base name followed by its ``_int8`` twin."""


def _spec(name: str) -> tuple[ModelSpec, bool]:
    base, int8 = (name[: -len(INT8_SUFFIX)], True) if name.endswith(INT8_SUFFIX) else (name, False)
    if name not in NAMES:
        raise ModelError(
            f"unknown zoo model {name!r}; valid names: {', '.join(NAMES)}",
            hint="run `socsim zoo list` to list the zoo",
        )
    return _SPECS[base], int8


def spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` behind ``name`` (a base name or its ``_int8`` twin).

    Raises:
        ModelError: if ``name`` is not in :data:`NAMES`.
    """
    return _spec(name)[0]


def input_spec(name: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Graph inputs of ``name`` as ``{input name: (shape, dtype)}``.

    Raises:
        ModelError: if ``name`` is not in :data:`NAMES`.
    """
    return {"input": (spec(name).input_shape, np.dtype(np.float32))}


def _draw(s: ModelSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = rng.uniform(s.input_low, s.input_high, size=s.input_shape)
    return {"input": x.astype(np.float32)}


def example_inputs(name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded random inputs for ``name``, uniform over the range the model was calibrated for.

    Raises:
        ModelError: if ``name`` is not in :data:`NAMES`.
    """
    return _draw(spec(name), np.random.default_rng(seed))


def build(name: str, *, seed: int = 0) -> onnx.ModelProto:
    """Builds zoo model ``name``; the same name and seed always give the same bytes.

    Args:
        name: one of :data:`NAMES`.
        seed: weight seed (and, for ``_int8`` models, calibration seed).

    Raises:
        ModelError: if ``name`` is not in :data:`NAMES`.
    """
    s, int8 = _spec(name)
    model = s.build(seed)
    provenance = {"socsim.zoo.model": name, "socsim.zoo.seed": str(seed)}
    if not int8:
        onnx.helper.set_model_props(model, provenance)
        return model
    rng = np.random.default_rng([seed, _CALIBRATION_STREAM])
    calibration = [_draw(s, rng) for _ in range(CALIBRATION_SAMPLES)]
    qmodel = quantize_qdq(model, calibration, metadata=provenance)
    qmodel.graph.name = name
    return qmodel


def save(name: str, path: str | Path, *, seed: int = 0) -> Path:
    """Builds ``name`` and writes it to ``path`` atomically, replacing any existing file.

    The bytes go to a temporary file in the same directory, which :func:`os.replace` then moves
    over ``path``, so a concurrent reader never sees a partial file. Missing directories are
    created.

    Raises:
        ModelError: if ``name`` is not in :data:`NAMES`.
    """
    path = Path(path)
    data = build(name, seed=seed).SerializeToString()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def ensure(path: str | Path) -> bool:
    """Generates a missing zoo model file on demand.

    Does nothing if ``path`` exists or its file name is not ``<one of NAMES>.onnx``. Otherwise
    builds that model (seed 0) and writes it with :func:`save` (atomic, creates directories).

    Args:
        path: where a scenario expects the model, e.g. ``workloads/mobilenetv2_int8.onnx``.

    Returns:
        True if the file was written, False if nothing was done.
    """
    path = Path(path)
    if path.exists() or path.suffix != ".onnx" or path.stem not in NAMES:
        return False
    save(path.stem, path)
    return True
