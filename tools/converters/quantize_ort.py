"""Quantizes the float converter models with onnxruntime's quantizer (QDQ format).

Run in socsim's venv (onnxruntime is a socsim dependency) after make_torch_models.py::

    python tools/converters/quantize_ort.py

For each ``workloads/converters/<name>.onnx`` listed below it writes ``<name>_qdq_u8.onnx``
(uint8 activations, int8 weights: what onnxruntime's x86 kernels fuse) and
``<name>_qdq_s8.onnx`` (int8 activations and weights, quantize_static's default), calibrated
by MinMax on 8 inputs from ``numpy.random.default_rng(0)`` (uniform in [-1, 1)).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

DIR = Path(__file__).resolve().parents[2] / "workloads" / "converters"
MODELS = ("torch_mbblock", "torch_mlp")


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, shape: tuple[int, ...]) -> None:
        rng = np.random.default_rng(0)
        self._items = iter([{name: rng.uniform(-1, 1, size=shape).astype(np.float32)}
                            for _ in range(8)])

    def get_next(self):
        return next(self._items, None)


def quantize(name: str) -> list[Path]:
    src = DIR / f"{name}.onnx"
    inp = onnx.load(str(src)).graph.input[0]
    shape = tuple(d.dim_value for d in inp.type.tensor_type.shape.dim)
    out = []
    for suffix, act in (("u8", QuantType.QUInt8), ("s8", QuantType.QInt8)):
        dst = DIR / f"{name}_qdq_{suffix}.onnx"
        quantize_static(str(src), str(dst), _Reader(inp.name, shape),
                        quant_format=QuantFormat.QDQ, activation_type=act,
                        weight_type=QuantType.QInt8, per_channel=False)
        out.append(dst)
    return out


def main() -> int:
    for name in MODELS:
        for path in quantize(name):
            print(f"{path.relative_to(DIR.parents[1])}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
