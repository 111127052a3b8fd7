"""A point's metrics, read from the trace, equal the run's summary.json figures (built by
socsim.report from pandas frames, a separate path through the same records)."""

from __future__ import annotations

import functools
import math

import pytest

from socsim.run import run_scenario
from socsim.sweep.metrics import point_metrics
from tests.conftest import REPO

CASES = [
    ("quickstart.yaml", ["run.functional=false"]),                        # periodic, deadlines
    ("effect_dma_contention.yaml", []),                                   # DMA copies
    ("effect_paging.yaml", []),                                           # page-ins
    ("zynq_fpga_kernels.yaml", ["workloads.0.inferences=2"]),             # reconfigurations
    ("effect_throttling.yaml", ["workloads.0.inferences=20"]),            # temperatures
    ("quickstart.yaml", ["run.functional=false", "workloads.0.deadline_ms=0.2",
                         "workloads.0.arrival=poisson", "workloads.0.rate_hz=5000"]),  # misses
]


@functools.cache
def _run(scenario: str, overrides: tuple[str, ...]):
    return run_scenario(REPO / "scenarios" / scenario, overrides)


@pytest.mark.parametrize("scenario, overrides", CASES, ids=[c[0] + str(len(c[1])) for c in CASES])
def test_metrics_equal_the_summary(scenario, overrides):
    result = _run(scenario, tuple(overrides))
    s = result.summary
    m = point_metrics(result.trace)
    assert m["inferences"] == s["inferences"]
    assert m["latency_p50_ms"] == s["latency_ms"]["p50"]
    assert m["latency_p99_ms"] == s["latency_ms"]["p99"]
    assert m["energy_per_inference_mj"] == pytest.approx(s["energy_mj"]["per_inference"],
                                                         rel=1e-12)
    assert m["deadline_misses"] == s["deadline_misses"]
    assert m["dma_bytes"] == s["dma_bytes"]
    temps = [u["temp_c_max"] for u in s["units"].values() if u["temp_c_max"] is not None]
    if temps:
        assert m["peak_temp_c"] == max(temps)
    else:
        assert math.isnan(m["peak_temp_c"])


def test_cases_cover_every_metric():
    """The cases above exercise DMA bytes, temperatures and misses (not only zeros)."""
    seen = {"dma": False, "temp": False, "miss": False}
    for scenario, overrides in CASES:
        m = point_metrics(_run(scenario, tuple(overrides)).trace)
        seen["dma"] |= m["dma_bytes"] > 0
        seen["temp"] |= not math.isnan(m["peak_temp_c"])
        seen["miss"] |= m["deadline_misses"] > 0
    assert all(seen.values()), seen
