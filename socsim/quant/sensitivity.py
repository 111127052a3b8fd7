"""Per-layer sensitivity: change one layer's weight bit-width at a time and measure the damage.

The base is the whole model quantized by the recipe (activations included) with every weighted
layer at ``base`` bits; for each layer and each candidate dtype, only that layer's weights
change. The damage is the SQNR of the model output against the float model's (dB, higher is
better) and, where the data carries ``labels``, the top-1 accuracy. Mixed precision ranks
layers by it; the table and plot show it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import onnx

from socsim.quant.calibrate import collect_stats
from socsim.quant.equalize import equalize
from socsim.quant.evaluate import outputs, sqnr_db
from socsim.quant.ptq import Recipe, load_model, quantize_static, with_dtypes
from socsim.quant.qdq import weighted_layers

__all__ = ["Sensitivity", "plot_sensitivity", "ranking", "sensitivity"]


@dataclass(frozen=True)
class Sensitivity:
    """One (layer, dtype) measurement.

    Attributes:
        layer: weighted node name.
        op_type: its op type.
        dtype: weight dtype of this layer (all others at the base dtype).
        sqnr_db: SQNR of the model output against the float model.
        accuracy: top-1 accuracy with labels, else None.
        params: weight elements of the layer.
    """

    layer: str
    op_type: str
    dtype: str
    sqnr_db: float
    accuracy: float | None
    params: int


def sensitivity(model: str | onnx.ModelProto, calib: Mapping[str, np.ndarray],
                data: Mapping[str, np.ndarray], recipe: Recipe | None = None, *,
                dtypes: Sequence[str] = ("int4", "int8"), base: str = "int8",
                progress: Callable[[int], None] | None = None) -> list[Sensitivity]:
    """Measures every weighted layer at every dtype in ``dtypes``.

    Args:
        model: float model or path.
        calib: calibration data.
        data: evaluation data (``labels`` optional).
        recipe: quantization recipe (its equalization is applied once, up front).
        dtypes: candidate weight dtypes.
        base: weight dtype of the layers not under test.
        progress: called with 1 after each measurement.

    Returns:
        One :class:`Sensitivity` per layer and dtype, in graph order.
    """
    recipe = recipe or Recipe()
    proto = load_model(model)
    if recipe.equalize:
        proto, _ = equalize(proto)
        recipe = replace(recipe, equalize=False)
    stats = collect_stats(proto, calib)
    inputs = {k: v for k, v in data.items() if k != "labels"}
    ref = outputs(proto, inputs)
    labels = data.get("labels")
    res = []
    for node in weighted_layers(proto):
        w = next(i for i in proto.graph.initializer if i.name == node.input[1])
        for dtype in dtypes:
            r = with_dtypes(recipe, {**{n.name: base for n in weighted_layers(proto)},
                                     node.name: dtype})
            q = quantize_static(proto, calib, r, stats=stats).model
            got = outputs(q, inputs)
            acc = None if labels is None else float((got.argmax(-1) == labels).mean())
            res.append(Sensitivity(node.name, node.op_type, dtype, sqnr_db(ref, got), acc,
                                   int(np.prod(w.dims))))
            if progress:
                progress(1)
    return res


def ranking(rows: Sequence[Sensitivity], dtype: str = "int4") -> list[Sensitivity]:
    """The rows measured at ``dtype``, most sensitive (lowest SQNR) first."""
    return sorted((r for r in rows if r.dtype == dtype), key=lambda r: r.sqnr_db)


def plot_sensitivity(rows: Sequence[Sensitivity], title: str = "Per-layer sensitivity", *,
                     base: str = "int8"):
    """Bars of output SQNR per layer for each non-base dtype, most sensitive layer first, and
    the all-``base`` model's SQNR as a dashed line; returns the matplotlib Figure."""
    from matplotlib.figure import Figure

    dts = [d for d in dict.fromkeys(r.dtype for r in rows) if d != base] or [base]
    layers = [r.layer for r in ranking(rows, dts[0])] or list(dict.fromkeys(r.layer for r in rows))
    fig = Figure(figsize=(max(6.0, 0.8 * len(layers) + 2), 3.6), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(dts)
    x = np.arange(len(layers))
    by = {(r.layer, r.dtype): r for r in rows}
    for k, dt in enumerate(dts):
        vals = [by[(lay, dt)].sqnr_db for lay in layers]
        ax.bar(x + (k - (len(dts) - 1) / 2) * width, vals, width,
               label=f"this layer at {dt}, others {base}")
    base_vals = [r.sqnr_db for r in rows if r.dtype == base]
    if base_vals and dts != [base]:
        ax.axhline(base_vals[0], color="k", linestyle="--", linewidth=1,
                   label=f"every layer {base}")
    ax.set_xticks(x, [f"{lay}\n({by[(lay, dts[0])].params} w)" for lay in layers])
    ax.set_ylabel("output SQNR vs float (dB)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig
