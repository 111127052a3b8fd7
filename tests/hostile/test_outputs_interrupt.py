"""Ctrl-C while a run writes over an earlier report: the folder is always whole.

After every interruption the report folder holds exactly the earlier run's files or exactly
the new run's (compared byte for byte with a reference written without interruption), no
staging folder is left beside it, the exit status is 130 and one line says what was left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from socsim.cli import main
from tests.hostile.conftest import REPO, snapshot
from tests.hostile.outputs_support import cli, leftovers, tiny_scenario


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> Path:
    """Made once per module: an earlier (functional) report in ``out`` and, for reference,
    the new run's (timing-only) report in ``ref_new``. Reports hold no paths, so copies of
    them compare byte for byte with runs made in any sandbox."""
    box = tmp_path_factory.mktemp("references")
    for sub in ("devices", "scenarios"):
        shutil.copytree(REPO / sub, box / sub)
    (box / "workloads").mkdir()
    shutil.copy2(REPO / "workloads" / "ds_cnn_int8.onnx", box / "workloads")
    earlier = tiny_scenario(box, functional=True, file="earlier.yaml")
    new = tiny_scenario(box, functional=False, file="new.yaml")
    for scenario, folder in ((earlier, "out"), (new, "ref_new")):
        assert main(["run", str(scenario), "--out", str(box / folder)]) == 0
    return box


@pytest.fixture
def reports(sandbox, references, capsys):
    """The sandbox with copies of the module's earlier report (``out``) and new reference
    (``ref_new``); returns (sandbox, the new run's scenario)."""
    for folder in ("out", "ref_new"):
        shutil.copytree(references / folder, sandbox / folder)
    tiny_scenario(sandbox, functional=True, file="earlier.yaml")
    capsys.readouterr()
    return sandbox, tiny_scenario(sandbox, functional=False, file="new.yaml")


def _whole(box: Path, folder: str = "out") -> str:
    """Which report ``folder`` holds: 'earlier' or 'new'; fails on a mix or a leftover."""
    assert leftovers(box) == [], leftovers(box)
    got = snapshot(box / folder)
    earlier = snapshot(box / "earlier_copy") if (box / "earlier_copy").exists() else None
    if got == snapshot(box / "ref_new"):
        return "new"
    assert got == earlier, f"{folder} holds a mix: {sorted(got)}"
    return "earlier"


def _one_interrupt_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if not ln.startswith("simulating ")]
    assert len(lines) == 1 and lines[0].startswith("interrupted: "), err
    return lines[0]


@pytest.mark.parametrize("at_file", range(7))
def test_interrupt_while_writing_each_file(reports, capsys, monkeypatch, at_file):
    """Ctrl-C as the n-th report file is half written (n = 0..5), or during the simulation
    (n = 6: before any file)."""
    import socsim.run
    from socsim.report import write

    box, new = reports
    shutil.copytree(box / "out", box / "earlier_copy")
    if at_file == 6:
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(socsim.run, "simulate", interrupted)
    else:
        opened = []

        def half_then_interrupt(path, mode="r", *args, **kwargs):
            fh = open(path, mode, *args, **kwargs)  # noqa: SIM115 (returned to the writer)
            opened.append(path)
            if len(opened) == at_file + 1:
                fh.write(b"{" if "b" in mode else "{")
                fh.flush()
                raise KeyboardInterrupt
            return fh
        monkeypatch.setattr(write, "open", half_then_interrupt, raising=False)
    r = cli(capsys, "run", str(new), "--out", "out", cwd=box)
    assert r.code == 130, r.text
    line = _one_interrupt_line(r.err)
    assert line == f"interrupted: {box / 'out'}/ still holds the earlier report, unchanged"
    assert _whole(box) == "earlier"


def test_interrupt_during_the_swap_is_held_until_the_new_report_is_in(reports, capsys,
                                                                      monkeypatch):
    """A real SIGINT arriving while the folders are exchanged is delivered right after:
    the new report is complete and the message says so."""
    from socsim.report import output

    box, new = reports
    exchange = output._exchange

    def signalled(a, b):
        os.kill(os.getpid(), signal.SIGINT)
        return exchange(a, b)

    monkeypatch.setattr(output, "_exchange", signalled)
    r = cli(capsys, "run", str(new), "--out", "out", cwd=box)
    assert r.code == 130, r.text
    assert _one_interrupt_line(r.err) == (
        f"interrupted: {box / 'out'}/ holds this run's complete report")
    assert _whole(box) == "new"


def test_interrupt_before_a_first_report_leaves_nothing(sandbox, capsys, monkeypatch):
    import socsim.run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(socsim.run, "simulate", interrupted)
    scenario = tiny_scenario(sandbox)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "a/b", cwd=sandbox)
    assert r.code == 130
    assert _one_interrupt_line(r.err) == (
        f"interrupted: no report was written ({sandbox / 'a' / 'b'}/ does not exist)")
    assert not (sandbox / "a").exists()
    assert snapshot(sandbox) == before


_POINTS = {  # what must exist in the staging folder before SIGINT is sent
    "simulating": (), "summary.json": ("summary.json",), "ops.csv": ("ops.csv",),
    "trace.json": ("trace.json",),
}


def test_sigint_at_several_points_of_a_real_run(reports, capsys):
    """``socsim run`` in subprocesses (at once, to save time), each sent SIGINT at another
    point: during the simulation, and as summary.json, ops.csv and trace.json are written."""
    box, _ = reports
    shutil.copytree(box / "out", box / "earlier_copy")
    scenario = tiny_scenario(box, inferences=300, file="big.yaml")
    # the process interrupted while simulating gets seconds of simulation (10,000 inferences),
    # so that the signal lands inside it even on a fast, idle machine
    long_run = tiny_scenario(box, inferences=10_000, file="long.yaml")
    # the reference new report for this scenario, and one copy of the earlier per process
    assert cli(capsys, "run", str(scenario), "--out", "ref_new", cwd=box).code == 0
    procs = {}
    for point in _POINTS:
        shutil.copytree(box / "earlier_copy", box / f"out_{point}")
        chosen = long_run if point == "simulating" else scenario
        procs[point] = subprocess.Popen(
            [sys.executable, "-m", "socsim", "run", str(chosen), "--out", f"out_{point}"],
            cwd=box, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "COLUMNS": "100"})
    sent: dict[str, float] = {}
    deadline = time.monotonic() + 120
    while len(sent) < len(procs) and time.monotonic() < deadline:
        for point, proc in procs.items():
            if point in sent or proc.poll() is not None:
                continue
            staging = [p for p in box.iterdir() if p.name.startswith(f".out_{point}.")]
            if staging and all((staging[0] / f).exists() for f in _POINTS[point]):
                if point == "simulating":
                    time.sleep(0.1)
                proc.send_signal(signal.SIGINT)
                sent[point] = time.monotonic()
        time.sleep(0.005)
    results = {point: proc.communicate(timeout=60) for point, proc in procs.items()}
    for point, proc in procs.items():
        out, err = results[point]
        assert "Traceback" not in out + err, err
        assert point in sent, f"{point}: finished before it could be interrupted ({err})"
        state = _whole(box, f"out_{point}")
        if point == "simulating":  # seconds of simulation left: always stopped, before the swap
            assert proc.returncode == 130, (point, proc.returncode, err)
            assert state == "earlier", (point, err)
            continue
        # once summary.json is written, what is left (the op table, the trace, two plots)
        # takes well under a second on a fast machine: the run may finish first
        if proc.returncode in (0, -signal.SIGINT):
            # on a loaded box the last files can win the race: the run finished (0), or the
            # signal landed while the interpreter was exiting, after the swap, when CPython has
            # put back the default action (killed by SIGINT): either way the new report is whole
            assert state == "new", (point, proc.returncode)
            continue
        assert proc.returncode == 130, (point, proc.returncode, err)
        line = _one_interrupt_line(err)
        # before the swap: the earlier report; during or after it: this run's, complete
        assert state == ("earlier" if "still holds the earlier report" in line else "new"), (
            point, line)
