"""``socsim quantize``: float ONNX + calibration data -> QDQ ONNX, a per-layer table, a report.

Registered on the root app by :mod:`socsim.cli`; everything heavy is imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socsim.errors import ConfigError, SocsimError


def _load_npz(path: Path, proto, what: str, *, labels: bool = False) -> dict:
    """Calibration or evaluation data for ``proto``, read and checked by :mod:`socsim.npz`
    (samples along the inputs' batch axis; a ``labels`` array checked when present or
    ``labels``)."""
    from socsim.errors import Problem
    from socsim.npz import LABELS, NpzError, check_arrays, onnx_inputs, read_npz

    inputs = onnx_inputs(proto)
    arrays = read_npz(path, what=what, inputs=inputs, layout="batch", labels=labels)
    problems = check_arrays(arrays, inputs, path=path, what=what, layout="batch",
                            labels=labels or LABELS in arrays)
    if problems:
        raise NpzError([Problem(m) for m in problems])
    return arrays


def quantize(
    model: Annotated[Path, typer.Argument(help="Float ONNX model.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the QDQ model.")],
    calib: Annotated[Path | None, typer.Option("--calib", help="Calibration .npz (arrays keyed "
                                               "by input name, samples along axis 0).")] = None,
    scheme: Annotated[str, typer.Option(help="int8 | int16 | int4 | mixed | dynamic")] = "int8",
    per_channel: Annotated[bool, typer.Option("--per-channel", help="Per-channel weights.")] = False,
    symmetric: Annotated[bool, typer.Option("--symmetric", help="Symmetric activations.")] = False,
    method: Annotated[str, typer.Option(help="minmax | percentile | entropy | mse")] = "minmax",
    percentile: Annotated[float, typer.Option(help="Percentile for --method percentile.")] = 99.99,
    equalize: Annotated[bool, typer.Option("--equalize", help="Cross-layer equalization.")] = False,
    bias_correction: Annotated[bool, typer.Option("--bias-correction",
                                                  help="Bias correction.")] = False,
    device: Annotated[Path | None, typer.Option(
        help="Device YAML: the report simulates every variant on it.")] = None,
    unit: Annotated[str | None, typer.Option(
        help="Target unit in --device: its dtypes bound the bit-widths, its ops the "
             "substitutions, and layers it cannot run are reported as fallbacks.")] = None,
    budget_bytes: Annotated[int | None, typer.Option(help="Mixed: weight byte budget.")] = None,
    max_accuracy_drop: Annotated[float | None, typer.Option(
        help="Mixed: largest top-1 drop from float (needs --eval).")] = None,
    eval_: Annotated[Path | None, typer.Option("--eval", help="Evaluation .npz (+ labels).")] = None,
    report: Annotated[Path | None, typer.Option(help="Write tables and plots here.")] = None,
) -> None:
    """Quantize a float ONNX model to QDQ (static PTQ), print the per-layer table."""
    import onnx
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from socsim import quant as q

    con = Console()
    if not con.is_terminal:  # piped or captured: wide enough for the per-layer table
        con = Console(width=120)
    if scheme == "dynamic":
        _dynamic(model, out, per_channel, con)
        return
    if scheme not in q.SCHEMES:
        raise ConfigError(f"--scheme {scheme!r} is not one of {', '.join(q.SCHEMES)}, dynamic")
    if calib is None:
        raise ConfigError("static quantization needs --calib DATA.npz",
                          hint="or --scheme dynamic, which needs no calibration data")
    if method not in q.METHODS:
        raise ConfigError(f"--method {method!r} is not one of {', '.join(q.METHODS)}")
    if unit is not None and device is None:
        raise ConfigError("--unit needs --device SOC.yaml", hint="pass the device file too")
    if scheme == "mixed" and (budget_bytes is None) == (max_accuracy_drop is None):
        raise ConfigError("--scheme mixed needs exactly one of --budget-bytes and "
                          "--max-accuracy-drop")
    if max_accuracy_drop is not None and eval_ is None:
        raise ConfigError("--max-accuracy-drop needs --eval DATA.npz with a 'labels' array")
    target = q.unit_target(device, unit) if unit else None
    proto = q.load_model(model)
    cal = _load_npz(calib, proto, "calibration data (--calib)")
    data = (_load_npz(eval_, proto, "evaluation data (--eval)",
                      labels=max_accuracy_drop is not None) if eval_ else None)
    recipe = q.Recipe(scheme, per_channel, symmetric, method, percentile, equalize,
                      bias_correction)
    subs = []
    if target is not None:
        if recipe.activation_dtype not in target.dtypes:
            raise ConfigError(f"{device}: unit {unit!r} has no {recipe.activation_dtype} "
                              f"(its dtypes: {', '.join(sorted(target.dtypes))})",
                              hint="choose a --scheme whose activations the unit computes in")
        missing = {n.op_type for n in proto.graph.node} - target.ops
        rewritable = sorted(missing & set(q.SUBSTITUTIONS))
        if rewritable:
            from socsim.quant.substitute import verify

            new, subs = q.substitute(proto, rewritable)
            err = verify(proto, new, {k: v[:8] for k, v in cal.items()})
            bound = max(s.bound for s in subs)
            if err > bound:
                raise SocsimError(f"substitution of {', '.join(rewritable)} changed the outputs "
                                  f"by {err:.3g} (relative), above its bound {bound:g}")
            proto = new
            for s in subs:
                con.print(f"substituted {s.node} ({s.op_type}) -> {'/'.join(s.ops)}; "
                          f"max relative difference {err:.2e}")
    sens, rows = [], []
    sdata = data if data is not None else cal
    cands = target.weight_dtypes if target else ["int4", "int8"]
    with Progress(console=con, transient=True) as bar:
        if scheme == "mixed" or report is not None:
            n_layers = len(q.qdq.weighted_layers(proto))
            task = bar.add_task("sensitivity", total=n_layers * len(cands))
            sens = q.sensitivity(proto, cal, sdata, recipe, dtypes=cands,
                                 progress=lambda k: bar.advance(task, k))
        if scheme == "mixed":
            if budget_bytes is not None:
                choice = q.search_size(proto, sens, cands, budget_bytes)
                acts = {}
            else:  # on a unit computing 8- and 16-bit activations, search those too
                found = q.search_accuracy_mixed(
                    proto, cal, data, recipe, sens, cands, max_accuracy_drop,
                    target.activation_dtypes if target else ())
                choice, acts = found.weights, found.activations
            recipe = q.Recipe("mixed", per_channel, symmetric, method, percentile, equalize,
                              bias_correction, choice, acts)
        n = len(next(iter(cal.values())))
        task = bar.add_task("calibrating", total=2 * n)
        result = q.quantize_static(proto, cal, recipe, progress=lambda k: bar.advance(task, k))
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(result.model, out)
    by = {(s.layer, s.dtype): s.sqnr_db for s in sens}
    shown = [c for c in cands if c != "int8"] if sens else []  # int8 is every row's base
    table = Table(title=f"{model.name} -> {out} ({recipe.label()})")
    for col in ("layer", "op", "weights", "activations", "scale min..max",
                *(f"SQNR if {c} dB" for c in shown), "bytes"):
        table.add_column(col, justify="left" if col in ("layer", "op") else "right",
                         no_wrap=True)
    for r in result.layers:
        sq = [f"{by[(r.name, c)]:.1f}" for c in shown]
        act = recipe.activation_dtypes.get(r.name, recipe.activation_dtype)
        table.add_row(r.name, r.op_type, r.weight_dtype + (" pc" if r.per_channel else ""),
                      act, f"{r.weight_scale_min:.2g}..{r.weight_scale_max:.2g}", *sq,
                      str(r.weight_bytes))
        rows.append({**vars(r), "activation_dtype": act,
                     **{f"sqnr_db_{c}": by.get((r.name, c)) for c in cands}})
    con.print(table)
    if sens and ("int8" in cands):
        base = next(s.sqnr_db for s in sens if s.dtype == "int8")
        con.print(f"sensitivity: output SQNR vs float with one layer at the column's dtype and "
                  f"the rest int8; every layer int8: {base:.1f} dB")
    con.print(f"weights + biases: {result.weight_bytes:,} bytes (float: "
              f"{sum(4 * r.params for r in result.layers):,})")
    for p in result.equalized:
        con.print(f"equalized {p.first} -> {p.second}: channel range spread "
                  f"{p.spread_before:.1f}x -> {p.spread_after:.1f}x")
    summary = {"model": str(model), "out": str(out), "recipe": recipe.label(),
               "weight_bytes": result.weight_bytes, "substitutions": [vars(s) for s in subs]}
    if target is not None:
        notes = target.fallbacks({r.name: r.weight_dtype for r in result.layers},
                                 {r.name: r.op_type for r in result.layers})
        summary["fallbacks"] = notes
        for note in notes:
            con.print(f"[yellow]fallback:[/] {note}")
    if data is not None and "labels" in data:
        fa, qa = q.accuracy(proto, data), q.accuracy(result.model, data)
        summary.update(float_accuracy=fa, quantized_accuracy=qa)
        con.print(f"top-1 accuracy: float {fa:.4f}, quantized {qa:.4f}")
    if report is not None:
        _write_report(report, proto, cal, data, result, rows, sens, summary, device)
        con.print(f"report: {report}/")


def _dynamic(model: Path, out: Path, per_channel: bool, con) -> None:
    import onnx

    from socsim.errors import ModelError
    from socsim.quant import quantize_dynamic

    try:
        proto = onnx.load(model)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model}: not a readable ONNX model ({exc})") from None
    qm = quantize_dynamic(proto, per_channel=per_channel)
    n = sum(x.op_type == "MatMulInteger" for x in qm.graph.node)
    if n == 0:
        raise ModelError(f"{model}: no MatMul/Gemm with a float 2-D weight to quantize "
                         "dynamically", hint="use a static --scheme with --calib")
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(qm, out)
    con.print(f"{model.name} -> {out}: {n} MatMul/Gemm as DynamicQuantizeLinear + MatMulInteger "
              f"(int8 weights{', per channel' if per_channel else ''}, uint8 activations "
              "quantized at run time)")


def _write_report(report: Path, proto, cal, data, result, rows, sens, summary, device) -> None:
    import pandas as pd

    from socsim.quant import plot_sensitivity
    from socsim.quant.report import compare_variants, write_json

    report.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(report / "layers.csv", index=False)
    from socsim.quant.sensitivity import ranking

    order = {r.layer: i for i, r in enumerate(ranking(sens, "int4"))}
    table = pd.DataFrame([{**vars(s), "rank_at_int4": order.get(s.layer)} for s in sens])
    table.sort_values(["rank_at_int4", "dtype"]).to_csv(report / "sensitivity.csv", index=False)
    plot_sensitivity(sens, f"{summary['model']}: per-layer sensitivity").savefig(
        report / "sensitivity.png", dpi=120)
    if data is not None:
        variants = compare_variants(proto, cal, data, {f"requested {result.recipe.label()}":
                                                       result}, device=device, out_dir=report)
        variants.to_csv(report / "variants.csv", index=False)
        summary["variants"] = variants.to_dict(orient="records")
    write_json(report / "summary.json", summary)
