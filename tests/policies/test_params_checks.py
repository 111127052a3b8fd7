"""Policy parameters: a boolean where a number is expected is refused naming the field; the
``rules`` policy compiles its name patterns once, not per op."""

from __future__ import annotations

import re

import pytest

from socsim.config import PolicySpec, load_soc
from socsim.errors import ConfigError
from socsim.graph import load_graph
from socsim.policies import make_policy
from socsim.zoo import build
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def soc():
    return load_soc(FIXTURES / "tiny_soc.yaml")


@pytest.mark.parametrize("name, params, field", [
    ("heft", {"inferences": True}, "policy.params.inferences"),
    ("greedy_eft", {"reconfig_amortised_over": True}, "policy.params.reconfig_amortised_over"),
    ("energy_aware", {"latency_ms": False}, "policy.params.latency_ms"),
    ("rules", {"default": "cpu", "rules": [{"unit": "npu", "range": [0, True]}]},
     "policy.params.rules.0.range"),
])
def test_a_boolean_for_a_number_is_refused_naming_the_field(soc, name, params, field):
    with pytest.raises(ConfigError) as err:
        make_policy(PolicySpec(name=name, params=params), soc)
    text = str(err.value)
    assert field in text and "expected a number, got the boolean" in text


def test_booleans_where_booleans_belong_and_numbers_still_pass(soc):
    p = make_policy(PolicySpec(name="heft", params={"inferences": 2, "keep_best": True}), soc)
    assert p.params.inferences == 2 and p.params.keep_best is True
    p = make_policy(PolicySpec(name="energy_aware", params={"latency_ms": 3}), soc)
    assert p.params.latency_ms == 3.0
    p = make_policy(PolicySpec(name="rules", params={
        "default": "cpu", "fallback": False, "rules": [{"unit": "npu", "range": [0, "x"]}]}), soc)
    assert p.params.rules[0].range == (0, "x")


def test_rules_compile_name_patterns_once(soc, monkeypatch):
    graph = load_graph(build("resnet8_int8"))
    convs = [op.name for op in graph.ops if op.op_type == "Conv"]
    policy = make_policy(PolicySpec(name="rules", params={
        "default": "cpu", "rules": [{"names": [re.escape(convs[0]), re.escape(convs[1])],
                                     "unit": "npu"}]}), soc)

    def boom(*a, **k):
        raise AssertionError("a pattern was compiled or looked up while placing")

    # placing matches every op against the patterns compiled when the parameters were read
    for fn in ("compile", "fullmatch", "match", "search"):
        monkeypatch.setattr(re, fn, boom)
    plan = policy.place(graph, soc)
    assert [op.name for op, u in zip(graph.ops, plan.units) if u == "npu"] == convs[:2]
