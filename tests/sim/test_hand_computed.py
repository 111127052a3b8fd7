"""A two-op graph whose latency and energy are computed by hand from tests/fixtures/float_soc.yaml.

x[1,256] f32 -> MatMul(W[256,64]) -> y[1,64] -> Relu -> z[1,64].

MatMul on cpu: 16384 MACs at 2 lanes x 0.5 efficiency = 16384 cycles at 100 MHz = 163840 ns;
memory: x 1024 B from dram at 0.5 GB/s (2048 ns) + y 256 B to sram at 1 GB/s (256 ns) +
W 65536 B from dram (131072 ns) = 133376 ns < compute, so the op takes 163840 ns.
Energy: compute 16384 x 4 pJ; memory 1024 x 20 + 256 x 1 + 65536 x 20; static 1 mW x 163840 ns.
"""

from __future__ import annotations

import math

import pytest

from socsim.report.chrome import chrome_trace
from socsim.run import run_scenario
from tests.conftest import FIXTURES, write_scenario

MM_NS = 163840
MM_PJ = 16384 * 4.0 + (1024 * 20 + 256 * 1.0 + 65536 * 20) + 1.0 * MM_NS


CPU_ONLY = "{name: single, params: {unit: cpu}}"


def _scenario(tmp_path, model, policy: str = CPU_ONLY, soc: str = "float_soc.yaml",
              run: str = "", *, soc_set: tuple[str, ...] = (), workload: str = "inferences: 1"):
    """Run one workload of ``model`` on ``soc`` (a fixture name or a path) with ``soc_set``."""
    text = f"""
name: hand
soc: {FIXTURES / soc}
soc_set: {list(soc_set)}
workloads:
  - {{name: w, model: {model}, {workload}}}
policy: {policy}
run: {{seed: 0{run}}}
"""
    return run_scenario(write_scenario(tmp_path, text))


def _total_pj(result) -> float:
    return result.summary["energy_mj"]["total"] * 1e9


def test_both_ops_on_cpu(tmp_path, two_op_path):
    r = _scenario(tmp_path, two_op_path)
    relu_ns = 640  # 64 ops at 1 op/cycle, 100 MHz; memory 256 + 256 ns is shorter
    assert r.trace.makespan_ns == MM_NS + relu_ns
    ops = r.tables.ops.set_index("op")
    assert ops.loc["mm", "end_ns"] - ops.loc["mm", "start_ns"] == MM_NS
    assert ops.loc["mm", "energy_pj"] == pytest.approx(MM_PJ)
    relu_pj = 64 * 2.0 + (256 + 256) * 1.0 + 1.0 * relu_ns
    assert ops.loc["relu", "energy_pj"] == pytest.approx(relu_pj)
    acc_idle = 2.0 * (MM_NS + relu_ns)
    assert _total_pj(r) == pytest.approx(MM_PJ + relu_pj + acc_idle)
    assert r.summary["dma_bytes"] == 0 and r.summary["zero_copy_count"] == 0


def test_relu_on_accelerator_needs_a_dma(tmp_path, two_op_path):
    policy = "{name: rules, params: {rules: [{op_types: [Relu], unit: acc}], default: cpu}}"
    r = _scenario(tmp_path, two_op_path, policy)
    dma_ns = 100 + 256  # setup + 256 B at 1 GB/s
    relu_ns = 256  # 16 cycles at 200 MHz = 80 ns < memory 256/2 + 256/2 = 256 ns
    assert r.trace.makespan_ns == MM_NS + dma_ns + relu_ns
    (transfer,) = r.tables.transfers.itertuples()
    assert (transfer.kind, transfer.src, transfer.dst, transfer.bytes) == ("dma", "sram",
                                                                           "acc_sram", 256)
    assert (transfer.start_ns, transfer.end_ns) == (MM_NS, MM_NS + dma_ns)
    dma_pj = 256 * 2.0 + 256 * (1.0 + 0.5)
    relu_pj = 64 * 1.0 + 256 * 0.5 * 2 + 2.0 * relu_ns
    span = MM_NS + dma_ns + relu_ns
    cpu_idle = 1.0 * (span - MM_NS)
    acc_idle = 2.0 * span - 2.0 * relu_ns
    assert _total_pj(r) == pytest.approx(MM_PJ + dma_pj + relu_pj + cpu_idle + acc_idle)
    assert r.summary["dma_bytes"] == 256


def test_shared_memory_gives_zero_copy_and_the_switch_forces_dma(tmp_path, two_op_path):
    soc = (FIXTURES / "float_soc.yaml").read_text().replace(
        "memories: [acc_sram]", "memories: [acc_sram, sram]")
    (tmp_path / "shared.yaml").write_text(soc)
    policy = "{name: rules, params: {rules: [{op_types: [Relu], unit: acc}], default: cpu}}"
    r = _scenario(tmp_path, two_op_path, policy, soc=str(tmp_path / "shared.yaml"))
    assert r.summary["zero_copy_count"] == 1 and r.summary["dma_bytes"] == 0
    relu_ns = 256 + 128  # read y in place from sram at 1 GB/s, write z to acc_sram at 2 GB/s
    assert r.trace.makespan_ns == MM_NS + relu_ns

    off = _scenario(tmp_path, two_op_path, policy, soc=str(tmp_path / "shared.yaml"),
                    run=", zero_copy: false")
    assert off.summary["zero_copy_count"] == 0 and off.summary["dma_bytes"] == 256
    assert off.trace.makespan_ns == MM_NS + 356 + 256


def test_operating_point_scales_time_and_energy(tmp_path, two_op_path):
    r = _scenario(tmp_path, two_op_path, CPU_ONLY,
                  run=", operating_points: {cpu: 50}")
    ops = r.tables.ops.set_index("op")
    assert ops.loc["mm", "end_ns"] - ops.loc["mm", "start_ns"] == 2 * MM_NS
    # (0.5 V / 1.0 V)^2 on dynamic energy; leakage x 0.5 over twice the time
    assert ops.loc["mm", "compute_pj"] == pytest.approx(16384 * 4.0 * 0.25)
    assert ops.loc["mm", "static_pj"] == pytest.approx(0.5 * 2 * MM_NS)
    assert ops.loc["mm", "freq_mhz"] == 50


def test_interconnect_bounds_a_transfer(tmp_path, two_op_path):
    """A 0.25 GB/s interconnect under the 1 GB/s channel: 100 + 256 / 0.25 = 1124 ns."""
    policy = "{name: rules, params: {rules: [{op_types: [Relu], unit: acc}], default: cpu}}"
    r = _scenario(tmp_path, two_op_path, policy, soc_set=("interconnect.bw_gbps=0.25",))
    (transfer,) = r.tables.transfers.itertuples()
    assert (transfer.start_ns, transfer.end_ns) == (MM_NS, MM_NS + 100 + 1024)


def _paging_run(tmp_path, two_op_path, sram_kib: int, pin: str = ""):
    return _scenario(tmp_path, two_op_path, workload=f"inferences: 2{pin}",
                     soc_set=("units.cpu.weights_cache=sram",
                              f"memories.sram.size_kib={sram_kib}"))


def test_weights_fault_once_then_hit(tmp_path, two_op_path):
    """W (64 KiB) pages into a 128 KiB SRAM on the first inference: one DMA of 65536 B from
    DRAM, bounded by the DRAM's 0.5 GB/s: 100 + 131072 ns; the second inference hits."""
    r = _paging_run(tmp_path, two_op_path, 128)
    page_in = 100 + 131072
    lat = r.tables.inferences["latency_ns"].tolist()
    assert lat == [page_in + MM_NS + 640, MM_NS + 640]
    assert r.summary["page_faults"] == 64
    assert r.summary["paging"]["page_ins"] == 1 and r.summary["paging"]["evictions"] == 0
    (t,) = r.tables.transfers[r.tables.transfers["kind"] == "page_in"].itertuples()
    assert (t.src, t.dst, t.bytes) == ("dram", "sram", 65536)
    # energy of the page-in: engine 2 pJ/B, DRAM read 20 pJ/B, SRAM write 1 pJ/B
    assert t.energy_pj == pytest.approx(65536 * (2.0 + 20 + 1.0))


def test_too_small_an_sram_streams_weights_instead(tmp_path, two_op_path):
    """W does not fit a 32 KiB SRAM at all: no page-in, weights stream from DRAM."""
    r = _paging_run(tmp_path, two_op_path, 32)
    assert r.summary["page_faults"] == 0
    assert r.tables.inferences["latency_ns"].tolist() == [MM_NS + 640] * 2


def _two_workloads(tmp_path, two_op_path, pin: str):
    text = f"""
name: two_op
soc: {FIXTURES / "float_soc.yaml"}
soc_set: ["units.cpu.weights_cache=sram", "memories.sram.size_kib=100"]
workloads:
  - {{name: a, model: {two_op_path}, inferences: 2{pin}}}
  - {{name: b, model: {two_op_path}, inferences: 2}}
policy: {{name: single, params: {{unit: cpu}}}}
"""
    return run_scenario(write_scenario(tmp_path, text))


def test_two_models_thrash_a_small_sram_and_pinning_stops_it(tmp_path, two_op_path):
    """Two 64 KiB weight sets in a 100 KiB SRAM evict each other (every MatMul faults); with
    a's weights pinned, a faults once and b streams from DRAM."""
    r = _two_workloads(tmp_path, two_op_path, "")
    assert r.summary["paging"]["page_ins"] == 4 and r.summary["paging"]["evictions"] == 3
    assert r.trace.memory_peak_bytes["sram"] <= 100 * 1024
    r = _two_workloads(tmp_path, two_op_path, ", pin_weights: ['.*']")
    assert r.summary["paging"]["page_ins"] == 1 and r.summary["paging"]["evictions"] == 0


_FPGA_SOC = """
name: fpga_only
units:
  fpga:
    kind: fpga
    dvfs: {points: [{freq_mhz: 100, voltage_v: 1.0}], nominal_mhz: 100}
    power: {energy_pj_per_mac: {float32: 1.0}, energy_pj_per_op: {float32: 1.0}, leakage_mw: 0}
    memories: [sram]
    weights_in: sram
    ops: [MatMul, Relu]
    dtypes: [float32]
    fabric: {dsp_slices: 100, luts: 1000, bram36: 10, reconfig_bw_mb_per_s: 1000,
             reconfig_setup_ns: 500, reconfig_pj_per_byte: 2.0}
    kernels:
      mm_k: {ops: [MatMul], parallelism: 16, pipeline_depth: 0, elementwise_ops_per_cycle: 1,
             dsp_slices: 80, luts: 500, bitstream_bytes: 10000, preloaded: PRELOAD}
      relu_k: {ops: [Relu], parallelism: 1, pipeline_depth: 0, elementwise_ops_per_cycle: 1,
               dsp_slices: RELU_DSP, luts: 200, bitstream_bytes: 4000}
memories:
  sram: {kind: sram, size_kib: 256, page_kib: 1, bw_gbps: 100.0, read_pj_per_byte: 0,
         write_pj_per_byte: 0}
"""


def _fpga_run(tmp_path, two_op_path, *, preload: bool, relu_dsp: int):
    soc = _FPGA_SOC.replace("PRELOAD", str(preload).lower()).replace("RELU_DSP", str(relu_dsp))
    (tmp_path / "fpga.yaml").write_text(soc)
    return _scenario(tmp_path, two_op_path, "{name: single, params: {unit: fpga}}",
                     soc=tmp_path / "fpga.yaml", workload="inferences: 2, max_in_flight: 1")


def test_fpga_kernels_that_do_not_fit_together_reconfigure_every_time(tmp_path, two_op_path):
    """mm_k (80 DSP) and relu_k (30 DSP) exceed the 100-DSP fabric, so each load evicts the
    other. Reconfiguration: 500 ns + bytes / (1000 MB/s = 1 B/ns): mm_k 10500 ns, relu_k
    4500 ns. MatMul: 16384 MACs / 16 per cycle = 1024 cycles at 100 MHz = 10240 ns (its
    67 KB from a 100 GB/s SRAM take 668 ns); Relu: 64 ops at 1 per cycle = 640 ns."""
    r = _fpga_run(tmp_path, two_op_path, preload=False, relu_dsp=30)
    one = 10500 + 10240 + 4500 + 640
    assert r.tables.inferences["latency_ns"].tolist() == [one, one]
    rc = r.tables.reconfigs
    assert rc["kernel"].tolist() == ["mm_k", "relu_k"] * 2
    assert rc["evicted"].tolist() == ["", "mm_k", "relu_k", "mm_k"]
    assert (rc["start_ns"].tolist(), rc["end_ns"].tolist()) == (
        [0, 20740, one, one + 20740], [10500, 25240, one + 10500, one + 25240])
    fpga = r.summary["fpga"]["fpga"]
    assert (fpga["reconfigurations"], fpga["evictions"]) == (4, 3)
    reconfig_pj = 2 * (10000 + 4000) * 2.0
    assert r.summary["energy_mj"]["reconfig"] * 1e9 == pytest.approx(reconfig_pj)
    ops_pj = 2 * (16384 * 1.0 + 64 * 1.0)
    assert _total_pj(r) == pytest.approx(ops_pj + reconfig_pj)
    slices = [e for e in chrome_trace(r.tables, r.trace)["traceEvents"]
              if e.get("cat") == "reconfig"]
    assert [(e["name"], e["dur"]) for e in slices[:2]] == [("reconfigure mm_k", 10.5),
                                                           ("reconfigure relu_k", 4.5)]


def test_a_preloaded_kernel_costs_nothing_and_kernels_that_fit_stay(tmp_path, two_op_path):
    """mm_k is in the boot bitstream; relu_k (20 DSP) fits beside it: one reconfiguration."""
    r = _fpga_run(tmp_path, two_op_path, preload=True, relu_dsp=20)
    assert r.tables.reconfigs["kernel"].tolist() == ["relu_k"]
    assert r.tables.inferences["latency_ns"].tolist() == [10240 + 4500 + 640, 10240 + 640]
    trace = r.trace
    assert (trace.reconfigs[0].start_ns, trace.reconfigs[0].end_ns) == (10240, 10240 + 4500)


def _two_matmuls(path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w1 = numpy_helper.from_array(np.ones((256, 64), np.float32), "w1")
    w2 = numpy_helper.from_array(np.ones((64, 64), np.float32), "w2")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["y"], name="mm1"),
         helper.make_node("MatMul", ["y", "w2"], ["z"], name="mm2")], "mm2",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 64])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("prefetch", [0, 1])
def test_weight_prefetch_overlaps_the_next_page_in_with_compute(tmp_path, prefetch):
    """W1 (64 KiB) pages in on demand: 100 + 65536 / 0.5 = 131172 ns; mm1 computes 163840 ns.
    On demand, W2 (16 KiB) pages in after mm1: 100 + 16384 / 0.5 = 32868 ns, then mm2
    (4096 MACs) 40960 ns. With weights_prefetch: 1, W2's page-in starts with mm1 and shares
    the DRAM with mm1's 1 KiB input stream (which keeps its own rate), so it is hidden."""
    r = _scenario(tmp_path, _two_matmuls(tmp_path / "mm2.onnx"),
                  soc_set=("units.cpu.weights_cache=sram", "memories.sram.size_kib=128",
                           f"units.cpu.weights_prefetch={prefetch}"))
    w1_in, mm1, mm2 = 131172, 163840, 40960
    pages = r.tables.transfers.set_index("tensor")
    if prefetch:
        assert r.trace.makespan_ns == w1_in + mm1 + mm2
        assert pages.loc["mm2:weights", "start_ns"] == w1_in
    else:
        assert r.trace.makespan_ns == w1_in + mm1 + 32868 + mm2
        assert pages.loc["mm2:weights", "start_ns"] == w1_in + mm1
    assert r.summary["paging"]["page_ins"] == 2


@pytest.mark.parametrize(("cache_kib", "rereads", "mm_ns"), [
    (128, 1, MM_NS),      # x + W + y = 66,816 B fit: every byte once
    (16, 8, MM_NS),       # W in 8 KiB blocks: x read 8 times (16,384 ns), still compute-bound
    (1, 128, 256 + (128 * 1024 + 65536) * 2)])  # 512 B blocks: DRAM-bound, 393,472 ns
def test_a_cpu_cache_smaller_than_the_operands_rereads_the_activations(
        tmp_path, two_op_path, cache_kib, rereads, mm_ns):
    """docs/model.md "CPU caches": the MatMul keeps cache/2 of W resident and streams x (1 KiB,
    from DRAM at 0.5 GB/s, 20 pJ/B) past each block: ⌈65536 / (cache / 2)⌉ reads of x."""
    r = _scenario(tmp_path, two_op_path, soc_set=(f"units.cpu.cache_kib={cache_kib}",))
    mm = r.tables.ops.set_index("op").loc["mm"]
    assert mm.bytes_in == rereads * 1024
    assert mm.end_ns - mm.start_ns == mm_ns
    assert mm.dram_pj == pytest.approx((rereads * 1024 + 65536) * 20.0)


def _zone_run(tmp_path, two_op_path, zone: bool):
    node = "{r_k_per_w: 1000, c_j_per_k: 0.0001}"
    sets = ([f"thermal_zones={{die: {node}}}", "units.cpu.thermal_zone=die",
             "units.acc.thermal_zone=die"] if zone else
            [f"units.cpu.thermal={node}", f"units.acc.thermal={node}"])
    r = _scenario(tmp_path, two_op_path, soc_set=tuple(sets), workload="inferences: 20")
    temps = {}
    for c in r.trace.counters:
        if c.counter == "temp_c":
            temps.setdefault(c.unit, []).append((c.time_ns, c.value))
    return temps


def test_units_in_one_thermal_zone_share_its_temperature(tmp_path, two_op_path):
    """cpu works, acc idles. In a shared zone both read the node the sum of their power heats
    (1 ms samples, tau = 0.1 s); on nodes of their own the idle acc only sees its own 2 mW.
    The RC node is linear, so the zone's rise is the sum of the two separate rises."""
    shared = _zone_run(tmp_path, two_op_path, zone=True)
    assert shared["acc"] == shared["cpu"] and len(shared["cpu"]) >= 3
    apart = _zone_run(tmp_path, two_op_path, zone=False)
    (t, zone), (_, cpu), (_, acc) = shared["cpu"][1], apart["cpu"][1], apart["acc"][1]
    assert t == 1_000_000
    # acc alone: 2 mW (leakage) into 1000 K/W for 1 ms, tau 0.1 s: 2 K x (1 - exp(-0.01))
    assert acc - 25 == pytest.approx(2.0 * (1 - math.exp(-0.01)), rel=1e-9)
    assert zone - 25 == pytest.approx((cpu - 25) + (acc - 25), rel=1e-9)


def test_an_op_that_falls_back_to_streaming_takes_its_weights_memory_time(tmp_path):
    """x[1,16] -> mmx (W1 16x16 f32, 1 KiB) -> mma (W2, 1 KiB, pinned) on cpu; weights in
    ``wmem`` (SRAM, 0.25 GB/s), paged into ``wcache`` (one 1 KiB page, 4 GB/s) by dma0
    (100 + 1024 / 1.0 = 1124 ns). Each MatMul: 256 MACs at 1 per cycle, 100 MHz = 2560 ns.

    Inference 0: mmx faults (1124) and runs from the cache (2560: its 64 + 64 + 256 ns of
    memory are shorter); mma evicts it, faults (1124), is pinned, runs (2560). Inference 1:
    the pinned page leaves no room, so mmx streams W1 from wmem: 64 + 64 + 1024 / 0.25 =
    4224 ns > 2560; mma hits (2560). The same op, first from the cache then from wmem, must
    not reuse the first run's memory time."""
    pj = "page_kib: 1, read_pj_per_byte: 1, write_pj_per_byte: 1"
    r = _scenario(tmp_path, _two_small_matmuls(tmp_path / "mm16.onnx"),
                  workload="inferences: 2, pin_weights: [mma]",
                  soc_set=(f"memories.wmem={{kind: sram, size_kib: 64, {pj}, bw_gbps: 0.25}}",
                           f"memories.wcache={{kind: sram, size_kib: 1, {pj}, bw_gbps: 4}}",
                           "units.cpu.memories=[sram, wcache, wmem]",
                           "units.cpu.weights_in=wmem", "units.cpu.weights_cache=wcache",
                           "dma.dma0.connects=[sram, acc_sram, dram, wmem, wcache]",
                           "inputs_in=sram"))
    ops = r.tables.ops.set_index(["inference", "op"])
    duration = ops["end_ns"] - ops["start_ns"]
    assert duration.to_dict() == {(0, "mmx"): 2560, (0, "mma"): 2560, (1, "mmx"): 4224,
                                  (1, "mma"): 2560}
    assert r.tables.inferences["latency_ns"].tolist() == [1124 + 2560 + 1124 + 2560,
                                                          4224 + 2560]


def _two_small_matmuls(path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = [numpy_helper.from_array(np.ones((16, 16), np.float32), n) for n in ("w1", "w2")]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["y"], name="mmx"),
         helper.make_node("MatMul", ["y", "w2"], ["z"], name="mma")], "mm16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 16])], w)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path
