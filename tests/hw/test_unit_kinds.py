"""Unit kinds come from one registry, and generic code never names one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from socsim.config.loading import load_soc
from socsim.hw import kind
from socsim.policies.compat import generality
from socsim.registry import Registry
from tests.conftest import FIXTURES

SOCSIM = Path(__file__).resolve().parents[2] / "socsim"
BUILTIN = ("cpu", "npu", "dsp", "fpga")
#: modules that must work for any kind (issue 10): they ask the unit's kind instead
GENERIC = [*sorted((SOCSIM / "sim").glob("*.py")), *sorted((SOCSIM / "report").glob("*.py")),
           SOCSIM / "cli.py", SOCSIM / "run.py", SOCSIM / "check.py", SOCSIM / "functional.py",
           SOCSIM / "policies" / "base.py", SOCSIM / "policies" / "greedy_eft.py",
           SOCSIM / "hw" / "cost.py", SOCSIM / "hw" / "estimate.py", SOCSIM / "hw" / "base.py",
           SOCSIM / "config" / "soc.py"]


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of ``path`` outside docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings]


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: str(p.relative_to(SOCSIM)))
def test_generic_code_names_no_unit_kind(path):
    named = [(line, s) for line, s in _code_strings(path) if s.lower() in BUILTIN]
    assert not named, f"{path.name} names a unit kind at {named}; ask the unit's kind instead"
    imports = [n for n in ast.walk(ast.parse(path.read_text()))
               if isinstance(n, ast.ImportFrom) and n.module
               and any(n.module.endswith(f".{k}") or n.module.endswith(f"{k}_residency")
                       for k in BUILTIN)]
    assert not imports, f"{path.name} imports a kind's module: {[n.module for n in imports]}"


def test_the_builtin_kinds_come_from_the_registry():
    assert kind.available_unit_kinds()[:4] == list(BUILTIN)
    for name in BUILTIN:
        k = kind.unit_kind(name)
        assert k.name == name and k.config.model_fields["kind"].default == name
        assert type(k).__module__ == f"socsim.hw.{name}"
    with pytest.raises(KeyError, match=r"unknown unit kind 'gpu'; available: \[.*'cpu'"):
        kind.unit_kind("gpu")


def test_a_kind_name_is_taken_once():
    class Impostor(kind.UnitKind):
        name = "npu"

    with pytest.raises(ValueError, match="a unit kind named 'npu' is already registered"):
        kind.register_unit_kind(Impostor)


def test_builtins_load_by_entry_point_value_without_distribution_metadata():
    reg = Registry("stub", "socsim.test_no_such_group",
                   {"stub": "tests.hw.test_unit_kinds:_Stub"})
    assert reg.names() == ["stub"] and reg.get("stub") is _Stub


class _Stub:
    name = "stub"


def test_the_fallback_is_a_host_kind_first():
    soc = load_soc(FIXTURES / "float_soc.yaml")  # acc (a dsp) and cpu both run MatMul
    assert list(soc.units) == ["cpu", "acc"]
    flipped = load_soc(FIXTURES / "float_soc.yaml", ["units.cpu.ops=[Relu]"])
    def fallback(s):
        return next(n for n in generality(s) if s.units[n].supports("MatMul", "float32"))
    assert generality(soc)[0] == generality(flipped)[0] == "cpu"  # the host first
    assert fallback(soc) == "cpu"
    assert fallback(flipped) == "acc"
    assert kind.kind_of(soc.units["cpu"]).is_host and not kind.kind_of(soc.units["acc"]).is_host
