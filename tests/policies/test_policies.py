"""Placement policies: fallbacks are said, rules match, greedy_eft picks the faster unit."""

from __future__ import annotations

import pytest

from socsim.config import PolicySpec, load_soc
from socsim.errors import ConfigError, PlacementError
from socsim.graph import load_graph
from socsim.policies import PlacementPolicy, Plan, get_policy, make_policy, register_policy
from socsim.zoo import build
from tests.conftest import FIXTURES, two_op_model


@pytest.fixture(scope="module")
def soc():
    return load_soc(FIXTURES / "tiny_soc.yaml")


@pytest.fixture(scope="module")
def resnet():
    return load_graph(build("resnet8_int8"))


def _place(soc, graph, name, **params):
    plan = make_policy(PolicySpec(name=name, params=params), soc).place(graph, soc)
    plan.validate(graph, soc)
    return plan


def test_single_falls_back_to_cpu_and_says_so(soc, resnet):
    plan = _place(soc, resnet, "single", unit="npu")
    by_type = {op.op_type: u for op, u in zip(resnet.ops, plan.units)}
    assert by_type["Conv"] == "npu" and by_type["QuantizeLinear"] == "cpu"
    assert by_type["AveragePool"] == "cpu"
    assert any("AveragePool" in n and "fell back from 'npu' to 'cpu'" in n for n in plan.notes)


def test_rules_first_match_wins_and_ranges(soc, resnet):
    n = len(resnet.ops)
    plan = _place(soc, resnet, "rules", default="cpu",
                  rules=[{"range": [-3, -1], "unit": "cpu"}, {"op_types": ["Conv", "Add"],
                                                             "unit": "npu"}])
    for i, (op, unit) in enumerate(zip(resnet.ops, plan.units)):
        if i >= n - 3:
            assert unit == "cpu"
        elif op.op_type in ("Conv", "Add"):
            assert unit == "npu"
        else:
            assert unit == "cpu"


def test_rules_by_name_regex(soc, resnet):
    first_conv = next(op.name for op in resnet.ops if op.op_type == "Conv")
    plan = _place(soc, resnet, "rules", default="cpu",
                  rules=[{"names": [first_conv], "unit": "npu"}])
    assert [u for u in plan.units].count("npu") == 1


def test_rule_needs_exactly_one_selector(soc):
    with pytest.raises(ConfigError, match="give exactly one of op_types, names, range"):
        make_policy(PolicySpec(name="rules", params={"default": "cpu", "rules": [
            {"unit": "npu", "op_types": ["Conv"], "names": ["x"]}]}), soc)


def test_greedy_eft_prefers_the_faster_unit(soc, resnet):
    plan = _place(soc, resnet, "greedy_eft")
    convs = [u for op, u in zip(resnet.ops, plan.units) if op.op_type == "Conv"]
    assert convs.count("npu") > len(convs) // 2  # the 16-MAC array beats 8 MACs/cycle at 0.5


def test_greedy_eft_restricted_to_one_unit(soc):
    g = load_graph(two_op_model())
    float_soc = load_soc(FIXTURES / "float_soc.yaml")
    plan = _place(float_soc, g, "greedy_eft", units=["cpu"])
    assert plan.units == ("cpu", "cpu")
    assert _place(float_soc, g, "greedy_eft").units[0] == "acc"  # 4 MACs/cycle at 200 MHz


def test_plan_validation_rejects_unsupported_placements(soc, resnet):
    bad = Plan(tuple("npu" for _ in resnet.ops))
    with pytest.raises(PlacementError, match="QuantizeLinear.*placed on 'npu'"):
        bad.validate(resnet, soc)


def test_registry_rejects_duplicates_and_accepts_classes():
    class Mine(PlacementPolicy):
        name = "single"

        def place(self, graph, soc):  # pragma: no cover - never called
            raise NotImplementedError

    with pytest.raises(ValueError, match="already registered"):
        register_policy(Mine)
    assert get_policy(Mine) is Mine
    with pytest.raises(KeyError, match="available"):
        get_policy("nope")
