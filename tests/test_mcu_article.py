"""The seed article's MobileNetV2 row on the Cortex-M55 + DSP MCU (docs/mcu_article.md).

socsim's figures are checked against a derivation made without socsim: the device parameters
are read from devices/mcu_m55_dsp.yaml as plain YAML, the model's shapes come from ONNX shape
inference, and each op's time and energy follow the formulas of docs/model.md ("Compute
cycles", "Time", "Energy"), written out below on named device parameters. The article's own
figures (210 ms, 180 mW, 68 ms, 120 mW, 3.1x, 33 %) are checked for what they are (a power
reduction, a speed-up that includes the FP32 -> int8 step). The device file's figures are
checked against their cited sources.

Hand model of one inference, one op at a time (a chain; every hand-off zero-copy through
SRAM0, which both cores address and where the inputs arrive):

- ops: the 65 compute nodes of the QDQ graph (their DequantizeLinear / QuantizeLinear absorbed),
  plus the input QuantizeLinear and the output DequantizeLinear;
- work: Conv ``out x C_in/group x kh x kw`` MACs (depthwise when group = C_in > 1), Gemm
  ``M x N x K``, Add one op per output element, GlobalAveragePool one per input element,
  QuantizeLinear 3 and DequantizeLinear 2 per element (docs/model.md, "Graph"), Flatten none;
- cycles: CPU ``(MACs + ops) / (vector_bits_per_cycle / 8 x efficiency[family])``, DSP ``MACs /
  (macs_per_cycle.int8 x eff) + ops / (ops_per_cycle.int8 x eff)``, each + launch_overhead_cycles;
- time: ``ceil(max(cycles x 1000 / nominal_mhz, (activation bytes in + out) / sram0.bw_gbps
  + weight bytes / mram.bw_gbps))`` ns, int8 activations (1 B), float32 at the two ends;
- energy: MACs x energy_pj_per_mac.int8 + ops x energy_pj_per_op.int8 (V = V_nom), bytes read
  and written x SRAM0's pJ/B, weight bytes x MRAM's read pJ/B, and both units' leakage_mw over
  the whole run (the idle DSP leaks in the CPU-only run too).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from math import prod

import onnx
import pytest
import yaml
from onnx import numpy_helper, shape_inference

from socsim import run_scenario
from socsim.config import load_soc
from socsim.graph.loading import load_graph
from socsim.zoo import ensure
from tests.conftest import REPO

CPU_ONLY = REPO / "scenarios" / "mcu_article_cpu_only.yaml"
HYBRID = REPO / "scenarios" / "mcu_article_hybrid.yaml"
DEVICE = REPO / "devices" / "mcu_m55_dsp.yaml"
MODEL = REPO / "workloads" / "mobilenetv2_int8.onnx"

#: The ops the article's split sends to the DSP: input quantize, stem, block0, block1.
DSP_PREFIXES = ("input_QuantizeLinear", "stem_", "block0_", "block1_")

#: The seed article's table row (shared/seeds/002, "Performance Benchmarks").
ARTICLE_MS = (210, 68)
ARTICLE_MW = (180, 120)
ARTICLE_SPEEDUP, ARTICLE_REDUCTION = 3.1, 0.33

#: docs/model.md, "Graph": operations per element of the unfused quantize ops.
OPS_PER_ELEMENT = {"QuantizeLinear": 3, "DequantizeLinear": 2, "Add": 1}


@dataclass(frozen=True)
class HandOp:
    """One op of the hand model: its cost family, work and bytes (int8 activations)."""

    name: str
    family: str
    macs: int
    elem_ops: int
    bytes_in: int
    weight_bytes: int
    bytes_out: int


@cache
def _device() -> dict:
    return yaml.safe_load(DEVICE.read_text())


@cache
def _hand_ops() -> tuple[HandOp, ...]:
    """The 66 ops of MobileNetV2 int8 (its Flatten is a view), read from the ONNX file without
    socsim."""
    ensure(MODEL)
    g = shape_inference.infer_shapes(onnx.load(str(MODEL))).graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    shape = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
             for v in (*g.input, *g.value_info, *g.output)}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    graph_in, graph_out = {i.name for i in g.input}, {o.name for o in g.output}
    ops = []
    for n in g.node:
        kind = n.op_type
        if kind == "QuantizeLinear" and n.input[0] in graph_in:  # float32 in, int8 out
            el = prod(shape[n.input[0]])
            ops.append(HandOp(n.name, "quantize", 0, OPS_PER_ELEMENT[kind] * el, 4 * el, 0, el))
        elif kind == "DequantizeLinear" and n.output[0] in graph_out:  # int8 in, float32 out
            el = prod(shape[n.output[0]])
            ops.append(HandOp(n.name, "quantize", 0, OPS_PER_ELEMENT[kind] * el, el, 0, 4 * el))
        elif kind not in ("QuantizeLinear", "DequantizeLinear"):
            # each input is a DequantizeLinear of a constant (weights, bias) or an activation
            sources = [producer[i].input[0] for i in n.input if i]
            acts = [s for s in sources if s not in inits]
            weights = sum(inits[s].nbytes for s in sources if s in inits)
            (q,) = consumers[n.output[0]]  # the QuantizeLinear of its output
            out = prod(shape[q.output[0]])
            act_in = sum(prod(shape[a]) for a in acts)
            if kind == "Conv":
                group = next((a.i for a in n.attribute if a.name == "group"), 1)
                c_in, kernel = shape[acts[0]][1], inits[sources[1]].shape
                macs = out * c_in // group * kernel[2] * kernel[3]
                family = "depthwise" if group == c_in > 1 else "conv"
                ops.append(HandOp(n.name, family, macs, 0, act_in, weights, out))
            elif kind == "Gemm":
                (m, k), n_out = shape[acts[0]], shape[n.output[0]][1]
                ops.append(HandOp(n.name, "gemm", m * n_out * k, 0, act_in, weights, out))
            elif kind == "Add":
                ops.append(HandOp(n.name, "elementwise", 0, OPS_PER_ELEMENT[kind] * out, act_in,
                                  weights, out))
            elif kind == "GlobalAveragePool":
                ops.append(HandOp(n.name, "pool", 0, act_in, act_in, weights, out))
            else:
                # a view relabels its input: not simulated at all (socsim.graph.patterns)
                assert kind == "Flatten", kind
    return tuple(ops)


def _op_ns_pj(op: HandOp, unit_name: str) -> tuple[int, float]:
    """One op on ``cpu`` or ``dsp`` at its nominal point: (ns, dynamic + memory pJ)."""
    dev = _device()
    unit, sram0, mram = dev["units"][unit_name], dev["memories"]["sram0"], dev["memories"]["mram"]
    eff = unit["efficiency"].get(op.family, unit["efficiency"]["default"])
    if unit["kind"] == "cpu":
        lanes = max(1, unit["vector_bits_per_cycle"] // 8)  # int8 lanes
        cycles = (op.macs + op.elem_ops) / (lanes * eff)
    else:
        cycles = (op.macs / (unit["macs_per_cycle"]["int8"] * eff)
                  + op.elem_ops / (unit["ops_per_cycle"]["int8"] * eff))
    compute_ns = (cycles + unit["launch_overhead_cycles"]) * 1000 / unit["dvfs"]["nominal_mhz"]
    memory_ns = ((op.bytes_in + op.bytes_out) / sram0["bw_gbps"]
                 + op.weight_bytes / mram["bw_gbps"])
    pj = (op.macs * unit["power"]["energy_pj_per_mac"]["int8"]
          + op.elem_ops * unit["power"]["energy_pj_per_op"]["int8"]
          + op.bytes_in * sram0["read_pj_per_byte"] + op.bytes_out * sram0["write_pj_per_byte"]
          + op.weight_bytes * mram["read_pj_per_byte"])
    return math.ceil(max(compute_ns, memory_ns)), pj


def _hand(place: Callable[[str], str]) -> tuple[int, float]:
    """(latency ns, energy pJ) of one inference with op ``name`` on unit ``place(name)``."""
    ns = pj = 0
    for op in _hand_ops():
        t, e = _op_ns_pj(op, place(op.name))
        ns, pj = ns + t, pj + e
    leakage_mw = sum(u["power"]["leakage_mw"] for u in _device()["units"].values())
    return ns, pj + leakage_mw * ns  # mW x ns = pJ


def _assert_hand(ns: int, pj: float, hand: tuple[int, float]) -> None:
    """Simulated (ns, pJ) equal the hand figures up to float rounding: at most 1 ns per op in
    the ceilings, and the leakage of those nanoseconds."""
    slack_ns = len(_hand_ops())
    leakage_mw = sum(u["power"]["leakage_mw"] for u in _device()["units"].values())
    assert abs(ns - hand[0]) <= slack_ns, (ns, hand[0])
    assert abs(pj - hand[1]) <= leakage_mw * slack_ns + 1e-9 * hand[1], (pj, hand[1])


def _article_split(name: str) -> str:
    return "dsp" if name.startswith(DSP_PREFIXES) else "cpu"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``run(scenario, *overrides)`` -> (latency ns, energy pJ, ops table) of one timing-only
    inference; each distinct run is simulated once per module."""
    ensure(MODEL)
    out = tmp_path_factory.mktemp("mcu_article")

    @cache
    def _run(path, *sets: str):
        folder = out / f"{path.stem}{len(list(out.iterdir()))}"
        result = run_scenario(path, ["workloads.0.inferences=1", f"run.out={folder}", *sets])
        return (result.trace.makespan_ns, result.summary["energy_mj"]["total"] * 1e9,
                result.tables.ops)

    return _run


def test_the_hand_model_has_the_ops_socsim_runs():
    assert [op.name for op in _hand_ops()] == [op.name for op in load_graph(MODEL).ops]
    # docs/mcu_article.md: 300.8 M MACs; stem + block0 + block1 hold 50.1 M (16.6 %)
    macs = sum(op.macs for op in _hand_ops())
    moved = sum(op.macs for op in _hand_ops() if _article_split(op.name) == "dsp")
    assert round(macs / 1e6, 1) == 300.8 and round(moved / 1e6, 1) == 50.1


@pytest.mark.parametrize(("scenario", "place"), [(CPU_ONLY, lambda name: "cpu"),
                                                 (HYBRID, _article_split)])
def test_latency_and_energy_equal_the_hand_derivation(run, scenario, place):
    ns, pj, ops = run(scenario)
    _assert_hand(ns, pj, _hand(place))
    # each op's recorded bytes are the hand model's (Flatten, a view, moves none)
    assert {r.op: (r.bytes_in, r.weight_bytes, r.bytes_out) for r in ops.itertuples()} == {
        op.name: (op.bytes_in, op.weight_bytes, op.bytes_out) for op in _hand_ops()}


def test_the_documented_speedup_and_saving_are_the_hand_figures(run):
    (cpu_ns, cpu_pj), (hyb_ns, hyb_pj) = _hand(lambda name: "cpu"), _hand(_article_split)
    speedup, saving = cpu_ns / hyb_ns, 1 - hyb_pj / cpu_pj
    # docs/mcu_article.md: 277.5 -> 252.3 ms, 5.329 -> 5.010 mJ, 1.10x, 6.0 %
    assert (round(cpu_ns / 1e6, 1), round(hyb_ns / 1e6, 1)) == (277.5, 252.3)
    assert (round(cpu_pj / 1e9, 3), round(hyb_pj / 1e9, 3)) == (5.329, 5.010)
    assert (round(speedup, 2), round(100 * saving, 1)) == (1.10, 6.0)
    sim_cpu, sim_hyb = run(CPU_ONLY), run(HYBRID)
    assert sim_cpu[0] / sim_hyb[0] == pytest.approx(speedup, rel=1e-6)
    assert 1 - sim_hyb[1] / sim_cpu[1] == pytest.approx(saving, rel=1e-6)


def test_the_article_figures_and_why_the_split_cannot_reach_them():
    (ms0, ms1), (mw0, mw1) = ARTICLE_MS, ARTICLE_MW
    assert round(ms0 / ms1, 1) == ARTICLE_SPEEDUP
    assert round(1 - mw1 / mw0, 2) == ARTICLE_REDUCTION  # a power reduction...
    assert round(1 - ms1 * mw1 / (ms0 * mw0), 2) == 0.78  # ...the energy falls by 78 %
    # Amdahl: the CPU time of the moved ops bounds the split's speed-up, even with an
    # infinitely fast DSP (docs/mcu_article.md: 277.5 / 230.0 = 1.21x)
    cpu_ns = sum(_op_ns_pj(op, "cpu")[0] for op in _hand_ops())
    moved_ns = sum(_op_ns_pj(op, "cpu")[0] for op in _hand_ops()
                   if _article_split(op.name) == "dsp")
    ceiling = cpu_ns / (cpu_ns - moved_ns)
    assert round(ceiling, 2) == 1.21 and ceiling < ARTICLE_SPEEDUP / 2


def test_the_split_puts_exactly_the_first_two_blocks_on_the_dsp(run):
    _, _, ops = run(HYBRID)
    on_dsp = set(ops.loc[ops.unit == "dsp", "op"])
    expected = {op.name for op in _hand_ops() if _article_split(op.name) == "dsp"}
    assert on_dsp == expected and len(expected) == 7
    assert set(run(CPU_ONLY)[2].unit) == {"cpu"}


def test_greedy_offload_equals_the_hand_derivation_of_its_placement(run):
    """greedy_eft chooses the placement; its time and energy are then hand-derived."""
    cpu_ns, cpu_pj = _hand(lambda name: "cpu")
    ns, pj, ops = run(HYBRID, "policy.name=greedy_eft", "policy.params={}")
    placed = dict(zip(ops["op"], ops["unit"]))
    # docs/mcu_article.md: "all but the classifier on the DSP"
    assert set(ops.loc[ops.unit == "cpu", "op"]) == {"classifier"}
    hand_ns, hand_pj = _hand(placed.__getitem__)
    _assert_hand(ns, pj, (hand_ns, hand_pj))
    # docs/mcu_article.md: 130.7 ms, 3.449 mJ, 2.12x, 35.3 % (130.8 ms before the Flatten,
    # a view, stopped being simulated: it cost a launch and a hop between units)
    assert (round(hand_ns / 1e6, 1), round(hand_pj / 1e9, 3)) == (130.7, 3.449)
    assert (round(cpu_ns / hand_ns, 2), round(100 * (1 - hand_pj / cpu_pj), 1)) == (2.12, 35.3)


def test_device_figures_match_their_sources_and_the_energy_derivation():
    soc = load_soc(DEVICE)
    dsp, cpu = soc.units["dsp"], soc.units["cpu"]
    assert dsp.dvfs.nominal_mhz == 600                     # NXP AN12844
    assert dsp.macs_per_cycle["int8"] == 8                 # RT600 data sheet: 8 x 32x16
    assert dsp.macs_per_cycle["int32"] == 4                # 4 x 32x32
    assert soc.memories["dsp_tcm"].size_kib == 128         # NXP AN12749
    assert soc.memories["dsp_tcm"].bw_gbps == pytest.approx(2 * 8 * 600 / 1000)
    assert cpu.vector_bits_per_cycle == 64 and cpu.dvfs.nominal_mhz == 400
    s = 22 / 45 * (0.8 / 0.9) ** 2
    mac = {"int8": 0.3, "int16": 0.9, "int32": 3.3, "float32": 4.6}
    add = {"int8": 0.03, "int16": 0.05, "int32": 0.1, "float32": 0.9}
    for dtype in dsp.dtypes:
        per_mac = s * (90 / (dsp.macs_per_cycle[dtype] * dsp.efficiency["conv"]) + mac[dtype])
        per_op = s * (90 / (dsp.ops_per_cycle[dtype] * dsp.efficiency["elementwise"])
                      + add[dtype])
        assert dsp.power.energy_pj_per_mac[dtype] == pytest.approx(per_mac, rel=0.01)
        assert dsp.power.energy_pj_per_op[dtype] == pytest.approx(per_op, rel=0.01)
    # the M55 half is mcu_m55_u55's, figure for figure
    ref = load_soc(REPO / "devices" / "mcu_m55_u55.yaml").units["cpu"]
    assert cpu.power == ref.power and cpu.efficiency == ref.efficiency
