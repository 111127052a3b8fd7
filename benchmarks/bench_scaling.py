"""Simulation cost against problem size: model size, inference count and unit count.

Three sweeps, each a timing-only run (run.functional=false) on a synthetic SoC of ``k``
identical NPUs (each with a private 256 KiB SRAM, one shared DRAM and one DMA engine joining
them all; every NPU runs every op type of the zoo in int8 and float32):

- ``model_size``: the zoo's DS-CNN, ResNet-8, MobileNetV2 and transformer block (int8 QDQ) and
  synthetic float32 chains of N ops (MatMul 64x64 / Relu alternating, N = 50 ... 800), 50
  inferences each, 2 NPUs, greedy_eft, 2 in flight;
- ``inferences``: MobileNetV2 int8, 10 ... 800 inferences, 2 NPUs, greedy_eft, 2 in flight;
- ``units``: ResNet-8 int8 on 1, 2, 4, 8 NPUs, the ops split into k contiguous ranges (a
  pipeline placed by the ``rules`` policy) with k inferences in flight, and 100 x k inferences
  (weak scaling: the same work per unit, so a flat ops/s means extra units cost nothing per op).

Only ``Simulation.run`` is timed (as in bench_sim.py: graph loading, placement, and reports are
excluded); each point is the median of ``--repeat`` runs, each on a fresh Simulation.
``seconds`` is the process's CPU time (``time.process_time``: the simulator is single-threaded,
and CPU time does not count the time other processes on a shared machine take from it);
``wall_s`` is the median wall time beside it. Per sweep,
a least-squares line of seconds against simulated ops (slope = seconds per op, r^2) says
whether the cost grows linearly with the number of simulated ops.

Usage: python benchmarks/bench_scaling.py [--repeat K] [--quick] [--gc-off]
  --quick: fewer, smaller points (a smoke test, a few seconds).
  --gc-off: disable Python's cyclic GC during each timed run (separates the GC's share: the
    engine keeps every op process of an inference alive from its start, so collections scan
    more objects per op as models grow).
Prints one JSON object, then a short table per sweep.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import simpy
import yaml
from onnx import TensorProto, helper, numpy_helper

from socsim import __version__
from socsim.config import load_scenario
from socsim.run import plan_jobs
from socsim.sim import Simulation
from socsim.zoo import ensure

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ROOT / "workloads"
ZOO = ("ds_cnn_int8", "resnet8_int8", "mobilenetv2_int8", "transformer_block_int8")
OPS = ["Add", "AveragePool", "Concat", "Conv", "DequantizeLinear", "Div", "Erf", "Flatten",
       "Gemm", "GlobalAveragePool", "LayerNormalization", "MatMul", "Mul", "QuantizeLinear",
       "Relu", "Reshape", "Softmax", "Transpose"]


def chain_model(n_ops: int, width: int = 64) -> onnx.ModelProto:
    """x[1, width] -> (MatMul W[width, width] -> Relu) ... : a float32 chain of ``n_ops`` ops."""
    rng = np.random.default_rng(0)
    nodes, inits, t = [], [], "x"
    for i in range(n_ops):
        out = f"t{i}"
        if i % 2 == 0:
            inits.append(numpy_helper.from_array(
                rng.normal(size=(width, width)).astype(np.float32), f"W{i}"))
            nodes.append(helper.make_node("MatMul", [t, f"W{i}"], [out], name=f"mm{i}"))
        else:
            nodes.append(helper.make_node("Relu", [t], [out], name=f"relu{i}"))
        t = out
    graph = helper.make_graph(
        nodes, f"chain{n_ops}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(t, TensorProto.FLOAT, [1, width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def synthetic_soc(k: int) -> dict:
    """``k`` identical NPUs, a private SRAM each, a shared DRAM, one DMA engine for all."""
    npu = {"kind": "npu", "cores": 1, "array_rows": 16, "array_cols": 16,
           "macs_per_pe_per_cycle": {"int8": 1, "float32": 0.25},
           "elementwise_ops_per_cycle": 16,
           "dvfs": {"points": [{"freq_mhz": 800, "voltage_v": 0.8}], "nominal_mhz": 800},
           "power": {"energy_pj_per_mac": {"int8": 0.2, "float32": 1.0},
                     "energy_pj_per_op": {"int8": 0.1, "float32": 0.5}, "leakage_mw": 5.0},
           "weights_in": "dram", "ops": OPS, "dtypes": ["int8", "float32"],
           "launch_overhead_cycles": 100}
    memories = {f"sram{i}": {"kind": "sram", "size_kib": 256, "page_kib": 1, "bw_gbps": 16,
                             "read_pj_per_byte": 1.0, "write_pj_per_byte": 1.0}
                for i in range(k)}
    memories["dram"] = {"kind": "dram", "size_kib": 1 << 20, "bw_gbps": 8,
                        "read_pj_per_byte": 20.0, "write_pj_per_byte": 20.0}
    return {"name": f"npu_x{k}",
            "units": {f"npu{i}": {**npu, "memories": [f"sram{i}", "dram"]} for i in range(k)},
            "memories": memories,
            "dma": {"dma0": {"channels": 2, "bw_gbps": 8, "setup_ns": 50,
                             "energy_pj_per_byte": 1.0, "connects": list(memories)}}}


def _pipeline(k: int, n_ops: int) -> dict:
    """``rules`` placing ops in k contiguous, near-equal ranges on npu0 ... npu(k-1)."""
    bounds = np.linspace(0, n_ops, k + 1).round().astype(int)
    rules = [{"range": [int(bounds[i]), int(bounds[i + 1]) - 1], "unit": f"npu{i}"}
             for i in range(k) if bounds[i + 1] > bounds[i]]
    return {"name": "rules", "params": {"rules": rules, "default": "npu0"}}


def measure(folder: Path, model: Path, soc: dict, policy: dict, inferences: int,
            in_flight: int, repeat: int, gc_off: bool = False) -> dict:
    """Median wall time of ``Simulation.run`` and the ops it simulated."""
    doc = {"name": "scaling", "soc": soc,
           "workloads": [{"name": "w", "model": str(model), "inferences": inferences,
                          "max_in_flight": in_flight}],
           "policy": policy, "run": {"seed": 0, "functional": False}}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    scenario = load_scenario(path)
    jobs = plan_jobs(scenario)
    cpu, wall, ops = [], [], 0
    for _ in range(repeat):
        sim = Simulation(scenario.device, jobs, scenario.run)
        gc.collect()
        if gc_off:
            gc.disable()
        start, start_cpu = time.perf_counter(), time.process_time()
        trace = sim.run()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
        gc.enable()
        ops = len(trace.ops)
    seconds = statistics.median(cpu)
    return {"ops_per_inference": len(jobs[0].graph.ops), "inferences": inferences,
            "units_used": len(set(jobs[0].plan.units)), "simulated_ops": ops,
            "transfers": len(trace.transfers),
            "seconds": round(seconds, 5), "ops_per_s": round(ops / seconds),
            "wall_s": round(statistics.median(wall), 5),
            "runs_cpu_s": [round(t, 5) for t in cpu]}


def fit(points: list[dict], transfers: bool = False) -> dict:
    """Least-squares seconds = slope x ops + intercept over ``points``, with r^2 (x = ops +
    DMA transfers and zero-copy hand-offs when ``transfers``)."""
    x = np.array([p["simulated_ops"] + (p["transfers"] if transfers else 0) for p in points],
                 dtype=float)
    y = np.array([p["seconds"] for p in points], dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - (residual ** 2).sum() / total if total else 1.0
    return {"slope_us_per_op": round(slope * 1e6, 4), "intercept_ms": round(intercept * 1e3, 3),
            "r2": round(float(r2), 5), "points": len(points)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller points")
    parser.add_argument("--gc-off", action="store_true",
                        help="disable Python's cyclic garbage collector while a run is timed")
    args = parser.parse_args()
    chains = (50, 100, 200) if args.quick else (50, 100, 200, 400, 800)
    counts = (10, 50, 200) if args.quick else (10, 50, 200, 800)
    unit_counts = (1, 2, 4) if args.quick else (1, 2, 4, 8)
    per_model = 10 if args.quick else 50
    per_unit = 20 if args.quick else 100
    eft = {"name": "greedy_eft"}
    run = (args.repeat, args.gc_off)

    sweeps: dict[str, list[dict]] = {"model_size": [], "inferences": [], "units": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in ZOO:
            model = WORKLOADS / f"{name}.onnx"
            ensure(model)
            point = measure(folder, model, synthetic_soc(2), eft, per_model, 2, *run)
            sweeps["model_size"].append({"case": name, **point})
        for n in chains:
            model = folder / f"chain{n}.onnx"
            onnx.save(chain_model(n), str(model))
            point = measure(folder, model, synthetic_soc(2), eft, per_model, 2, *run)
            sweeps["model_size"].append({"case": f"chain{n}", **point})
        mobilenet = WORKLOADS / "mobilenetv2_int8.onnx"
        for count in counts:
            point = measure(folder, mobilenet, synthetic_soc(2), eft, count, 2, *run)
            sweeps["inferences"].append({"case": f"mobilenetv2_int8 x{count}", **point})
        resnet = WORKLOADS / "resnet8_int8.onnx"
        ensure(resnet)
        n_resnet = 17
        for k in unit_counts:
            point = measure(folder, resnet, synthetic_soc(k), _pipeline(k, n_resnet),
                            per_unit * k, k, *run)
            sweeps["units"].append({"case": f"resnet8_int8 on {k} npu", "units": k, **point})

    result = {
        "benchmark": "bench_scaling",
        "socsim_version": __version__,
        "simpy_version": simpy.__version__,
        "python": platform.python_version(),
        "repeat": args.repeat,
        "quick": args.quick,
        "gc_off": args.gc_off,
        "sweeps": sweeps,
        "fits": {name: fit(points) for name, points in sweeps.items()},
    }
    result["fits"]["model_size_chains_only"] = fit(
        [p for p in sweeps["model_size"] if p["case"].startswith("chain")])
    result["fits"]["units_vs_ops_plus_transfers"] = fit(sweeps["units"], transfers=True)
    print(json.dumps(result))
    for name, points in sweeps.items():
        f = result["fits"][name]
        print()
        print(f"{name}: seconds = {f['slope_us_per_op']} us x ops + {f['intercept_ms']} ms, "
              f"r^2 = {f['r2']}")
        print(f"  {'case':<28}{'ops/inf':>8}{'units':>6}{'sim ops':>9}{'xfers':>7}"
              f"{'seconds':>9}{'ops/s':>9}")
        for p in points:
            print(f"  {p['case']:<28}{p['ops_per_inference']:>8}{p['units_used']:>6}"
                  f"{p['simulated_ops']:>9}{p['transfers']:>7}{p['seconds']:>9.3f}"
                  f"{p['ops_per_s']:>9,}")
    f = result["fits"]["model_size_chains_only"]
    print(f"\nmodel_size, chains only: {f['slope_us_per_op']} us/op, r^2 = {f['r2']}")
    f = result["fits"]["units_vs_ops_plus_transfers"]
    print(f"units, x = ops + transfers: {f['slope_us_per_op']} us/event, r^2 = {f['r2']}")


if __name__ == "__main__":
    main()
