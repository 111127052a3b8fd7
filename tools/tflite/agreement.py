"""Per model: intermediate tensors compared with TFLite's reference kernels and how many differ,
for the .tflite run directly and for its tf2onnx conversion under each ``qdq`` mode given.

Run from the repository root with the project's environment:
``python tools/tflite/agreement.py [integer tflite ...]`` (default: integer).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.tflite.onnx_compare import compare_onnx  # noqa: E402
from tests.tflite.test_reference_exact import MODELS, compare  # noqa: E402


def main(modes: list[str]) -> None:
    print(f"{'model':16} {'tflite: compared/differing':>28} "
          + " ".join(f"{'onnx ' + m + ': compared/differing (elements)':>44}" for m in modes))
    for path in MODELS:
        n, bad, _ = compare(path)
        cells = []
        for mode in modes:
            try:
                m, mbad, rows = compare_onnx(path.with_suffix(".onnx"), mode)
                cells.append(f"{m}/{mbad} ({sum(r[1] for r in rows)})")
            except Exception as exc:  # noqa: BLE001 - reported in the table
                cells.append(f"error: {type(exc).__name__}")
        print(f"{path.stem:16} {f'{n}/{bad}':>28} " + " ".join(f"{c:>44}" for c in cells))


if __name__ == "__main__":
    main(sys.argv[1:] or ["integer"])
