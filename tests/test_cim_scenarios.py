"""The bundled CiM scenarios end to end: the CiM unit's outputs through the simulator's
functional path equal the NPU's (exact int8 sums) bit for bit when its ADC resolves every
partial sum, and differ at the macro's own 4 bits; the CiM unit reads no weights."""

from __future__ import annotations

import numpy as np

from socsim.run import run_scenario
from tests.conftest import REPO


def test_cim_outputs_match_the_npu_only_with_exact_adcs(tmp_path):
    npu = run_scenario(REPO / "scenarios" / "cim_vs_npu_npu.yaml", [f"run.out={tmp_path / 'n'}"])
    exact = run_scenario(REPO / "scenarios" / "cim_vs_npu.yaml",
                         [f"run.out={tmp_path / 'e'}", "soc.units.cim.adc_bits=14"])
    coarse = run_scenario(REPO / "scenarios" / "cim_vs_npu.yaml", [f"run.out={tmp_path / 'c'}"])
    ref, ex, co = (r.functional.outputs for r in (npu, exact, coarse))
    assert ref.keys() == ex.keys() == co.keys() and len(ref) == 10
    assert all(np.array_equal(ref[k], ex[k]) for k in ref)
    assert not any(np.array_equal(ref[k], co[k]) for k in ref)
    on_cim = coarse.tables.ops[coarse.tables.ops["unit"] == "cim"]
    assert set(on_cim["op_type"]) == {"Conv", "Gemm"} and (on_cim["weight_bytes"] == 0).all()
    on_npu = npu.tables.ops[npu.tables.ops["unit"] == "npu"]
    assert (on_npu["weight_bytes"] > 0).all()
    # same model and placement shape: the CiM run spends less compute energy on those ops
    assert on_cim["compute_pj"].sum() < on_npu["compute_pj"].sum() / 5
