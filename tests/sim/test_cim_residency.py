"""CiM crossbar residency in a run: ResNet-8's layers need 172 crossbars together, the unit has
64, so layers are programmed as the run goes (socsim.hw.cim_residency). Expected loads,
evictions, times and energies by hand from the layer shapes and devices/imx8mp_cim.yaml."""

from __future__ import annotations

import json
from math import ceil
from pathlib import Path

import pytest

from socsim.hw.cim_residency import CimResidency, CrossbarWeights
from socsim.run import run_scenario
from tests.conftest import write_scenario

ROOT = Path(__file__).resolve().parents[2]
MHZ, WRITE_PJ, CELLS = 181.818, 0.0768, 64 * 64 * 16   # device file: clock, pJ/cell, cells

# ResNet-8 (workloads/resnet8_int8.onnx) on 64 x 16 crossbars, int8 (J = 2 cells per weight):
# (layer, K = Cin*kh*kw, N = Cout) -> tiles = ceil(K / 64) * ceil(2N / 16), cells = K * N * 2,
# programming = min(64, K) row writes at 1 cycle per row.
LAYERS = [("stem_conv", 27, 16), ("stack1_conv1", 144, 16), ("stack1_conv2", 144, 16),
          ("stack2_conv1", 144, 32), ("stack2_shortcut_conv", 16, 32),
          ("stack2_conv2", 288, 32), ("stack3_conv1", 288, 64),
          ("stack3_shortcut_conv", 32, 64), ("stack3_conv2", 576, 64), ("classifier", 64, 10)]


def test_lru_by_hand():
    res = CimResidency(10)
    a, b = CrossbarWeights("a", 6, 1.0, 2.0, 3), CrossbarWeights("b", 4, 1.0, 2.0, 3)
    c = CrossbarWeights("c", 4, 1.0, 2.0, 3)
    assert not res.load(a).hit and not res.load(b).hit and res.load(a).hit  # b is now LRU
    assert res.load(c).evicted == ("b",)           # 6 + 4 + 4 > 10: the LRU goes
    res.acquire(c)
    big = CrossbarWeights("big", 10, 0.0, 0.0, 9, transient=True)
    assert not res.can_load(big)                   # c is pinned
    res.release(c)
    assert res.acquire(big).evicted == ("a", "c")
    res.release(big)
    assert res.resident == ()                      # a transient layer leaves nothing


def test_resnet8_reprograms_the_crossbars_as_it_runs(tmp_path):
    text = f"""
name: cim_resnet8
soc: {ROOT / "devices" / "imx8mp_cim.yaml"}
workloads:
  - {{name: w, model: {ROOT / "workloads" / "resnet8_int8.onnx"}, inferences: 2,
     max_in_flight: 1}}
policy: {{name: rules, params: {{rules: [{{op_types: [Conv, Gemm], unit: cim}}], default: cpu}}}}
run: {{seed: 0, functional: false}}
"""
    result = run_scenario(write_scenario(tmp_path, text))
    rec = result.tables.reconfigs
    tiles = {n: ceil(k / 64) * ceil(2 * c / 16) for n, k, c in LAYERS}
    assert sum(tiles.values()) == 172 and tiles["stack3_conv2"] == 72
    # every layer is a miss in both inferences (LRU over 64 crossbars thrashes):
    loaded = [k.split("/")[1] for k in rec["kernel"]]
    assert loaded == [n for n, _, _ in LAYERS] * 2
    # inference 1: stack3_conv1 (40) evicts stem..stack2_conv1 (2+6+6+12 -> 50-26+40 = 64);
    # stack3_shortcut (8) evicts stack2_shortcut, stack2_conv2; stack3_conv2 (all 64) evicts
    # the two left; inference 2 starts with the classifier resident, so stack3_conv1 evicts
    # it too.
    evictions = [len(e.split()) for e in rec["evicted"]]
    assert sum(evictions[:10]) == 4 + 2 + 2 and sum(evictions[10:]) == 5 + 2 + 2
    # programming: min(64, K) cycles at 181.818 MHz, ceil to ns; stack3_conv2 (72 > 64
    # crossbars) programs itself in its own cycles: 0 ns, 0 pJ here
    time = [0 if n == "stack3_conv2" else ceil(min(64, k) * 1e3 / MHZ) for n, k, _ in LAYERS]
    assert list(rec["end_ns"] - rec["start_ns"]) == time * 2
    energy = [0 if n == "stack3_conv2" else k * c * 2 * WRITE_PJ for n, k, c in LAYERS]
    assert list(rec["reconfig_pj"]) == pytest.approx(energy * 2)
    # summary: the kind's block, cells written = every layer's K * N * 2, twice
    cells = 2 * sum(k * c * 2 for _, k, c in LAYERS)
    block = json.loads(json.dumps(result.summary["cim"]))["cim"]
    assert block["reconfigurations"] == 20 and block["cell_writes"] == cells == 309440
    assert block["writes_per_cell_per_inference"] == pytest.approx(cells / 2 / CELLS)
    assert block["endurance_writes"] is None and block["lifetime_inferences"] is None
    assert block["adc_bits"] == 4
