"""In-process counterpart of the subprocess harness, for the output, run and CLI cases.

A subprocess costs 2-5 s on a shared 2-core box (imports and numba's cache); calling
:func:`socsim.cli.main` in the test process costs a fraction of a second once warm, with
the same assertions: exit code, message, no traceback, time bound, nothing outside changed.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

import pytest

from socsim.cli import main
from tests.hostile.conftest import CliResult, snapshot

TINY = """\
name: {name}
soc: ../devices/mcu_m55_u55.yaml
workloads:
  - {{name: kws, model: ../workloads/ds_cnn_int8.onnx, inferences: {inferences}}}
policy: {{name: single, params: {{unit: npu}}}}
run: {{functional: {functional}, seed: 0{extra}}}
"""


def tiny_scenario(box: Path, *, name: str = "tiny", inferences: int = 2,
                  functional: bool = False, extra: str = "", file: str = "tiny.yaml") -> Path:
    """Write a 2-inference DS-CNN scenario (28 ops, timing only) into ``box/scenarios``."""
    path = box / "scenarios" / file
    path.write_text(TINY.format(name=name, inferences=inferences,
                                functional=str(functional).lower(), extra=extra))
    return path


def cli(capsys: pytest.CaptureFixture, *args: str, cwd: Path,
        bound_s: float = 30.0) -> CliResult:
    """Run ``socsim *args`` in this process with ``cwd`` as the working directory.

    Fails the test if an exception escapes :func:`main` (the CLI's traceback), if the output
    holds a traceback, or if the call takes more than ``bound_s`` seconds.
    """
    capsys.readouterr()
    old = Path.cwd()
    os.chdir(cwd)
    t0 = time.perf_counter()
    try:
        code = main(list(args))
    except BaseException:  # noqa: BLE001 - a traceback is the failure under test
        pytest.fail(f"socsim {' '.join(args)} raised:\n{traceback.format_exc()}")
    finally:
        os.chdir(old)
    seconds = time.perf_counter() - t0
    captured = capsys.readouterr()
    result = CliResult(code, captured.out, captured.err, seconds)
    assert "Traceback" not in result.text, result.text
    assert seconds < bound_s, f"socsim {' '.join(args)} took {seconds:.1f} s"
    return result


def refused(result: CliResult, *needles: str, code: int = 1) -> None:
    """Assert a refusal: exit ``code``, an ``error:`` line holding every needle, and no
    simulation (the run's size is stated only once the inputs and the folder passed)."""
    assert result.code == code, result.text
    assert "simulating" not in result.err, result.err
    for needle in needles:
        assert needle in result.err, (needle, result.err)


def unchanged(before: dict, root: Path, skip: Path | None = None) -> None:
    """Assert that nothing below ``root`` (outside ``skip``) changed since ``before``."""
    after = snapshot(root, skip)
    assert after == before, sorted(set(after.items()) ^ set(before.items()))


def leftovers(parent: Path) -> list[str]:
    """Staging folders of an unfinished report left in ``parent``."""
    return sorted(p.name for p in parent.iterdir() if p.name.endswith(".partial"))
