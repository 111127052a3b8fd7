"""How often the three requantization modes disagree on real layers of a quantized network.

Each QLinearConv of the model (after socsim's QDQ lowering) is fed the activations the network
really produces on seeded example inputs (the onnx_rne run). The layer then runs once per mode
(``onnx_rne``, ``tflite_double``, ``tflite_single``, int32 accumulator), on identical inputs, and
the int8/uint8 outputs are compared pairwise: the fraction of output elements that differ (each
differs by exactly one).

The exact value of each output before rounding is ``v = acc * M / 2^(31 - shift)`` (TFLite's
multiplier) or ``acc * scale`` (float32). The script also counts, per pair, the disagreements
that the arithmetic allows: double vs single only where ``v`` is within ``2^-(r+1)`` of a half
(``r`` the right shift; the first rounding moves ``v`` by at most that much), the float32 mode
vs single only where ``v`` is within float32 error of a half.

Usage: python benchmarks/requant_disagreement.py [--model resnet8_int8] [--samples 8]
Prints one JSON object, then a table.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from socsim import zoo
from socsim.kernels.arithmetic import REQUANT_MODES, Arithmetic
from socsim.kernels.dtypes import as_int
from socsim.kernels.interpreter import compile_model
from socsim.kernels.registry import KernelContext, lookup
from socsim.kernels.requant import quantize_multiplier

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LayerDisagreement:
    """Pairwise disagreement of the modes on one layer (all samples).

    Attributes:
        layer: node name.
        elements: output elements compared.
        differ: per pair ``"a/b"``, elements where the two modes' outputs differ.
        fraction: ``differ / elements`` per pair.
        max_abs_diff: per pair, the largest difference (1 when they are off by one).
        near_half: per pair, differing elements whose exact value lies where that pair's
            arithmetic allows a different rounding (should equal ``differ``).
        negative_ties: exact negative ties ``v = k + 1/2 < 0`` (double rounds them away from
            zero, single toward +inf: they must differ there).
    """

    layer: str
    elements: int
    differ: dict[str, int]
    fraction: dict[str, float]
    max_abs_diff: dict[str, int]
    near_half: dict[str, int]
    negative_ties: int


def _pair(a: str, b: str) -> str:
    return f"{a}/{b}"


def _with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED,
                                                                None))
    return m


def _accumulators(ctx: KernelContext, args: list) -> np.ndarray:
    """Exact int32 accumulators (products plus bias) of a QLinearConv, via ConvInteger."""
    x, _, x_zp, w, _, w_zp, _, _, *rest = args
    ci = KernelContext(name=ctx.name, op_type="ConvInteger", attrs=ctx.attrs, opset=ctx.opset)
    (acc,) = lookup("", "ConvInteger")(ci, x, w, x_zp, w_zp)
    acc = acc.astype(np.int64)
    if rest and rest[0] is not None:
        acc = acc + as_int(rest[0], np.int64).reshape(1, -1, *([1] * (acc.ndim - 2)))
    return acc


def _near_half(acc: np.ndarray, real: np.ndarray, scale32: np.ndarray) -> dict[str, np.ndarray]:
    """Masks of elements where each pair may legitimately round differently."""
    m, shift = quantize_multiplier(real)
    shape = (1, -1) + (1,) * (acc.ndim - 2)
    m, shift = m.reshape(shape), shift.reshape(shape)
    out: dict[str, np.ndarray] = {}
    # v = acc * m / 2^s, s = 31 - shift; frac(v) via Python ints (acc * m needs 62 bits).
    s = (31 - shift).astype(object)
    p = acc.astype(object) * m.astype(object)
    rem = np.vectorize(lambda a, b: a % (1 << b), otypes=[object])(p, np.broadcast_to(s, p.shape))
    two_s = np.vectorize(lambda b: 1 << b, otypes=[object])(np.broadcast_to(s, p.shape))
    dist = np.abs(2 * rem - two_s)  # |frac(v) - 1/2| * 2^(s+1)
    # double vs single: the high-mul rounds P / 2^31 by at most 1/2, i.e. v by 2^-(r+1).
    out[_pair("tflite_double", "tflite_single")] = dist <= (1 << 31)
    # float32 vs fixed point: float32(acc) * float32(scale) rounds twice (relative 2^-24 each)
    # and the scale differs from M / 2^(31 - shift) by about 2^-31 relative.
    v = acc.astype(np.float64) * np.broadcast_to(real.reshape(shape), acc.shape)
    tol = (np.abs(v) + 1.0) * 2.0**-21
    frac_dist = np.abs(v - np.floor(v) - 0.5)
    loose = frac_dist <= tol
    out[_pair("onnx_rne", "tflite_single")] = loose
    out[_pair("onnx_rne", "tflite_double")] = loose | out[_pair("tflite_double",
                                                                "tflite_single")]
    out["negative_ties"] = (dist == 0) & (acc < 0) & (shift < 0)
    return out


def measure(model_name: str = "resnet8_int8", samples: int = 8) -> list[LayerDisagreement]:
    """Disagreement of the three modes on every QLinearConv of ``model_name``.

    Raises:
        ValueError: if the model has no QLinearConv after QDQ lowering.
    """
    path = ROOT / "workloads" / f"{model_name}.onnx"
    model = onnx.load(str(path)) if path.exists() else zoo.build(model_name)
    base = compile_model(model)
    layers = [s for s in base.steps if s.ctx.op_type == "QLinearConv"]
    if not layers:
        raise ValueError(f"{model_name} has no QLinearConv after QDQ lowering")
    wanted = sorted({i for s in layers for i in s.inputs if i and i not in base.constants})
    probe = compile_model(_with_outputs(model, wanted))
    results = []
    feeds = [zoo.example_inputs(model_name, seed=k) for k in range(samples)]
    runs = [probe.run(f).outputs for f in feeds]
    for step in layers:
        outs: dict[str, list[np.ndarray]] = {m: [] for m in REQUANT_MODES}
        accs, masks = [], []
        for env in runs:
            args = [None if not i else (base.constants[i] if i in base.constants else env[i])
                    for i in step.inputs]
            for mode in REQUANT_MODES:
                ctx = KernelContext(name=step.ctx.name, op_type=step.ctx.op_type,
                                    attrs=step.ctx.attrs, opset=step.ctx.opset,
                                    arithmetic=Arithmetic(32, mode), const=step.ctx.const)
                (y,) = step.kernel(ctx, *args)
                outs[mode].append(as_int(y, np.int64))
            acc = _accumulators(step.ctx, args)
            x_s, w_s, y_s = (args[i] for i in (1, 4, 6))
            real = (x_s.astype(np.float64) * w_s.astype(np.float64)) / y_s.astype(np.float64)
            scale32 = (x_s.astype(np.float32) * w_s.astype(np.float32)) / y_s.astype(np.float32)
            accs.append(acc)
            masks.append(_near_half(acc, np.atleast_1d(real), np.atleast_1d(scale32)))
        cat = {m: np.concatenate([o.ravel() for o in v]) for m, v in outs.items()}
        n = cat["onnx_rne"].size
        differ, frac, maxd, near = {}, {}, {}, {}
        for a, b in combinations(REQUANT_MODES, 2):
            key = _pair(a, b)
            mask_key = key if key in masks[0] else _pair(b, a)
            d = cat[a] != cat[b]
            allowed = np.concatenate([mk[mask_key].ravel() for mk in masks]).astype(bool)
            differ[key] = int(d.sum())
            frac[key] = round(float(d.mean()), 6)
            maxd[key] = int(np.abs(cat[a] - cat[b]).max())
            near[key] = int((d & allowed).sum())
        ties = int(sum(int(np.count_nonzero(mk["negative_ties"])) for mk in masks))
        results.append(LayerDisagreement(step.ctx.name, n, differ, frac, maxd, near, ties))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet8_int8", choices=[
        n for n in zoo.NAMES if n.endswith(zoo.INT8_SUFFIX)])
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    layers = measure(args.model, args.samples)
    total = sum(r.elements for r in layers)
    pairs = list(layers[0].differ)
    summary = {p: round(sum(r.differ[p] for r in layers) / total, 6) for p in pairs}
    print(json.dumps({"benchmark": "requant_disagreement", "model": args.model,
                      "samples": args.samples, "elements": total,
                      "fraction_differ": summary, "layers": [asdict(r) for r in layers]}))
    print()
    print(f"{'layer':<22}{'elements':>10}" + "".join(f"{p:>30}" for p in pairs))
    for r in layers:
        cells = "".join(f"{r.differ[p]} ({100 * r.fraction[p]:.3f} %)".rjust(30) for p in pairs)
        print(f"{r.layer:<22}{r.elements:>10}{cells}")
    print(f"{'all':<22}{total:>10}" + "".join(
        f"{sum(r.differ[p] for r in layers)} ({100 * summary[p]:.3f} %)".rjust(30) for p in pairs))


if __name__ == "__main__":
    main()
