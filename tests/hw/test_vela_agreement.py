"""socsim's block-based NPU model against Arm Vela 5.2's per-layer estimates.

Reference: tests/data/vela (made by tools/vela/make_reference.py in its own environment:
21 single-layer int8 .tflite cases and 6 MLPerf-Tiny-shaped networks, compiled by Vela 5.2.0
for three of its system configurations). The cases are costed from their recorded geometry
(socsim does not read .tflite yet), on the device files named after the configurations, by
tools/vela/compare.py; docs/npu_validation.md has the tables and the reasons for each gap.

Tolerances (stated in docs/npu_validation.md):
- whole network (the sum of its operators): within 10 % of Vela, every network, every
  configuration (the goal of the issue);
- single-layer cases: within 25 % each, and within 5 % for half or more of them per
  configuration;
- layers inside networks: at least the stated share within 10 % per configuration;
- block configuration: socsim's block search picks Vela's output block for >= 97 % of ops.
"""

from __future__ import annotations

import pytest

from socsim.hw.npu_block import find_block
from tools.vela.compare import device, frame, load_index, per_network, recorded_ops

CONFIGS = ["u55_128_high_end", "u55_64_deep", "u65_256_high_end"]
#: Share of layers inside networks within 10 % of Vela, per configuration (measured: 0.945,
#: 0.94, 0.672; see docs/npu_validation.md for the layers outside and why).
LAYER_SHARE = {"u55_128_high_end": 0.9, "u55_64_deep": 0.85, "u65_256_high_end": 0.65}


@pytest.fixture(scope="module")
def table():
    df = frame(CONFIGS)
    return df.assign(err=df["block"] / df["vela"] - 1)


def test_reference_covers_the_issue(table):
    idx = load_index()
    assert idx["versions"]["vela"].startswith("5.2.")
    layers = {n for n, c in idx["cases"].items() if c["kind"] == "layer"}
    nets = {n for n, c in idx["cases"].items() if c["kind"] == "network"}
    assert len(layers) >= 12 and len(nets) >= 4
    ops = set(table[table["kind"] == "layer"]["op"])
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D",
            "MAX_POOL_2D", "MEAN"} <= ops


@pytest.mark.parametrize("config", CONFIGS)
def test_whole_networks_within_10_percent(table, config):
    net = per_network(table[table["config"] == config])
    assert len(net) == 6
    worst = net.loc[net["block_err_pct"].abs().idxmax()]
    assert abs(worst["block_err_pct"]) <= 10, worst.to_dict()


@pytest.mark.parametrize("config", CONFIGS)
def test_single_layers(table, config):
    one = table[(table["config"] == config) & (table["kind"] == "layer")]
    bad = one[one["err"].abs() > 0.25]
    assert bad.empty, bad[["case", "vela", "block"]].to_dict("records")
    assert (one["err"].abs() <= 0.05).mean() >= 0.5


@pytest.mark.parametrize("config", CONFIGS)
def test_layers_inside_networks(table, config):
    inner = table[(table["config"] == config) & (table["kind"] == "network")]
    assert (inner["err"].abs() <= 0.10).mean() >= LAYER_SHARE[config]


def test_block_search_matches_vela():
    idx = load_index()
    total = agree = 0
    for config in CONFIGS:
        cfg = device(config).units["npu"].ethos_u
        for case in idx["cases"].values():
            for ops, vel in zip(recorded_ops(case, config), case["vela"][config]["layers"]):
                det = (vel.get("vela_op_details") or [{}])[0]
                if "ofm_block_h" not in det:
                    continue
                total += 1
                agree += find_block(cfg, ops[0]).ofm == (
                    det["ofm_block_h"], det["ofm_block_w"], det["ofm_block_c"])
    assert total > 700 and agree / total >= 0.97
