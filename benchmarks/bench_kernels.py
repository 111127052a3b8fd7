"""Times ``socsim.execute``'s compiled models against onnxruntime on the zoo's int8 models.

Same process, same inputs, one thread each: onnxruntime at ORT_ENABLE_ALL with one intra- and
one inter-op thread, socsim with its BLAS limited to one thread (threadpoolctl). The inference
figures are steady state: socsim's compile_model and onnxruntime's session creation are
excluded from them and timed separately (one each), and so is the warm-up of socsim's compiled
loops (numba: loaded from the on-disk cache, or compiled on a machine's first run; then the
first inference, which loads any loop signature the warm-up did not cover). Each inference
figure is the median of
``--runs`` inferences after one warm-up, the two runtimes alternating so that load from other
processes hits both alike; the CPU-time figures (this thread's CPU time per inference) are the
steadier ones on a shared machine. Prints one JSON document, then a short table with the ratio
socsim / onnxruntime.

socsim runs the target named by ``--arithmetic``: ``onnxruntime`` (default: the arithmetic of
the installed onnxruntime on this host, so the outputs must be bit-exact), or ``exact`` /
``u8s8_pairs_int16`` to time one dot-product form on any host (then ``bit_exact`` only says
whether that target happens to agree with this host's onnxruntime).

Usage:
    python benchmarks/bench_kernels.py [--runs 7] [--models mobilenetv2_int8 resnet8_int8]
                                       [--arithmetic onnxruntime|exact|u8s8_pairs_int16]

To approximate an AVX2-only host natively for socsim's side (onnxruntime's AVX2 kernels cannot
be timed natively on an AVX-512 host; under qemu the timings are meaningless)::

    NUMBA_CPU_NAME=haswell NUMBA_CACHE_DIR=/tmp/numba-haswell OPENBLAS_CORETYPE=Haswell \
    NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" \
    python benchmarks/bench_kernels.py --arithmetic u8s8_pairs_int16
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
from threadpoolctl import threadpool_limits

from socsim import zoo
from socsim.kernels import _jit, _pairs
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.host import host_isa
from socsim.kernels.interpreter import ArithmeticSpec, compile_model


def _timed_s(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _cpu_s(fn: Callable[[], object]) -> float:
    """CPU time of this thread spent in ``fn``: on a machine shared with other processes it
    leaves out the time spent waiting for a core (onnxruntime with one intra-op thread runs
    on the calling thread, as socsim does)."""
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def _warm_up() -> None:
    _jit.warm_up()
    _pairs.warm_up()


def bench(name: str, runs: int, arithmetic: ArithmeticSpec = "onnxruntime"
          ) -> dict[str, object]:
    """Median single-inference times of ``name`` in onnxruntime and socsim (steady state),
    the one-off compile/session times, and whether the outputs are identical."""
    model = zoo.build(name)
    feeds = zoo.example_inputs(name)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    blob = model.SerializeToString()
    t0 = time.perf_counter()
    sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
    session_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled = compile_model(model, qdq="integer", arithmetic=arithmetic)
    compile_s = time.perf_counter() - t0
    ort_run, socsim_run = (lambda: sess.run(None, feeds)), (lambda: compiled.run(feeds))
    ort_first_s, socsim_first_s = _timed_s(ort_run), _timed_s(socsim_run)
    ort_times, socsim_times, ort_cpu, socsim_cpu = [], [], [], []
    for _ in range(runs):
        ort_times.append(_timed_s(ort_run))
        socsim_times.append(_timed_s(socsim_run))
        ort_cpu.append(_cpu_s(ort_run))
        socsim_cpu.append(_cpu_s(socsim_run))
    ort_s, socsim_s = statistics.median(ort_times), statistics.median(socsim_times)
    ort_c, socsim_c = statistics.median(ort_cpu), statistics.median(socsim_cpu)
    expected = sess.run(None, feeds)
    got = list(compiled.run(feeds).outputs.values())
    identical = all(np.array_equal(e, g) for e, g in zip(expected, got, strict=True))
    pairs = sum(st.pair_saturations for st in compiled.run(feeds).stats.values())
    return {"model": name, "runs": runs, "ort_ms": ort_s * 1e3, "socsim_ms": socsim_s * 1e3,
            "ratio": socsim_s / ort_s, "ort_cpu_ms": ort_c * 1e3, "socsim_cpu_ms": socsim_c * 1e3,
            "cpu_ratio": socsim_c / ort_c, "ort_session_ms": session_s * 1e3,
            "socsim_compile_ms": compile_s * 1e3, "ort_first_run_ms": ort_first_s * 1e3,
            "socsim_first_run_ms": socsim_first_s * 1e3, "bit_exact": identical,
            "pair_saturations": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["mobilenetv2_int8", "resnet8_int8"])
    parser.add_argument("--arithmetic", default="onnxruntime",
                        choices=["onnxruntime", "exact", "u8s8_pairs_int16"])
    args = parser.parse_args()
    arithmetic: ArithmeticSpec = (args.arithmetic if args.arithmetic == "onnxruntime"
                                  else Arithmetic(dot=args.arithmetic))
    with threadpool_limits(limits=1):
        jit_s = _timed_s(_warm_up)
        rows = [bench(m, args.runs, arithmetic) for m in args.models]
    print(json.dumps({"benchmark": "kernels", "threads": 1, "steady_state": True,
                      "host": str(host_isa()), "arithmetic": args.arithmetic,
                      "jit_warm_up_ms": jit_s * 1e3, "results": rows}, indent=2))
    print(f"\nhost: {host_isa()}; socsim arithmetic: {args.arithmetic}")
    print(f"socsim JIT warm-up (numba cache load or compile, once per process): "
          f"{jit_s * 1e3:.0f} ms")
    print("steady state (compile / session creation / first run excluded, timed once on the "
          "right); one thread each")
    print(f"{'model':<20}{'ORT ms':>10}{'socsim ms':>12}{'ratio':>8}{'CPU ratio':>11}  exact"
          f"{'ORT session ms':>17}{'socsim compile ms':>20}{'first run ORT/socsim ms':>26}")
    for r in rows:
        first = f"{r['ort_first_run_ms']:.1f} / {r['socsim_first_run_ms']:.1f}"
        print(f"{r['model']:<20}{r['ort_ms']:>10.2f}{r['socsim_ms']:>12.2f}"
              f"{r['ratio']:>8.2f}{r['cpu_ratio']:>11.2f}  {r['bit_exact']!s:<5}"
              f"{r['ort_session_ms']:>17.1f}{r['socsim_compile_ms']:>20.1f}{first:>26}")


if __name__ == "__main__":
    main()
