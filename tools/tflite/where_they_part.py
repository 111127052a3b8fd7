"""Prints where the three arithmetic families part on the committed TFLite reference data
(docs/arithmetic_families.md): for the first convolution of ``ds_cnn`` and the first ADD of
``resnet8``, the integer sums, and each output element computed three ways:

* ``tflite``: TFLite's reference kernels (what tests/data/tflite/*.npz holds, and what socsim's
  TFLite kernels reproduce);
* ``onnxruntime``: float32 ``acc * (s_x * s_w / s_y)`` rounded half to even (MLAS's
  requantization) for the convolution; socsim's onnxruntime kernels (bit-exact to
  onnxruntime's CPU provider) for QLinearAdd and QLinearAveragePool;
* ``exact``: the real value, from the float32 scales as exact rationals, rounded half to even.

Run with the project's environment: ``python tools/tflite/where_they_part.py``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from socsim.kernels.registry import MS_DOMAIN, KernelContext, lookup
from socsim.kernels.tflite import compile_tflite
from socsim.kernels.tflite.conv import taps

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "tflite"


def _ort(op_type: str, attrs: dict, a: np.ndarray, qa, b: np.ndarray | None = None,
         qb=None, *, y) -> np.ndarray:
    """socsim's onnxruntime-family kernel (com.microsoft ``op_type``, bit-exact to
    onnxruntime's CPU kernels) on int8 operands."""
    fn = lookup(MS_DOMAIN, op_type)
    ctx = KernelContext("example", op_type, attrs, opset=1)

    def q(p):
        return np.array(p.s, np.float32), np.array(p.zp, np.int8)

    args = [a, *q(qa)] + ([b, *q(qb)] if b is not None else []) + [*q(y)]
    return fn(ctx, *args)[0]


def _round_even(f: Fraction) -> int:
    n, r = divmod(f.numerator, f.denominator)
    twice = 2 * r
    return n + (twice > f.denominator or (twice == f.denominator and n % 2 == 1))


def conv_example() -> None:
    c = compile_tflite(DATA / "ds_cnn.tflite")
    ref = np.load(DATA / "ds_cnn.npz")
    step = c.steps[0]
    k = step.kernel
    x = ref[f"t{step.inputs[0]}"]
    want = ref[f"t{step.outputs[0]}"].astype(np.int64)
    out_hw = k.out_hw(x)
    xc = x.astype(np.int64).astype(np.float64) - k.x.zp
    kh, kw = k.weights.shape[1:3]
    acc = np.zeros((1, *out_hw, k.weights.shape[0]))
    for i, j, tap in taps(xc, kh, kw, k.stride, k.dilation, k._geometry(x, out_hw), out_hw):
        acc += tap @ k.weights[:, i, j, :].T
    acc = acc.astype(np.int64) + k.bias
    s_x, s_y = np.float32(k.x.s), np.float32(k.y.s)
    s_w = np.asarray(k.w.scale, np.float32)
    ort_scale = (s_x * s_w) / s_y  # float32, left to right
    ort = np.rint(acc.astype(np.float32) * ort_scale).astype(np.int64) + k.y.zp
    ort = np.clip(ort, k.lo, k.hi)
    flat = np.argwhere(True | (acc == acc))
    rows = []
    for idx in flat:
        idx = tuple(idx)
        ch = idx[-1]
        exact = (Fraction(float(s_x)) * Fraction(float(s_w[ch])) / Fraction(float(s_y))
                 * int(acc[idx]))
        e = min(max(_round_even(exact) + k.y.zp, k.lo), k.hi)
        rows.append((idx, int(acc[idx]), float(exact), int(want[idx]), int(ort[idx]), e))
    n = len(rows)
    tfl_vs_exact = sum(r[3] != r[5] for r in rows)
    ort_vs_exact = sum(r[4] != r[5] for r in rows)
    tfl_vs_ort = sum(r[3] != r[4] for r in rows)
    print(f"ds_cnn first CONV_2D ({step.name[:40]}...): {n} outputs; differ: tflite vs exact "
          f"{tfl_vs_exact}, onnxruntime vs exact {ort_vs_exact}, tflite vs onnxruntime "
          f"{tfl_vs_ort}")
    print(f"  s_x={float(s_x)!r} s_y={float(s_y)!r} zp_y={k.y.zp} clamp=[{k.lo}, {k.hi}]")
    shown = 0
    for r in rows:
        if r[3] != r[4] or r[3] != r[5]:
            idx, a, real, t, o, e = r
            ch = idx[-1]
            print(f"  out{[int(i) for i in idx]} acc={a} s_w[{ch}]={float(s_w[ch])!r} "
                  f"M={int(k.mult.m[ch])} shift={int(k.mult.shift[ch])} "
                  f"real={real - 0:.6f}+zp -> tflite {t}, onnxruntime {o}, exact {e}")
            shown += 1
            if shown == 4:
                break


def add_example() -> None:
    for name in ("resnet8", "binary_ops", "mobilenet_v2"):
        c = compile_tflite(DATA / f"{name}.tflite")
        ref = np.load(DATA / f"{name}.npz")
        for step in c.steps:
            if step.opcode == "ADD":
                _add_step(name, step, ref)


def _add_step(model: str, step, ref) -> None:
    k = step.kernel
    a = ref[f"t{step.inputs[0]}"].astype(np.int64)
    b = ref[f"t{step.inputs[1]}"].astype(np.int64)
    want = ref[f"t{step.outputs[0]}"].astype(np.int64)
    if a.shape != b.shape:
        return
    ort = _ort("QLinearAdd", {}, a.astype(np.int8), k.a, b.astype(np.int8), k.b, y=k.y)
    ort = np.clip(ort.astype(np.int64), k.lo, k.hi)
    fa, fb, fy = (Fraction(float(k.a.s)), Fraction(float(k.b.s)), Fraction(float(k.y.s)))
    exact = np.array([min(max(_round_even((fa * (int(p) - k.a.zp) + fb * (int(q) - k.b.zp))
                                          / fy) + k.y.zp, k.lo), k.hi)
                      for p, q in zip(a.reshape(-1), b.reshape(-1))]).reshape(a.shape)
    print(f"{model} ADD ({step.name[:40]}): {a.size} outputs; differ: tflite vs exact "
          f"{int(np.count_nonzero(want != exact))}, onnxruntime vs exact "
          f"{int(np.count_nonzero(ort != exact))}, tflite vs onnxruntime "
          f"{int(np.count_nonzero(want != ort))}")
    print(f"  s_a={float(k.a.s)!r} zp_a={k.a.zp} s_b={float(k.b.s)!r} zp_b={k.b.zp} "
          f"s_y={float(k.y.s)!r} zp_y={k.y.zp}")
    where = np.argwhere((want != ort) | (want != exact))[:2]
    for idx in map(tuple, where):
        p, q_ = int(a[idx]), int(b[idx])
        real = (fa * (p - k.a.zp) + fb * (q_ - k.b.zp)) / fy
        print(f"  out{[int(i) for i in idx]} a={p} b={q_} real={float(real):.6f}+zp -> tflite "
              f"{int(want[idx])}, onnxruntime {int(ort[idx])}, exact {int(exact[idx])}")


def avgpool_example() -> None:
    """AVERAGE_POOL_2D: TFLite divides the integer sum by the count, ties away from zero;
    onnxruntime's QLinearAveragePool scales ``sum - count * zp`` in float32 and rounds half to
    even (the exact real mean, rounded half to even, is the third)."""
    from socsim.kernels.tflite.conv import taps as windows
    for name in ("pool_ops", "quantize_ops", "ds_cnn", "resnet8"):
        c = compile_tflite(DATA / f"{name}.tflite")
        ref = np.load(DATA / f"{name}.npz")
        for step in c.steps:
            if step.opcode != "AVERAGE_POOL_2D":
                continue
            k = step.kernel
            x = ref[f"t{step.inputs[0]}"].astype(np.int64)
            want = ref[f"t{step.outputs[0]}"].astype(np.int64)
            out_hw, pad = k.geometry(x)
            total = np.zeros((x.shape[0], *out_hw, x.shape[3]), np.int64)
            count = np.zeros((1, *out_hw, 1), np.int64)
            ones = np.ones((1, *x.shape[1:3], 1), np.int64)
            for (_, _, t), (_, _, o) in zip(
                    windows(x, *k.filter_hw, k.stride, (1, 1), pad, out_hw),
                    windows(ones, *k.filter_hw, k.stride, (1, 1), pad, out_hw)):
                total += t
                count += o
            shifted = total - count * k.x.zp
            kh, kw = k.filter_hw
            bottom = max((out_hw[0] - 1) * k.stride[0] + kh - x.shape[1] - pad[0], 0)
            right = max((out_hw[1] - 1) * k.stride[1] + kw - x.shape[2] - pad[1], 0)
            attrs = {"kernel_shape": [kh, kw], "strides": list(k.stride),
                     "pads": [pad[0], pad[1], bottom, right], "count_include_pad": 0}
            ort = _ort("QLinearAveragePool", attrs,
                       x.astype(np.int8).transpose(0, 3, 1, 2), k.x, y=k.y)
            ort = ort.transpose(0, 2, 3, 1).astype(np.int64)
            exact = np.array([_round_even(Fraction(int(sv), int(cv))) for sv, cv in
                              zip(shifted.reshape(-1), np.broadcast_to(count, shifted.shape)
                                  .reshape(-1))]).reshape(shifted.shape) + k.y.zp
            ties = int(np.count_nonzero((2 * total) % count == 0) - np.count_nonzero(
                total % count == 0))
            print(f"{name} AVERAGE_POOL_2D {k.filter_hw} {k.padding}: {want.size} outputs, "
                  f"{ties} exact ties; differ: tflite vs exact "
                  f"{int(np.count_nonzero(want != exact))}, onnxruntime vs exact "
                  f"{int(np.count_nonzero(ort != exact))}, tflite vs onnxruntime "
                  f"{int(np.count_nonzero(want != ort))}")


if __name__ == "__main__":
    conv_example()
    add_example()
    avgpool_example()
