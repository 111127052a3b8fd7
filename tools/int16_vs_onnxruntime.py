"""Differing logits between socsim (``arithmetic="onnxruntime"``) and onnxruntime on this host,
for the int16 QDQ digits models (per-channel and per-tensor), over the 600 test images: in
batches of 64, and one image at a time as the simulator runs them.

Usage: ``python tools/int16_vs_onnxruntime.py`` (prints one JSON line per model and batch size).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from socsim.execute import compile_model
from socsim.quant import Recipe, quantize_static

W = Path(__file__).resolve().parents[1] / "workloads"


def main() -> None:
    with np.load(W / "digits_calib.npz") as z:
        calib = {"input": z["input"][:64]}
    with np.load(W / "digits_test.npz") as z:
        x = z["input"]
    for name in ("digits_cnn", "digits_dscnn"):
        for per_channel in (True, False):
            q = quantize_static(onnx.load(W / f"{name}.onnx"), calib,
                                Recipe("int16", per_channel=per_channel)).model
            sess = ort.InferenceSession(q.SerializeToString(),
                                        providers=["CPUExecutionProvider"])
            ours = compile_model(q, arithmetic="onnxruntime")
            for batch in (64, 1):
                diff = total = 0
                for i in range(0, len(x), batch):
                    feeds = {"input": x[i:i + batch]}
                    a = ours.run(feeds).outputs["logits"]
                    b = sess.run(None, feeds)[0]
                    diff += int(np.count_nonzero(a != b))
                    total += a.size
                print(json.dumps({"model": name, "per_channel": per_channel, "batch": batch,
                                  "differing": diff, "elements": total}), flush=True)


if __name__ == "__main__":
    main()
