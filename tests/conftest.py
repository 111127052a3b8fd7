"""Shared fixtures (small hand-built ONNX models, device files) and the backend-test summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def two_op_model(k: int = 256, n: int = 64) -> onnx.ModelProto:
    """x[1,k] -> MatMul(W[k,n]) -> y -> Relu -> z: the hand-computed two-op graph."""
    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(k, n)).astype(np.float32),
                                "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"),
             helper.make_node("Relu", ["y"], ["z"], name="relu")]
    graph = helper.make_graph(nodes, "two_op",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, n])],
                              [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


@pytest.fixture
def two_op_path(tmp_path: Path) -> Path:
    path = tmp_path / "two_op.onnx"
    onnx.save(two_op_model(), str(path))
    return path


@pytest.fixture
def tiny_soc_path() -> Path:
    return FIXTURES / "tiny_soc.yaml"


@pytest.fixture(scope="session", autouse=True)
def bundled_zoo_models() -> None:
    """The explicit build step of a fresh checkout: loading a scenario never writes, so the
    zoo models the bundled scenarios name but git does not hold (MobileNetV2) are built here,
    as a user runs ``socsim zoo build NAME`` (a no-op once the files exist)."""
    import re

    from socsim import zoo

    names = {m for p in (REPO / "scenarios").glob("*.yaml")
             for m in re.findall(r"^\s*-?\s*model: \.\./workloads/(\w+)\.onnx", p.read_text(),
                                 re.MULTILINE)}
    for name in sorted(names & set(zoo.NAMES)):
        zoo.ensure(REPO / "workloads" / f"{name}.onnx")


def write_scenario(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# --- ONNX backend test summary -----------------------------------------------------------------
# tests/test_backend.py runs onnx's backend tests as unittest cases; pytest's own line counts
# them among thousands of unselected skips. These hooks count what ran and print the exclusions.

_BACKEND_TESTS = "test_backend.py::OnnxBackend"
_EXCLUDED_PREFIX = "excluded: "
_BACKEND_OUTCOMES: dict[str, Any] = {"passed": set(), "failed": set(), "excluded": {}}


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _BACKEND_TESTS not in report.nodeid:
        return
    name = report.nodeid.rsplit("::", 1)[-1]
    state = _BACKEND_OUTCOMES
    if report.skipped:
        reason = _skip_reason(report)
        if reason.startswith(_EXCLUDED_PREFIX):
            state["excluded"][name] = reason[len(_EXCLUDED_PREFIX):]
    elif report.failed:
        state["failed"].add(name)
    elif report.when == "call" and report.passed:
        state["passed"].add(name)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    passed, failed, excluded = (_BACKEND_OUTCOMES[k] for k in ("passed", "failed", "excluded"))
    if not (passed or failed or excluded):
        return
    write = terminalreporter.write_line
    write("")
    write(f"ONNX backend tests via socsim.backend: ran {len(passed | failed)}, passed "
          f"{len(passed)}, failed {len(failed)}, excluded {len(excluded)}")
    for name in sorted(failed):
        write(f"  failed   {name}")
    for name, reason in sorted(excluded.items()):
        write(f"  excluded {name}: {reason}")
