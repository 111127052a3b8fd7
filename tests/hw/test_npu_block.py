"""The block-based (Ethos-U-class) NPU model against hand computations from the device files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from socsim.config import SoC
from socsim.config.loading import load_soc
from socsim.errors import ConfigError
from socsim.graph import load_graph
from socsim.hw import op_cycles
from socsim.hw.npu_block import Block, NpuOp, find_block
from socsim.hw.npu_block_cycles import _dpu_block_cycles, layer_cycles, network_cycles
from socsim.hw.npu_block_cycles import op_cycles as block_op_cycles
from socsim.hw.npu_block_lower import lower_onnx, lower_tflite
from socsim.hw.npu_block_memory import _transfer_bytes, weight_transfer_cycles

DEVICES = Path(__file__).resolve().parents[2] / "devices"
U55_128 = DEVICES / "ethos_u55_128_high_end_embedded.yaml"
U55_64 = DEVICES / "ethos_u55_64_deep_embedded.yaml"
U65_256 = DEVICES / "ethos_u65_256_high_end.yaml"


def _cfg(path: Path = U55_128):
    return load_soc(path).units["npu"].ethos_u


@pytest.mark.parametrize("path,macs", [(U55_128, 128), (U55_64, 64), (U65_256, 256)])
def test_mac_configuration_is_ublock_times_dot_depth(path, macs):
    # U55-128: 1 x 2 pixels x 8 channels x 8-deep dot product; U55-64 1x1x8x8; U65-256 2x2x8x8
    assert _cfg(path).macs_per_cycle == macs


def test_dense_conv_block_runs_at_peak():
    """A 1x1 conv whose block is whole micro-blocks and whose IFM depth is a whole IFM block
    retires 128 MACs a cycle: 4 x 8 x 16 outputs x 32 channels = 16384 MACs in 128 cycles
    (16 micro-blocks of 1 x 2, 4 cycles each to stream 32 channels 8 at a time, 2 of 8
    channels deep)."""
    cfg = _cfg()
    op = NpuOp("conv", (4, 8, 32), (4, 8, 16))
    blk = Block((4, 8, 16), (4, 8, 32), False)
    assert _dpu_block_cycles(cfg, op, blk) == op.macs / cfg.macs_per_cycle == 128


def test_depthwise_maps_channels_across_output_lanes():
    """3x3 depthwise: each step takes 4 kernel elements (ceil(9 / 4) = 3 steps of 4 cycles
    per micro-block) with channels across the 8 output-channel lanes: 4 x 8 x 16 x 9 MACs in
    3 x 4 x 16 x 2 = 384 cycles, 12 MACs a cycle (9/12 of the 2 x 8 lanes), not one column
    of a systolic array."""
    cfg = _cfg()
    op = NpuOp("depthwise", (4, 8, 16), (4, 8, 16), kernel=(3, 3))
    blk = Block((4, 8, 16), (6, 10, 16), False)
    assert _dpu_block_cycles(cfg, op, blk) == 384
    assert op.macs / 384 == 12


def test_shallow_conv_uses_part_kernel_first():
    """3 input channels of a 3x3 conv fill 3/8 of the dot product depth-first; part-kernel
    packs 4 kernel elements instead: 3 steps x 4 cycles x 16 micro-blocks x 2 deep = 384
    cycles for 4 x 8 x 16 x 27 MACs (36 MACs a cycle = 128 x 27 / (12 x 8))."""
    cfg = _cfg()
    op = NpuOp("conv", (6, 10, 3), (4, 8, 16), kernel=(3, 3))
    blk = find_block(cfg, op)
    assert blk.part_kernel
    fixed = Block((4, 8, 16), blk.ifm, True)
    assert _dpu_block_cycles(cfg, op, fixed) == 384
    assert op.macs / 384 == 36


def test_pooling_cost_per_micro_block():
    """Pooling on the MAC engine: max(4, kernel elements) x micro-blocks x IFM bits / 2:
    2x2 max pool, block 4 x 4 x 32 -> 4 x (4 x 2 x 4) x 4 = 512 cycles."""
    cfg = _cfg()
    op = NpuOp("pool_max", (8, 8, 32), (4, 4, 32), kernel=(2, 2), stride=(2, 2))
    assert _dpu_block_cycles(cfg, op, Block((4, 4, 32), (8, 8, 32), False)) == 512


def test_elementwise_add_cost_per_element():
    """A rescaled int8 Add costs output_cycles_per_element[add] = 1.5 cycles per element on
    the U55-128 when blocks are large enough to hide the command overhead."""
    cfg = _cfg()
    op = NpuOp("elementwise", (16, 16, 64), (16, 16, 64), ifm2=(16, 16, 64), elementwise="add")
    assert block_op_cycles(cfg, op) == 1.5 * 16 * 16 * 64


def test_burst_rounding():
    """An NHWC read contiguous over 16 channels on a 32-byte-burst port moves 2x its bytes;
    a read spanning whole rows (block depth = tensor depth) moves them once."""
    cfg = _cfg()
    assert _transfer_bytes(cfg, "sram", True, 8, "nhwc", (4, 4, 16), (8, 8, 64), 100) == 200
    assert _transfer_bytes(cfg, "sram", True, 8, "nhwc", (4, 4, 16), (8, 8, 16), 100) == 100


def test_ports_overlap_with_compute():
    """A weight-bound fully connected layer: the flash port moves 1024 x 256 weights + 10
    bytes of scale/bias per channel at 1 byte a cycle (8-byte AXI x clock scale 0.125); the
    op takes the flash time, not NPU + flash."""
    cfg = _cfg()
    op = lower_tflite({"op": "FULLY_CONNECTED", "ifm_shapes": [[1, 1024]],
                       "ifm_dtypes": ["int8"], "ofm_shape": [1, 256], "ofm_dtype": "int8",
                       "kernel": [1, 1], "stride": [1, 1], "weight_bytes": 1024 * 256})[0]
    lc = layer_cycles(cfg, op)
    assert lc.ports["flash"] == 1024 * 256 + 256 * 10
    assert lc.total == lc.ports["flash"] > lc.npu > 0
    assert lc.total < lc.ports["flash"] + lc.npu


def test_block_search_fits_the_shared_buffer_and_takes_small_outputs_whole():
    cfg = _cfg()
    small = NpuOp("conv", (4, 4, 16), (4, 4, 16))
    assert find_block(cfg, small).ofm == (4, 4, 16)
    big = NpuOp("conv", (64, 64, 256), (64, 64, 256), kernel=(3, 3))
    blk = find_block(cfg, big)
    sb = cfg.shared_buffer
    h, w, d = blk.ofm
    acc_banks = 2 * -(-(h * w * d * 4) // sb.bank_bytes)
    assert acc_banks <= sb.banks      # accumulators (double-buffered) fit the buffer
    assert blk.ofm[2] % cfg.ofm_split_depth == 0


def test_staged_weights_hide_under_the_previous_op():
    """Double-buffered staging: the first slice (half the stream when it has more than one
    slice of 16 channels) is copied flash -> SRAM at max(bytes / 1 + 64, bytes / 8) cycles;
    with enough slack from the previous op nothing is exposed."""
    cfg = _cfg()
    op = NpuOp("conv", (32, 32, 16), (32, 32, 32), kernel=(3, 3), weight_bytes=4608,
               has_bias=True)
    stream = 4608 + 32 * 10
    first = weight_transfer_cycles(cfg, stream / 2)
    assert first == stream / 2 / 1.0 + 64
    alone = layer_cycles(cfg, op, stage=True, slack=0.0)
    hidden = layer_cycles(cfg, op, stage=True, slack=1e9)
    assert alone.npu - hidden.npu == first
    assert hidden.ports["flash"] == stream       # the constant port moves the stream once
    seq = network_cycles(cfg, [NpuOp("elementwise", (64, 64, 64), (64, 64, 64),
                                     ifm2=(64, 64, 64), elementwise="add"), op])
    assert seq[1].npu == hidden.npu


def test_onnx_lowering_depthwise_and_gemm():
    dw = lower_onnx("QLinearConv", {"group": 32, "kernel_shape": [3, 3], "strides": [2, 2]},
                    [(1, 32, 16, 16)], (1, 32, 8, 8), (32, 1, 3, 3), 288, "int8")
    assert [(o.kind, o.ifm, o.ofm, o.kernel, o.stride) for o in dw] == \
        [("depthwise", (16, 16, 32), (8, 8, 32), (3, 3), (2, 2))]
    fc = lower_onnx("Gemm", {}, [(1, 64)], (1, 10), (10, 64), 640, "int8")
    assert [(o.kind, o.ifm, o.ofm) for o in fc] == [("vector", (1, 1, 64), (1, 1, 10))]
    assert lower_onnx("Reshape", {}, [(1, 64)], (64,), None, 0, "int8") is None


def test_graph_ops_on_the_block_model():
    """Through socsim's cost-model hook: every NPU op of DS-CNN costs cycles, and a depthwise
    conv is much faster than on the 16 x 8 systolic array of the same MAC count (one PE
    column per channel there: 64 x ceil(125 / 16) folds x 31 cycles = 15,872)."""
    soc = load_soc(U55_128)
    unit = soc.units["npu"]
    systolic = unit.model_copy(update={"microarchitecture": "systolic"})
    g = load_graph(Path(__file__).resolve().parents[2] / "workloads" / "ds_cnn_int8.onnx")
    dw = [op for op in g.ops if op.family == "depthwise"]
    assert dw
    for op in dw:
        block, array = op_cycles(unit, op, g).compute, op_cycles(systolic, op, g).compute
        assert 0 < block < 0.6 * array
    macs = [op for op in g.ops if op.macs and op.op_type in ("Conv", "QLinearConv")]
    assert all(0 < op_cycles(unit, op, g).utilisation <= 1 for op in macs)


def test_ethos_u_needs_its_parameters(tmp_path):
    data = yaml.safe_load(U55_128.read_text())
    del data["units"]["npu"]["ethos_u"]
    with pytest.raises(ValueError, match="microarchitecture: ethos_u needs an `ethos_u:` block"):
        SoC.model_validate(data)
    data = yaml.safe_load(U55_128.read_text())
    data["units"]["npu"]["ethos_u"]["memory_mode"]["constants"] = "dram"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="memory_mode.constants = 'dram' is not a port"):
        load_soc(path)


def test_bundled_devices_default_to_systolic():
    for path in DEVICES.glob("*.yaml"):
        soc = load_soc(path)
        for unit in soc.units.values():
            if unit.kind == "npu" and not path.name.startswith("ethos_u"):
                assert unit.microarchitecture == "systolic"


def test_simulated_on_an_ethos_u_device(tmp_path):
    """End to end through the simulator: DS-CNN (int8 ONNX) on the U55-128 device runs its
    MAC ops on the block model, the same inputs give the same result, and switching the unit
    back to the systolic model (same device otherwise) changes the NPU's time (the field
    chooses the cost model the simulator uses)."""
    from socsim.run import run_scenario
    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "s.yaml"
    path.write_text(f"""name: u55_dscnn
soc: {U55_128}
workloads:
  - name: kws
    model: {root / "workloads" / "ds_cnn_int8.onnx"}
    inferences: 1
policy: {{name: greedy_eft}}
run: {{seed: 0, functional: false}}
""")
    a, b = run_scenario(path), run_scenario(path)
    assert a.summary["latency_ms"] == b.summary["latency_ms"]
    npu = a.summary["units"]["npu"]
    assert npu["ops"] > 0 and npu["busy_ms"] > 0
    systolic = run_scenario(path, ["soc.units.npu.microarchitecture=systolic"])
    assert systolic.summary["units"]["npu"]["busy_ms"] != npu["busy_ms"]
