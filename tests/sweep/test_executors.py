"""The same sweep on local processes, on a Dask cluster of a real ``dask scheduler`` and
``dask worker`` on loopback, and on a Dask LocalCluster: identical results, byte for byte
apart from the timing columns."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from socsim.sweep.executors import DaskExecutor, LocalExecutor
from socsim.sweep.runner import run_sweep
from socsim.sweep.spec import load_sweep
from socsim.sweep.store import TIMING
from tests.sweep._support import write_sweep

# 3 policies x 2 SRAM sizes: the 1 KiB points fail (the input does not fit), recorded as such
BODY = """\
name: exec
scenario: {scenarios}/quickstart.yaml
seed: 3
set: {workloads.0.duration_s: 0.3, workloads.0.arrival: poisson}
axes:
  policy:
    policies:
      - {name: single, params: {unit: npu}}
      - {name: single, params: {unit: cpu}}
      - {name: greedy_eft}
  sram:
    sram: sram0
    values: [4096, 1]
"""
DASK = Path(sys.executable).parent / "dask"


def _without_timing(folder: Path) -> tuple[pd.DataFrame, bytes]:
    df = pd.read_parquet(folder / "results.parquet").drop(columns=list(TIMING))
    csv = pd.read_csv(folder / "results.csv", dtype=str, keep_default_na=False)
    return df, csv.drop(columns=list(TIMING)).to_csv(index=False).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited: {proc.stderr.read()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise TimeoutError(f"no dask scheduler on port {port} after {timeout_s} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def local_result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local")
    sweep = load_sweep(write_sweep(tmp, BODY))
    ex = LocalExecutor(2)
    try:
        result = run_sweep(sweep, tmp / "out", executor=ex)
    finally:
        ex.close()
    assert (result.table["status"] == "ok").sum() == 3
    assert (result.table["status"] == "error").sum() == 3
    assert result.table["error"].dropna().str.contains("larger than 'sram0'").all()
    return sweep, tmp / "out"


@pytest.mark.skipif(not DASK.exists(), reason="the dask command is not installed")
def test_dask_scheduler_and_worker_on_loopback_give_the_same_table(local_result, tmp_path):
    sweep, local = local_result
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port",
                                  str(port), "--no-dashboard"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
    worker = None
    try:
        _wait_port(port, scheduler, 60)
        worker = subprocess.Popen([str(DASK), "worker", address, "--nworkers", "2",
                                   "--nthreads", "1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ex = DaskExecutor(address, workers=2, timeout_s=90)
        try:
            assert ex.workers == 2
            result = run_sweep(sweep, tmp_path / "dask", executor=ex)
        finally:
            ex.close()
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)
    a, a_csv = _without_timing(local)
    b, b_csv = _without_timing(tmp_path / "dask")
    pd.testing.assert_frame_equal(a, b)
    assert a_csv == b_csv
    workers = set(result.table["worker"])
    assert workers and not workers & set(pd.read_parquet(local / "results.parquet")["worker"])


def test_dask_local_cluster_gives_the_same_table(local_result, tmp_path):
    sweep, local = local_result
    ex = DaskExecutor(None, workers=2)
    try:
        run_sweep(sweep, tmp_path / "lc", executor=ex)
    finally:
        ex.close()
    a, a_csv = _without_timing(local)
    b, b_csv = _without_timing(tmp_path / "lc")
    pd.testing.assert_frame_equal(a, b)
    assert a_csv == b_csv


def test_no_scheduler_is_one_error(tmp_path):
    from socsim.sweep.executors import ExecutorError

    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler"):
        DaskExecutor(f"tcp://127.0.0.1:{_free_port()}", timeout_s=2)
