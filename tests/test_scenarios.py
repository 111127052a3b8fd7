"""Every bundled scenario validates; the FPGA kernel-library scenario shows its effect."""

from __future__ import annotations

import pytest

from socsim.config import load_scenario
from socsim.run import run_scenario
from tests.conftest import REPO

# sweep_*.yaml are sweep files (docs/sweeps.md), checked in tests/sweep/test_cli.py
SCENARIOS = sorted(p for p in (REPO / "scenarios").glob("*.yaml")
                   if not p.name.startswith("sweep_"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_bundled_scenario_validates(path):
    load_scenario(path)


def test_fpga_kernels_thrash_until_the_classifier_leaves_the_fabric(tmp_path):
    path = REPO / "scenarios" / "zynq_fpga_kernels.yaml"
    thrash = run_scenario(path, [f"run.out={tmp_path / 'a'}"]).summary
    fpga = thrash["fpga"]["fpga"]
    n = thrash["inferences"]
    # inference 1 loads conv, eltwise, gemm; each later one reloads all three (gemm evicts
    # conv; conv, least recently used last, evicts eltwise and gemm)
    assert fpga["reconfigurations"] == 3 * n and fpga["evictions"] == 3 * n - 2
    assert thrash["energy_mj"]["reconfig"] > 0
    cured = run_scenario(path, [f"run.out={tmp_path / 'b'}", "policy.params.rules="
                                "[{op_types: [Conv, Add, AveragePool], unit: fpga}]"]).summary
    assert cured["fpga"]["fpga"]["reconfigurations"] == 2
    assert cured["latency_ms"]["p50"] < thrash["latency_ms"]["p50"] / 10


def test_greedy_eft_weighs_reconfigurations_by_the_run_it_plans_for(tmp_path):
    """Charged in full to one inference, a 30 ms kernel load never pays: greedy_eft keeps
    ResNet-8 off the fabric. Spread over 1000 inferences, it puts the convolutions there and
    loads each kernel once."""
    path = REPO / "scenarios" / "zynq_fpga_kernels.yaml"

    def run(params: str):
        return run_scenario(path, [f"run.out={tmp_path / params[:5]}", "policy.name=greedy_eft",
                                   f"policy.params={params}"])

    one = run("{}")
    assert (one.tables.ops["unit"] == "fpga").sum() == 0
    many = run("{reconfig_amortised_over: 1000}")
    on_fpga = many.tables.ops[many.tables.ops["unit"] == "fpga"]
    assert "Conv" in set(on_fpga["op_type"])
    loaded = many.summary["fpga"]["fpga"]["loaded"]
    assert all(n == 1 for n in loaded.values())
