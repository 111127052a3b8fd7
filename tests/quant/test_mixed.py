"""Sensitivity and mixed precision meet their budgets and honour the unit."""

from __future__ import annotations

import pytest

from socsim.errors import ModelError
from socsim.quant import (
    Recipe,
    accuracy,
    quantize_static,
    search_accuracy,
    search_size,
    sensitivity,
    unit_target,
)
from socsim.quant.mixed import layer_bytes
from socsim.quant.qdq import weighted_layers

REPO_DEVICES = "devices/imx8mp.yaml"
PC = Recipe(per_channel=True)


@pytest.fixture(scope="module")
def sens(digits):
    _, model, calib, test = digits
    return sensitivity(model, calib, {k: v[:200] for k, v in test.items()}, PC)


def test_sensitivity_int4_is_worse_than_int8(sens):
    by = {(s.layer, s.dtype): s.sqnr_db for s in sens}
    layers = {s.layer for s in sens}
    assert len(layers) == 8
    assert all(by[(n, "int4")] < by[(n, "int8")] for n in layers)


def test_size_budget_is_met_and_result_matches_table(digits, sens):
    _, model, calib, _ = digits
    layers = [n.name for n in weighted_layers(model)]
    full = sum(layer_bytes(model, n, "int8") for n in layers)
    floor = sum(layer_bytes(model, n, "int4") for n in layers)
    budget = (full + floor) // 2
    choice = search_size(model, sens, ["int4", "int8"], budget)
    assert set(choice.values()) == {"int4", "int8"}
    res = quantize_static(model, calib, Recipe("mixed", per_channel=True, weight_dtypes=choice))
    assert res.weight_bytes <= budget
    assert res.weight_bytes == sum(layer_bytes(model, n, d) for n, d in choice.items())
    with pytest.raises(ModelError, match="below the smallest reachable"):
        search_size(model, sens, ["int4", "int8"], floor - 1)


def test_accuracy_budget_is_met(digits, sens):
    _, model, calib, test = digits
    data = {k: v[:200] for k, v in test.items()}
    choice, acc = search_accuracy(model, calib, data, PC, sens, ["int4", "int8"], 0.01)
    assert accuracy(model, data) - acc <= 0.01
    assert "int4" in choice.values()  # something was narrowed
    q = quantize_static(model, calib, Recipe("mixed", per_channel=True,
                                              weight_dtypes=choice)).model
    assert accuracy(q, data) == acc


def test_unit_dtypes_bound_the_candidates_and_fallbacks_are_named():
    npu = unit_target(REPO_DEVICES, "npu")
    assert npu.weight_dtypes == ["int8", "int16"]
    notes = npu.fallbacks({"a": "int4", "b": "int8"}, {"a": "Conv", "b": "Conv"})
    assert len(notes) == 1 and "int4 not in its dtypes" in notes[0]
    from socsim.errors import ConfigError
    with pytest.raises(ConfigError, match="no unit 'tpu'"):
        unit_target(REPO_DEVICES, "tpu")
