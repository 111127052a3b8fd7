"""Helpers of the hostile-input tests: the CLI in-process, edited copies of bundled files, and
tiny ONNX models with one thing wrong.

In-process cases call :func:`socsim.cli.main`, the function the ``socsim`` entry point runs,
so they see exactly the CLI's exit code and messages without a 2 s interpreter start each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper, numpy_helper

from socsim.cli import main
from tests.conftest import FIXTURES
from tests.hostile.conftest import CliResult, snapshot

DEVICE = "devices/mcu_m55_u55.yaml"
SCENARIO = "scenarios/quickstart.yaml"


@dataclass
class InProcess:
    """Runs ``socsim`` in this process inside the sandbox, with the harness's checks."""

    box: Path
    capsys: Any
    monkeypatch: Any

    def __call__(self, *args: str, bound: float = 10.0, writes: str | None = None) -> CliResult:
        """Run ``socsim *args`` in the sandbox; fail on a traceback, on taking longer than
        ``bound`` seconds, or on any change outside ``writes`` (a folder of the sandbox)."""
        skip = self.box / writes if writes else None
        before = snapshot(self.box, skip)
        self.monkeypatch.chdir(self.box)
        self.capsys.readouterr()
        t0 = time.perf_counter()
        code = main(list(args))
        seconds = time.perf_counter() - t0
        captured = self.capsys.readouterr()
        result = CliResult(code, captured.out, captured.err, seconds)
        assert "Traceback" not in result.text, result.text
        assert seconds < bound, f"socsim {' '.join(args)} took {seconds:.1f} s"
        assert snapshot(self.box, skip) == before, "files changed outside the output folder"
        return result


def errors(result: CliResult) -> list[str]:
    """The ``error:`` lines the CLI printed."""
    return [line.removeprefix("error: ") for line in result.err.splitlines()
            if line.startswith("error: ")]


def line_of(path: Path, loc: tuple[str | int, ...]) -> int:
    """1-based line of the key (or list item) at ``loc`` in a YAML file, found independently
    of socsim by walking PyYAML's node tree."""
    node = yaml.compose(path.read_text())
    mark = node.start_mark
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            key, node = next((k, v) for k, v in node.value if k.value == str(part))
            mark = key.start_mark
        else:
            node = node.value[part]
            mark = node.start_mark
    return mark.line + 1


def edited(box: Path, source: str, edit: Callable[[dict], None], name: str) -> Path:
    """A copy of ``source`` (in the sandbox) with ``edit`` applied to its data, written beside
    it as ``name`` so relative paths still resolve."""
    data = yaml.safe_load((box / source).read_text())
    edit(data)
    out = (box / source).parent / name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def set_path(data: Any, loc: tuple[str | int, ...], value: Any) -> None:
    """Set ``data[loc[0]][loc[1]]... = value``, adding missing mappings on the way."""
    for part in loc[:-1]:
        data = data.setdefault(part, {}) if isinstance(data, dict) else data[part]
    data[loc[-1]] = value


def model(dims: list, *, weights: np.ndarray | None = None, opset: int = 19,
          nodes: bool = True) -> onnx.ModelProto:
    """x[dims] -> MatMul(W[4, 3]) -> Relu -> z: a float model for tests/fixtures/float_soc."""
    w = weights if weights is not None else np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    out_dims = [*dims[:-1], 3]
    body = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"),
            helper.make_node("Relu", ["y"], ["z"], name="relu")] if nodes else []
    graph = helper.make_graph(
        body, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("z" if nodes else "x", TensorProto.FLOAT,
                                       out_dims if nodes else dims)],
        [numpy_helper.from_array(w, "W")] if nodes else [])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 9
    return m


def float_scenario(box: Path, model_bytes: bytes | None, *, extra: str = "",
                   name: str = "float.yaml", model_name: str = "m.onnx") -> Path:
    """A scenario running ``workloads/<model_name>`` (written from ``model_bytes`` unless None)
    on the float_soc fixture's cpu, one inference."""
    (box / "devices" / "float_soc.yaml").write_text((FIXTURES / "float_soc.yaml").read_text())
    if model_bytes is not None:
        (box / "workloads" / model_name).write_bytes(model_bytes)
    path = box / "scenarios" / name
    path.write_text(f"name: hostile\nsoc: ../devices/float_soc.yaml\nworkloads:\n"
                    f"  - name: w\n    model: ../workloads/{model_name}\n    inferences: 1\n"
                    f"{extra}policy: {{name: single, params: {{unit: cpu}}}}\n")
    return path
