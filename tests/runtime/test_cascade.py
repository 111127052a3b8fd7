"""``cascade``: DS-CNN int8 on the DSP first, the float DS-CNN on the A53 cluster only when
the int8 model's top-1 softmax probability is below the threshold. The test runs the int8
model itself (socsim.execute, the DSP's arithmetic, the inputs docs/model.md documents for a
functional run: ``default_rng([seed, workload index, inference])`` uniform in [-1, 1)) and
checks the run escalated exactly the inferences whose confidence was below the threshold."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from socsim.config.loading import load_scenario
from socsim.execute import compile_model
from socsim.hw.kind import kind_of
from socsim.run import run_scenario
from tests.conftest import REPO, write_scenario

SEED = 5
N = 20  # 40 Hz for 0.5 s, periodic


def _confidences() -> np.ndarray:
    soc = load_scenario(REPO / "scenarios" / "two_streams.yaml").device
    dsp = kind_of(soc.units["dsp"]).arithmetic(soc.units["dsp"])
    conf = []
    for i in range(N):
        # lowered as the target runs it (the timing graph's rules: docs/graph.md)
        logits = compile_model(REPO / "workloads" / "ds_cnn_int8.onnx", arithmetic=dsp,
                               rules="onnxruntime").run(_inputs(i)).outputs["logits"]
        logits = logits.astype(np.float64).ravel()
        p = np.exp(logits - logits.max())
        conf.append(p.max() / p.sum())
    return np.array(conf)


def _inputs(i: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([SEED, 0, i])
    return {"input": rng.uniform(-1.0, 1.0, size=(1, 1, 49, 10)).astype(np.float32)}


def test_cascade_escalates_exactly_the_unsure_inferences(tmp_path):
    conf = _confidences()
    threshold = float(np.median(conf))
    text = textwrap.dedent(f"""
        name: cascade
        soc: {REPO / "devices" / "imx8mp.yaml"}
        workloads:
          - name: kws
            model: {REPO / "workloads" / "ds_cnn_int8.onnx"}
            variant: small
            accuracy: 0.949
            rate_hz: 40
            duration_s: 0.5
            deadline_ms: 25
            policy: {{name: single, params: {{unit: dsp}}}}
            variants:
              - {{name: big, model: {REPO / "workloads" / "ds_cnn.onnx"}, accuracy: 0.955,
                 policy: {{name: single, params: {{unit: cpu}}}}}}
        policy: {{name: single, params: {{unit: dsp}}}}
        runtime:
          manager: cascade
          period_ms: 5
          params: {{workload: kws, small: small, big: big, threshold: {threshold!r}}}
        run: {{seed: {SEED}, functional: true}}
        """)
    result = run_scenario(write_scenario(tmp_path, text))
    escalated = {int(s.reason.split()[1].rstrip(":")) for s in result.trace.switches
                 if s.kind == "escalate"}
    expected = {i for i in range(N) if conf[i] < threshold}
    assert 0 < len(expected) < N  # both branches are exercised
    assert escalated == expected
    # each escalation's reason quotes the confidence this test computed for that inference
    for sw in (s for s in result.trace.switches if s.kind == "escalate"):
        i = int(sw.reason.split()[1].rstrip(":"))
        assert float(sw.reason.split("confidence ")[1].split()[0]) == pytest.approx(
            conf[i], abs=5e-5)
    state = result.summary["runtime"]["manager_state"]
    assert state["small_runs"] == N and state["escalated"] == len(expected)
    assert state["confidence"]["p50"] == pytest.approx(float(np.median(conf)), rel=1e-12)
    k = result.summary["runtime"]["workloads"]["kws"]
    assert k["inferences"] == N
    assert k["variant_inferences"] == {"small": N, "big": len(expected)}
    # an escalated inference ends after its big model's last op on the cpu
    ends = {r.inference: r.end_ns for r in result.trace.inferences}
    cpu_end = {}
    for op in result.trace.ops:
        if op.unit == "cpu":
            cpu_end[op.inference] = max(cpu_end.get(op.inference, 0), op.end_ns)
    assert set(cpu_end) == expected
    assert all(ends[i] == cpu_end[i] for i in expected)
    # outputs.npz holds the answer that counts: the big (float) model's where it ran
    outputs = result.functional.outputs
    assert len(outputs) == N
    for i in range(N):
        model = "ds_cnn.onnx" if i in expected else "ds_cnn_int8.onnx"
        unit = soc_unit("cpu" if i in expected else "dsp")
        want = compile_model(REPO / "workloads" / model, arithmetic=unit,
                             rules="onnxruntime").run(_inputs(i)).outputs
        np.testing.assert_array_equal(outputs[f"kws/{i}/logits"], want["logits"])


def soc_unit(name: str):
    soc = load_scenario(REPO / "scenarios" / "two_streams.yaml").device
    return kind_of(soc.units[name]).arithmetic(soc.units[name])
