"""Hostile run sizes and seeds: a run states its size and refuses past --max-ops, fast.

Each case: exit code, the message naming the field or option and the fix, no traceback, a
time bound well below what simulating would take, nothing written.
"""

from __future__ import annotations

import pytest

from tests.hostile.conftest import snapshot
from tests.hostile.outputs_support import cli, refused, tiny_scenario, unchanged

OPEN = """\
name: open
soc: ../devices/mcu_m55_u55.yaml
workloads:
  - {name: kws, model: ../workloads/ds_cnn_int8.onnx, rate_hz: 10, duration_s: 1,
     arrival: poisson}
policy: {name: single, params: {unit: npu}}
run: {functional: false}
"""


@pytest.fixture
def open_loop(sandbox):
    path = sandbox / "scenarios" / "open.yaml"
    path.write_text(OPEN)
    return path


@pytest.mark.parametrize("override, shown", [
    ("workloads.0.inferences=1000000000000",
     "1,000,000,000,000 inferences, 13,000,000,000,000 ops"),
    ("workloads.0.inferences=200000", "200,000 inferences, 2,600,000 ops (kws: 200,000 x 13)"),
])
def test_closed_loop_past_the_limit_is_refused_with_its_size(sandbox, capsys, override, shown):
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "out", "--set", override, cwd=sandbox,
            bound_s=15)
    if "1000000000000" in override and "over the limit" not in r.err:
        # the input side may bound `inferences` itself; then its message names the field
        refused(r, "workloads.0.inferences")
    else:
        refused(r, f"error: the run is {shown}", "over the limit of 2,000,000 ops",
                "--max-ops")
    unchanged(before, sandbox)


@pytest.mark.parametrize("override", ["workloads.0.rate_hz=1e308",
                                      "workloads.0.duration_s=.inf",
                                      "workloads.0.duration_s=1e300"])
def test_open_loop_without_end_is_refused(sandbox, capsys, open_loop, override):
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(open_loop), "--out", "out", "--set", override, cwd=sandbox,
            bound_s=15)
    assert r.code == 1, r.text
    assert "simulating" not in r.err
    field = override.split("=")[0]
    assert "over the limit of 2,000,000 ops" in r.err or field in r.err, r.err
    unchanged(before, sandbox)


def test_max_ops_raises_and_lowers_the_limit(sandbox, capsys):
    scenario = tiny_scenario(sandbox)  # 2 inferences x 13 ops (its Flatten is a view, not simulated)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "out", "--max-ops", "25", cwd=sandbox)
    refused(r, "the run is 2 inferences, 26 ops (kws: 2 x 13), over the limit of 25 ops",
            "raise the limit: --max-ops 26")
    unchanged(before, sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "out", "--max-ops", "26", cwd=sandbox)
    assert r.code == 0 and "simulating 2 inferences, 26 ops (kws: 2 x 13)" in r.err, r.text


def test_open_loop_size_is_stated_as_an_expectation(sandbox, capsys, open_loop):
    r = cli(capsys, "run", str(open_loop), "--out", "out", cwd=sandbox)
    assert r.code == 0, r.text
    assert "simulating about 10 inferences, about 130 ops (kws: 10 x 13)" in r.err


@pytest.mark.parametrize("args, shown", [
    (("--seed", "-1"), "Invalid value for '--seed'"),
    (("--max-ops", "0"), "Invalid value for '--max-ops'"),
    (("--max-ops", "lots"), "Invalid value for '--max-ops'"),
    (("--frobnicate",), "No such option"),
])
def test_bad_options_are_usage_errors(sandbox, capsys, open_loop, args, shown):
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(open_loop), "--out", "out", *args, cwd=sandbox, bound_s=10)
    refused(r, shown, "Try 'socsim run --help'", code=2)
    unchanged(before, sandbox)


def test_negative_seed_in_the_file_names_the_field(sandbox, capsys, open_loop):
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(open_loop), "--out", "out", "--set", "run.seed=-1",
            cwd=sandbox, bound_s=10)
    refused(r, "run.seed")
    unchanged(before, sandbox)


def test_missing_scenario_is_one_line(sandbox, capsys):
    before = snapshot(sandbox)
    r = cli(capsys, "run", "scenarios/nope.yaml", "--out", "out", cwd=sandbox)
    refused(r, "scenarios/nope.yaml: file not found")
    assert len(r.err.strip().splitlines()) == 1
    unchanged(before, sandbox)
