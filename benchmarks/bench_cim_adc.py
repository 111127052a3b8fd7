"""What ADC resolution does to a CiM unit's outputs: the digits CNN at 4, 6, 8, ... ADC bits.

The float model workloads/digits_cnn.onnx is quantized as scenarios/digits_quantized.yaml does
(int8, per-channel weights, MinMax over workloads/digits_calib.npz) and run on all 600 images
of workloads/digits_test.npz with socsim's kernels: once with exact integer sums (the int8
reference), then with the integer dot product of the device's ``cim`` unit
(socsim.kernels.cim.CimDot: its rows, DAC bits and bits per cell) at each ADC resolution. The
last resolution is the fewest bits that make every partial sum exact
(socsim.kernels.cim.exact_adc_bits), where the logits must equal the reference bit for bit.
It also prints the weight programming per inference (socsim.hw.cim.programming: cell writes,
writes per cell, lifetime against the unit's endurance) of the digits CNN and of ResNet-8 with
every conv and matrix op on the unit.

Usage: python benchmarks/bench_cim_adc.py [--device devices/imx8mp_cim.yaml] [--unit cim]
                                          [--bits 4 6 8 10 12]
Prints one JSON object, then a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from socsim.config import load_soc
from socsim.execute import compile_model
from socsim.graph import load_graph
from socsim.hw.cim import programming
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.cim import (
    CimDot,
    cim_conv,
    cim_matmul,
    exact_adc_bits,
)
from socsim.quant import Recipe, quantize_static

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CountingDot:
    """A :class:`CimDot` that also adds up its ADC statistics (for this report only)."""

    spec: CimDot
    counts: dict = field(default_factory=lambda: {"conversions": 0, "inexact": 0}, hash=False,
                         compare=False)

    def _add(self, stats) -> None:
        self.counts["conversions"] += stats.conversions
        self.counts["inexact"] += stats.inexact

    def matmul(self, a, a_zero_point, b, b_zero_point):
        acc, stats = cim_matmul(a, a_zero_point, b, b_zero_point, self.spec)
        self._add(stats)
        return acc

    def conv(self, x, x_zero_point, w, w_zero_point, group, strides, dilations, pads):
        acc, stats = cim_conv(x, x_zero_point, w, w_zero_point, group, strides, dilations, pads,
                              self.spec)
        self._add(stats)
        return acc


def digits_int8() -> onnx.ModelProto:
    """digits_cnn quantized with the recipe of scenarios/digits_quantized.yaml."""
    calib = dict(np.load(ROOT / "workloads" / "digits_calib.npz"))
    return quantize_static(ROOT / "workloads" / "digits_cnn.onnx", calib,
                           Recipe(scheme="int8", per_channel=True, method="minmax")).model


def adc_table(device: Path, unit_name: str, bits: list[int]) -> dict:
    """Top-1 and agreement with the int8 reference at each ADC resolution (module docstring)."""
    unit = load_soc(device).units[unit_name]
    model = digits_int8()
    test = dict(np.load(ROOT / "workloads" / "digits_test.npz"))
    out = model.graph.output[0].name
    feeds = {"input": test["input"]}
    ref = compile_model(model).run(feeds).outputs[out]
    exact = exact_adc_bits(CimDot(unit.crossbar_rows, unit.dac_bits, unit.bits_per_cell, 1))
    rows = []
    for b in [*bits, exact]:
        dot = CountingDot(CimDot(unit.crossbar_rows, unit.dac_bits, unit.bits_per_cell, b))
        t0 = time.perf_counter()
        arith = Arithmetic(integer_dot=dot)
        y = compile_model(model, arithmetic=arith).run(feeds).outputs[out]
        rows.append({
            "adc_bits": b,
            "exact_bits": b >= exact,
            "top1": float((y.argmax(-1) == test["labels"]).mean()),
            "agrees_with_int8": float((y.argmax(-1) == ref.argmax(-1)).mean()),
            "logits_bit_identical": bool(np.array_equal(y, ref)),
            "max_abs_logit_error": float(np.abs(y.astype(np.float64) - ref).max()),
            "inexact_conversions": dot.counts["inexact"] / max(1, dot.counts["conversions"]),
            "seconds": time.perf_counter() - t0,
        })
    return {"device": str(device), "unit": unit_name, "crossbar_rows": unit.crossbar_rows,
            "dac_bits": unit.dac_bits, "bits_per_cell": unit.bits_per_cell,
            "images": int(len(test["labels"])),
            "int8_reference_top1": float((ref.argmax(-1) == test["labels"]).mean()),
            "rows": rows}


def programming_table(device: Path, unit_name: str) -> dict:
    """Weight programming per inference of the bundled int8 models, all their ops on the
    unit (those it runs: Conv, Gemm, MatMul)."""
    unit = load_soc(device).units[unit_name]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        digits = Path(tmp) / "digits_int8.onnx"
        digits.write_bytes(digits_int8().SerializeToString())
        for name, path, shapes in (
                ("digits_cnn_int8", digits, {"N": 1}),
                ("resnet8_int8", ROOT / "workloads" / "resnet8_int8.onnx", None)):
            graph = load_graph(path, shapes)
            ops = [op for op in graph.ops if unit.supports(op.op_type, op.dtype)]
            row = dataclasses.asdict(programming(unit, graph, ops))
            if row["lifetime_inferences"] == float("inf"):
                row["lifetime_inferences"] = None  # unlimited (strict JSON has no Infinity)
            out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", type=Path, default=ROOT / "devices" / "imx8mp_cim.yaml")
    ap.add_argument("--unit", default="cim")
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 6, 8, 10, 12])
    args = ap.parse_args()
    result = adc_table(args.device, args.unit, args.bits)
    result["programming"] = programming_table(args.device, args.unit)
    print(json.dumps(result, indent=1))
    print(f"\ndigits_cnn int8 on {args.unit} ({result['crossbar_rows']} rows, "
          f"{result['dac_bits']}-bit DAC, {result['bits_per_cell']}-bit cells), "
          f"{result['images']} test images; int8 reference top-1 "
          f"{result['int8_reference_top1']:.4f}")
    print(f"{'ADC bits':>8} {'top-1':>7} {'=int8':>7} {'bit-exact':>9} {'max|dlogit|':>11} "
          f"{'inexact conv.':>13}")
    for r in result["rows"]:
        tag = " (exact)" if r["exact_bits"] else ""
        print(f"{r['adc_bits']:>8} {r['top1']:>7.4f} {r['agrees_with_int8']:>7.4f} "
              f"{str(r['logits_bit_identical']):>9} {r['max_abs_logit_error']:>11.4f} "
              f"{r['inexact_conversions']:>13.4f}{tag}")
    print(f"\nweight programming per inference on {args.unit}")
    print(f"{'model':>16} {'reprogrammed ops':>28} {'cell writes':>11} {'writes/cell':>11} "
          f"{'lifetime':>9} {'resident fit':>12}")
    for name, p in result["programming"].items():
        print(f"{name:>16} {' '.join(p['reprogrammed']) or '-':>28} {p['cell_writes']:>11,} "
              f"{p['writes_per_cell']:>11} {p['lifetime_inferences'] or 'unlimited':>9} "
              f"{str(p['fits_together']):>12}")


if __name__ == "__main__":
    main()
