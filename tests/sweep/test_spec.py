"""The sweep file: each mistake is one located message with the fix; axes compile to --set
overrides that the scenario loader applies."""

from __future__ import annotations

import pytest

from socsim.errors import ConfigError
from socsim.sweep.spec import load_sweep
from tests.sweep._support import SMALL, write_sweep


def _error(tmp_path, body: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_sweep(write_sweep(tmp_path, body))
    return [str(p) for p in info.value.problems]


def test_small_sweep_compiles_to_overrides(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, SMALL))
    assert sweep.size == 16
    policy, npu, rate = sweep.axes
    assert policy.labels == ("single(unit=npu)", "single(unit=cpu)", "greedy_eft",
                             'rules(default=cpu,rules=[{"op_types":["Conv"],"unit":"npu"}])')
    assert policy.overrides[2] == ('policy.name="greedy_eft"', "policy.params={}")
    assert npu.overrides == (("run.operating_points.npu=400",), ("run.operating_points.npu=100",))
    assert rate.overrides[1] == ("workloads.0.rate_hz=20",)  # kws is workload 0
    assert sweep.fixed == ("workloads.0.duration_s=0.3", "run.functional=false")


def test_overrides_load_as_the_scenario_loader_reads_them(tmp_path):
    from socsim.run import load
    from socsim.sweep.space import grid_points

    sweep = load_sweep(write_sweep(tmp_path, SMALL))
    point = list(grid_points(sweep))[15]  # rules, 100 MHz, 20 Hz (last axis fastest)
    sc = load(sweep.scenario, point.overrides)
    assert sc.policy.name == "rules" and sc.policy.params["default"] == "cpu"
    assert sc.run.operating_points == {"npu": 100.0}
    assert sc.workloads[0].rate_hz == 20 and sc.workloads[0].duration_s == 0.3
    assert sc.run.functional is False and sc.run.seed == point.seed


@pytest.mark.parametrize("axis, where, says", [
    ("policies: [{name: nosuch}]", "axes.p.policies.0.name", "unknown policy 'nosuch'"),
    ("policies: [{name: single, params: {unti: npu}}]", "axes.p.policies.0.params.unti",
     "unknown parameter 'unti' for policy 'single'"),
    ("policies: [{name: single}]", "axes.p.policies.0.unit",
     "policy 'single' needs parameter 'unit'"),
    ("operating_point: gpu\n    values: [1]", "axes.p.operating_point", "unknown unit 'gpu'"),
    ("sram: sram9\n    values: [1]", "axes.p.sram", "unknown memory 'sram9'"),
    ("rate: nosuch\n    values: [1]", "axes.p.rate", "unknown workload 'nosuch'"),
    ("path: run.sede\n    values: [1]", "axes.p.path", "no field 'sede' there"),
    ("path: soc.memories.sram0.size_kb\n    values: [1]", "axes.p.path",
     "no field 'size_kb'"),
    ("operating_point: npu", "axes.p", "`operating_point` needs `values"),
    ("operating_point: npu\n    sram: sram0\n    values: [1]", "axes.p", "exactly one of"),
    ("operating_point: npu\n    values: [400, 400]", "axes.p.operating_point",
     "repeated values or labels ['400']"),
    ("operating_point: npu\n    values: [400, 200]\n    labels: [fast]", "axes.p.labels",
     "1 labels for 2 values"),
    ("model: kws\n    values: [nothere.onnx]", "axes.p.values.0", "is not a file"),
])
def test_axis_mistakes_are_located(tmp_path, axis, where, says):
    body = f"name: s\nscenario: {{scenarios}}/quickstart.yaml\naxes:\n  p:\n    {axis}\n"
    problems = _error(tmp_path, body)
    assert any("sweep.yaml:" in p and f"{where}: " in p and says in p for p in problems), problems


@pytest.mark.parametrize("body, where, says", [
    ("name: s\nscenario: nothere.yaml\naxes: {p: {rate: kws, values: [1]}}\n",
     "scenario", "is not a file"),
    ("name: s\nscenario: {scenarios}/quickstart.yaml\naxes: {}\n", "axes", "at least 1"),
    ("name: s\nscenario: {scenarios}/quickstart.yaml\nmode: random\n"
     "axes: {p: {rate: kws, values: [1]}}\n", "", "mode: random needs a `random:` section"),
    ("name: s\nscenario: {scenarios}/quickstart.yaml\nmode: random\nrandom: {n: 3}\n"
     "axes: {p: {rate: kws, values: [1, 2]}}\n", "random.n", "3 points asked of a grid of 2"),
    ("name: s\nscenario: {scenarios}/quickstart.yaml\naxes: {status: {rate: kws, "
     "values: [1]}}\n", "axes", "axis name 'status'"),
    ("name: s\nscenario: {scenarios}/quickstart.yaml\nsede: 1\n"
     "axes: {p: {rate: kws, values: [1]}}\n", "sede", "unknown field 'sede' (did you mean "
     "'seed'?)"),
    ("name: s\nscenario: {scenarios}/quickstart.yaml\nmode: search\nsearch: {n_trials: 4, "
     "objectives: {latency: minimize}}\naxes: {p: {rate: kws, values: [1]}}\n",
     "search.objectives.latency", "latency_p99_ms"),
])
def test_file_mistakes_are_located(tmp_path, body, where, says):
    problems = _error(tmp_path, body)
    assert any("sweep.yaml:" in p and f"{where}: " in p and says in p for p in problems) or \
        (where == "" and any(says in p for p in problems)), problems


def test_bad_base_scenario_names_both_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsoc: nothere.yaml\nworkloads: []\npolicy: {name: single}\n")
    problems = _error(tmp_path, "name: s\nscenario: bad.yaml\naxes: {p: {path: run.seed, "
                      "values: [1]}}\n")
    assert any(p.startswith(str(bad)) for p in problems)
    assert any("sweep.yaml:2" in p and "scenario: the base scenario" in p for p in problems)


def test_cli_reports_spec_errors_in_one_line(tmp_path, capsys):
    from socsim.cli import main

    path = write_sweep(tmp_path, "name: s\nscenario: {scenarios}/quickstart.yaml\naxes:\n"
                       "  p: {policies: [{name: nosuch}]}\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "sweep.yaml:4" in err and "axes.p.policies.0.name: unknown policy 'nosuch'" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()
