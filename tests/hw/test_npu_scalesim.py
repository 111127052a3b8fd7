"""socsim's NPU cycles against SCALE-Sim 3.0's, committed in tests/hw/reference/scalesim/.

The reference is SCALE-Sim run by tools/scalesim/regenerate.py (in its own venv) on conv,
depthwise and GEMM layers of the bundled models, for the os, ws and is dataflows and two array
shapes of socsim devices. See docs/npu_validation.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from socsim.graph import load_graph
from socsim.hw import op_cycles
from socsim.hw.npu import buffer_cycles
from socsim.zoo import build
from tools.scalesim.compare import DATAFLOW, npu

ROOT = Path(__file__).resolve().parents[2]
REF = Path(__file__).parent / "reference" / "scalesim"
SETUP = json.loads((REF / "setup.json").read_text())
CONFIGS = {c["name"]: c for c in SETUP["configs"]}
LAYERS = {l["layer"]: l for l in SETUP["layers"]}

#: Goal: every layer and dataflow within 10% of SCALE-Sim's Total Cycles.
COMPUTE_BOUND = 0.10
#: SRAM fill and drain (Total Cycles incl. prefetch): SCALE-Sim fills in whole 1%-of-buffer
#: "sets" and times its ofmap drain from its write-buffer trace; socsim's closed form does
#: neither. Documented bounds, docs/npu_validation.md ("Where the models differ").
PREFETCH_BOUND = 0.06
PREFETCH_EXCEPTIONS = {
    # batched attention GEMMs under ws / is: SCALE-Sim's prologue+epilogue is ~1.8x socsim's
    ("transformer_block/attn_scores_matmul", "ws"): 0.20,
    ("transformer_block/attn_scores_matmul", "is"): 0.20,
}

_graphs: dict = {}


def _reference() -> list[tuple[str, dict]]:
    rows = []
    for name in CONFIGS:
        path = REF / f"{name}.csv"
        if path.exists():
            rows += [(name, r) for r in pd.read_csv(path).to_dict("records")]
    return rows


REFERENCE = _reference()


def _op(layer: dict):
    if layer["model"] not in _graphs:
        _graphs[layer["model"]] = load_graph(build(layer["model"]))
    g = _graphs[layer["model"]]
    return next(o for o in g.ops if o.name == layer["op"]), g


def _id(item) -> str:
    name, r = item
    return f"{name}-{r['layer']}-{r['dataflow']}"


def test_reference_covers_the_brief():
    families = {LAYERS[r["layer"]]["family"] for _, r in REFERENCE}
    assert {"conv", "depthwise", "gemm"} <= families
    for name in CONFIGS:
        rows = [r for n, r in REFERENCE if n == name]
        if rows:
            assert {r["dataflow"] for r in rows} == set(DATAFLOW)
    assert len({r["layer"] for _, r in REFERENCE}) >= 10
    assert all(r["stall_cycles"] == 0 for _, r in REFERENCE)  # estimate-bandwidth mode


@pytest.mark.parametrize("item", REFERENCE, ids=_id)
def test_compute_cycles_match_scalesim(item):
    name, ref = item
    op, g = _op(LAYERS[ref["layer"]])
    cyc = op_cycles(npu(CONFIGS[name], ref["dataflow"], False), op, g)
    # SCALE-Sim reports the 0-based index of the last cycle: one less per sub-layer it runs.
    assert cyc.compute == ref["total_cycles"] + ref["sublayers"]
    assert abs(cyc.compute - ref["total_cycles"]) <= COMPUTE_BOUND * ref["total_cycles"]
    # SCALE-Sim's Overall Util % is MACs / (its Total Cycles x PEs): rescale to our count.
    want_util = ref["overall_util_pct"] * ref["total_cycles"] / cyc.compute
    assert 100 * cyc.utilisation == pytest.approx(want_util, rel=1e-9)


#: The prologue/epilogue model is validated at the U55's small SRAMs only; with the i.MX
#: config's 256/256/128 KiB it is off by up to 50% (docs/npu_validation.md), so not asserted.
PREFETCH_CONFIGS = ("u55_16x16",)


@pytest.mark.parametrize("item", [r for r in REFERENCE if r[0] in PREFETCH_CONFIGS], ids=_id)
def test_prefetch_cycles_within_bound(item):
    name, ref = item
    op, g = _op(LAYERS[ref["layer"]])
    cyc = op_cycles(npu(CONFIGS[name], ref["dataflow"], True), op, g)
    want = ref["total_cycles_incl_prefetch"]
    bound = PREFETCH_EXCEPTIONS.get((ref["layer"], ref["dataflow"]), PREFETCH_BOUND)
    assert abs(cyc.compute - want) <= bound * want


def test_buffer_cycles_by_hand():
    unit = npu(CONFIGS["u55_16x16"], "os", True)  # 32 / 16 / 16 KiB, fill 10 words/cycle
    # ifmap 1000 words fits the 16384-word active half: 100 cycles; filter 8192-word half
    # caps 9000 words: 820 cycles; + 1 hit cycle; ofmap 4096 of 8192-word half over 16 cols
    assert buffer_cycles(unit, 1000, 9000, 4096) == 820 + 1 + 256
    assert buffer_cycles(npu(CONFIGS["u55_16x16"], "os", False), 1000, 9000, 4096) == 0
