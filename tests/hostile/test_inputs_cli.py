"""A representative few hostile inputs through the real ``socsim`` process (the rest run
in-process through the same :func:`socsim.cli.main`): exit status, one located message, no
traceback, a time bound, nothing changed."""

from __future__ import annotations

import pytest

from tests.hostile._input_cases import SCENARIO, edited, float_scenario, line_of, model
from tests.hostile.conftest import run_socsim, snapshot
from tests.hostile.test_inputs_yaml import ALIAS_BOMB


def _bomb(box):
    (box / "bomb.yaml").write_text(ALIAS_BOMB)
    return ("validate", "bomb.yaml"), "bomb.yaml:6:5: ", "expands to more than 100,000 values"


def _set(box):
    return (("run", SCENARIO, "--set", "nosuch.field=1"), "--set nosuch.field=1: nosuch: ",
            "unknown field 'nosuch'")


def _dynamic(box):
    path = float_scenario(box, model(["N", 4]).SerializeToString())
    line = line_of(path, ("workloads", 0, "model"))
    return (("run", "scenarios/float.yaml"), f"scenarios/float.yaml:{line}:",
            "`shapes: {N: 1}`")


def _inputs_yaml(box):
    (box / "workloads" / "in.npz").write_text("x: [1, 2]\n")
    path = float_scenario(box, model([1, 4]).SerializeToString(),
                          extra="    inputs: ../workloads/in.npz\n")
    line = line_of(path, ("workloads", 0, "inputs"))
    return (("run", "scenarios/float.yaml"), f"scenarios/float.yaml:{line}:",
            "is not an .npz archive")


def _cores(box):
    return (("run", SCENARIO, "--set", "soc.units.cpu.cores=1e12"),
            "--set soc.units.cpu.cores=1e12: units.cpu.cores: ", "expected a whole number")


def _seed(box):
    path = edited(box, SCENARIO, lambda d: d["run"].update(seed=-5), "seed.yaml")
    return (("validate", "scenarios/seed.yaml"),
            f"scenarios/seed.yaml:{line_of(path, ('run', 'seed'))}:", "-5 is outside")


@pytest.mark.parametrize("case", [_bomb, _set, _dynamic, _inputs_yaml, _cores, _seed],
                         ids=["alias-bomb", "set-unknown-field", "dynamic-dim", "inputs-yaml",
                              "cores-1e12", "negative-seed"])
def test_hostile_input_through_the_process(sandbox, case):
    args, where, what = case(sandbox)
    before = snapshot(sandbox)
    result = run_socsim(*args, cwd=sandbox, timeout=30)
    assert result.code == 1, result.text
    lines = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"error: {where}") and what in lines[0], lines[0]
    assert result.seconds < 20
    assert snapshot(sandbox) == before
