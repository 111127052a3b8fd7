"""Property tests: the simulator's invariants over random graphs, random SoCs and random runs.

Hypothesis draws small ONNX graphs (chains and DAGs of Conv / MatMul / Add / Relu / Concat /
AveragePool / Sigmoid, float32 or int8 QDQ, 1 to 30 layers), SoCs of 1-4 units of every kind
with random cores, clocks, op support and memory lists, 1-3 memories (DRAMs and SRAMs down to
one KiB), DMA engines between random subsets of them, and a placement policy (single, rules,
greedy_eft), closed- or open-loop workloads and run settings (operating points, DVFS
governors, RC thermal models, weight caches, zero-copy on or off). Every input goes through socsim's
own loader (YAML written to a temporary folder, :func:`socsim.config.load_scenario`); inputs the
validator or the planner rejects are discarded, so the properties hold for everything socsim
accepts. Each accepted scenario runs to completion or stops with a clean
:class:`~socsim.errors.SimulationError` (a memory deadlock, a tensor no memory can hold), and a
completed run satisfies the invariants of ../shared/DESIGN.md, checked here against the
configuration and the graph rather than against the engine's own bookkeeping:

- no unit runs more ops at once than its engines, no DMA engine more transfers than its channels;
- no op starts before its inputs exist where it reads them (producer end, DMA copy end, a memory
  it shares with the producer), nor before its weights are paged in;
- memory never exceeds capacity, and every activation is freed by the end of the run;
- energy totals equal the sum of their attributed parts;
- every inference completes, runs each op once, within [arrival, completion], with at most
  ``max_in_flight`` in flight; latency >= the longest op of the inference;
- the same inputs and seed give identical traces and summaries.

Deterministic for CI: ``derandomize=True`` and no example database.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from socsim.config.loading import load_scenario
from socsim.errors import ConfigError, PlacementError, SimulationError
from socsim.graph.loading import load_graph
from socsim.report.tables import summary, tables
from socsim.run import plan_jobs
from socsim.sim.engine import Simulation

OP_TYPES = ("Conv", "MatMul", "Add", "Relu", "Concat", "AveragePool", "Sigmoid",
            "QuantizeLinear", "DequantizeLinear")
DTYPES = ("int8", "float32")
HANG_CPU_S = 5.0  # one simulation of these sizes takes well under a second of CPU

#: SOCSIM_PROPERTY_EXAMPLES=2000 (and SOCSIM_PROPERTY_RANDOM=1 for fresh draws) hunts longer.
EXAMPLES = int(os.environ.get("SOCSIM_PROPERTY_EXAMPLES", "40"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    derandomize=not os.environ.get("SOCSIM_PROPERTY_RANDOM"), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# -- random graphs -------------------------------------------------------------------------


class _GraphBuilder:
    """Accumulates nodes and initializers; in QDQ mode, activations are int8 and every layer is
    ``DQ -> op -> Q`` with int8 weights behind a DequantizeLinear."""

    def __init__(self, quant: bool, rng: np.random.Generator):
        self.quant = quant
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0
        if quant:
            self.inits += [numpy_helper.from_array(np.array(0.05, np.float32), "s"),
                           numpy_helper.from_array(np.array(0, np.int8), "zp")]

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def node(self, op_type: str, inputs: list[str], **attrs) -> str:
        out = self.name("t")
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name(op_type.lower()),
                                           **attrs))
        return out

    def weight(self, shape: tuple[int, ...]) -> str:
        w = self.name("W")
        if self.quant:
            self.inits.append(numpy_helper.from_array(
                self.rng.integers(-127, 128, size=shape).astype(np.int8), w))
            return self.node("DequantizeLinear", [w, "s", "zp"])
        self.inits.append(numpy_helper.from_array(
            self.rng.normal(size=shape).astype(np.float32), w))
        return w

    def layer(self, op_type: str, acts: list[str], weights: list[str] = (), **attrs) -> str:
        """One layer on activations ``acts``: dequantize them first and quantize the result
        in QDQ mode."""
        if self.quant:
            acts = [self.node("DequantizeLinear", [a, "s", "zp"]) for a in acts]
        out = self.node(op_type, [*acts, *weights], **attrs)
        return self.node("QuantizeLinear", [out, "s", "zp"]) if self.quant else out


@st.composite
def onnx_models(draw) -> onnx.ModelProto:
    """A valid, shape-inferable ONNX model: a chain or a DAG of 1-30 layers."""
    quant = draw(st.booleans())
    spatial = draw(st.booleans())  # [1, C, H, W] activations, else [1, K]
    hw = draw(st.integers(1, 6))
    chain = draw(st.booleans())
    layers = draw(st.integers(1, 30))
    b = _GraphBuilder(quant, np.random.default_rng(draw(st.integers(0, 3))))
    c0 = draw(st.integers(1, 16))
    shape_of = {"x": (1, c0, hw, hw) if spatial else (1, c0)}
    x = "x"
    if quant:
        q = b.node("QuantizeLinear", ["x", "s", "zp"])
        shape_of[q] = shape_of["x"]
        x = q
    live = [x]
    consumed: set[str] = set()
    kinds = ["Conv", "Add", "Relu", "Concat", "AveragePool", "Sigmoid"] if spatial else \
        ["MatMul", "Add", "Relu", "Concat", "Sigmoid"]
    for _ in range(layers):
        kind = draw(st.sampled_from(kinds))
        a = live[-1] if chain else draw(st.sampled_from(live))
        shape = shape_of[a]
        if kind == "Conv":
            k = draw(st.sampled_from([1, 3]))
            c_out = draw(st.integers(1, 16))
            out = b.layer("Conv", [a], [b.weight((c_out, shape[1], k, k))], kernel_shape=[k, k],
                          pads=[k // 2] * 4)
            new = (1, c_out, hw, hw)
        elif kind == "MatMul":
            n = draw(st.integers(1, 64))
            out = b.layer("MatMul", [a], [b.weight((shape[1], n))])
            new = (1, n)
        elif kind in ("Add", "Concat"):
            same = [t for t in live if shape_of[t] == shape] if kind == "Add" else live
            other = a if chain else draw(st.sampled_from(same))
            consumed.add(other)
            if kind == "Add":
                out, new = b.layer("Add", [a, other]), shape
            else:
                out = b.layer("Concat", [a, other], axis=1)
                new = (1, shape[1] + shape_of[other][1], *shape[2:])
        elif kind == "AveragePool":
            out, new = b.layer("AveragePool", [a], kernel_shape=[3, 3], pads=[1] * 4), shape
        else:
            out, new = b.layer(kind, [a]), shape
        consumed.add(a)
        shape_of[out] = new
        live.append(out)
    leaves = [t for t in live if t not in consumed and t != "x"] or [live[-1]]
    outputs = []
    for t in leaves:
        if quant:
            t_out = b.node("DequantizeLinear", [t, "s", "zp"])
        else:
            t_out = t
        outputs.append(helper.make_tensor_value_info(t_out, TensorProto.FLOAT, shape_of[t]))
    graph = helper.make_graph(b.nodes, "random",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             shape_of["x"])],
                              outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


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
def units(draw, mem_names: list[str], needed: set[tuple[str, str]]) -> dict:
    """1-4 units of random kinds; every (op type, dtype) in ``needed`` is supported by one."""
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
        cache = [m for m in mems if m != u["weights_in"]]
        if cache and draw(st.booleans()):
            u["weights_cache"] = draw(st.sampled_from(cache))  # the loader rejects a DRAM
            u["weights_prefetch"] = draw(st.sampled_from([0, 1, 2]))
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
    mems = draw(memories())
    names = list(mems)
    dma = {}
    if len(names) > 1:
        for i in range(draw(st.integers(0, 2))):
            connects = draw(st.permutations(names))[:draw(st.integers(2, len(names)))]
            dma[f"dma{i}"] = {"channels": draw(st.integers(1, 3)),
                              "bw_gbps": draw(st.sampled_from([0.5, 2.0, 8.0])),
                              "setup_ns": draw(st.sampled_from([0, 100])),
                              "energy_pj_per_byte": draw(st.sampled_from([0.0, 2.0])),
                              "connects": connects}
    soc = {"name": "random", "units": draw(units(names, needed)), "memories": mems, "dma": dma}
    if dma and draw(st.booleans()):
        soc["interconnect"] = {"bw_gbps": draw(st.sampled_from([0.25, 4.0]))}
    free = [n for n, u in soc["units"].items() if "thermal" not in u]
    if free and draw(st.booleans()):  # some units share one RC node
        soc["thermal_zones"] = {"die": {"r_k_per_w": 50.0,
                                        "c_j_per_k": draw(st.sampled_from([1e-6, 1e-3]))}}
        for n in draw(st.lists(st.sampled_from(free), min_size=1, unique=True)):
            soc["units"][n]["thermal_zone"] = "die"
    return soc


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
def policies(draw, unit_names: list[str]) -> dict:
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
        return {"name": name, "params": {"units": draw(st.lists(
            st.sampled_from(unit_names), min_size=1, unique=True))}}
    return {"name": name}


@st.composite
def scenarios(draw) -> tuple[dict, dict[str, onnx.ModelProto]]:
    """(scenario document with the SoC inline, model per workload file name)."""
    models = {f"w{i}.onnx": draw(onnx_models()) for i in range(draw(st.integers(1, 2)))}
    needed = {(op.op_type, op.dtype) for m in models.values() for op in load_graph(m).ops}
    soc = draw(socs(needed))
    unit_names = list(soc["units"])
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
           "policy": draw(policies(unit_names)), "run": run}
    return doc, models


# -- running --------------------------------------------------------------------------------


class Hang(Exception):
    pass


@contextmanager
def _cpu_limit(seconds: float):
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


def _prepare(doc: dict, models: dict[str, onnx.ModelProto], folder: Path):
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


def _simulate(scenario, sim: Simulation):
    """Run; a clean SimulationError is a legitimate outcome (returned), anything else (a
    :class:`Hang` included) fails."""
    try:
        with _cpu_limit(HANG_CPU_S):
            return sim.run()
    except SimulationError as exc:
        assert str(exc), "a SimulationError must say what went wrong"
        return exc


def _outcome(doc, models):
    with tempfile.TemporaryDirectory() as tmp:
        prepared = _prepare(doc, models, Path(tmp))
        assume(prepared is not None)
        scenario, jobs, sim = prepared
        trace = _simulate(scenario, sim)
        assume(trace is not None)
        return scenario, jobs, sim, trace


# -- the properties ---------------------------------------------------------------------------


def _input_memory(soc) -> str:
    """docs/model.md: ``inputs_in``, else the first DRAM, else the largest memory."""
    if soc.inputs_in is not None:
        return soc.inputs_in
    drams = [n for n, m in soc.memories.items() if m.kind == "dram"]
    return drams[0] if drams else max(soc.memories, key=lambda n: soc.memories[n].size_kib)


def _peak_overlap(intervals) -> int:
    """Most half-open [start, end) intervals that overlap at one instant."""
    intervals = [(s, e) for s, e in intervals if e > s]
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def check_engines_and_channels(scenario, t) -> None:
    soc = scenario.device
    for uname, group in t.ops.groupby("unit"):
        unit = soc.units[uname]
        engines = unit.cores // (unit.threads_per_op if unit.kind == "cpu" else 1)
        assert _peak_overlap(zip(group["start_ns"], group["end_ns"])) <= engines, uname
        assert group["engine"].between(0, engines - 1).all(), uname
        for _, lane in group.groupby("engine"):
            lane = lane.sort_values(["start_ns", "end_ns"])
            assert (lane["start_ns"].to_numpy()[1:] >= lane["end_ns"].to_numpy()[:-1]).all()
    moved = t.transfers[t.transfers["kind"] != "zero_copy"]
    for ename, group in moved.groupby("engine"):
        engine = soc.dma[ename]
        assert _peak_overlap(zip(group["start_ns"], group["end_ns"])) <= engine.channels, ename
        for r in group.itertuples():
            assert r.src in engine.connects and r.dst in engine.connects, (ename, r)
            assert r.end_ns - r.start_ns >= r.bytes / engine.bw_gbps, r


def check_inputs_exist_where_read(scenario, jobs, t) -> None:
    soc = scenario.device
    zero_copy = scenario.run.zero_copy
    home = _input_memory(soc)
    ops = t.ops.set_index(["workload", "inference", "op"])
    end = ops["end_ns"].to_dict()
    start = ops["start_ns"].to_dict()
    copies: dict[tuple, list] = defaultdict(list)  # (workload, inference, tensor) -> rows
    for r in t.transfers.itertuples():
        if r.kind == "dma":
            copies[(r.workload, r.inference, r.tensor)].append(r)
        elif r.kind == "zero_copy":
            assert zero_copy, f"a zero-copy hand-off with run.zero_copy false: {r}"
        elif r.kind == "page_in":
            op = r.tensor.removesuffix(":weights")
            assert start[(r.workload, r.inference, op)] >= r.end_ns, f"weights late: {r}"
    for job in jobs:
        w = job.workload.name
        placed = dict(zip((op.name for op in job.graph.ops), job.plan.units))
        producer = {t_: op.name for op in job.graph.ops for t_ in op.outputs}
        done = sorted(set(t.inferences.loc[t.inferences["workload"] == w, "inference"]))
        for i in done:
            for op in job.graph.ops:
                s = start[(w, i, op.name)]
                reader = soc.units[placed[op.name]]
                for tensor in op.inputs:
                    p = producer.get(tensor)
                    if p is not None:
                        assert s >= end[(w, i, p)], (w, i, op.name, tensor)
                        written = set(soc.units[placed[p]].memories)
                        in_place = bool(written & set(reader.memories)) and (
                            zero_copy or placed[p] == placed[op.name])
                    else:
                        written = {home}
                        in_place = home in reader.memories
                    arrived = [c.end_ns for c in copies[(w, i, tensor)]
                               if c.dst in reader.memories]
                    assert in_place or (arrived and min(arrived) <= s), (
                        f"{w}#{i} {op.name} on {placed[op.name]} reads {tensor!r}: not "
                        f"addressable and no copy arrived by {s} ns (copies {arrived})")
                for tensor in op.outputs:
                    for c in sorted(copies[(w, i, tensor)], key=lambda c: c.start_ns):
                        assert c.start_ns >= end[(w, i, op.name)], c
                        sources = set(soc.units[placed[op.name]].memories)
                        sources |= {d.dst for d in copies[(w, i, tensor)]
                                    if d.end_ns <= c.start_ns}
                        assert c.src in sources, c
            for tensor in job.graph.inputs:
                for c in copies[(w, i, tensor)]:
                    assert c.src == home or c.src in {d.dst for d in copies[(w, i, tensor)]}, c


def check_memory(scenario, sim, trace) -> None:
    for name, mem in scenario.device.memories.items():
        assert trace.memory_capacity_bytes[name] == mem.size_bytes
        assert 0 <= trace.memory_peak_bytes[name] <= mem.size_bytes, name
        pool = sim.pools[name]
        cached = sum(pool.cache.resident.values()) if pool.cache is not None else 0
        assert pool.used == cached, f"{name}: {pool.used - cached} bytes of activations leaked"


def check_energy(t, trace, s) -> None:
    parts = (t.ops["energy_pj"].sum() + t.transfers["energy_pj"].sum()
             + t.reconfigs["reconfig_pj"].sum() + sum(trace.idle_static_pj.values()))
    total = s["energy_mj"]["total"] * 1e9
    assert total == pytest.approx(parts, rel=1e-12, abs=1e-9)
    assert total == pytest.approx(t.energy["energy_pj"].sum(), rel=1e-12, abs=1e-9)
    e = s["energy_mj"]
    cats = ("compute", "sram", "dram", "dma", "reconfig", "static", "idle")
    assert e["total"] == pytest.approx(sum(e[k] for k in cats), rel=1e-12, abs=1e-18)
    for col in ("compute_pj", "sram_pj", "dram_pj", "static_pj"):
        assert (t.ops[col] >= 0).all(), col
    for name, pj in trace.idle_static_pj.items():
        assert pj >= -1e-9 * max(1.0, total), f"{name}: negative idle static energy {pj}"


def check_reconfigs(scenario, t) -> None:
    """One configuration port per fabric: reconfigurations of a unit never overlap, each
    takes the fabric's formula, and the op it was for starts after it."""
    starts = t.ops.set_index(["workload", "inference", "op"])["start_ns"].to_dict()
    for uname, group in t.reconfigs.groupby("unit"):
        fabric = scenario.device.units[uname].fabric
        assert _peak_overlap(zip(group["start_ns"], group["end_ns"])) <= 1, uname
        for r in group.itertuples():
            expect = (fabric.reconfig_setup_ns
                      + r.bitstream_bytes * 1000 / fabric.reconfig_bw_mb_per_s)
            assert r.end_ns - r.start_ns == math.ceil(expect), r
            assert starts[(r.workload, r.inference, r.op)] >= r.end_ns, r


def check_inferences(scenario, jobs, t) -> None:
    for job in jobs:
        w = job.workload
        done = t.inferences[t.inferences["workload"] == w.name].sort_values("inference")
        n = len(done)
        if w.inferences is not None:
            assert n == w.inferences
        else:
            assert n >= 1
            if w.arrival == "periodic":  # the engine's own accumulation: t += period
                k, at = 0, 0.0
                while at < w.duration_s * 1e9:
                    k, at = k + 1, at + 1e9 / w.rate_hz
                assert n == k
        assert list(done["inference"]) == list(range(n))
        ops = t.ops[(t.ops["workload"] == w.name) & (t.ops["op_type"] != "LayoutConvert")]
        names = sorted(op.name for op in job.graph.ops)
        spans = []
        for r in done.itertuples():
            mine = ops[ops["inference"] == r.inference]
            assert sorted(mine["op"]) == names, f"{w.name}#{r.inference} ran {len(mine)} ops"
            assert (mine["start_ns"] >= r.arrival_ns).all()
            assert (mine["end_ns"] <= r.end_ns).all()
            longest = (mine["end_ns"] - mine["start_ns"]).max()
            assert r.latency_ns >= longest
            first = r.arrival_ns if w.inferences is not None else mine["start_ns"].min()
            spans.append((first, r.end_ns))
        assert _peak_overlap(spans) <= w.max_in_flight, w.name


@SETTINGS
@given(scenarios())
def test_invariants_hold_on_random_socs_graphs_and_policies(case):
    doc, models = case
    scenario, jobs, sim, trace = _outcome(doc, models)
    if isinstance(trace, SimulationError):
        event("stopped cleanly: " + ("deadlock" if "deadlock" in str(trace) else "too large"))
        return
    event("completed")
    soc = scenario.device
    kinds = {**{n: u.kind for n, u in soc.units.items()}, **{n: "dma" for n in soc.dma},
             **{n: m.kind for n, m in soc.memories.items()}}
    t = tables(trace, kinds)
    s = summary(t, trace, scenario="prop", soc=soc.name, policy={}, seed=scenario.run.seed)
    check_engines_and_channels(scenario, t)
    check_inputs_exist_where_read(scenario, jobs, t)
    check_memory(scenario, sim, trace)
    check_energy(t, trace, s)
    check_inferences(scenario, jobs, t)
    check_reconfigs(scenario, t)


@settings(SETTINGS, max_examples=max(15, EXAMPLES // 3))
@given(scenarios())
def test_same_inputs_and_seed_give_identical_results(case):
    doc, models = case
    first = _outcome(doc, models)[3]
    second = _outcome(doc, models)[3]
    if isinstance(first, SimulationError):
        assert isinstance(second, SimulationError) and str(first) == str(second)
        return
    assert first == second


# -- regressions found by the properties ----------------------------------------------------


def _relu_scenario(tmp_path: Path, *, thermal: bool, sram_kib: float, inferences: int,
                   max_in_flight: int):
    """x[1, 256] f32 (1 KiB) -> Relu -> Relu on one CPU whose only memory is an SRAM of
    ``sram_kib``."""
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["h"], name="relu0"),
         helper.make_node("Relu", ["h"], ["y"], name="relu1")], "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])]),
        opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    cpu = {"kind": "cpu", "vector_bits_per_cycle": 64, "efficiency": {"default": 1.0},
           "dvfs": {"points": [{"freq_mhz": 100.0, "voltage_v": 1.0}], "nominal_mhz": 100.0},
           "power": {"energy_pj_per_mac": {"float32": 1.0}, "energy_pj_per_op": {"float32": 1.0},
                     "leakage_mw": 1.0},
           "memories": ["m0"], "weights_in": "m0", "ops": ["Relu"], "dtypes": ["float32"]}
    if thermal:
        cpu["thermal"] = {"r_k_per_w": 10.0, "c_j_per_k": 0.01}
    doc = {"name": "regression",
           "soc": {"name": "one_cpu", "units": {"cpu": cpu},
                   "memories": {"m0": {"kind": "sram", "size_kib": sram_kib,
                                       "page_kib": min(1.0, sram_kib),
                                       "bw_gbps": 1.0, "read_pj_per_byte": 1.0,
                                       "write_pj_per_byte": 1.0}}},
           "workloads": [{"name": "w0", "model": "w0.onnx", "inferences": inferences,
                          "max_in_flight": max_in_flight}],
           "policy": {"name": "single", "params": {"unit": "cpu"}}}
    prepared = _prepare(doc, {"w0.onnx": model}, tmp_path)
    assert prepared is not None
    return prepared[2]


def test_deadlock_without_a_monitor_is_reported(tmp_path):
    # the first two inferences place their inputs (x0, x1 fill the 2 KiB SRAM); each relu0
    # waits for room for its output that the other's input holds: a deadlock, reported at once
    # (the third inference waits for memory, the fourth for a slot)
    sim = _relu_scenario(tmp_path, thermal=False, sram_kib=2, inferences=4, max_in_flight=3)
    with _cpu_limit(HANG_CPU_S), pytest.raises(SimulationError, match="deadlock"):
        sim.run()


def test_deadlock_with_a_monitor_and_a_waiting_closed_loop_stops(tmp_path):
    sim = _relu_scenario(tmp_path, thermal=True, sram_kib=2, inferences=4, max_in_flight=3)
    with _cpu_limit(2.0), pytest.raises(SimulationError, match="deadlock"):
        sim.run()


def test_input_larger_than_its_memory_error_has_a_hint(tmp_path):
    sim = _relu_scenario(tmp_path, thermal=False, sram_kib=0.5, inferences=1, max_in_flight=1)
    with pytest.raises(SimulationError, match="larger than") as info:
        sim.run()
    assert info.value.hint
