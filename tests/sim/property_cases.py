"""Random cases for the property tests, and how to run one.

Hypothesis draws small ONNX graphs (chains and DAGs of Conv / MatMul / Add / Relu / Concat /
AveragePool / Sigmoid, float32 or int8 QDQ, 1 to 30 layers), SoCs of 1-4 units of every kind
with random cores, clocks, op support and memory lists, 1-3 memories (DRAMs and SRAMs down to
one KiB) plus a large DRAM every unit can fall back to, DMA engines (one between all memories,
others between random subsets), a placement policy (single, rules, greedy_eft), closed- or
open-loop workloads and run settings (operating points, DVFS governors, RC thermal models,
weight caches, zero-copy on or off). The fallback DRAM and the all-memory DMA engine make the
cases ones socsim accepts and runs to completion; the memory-starved cases that stop are drawn
by :func:`tight_scenarios` for their own property (tests/sim/test_deadlock_properties.py).

Every input goes through socsim's own loader (YAML written to a temporary folder,
:func:`socsim.config.load_scenario`).
"""

from __future__ import annotations

import os
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import onnx
import yaml
from hypothesis import HealthCheck, assume, event, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from socsim.config.loading import load_scenario
from socsim.errors import ConfigError, PlacementError, SimulationError
from socsim.graph.loading import load_graph
from socsim.run import plan_jobs
from socsim.sim.engine import Simulation
from tests.sim.random_graphs import onnx_models

OP_TYPES = ("Conv", "MatMul", "Add", "Relu", "Concat", "AveragePool", "Sigmoid",
            "QuantizeLinear", "DequantizeLinear")
DTYPES = ("int8", "float32")
HANG_CPU_S = 5.0  # one simulation of these sizes takes well under a second of CPU

#: SOCSIM_PROPERTY_EXAMPLES=2000 (and SOCSIM_PROPERTY_RANDOM=1 for fresh draws) hunts longer.
EXAMPLES = int(os.environ.get("SOCSIM_PROPERTY_EXAMPLES", "40"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    derandomize=not os.environ.get("SOCSIM_PROPERTY_RANDOM"), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# -- random SoCs and scenarios --------------------------------------------------------------


@st.composite
def memories(draw) -> dict:
    mems = {}
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["sram", "dram"]))
        size = draw(st.sampled_from([1, 4, 16, 64, 512, 65536]))
        m = {"kind": kind, "size_kib": size, "bw_gbps": draw(st.sampled_from([0.5, 1, 4, 16])),
             "read_pj_per_byte": draw(st.sampled_from([0.5, 1.0, 20.0])),
             "write_pj_per_byte": draw(st.sampled_from([0.5, 1.0, 20.0])),
             "leakage_mw": draw(st.sampled_from([0.0, 0.3]))}
        if kind == "sram":
            m["page_kib"] = draw(st.sampled_from([0.25, 0.5, 1.0]))
        mems[f"m{i}"] = m
    return mems


@st.composite
def units(draw, mems_doc: dict, needed: set[tuple[str, str]], fallback: str | None = None
          ) -> dict:
    """1-4 units of random kinds; every (op type, dtype) in ``needed`` is supported by one.

    Each unit addresses a random ordered subset of ``mems_doc``, then ``fallback`` (if any)
    as its last memory; it caches weights only in an SRAM (the loader rejects a DRAM). When
    the units' formats differ, every unit but the first can convert layouts, so that each
    pair has a converter (the first one's readers and writers exercise both directions).
    """
    mem_names = [m for m in mems_doc if m != fallback]
    out = {}
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cpu", "npu", "dsp", "fpga"]))
        cores = draw(st.integers(1, 4))
        freqs = draw(st.lists(st.sampled_from([50.0, 100.0, 400.0, 1000.0]), min_size=1,
                              max_size=2, unique=True))
        mems = draw(st.permutations(mem_names))[:draw(st.integers(1, len(mem_names)))]
        u = {
            "kind": kind, "cores": cores,
            "dvfs": {"points": [{"freq_mhz": f, "voltage_v": 0.6 + 0.4 * k}
                                for k, f in enumerate(freqs)],
                     "nominal_mhz": freqs[0],
                     "transition_us": draw(st.sampled_from([0.0, 5.0]))},
            "power": {"energy_pj_per_mac": {"int8": 0.5, "float32": 3.0},
                      "energy_pj_per_op": {"int8": 0.25, "float32": 1.5},
                      "leakage_mw": draw(st.sampled_from([0.0, 1.0, 5.0]))},
            "memories": mems,
            "weights_in": draw(st.sampled_from(mems)),
            "ops": draw(st.lists(st.sampled_from(OP_TYPES), min_size=1, unique=True)),
            "dtypes": draw(st.lists(st.sampled_from(DTYPES), min_size=1, unique=True)),
            "launch_overhead_cycles": draw(st.sampled_from([0, 20])),
        }
        if draw(st.booleans()):
            u["thermal"] = {"r_k_per_w": 50.0, "c_j_per_k": draw(st.sampled_from([1e-6, 1e-3])),
                            "trip_c": draw(st.sampled_from([25.5, 40.0]))}
            u["power"]["leakage_doubling_c"] = 10.0
        cache = [m for m in mems if m != u["weights_in"] and mems_doc[m]["kind"] == "sram"]
        if cache and draw(st.booleans()):
            u["weights_cache"] = draw(st.sampled_from(cache))
            u["weights_prefetch"] = draw(st.sampled_from([0, 1, 2]))
        if fallback is not None:
            u["memories"] = [*mems, fallback]
        if kind == "cpu":
            u |= {"vector_bits_per_cycle": draw(st.sampled_from([32, 64, 128])),
                  "threads_per_op": draw(st.integers(1, cores)),
                  "efficiency": {"default": draw(st.sampled_from([0.25, 0.5, 1.0]))}}
        elif kind == "npu":
            u |= {"array_rows": draw(st.integers(1, 16)), "array_cols": draw(st.integers(1, 16)),
                  "dataflow": draw(st.sampled_from(["output_stationary", "weight_stationary",
                                                    "input_stationary"])),
                  "macs_per_pe_per_cycle": {"int8": 1, "float32": 0.25},
                  "elementwise_ops_per_cycle": draw(st.sampled_from([1, 8]))}
        elif kind == "dsp":
            u |= {"macs_per_cycle": {"int8": 8, "float32": 2},
                  "ops_per_cycle": {"int8": 8, "float32": 2},
                  "efficiency": {"default": 0.5}}
        else:
            u |= {"parallelism": draw(st.sampled_from([1, 16, 64])),
                  "initiation_interval": draw(st.integers(1, 2)),
                  "pipeline_depth": draw(st.sampled_from([0, 10])),
                  "elementwise_ops_per_cycle": draw(st.sampled_from([1, 4]))}
        u["layout"] = draw(st.sampled_from(["NCHW", "NHWC"]))
        u["channel_align"] = draw(st.sampled_from([1, 16]))
        if draw(st.booleans()):
            u["convert_bytes_per_cycle"] = draw(st.sampled_from([0.5, 4.0]))
        out[f"u{i}"] = u
    names = list(out)
    if len({(u["layout"], u["channel_align"]) for u in out.values()}) > 1:
        for u in list(out.values())[1:]:
            u.setdefault("convert_bytes_per_cycle", draw(st.sampled_from([0.5, 4.0])))
    for op_type, dtype in sorted(needed):
        if not any(op_type in u["ops"] and dtype in u["dtypes"] for u in out.values()):
            u = out[draw(st.sampled_from(names))]
            u["ops"] = sorted({*u["ops"], op_type})
            u["dtypes"] = sorted({*u["dtypes"], dtype})
    for u in out.values():
        if u["kind"] == "fpga" and draw(st.booleans()):
            u |= draw(kernel_libraries(u["ops"]))
    return out


@st.composite
def kernel_libraries(draw, ops: list[str]) -> dict:
    """A fabric of 100 DSP slices and 1-3 kernels sharing ``ops`` between them, often too big
    to be resident together (so that they evict each other)."""
    ops = draw(st.permutations(ops))
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(ops) - 1)), max_size=2, unique=True)))
    groups = [g for g in (ops[a:b] for a, b in zip([0, *cuts], [*cuts, len(ops)])) if g]
    kernels = {f"k{i}": {"ops": list(g), "dsp_slices": draw(st.sampled_from([20, 60, 100])),
                         "luts": 100, "bitstream_bytes": draw(st.sampled_from([1000, 100000])),
                         "preloaded": i == 0 and draw(st.booleans())}
               for i, g in enumerate(groups)}
    fabric = {"dsp_slices": 100, "luts": 1000, "bram36": 10,
              "reconfig_bw_mb_per_s": draw(st.sampled_from([100.0, 1000.0])),
              "reconfig_setup_ns": draw(st.sampled_from([0.0, 500.0])),
              "reconfig_pj_per_byte": 1.0}
    return {"fabric": fabric, "kernels": kernels}


@st.composite
def socs(draw, needed: set[tuple[str, str]]) -> dict:
    """1-3 random memories plus ``big`` (a 64 MiB DRAM: every unit's last memory and the
    inputs' memory, so tensors spill rather than stop), ``dma_all`` connecting every memory
    (so every hand-off has a route) and 0-2 DMA engines between random subsets."""
    mems = draw(memories())
    mems["big"] = {"kind": "dram", "size_kib": 65536,
                   "bw_gbps": draw(st.sampled_from([0.5, 4, 16])),
                   "read_pj_per_byte": 20.0, "write_pj_per_byte": 20.0,
                   "leakage_mw": draw(st.sampled_from([0.0, 0.3]))}
    names = list(mems)
    dma = {"dma_all": _dma_engine(draw, names)}
    for i in range(draw(st.integers(0, 2))):
        dma[f"dma{i}"] = _dma_engine(
            draw, draw(st.permutations(names))[:draw(st.integers(2, len(names)))])
    soc = {"name": "random", "units": draw(units(mems, needed, fallback="big")),
           "memories": mems, "dma": dma, "inputs_in": "big"}
    if draw(st.booleans()):
        soc["interconnect"] = {"bw_gbps": draw(st.sampled_from([0.25, 4.0]))}
    free = [n for n, u in soc["units"].items() if "thermal" not in u]
    if free and draw(st.booleans()):  # some units share one RC node
        soc["thermal_zones"] = {"die": {"r_k_per_w": 50.0,
                                        "c_j_per_k": draw(st.sampled_from([1e-6, 1e-3]))}}
        for n in draw(st.lists(st.sampled_from(free), min_size=1, unique=True)):
            soc["units"][n]["thermal_zone"] = "die"
    return soc


def _dma_engine(draw, connects: list[str]) -> dict:
    return {"channels": draw(st.integers(1, 3)),
            "bw_gbps": draw(st.sampled_from([0.5, 2.0, 8.0])),
            "setup_ns": draw(st.sampled_from([0, 100])),
            "energy_pj_per_byte": draw(st.sampled_from([0.0, 2.0])),
            "connects": list(connects)}


@st.composite
def workloads(draw, name: str) -> dict:
    w = {"name": name, "model": f"{name}.onnx"}
    if draw(st.booleans()):
        w |= {"inferences": draw(st.integers(1, 5)), "max_in_flight": draw(st.integers(1, 3))}
    else:
        rate = draw(st.sampled_from([100.0, 1e3, 1e4, 1e5, 1e6]))
        w |= {"rate_hz": rate, "duration_s": draw(st.integers(1, 5)) / rate,
              "arrival": draw(st.sampled_from(["periodic", "poisson"])),
              "max_in_flight": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        w["deadline_ms"] = draw(st.sampled_from([0.01, 1.0]))
    return w


@st.composite
def policies(draw, units_doc: dict, needed: set[tuple[str, str]]) -> dict:
    """single, rules or greedy_eft over ``units_doc``; greedy_eft's candidates, when drawn,
    cover every (op type, dtype) in ``needed``."""
    unit_names = list(units_doc)
    name = draw(st.sampled_from(["single", "rules", "greedy_eft"]))
    if name == "single":
        return {"name": name, "params": {"unit": draw(st.sampled_from(unit_names))}}
    if name == "rules":
        rules = [{"op_types": draw(st.lists(st.sampled_from(OP_TYPES), min_size=1, max_size=3,
                                            unique=True)),
                  "unit": draw(st.sampled_from(unit_names))}
                 for _ in range(draw(st.integers(0, 3)))]
        return {"name": name, "params": {"rules": rules,
                                         "default": draw(st.sampled_from(unit_names))}}
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(unit_names), min_size=1, unique=True))
        for op_type, dtype in sorted(needed):  # greedy_eft places only on its candidates
            if not any(op_type in units_doc[u]["ops"] and dtype in units_doc[u]["dtypes"]
                       for u in chosen):
                chosen.append(next(u for u in unit_names if op_type in units_doc[u]["ops"]
                                   and dtype in units_doc[u]["dtypes"]))
        return {"name": name, "params": {"units": chosen}}
    return {"name": name}


@st.composite
def scenarios(draw) -> tuple[dict, dict[str, onnx.ModelProto]]:
    """(scenario document with the SoC inline, model per workload file name)."""
    models = {f"w{i}.onnx": draw(onnx_models()) for i in range(draw(st.integers(1, 2)))}
    needed = {(op.op_type, op.dtype) for m in models.values() for op in load_graph(m).ops}
    soc = draw(socs(needed))
    run = {"seed": draw(st.integers(0, 3)), "zero_copy": draw(st.booleans()),
           "functional": False}
    points = {}
    for uname, u in soc["units"].items():
        if draw(st.booleans()):
            points[uname] = draw(st.sampled_from([p["freq_mhz"] for p in u["dvfs"]["points"]]))
    run["operating_points"] = points
    governors = {}
    for uname, u in soc["units"].items():
        names = ["fixed", "performance", "powersave", "ondemand"]
        names += ["thermal"] if "thermal" in u else []
        if uname not in points and draw(st.booleans()):
            governors[uname] = {"name": draw(st.sampled_from(names)),
                                "sample_ms": draw(st.sampled_from([0.05, 0.5]))}
    run["governors"] = governors
    doc = {"name": "prop", "soc": soc,
           "workloads": [draw(workloads(f.removesuffix(".onnx"))) for f in models],
           "policy": draw(policies(soc["units"], needed)), "run": run}
    return doc, models


@st.composite
def tight_scenarios(draw) -> tuple[dict, dict[str, onnx.ModelProto]]:
    """A memory-starved case whose stops are easy to account for: one workload, closed loop
    (2-5 inferences, 1-3 in flight); the inputs arrive in a 64 MiB DRAM that no unit
    addresses; every unit's only memory is one SRAM of 1-16 KiB (a DMA engine copies the
    inputs in); one format everywhere (no conversions, no padding); no weight cache, so
    weights stream and allocate nothing; zero-copy on. Whatever is allocated then lives in
    the SRAM, and what waits is an op's outputs or an input's copy (docs/model.md, "Data
    movement")."""
    model = draw(onnx_models())
    needed = {(op.op_type, op.dtype) for op in load_graph(model).ops}
    mems = {"dram": {"kind": "dram", "size_kib": 65536, "bw_gbps": 4, "read_pj_per_byte": 20.0,
                     "write_pj_per_byte": 20.0},
            "sram": {"kind": "sram", "size_kib": draw(st.sampled_from([1, 2, 4, 8, 16])),
                     "page_kib": draw(st.sampled_from([0.25, 0.5, 1.0])), "bw_gbps": 16,
                     "read_pj_per_byte": 1.0, "write_pj_per_byte": 1.0}}
    us = draw(units({"sram": mems["sram"]}, needed))
    for u in us.values():
        u |= {"layout": "NCHW", "channel_align": 1}
        u.pop("convert_bytes_per_cycle", None)
    soc = {"name": "tight", "units": us, "memories": mems, "inputs_in": "dram",
           "dma": {"dma0": _dma_engine(draw, ["dram", "sram"])}}
    doc = {"name": "tight", "soc": soc,
           "workloads": [{"name": "w0", "model": "w0.onnx",
                          "inferences": draw(st.integers(2, 5)),
                          "max_in_flight": draw(st.integers(1, 3))}],
           "policy": draw(policies(us, needed)),
           "run": {"seed": 0, "zero_copy": True, "functional": False}}
    return doc, {"w0.onnx": model}


# -- running --------------------------------------------------------------------------------


class Hang(Exception):
    """A simulation that ran past its CPU-time budget."""


@contextmanager
def cpu_limit(seconds: float):
    """Raise :class:`Hang` once this process has spent ``seconds`` of CPU time (CPU, not wall
    time, so that a loaded CI machine does not turn a slow run into a false hang)."""
    def _raise(signum, frame):
        raise Hang(f"simulation still running after {seconds} s of CPU time")

    old = signal.signal(signal.SIGPROF, _raise)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


def prepare(doc: dict, models: dict[str, onnx.ModelProto], folder: Path):
    """Load and plan through socsim's own front door; None if socsim rejects the input."""
    for fname, model in models.items():
        onnx.save(model, str(folder / fname))
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        scenario = load_scenario(path)
        jobs = plan_jobs(scenario)
        sim = Simulation(scenario.device, jobs, scenario.run)
    except ConfigError:
        event("rejected: config")
        return None
    except PlacementError:
        event("rejected: placement or route")
        return None
    return scenario, jobs, sim


def simulate(sim: Simulation):
    """Run; a clean SimulationError is a legitimate outcome (returned), anything else (a
    :class:`Hang` included) fails."""
    try:
        with cpu_limit(HANG_CPU_S):
            return sim.run()
    except SimulationError as exc:
        assert str(exc), "a SimulationError must say what went wrong"
        return exc


def outcome(doc, models):
    """(scenario, jobs, simulation, trace or the SimulationError it stopped with) of a case
    socsim accepts; a case it rejects is discarded (``assume``)."""
    with tempfile.TemporaryDirectory() as tmp:
        prepared = prepare(doc, models, Path(tmp))
        assume(prepared is not None)
        scenario, jobs, sim = prepared
        trace = simulate(sim)
        assume(trace is not None)
        return scenario, jobs, sim, trace




def relu_chain_model() -> onnx.ModelProto:
    """x[1, 256] f32 (1 KiB) -> Relu -> Relu: the smallest graph that can fill a small SRAM."""
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["h"], name="relu0"),
         helper.make_node("Relu", ["h"], ["y"], name="relu1")], "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])]),
        opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def relu_cpu(*, memory: str, leakage_mw: float) -> dict:
    """One 100 MHz CPU (64 bits per cycle) running float32 Relu out of ``memory``."""
    return {"kind": "cpu", "vector_bits_per_cycle": 64, "efficiency": {"default": 1.0},
            "dvfs": {"points": [{"freq_mhz": 100.0, "voltage_v": 1.0}], "nominal_mhz": 100.0},
            "power": {"energy_pj_per_mac": {"float32": 1.0},
                      "energy_pj_per_op": {"float32": 1.0}, "leakage_mw": leakage_mw},
            "memories": [memory], "weights_in": memory, "ops": ["Relu"],
            "dtypes": ["float32"]}
