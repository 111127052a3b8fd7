"""Hostile YAML: bounded work before any work, one located message per problem, the right
file blamed (a line of the file, the `soc:` that names it, or the `--set` that caused it)."""

from __future__ import annotations

import copy
import os
import re

import pytest

from tests.hostile._input_cases import DEVICE, SCENARIO, edited, errors, line_of, set_path

ALIAS_BOMB = "".join(
    [f"a0: &a0 [{', '.join(['x'] * 9)}]\n"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)]
    + ["name: bomb\nunits: *a8\n"])


def _one_error(result, code: int = 1) -> str:
    assert result.code == code, result.text
    msgs = errors(result)
    assert len(msgs) == 1, result.err
    return msgs[0]


def test_alias_bomb_is_refused_before_expanding(cli, sandbox):
    path = sandbox / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    msg = _one_error(cli("validate", "bomb.yaml", bound=3))
    assert re.match(r"bomb\.yaml:\d+:\d+: ", msg)
    assert "expands to more than 100,000 values (YAML aliases *name repeat &name's value)" in msg


def test_fifty_megabyte_document_is_refused_unread(cli, sandbox):
    path = sandbox / "huge.yaml"
    line = "# " + "x" * 98 + "\n"
    path.write_text("name: huge\n" + line * 500_000)  # 50 MB
    msg = _one_error(cli("validate", "huge.yaml", bound=3))
    assert msg.startswith("huge.yaml: ") and "1,048,576-byte limit" in msg


def test_large_valid_document_loads_fast(cli, sandbox):
    def many_units(d: dict) -> None:
        d["units"].update({f"cpu{i}": copy.deepcopy(d["units"]["cpu"]) for i in range(1, 700)})

    path = edited(sandbox, DEVICE, many_units, "many.yaml")
    assert 400_000 < path.stat().st_size < 1 << 20
    result = cli("validate", "devices/many.yaml", bound=5)
    assert result.code == 0 and "ok (device 'mcu_m55_u55')" in result.out


@pytest.mark.parametrize("depth, expected", [
    (200, r"deep\.yaml:2:\d+: nested more than 64 lists or mappings deep"),
    (5000, r"deep\.yaml:2:\d+: malformed YAML: exceeded maximum nesting depth; socsim files "
           r"nest fewer than 10 levels"),
], ids=["200-levels", "5000-levels"])
def test_deep_nesting_is_refused(cli, sandbox, depth, expected):
    (sandbox / "deep.yaml").write_text("name: deep\nunits: " + "[" * depth + "]" * depth + "\n")
    assert re.match(expected, _one_error(cli("validate", "deep.yaml", bound=3)))


@pytest.mark.parametrize("text, expected", [
    ("", "deep.yaml:1:1: the file is empty; a socsim file is a mapping"),
    ("# only a comment\n", "deep.yaml:1:1: the file is empty"),
    ("- name: a\n- name: b\n", "deep.yaml:1:1: the top level is a list; a socsim file is a "
                               "mapping with the fields of a scenario (name, soc"),
    ("just a sentence\n", "deep.yaml:1:1: the top level is a single string"),
    ("name: x\nother: 1\n", "deep.yaml:1:1: neither a scenario (name, soc, workloads, policy"),
], ids=["empty", "comment-only", "top-level-list", "top-level-string", "neither-kind"])
def test_file_that_is_not_a_mapping(cli, sandbox, text, expected):
    (sandbox / "deep.yaml").write_text(text)
    assert _one_error(cli("validate", "deep.yaml")).startswith(expected)


def test_empty_scenario_given_to_run(cli, sandbox):
    (sandbox / "scenarios" / "empty.yaml").write_text("")
    msg = _one_error(cli("run", "scenarios/empty.yaml"))
    assert msg.startswith("scenarios/empty.yaml:1:1: the file is empty; a scenario is a mapping "
                          "with name, soc, workloads, policy")


def test_not_utf8(cli, sandbox):
    (sandbox / "bin.yaml").write_bytes(b"name: x\nunits: \xff\xfe\n")
    msg = _one_error(cli("validate", "bin.yaml"))
    assert msg.startswith("bin.yaml:2: not UTF-8 text (byte 0xff); save it as UTF-8")


def test_directory_instead_of_file(cli, sandbox):
    msg = _one_error(cli("validate", "devices"))
    assert msg == "devices: a directory; give the path of a YAML file"


def test_scenario_path_is_a_symlink_loop(cli, sandbox):
    os.symlink("loop_b.yaml", sandbox / "loop_a.yaml")
    os.symlink("loop_a.yaml", sandbox / "loop_b.yaml")
    msg = _one_error(cli("run", "loop_a.yaml"))
    assert msg.startswith("loop_a.yaml: cannot read (Too many levels of symbolic links)")


@pytest.mark.parametrize("text, expected", [
    ("name: x\n? [a, b]\n: 1\n", r"k\.yaml:2:3: a key must be a plain name, not a list or "
                                 r"mapping; write `name: value`"),
    ("name: x\nname: y\nunits: {}\n", r"k\.yaml:2:1: name: duplicate key 'name' .*delete one"),
    ("name: !!python/object/apply:os.system ['touch pwned']\n",
     r"k\.yaml:1:7: malformed YAML: could not determine a constructor for the tag"
     r".*; socsim reads plain YAML"),
    ("name: a\n---\nname: b\n",
     r"k\.yaml:2:1: malformed YAML: but found another document; a socsim file holds one YAML "
     r"document"),
    ("name: [a, b\nunits: 1\n", r"k\.yaml:\d+:\d+: malformed YAML: .*; fix the syntax"),
], ids=["complex-key", "duplicate-key", "python-tag", "two-documents", "unclosed-list"])
def test_yaml_that_socsim_refuses(cli, sandbox, text, expected):
    (sandbox / "k.yaml").write_text(text)
    assert re.match(expected, _one_error(cli("validate", "k.yaml")))
    assert not (sandbox / "pwned").exists()


def test_soc_naming_a_scenario_file(cli, sandbox):
    path = edited(sandbox, SCENARIO, lambda d: d.update(soc="quickstart.yaml"), "wrong_soc.yaml")
    msg = _one_error(cli("validate", "scenarios/wrong_soc.yaml"))
    assert msg.startswith(f"scenarios/wrong_soc.yaml:{line_of(path, ('soc',))}:1: soc: "
                          "'quickstart.yaml': this is a scenario (it has `workloads`), not a "
                          "device file")


def test_soc_naming_a_missing_file(cli, sandbox):
    path = edited(sandbox, SCENARIO, lambda d: d.update(soc="../devices/nope.yaml"), "nos.yaml")
    msg = _one_error(cli("validate", "scenarios/nos.yaml"))
    assert msg == (f"scenarios/nos.yaml:{line_of(path, ('soc',))}:1: soc: device file "
                   "'../devices/nope.yaml': file not found; check the path")


def test_run_given_a_device_file(cli, sandbox):
    msg = _one_error(cli("run", DEVICE))
    assert msg.startswith(f"{DEVICE}:{line_of(sandbox / DEVICE, ())}:1: this is a device file "
                          "(it has `units`), not a scenario")


def test_set_of_an_unknown_field_names_the_set(cli):
    msg = _one_error(cli("run", SCENARIO, "--set", "nosuch.field=1"))
    assert msg.startswith("--set nosuch.field=1: nosuch: unknown field 'nosuch'; valid fields: "
                          "name, soc, soc_set, workloads, policy, run")
    assert "quickstart.yaml" not in msg


def test_set_of_a_device_field_names_the_set(cli):
    msg = _one_error(cli("run", SCENARIO, "--set", "soc.units.npu.cores=1e12"))
    assert msg == ("--set soc.units.npu.cores=1e12: units.npu.cores: expected a whole number, "
                   "got 1000000000000.0; drop the fraction or exponent")


@pytest.mark.parametrize("assignment, expected", [
    ("workloads.3.name=x", "cannot descend into 'workloads.3': it is not a mapping or an "
                           "existing list index (valid here: indices 0..0)"),
    ("novalue", "expected dotted.path=value"),
    ("run..seed=1", "expected dotted.path=value"),
    ("name.first=1", "cannot descend into 'name'"),
], ids=["index-out-of-range", "no-equals", "empty-part", "into-a-string"])
def test_malformed_set(cli, assignment, expected):
    msg = _one_error(cli("run", SCENARIO, "--set", assignment))
    assert msg.startswith(f"--set {assignment}: ") and expected in msg


def test_soc_set_error_names_its_scenario_line(cli, sandbox):
    path = edited(sandbox, SCENARIO, lambda d: d.update(
        soc_set=["units.npu.cores=2", "memories.sram0.bw_gbps=true"]), "socset.yaml")
    msg = _one_error(cli("validate", "scenarios/socset.yaml"))
    assert msg.startswith(f"scenarios/socset.yaml:{line_of(path, ('soc_set', 1))}:")
    assert ("soc_set.1: memories.sram0.bw_gbps: expected a number, got the boolean true" in msg)


def test_set_that_breaks_a_workload_is_named(cli):
    msg = _one_error(cli("run", SCENARIO, "--set", "workloads.0.inferences=3"))
    assert "workloads.0: give either `inferences: N` or both" in msg
    assert msg.endswith("(after --set workloads.0.inferences=3)")


def test_symlinked_device_outside_is_read_not_written(cli, sandbox, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text((sandbox / DEVICE).read_text())
    before = outside.read_bytes()
    (sandbox / "devices" / "link.yaml").symlink_to(outside)
    assert cli("validate", "devices/link.yaml").code == 0
    assert outside.read_bytes() == before


def test_yaml12_exponent_floats_are_numbers(cli, sandbox):
    edited(sandbox, DEVICE, lambda d: set_path(d, ("memories", "sram0", "size_kib"), "4.096e3"),
           "exp.yaml")
    text = (sandbox / "devices" / "exp.yaml").read_text().replace("'4.096e3'", "4.096e3")
    (sandbox / "devices" / "exp.yaml").write_text(text)
    assert cli("validate", "devices/exp.yaml").code == 0


@pytest.mark.parametrize("assignment, expected", [
    ("soc.units.npu.ops=Conv", "--set soc.units.npu.ops=Conv: units.npu.ops: expected a list "
                               "(`- item` lines or [1, 2]), got 'Conv'"),
    ("soc.units=[]", "--set soc.units=[]: units: expected a mapping (indented `name: value` "
                     "lines or {name: value}), got a list"),
    ("run=null", "--set run=null: run: expected a mapping (indented `name: value` lines or "
                 "{name: value}), got an empty value (null)"),
], ids=["string-for-list", "list-for-mapping", "null-for-mapping"])
def test_wrong_kind_of_value(cli, assignment, expected):
    assert _one_error(cli("run", SCENARIO, "--set", assignment)) == expected


def test_unknown_governor_is_located_by_validate_and_run(cli, sandbox):
    """Governors are a registry (socsim.hw.governors): an unknown name is refused before any
    simulation, at the field that names it, listing the registered ones."""
    bad = edited(sandbox, SCENARIO, lambda d: set_path(d, ("run", "governors", "npu"),
                                                       {"name": "turbo"}), "bad_governor.yaml")
    line = line_of(bad, ("run", "governors", "npu", "name"))
    for command in ("validate", "run"):
        result = cli(command, "scenarios/bad_governor.yaml", writes="reports")
        assert result.code == 1, result.text
        (msg,) = errors(result)
        assert msg.startswith(f"scenarios/bad_governor.yaml:{line}:"), msg
        assert "run.governors.npu.name: unknown governor 'turbo'; registered: " in msg, msg
        assert "ondemand" in msg and "thermal" in msg
