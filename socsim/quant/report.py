"""Compare quantization variants of one model: accuracy, size, and simulated latency and energy.

The simulated figures come from ``socsim.run_scenario`` on a scenario written next to the
report (the device file, the variant with batch 1, N closed-loop inferences, a placement
policy), so they are what ``socsim run`` reports for that model on that SoC.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
import yaml

from socsim.quant.evaluate import outputs, sqnr_db
from socsim.quant.ptq import QuantResult, Recipe, quantize_static

__all__ = ["STANDARD_VARIANTS", "batch_one", "compare_variants", "simulate"]

STANDARD_VARIANTS: dict[str, Recipe] = {
    "int8 per-tensor": Recipe("int8"),
    "int8 per-channel": Recipe("int8", per_channel=True),
    "int8 per-tensor +BC": Recipe("int8", bias_correction=True),
    "int8 per-tensor +CLE": Recipe("int8", equalize=True),
    "int8 per-tensor +CLE +BC": Recipe("int8", equalize=True, bias_correction=True),
    "int4 per-tensor": Recipe("int4"),
    "int4 per-tensor +CLE +BC": Recipe("int4", equalize=True, bias_correction=True),
    "int4 per-channel": Recipe("int4", per_channel=True),
    "int4 per-channel +CLE +BC": Recipe("int4", per_channel=True, equalize=True,
                                        bias_correction=True),
}
"""The variants the report compares besides float and the requested recipe."""


def batch_one(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy with every symbolic input/output dimension set to 1 (the simulator wants static
    shapes)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for v in [*m.graph.input, *m.graph.output]:
        for d in v.type.tensor_type.shape.dim:
            if d.dim_param:
                d.ClearField("dim_param")
                d.dim_value = 1
    return m


def simulate(model_path: str | os.PathLike, device: str | os.PathLike, out_dir: Path,
             name: str, *, inferences: int = 10,
             policy: Mapping[str, object] | None = None) -> dict[str, float]:
    """Runs ``inferences`` closed-loop inferences on ``device`` and returns latency and energy.

    Args:
        model_path: a batch-1 model file.
        device: device YAML.
        out_dir: where the scenario file is written.
        name: scenario name.
        inferences: inferences to simulate.
        policy: placement policy (default ``greedy_eft``).

    Returns:
        ``latency_ms_p50``, ``energy_mj_per_inference`` and the units that ran ops.
    """
    from socsim.run import run_scenario

    scen = {"name": name, "soc": str(Path(device).resolve()),
            "workloads": [{"name": "digits", "model": str(Path(model_path).resolve()),
                           "inferences": inferences}],
            "policy": dict(policy or {"name": "greedy_eft"}),
            "run": {"seed": 0, "functional": False}}
    path = out_dir / f"scenario_{name}.yaml"
    path.write_text(yaml.safe_dump(scen, sort_keys=False))
    s = run_scenario(path).summary
    units = ",".join(u for u, v in s["units"].items() if v["ops"])
    return {"latency_ms_p50": s["latency_ms"]["p50"],
            "energy_mj_per_inference": s["energy_mj"]["per_inference"], "units": units}


def compare_variants(model: onnx.ModelProto, calib: Mapping[str, np.ndarray],
                     data: Mapping[str, np.ndarray], extra: Mapping[str, QuantResult] | None = None,
                     *, variants: Mapping[str, Recipe] = STANDARD_VARIANTS,
                     device: str | os.PathLike | None = None, out_dir: Path | None = None,
                     policy: Mapping[str, object] | None = None):
    """Accuracy (with labels), output SQNR, weight bytes and, with a device, simulated latency
    and energy of the float model and each variant.

    Args:
        model: float model.
        calib: calibration data.
        data: evaluation data (``labels`` optional).
        extra: already quantized results to include (e.g. the requested recipe or mixed).
        variants: recipes to build.
        device: device YAML for simulation (needs ``out_dir``).
        out_dir: where variant models and scenarios are written.
        policy: placement policy for the simulation.

    Returns:
        A pandas DataFrame, one row per variant.
    """
    import pandas as pd

    inputs = {k: v for k, v in data.items() if k != "labels"}
    ref = outputs(model, inputs)
    built: dict[str, onnx.ModelProto] = {"float": model}
    sizes = {"float": sum(4 * int(np.prod(i.dims)) for i in model.graph.initializer)}
    for label, recipe in variants.items():
        r = quantize_static(model, calib, recipe)
        built[label], sizes[label] = r.model, r.weight_bytes
    for label, r in (extra or {}).items():
        built[label], sizes[label] = r.model, r.weight_bytes
    rows = []
    for label, m in built.items():
        got = outputs(m, inputs)
        row = {"variant": label, "weight_bytes": sizes[label],
               "sqnr_db": float("inf") if label == "float" else sqnr_db(ref, got)}
        if "labels" in data:
            row["accuracy"] = float((got.argmax(-1) == data["labels"]).mean())
        if device is not None and out_dir is not None:
            slug = "".join(c for c in label.replace(" ", "_") if c.isalnum() or c in "_-")
            path = out_dir / f"variant_{slug}.onnx"
            onnx.save(batch_one(m), path)
            row.update(simulate(path, device, out_dir, slug, policy=policy))
        rows.append(row)
    return pd.DataFrame(rows)


def write_json(path: Path, obj: object) -> None:
    """JSON with sorted keys and NaN/inf as strings."""
    def fix(v):
        if isinstance(v, float) and not np.isfinite(v):
            return str(v)
        return v
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=fix))

