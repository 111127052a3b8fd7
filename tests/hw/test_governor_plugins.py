"""Governors come from one registry: the built-ins, and third parties through the
``socsim.governors`` entry-point group. A test distribution (a package and its dist-info on
sys.path) registers one; a scenario names it and the unit runs where it says.

Hand computation (tests/sim/test_hand_computed.py): the MatMul takes 16384 cycles on the cpu
of tests/fixtures/float_soc.yaml, its compute bound; at the lowest point, 50 MHz, that is
16384 x 1000 / 50 = 327680 ns.
"""

from __future__ import annotations

import textwrap

import pytest

from socsim.errors import ConfigError
from socsim.hw import governors
from socsim.run import run_scenario
from tests.conftest import FIXTURES, write_scenario
from tests.plugin_support import install_distribution

PLUGIN = '''
from socsim.hw.governors import Governor


class Crawl(Governor):
    """Start at the lowest point and stay there."""

    name = "crawl"

    def initial_mhz(self, spec, freqs):
        return freqs[0]
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Install a distribution ``socsim-test-governor`` with one governor entry point."""
    site = install_distribution(tmp_path, monkeypatch, "socsim_test_governor", PLUGIN,
                                "[socsim.governors]\ncrawl = socsim_test_governor:Crawl\n")
    # a fresh registry that reads the entry points again; restored after the test
    monkeypatch.setattr(governors.GOVERNORS, "entries", dict(governors.GOVERNORS.entries))
    monkeypatch.setattr(governors.GOVERNORS, "loaded", False)
    return site


def _run(tmp_path, two_op_path, governor: str):
    text = textwrap.dedent(f"""
        name: gov
        soc: {FIXTURES / "float_soc.yaml"}
        workloads:
          - {{name: w, model: {two_op_path}, inferences: 1}}
        policy: {{name: single, params: {{unit: cpu}}}}
        run: {{seed: 0, governors: {{cpu: {{name: {governor}}}}}}}
        """)
    return run_scenario(write_scenario(tmp_path, text))


def test_a_governor_from_an_entry_point_drives_a_run(tmp_path, two_op_path, plugin):
    assert "crawl" in governors.available_governors()
    assert {"fixed", "performance", "powersave", "ondemand", "thermal"} <= set(
        governors.available_governors())
    ops = _run(tmp_path, two_op_path, "crawl").tables.ops.set_index("op")
    assert ops.loc["mm", "freq_mhz"] == 50
    assert ops.loc["mm", "end_ns"] - ops.loc["mm", "start_ns"] == 327680


def test_an_unknown_governor_lists_the_registered_ones(tmp_path, two_op_path):
    with pytest.raises(ConfigError, match=r"unknown governor 'turbo'.*powersave"):
        _run(tmp_path, two_op_path, "turbo")


def test_builtin_names_are_taken():
    class Impostor(governors.Governor):
        name = "ondemand"

    with pytest.raises(ValueError, match="already registered"):
        governors.register_governor(Impostor)
