"""The command line: help lists every command, run writes a report, errors exit non-zero."""

from __future__ import annotations

import subprocess
import sys

from socsim import __version__
from socsim.cli import main
from tests.conftest import REPO


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "validate", "policies"):
        assert command in out


def test_version_via_python_m():
    done = subprocess.run([sys.executable, "-m", "socsim", "--version"], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == f"socsim {__version__}"


def test_run_quickstart_writes_the_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(REPO / "scenarios" / "quickstart.yaml"), "--out", str(out),
                 "--set", "workloads.0.duration_s=0.3", "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert "latency ms" in printed and "DMA bytes" in printed
    assert {p.name for p in out.iterdir()} >= {"summary.json", "ops.csv", "transfers.csv",
                                               "trace.json", "timeline.png", "energy.png"}


def test_run_missing_file_is_one_line_no_traceback(capsys):
    assert main(["run", "does/not/exist.yaml"]) == 1
    err = capsys.readouterr().err
    assert "does/not/exist.yaml: file not found" in err and "Traceback" not in err


def test_usage_error_exits_two(capsys):
    assert main(["frobnicate"]) == 2
