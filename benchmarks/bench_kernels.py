"""Times ``socsim.execute``'s compiled models against onnxruntime on the zoo's int8 models.

Same process, same inputs, onnxruntime single-threaded at ORT_ENABLE_ALL; compile/session
creation is excluded; each figure is the median of ``--runs`` inferences after one warm-up.
Prints one JSON document, then a short table with the ratio socsim / onnxruntime.

Usage:
    python benchmarks/bench_kernels.py [--runs 7] [--models mobilenetv2_int8 resnet8_int8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort

from socsim import zoo
from socsim.kernels.interpreter import compile_model


def _median_s(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(name: str, runs: int) -> dict[str, object]:
    """Median single-inference times of ``name`` in onnxruntime and socsim, and whether the
    outputs are identical."""
    model = zoo.build(name)
    feeds = zoo.example_inputs(name)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    compiled = compile_model(model, qdq="integer")
    ort_s = _median_s(lambda: sess.run(None, feeds), runs)
    socsim_s = _median_s(lambda: compiled.run(feeds), runs)
    expected = sess.run(None, feeds)
    got = list(compiled.run(feeds).outputs.values())
    identical = all(np.array_equal(e, g) for e, g in zip(expected, got, strict=True))
    return {"model": name, "runs": runs, "ort_ms": ort_s * 1e3, "socsim_ms": socsim_s * 1e3,
            "ratio": socsim_s / ort_s, "bit_exact": identical}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["mobilenetv2_int8", "resnet8_int8"])
    args = parser.parse_args()
    rows = [bench(m, args.runs) for m in args.models]
    print(json.dumps({"benchmark": "kernels", "results": rows}, indent=2))
    print(f"\n{'model':<20}{'ORT ms':>10}{'socsim ms':>12}{'ratio':>8}  exact")
    for r in rows:
        print(f"{r['model']:<20}{r['ort_ms']:>10.2f}{r['socsim_ms']:>12.2f}"
              f"{r['ratio']:>8.1f}  {r['bit_exact']}")


if __name__ == "__main__":
    main()
