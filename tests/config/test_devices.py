"""The bundled device library: every file loads, and its numbers agree with the cited figures.

The expected values below are the public figures cited in each ``devices/*.yaml`` (and
``docs/devices.md``), typed in again here, so an edit to a device file that drifts from its
sources, or from the documented energy derivation, fails a test.
"""

from __future__ import annotations

from functools import cache

import pytest

from socsim.config import SoC, bits_of, load_soc
from socsim.config.units import Cpu, Dsp, Fpga, Npu
from socsim.graph.ir import Graph
from socsim.graph.loading import load_graph
from socsim.hw.estimate import op_run_ns
from socsim.policies.single import Single
from tests.conftest import REPO

DEVICES = REPO / "devices"
NAMES = ("mcu_m55_u55", "imx8mp", "zynq_us")

#: Unit names each device must expose (the brief's contract with scenarios and policies).
UNITS = {
    "mcu_m55_u55": {"cpu": Cpu, "npu": Npu},
    "imx8mp": {"cpu": Cpu, "npu": Npu, "dsp": Dsp},
    "zynq_us": {"cpu": Cpu, "fpga": Fpga},
}

#: ONNX op types of the bundled models (workloads/README.md); a CPU must run all of them.
BUNDLED_OPS = {
    "Conv", "Gemm", "MatMul", "Add", "Mul", "Sub", "Div", "Clip", "Relu", "GlobalAveragePool",
    "AveragePool", "MaxPool", "Reshape", "Flatten", "Transpose", "Softmax", "LayerNormalization",
    "Erf", "Sqrt", "Pow", "ReduceMean", "Concat", "QuantizeLinear", "DequantizeLinear",
}

#: Committed bundled models (MobileNetV2 is generated on first use, so not read here).
MODELS = ("resnet8", "resnet8_int8", "ds_cnn", "ds_cnn_int8", "transformer_block",
          "transformer_block_int8")

#: Process node (nm) each file scales Horowitz's 45 nm / 0.9 V energies to (its header comment).
NODE_NM = {"mcu_m55_u55": 22, "imx8mp": 14, "zynq_us": 16}

# Horowitz, ISSCC 2014, 45 nm: MAC = multiply + accumulate, op = add (pJ); 90 pJ per core cycle
# = 70 pJ instruction overhead + 20 pJ for a 64-bit access to a 32 KB SRAM; 1.25 pJ per byte
# from an 8 KB buffer.
H_MAC = {"int8": 0.3, "int16": 0.9, "int32": 3.3, "float16": 1.5, "float32": 4.6}
H_ADD = {"int8": 0.03, "int16": 0.05, "int32": 0.1, "float16": 0.4, "float32": 0.9}
CORE_PJ_PER_CYCLE = 90.0
BUFFER_PJ_PER_BYTE = 1.25
OPERAND_REUSE = 8
FPGA_OVER_ASIC = 7


@cache
def _soc(name: str) -> SoC:
    return load_soc(DEVICES / f"{name}.yaml")


@cache
def _graph(model: str) -> Graph:
    return load_graph(REPO / "workloads" / f"{model}.onnx")


def _scale(name: str, unit) -> float:
    """Energy scale from 45 nm / 0.9 V: C ~ feature size, E ~ C V^2 (docs/devices.md)."""
    return NODE_NM[name] / 45 * (unit.dvfs.nominal.voltage_v / 0.9) ** 2


def _peak_ops_per_s(unit, dtype: str = "int8") -> float:
    """2 x MACs per second at the unit's default operating point."""
    f_hz = unit.dvfs.default.freq_mhz * 1e6
    if isinstance(unit, Npu):
        macs = unit.array_rows * unit.array_cols * unit.macs_per_pe_per_cycle[dtype]
    elif isinstance(unit, Fpga):
        macs = unit.cores * unit.parallelism / unit.initiation_interval
    else:
        raise TypeError(unit)
    return 2 * macs * f_hz


# -- every file loads and is wired up --------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_device_loads_with_the_named_units(name):
    soc = _soc(name)
    assert soc.name == name
    assert {u: type(unit) for u, unit in soc.units.items()} == UNITS[name]


@pytest.mark.parametrize("name", NAMES)
def test_every_referenced_memory_exists(name):
    soc = _soc(name)
    for unit in soc.units.values():
        assert set(unit.memories) <= set(soc.memories)
        assert unit.weights_in in unit.memories
    for engine in soc.dma.values():
        assert set(engine.connects) <= set(soc.memories)
    # the engine lands workload inputs in the first DRAM-kind memory; there must be one
    assert any(m.kind == "dram" for m in soc.memories.values())


@pytest.mark.parametrize("name", NAMES)
def test_every_unit_has_energy_for_each_dtype_it_supports(name):
    for unit in _soc(name).units.values():
        assert unit.dtypes
        for dtype in unit.dtypes:
            assert unit.power.energy_pj_per_mac[dtype] > 0
            assert unit.power.energy_pj_per_op[dtype] > 0


@pytest.mark.parametrize("name", NAMES)
def test_cpu_runs_every_bundled_op_in_float32_and_int8(name):
    cpu = _soc(name).units["cpu"]
    assert {"float32", "int8"} <= set(cpu.dtypes)
    assert BUNDLED_OPS <= set(cpu.ops)
    for model in MODELS:
        for op in _graph(model).ops:
            assert cpu.supports(op.op_type, op.dtype), (model, op.name, op.op_type, op.dtype)


@pytest.mark.parametrize("name", NAMES)
def test_the_cpu_can_take_over_anything_an_accelerator_runs(name):
    soc = _soc(name)
    cpu = soc.units["cpu"]
    for uname, unit in soc.units.items():
        for op_type in unit.ops:
            for dtype in unit.dtypes:
                assert cpu.supports(op_type, dtype), (uname, op_type, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_every_pair_of_units_can_hand_tensors_over(name):
    """Zero copy through a shared memory, or a DMA route from the producer's home memory."""
    soc = _soc(name)
    for a, ua in soc.units.items():
        for b, ub in soc.units.items():
            home = ua.memories[0]
            shared = home in ub.memories
            routed = any(soc.dma_between(home, dst) for dst in ub.memories)
            assert shared or routed, (a, b)


@pytest.mark.parametrize("name", NAMES)
def test_voltage_never_falls_as_frequency_rises(name):
    for unit in _soc(name).units.values():
        points = sorted(unit.dvfs.points, key=lambda p: p.freq_mhz)
        volts = [p.voltage_v for p in points]
        assert volts == sorted(volts)


# -- the cited peak rates --------------------------------------------------------------------


def test_imx8mp_npu_peak_is_2_3_tops_at_1_ghz():
    npu = _soc("imx8mp").units["npu"]
    assert npu.dvfs.default.freq_mhz == 1000 and npu.dvfs.nominal.freq_mhz == 800
    assert _peak_ops_per_s(npu) == pytest.approx(2.3e12, rel=0.05)
    assert npu.macs_per_pe_per_cycle["int16"] == npu.macs_per_pe_per_cycle["int8"] / 2


def test_zcu104_dual_b4096_dpu_peak_is_2_46_tops_at_300_mhz():
    fpga = _soc("zynq_us").units["fpga"]
    assert fpga.parallelism == 8 * 16 * 16  # PG338: pixel x input-channel x output-channel
    assert fpga.cores == 2 and fpga.dvfs.default.freq_mhz == 300
    assert _peak_ops_per_s(fpga) == pytest.approx(2.46e12, rel=0.05)


def test_ethos_u55_256_has_256_macs_and_halves_for_16_bit_activations():
    npu = _soc("mcu_m55_u55").units["npu"]
    assert npu.array_rows * npu.array_cols * npu.macs_per_pe_per_cycle["int8"] == 256
    assert npu.macs_per_pe_per_cycle["int16"] == 0.5
    assert npu.dvfs.default.freq_mhz == 400
    assert _peak_ops_per_s(npu) == pytest.approx(204.8e9)


def test_cortex_m55_helium_is_dual_beat():
    cpu = _soc("mcu_m55_u55").units["cpu"]
    assert cpu.vector_bits_per_cycle == 128 // 2  # 128-bit vectors, two 64-bit beats
    assert cpu.vector_bits_per_cycle // bits_of("int8") == 8
    assert cpu.dvfs.default.freq_mhz == 400


def test_imx8mp_a53_operating_points_are_the_kernel_opp_table():
    cpu = _soc("imx8mp").units["cpu"]
    assert {p.freq_mhz: p.voltage_v for p in cpu.dvfs.points} == {1200: 0.85, 1600: 0.95,
                                                                  1800: 1.0}
    assert cpu.dvfs.default.freq_mhz == 1800 and cpu.dvfs.nominal.freq_mhz == 1200
    assert cpu.cores == 4


def test_imx8mp_hifi4_rates():
    dsp = _soc("imx8mp").units["dsp"]
    assert [p.freq_mhz for p in dsp.dvfs.points] == [800]
    assert dsp.macs_per_cycle["float32"] == 4 and dsp.macs_per_cycle["int32"] == 4


def test_zynq_a53_operating_points_are_the_kernel_opp_table():
    cpu = _soc("zynq_us").units["cpu"]
    assert sorted(p.freq_mhz for p in cpu.dvfs.points) == [300, 400, 600, 1200]
    assert cpu.cores == 4


@pytest.mark.parametrize(("name", "memory", "kib"), [
    ("mcu_m55_u55", "sram0", 4096), ("mcu_m55_u55", "sram1", 2560),
    ("mcu_m55_u55", "dtcm", 1024), ("imx8mp", "ocram", 576), ("imx8mp", "dsp_tcm", 32),
    ("zynq_us", "ocm", 256),
])
def test_on_chip_memory_sizes(name, memory, kib):
    assert _soc(name).memories[memory].size_kib == kib


def test_dram_bandwidth_is_below_the_interface_peak():
    assert _soc("imx8mp").memories["ddr"].bw_gbps <= 32 / 8 * 4000e6 / 1e9  # LPDDR4-4000 x32
    assert _soc("zynq_us").memories["ddr"].bw_gbps <= 64 / 8 * 2400e6 / 1e9  # DDR4-2400 x64


def test_topology_allows_the_documented_zero_copy_paths():
    mcu, imx, zu = _soc("mcu_m55_u55"), _soc("imx8mp"), _soc("zynq_us")
    assert mcu.units["cpu"].memories[0] in mcu.units["npu"].memories  # SRAM0 arena
    assert imx.units["npu"].memories == ["ddr"] and "ddr" in imx.units["cpu"].memories
    assert "ddr" in imx.units["dsp"].memories
    assert imx.units["dsp"].memories[0] == "dsp_tcm"
    assert zu.units["fpga"].memories == ["ddr"] and zu.units["cpu"].memories[0] == "ddr"


# -- energies follow the documented derivation -----------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_cpu_and_dsp_energies_follow_the_horowitz_derivation(name):
    for unit in _soc(name).units.values():
        if not isinstance(unit, (Cpu, Dsp)):
            continue
        s = _scale(name, unit)
        for dtype in unit.dtypes:
            if isinstance(unit, Cpu):
                lanes = unit.vector_bits_per_cycle / bits_of(dtype)
                per_mac, per_op = lanes, lanes
            else:
                per_mac, per_op = unit.macs_per_cycle[dtype], unit.ops_per_cycle[dtype]
            mac = s * (CORE_PJ_PER_CYCLE / (per_mac * unit.efficiency["conv"]) + H_MAC[dtype])
            op = s * (CORE_PJ_PER_CYCLE / (per_op * unit.efficiency["elementwise"])
                      + H_ADD[dtype])
            assert unit.power.energy_pj_per_mac[dtype] == pytest.approx(mac, rel=0.01), dtype
            assert unit.power.energy_pj_per_op[dtype] == pytest.approx(op, rel=0.01), dtype


@pytest.mark.parametrize("name", NAMES)
def test_accelerator_int8_energies_follow_the_horowitz_derivation(name):
    for unit in _soc(name).units.values():
        if not isinstance(unit, (Npu, Fpga)):
            continue
        s = _scale(name, unit) * (FPGA_OVER_ASIC if isinstance(unit, Fpga) else 1)
        mac = s * (H_MAC["int8"] + 2 * BUFFER_PJ_PER_BYTE / OPERAND_REUSE)
        op = s * (H_ADD["int8"] + BUFFER_PJ_PER_BYTE)
        assert unit.power.energy_pj_per_mac["int8"] == pytest.approx(mac, rel=0.01)
        assert unit.power.energy_pj_per_op["int8"] == pytest.approx(op, rel=0.01)


@pytest.mark.parametrize("name", NAMES)
def test_an_accelerator_mac_costs_less_energy_than_a_cpu_mac(name):
    soc = _soc(name)
    cpu_pj = soc.units["cpu"].power.energy_pj_per_mac["int8"]
    for uname, unit in soc.units.items():
        if uname != "cpu":
            assert unit.power.energy_pj_per_mac["int8"] < cpu_pj, uname


# -- the bundled models place and the accelerators pay off -----------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("model", ["resnet8_int8", "ds_cnn_int8", "transformer_block_int8"])
def test_int8_models_place_on_each_accelerator_with_cpu_fallback(name, model):
    soc, graph = _soc(name), _graph(model)
    for uname in soc.units:
        plan = Single({"unit": uname}).place(graph, soc)
        plan.validate(graph, soc)
        assert set(plan.units) <= {uname, "cpu"}
        # float-boundary ops are the only ones a CNN sends back to the CPU
        if model != "transformer_block_int8":
            back = {op.op_type for op, u in zip(graph.ops, plan.units) if u != uname}
            assert back <= {"QuantizeLinear", "DequantizeLinear"}, (uname, back)


@pytest.mark.parametrize(("name", "accelerator"), [("mcu_m55_u55", "npu"), ("imx8mp", "npu"),
                                                   ("zynq_us", "fpga")])
def test_resnet8_conv_layers_run_faster_on_the_accelerator(name, accelerator):
    soc, graph = _soc(name), _graph("resnet8_int8")
    convs = [op for op in graph.ops if op.op_type == "Conv"]
    cpu_ns = sum(op_run_ns(soc.units["cpu"], op, graph, soc) for op in convs)
    acc_ns = sum(op_run_ns(soc.units[accelerator], op, graph, soc) for op in convs)
    assert acc_ns < cpu_ns / 5
