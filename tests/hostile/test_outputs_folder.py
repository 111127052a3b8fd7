"""Hostile report folders: names and paths that escape, files, links, foreign files, reruns.

Every case: exit code, the message naming the option or field and the fix, no traceback, a
time bound, and nothing outside the report folder changed (refusals: nothing changed at all,
and nothing simulated).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.hostile.conftest import snapshot
from tests.hostile.outputs_support import cli, leftovers, refused, tiny_scenario, unchanged

REPORT = {"summary.json", "ops.csv", "transfers.csv", "trace.json", "timeline.png",
          "energy.png"}


@pytest.mark.parametrize("name, shown", [
    ("../../../../x", "'../../../../x' is not a valid name"),
    ("a/b", "'a/b' is not a valid name"),
    ("..", "'..' is not a valid name"),
    ("'a b'", "'a b' is not a valid name"),
    ("x" * 250, "is not a valid name"),
])
@pytest.mark.parametrize("out", [(), ("--out", "out")])
def test_scenario_name_that_is_not_a_file_name_is_refused(sandbox, capsys, name, shown, out):
    """One rule for names (socsim.config.scenario.NAME_PATTERN), with or without --out."""
    scenario = tiny_scenario(sandbox, name=name)
    before = snapshot(sandbox.parent.parent)
    r = cli(capsys, "run", str(scenario), *out, cwd=sandbox)
    refused(r, "tiny.yaml:1:1: name: ", shown, "letters, digits and _ . + -")
    unchanged(before, sandbox.parent.parent)


def test_default_folder_is_reports_name_in_the_working_directory(sandbox, capsys):
    scenario = tiny_scenario(sandbox, name="kws-2")
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), cwd=sandbox)
    assert r.code == 0, r.text
    assert set(os.listdir(sandbox / "reports" / "kws-2")) == REPORT
    unchanged(before, sandbox, skip=sandbox / "reports")


def test_run_out_resolves_against_the_scenario_file(sandbox, tmp_path, capsys):
    scenario = tiny_scenario(sandbox, extra=", out: ../out_from_yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = cli(capsys, "run", str(scenario), cwd=elsewhere)
    assert r.code == 0, r.text
    assert set(os.listdir(sandbox / "out_from_yaml")) == REPORT
    assert os.listdir(elsewhere) == []


def test_run_out_escaping_into_a_folder_of_other_files_is_refused(sandbox, tmp_path, capsys):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0\n")
    scenario = tiny_scenario(sandbox, extra=", out: ../../etc")  # box/scenarios -> tmp/etc
    before = snapshot(tmp_path)
    r = cli(capsys, "run", str(scenario), cwd=sandbox)
    refused(r, f"tiny.yaml:6:35: run.out: {etc}: holds files that are not a socsim report "
            "(passwd)", "hint: move them away or choose another folder with --out (or change "
            "run.out)")
    unchanged(before, tmp_path)


@pytest.mark.parametrize("out, shown", [
    ("", "--out: empty path"),
    (" ", "--out: empty path"),
    (".", "is the working directory or one of its parents"),
    ("..", "is the working directory or one of its parents"),
    ("/", "is the working directory or one of its parents"),
])
def test_out_that_names_no_report_folder_is_refused(sandbox, capsys, out, shown):
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", out, cwd=sandbox)
    refused(r, shown)
    unchanged(before, sandbox)


def test_out_naming_an_existing_file_fails_before_simulating(sandbox, capsys):
    (sandbox / "notes.txt").write_text("mine\n")
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "notes.txt", cwd=sandbox,
            bound_s=10)
    refused(r, "notes.txt: exists and is a file", "hint: choose another folder with --out")
    unchanged(before, sandbox)


def test_out_under_a_file_is_refused(sandbox, capsys):
    (sandbox / "notes.txt").write_text("mine\n")
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "notes.txt/run1", cwd=sandbox)
    refused(r, "notes.txt is a file, not a folder")
    unchanged(before, sandbox)


def test_out_in_an_unwritable_place_fails_before_simulating(sandbox, capsys):
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "/proc/socsim-report",
            cwd=sandbox, bound_s=10)
    refused(r, "/proc/socsim-report: cannot write here", "hint: choose a folder you can write")
    unchanged(before, sandbox)


def test_out_whose_last_name_is_too_long_fails_before_simulating(sandbox, capsys):
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "r" * 300, cwd=sandbox)
    refused(r, "cannot write here: File name too long")
    unchanged(before, sandbox)


@pytest.mark.parametrize("target_is_dir", [False, True])
def test_out_that_is_a_symlink_is_refused(sandbox, tmp_path, capsys, target_is_dir):
    target = tmp_path / "target"
    if target_is_dir:
        target.mkdir()
        (target / "summary.json").write_text("{}\n")
    else:
        target.write_text("precious\n")
    (sandbox / "link").symlink_to(target)
    scenario = tiny_scenario(sandbox)
    before = snapshot(tmp_path)
    r = cli(capsys, "run", str(scenario), "--out", "link", cwd=sandbox)
    refused(r, "link: is a symbolic link; socsim never writes through links")
    unchanged(before, tmp_path)


def test_symlink_inside_the_folder_is_never_followed(sandbox, tmp_path, capsys):
    victim = tmp_path / "victim.json"
    victim.write_text('{"keep": true}\n')
    out = sandbox / "out"
    out.mkdir()
    (out / "summary.json").symlink_to(victim)
    scenario = tiny_scenario(sandbox)
    before = snapshot(tmp_path)
    r = cli(capsys, "run", str(scenario), "--out", "out", cwd=sandbox)
    refused(r, "holds symbolic links (summary.json)", "hint: remove the links")
    unchanged(before, tmp_path)


@pytest.mark.parametrize("intruder", ["notes.txt", "data/"])
def test_folder_holding_foreign_files_is_refused(sandbox, capsys, intruder):
    out = sandbox / "out"
    out.mkdir()
    (out / "ops.csv").write_text("a\n")
    if intruder.endswith("/"):
        (out / intruder).mkdir()
    else:
        (out / intruder).write_text("mine\n")
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "out", cwd=sandbox)
    refused(r, f"holds files that are not a socsim report ({intruder})", "move them away")
    unchanged(before, sandbox)


def test_rerun_without_functional_leaves_no_outputs_npz(sandbox, capsys):
    functional = tiny_scenario(sandbox, functional=True, file="functional.yaml")
    timing = tiny_scenario(sandbox, functional=False, file="timing.yaml")
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(functional), "--out", "out", cwd=sandbox)
    assert r.code == 0 and set(os.listdir(sandbox / "out")) == REPORT | {"outputs.npz"}
    r = cli(capsys, "run", str(timing), "--out", "out", cwd=sandbox)
    assert r.code == 0, r.text
    assert set(os.listdir(sandbox / "out")) == REPORT
    assert leftovers(sandbox) == []
    unchanged(before, sandbox, skip=sandbox / "out")


def test_rerun_is_byte_identical_and_leaves_no_staging(sandbox, capsys):
    scenario = tiny_scenario(sandbox)
    assert cli(capsys, "run", str(scenario), "--out", "a", cwd=sandbox).code == 0
    first = snapshot(sandbox / "a")
    before = snapshot(sandbox, skip=sandbox / "a")
    assert cli(capsys, "run", str(scenario), "--out", "a", cwd=sandbox).code == 0
    assert snapshot(sandbox / "a") == first
    assert leftovers(sandbox) == []
    unchanged(before, sandbox, skip=sandbox / "a")


def test_existing_empty_folder_and_missing_parents_are_fine(sandbox, capsys):
    (sandbox / "empty").mkdir()
    assert cli(capsys, "run", str(tiny_scenario(sandbox)), "--out", "empty",
               cwd=sandbox).code == 0
    assert set(os.listdir(sandbox / "empty")) == REPORT
    assert cli(capsys, "run", str(tiny_scenario(sandbox)), "--out", "a/b/c",
               cwd=sandbox).code == 0
    assert set(os.listdir(sandbox / "a" / "b" / "c")) == REPORT


def test_refused_run_creates_no_parent_folders(sandbox, capsys):
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "a/b/c", "--max-ops", "1",
            cwd=sandbox)
    assert r.code == 1 and "over the limit of 1 ops" in r.err, r.text
    assert not (sandbox / "a").exists()
    unchanged(before, sandbox)


def test_file_slipped_into_the_folder_during_the_run_is_kept(sandbox, capsys, monkeypatch):
    """The folder is checked again just before the swap: a file that appeared meanwhile
    makes the run fail rather than vanish with the earlier report."""
    import socsim.run

    scenario = tiny_scenario(sandbox)
    assert cli(capsys, "run", str(scenario), "--out", "out", cwd=sandbox).code == 0
    earlier = snapshot(sandbox / "out")
    simulate = socsim.run.simulate

    def slipping(*args, **kwargs):
        (sandbox / "out" / "late.txt").write_text("written while socsim ran\n")
        return simulate(*args, **kwargs)

    monkeypatch.setattr(socsim.run, "simulate", slipping)
    r = cli(capsys, "run", str(scenario), "--out", "out", cwd=sandbox)
    assert r.code == 1 and "holds files that are not a socsim report (late.txt)" in r.err
    assert snapshot(sandbox / "out") == {**earlier, "late.txt": snapshot(sandbox / "out")[
        "late.txt"]}
    assert leftovers(sandbox) == []


def test_full_disk_while_writing_keeps_the_earlier_report(sandbox, capsys, monkeypatch):
    import errno

    from socsim.report import write

    scenario = tiny_scenario(sandbox)
    assert cli(capsys, "run", str(scenario), "--out", "out", cwd=sandbox).code == 0
    earlier = snapshot(sandbox / "out")
    dumps = write.json.dumps

    def full(obj, **kwargs):
        if "traceEvents" in obj:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "trace.json")
        return dumps(obj, **kwargs)

    monkeypatch.setattr(write.json, "dumps", full)
    r = cli(capsys, "run", str(scenario), "--out", "out", cwd=sandbox)
    assert r.code == 1, r.text
    assert "trace.json: cannot write: No space left on device" in r.err
    assert "the earlier report is unchanged" in r.err
    assert snapshot(sandbox / "out") == earlier
    assert leftovers(sandbox) == []


def test_summary_json_is_strict(sandbox, capsys):
    r = cli(capsys, "run", str(tiny_scenario(sandbox)), "--out", "out", cwd=sandbox)
    assert r.code == 0

    def no_constants(name):
        raise AssertionError(f"summary.json holds {name}")

    json.loads((sandbox / "out" / "summary.json").read_text(), parse_constant=no_constants)
    json.loads((sandbox / "out" / "trace.json").read_text(), parse_constant=no_constants)


def test_python_api_write_obeys_the_same_rules(sandbox, monkeypatch):
    """``RunResult.write`` (the library's path to a report) checks and swaps the same way."""
    from socsim.report.output import OutputError
    from socsim.run import run_scenario

    monkeypatch.chdir(sandbox)
    result = run_scenario(tiny_scenario(sandbox))
    (sandbox / "taken").write_text("mine\n")
    with pytest.raises(OutputError, match="exists and is a file"):
        result.write("taken")
    paths = result.write(Path("fresh"))
    assert [p.name for p in paths] == ["summary.json", "ops.csv", "transfers.csv",
                                      "trace.json", "timeline.png", "energy.png"]
    assert (sandbox / "taken").read_text() == "mine\n"
