"""The config of units: one Arithmetic, per-kind config classes in their own modules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from socsim.config.loading import load_soc
from socsim.config.units import Arithmetic, ArithmeticSpec
from socsim.errors import ConfigError
from socsim.kernels.arithmetic import Arithmetic as KernelArithmetic
from tests.conftest import FIXTURES

UNITS = Path(__file__).resolve().parents[2] / "socsim" / "config" / "units"


def test_one_arithmetic_the_config_block_is_built_from_the_kernels_fields():
    assert Arithmetic is KernelArithmetic
    fields = [f for f in dataclasses.fields(KernelArithmetic)
              if f.metadata.get("device_file", True)]
    assert list(ArithmeticSpec.model_fields) == [f.name for f in fields]
    for f in fields:
        spec = ArithmeticSpec.model_fields[f.name]
        assert spec.default == f.default, f.name
        assert spec.description.startswith(f.metadata["description"]), f.name
    block = ArithmeticSpec(accumulator_bits=16, requant="tflite_double", dot="u8s8_pairs_int16",
                           float_kernels="mlas_fma3")
    assert block.target() == KernelArithmetic(16, "tflite_double", "u8s8_pairs_int16",
                                              "mlas_fma3")


@pytest.mark.parametrize(("value", "says"), [
    ("accumulator_bits=40", "40 is outside the plausible range 8 ≤ x ≤ 32 bits"),
    ("requant=round_up", "'onnx_rne', 'tflite_double' or 'tflite_single'"),
    ("dot=fast", "'exact' or 'u8s8_pairs_int16'"),
])
def test_an_arithmetic_error_names_the_field_and_the_valid_values(value, says):
    with pytest.raises(ConfigError) as info:
        load_soc(FIXTURES / "float_soc.yaml", [f"units.cpu.arithmetic.{value}"])
    (problem,) = info.value.problems
    assert problem.path == f"units.cpu.arithmetic.{value.split('=')[0]}"
    assert says in problem.message


def test_a_unit_arithmetic_reaches_the_kernels_through_its_kind():
    from socsim.hw.kind import kind_of

    soc = load_soc(FIXTURES / "float_soc.yaml", ["units.cpu.arithmetic.accumulator_bits=16"])
    a = kind_of(soc.units["cpu"]).arithmetic(soc.units["cpu"])
    assert isinstance(a, KernelArithmetic) and (a.acc_min, a.acc_max) == (-32768, 32767)


def test_unit_config_modules_stay_small():
    for path in UNITS.glob("*.py"):
        assert len(path.read_text().splitlines()) < 400, path.name
