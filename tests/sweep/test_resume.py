"""An interrupted sweep resumes where it stopped and loses nothing: a sweep is killed with
SIGKILL mid-run, resumed, and no point finished before the kill is run again; the final table
equals an uninterrupted run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from socsim.cli import main
from socsim.sweep.store import TIMING
from tests.sweep._support import SMALL, write_sweep

# ~300 inferences per point (~0.3 s each) simulated op by op (the fast path would replay
# them in a fraction of that): long enough to kill the sweep half-way on a fast machine
SLOW = SMALL.replace("workloads.0.duration_s: 0.3",
                     "workloads.0.duration_s: 10, run.fast_path: false")


def _parts(out) -> list:
    return sorted((out / "parts").glob("part-*.parquet")) if (out / "parts").exists() else []


def test_killed_sweep_resumes_without_recomputing(tmp_path, capsys):
    sweep = write_sweep(tmp_path, SLOW)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "socsim", "sweep", str(sweep), "--out",
                             str(out), "-j", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_parts(out)) < 4:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the sweep never got going"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, at once
        proc.wait(timeout=30)
        proc.stderr.close()
    before = pd.concat([pd.read_parquet(p) for p in _parts(out)])
    finished = set(before["id"])
    assert 4 <= len(finished) < 16, "killed too late to test a resume"
    assert not (out / "results.parquet").exists()

    assert main(["sweep", str(sweep), "--out", str(out), "-j", "1"]) == 1  # not without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(["sweep", str(sweep), "--out", str(out), "-j", "2", "--resume"]) == 0
    printed = capsys.readouterr().out
    assert f"{16 - len(finished)} run now, {len(finished)} from before" in printed

    resumed = pd.read_parquet(out / "results.parquet")
    assert len(resumed) == 16 and resumed["id"].is_unique
    first = resumed[resumed["session"] == 0]
    assert set(first["id"]) == finished  # kept from the killed run: none recomputed
    kept = before.set_index("id").loc[first["id"], "elapsed_s"].to_numpy()
    assert (first["elapsed_s"].to_numpy() == kept).all()
    assert (resumed[resumed["session"] == 1]["id"].isin(finished)).sum() == 0

    whole = tmp_path / "whole"
    assert main(["sweep", str(sweep), "--out", str(whole), "-j", "2"]) == 0
    a = resumed.drop(columns=list(TIMING))
    b = pd.read_parquet(whole / "results.parquet").drop(columns=list(TIMING))
    pd.testing.assert_frame_equal(a, b)
    assert (a["status"] == "ok").all()


def test_resume_of_another_sweep_is_refused(tmp_path, capsys):
    small = write_sweep(tmp_path, SMALL.replace("values: [10, 20]", "values: [10]"))
    out = tmp_path / "out"
    assert main(["sweep", str(small), "--out", str(out), "-j", "1"]) == 0
    changed = write_sweep(tmp_path, SMALL.replace("values: [10, 20]", "values: [20]"))
    capsys.readouterr()
    assert main(["sweep", str(changed), "--out", str(out), "--resume"]) == 1
    assert "holds a different sweep" in capsys.readouterr().err
    assert main(["sweep", str(changed), "--out", str(out), "--overwrite", "-j", "1"]) == 0
    assert set(pd.read_parquet(out / "results.parquet")["rate"]) == {"20"}


@pytest.mark.parametrize("content", ["a file", None])
def test_a_folder_that_is_not_a_sweep_is_refused(tmp_path, capsys, content):
    out = tmp_path / "out"
    if content:
        out.mkdir()
        (out / "notes.txt").write_text(content)
    else:
        out.write_text("a file where the folder goes")
    assert main(["sweep", str(write_sweep(tmp_path, SMALL)), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
