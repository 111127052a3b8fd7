"""Hostile numbers: strict (a boolean or a string is not a number), finite, and inside a
plausible range whose reason the message gives; each located at its line and field."""

from __future__ import annotations

import math

import pytest

from tests.hostile._input_cases import DEVICE, SCENARIO, edited, errors, line_of, set_path

INF, NAN = math.inf, math.nan

#: (field path in devices/mcu_m55_u55.yaml, value, what the message must say)
DEVICE_CASES = [
    (("units", "npu", "power", "leakage_mw"), INF, "expected a finite number, got inf"),
    (("memories", "sram0", "leakage_mw"), INF, "expected a finite number, got inf"),
    (("units", "npu", "power", "energy_pj_per_mac", "int8"), 1e308,
     "1e+308 is outside the plausible range 0 ≤ x ≤ 1e+06 pJ (a MAC costs 0.01-10 pJ"),
    (("memories", "sram0", "bw_gbps"), True,
     "expected a number, got the boolean true (YAML reads true, false, yes, no, on, off as "
     "booleans); write a number"),
    (("units", "npu", "dvfs", "points", 0, "freq_mhz"), 1e-300,
     "1e-300 is outside the plausible range 0.001 ≤ x ≤ 100000 MHz (1 kHz is below the "
     "slowest MCU clock"),
    (("units", "cpu", "cores"), 1e12,
     "expected a whole number, got 1000000000000.0; drop the fraction"),
    (("units", "cpu", "cores"), 10 ** 12, "1000000000000 is outside the plausible range "
     "1 ≤ x ≤ 1024 (the largest edge parts have tens of cores"),
    (("memories", "mram", "size_kib"), NAN, "expected a finite number, got NaN (.nan)"),
    (("dma", "dma_hp", "bw_gbps"), "fast", "expected a number, got the string 'fast'; write a "
     "plain number such as 1.5 or 2.5e3 (units are in the field name)"),
    (("units", "npu", "dvfs", "points", 1, "voltage_v"), -0.8,
     "-0.8 is outside the plausible range 0.05 ≤ x ≤ 5 V"),
    (("dma", "dma_hp", "channels"), 0, "0 is outside the plausible range 1 ≤ x ≤ 1024"),
    (("units", "npu", "array_rows"), 2.5, "expected a whole number, got 2.5"),
    (("units", "cpu", "dvfs", "transition_us"), -1, "-1 is outside the plausible range"),
    (("ambient_c",), -300, "-300 is outside the plausible range -100 ≤ x ≤ 300 °C"),
    (("units", "npu", "arithmetic", "accumulator_bits"), 64,
     "64 is outside the plausible range 8 ≤ x ≤ 32 bits"),
    (("units", "cpu", "efficiency", "default"), 1.5, "1.5 is outside the plausible range "
     "0 ≤ x ≤ 1"),
]


@pytest.mark.parametrize("loc, value, expected", DEVICE_CASES,
                         ids=[f"{'.'.join(map(str, c[0]))}={c[1]!r}" for c in DEVICE_CASES])
def test_device_number(cli, sandbox, loc, value, expected):
    path = edited(sandbox, DEVICE, lambda d: set_path(d, loc, value), "bad.yaml")
    result = cli("validate", "devices/bad.yaml")
    assert result.code == 1
    where = f"devices/bad.yaml:{line_of(path, loc)}:"
    field = ".".join(map(str, loc))
    assert any(m.startswith(where) and f" {field}: {expected}" in m for m in errors(result)), \
        result.err


def _closed(d: dict, n: object) -> None:
    w = d["workloads"][0]
    del w["rate_hz"], w["duration_s"]
    w["inferences"] = n


#: (edit of scenarios/quickstart.yaml, field path, what the message must say)
SCENARIO_CASES = [
    (lambda d: _closed(d, 10 ** 12), ("workloads", 0, "inferences"),
     "1000000000000 is outside the plausible range 1 ≤ x ≤ 1e+06 (each inference is simulated "
     "op by op"),
    (lambda d: set_path(d, ("workloads", 0, "rate_hz"), 1e308), ("workloads", 0, "rate_hz"),
     "1e+308 is outside the plausible range 0 < x ≤ 1e+06 Hz"),
    (lambda d: set_path(d, ("workloads", 0, "duration_s"), INF), ("workloads", 0, "duration_s"),
     "expected a finite number, got inf"),
    (lambda d: d["workloads"][0].update(rate_hz=1e5, duration_s=100.0), ("workloads", 0),
     "rate_hz x duration_s = 1e+07 arrivals; at most 1,000,000"),
    (lambda d: set_path(d, ("run", "seed"), -1), ("run", "seed"),
     "-1 is outside the plausible range 0 ≤ x ≤ 9.22337e+18 (numpy seeds are non-negative"),
    (lambda d: set_path(d, ("run", "seed"), 1.5), ("run", "seed"), "expected a whole number"),
    (lambda d: set_path(d, ("workloads", 0, "deadline_ms"), 0), ("workloads", 0, "deadline_ms"),
     "0 is outside the plausible range 0 < x ≤ 1e+07 ms"),
    (lambda d: d["workloads"][0].update(max_in_flight=False), ("workloads", 0, "max_in_flight"),
     "expected a whole number, got the boolean false"),
    (lambda d: d.update(name="../../etc"), ("name",),
     "'../../etc' is not a valid name: use letters, digits and _ . + -"),
    (lambda d: set_path(d, ("workloads", 0, "name"), "a/b"), ("workloads", 0, "name"),
     "'a/b' is not a valid name"),
    (lambda d: d["run"].update(operating_points={"npu": True}), ("run", "operating_points", "npu"),
     "expected a number, got the boolean true"),
    (lambda d: d["run"].update(governors={"npu": {"name": "ondemand", "sample_ms": 1e-9}}),
     ("run", "governors", "npu", "sample_ms"), "1e-09 is outside the plausible range "
     "0.001 ≤ x ≤ 1e+06 ms (governors sample every 1-1000 ms"),
    (lambda d: d["workloads"][0].update(pin_weights=["conv"] * 1001),
     ("workloads", 0, "pin_weights"), "List should have at most 1000 items"),
    (lambda d: d["workloads"][0].update(shapes={"N": 0}), ("workloads", 0, "shapes", "N"),
     "0 is outside the plausible range 1 ≤ x ≤ 1e+06"),
]


@pytest.mark.parametrize("edit, loc, expected", SCENARIO_CASES,
                         ids=[".".join(map(str, c[1])) + f"-{i}"
                              for i, c in enumerate(SCENARIO_CASES)])
def test_scenario_number(cli, sandbox, edit, loc, expected):
    path = edited(sandbox, SCENARIO, edit, "bad.yaml")
    for command in (("validate", "scenarios/bad.yaml"), ("run", "scenarios/bad.yaml")):
        result = cli(*command)
        assert result.code == 1
        (msg,) = errors(result)
        field = ".".join(map(str, loc))
        assert msg.startswith(f"scenarios/bad.yaml:{line_of(path, loc)}:"), msg
        assert f" {field}: {expected}" in msg, msg


def test_seed_set_negative(cli):
    # `--seed -1` itself is a usage error (exit 2): tests/hostile/test_outputs_run.py
    result = cli("run", SCENARIO, "--set", "run.seed=-1")
    assert result.code == 1
    assert errors(result) == [e for e in errors(result) if e.startswith(
        "--set run.seed=-1: run.seed: -1 is outside the plausible range 0 ≤ x")]


def test_ranges_are_explained_in_field_descriptions():
    from socsim.config import Sram, Workload

    text = Sram.model_fields["bw_gbps"].description
    assert "Range: 1e-06 ≤ x ≤ 100000 GB/s (1 kB/s is below an I2C EEPROM" in text
    assert "Range: 1 ≤ x ≤ 1e+06" in Workload.model_fields["inferences"].description
