"""Hostile-input harness: run the CLI in a subprocess on a copy of the repository's inputs.

Every case asserts the exit code, that the message names what is wrong, that no traceback
appears, that it finishes within a bound, and that nothing outside the output folder changed
(:func:`snapshot` before and after).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliResult:
    """What one ``socsim`` invocation did."""

    code: int
    out: str
    err: str
    seconds: float

    @property
    def text(self) -> str:
        """stdout and stderr together."""
        return self.out + self.err


def run_socsim(*args: str, cwd: Path, timeout: float = 60.0,
               env: dict[str, str] | None = None) -> CliResult:
    """Runs ``python -m socsim *args`` in ``cwd``; fails the test on a traceback or a hang."""
    full_env = {**os.environ, "COLUMNS": "100", **(env or {})}
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "socsim", *args], cwd=cwd,
                           capture_output=True, text=True, timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"socsim {' '.join(args)} did not finish within {timeout} s")
    result = CliResult(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)
    assert "Traceback" not in result.text, result.text
    return result


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, str]]:
    """Size and SHA-256 of every file below ``root`` (not following links), except ``skip``."""
    out = {}
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        d = Path(dirpath)
        if skip is not None and (d == skip or skip in d.parents):
            continue
        for f in files:
            p = d / f
            if p.is_symlink():
                out[str(p.relative_to(root))] = (-1, os.readlink(p))
                continue
            data = p.read_bytes()
            out[str(p.relative_to(root))] = (len(data), hashlib.sha256(data).hexdigest())
    return out


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A scratch copy of devices/, scenarios/ and the small committed workloads."""
    box = tmp_path / "box"
    for sub in ("devices", "scenarios"):
        shutil.copytree(REPO / sub, box / sub)
    (box / "workloads").mkdir()
    for f in (REPO / "workloads").glob("*.onnx"):
        if f.stat().st_size < 2_000_000:
            shutil.copy2(f, box / "workloads" / f.name)
    return box


@pytest.fixture
def cli(sandbox: Path, capsys, monkeypatch):
    """``cli("validate", "x.yaml")``: socsim in-process in a scratch copy of the inputs
    (:class:`tests.hostile._input_cases.InProcess`)."""
    from tests.hostile._input_cases import InProcess

    return InProcess(sandbox, capsys, monkeypatch)
