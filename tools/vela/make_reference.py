"""Build int8 .tflite cases, run Arm Vela 5.2 on them, and index its per-layer estimates.

Runs in its own environment (never socsim's: tensorflow and Vela are not project
dependencies)::

    python3 -m venv /work/envs/vela
    /work/envs/vela/bin/pip install "ethos-u-vela==5.2.*" "tensorflow-cpu==2.21.*"
    /work/envs/vela/bin/python tools/vela/make_reference.py            # all three steps
    /work/envs/vela/bin/python tools/vela/make_reference.py --step index   # re-index only

Steps: ``build`` writes one int8 .tflite per case into ``--work`` (default /tmp/vela_ref;
the models are regenerated from the seed); ``run`` calls the ``vela`` CLI for
each case and each system configuration with ``--verbose-performance`` (per-layer CSV);
``index`` copies the per-layer CSVs to tests/data/vela/<config>/ and the .tflite files
(each under 1 MB) to tests/data/vela/tflite/ (run end to end through socsim's simulator by
tests/hw/test_vela_end_to_end.py), and writes
tests/data/vela/index.json with, for every layer Vela ran, its geometry read from the .tflite
(op, input/output shapes NHWC, kernel, stride, padding, dtypes, weight and bias bytes) and
Vela's cycles (total, NPU, SRAM access, off-chip flash access) and MACs. The cost-model
comparison (tests/hw/test_vela_agreement.py) reads only the JSON and CSVs.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "data" / "vela"
SEED = 20261206

#: (name, accelerator, system config, memory mode) run by ``--step run``.
CONFIGS = [
    ("u55_128_high_end", "ethos-u55-128", "Ethos_U55_High_End_Embedded", "Shared_Sram"),
    ("u55_64_deep", "ethos-u55-64", "Ethos_U55_Deep_Embedded", "Shared_Sram"),
    ("u65_256_high_end", "ethos-u65-256", "Ethos_U65_High_End", "Dedicated_Sram"),
]


# ---------------------------------------------------------------------------------------------
# build: Keras models -> int8 .tflite (full-integer post-training quantization)

def _layers():
    import keras
    from keras import layers as L

    def single(shape, *ops):
        def make():
            x = inp = keras.Input(shape)
            for op in ops:
                x = op(x)
            return keras.Model(inp, x)
        return make

    def add_case():
        a = keras.Input((16, 16, 64))
        b = keras.Input((16, 16, 64))
        return keras.Model([a, b], L.Add()([a, b]))

    def conv(c, k, s=1, act="relu"):
        return L.Conv2D(c, k, strides=s, padding="same", activation=act)

    def dw(s):
        return L.DepthwiseConv2D(3, strides=s, padding="same", activation="relu")

    return {
        "conv3x3_16to32_32x32": single((32, 32, 16), conv(32, 3)),
        "conv3x3_64to64_16x16": single((16, 16, 64), conv(64, 3)),
        "conv3x3_128to128_8x8": single((8, 8, 128), conv(128, 3)),
        "conv1x1_32to64_24x24": single((24, 24, 32), conv(64, 1)),
        "conv1x1_96to24_12x12": single((12, 12, 96), conv(24, 1, act=None)),
        "conv1x1_128to256_6x6": single((6, 6, 128), conv(256, 1)),
        "conv3x3_cin1_32x32": single((32, 32, 1), conv(16, 3)),
        "conv10x4_cin1_s2_49x10": single((49, 10, 1), conv(64, (10, 4), 2)),
        "conv3x3_cin3_s2_96x96": single((96, 96, 3), conv(16, 3, 2)),
        "conv3x3_cin3_32x32": single((32, 32, 3), conv(16, 3)),
        "dw3x3_s1_24x24x64": single((24, 24, 64), dw(1)),
        "dw3x3_s2_48x48x32": single((48, 48, 32), dw(2)),
        "dw3x3_s1_25x5x64": single((25, 5, 64), dw(1)),
        "fc_1024to256": single((1024,), L.Dense(256, activation="relu")),
        "fc_256to10": single((256,), L.Dense(10)),
        "add_16x16x64": add_case,
        "avgpool2x2_16x16x64": single((16, 16, 64), L.AveragePooling2D(2)),
        "avgpool25x5_25x5x64": single((25, 5, 64), L.AveragePooling2D((25, 5))),
        "maxpool2x2_32x32x32": single((32, 32, 32), L.MaxPooling2D(2)),
        "maxpool3x3_s2_24x24x64": single((24, 24, 64), L.MaxPooling2D(3, 2, padding="same")),
        "mean_8x8x128": single((8, 8, 128), L.GlobalAveragePooling2D()),
    }


def _ds_cnn():
    import keras
    from keras import layers as L
    x = inp = keras.Input((49, 10, 1))
    x = L.Conv2D(64, (10, 4), strides=2, padding="same", activation="relu")(x)
    for _ in range(4):
        x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = L.Conv2D(64, 1, activation="relu")(x)
    x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(12)(x))


def _resnet8(width=16, res=32):
    import keras
    from keras import layers as L
    x = inp = keras.Input((res, res, 3))
    x = L.Conv2D(width, 3, padding="same", activation="relu")(x)
    for i, c in enumerate((width, 2 * width, 4 * width)):
        s = 1 if i == 0 else 2
        y = L.Conv2D(c, 3, strides=s, padding="same", activation="relu")(x)
        y = L.Conv2D(c, 3, padding="same")(y)
        if s != 1:
            x = L.Conv2D(c, 1, strides=s)(x)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.AveragePooling2D(pool_size=x.shape[1])(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(10)(x))


def _mobilenet_v2(alpha, res):
    import keras
    return keras.applications.MobileNetV2(input_shape=(res, res, 3), alpha=alpha,
                                          weights=None, classes=2)


def _networks():
    return {
        "net_ds_cnn": _ds_cnn,
        "net_resnet8": _resnet8,
        "net_resnet8_w8_r24": lambda: _resnet8(8, 24),
        "net_mobilenetv2_035_96": lambda: _mobilenet_v2(0.35, 96),
        "net_mobilenetv2_035_64": lambda: _mobilenet_v2(0.35, 64),
        "net_mobilenetv2_025_48": lambda: _mobilenet_v2(0.25, 48),
    }


def _set_weights(model, rng: np.random.Generator) -> None:
    """Give every weight a value drawn from ``rng`` (Glorot-uniform kernels, small biases,
    BatchNorm statistics near identity), so that a case's .tflite is the same bytes on every
    run (Keras' own initialisers draw from per-process state)."""
    for w in model.weights:
        shape = tuple(w.shape)
        name = w.path if hasattr(w, "path") else w.name
        if "gamma" in name or "moving_variance" in name:
            value = rng.uniform(0.8, 1.2, shape)
        elif len(shape) <= 1:
            value = rng.uniform(-0.1, 0.1, shape)
        else:
            fan_in = int(np.prod(shape[:-1]))
            fan_out = int(shape[-1]) * (int(np.prod(shape[:-2])) if len(shape) == 4 else 1)
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            value = rng.uniform(-limit, limit, shape)
        w.assign(value.astype(np.float32))


def build(work: Path, only: set[str] | None) -> None:
    import keras
    import tensorflow as tf
    work.mkdir(parents=True, exist_ok=True)
    cases = {**_layers(), **_networks()}
    for name, make in cases.items():
        if only and name not in only:
            continue
        keras.utils.set_random_seed(SEED)
        model = make()
        rng = np.random.default_rng(SEED)
        _set_weights(model, rng)
        shapes = [tuple(i.shape[1:]) for i in model.inputs]

        def data(shapes=shapes, rng=rng):
            for _ in range(16):
                yield [rng.uniform(-1, 1, (1, *s)).astype(np.float32) for s in shapes]

        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = data
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        (work / f"{name}.tflite").write_bytes(conv.convert())
        print("built", name, flush=True)


# ---------------------------------------------------------------------------------------------
# run: the vela CLI, one output dir per (config, case)

def run(work: Path, only: set[str] | None, configs: list[str]) -> None:
    vela = Path(sys.executable).with_name("vela")
    for cfg, accel, system, mode in CONFIGS:
        if cfg not in configs:
            continue
        for model in sorted(work.glob("*.tflite")):
            if only and model.stem not in only:
                continue
            out = work / cfg / model.stem
            out.mkdir(parents=True, exist_ok=True)
            cmd = [str(vela), str(model), "--config", "Arm/vela.ini",
                   "--accelerator-config", accel, "--system-config", system,
                   "--memory-mode", mode, "--verbose-performance", "--enable-debug-db",
                   "--output-dir", str(out)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            (out / "vela_stdout.txt").write_text(res.stdout + res.stderr)
            if res.returncode:
                raise SystemExit(f"vela failed on {model.name} ({cfg}):\n{res.stderr[-2000:]}")
            print("ran", cfg, model.stem, flush=True)


# ---------------------------------------------------------------------------------------------
# index: geometry from the .tflite flatbuffer + Vela's per-layer CSV -> index.json

_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 9: "int8", 7: "int16"}


def _tflite_ops(path: Path) -> dict[str, dict]:
    """Every operator of the .tflite's main subgraph, keyed by its first output's name."""
    from ethosu.vela.tflite import (
        BuiltinOperator,
        BuiltinOptions,
        Conv2DOptions,
        DepthwiseConv2DOptions,
        Model,
        Pool2DOptions,
    )
    names = {v: k for k, v in vars(BuiltinOperator.BuiltinOperator).items()
             if not k.startswith("_")}
    buf = path.read_bytes()
    model = Model.Model.GetRootAs(buf, 0)
    sg = model.Subgraphs(0)

    def tensor(i):
        t = sg.Tensors(i)
        b = model.Buffers(t.Buffer())
        return {"name": t.Name().decode(), "shape": [int(d) for d in t.ShapeAsNumpy()]
                if t.ShapeLength() else [], "dtype": _DTYPES.get(t.Type(), str(t.Type())),
                "const": bool(b and b.DataLength())}

    ops = {}
    for j in range(sg.OperatorsLength()):
        op = sg.Operators(j)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        ins = [tensor(i) for i in op.InputsAsNumpy() if i >= 0]
        outs = [tensor(i) for i in op.OutputsAsNumpy()]
        rec = {"tflite_op": kind, "inputs": ins, "outputs": outs}
        opt_t, tab = op.BuiltinOptionsType(), op.BuiltinOptions()
        cls = {BuiltinOptions.BuiltinOptions.Conv2DOptions: Conv2DOptions.Conv2DOptions,
               BuiltinOptions.BuiltinOptions.DepthwiseConv2DOptions:
                   DepthwiseConv2DOptions.DepthwiseConv2DOptions,
               BuiltinOptions.BuiltinOptions.Pool2DOptions: Pool2DOptions.Pool2DOptions
               }.get(opt_t)
        if cls is not None and tab is not None:
            o = cls()
            o.Init(tab.Bytes, tab.Pos)
            rec["stride"] = [o.StrideH(), o.StrideW()]
            rec["padding"] = "same" if o.Padding() == 0 else "valid"
            if hasattr(o, "FilterHeight"):
                rec["kernel"] = [o.FilterHeight(), o.FilterWidth()]
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            rec["kernel"] = ins[1]["shape"][1:3]
        ops[outs[0]["name"]] = rec
    return ops


def _geometry(rec: dict) -> dict:
    """socsim's view of one op: activation shapes NHWC, kernel, stride, weight bytes."""
    acts = [t for t in rec["inputs"] if not t["const"]]
    consts = [t for t in rec["inputs"] if t["const"]]
    kind = rec["tflite_op"]
    geo = {"op": kind, "ifm_shapes": [t["shape"] for t in acts],
           "ifm_dtypes": [t["dtype"] for t in acts],
           "ofm_shape": rec["outputs"][0]["shape"], "ofm_dtype": rec["outputs"][0]["dtype"],
           "kernel": rec.get("kernel", [1, 1]), "stride": rec.get("stride", [1, 1]),
           "padding": rec.get("padding", "valid"),
           "weight_bytes": 0, "bias_bytes": 0}
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and consts:
        w = consts[0]
        geo["weight_bytes"] = int(np.prod(w["shape"]))
        geo["weight_shape"] = w["shape"]
        if len(consts) > 1:
            geo["bias_bytes"] = 4 * int(np.prod(consts[1]["shape"]))
    if kind == "MEAN":
        geo["kernel"] = acts[0]["shape"][1:3]
    return geo


def index(work: Path, configs: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cases = {}
    (OUT / "tflite").mkdir(exist_ok=True)
    for model in sorted(work.glob("*.tflite")):
        shutil.copyfile(model, OUT / "tflite" / model.name)
        ops = _tflite_ops(model)
        case = {"kind": "network" if model.stem.startswith("net_") else "layer",
                "tflite_bytes": model.stat().st_size, "layers": [], "vela": {}}
        for cfg, *_ in CONFIGS:
            if cfg not in configs:
                continue
            src = work / cfg / model.stem / f"{model.stem}_per-layer.csv"
            if not src.exists():
                continue
            dst = OUT / cfg / f"{model.stem}_per-layer.csv"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            rows = list(csv.DictReader(src.open()))
            _attach_debug(rows, src.with_name(f"{model.stem}_debug.xml"))
            case["vela"][cfg] = _vela_layers(rows, str(dst.relative_to(OUT)), set(ops))
        # geometry: one entry per TFLite operator Vela ran (the same ops in every config)
        first = next(iter(case["vela"].values()), None)
        for lay in first["layers"] if first else []:
            rec = ops.get(lay["name"])
            geo = _geometry(rec) if rec else {"op": lay["original_op"], "unmatched": True}
            case["layers"].append({"name": lay["name"], **geo})
        cases[model.stem] = case
    versions = {"vela": _version("ethos-u-vela"), "tensorflow": _version("tensorflow-cpu"),
                "seed": SEED}
    doc = {"generator": "tools/vela/make_reference.py", "versions": versions,
           "configs": {c[0]: {"accelerator": c[1], "system_config": c[2], "memory_mode": c[3]}
                       for c in CONFIGS if c[0] in configs},
           "cases": cases}
    (OUT / "index.json").write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", OUT / "index.json", len(cases), "cases")


_DEBUG_FIELDS = {
    "ifm_format": str, "ifm2_format": str, "ofm_format": str, "ifm_memory": str,
    "ofm_memory": str, "weight_total_bytes": int, "scales_total_bytes": int,
    "weight_max_range_bytes": int, "weight_buffering": str, "weight_transfer_cycles": int,
    "traversal": str, "ifm_block_h": int, "ifm_block_w": int, "ifm_block_c": int,
    "ofm_block_h": int, "ofm_block_w": int, "ofm_block_c": int, "mac_cycles": int,
    "ao_cycles": int, "cmd_cycles": int}


def _attach_debug(rows: list[dict], xml: Path) -> None:
    """Add Vela's compiler decisions (``--enable-debug-db``: tensor formats and memories,
    encoded weight bytes, weight buffering, block configuration, traversal) to each row.

    The debug database's ``perf`` table lists the same operations as the per-layer CSV, in
    the same order and with the same names; ``perf_debug`` and ``perf_debug_main`` are keyed
    by the same id.
    """
    import io
    import re
    text = xml.read_text()
    tables = {}
    for m in re.finditer(r'<table name="([^"]+)">\s*<!\[CDATA\[(.*?)\]\]>', text, re.S):
        recs = list(csv.reader(io.StringIO(m.group(2).strip())))
        tables[m.group(1)] = [dict(zip(recs[0], r)) for r in recs[1:]]
    perf = tables["perf"]
    if [r["name"] for r in perf] != [r["Name"] for r in rows]:
        raise SystemExit(f"{xml}: debug database and per-layer CSV list different operations")
    extra = {r["id"]: r for r in tables.get("perf_debug", [])}
    main = {r["id"]: r for r in tables.get("perf_debug_main", [])}
    for row, p in zip(rows, perf):
        merged = {**extra.get(p["id"], {}), **main.get(p["id"], {})}
        row["debug"] = {k: conv(merged[k]) for k, conv in _DEBUG_FIELDS.items()
                        if merged.get(k, "") != ""}


def _vela_layers(rows: list[dict], csv_name: str, op_names: set[str]) -> dict:
    """Vela's per-layer rows grouped by the TFLite operator they come from.

    Vela may lower one operator into several NPU operations (MEAN -> DepthwiseConv2D + Mul,
    SOFTMAX -> ~27 elementwise ops, a Reshape of a pooled tensor -> a memory copy), named
    after intermediate tensors; those rows are folded into the next row that names a TFLite
    operator's output (the operator they were lowered from or, for a copy, its consumer).
    Fused activations are rows of 0 cycles and 0 MACs, folded into their operator's entry.
    """
    layers: list[dict] = []
    pending: list[dict] = []
    for r in rows:
        pending.append(r)
        name = r["Name"].split("_intermediate")[0]
        if name not in op_names:
            continue
        if layers and layers[-1]["name"] == name:      # a fused activation row
            group, lay = pending, layers[-1]
        else:
            group = pending
            lay = {"name": name, "original_op": r["Original Operator"], "vela_ops": [],
                   "cycles": 0.0, "npu": 0.0, "sram_access": 0.0, "dram_access": 0.0,
                   "offchip_flash_access": 0.0, "macs": 0, "target": r["Target"]}
            layers.append(lay)
        for g in group:
            cyc = float(g["Op Cycles"])
            fused = cyc == 0 and float(g["MAC Count"]) == 0
            lay["vela_ops"].append(g["NNG Operator"] + (" (fused)" if fused else ""))
            if not fused:
                lay.setdefault("vela_op_details", []).append(
                    {"op": g["NNG Operator"], "cycles": cyc, **g.get("debug", {})})
            lay["cycles"] += cyc
            lay["npu"] += float(g["NPU"])
            lay["sram_access"] += float(g["SRAM AC"])
            lay["dram_access"] += float(g["DRAM AC"])
            lay["offchip_flash_access"] += float(g["OffFlash AC"])
            lay["macs"] += int(float(g["MAC Count"]))
        pending = []
    if pending:
        raise SystemExit(f"{csv_name}: rows after the last operator: "
                         f"{[r['Name'] for r in pending]}")
    return {"csv": csv_name, "layers": layers,
            "total_cycles": sum(float(r["Op Cycles"]) for r in rows)}


def _version(dist: str) -> str:
    from importlib.metadata import version
    return version(dist)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", choices=["build", "run", "index", "all"], default="all")
    ap.add_argument("--work", type=Path, default=Path("/tmp/vela_ref"))
    ap.add_argument("--only", nargs="*", help="case names (default: all)")
    ap.add_argument("--configs", nargs="*", default=[c[0] for c in CONFIGS])
    args = ap.parse_args()
    only = set(args.only) if args.only else None
    if args.step in ("build", "all"):
        build(args.work, only)
    if args.step in ("run", "all"):
        run(args.work, only, args.configs)
    if args.step in ("index", "all"):
        index(args.work, args.configs)


if __name__ == "__main__":
    main()
