"""Run SCALE-Sim on the NPU validation layers and commit its reports as reference data.

Run with the SCALE-Sim venv's interpreter, never socsim's (SCALE-Sim 3.0 needs numpy < 2.4)::

    python3 -m venv /work/scalesim-venv
    /work/scalesim-venv/bin/pip install scalesim==3.0.0 "numpy<2.4"
    /work/scalesim-venv/bin/python tools/scalesim/regenerate.py [--config u55_16x16] [--jobs 2]

Reads ``tests/hw/reference/scalesim/setup.json`` (written by ``export_layers.py`` from socsim)
and writes one ``<config>.csv`` beside it: per layer and dataflow, SCALE-Sim's COMPUTE_REPORT
figures summed over the layer's sub-layers, and SCALE-Sim's wall time for the layer.

How layers are handed to SCALE-Sim (it has no grouped conv and no batched MatMul):

* conv: pre-padded input height/width (SCALE-Sim does not pad), one stride;
* depthwise: SCALE-Sim's own convention, a layer name containing ``DP`` with ``Channels = C``
  and ``Num filter = 1``, which its topology loader expands into C one-channel layers;
* GEMM: SCALE-Sim's GEMM topology (``-i gemm``, rows ``M, N, K``); a batched MatMul whose
  second operand differs per batch (attention heads) is one row per batch entry.

Estimate-bandwidth mode (``InterfaceBandwidth = CALC``): SCALE-Sim's reads never stall there,
so ``Total Cycles`` is the array's compute time; ``Total Cycles (incl. prefetch)`` adds the
first fill of the operand SRAMs and the last OFMAP drain.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

REF = Path(__file__).resolve().parents[2] / "tests" / "hw" / "reference" / "scalesim"
DATAFLOWS = ("os", "ws", "is")


def _config_file(path: Path, cfg: dict, dataflow: str) -> None:
    c = configparser.ConfigParser()
    c.optionxform = str  # SCALE-Sim reads keys case-insensitively; keep them readable
    c["general"] = {"run_name": "run"}
    c["architecture_presets"] = {
        "ArrayHeight": cfg["array_rows"], "ArrayWidth": cfg["array_cols"],
        "IfmapSramSzkB": int(cfg["ifmap_sram_kib"]), "FilterSramSzkB": int(cfg["filter_sram_kib"]),
        "OfmapSramSzkB": int(cfg["ofmap_sram_kib"]),
        "IfmapOffset": 0, "FilterOffset": 10000000, "OfmapOffset": 20000000,
        "Dataflow": dataflow, "Bandwidth": 10, "ReadRequestBuffer": 32,
        "WriteRequestBuffer": 32}
    c["layout"] = {"IfmapCustomLayout": False, "IfmapSRAMBankBandwidth": 10,
                   "IfmapSRAMBankNum": 10, "IfmapSRAMBankPort": 2, "FilterCustomLayout": False,
                   "FilterSRAMBankBandwidth": 10, "FilterSRAMBankNum": 10,
                   "FilterSRAMBankPort": 2}
    c["sparsity"] = {"SparsitySupport": "false", "SparseRep": "ellpack_block",
                     "OptimizedMapping": "false", "BlockSize": 8, "RandomNumberGeneratorSeed": 40}
    c["run_presets"] = {"InterfaceBandwidth": "CALC", "UseRamulatorTrace": False}
    with path.open("w") as f:
        c.write(f)


def _topology_rows(layer: dict) -> tuple[bool, list[list]]:
    """(GEMM input?, topology rows) for one layer; SCALE-Sim wants a trailing comma per row."""
    if layer["kind"] == "gemm":
        return True, [[f"{layer['op']}_{i}", layer["m"], layer["n"], layer["k"], ""]
                      for i in range(layer["repeat"])]
    if layer["repeat"] > 1:  # depthwise: SCALE-Sim's 'DP' expansion into one layer per channel
        return False, [[f"DP_{layer['op']}", layer["ifmap_h"], layer["ifmap_w"],
                        layer["filter_h"], layer["filter_w"], layer["repeat"], 1,
                        layer["stride"], ""]]
    return False, [[layer["op"], layer["ifmap_h"], layer["ifmap_w"], layer["filter_h"],
                    layer["filter_w"], layer["channels"], layer["num_filter"], layer["stride"],
                    ""]]


def run_layer(cfg: dict, layer: dict, dataflow: str) -> dict:
    """Run SCALE-Sim on one layer; its COMPUTE_REPORT summed over sub-layers, and wall time."""
    from scalesim.scale_sim import scalesim  # imported in the worker: a heavy import

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _config_file(d / "scale.cfg", cfg, dataflow)
        gemm, rows = _topology_rows(layer)
        header = (["Layer", "M", "N", "K", ""] if gemm else
                  ["Layer name", "IFMAP Height", "IFMAP Width", "Filter Height",
                   "Filter Width", "Channels", "Num Filter", "Strides", ""])
        pd.DataFrame(rows, columns=header).to_csv(d / "topo.csv", index=False)
        # SCALE-Sim insists on a layout file even with custom layouts off; a header suffices.
        pd.DataFrame(columns=["Layer name", ""]).to_csv(d / "layout.csv", index=False)
        t0 = time.perf_counter()
        sim = scalesim(save_disk_space=True, verbose=False, config=str(d / "scale.cfg"),
                       topology=str(d / "topo.csv"), layout=str(d / "layout.csv"),
                       input_type_gemm=gemm)
        sim.run_scale(top_path=str(d / "out"))
        wall = time.perf_counter() - t0
        rep = pd.read_csv(d / "out" / "run" / "COMPUTE_REPORT.csv", skipinitialspace=True)
    rep.columns = [c.strip() for c in rep.columns]
    return {
        "layer": layer["layer"], "dataflow": dataflow, "sublayers": len(rep),
        "total_cycles": int(rep["Total Cycles"].sum()),
        "total_cycles_incl_prefetch": int(rep["Total Cycles (incl. prefetch)"].sum()),
        "stall_cycles": int(rep["Stall Cycles"].sum()),
        "overall_util_pct": float((rep["Overall Util %"] * rep["Total Cycles"]).sum()
                                  / rep["Total Cycles"].sum()),
        "mapping_efficiency_pct": float(rep["Mapping Efficiency %"].mean()),
        "wall_s": round(wall, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append", help="config name(s) from setup.json "
                    "(default: all)")
    ap.add_argument("--layer", action="append", help="only these layers; their rows replace "
                    "those in an existing CSV")
    ap.add_argument("--jobs", type=int, default=1, help="parallel SCALE-Sim processes "
                    "(wall times are per process; 1 gives undisturbed timings)")
    args = ap.parse_args()
    setup = json.loads((REF / "setup.json").read_text())
    configs = [c for c in setup["configs"] if not args.config or c["name"] in args.config]
    layers = [l for l in setup["layers"] if not args.layer or l["layer"] in args.layer]
    for cfg in configs:
        tasks = [(cfg, layer, df) for layer in layers for df in DATAFLOWS]
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_layer, *t) for t in tasks]
            rows = []
            for f in futures:
                rows.append(f.result())
                r = rows[-1]
                print(f"{cfg['name']} {r['layer']:40s} {r['dataflow']} "
                      f"{r['total_cycles']:>9d} cycles {r['wall_s']:8.2f} s", flush=True)
        out = REF / f"{cfg['name']}.csv"
        df = pd.DataFrame(rows)
        if args.layer and out.exists():  # refresh these layers' rows, keep the others
            old = pd.read_csv(out)
            df = pd.concat([old[~old["layer"].isin(args.layer)], df])
            order = {l["layer"]: i for i, l in enumerate(setup["layers"])}
            df = df.sort_values(["layer", "dataflow"], key=lambda c: c.map(
                order if c.name == "layer" else {d: i for i, d in enumerate(DATAFLOWS)}),
                kind="stable")
        df.to_csv(out, index=False)
        print(f"wrote {out}")
    from importlib.metadata import version

    import scalesim  # noqa: F401  (version note for the record)
    (REF / "VERSION").write_text(f"scalesim {version('scalesim')}\n"
                                 f"numpy {version('numpy')}\ncpus {os.cpu_count()}\n")


if __name__ == "__main__":
    main()
