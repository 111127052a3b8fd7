"""Export the NPU validation set (layers + array configs) for SCALE-Sim to a committed JSON.

Runs in socsim's own environment (numpy >= 2.4); ``regenerate.py`` reads the JSON from a
separate SCALE-Sim venv, so neither environment imports the other's packages.

    python tools/scalesim/export_layers.py      # writes tests/hw/reference/scalesim/setup.json
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from socsim.config import SoC
from socsim.graph import load_graph
from socsim.zoo import build

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "hw" / "reference" / "scalesim" / "setup.json"

#: (zoo model, op name): conv, depthwise and GEMM layers of every bundled workload.
LAYERS: tuple[tuple[str, str], ...] = (
    ("resnet8_int8", "stem_conv"),
    ("resnet8_int8", "stack1_conv1"),
    ("resnet8_int8", "stack2_conv1"),
    ("resnet8_int8", "stack2_shortcut_conv"),
    ("resnet8_int8", "stack3_conv2"),
    ("resnet8_int8", "classifier"),
    ("ds_cnn_int8", "conv1"),
    ("ds_cnn_int8", "ds1_dw_conv"),
    ("ds_cnn_int8", "ds1_pw_conv"),
    ("mobilenetv2_int8", "block3_dw_conv"),
    ("mobilenetv2_int8", "block4_expand_conv"),
    ("mobilenetv2_int8", "block7_dw_conv"),
    ("mobilenetv2_int8", "block13_project_conv"),
    ("mobilenetv2_int8", "head_conv"),
    ("transformer_block_int8", "attn_q_matmul"),
    ("transformer_block_int8", "attn_scores_matmul"),
    ("transformer_block_int8", "ffn_fc1_matmul"),
)

#: Array configs: a socsim device's NPU, with SRAM sizes for SCALE-Sim where the device
#: leaves them unset (SCALE-Sim needs sizes; its compute cycles do not depend on them).
CONFIGS: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("u55_16x16", "devices/mcu_m55_u55.yaml",
     {"ifmap_sram_kib": 32, "filter_sram_kib": 16, "ofmap_sram_kib": 16}),
    ("imx8mp_32x36", "devices/imx8mp.yaml",
     {"ifmap_sram_kib": 256, "filter_sram_kib": 256, "ofmap_sram_kib": 128}),
)


def layer_record(model: str, name: str) -> dict:
    """One layer as SCALE-Sim sees it: a conv (pre-padded input) or a GEMM, times ``repeat``."""
    g = load_graph(build(model))
    op = next(o for o in g.ops if o.name == name)
    shapes = [g.tensors[t].shape for t in (*op.inputs, *op.weights)]
    out = g.tensors[op.outputs[0]].shape
    rec: dict = {"layer": f"{model.removesuffix('_int8')}/{name}", "model": model, "op": name,
                 "family": op.family, "macs": op.macs}
    if op.op_type in ("Conv", "QLinearConv"):
        w = shapes[3] if op.op_type == "QLinearConv" else shapes[1]
        x = shapes[0]
        pads = op.attrs.get("pads", [0, 0, 0, 0])
        strides = op.attrs.get("strides", [1, 1])
        if strides[0] != strides[1]:
            raise ValueError(f"{name}: SCALE-Sim takes one stride, got {strides}")
        group = int(op.attrs.get("group", 1))
        # The input extent the conv reads, (out - 1) * stride + kernel, which is the padded
        # input less any trailing rows no window reaches: SCALE-Sim sizes its output as
        # ceil((H - F + S) / S), one row too many when (H - F) is odd at stride 2.
        ifmap_h = (out[2] - 1) * strides[0] + w[2]
        ifmap_w = (out[3] - 1) * strides[1] + w[3]
        assert ifmap_h <= x[2] + pads[0] + pads[2] and ifmap_w <= x[3] + pads[1] + pads[3]
        rec.update(kind="conv", ifmap_h=ifmap_h, ifmap_w=ifmap_w,
                   filter_h=w[2], filter_w=w[3], channels=w[1], num_filter=w[0] // group,
                   stride=strides[0], repeat=group, ofmap_h=out[2], ofmap_w=out[3])
    else:
        a, b = shapes[0], shapes[1]
        batch = 1
        for d in b[:-2]:
            batch *= d
        m = 1
        for d in out[:-1]:
            m *= d
        rec.update(kind="gemm", m=m // batch, k=a[-1], n=out[-1], repeat=batch)
    return rec


def main() -> None:
    configs = []
    for cname, path, sram in CONFIGS:
        soc = SoC.model_validate(yaml.safe_load((ROOT / path).read_text()))
        npu = next(u for u in soc.units.values() if u.kind == "npu")
        configs.append({"name": cname, "device": path, "array_rows": npu.array_rows,
                        "array_cols": npu.array_cols, **sram})
    setup = {"configs": configs, "layers": [layer_record(m, n) for m, n in LAYERS]}
    OUT.write_text(json.dumps(setup, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(setup['layers'])} layers, "
          f"{len(configs)} configs")


if __name__ == "__main__":
    main()
