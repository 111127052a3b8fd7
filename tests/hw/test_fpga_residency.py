"""FPGA fabric: kernel residency, LRU eviction, reconfiguration cost, kernel cycle model and the
config checks, against hand computations.

The fabric below has 100 DSP slices, 1000 LUTs and 10 BRAM36; reconfiguration runs at
100 MB/s (0.1 byte/ns) with 1 µs of set-up and 2 pJ per byte; a full bitstream is 1 MB.

=======  ==========  ===  ====  ====  =========================================
kernel   ops         DSP  LUTs  BRAM  bitstream bytes
=======  ==========  ===  ====  ====  =========================================
conv     Conv         60   300     4  200 000 (given); preloaded
gemm     Gemm,MatMul  30   300     2  1 MB × max(.30, .30, .20)  = 300 000
add      Add, Relu     0   500     0  1 MB × .50                 = 500 000
wide     MatMul       80   100     0  1 MB × .80                 = 800 000
=======  ==========  ===  ====  ====  =========================================

conv + gemm fit together (90 DSP, 600 LUTs, 6 BRAM); any of them + add fit, but conv + gemm +
add need 1100 LUTs; wide fits beside neither conv (140 DSP) nor conv + gemm.
"""

from __future__ import annotations

import copy
from math import ceil
from pathlib import Path

import pytest
import yaml

from socsim.config import SoC, load_soc
from socsim.errors import ConfigError
from socsim.graph import load_graph
from socsim.hw import op_cycles
from socsim.hw.fpga_residency import FabricBusyError, FpgaResidency, Reconfig
from socsim.zoo import build
from tests.conftest import REPO

SETUP_NS = 1000
NS_PER_BYTE = 1000 / 100  # 100 MB/s
PJ_PER_BYTE = 2

SOC: dict = {
    "name": "fabric_test",
    "units": {
        "fpga": {
            "kind": "fpga",
            "parallelism": 16, "pipeline_depth": 4, "elementwise_ops_per_cycle": 8,
            "dvfs": {"points": [{"freq_mhz": 100, "voltage_v": 1.0}], "nominal_mhz": 100},
            "power": {"energy_pj_per_mac": {"int8": 1.0}, "energy_pj_per_op": {"int8": 1.0},
                      "leakage_mw": 1.0},
            "memories": ["dram"], "weights_in": "dram",
            "ops": ["Conv", "Gemm", "MatMul", "Add", "Relu"],
            "dtypes": ["int8"],
            "fabric": {"dsp_slices": 100, "luts": 1000, "bram36": 10,
                       "reconfig_bw_mb_per_s": 100, "reconfig_setup_ns": SETUP_NS,
                       "reconfig_pj_per_byte": PJ_PER_BYTE, "full_bitstream_bytes": 1_000_000},
            "kernels": {
                "conv": {"ops": ["Conv"], "dsp_slices": 60, "luts": 300, "bram36": 4,
                         "parallelism": 64, "initiation_interval": 2, "pipeline_depth": 10,
                         "bitstream_bytes": 200_000, "preloaded": True},
                "gemm": {"ops": ["Gemm", "MatMul"], "dsp_slices": 30, "luts": 300,
                         "bram36": 2},
                "add": {"ops": ["Add", "Relu"], "dsp_slices": 0, "luts": 500},
                "wide": {"ops": ["MatMul"], "dsp_slices": 80, "luts": 100,
                         "parallelism": 256},
            },
        },
    },
    "memories": {"dram": {"kind": "dram", "size_kib": 65536, "bw_gbps": 1.0,
                          "read_pj_per_byte": 10, "write_pj_per_byte": 10}},
}


def _fabric(soc: dict = SOC) -> FpgaResidency:
    return FpgaResidency(SoC.model_validate(soc).units["fpga"])


def _miss(kernel: str, size: int, evicted: tuple[str, ...] = ()) -> Reconfig:
    return Reconfig(kernel, SETUP_NS + size * NS_PER_BYTE, size * PJ_PER_BYTE, size, evicted,
                    False)


# -- residency and reconfiguration ------------------------------------------------------------


def test_preloaded_kernel_is_resident_and_a_hit_costs_nothing():
    fabric = _fabric()
    assert fabric.resident == ("conv",)
    assert fabric.load("conv") == Reconfig("conv", 0.0, 0.0, 0, (), True)
    assert fabric.resident == ("conv",)


def test_miss_charges_bitstream_over_bandwidth_plus_setup_and_energy_per_byte():
    fabric = _fabric()
    r = fabric.load("gemm")
    # 300 000 B at 0.1 B/ns = 3 000 000 ns, + 1000 ns set-up; 300 000 B x 2 pJ
    assert r == Reconfig("gemm", 3_001_000.0, 600_000.0, 300_000, (), False)
    assert fabric.resident == ("conv", "gemm")
    assert fabric.load("gemm").hit


def test_given_bitstream_size_overrides_the_resource_share():
    fabric = _fabric()
    assert fabric.kernel("conv").bitstream_bytes == 200_000
    assert fabric.reconfig_cost("conv") == (1000 + 2_000_000, 400_000)
    assert [fabric.kernel(k).bitstream_bytes for k in ("gemm", "add", "wide")] == \
        [300_000, 500_000, 800_000]


def test_two_kernels_that_fit_together_stay_resident():
    fabric = _fabric()
    fabric.load("gemm")
    assert fabric.used == {"dsp_slices": 90, "luts": 600, "bram36": 6, "uram": 0}
    assert fabric.load("conv").hit and fabric.load("gemm").hit


def test_kernels_that_do_not_fit_together_evict_each_other():
    fabric = _fabric()
    assert fabric.load("wide") == _miss("wide", 800_000, ("conv",))  # 60 + 80 DSP > 100
    assert fabric.load("conv") == _miss("conv", 200_000, ("wide",))
    assert fabric.resident == ("conv",)


def test_lru_evicts_the_least_recently_used_first():
    fabric = _fabric()
    fabric.load("gemm")                      # LRU order: conv, gemm
    assert fabric.load("add").evicted == ("conv",)   # 300 + 300 + 500 LUTs > 1000
    assert fabric.resident == ("gemm", "add")
    fabric.load("conv")                      # evicts gemm (LRU), order: add, conv
    assert fabric.resident == ("add", "conv")
    fabric.load("add")                       # a hit refreshes: conv, add
    assert fabric.load("gemm").evicted == ("conv",)
    assert fabric.resident == ("add", "gemm")


def test_eviction_goes_on_until_every_resource_fits():
    fabric = _fabric()
    fabric.load("gemm")                      # conv + gemm: 90 DSP
    # wide needs 80 DSP: evicting conv leaves 30 + 80 > 100, so gemm goes too
    assert fabric.load("wide") == _miss("wide", 800_000, ("conv", "gemm"))
    assert fabric.resident == ("wide",)


def test_pinned_kernels_are_never_evicted():
    fabric = _fabric()
    fabric.acquire("conv")
    assert not fabric.can_load("wide")
    with pytest.raises(FabricBusyError, match="pinned kernels \\['conv'\\]"):
        fabric.load("wide")
    assert fabric.can_load("gemm") and not fabric.load("gemm").evicted
    fabric.release("conv")
    assert fabric.load("wide").evicted == ("conv", "gemm")
    with pytest.raises(ValueError, match="not acquired"):
        fabric.release("conv")


def test_same_calls_give_the_same_history():
    calls = ["gemm", "add", "wide", "conv", "add", "gemm", "wide"]

    def history() -> list[Reconfig]:
        fabric = _fabric()
        return [fabric.load(k) for k in calls]

    first = history()
    assert first == history()
    # plain LRU: loading conv over [add, wide] evicts add first although only wide's DSPs
    # are in the way
    assert [r.evicted for r in first] == [(), ("conv",), ("gemm",), ("add", "wide"),
                                          (), ("conv",), ("add", "gemm")]


def test_unknown_kernel_lists_the_library():
    with pytest.raises(KeyError, match="'conv', 'gemm', 'add', 'wide'"):
        _fabric().load("softmax")


# -- which kernel runs an op, and its cycles --------------------------------------------------


def test_kernel_for_picks_the_first_declared_that_implements_the_op():
    fabric = _fabric()
    assert fabric.kernel_for("MatMul", "int8").name == "gemm"   # not "wide", declared later
    assert fabric.kernel_for("Relu", "int8").name == "add"
    assert fabric.kernel_for("Conv", "int16") is None
    unit = SoC.model_validate(SOC).units["fpga"]
    assert unit.supports("Conv", "int8") and not unit.supports("Softmax", "int8")


def test_cost_model_uses_the_kernel_datapath():
    unit = SoC.model_validate(SOC).units["fpga"]
    g = load_graph(build("resnet8_int8"))
    conv = g.ops[1]  # 3x3 conv, 3 -> 16 channels, 32x32 output: 442 368 MACs
    assert conv.op_type == "Conv" and conv.macs == 32 * 32 * 27 * 16
    # conv kernel: parallelism 64, II 2, depth 10; elementwise at the unit's 8 ops/cycle
    expected = ceil(conv.macs / 64) * 2 + 10 + conv.elem_ops / 8
    cyc = op_cycles(unit, conv, g)
    assert cyc.compute == expected
    assert cyc.utilisation == pytest.approx(conv.macs / ((6912 * 2 + 10) * 64))


def test_kernel_without_datapath_fields_takes_the_units():
    unit = SoC.model_validate(SOC).units["fpga"]
    assert unit.datapath("gemm") == (16, 1, 4, 8)
    assert unit.datapath("wide") == (256, 1, 4, 8)


def test_zynq_dpu_kernel_costs_as_the_fixed_datapath_did():
    data = yaml.safe_load((REPO / "devices" / "zynq_us.yaml").read_text())
    legacy = copy.deepcopy(data)
    del legacy["units"]["fpga"]["kernels"], legacy["units"]["fpga"]["fabric"]
    with_lib, fixed = (SoC.model_validate(d).units["fpga"] for d in (data, legacy))
    g = load_graph(build("resnet8_int8"))
    for op in g.ops:
        if with_lib.supports(op.op_type, op.dtype):
            assert op_cycles(with_lib, op, g) == op_cycles(fixed, op, g), op.name
    assert FpgaResidency(with_lib).resident == ("dpu_b4096x2",)


# -- config validation, located by the loader -------------------------------------------------


def _load_errors(tmp_path: Path, data: dict) -> tuple[list, str]:
    text = yaml.safe_dump(data, sort_keys=False)
    path = tmp_path / "soc.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_soc(path)
    return info.value.problems, text


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_kernel_larger_than_the_fabric_is_an_error_with_file_line_and_path(tmp_path):
    data = copy.deepcopy(SOC)
    data["units"]["fpga"]["kernels"]["huge"] = {"ops": ["Conv"], "dsp_slices": 101, "luts": 1}
    (problem,), text = _load_errors(tmp_path, data)
    assert problem.file == str(tmp_path / "soc.yaml")
    assert problem.line == _line_of(text, "kernels:")
    assert problem.path == "units.fpga.kernels"
    assert "kernels.huge.dsp_slices=101 exceeds the whole fabric (fabric.dsp_slices=100)" \
        in problem.message


def test_kernel_ops_must_be_unit_ops(tmp_path):
    data = copy.deepcopy(SOC)
    data["units"]["fpga"]["kernels"]["add"]["ops"] = ["Add", "Softmax"]
    data["units"]["fpga"]["kernels"]["add"]["dtypes"] = ["int16"]
    (problem,), _ = _load_errors(tmp_path, data)
    assert problem.path == "units.fpga.kernels"
    assert "kernels.add.ops: ['Softmax'] not in the unit's ops" in problem.message
    assert "kernels.add.dtypes: ['int16'] not in the unit's dtypes ['int8']" in problem.message


def test_every_unit_op_needs_a_kernel(tmp_path):
    data = copy.deepcopy(SOC)
    data["units"]["fpga"]["kernels"]["add"]["ops"] = ["Add"]
    (problem,), _ = _load_errors(tmp_path, data)
    assert problem.path == "units.fpga" and "ops ['Relu'] have no kernel" in problem.message


def test_preloaded_kernels_must_fit_together(tmp_path):
    data = copy.deepcopy(SOC)
    data["units"]["fpga"]["kernels"]["wide"]["preloaded"] = True
    (problem,), _ = _load_errors(tmp_path, data)
    assert "preloaded kernels ['conv', 'wide'] need dsp_slices=140 together" in problem.message


def test_kernels_need_a_fabric_and_a_fixed_datapath_needs_its_fields(tmp_path):
    data = copy.deepcopy(SOC)
    del data["units"]["fpga"]["fabric"]
    (problem,), _ = _load_errors(tmp_path, data)
    assert problem.path == "units.fpga" and "`kernels` need `fabric`" in problem.message
    del data["units"]["fpga"]["kernels"], data["units"]["fpga"]["parallelism"]
    (problem,), _ = _load_errors(tmp_path, data)
    assert "['parallelism'] required" in problem.message
