"""A unit kind and a governor from entry points, used by one scenario, end to end.

A test distribution (a package and its dist-info on sys.path, as an installed wheel leaves
them) publishes kind ``adder_tree`` in ``socsim.units`` and governor ``crawl`` in
``socsim.governors``. Nothing in socsim names either.

Hand computation (the device below, the two-op graph of tests/conftest.py: MatMul
x[1,256] @ W[256,64] then Relu):

- MatMul: 256 x 64 = 16384 MACs at ``macs_per_cycle`` 8 = 2048 cycles; ``crawl`` holds the
  unit at its lowest point, 50 MHz, so 2048 x 1000 / 50 = 40960 ns.
- Its operands under the kind's ``operand_bytes`` hook (weights stay in the tree, none move):
  x 256 x 4 = 1024 B read, y 64 x 4 = 256 B written, at 1 GB/s = 1280 ns < 40960: compute
  bound. Had the 65536 weight bytes moved, the op would take 65536 + 1280 = 66816 ns.
- Energy hook: 3 pJ a cycle at nominal voltage (1.0 V) = 6144 pJ, at 0.5 V x (0.5 / 1)^2 =
  1536 pJ.
"""

from __future__ import annotations

import math
import textwrap

import pytest

from socsim.config.loading import load_soc
from socsim.errors import ConfigError
from socsim.hw import governors, kind
from socsim.hw.estimate import op_run_ns
from socsim.run import run_scenario
from tests.conftest import write_scenario
from tests.plugin_support import install_distribution

PLUGIN = '''
from typing import Literal

from pydantic import Field

from socsim.config.units.base import UnitBase
from socsim.hw.governors import Governor
from socsim.hw.kind import Cycles, UnitKind


class AdderTree(UnitBase):
    """A MAC array fed by an adder tree, weights held in place."""

    kind: Literal["adder_tree"] = "adder_tree"
    macs_per_cycle: float = Field(gt=0, description="MACs a cycle.")
    ops_per_cycle: float = Field(gt=0, description="Elementwise ops a cycle.")
    energy_pj_per_cycle: float = Field(ge=0, description="Dynamic energy a busy cycle, pJ.")


class AdderTreeKind(UnitKind):
    name = "adder_tree"
    config = AdderTree

    def cycles(self, unit, op, graph):
        return Cycles(op.macs / unit.macs_per_cycle + op.elem_ops / unit.ops_per_cycle,
                      1.0 if op.macs else 0.0)

    def operand_bytes(self, unit, op, graph):
        ins, outs, _ = super().operand_bytes(unit, op, graph)
        return ins, outs, 0  # weights stay in the tree

    def dynamic_pj(self, unit, op, point, graph):
        scale = (point.voltage_v / unit.dvfs.nominal.voltage_v) ** 2
        return self.cycles(unit, op, None).compute * unit.energy_pj_per_cycle * scale


class Crawl(Governor):
    """Start at the lowest point and stay there."""

    name = "crawl"

    def initial_mhz(self, spec, freqs):
        return freqs[0]
'''

DEVICE = """
name: tree_soc
units:
  tree:
    kind: adder_tree
    macs_per_cycle: 8
    ops_per_cycle: 4
    energy_pj_per_cycle: 3.0
    dvfs: {points: [{freq_mhz: 100, voltage_v: 1.0}, {freq_mhz: 50, voltage_v: 0.5}],
           nominal_mhz: 100}
    power: {energy_pj_per_mac: {float32: 1.0}, energy_pj_per_op: {float32: 1.0},
            leakage_mw: 0.0}
    memories: [sram]
    weights_in: sram
    ops: [MatMul, Relu]
    dtypes: [float32]
memories:
  sram: {kind: sram, size_kib: 512, page_kib: 1, bw_gbps: 1.0, read_pj_per_byte: 0.0,
         write_pj_per_byte: 0.0}
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Install a distribution ``socsim-test-units`` with a unit-kind and a governor entry
    point; fresh registries that read the entry points again (restored after the test)."""
    site = install_distribution(
        tmp_path, monkeypatch, "socsim_test_units", PLUGIN,
        "[socsim.units]\nadder_tree = socsim_test_units:AdderTreeKind\n\n"
        "[socsim.governors]\ncrawl = socsim_test_units:Crawl\n")
    for registry in (kind.UNIT_KINDS, governors.GOVERNORS):
        monkeypatch.setattr(registry, "entries", {})
        monkeypatch.setattr(registry, "loaded", False)
    return site


def _device(tmp_path, text: str = DEVICE):
    path = tmp_path / "tree_soc.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_plugin_unit_kind_and_governor_run_a_scenario(tmp_path, two_op_path, plugin):
    assert "adder_tree" in kind.available_unit_kinds()
    assert kind.available_unit_kinds()[:4] == ["cpu", "npu", "dsp", "fpga"]  # same registry
    scenario = write_scenario(tmp_path, textwrap.dedent(f"""
        name: tree
        soc: {_device(tmp_path)}
        workloads:
          - {{name: w, model: {two_op_path}, inferences: 2}}
        policy: {{name: single, params: {{unit: tree}}}}
        run: {{seed: 0, governors: {{tree: {{name: crawl}}}}}}
        """))
    result = run_scenario(scenario)
    ops = result.tables.ops
    mm = ops[(ops["op"] == "mm") & (ops["inference"] == 0)].iloc[0]
    assert mm["unit"] == "tree" and mm["freq_mhz"] == 50
    assert mm["cycles"] == 2048
    assert mm["end_ns"] - mm["start_ns"] == 40960
    assert mm["weight_bytes"] == 0
    assert mm["compute_pj"] == pytest.approx(1536.0)
    assert result.summary["inferences"] == 2
    assert result.summary["units"]["tree"]["ops"] == 4
    assert "z" in "".join(result.functional.outputs)  # the functional path ran on it too
    # the policies' estimate at the point crawl chose equals the simulated time, op by op
    soc, graph = result.scenario.device, result.jobs[0].graph
    unit = soc.units["tree"]
    first = ops[ops["inference"] == 0].set_index("op")
    for op in graph.ops:
        estimate = op_run_ns(unit, op, graph, soc, unit.dvfs.point(50))
        row = first.loc[op.name]
        assert row["end_ns"] - row["start_ns"] == math.ceil(estimate), op.name


def test_an_unknown_kind_lists_the_registered_ones_with_the_plugin(tmp_path, plugin):
    with pytest.raises(ConfigError) as info:
        load_soc(_device(tmp_path, DEVICE.replace("kind: adder_tree", "kind: abacus")))
    (problem,) = info.value.problems
    assert problem.path == "units.tree"
    for name in ("'cpu'", "'npu'", "'dsp'", "'fpga'", "'adder_tree'"):
        assert name in problem.message


def test_a_plugin_config_error_names_the_field_path(tmp_path, plugin):
    with pytest.raises(ConfigError) as info:
        load_soc(_device(tmp_path, DEVICE.replace("macs_per_cycle: 8", "macs_per_cycle: -8")))
    (problem,) = info.value.problems
    assert problem.path == "units.tree.macs_per_cycle"
    assert problem.line == DEVICE.splitlines().index("    macs_per_cycle: 8") + 1
    with pytest.raises(ConfigError) as info:
        load_soc(_device(tmp_path, DEVICE.replace("macs_per_cycle: 8", "mac_per_cycle: 8")))
    typo = [p for p in info.value.problems if "unknown field" in p.message]
    assert typo and "did you mean 'macs_per_cycle'" in typo[0].message
    assert "energy_pj_per_cycle" in typo[0].message  # the plugin's fields are listed


def test_without_the_plugin_its_kind_is_unknown(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown unit kind 'adder_tree'; registered kinds: "
                       r"'cpu', 'npu', 'dsp', 'fpga'"):
        load_soc(_device(tmp_path))
