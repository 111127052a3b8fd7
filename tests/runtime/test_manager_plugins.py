"""Runtime managers come from one registry: the built-ins and third parties through the
``socsim.runtime_managers`` entry-point group. A test distribution registers a manager that
drops every arrival finding its workload's slot busy; a scenario names it."""

from __future__ import annotations

import textwrap

import pytest

from socsim.run import run_scenario
from socsim.runtime import base
from tests.conftest import REPO, write_scenario

PLUGIN = '''
from socsim.runtime import RuntimeManager


class Shed(RuntimeManager):
    """Drop frames of every workload from the first decision on."""

    name = "shed"

    def decide(self, state, ctl):
        for w in state.variants:
            ctl.set_drop(w, True, "shed")
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "socsim_test_shed").mkdir(parents=True)
    (site / "socsim_test_shed" / "__init__.py").write_text(PLUGIN)
    info = site / "socsim_test_shed-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: socsim-test-shed\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[socsim.runtime_managers]\n"
                                           "shed = socsim_test_shed:Shed\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(base.MANAGERS, "entries", dict(base.MANAGERS.entries))
    monkeypatch.setattr(base.MANAGERS, "loaded", False)
    return site


def _run(tmp_path, manager: str):
    # DS-CNN int8 on the DSP takes ~0.9 ms; arrivals every 0.5 ms keep its one slot busy
    text = textwrap.dedent(f"""
        name: shed
        soc: {REPO / "devices" / "imx8mp.yaml"}
        workloads:
          - {{name: kws, model: {REPO / "workloads" / "ds_cnn_int8.onnx"}, rate_hz: 2000,
             duration_s: 0.05}}
        policy: {{name: single, params: {{unit: dsp}}}}
        runtime: {{manager: {manager}, period_ms: 1}}
        run: {{seed: 0, functional: false}}
        """)
    return run_scenario(write_scenario(tmp_path, text))


def test_a_manager_from_an_entry_point_drops_frames(tmp_path, plugin):
    assert {"static", "threshold", "feedback", "cascade", "shed"} <= set(
        base.available_managers())
    shed = _run(tmp_path, "shed").summary["runtime"]["workloads"]["kws"]
    static = _run(tmp_path, "static").summary
    assert "runtime" not in static and static["inferences"] == 100  # static, no variants
    assert shed["dropped"] > 0
    # every arrival is either run or dropped
    assert shed["inferences"] + shed["dropped"] == 100
    # dropping keeps the queue short: the worst latency is far below static's backlog
    assert shed["latency_ms"]["p99"] < static["latency_ms"]["max"]


def test_builtin_names_are_taken():
    class Impostor(base.RuntimeManager):
        name = "threshold"

    with pytest.raises(ValueError, match="already registered"):
        base.register_manager(Impostor)
