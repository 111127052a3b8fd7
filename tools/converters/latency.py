"""Simulated latency of models on a device (one inference, every op on one unit, falling back
to the CPU): prints JSON lines and a short table.

    python tools/converters/latency.py devices/mcu_m55_u55.yaml workloads/converters/*.onnx

To compare with another checkout (e.g. ``main`` before a change), run the same command with
``PYTHONPATH`` pointing at that checkout's tree (``git archive main | tar -x -C /tmp/main``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import yaml

from socsim.run import run_scenario


def latency(device: Path, model: Path, unit: str = "npu") -> dict:
    """One inference of ``model`` on ``device`` with the ``single`` policy on ``unit``."""
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "s.yaml"
        scenario.write_text(yaml.safe_dump({
            "name": "latency", "soc": str(device.resolve()),
            "workloads": [{"name": "net", "model": str(model.resolve()), "inferences": 1}],
            "policy": {"name": "single", "params": {"unit": unit}},
            "run": {"seed": 0, "functional": False, "out": str(Path(tmp) / "out")}}))
        try:
            r = run_scenario(scenario)
        except Exception as exc:  # noqa: BLE001 - reported per model
            return {"model": model.name, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        ops = r.tables.ops
        return {"model": model.name, "latency_us": round(r.trace.makespan_ns / 1e3, 3),
                "ops": len(ops), "units": ops.groupby("unit").size().to_dict(),
                "float_ops": int(ops.dtype.astype(str).str.startswith("float").sum())}


def main(argv: list[str]) -> int:
    device, models = Path(argv[0]), [Path(a) for a in argv[1:]]
    rows = [latency(device, m) for m in models]
    for row in rows:
        print(json.dumps(row))
    print(f"{'model':40} {'latency us':>12} {'ops':>5} {'float':>6}")
    for row in rows:
        print(f"{row['model']:40} {row.get('latency_us', 'error'):>12} {row.get('ops', ''):>5} "
              f"{row.get('float_ops', ''):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
