"""The hardware-fidelity effects, each on a bundled scenario (scenarios/effect_*.yaml,
docs/effects.md): weight paging under a small SRAM, DMA contention between two streams,
zero-copy on vs off, a DVFS governor at work, and thermal throttling at a hot ambient.

Each test runs the scenario and the baseline it is compared with (the same file with a
``--set`` override), and checks that the effect shows where docs/effects.md says to look
(summary fields, transfer records, trace.json counter tracks), against figures computed here
from the device file, the model and the plan rather than read back from the simulator.
"""

from __future__ import annotations

from functools import cache
from math import ceil

import pytest
import simpy

from socsim import run_scenario
from socsim.report.chrome import chrome_trace
from socsim.run import RunResult
from socsim.sim.bandwidth import BandwidthFabric, Link
from tests.conftest import REPO

SCENARIOS = REPO / "scenarios"


@cache
def _run(name: str, *overrides: str) -> RunResult:
    """Run ``scenarios/effect_<name>.yaml`` with ``overrides`` (cached: each run once)."""
    return run_scenario(SCENARIOS / f"effect_{name}.yaml", list(overrides))


def _counter(result: RunResult, unit: str, counter: str) -> list[tuple[int, float]]:
    """(time ns, value) samples of a counter track of ``unit`` in the report's trace.json."""
    events = chrome_trace(result.tables, result.trace)["traceEvents"]
    pid = next(e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"
               and e["args"]["name"] == unit)
    return [(round(e["ts"] * 1e3), e["args"][counter]) for e in events
            if e["ph"] == "C" and e["pid"] == pid and e["name"] == counter]


def _page_ins(result: RunResult):
    t = result.tables.transfers
    return t[t["kind"] == "page_in"]


# -- paging under a small SRAM -----------------------------------------------------------------

PAGING_DEFAULT_SRAM = "soc.memories.sram1.size_kib=2560"  # the device file's SRAM1


def _npu_weight_pages(result: RunResult) -> tuple[int, int]:
    """(layers with weights on the NPU, their 1 KiB pages): one cold fill of the cache."""
    job = result.jobs[0]
    sizes = [job.graph.bytes_of(op.weights) for op, unit in zip(job.graph.ops, job.plan.units)
             if unit == "npu" and job.graph.bytes_of(op.weights)]
    return len(sizes), sum(ceil(s / 1024) for s in sizes)


def test_paging_small_sram_faults_every_inference_default_sram_only_once():
    small, default = _run("paging"), _run("paging", PAGING_DEFAULT_SRAM)
    layers, pages = _npu_weight_pages(small)
    n = small.summary["inferences"]
    assert n == 4 and layers == 10
    # the device's SRAM1 keeps ResNet-8's weights: one cold fill, no eviction
    assert default.summary["paging"]["page_ins"] == layers
    assert default.summary["paging"]["page_faults"] == pages
    assert default.summary["paging"]["evictions"] == 0
    # 64 KiB < 77 KiB of weights: LRU over a cyclic access order misses every layer every time
    assert small.summary["paging"]["page_ins"] == n * layers
    assert small.summary["paging"]["page_faults"] == n * pages
    assert small.summary["paging"]["evictions"] > 0
    # what was paged in and not evicted is what is resident: at most the SRAM, at least the
    # largest layer (37,120 B: 37 pages)
    resident = small.summary["paging"]["page_faults"] * 1024 - \
        small.summary["paging"]["evicted_bytes"]
    assert 37 * 1024 <= resident <= 64 * 1024


def test_paging_makes_warm_inferences_slower_and_shows_in_the_trace():
    small, default = _run("paging"), _run("paging", PAGING_DEFAULT_SRAM)
    lat = {k: r.tables.inferences.set_index("inference")["latency_ns"]
           for k, r in (("small", small), ("default", default))}
    # inference 0 is cold in both (same page-ins); every warm one pays the page-ins again
    assert lat["small"][0] == lat["default"][0]
    for i in (1, 2, 3):
        assert lat["small"][i] > 1.3 * lat["default"][i]
    assert small.summary["latency_ms"]["mean"] > default.summary["latency_ms"]["mean"]
    events = chrome_trace(small.tables, small.trace)["traceEvents"]
    assert sum(e.get("cat") == "eviction" for e in events) == small.summary["paging"]["evictions"]
    assert sum(e.get("cat") == "page_in" for e in events) == small.summary["paging"]["page_ins"]


def test_double_buffering_hides_page_ins_behind_compute():
    small = _run("paging")
    buffered = _run("paging", "soc.units.npu.weights_prefetch=1")
    assert buffered.summary["paging"]["page_ins"] == small.summary["paging"]["page_ins"]
    assert buffered.summary["latency_ms"]["max"] < 0.9 * small.summary["latency_ms"]["max"]


# -- DMA contention between two streams ----------------------------------------------------------

ONE_STREAM = ("workloads=[{name: cam_a, model: ../workloads/mobilenetv2_int8.onnx, "
              "inferences: 2}]")
MRAM_GBPS, DMA_SETUP_NS = 0.8, 500  # devices/mcu_m55_u55.yaml: mram.bw_gbps, dma_hp.setup_ns


def test_one_stream_pages_in_at_the_mram_bandwidth():
    one = _page_ins(_run("dma_contention", ONE_STREAM))
    assert len(one) > 100
    expected = DMA_SETUP_NS + (one["bytes"] / MRAM_GBPS).apply(ceil)
    assert ((one["end_ns"] - one["start_ns"]) == expected).all()


def test_two_streams_share_the_mram_and_each_page_in_takes_longer():
    one = _page_ins(_run("dma_contention", ONE_STREAM))
    two = _page_ins(_run("dma_contention"))
    a, b = (two[two["workload"] == w] for w in ("cam_a", "cam_b"))
    assert len(a) == len(b) == len(one)  # the same page-ins, per stream
    # both channels stream at once for a large part of the run
    both = _overlap_ns(a, b)
    assert both > 0.3 * (a["end_ns"] - a["start_ns"]).sum()
    # the same transfer, alone vs beside the other stream: never faster, often ~2x slower
    key = ["inference", "tensor"]
    pair = a.merge(one, on=key, suffixes=("", "_alone"))
    ratio = (pair["end_ns"] - pair["start_ns"]) / (pair["end_ns_alone"] - pair["start_ns_alone"])
    assert (ratio >= 1).all()
    assert ratio.max() > 1.9
    total_two = (a["end_ns"] - a["start_ns"]).sum()
    total_one = (one["end_ns"] - one["start_ns"]).sum()
    assert total_two > 1.3 * total_one
    # max-min fair and work-conserving: while any page-in streams, the MRAM is full, so the
    # union of busy time is the bytes at 0.8 GB/s plus at most every set-up
    busy = _union_ns(two)
    assert two["bytes"].sum() / MRAM_GBPS <= busy
    assert busy <= two["bytes"].sum() / MRAM_GBPS + len(two) * (DMA_SETUP_NS + 1)


def _intervals(frame) -> list[tuple[int, int]]:
    return sorted(zip(frame["start_ns"], frame["end_ns"]))


def _union_ns(frame) -> int:
    total, end = 0, -1
    for s, e in _intervals(frame):
        if e > end:
            total += e - max(s, end)
            end = e
    return total


def _overlap_ns(x, y) -> int:
    return sum(max(0, min(e1, e2) - max(s1, s2))
               for s1, e1 in _intervals(x) for s2, e2 in _intervals(y))


# -- zero-copy on vs off -------------------------------------------------------------------------

DDR_PJ_PER_BYTE, SDMA_PJ_PER_BYTE = 87.4, 0.35  # devices/imx8mp.yaml: ddr read/write, sdma


def _hand_offs(result: RunResult) -> tuple[int, int, int]:
    """From the plan: (reads of another unit's output, distinct (tensor, consumer unit) pairs,
    their bytes) per inference."""
    job = result.jobs[0]
    g = job.graph
    unit_of = {t: u for op, u in zip(g.ops, job.plan.units) for t in op.outputs}
    reads = 0
    pairs = set()
    for op, unit in zip(g.ops, job.plan.units):
        for t in dict.fromkeys(op.inputs):
            if t in unit_of and unit_of[t] != unit:
                reads += 1
                pairs.add((t, unit))
    return reads, len(pairs), sum(g.bytes_of([t]) for t, _ in pairs)


def test_zero_copy_on_reads_in_place_off_copies_every_hand_off():
    on, off = _run("zero_copy"), _run("zero_copy", "run.zero_copy=false")
    n = on.summary["inferences"]
    reads, pairs, nbytes = _hand_offs(on)
    assert pairs > 30  # greedy_eft alternates between the A53s and the NPU
    assert on.summary["zero_copy_count"] == n * reads
    assert on.summary["dma_bytes"] == 0 and on.summary["dma"] == {}
    assert off.summary["zero_copy_count"] == 0
    assert off.summary["dma"]["sdma"]["transfers"] == n * pairs
    assert off.summary["dma_bytes"] == n * nbytes
    copies = off.tables.transfers
    assert set(copies["kind"]) == {"dma"} and set(copies["src"]) == set(copies["dst"]) == {"ddr"}


def test_zero_copy_off_costs_time_and_exactly_the_copies_energy():
    on, off = _run("zero_copy"), _run("zero_copy", "run.zero_copy=false")
    assert off.summary["latency_ms"]["mean"] > 3 * on.summary["latency_ms"]["mean"]
    moved = off.summary["dma_bytes"]
    e_on, e_off = on.summary["energy_mj"], off.summary["energy_mj"]
    # each copy reads and writes DDR once and passes the SDMA once; ops are charged the same
    assert e_off["dram"] - e_on["dram"] == pytest.approx(moved * 2 * DDR_PJ_PER_BYTE * 1e-9)
    assert e_off["dma"] == pytest.approx(moved * SDMA_PJ_PER_BYTE * 1e-9)
    assert e_off["compute"] == pytest.approx(e_on["compute"])


# -- a governor changing the frequency -----------------------------------------------------------

A53_POINTS = {1200.0, 1600.0, 1800.0}  # devices/imx8mp.yaml (imx8mp.dtsi a53_opp_table)
SAMPLE_NS, TRANSITION_NS = 10_000_000, 150_000  # the scenario's sample_ms; clock-latency-ns


def test_ondemand_moves_the_frequency_and_the_trace_shows_it():
    gov = _run("governor")
    track = _counter(gov, "cpu", "freq_mhz")
    values = [v for _, v in track]
    assert set(values) == A53_POINTS  # up to 1.8 GHz on a frame, down to 1.2 GHz between
    cpu = gov.summary["units"]["cpu"]
    assert cpu["freq_changes"] == len(track) - 1 >= 4
    assert cpu["freq_mhz_min"] == 1200.0
    # every change lands one transition latency after a sampling instant
    for ts, _ in track[1:]:
        assert ts % SAMPLE_NS == TRANSITION_NS
    # ops run at 1.8 GHz once ondemand has seen a busy sample, at 1.2 GHz before that
    assert set(gov.tables.ops["freq_mhz"]) == {1200.0, 1800.0}


def test_ondemand_sits_between_performance_and_powersave():
    runs = {g: _run("governor", f"run.governors.cpu.name={g}")
            for g in ("performance", "ondemand", "powersave")}
    lat = {g: r.summary["latency_ms"]["mean"] for g, r in runs.items()}
    compute = {g: r.summary["energy_mj"]["compute"] for g, r in runs.items()}
    assert runs["performance"].summary["units"]["cpu"]["freq_changes"] == 0
    assert lat["performance"] < lat["ondemand"] < lat["powersave"]
    # lower points run at a lower voltage: (V / V_nom)^2 less energy per MAC
    assert compute["powersave"] < compute["ondemand"] < compute["performance"]


# -- throttling under a hot ambient --------------------------------------------------------------

TRIP_C, HYSTERESIS_C = 85.0, 2.0  # imx8mp.dtsi cpu-thermal trip0
THERMAL_SAMPLE_NS = 250_000_000  # polling-delay-passive


def test_hot_ambient_reaches_the_trip_and_throttles_cool_ambient_does_not():
    hot, cool = _run("throttling"), _run("throttling", "run.ambient_c=25")
    h, c = hot.summary["units"]["cpu"], cool.summary["units"]["cpu"]
    assert h["temp_c_max"] > TRIP_C and h["freq_changes"] >= 2 and h["freq_mhz_min"] < 1800
    assert c["temp_c_max"] < TRIP_C - 20 and c["freq_changes"] == 0
    assert c["freq_mhz_min"] == 1800
    assert hot.summary["latency_ms"]["max"] > 1.3 * cool.summary["latency_ms"]["max"]
    # the governor acts one transition latency after the sample that saw the trip crossed,
    # steps down while above the trip and back up only once the hysteresis below it
    temp, freq = dict(_counter(hot, "cpu", "temp_c")), _counter(hot, "cpu", "freq_mhz")
    first_hot = min(ts for ts, v in temp.items() if v > TRIP_C)
    assert freq[1] == (first_hot + TRANSITION_NS, 1600.0)
    for (_, before), (ts, after) in zip(freq, freq[1:]):
        seen = temp[ts - TRANSITION_NS]
        assert seen > TRIP_C if after < before else seen < TRIP_C - HYSTERESIS_C


def test_rc_model_is_linear_in_ambient_until_the_first_throttle():
    """Same power, so the same rise over ambient, until the hot run first changes frequency."""
    hot, cool = _run("throttling"), _run("throttling", "run.ambient_c=25")
    first_change = _counter(hot, "cpu", "freq_mhz")[1][0]
    temp_hot = dict(_counter(hot, "cpu", "temp_c"))
    temp_cool = dict(_counter(cool, "cpu", "temp_c"))
    before = [ts for ts in temp_hot if ts <= first_change]
    assert len(before) >= 6
    for ts in before:
        assert temp_hot[ts] - 70 == pytest.approx(temp_cool[ts] - 25, abs=1e-9)
    assert all(ts % THERMAL_SAMPLE_NS == 0 for ts in temp_hot)  # every polling period


# -- a gap found while building these scenarios (fixed) -------------------------------------------


def test_dram_to_same_dram_copy_is_charged_consistently_alone_and_shared():
    env = simpy.Environment()
    fabric, ddr = BandwidthFabric(env), Link("ddr", 10.0)
    first = fabric.start(1000, (ddr, ddr), 8.0)
    alone = first.rate
    fabric.start(1000, (ddr, ddr), 8.0)
    shared = first.rate
    # a DRAM-to-same-DRAM copy crosses the DRAM twice (read and write): 5 GB/s alone on a
    # 10 GB/s DRAM, 2.5 each beside another
    assert (alone, shared) == (pytest.approx(5.0), pytest.approx(2.5))
