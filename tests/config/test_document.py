"""The YAML reader's limits and number rules, and the strict number types with their ranges."""

from __future__ import annotations

import math
import time

import pytest
from pydantic import ValidationError

from socsim.config import Sram, Workload
from socsim.config._base import FREQ, Range, range_of
from socsim.config.document import MAX_NODES, Document, Origin, parse
from socsim.errors import ConfigError


@pytest.mark.parametrize("text, value", [
    ("1e3", 1000.0), ("-2.5E-3", -0.0025), ("1.5e+2", 150.0), (".inf", math.inf),
    ("1_000", 1000), ("0x10", 16), ("'1e3'", "1e3"), ("1e", "1e"), ("e3", "e3"),
])
def test_yaml12_floats_and_the_rest_of_yaml11(text, value):
    assert parse(f"x: {text}\n", "f")[1] == {"x": value}


def _bomb(levels: int, width: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_alias_expansion_is_counted_in_linear_time():
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        parse(_bomb(20, 20), "f")  # 20^20 values if expanded
    assert time.perf_counter() - t0 < 1.0


def test_aliases_within_the_limit_are_fine():
    _, data, dups = parse(_bomb(3, 10), "f")  # 1,000 leaves
    assert len(data["a2"]) == 10 and data["a2"][0] is data["a1"] and not dups
    assert 10 ** 3 < MAX_NODES


def test_recursive_alias_is_refused():
    with pytest.raises(ConfigError, match="recursive alias"):
        parse("a: &a [1, *a]\n", "f")


def test_duplicate_keys_are_located_with_their_path():
    with pytest.raises(ConfigError) as info:
        Document("a:\n  b: 1\n  b: 2\nc: [{d: 1, d: 2}]\n", "f.yaml")
    assert [str(p) for p in info.value.problems] == [
        "f.yaml:3:3: a.b: duplicate key 'b' (YAML would silently keep the last); delete one",
        "f.yaml:4:12: c.0.d: duplicate key 'd' (YAML would silently keep the last); delete one"]


def test_origin_names_a_set_or_a_file_entry():
    assert str(Origin("--set a.b=1").problem("bad", "a.b")) == "--set a.b=1: a.b: bad"
    entry = Origin("s.yaml", 7, 5, "soc_set.1")
    assert str(entry.problem("bad", "units.cpu.cores")) == \
        "s.yaml:7:5: soc_set.1: units.cpu.cores: bad"


def test_range_bounds_and_message():
    r = Range(0.0, 10.0, "GB/s", "why not", lo_open=True)
    assert r(10.0) == 10.0 and r.text() == "0 < x ≤ 10 GB/s"
    for bad in (0.0, 10.5):
        with pytest.raises(ValueError, match=r"outside the plausible range 0 < x ≤ 10 GB/s"):
            r(bad)
    assert FREQ(0.001) == 0.001


def test_ranges_reach_descriptions_also_inside_optional_and_dict_fields():
    assert range_of(Workload.model_fields["deadline_ms"]).unit == "ms"  # DeadlineMs | None
    assert "Range: 1 ≤ x ≤ 1e+06" in Workload.model_fields["shapes"].description
    assert "(1 kB/s is below an I2C EEPROM" in Sram.model_fields["bw_gbps"].description


@pytest.mark.parametrize("value", [True, "64", math.inf, math.nan, 1e300])
def test_numbers_are_strict_and_finite(value):
    fields = {"size_kib": 64, "page_kib": 1, "bw_gbps": 1.0, "read_pj_per_byte": 1,
              "write_pj_per_byte": 1}
    assert Sram(**fields).bw_gbps == 1.0
    with pytest.raises(ValidationError):
        Sram(**{**fields, "bw_gbps": value})
