"""Every class of bad input gets one located message: file:line:col: field.path: message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from socsim.cli import main
from socsim.config import load_scenario, load_soc
from socsim.errors import ConfigError
from tests.conftest import FIXTURES, REPO

TINY = (FIXTURES / "tiny_soc.yaml").read_text()


def _soc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "soc.yaml"
    path.write_text(text)
    return path


def _problems(fn, *args) -> list[str]:
    with pytest.raises(ConfigError) as info:
        fn(*args)
    return [str(p) for p in info.value.problems]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_valid_fixture_loads():
    soc = load_soc(FIXTURES / "tiny_soc.yaml")
    assert set(soc.units) == {"cpu", "npu"} and soc.memories["sram"].page_bytes == 1024


def test_malformed_yaml_names_line_and_column(tmp_path):
    path = _soc(tmp_path, "name: x\nunits: [a, b\n")
    (msg,) = _problems(load_soc, path)
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: malformed YAML", msg)


def test_unknown_field_is_an_error_with_a_suggestion(tmp_path):
    text = TINY.replace("    vector_bits_per_cycle: 64", "    vector_bit_per_cycle: 64")
    path = _soc(tmp_path, text)
    msgs = _problems(load_soc, path)
    line = _line_of(text, "vector_bit_per_cycle")
    typo = [m for m in msgs if "unknown field" in m]
    assert typo == [f"{path}:{line}:5: units.cpu.vector_bit_per_cycle: unknown field "
                    f"'vector_bit_per_cycle' (did you mean 'vector_bits_per_cycle'?); valid "
                    f"fields: {typo[0].split('valid fields: ')[1]}"]
    assert any("units.cpu.vector_bits_per_cycle: required field" in m for m in msgs)


def test_duplicate_key_is_an_error(tmp_path):
    text = TINY.replace("    cores: 1\n", "    cores: 1\n    cores: 2\n", 1)
    path = _soc(tmp_path, text)
    (msg,) = _problems(load_soc, path)
    assert msg.startswith(f"{path}:{_line_of(text, 'cores: 2')}:5: units.cpu.cores: duplicate key")


def test_negative_bandwidth(tmp_path):
    text = TINY.replace("bw_gbps: 0.5, read_pj", "bw_gbps: -0.5, read_pj")
    path = _soc(tmp_path, text)
    (msg,) = _problems(load_soc, path)
    assert msg.startswith(f"{path}:{_line_of(text, 'bw_gbps: -0.5')}:")
    assert "memories.dram.bw_gbps: -0.5 is outside the plausible range 1e-06 ≤ x ≤ 100000 GB/s" in msg


def test_sram_smaller_than_a_page(tmp_path):
    text = TINY.replace("  sram: {kind: sram, size_kib: 64, page_kib: 1",
                        "  sram: {kind: sram, size_kib: 1, page_kib: 4", 1)
    (msg,) = _problems(load_soc, _soc(tmp_path, text))
    assert "memories.sram: page_kib=4 is larger than size_kib=1" in msg


def test_unit_names_an_unknown_memory(tmp_path):
    text = TINY.replace("memories: [sram, dram]", "memories: [ddr, dram]")
    path = _soc(tmp_path, text)
    (msg,) = _problems(load_soc, path)
    assert msg.startswith(f"{path}:{_line_of(text, '[ddr, dram]')}:")
    assert "units.cpu.memories.0: unknown memory 'ddr'" in msg


def test_weights_in_must_be_addressable(tmp_path):
    text = TINY.replace("weights_in: dram", "weights_in: npu_sram")
    (msg,) = _problems(load_soc, _soc(tmp_path, text))
    assert "units.cpu: weights_in='npu_sram' is not one of this unit's memories" in msg


def test_unknown_unit_kind_lists_valid_kinds(tmp_path):
    text = TINY.replace("kind: npu", "kind: gpu")
    (msg,) = _problems(load_soc, _soc(tmp_path, text))
    assert "units.npu" in msg and "'cpu', 'npu', 'dsp', 'fpga'" in msg


def _scenario(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(f"name: s\nsoc: {FIXTURES / 'tiny_soc.yaml'}\n{body}")
    return path


def test_model_path_must_exist(tmp_path):
    path = _scenario(tmp_path, "workloads:\n  - {name: w, model: nope.onnx, inferences: 1}\n"
                               "policy: {name: single, params: {unit: cpu}}\n")
    (msg,) = _problems(load_scenario, path)
    assert msg.startswith(f"{path}:4:") and "workloads.0.model: model file" in msg
    assert "does not exist" in msg


def test_arrival_mode_must_be_one_of_two(tmp_path, two_op_path):
    path = _scenario(tmp_path, f"workloads:\n  - {{name: w, model: {two_op_path}, "
                               "inferences: 1, rate_hz: 5}\npolicy: {name: greedy_eft}\n")
    (msg,) = _problems(load_scenario, path)
    assert "workloads.0: give either `inferences: N` or both `rate_hz` and `duration_s`" in msg


def test_operating_point_must_exist(tmp_path, two_op_path):
    path = _scenario(tmp_path, f"workloads:\n  - {{name: w, model: {two_op_path}, "
                               "inferences: 1}\npolicy: {name: greedy_eft}\n"
                               "run: {operating_points: {cpu: 123}}\n")
    (msg,) = _problems(load_scenario, path)
    assert "run.operating_points.cpu: 123 MHz is not an operating point of 'cpu'" in msg


def test_overrides_are_validated_and_located(tmp_path, two_op_path):
    path = _scenario(tmp_path, f"workloads:\n  - {{name: w, model: {two_op_path}, "
                               "inferences: 1}\npolicy: {name: greedy_eft}\n")
    scenario = load_scenario(path, ["workloads.0.inferences=7", "run.seed=3"])
    assert scenario.workloads[0].inferences == 7 and scenario.run.seed == 3
    (msg,) = _problems(load_scenario, path, ["workloads.0.inferences=-2"])
    assert msg.startswith("--set workloads.0.inferences=-2: workloads.0.inferences: -2 is "
                          "outside the plausible range 1 ≤ x ≤ 1e+06")
    (msg,) = _problems(load_scenario, path, ["run.sede=3"])
    assert "run.sede: unknown field 'sede' (did you mean 'seed'?)" in msg


def test_cli_validate_policy_naming_a_missing_unit(tmp_path, two_op_path, capsys):
    path = _scenario(tmp_path, f"workloads:\n  - {{name: w, model: {two_op_path}, "
                               "inferences: 1}\npolicy: {name: single, params: {unit: dsp}}\n")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:5:" in err and "policy.params.unit: unknown unit 'dsp'" in err
    assert "Traceback" not in err


def test_cli_validate_unknown_policy_and_param(tmp_path, two_op_path, capsys):
    path = _scenario(tmp_path, f"workloads:\n  - {{name: w, model: {two_op_path}, "
                               "inferences: 1}\npolicy: {name: fastest}\n")
    assert main(["validate", str(path)]) == 1
    from socsim.policies import available_policies

    assert (f"policy.name: unknown policy 'fastest'; available: {available_policies()}"
            in capsys.readouterr().err)
    path.write_text(path.read_text().replace("{name: fastest}",
                                             "{name: single, params: {unit: cpu, x: 1}}"))
    assert main(["validate", str(path)]) == 1
    assert "policy.params.x: unknown parameter 'x' for policy 'single'" in capsys.readouterr().err


def test_cli_validate_ok_exits_zero(capsys):
    assert main(["validate", str(FIXTURES / "tiny_soc.yaml")]) == 0
    assert "ok (device 'tiny')" in capsys.readouterr().out


def test_inline_soc_and_its_errors(tmp_path, two_op_path):
    import yaml

    soc = yaml.safe_load((FIXTURES / "float_soc.yaml").read_text())
    body = yaml.safe_dump({"name": "inline", "soc": soc, "workloads": [
        {"name": "w", "model": str(two_op_path), "inferences": 1}],
        "policy": {"name": "single", "params": {"unit": "acc"}}}, sort_keys=False)
    path = tmp_path / "inline.yaml"
    path.write_text(body)
    assert load_scenario(path).device.name == "float_pair"
    path.write_text(body.replace("bw_gbps: 2.0", "bw_gbps: 0"))
    (msg,) = _problems(load_scenario, path)
    assert "soc.memories.acc_sram.bw_gbps: 0 is outside the plausible range" in msg
    assert msg.startswith(f"{path}:{_line_of(body, 'bw_gbps: 2.0')}:")


def test_an_override_of_a_field_the_file_leaves_out_names_its_full_path():
    # units are a union discriminated on `kind`: pydantic's error path carries the tag
    with pytest.raises(ConfigError) as info:
        load_soc(REPO / "devices" / "zynq_us.yaml", ["units.fpga.weights_prefetch=-1"])
    problem = info.value.problems[0]
    assert problem.path == "units.fpga.weights_prefetch"
    assert problem.file == "--set units.fpga.weights_prefetch=-1"


@pytest.mark.parametrize(("sets", "path", "says"), [
    (["units.cpu.thermal_zone=die"], "units.cpu.thermal_zone", "unknown thermal zone 'die'"),
    (["thermal_zones={die: {r_k_per_w: 10, c_j_per_k: 0.1}}", "units.cpu.thermal_zone=die",
      "units.cpu.thermal={r_k_per_w: 10, c_j_per_k: 0.1}"], "units.cpu.thermal",
     "drop its own `thermal` or its `thermal_zone`")])
def test_thermal_zone_references_are_checked(sets, path, says):
    with pytest.raises(ConfigError) as info:
        load_soc(FIXTURES / "float_soc.yaml", sets)
    (problem,) = info.value.problems
    assert problem.path == path and says in problem.message
