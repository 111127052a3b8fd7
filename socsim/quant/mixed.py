"""Mixed precision: a weight (and activation) dtype per layer that meets a size or accuracy budget.

Candidates are the weight dtypes the target unit computes in (``int4``/``int8``/``int16`` of
the device file's unit ``dtypes``), or int4 and int8 without a device.

* **Size budget** (bytes of weights and int32 biases): start with every layer at the widest
  candidate; repeatedly narrow the layer whose next step costs the least output noise per byte
  saved, the noise of a layer at a dtype being ``10^(-SQNR/10)`` from the sensitivity table.
  Stops as soon as the model fits.
* **Accuracy budget** (largest allowed top-1 drop from the float model on labelled data): start
  at the widest candidate; try narrowing the layers one step in order of increasing sensitivity,
  keeping each change only if the quantized model's measured drop stays within the budget;
  repeat until no layer can be narrowed. On a unit that computes both 8- and 16-bit
  activations (``--device/--unit``), each layer's output activation is searched the same way
  (:func:`search_accuracy_mixed`), starting at 16 bits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from socsim.errors import ConfigError, ModelError
from socsim.quant.calibrate import collect_stats
from socsim.quant.evaluate import accuracy
from socsim.quant.ptq import Recipe, load_model, quantize_static, with_dtypes
from socsim.quant.qdq import weighted_layers
from socsim.quant.sensitivity import Sensitivity

__all__ = ["MixedChoice", "UnitTarget", "layer_bytes", "search_accuracy",
           "search_accuracy_mixed", "search_size", "unit_target"]

_ORDER = ("int4", "int8", "int16")


@dataclass(frozen=True)
class UnitTarget:
    """What one unit of a device file can run.

    Attributes:
        soc: device name.
        unit: unit name.
        ops: ONNX op types it executes.
        dtypes: its compute dtypes.
        others: the other units, name -> (ops, dtypes), for fallback notes.
    """

    soc: str
    unit: str
    ops: frozenset[str]
    dtypes: frozenset[str]
    others: Mapping[str, tuple[frozenset[str], frozenset[str]]]

    @property
    def weight_dtypes(self) -> list[str]:
        """Candidate weight dtypes, narrowest first."""
        return [d for d in _ORDER if d in self.dtypes]

    @property
    def activation_dtypes(self) -> list[str]:
        """Candidate activation dtypes (int8, int16 where the unit computes in them)."""
        return [d for d in ("int8", "int16") if d in self.dtypes]

    def fallbacks(self, layers: Mapping[str, str], op_types: Mapping[str, str]) -> list[str]:
        """One note per layer the unit cannot run as chosen, naming where it would go."""
        notes = []
        for name, dtype in layers.items():
            op = op_types[name]
            if op in self.ops and dtype in self.dtypes:
                continue
            why = f"{op} not in its ops" if op not in self.ops else f"{dtype} not in its dtypes"
            where = next((u for u, (ops, dts) in self.others.items()
                          if op in ops and dtype in dts), None)
            notes.append(f"{name} ({op}, {dtype} weights): {self.unit} cannot run it ({why}); "
                         + (f"falls back to {where}" if where else "no unit of "
                            f"{self.soc} runs it"))
        return notes


def unit_target(device: str | os.PathLike, unit: str) -> UnitTarget:
    """Reads a device file and returns what ``unit`` supports.

    Raises:
        ConfigError: if the file is invalid or has no unit of that name (listing those it has).
    """
    from socsim.config import load_soc

    soc = load_soc(device)
    if unit not in soc.units:
        raise ConfigError(f"{device}: no unit {unit!r}; it has {', '.join(soc.units)}",
                          hint="pass --unit with one of those names")
    u = soc.units[unit]
    others = {n: (frozenset(x.ops), frozenset(x.dtypes)) for n, x in soc.units.items()
              if n != unit}
    return UnitTarget(soc.name, unit, frozenset(u.ops), frozenset(u.dtypes), others)


def layer_bytes(model: onnx.ModelProto, name: str, dtype: str) -> int:
    """Packed weight bytes of ``name`` at ``dtype`` plus its int32 bias bytes."""
    node = next(n for n in model.graph.node if n.name == name)
    dims = {i.name: int(np.prod(i.dims)) for i in model.graph.initializer}
    bits = int(dtype.removeprefix("int"))
    size = -(-dims[node.input[1]] * bits // 8)
    if len(node.input) > 2 and node.input[2] in dims:
        size += 4 * dims[node.input[2]]
    return size


def search_size(model: onnx.ModelProto, sens: Sequence[Sensitivity], candidates: Sequence[str],
                budget_bytes: int) -> dict[str, str]:
    """Per-layer weight dtypes with total bytes within ``budget_bytes`` (see module docstring).

    Raises:
        ModelError: if even the narrowest candidate everywhere exceeds the budget.
    """
    cands = [d for d in _ORDER if d in candidates]
    layers = [n.name for n in weighted_layers(model)]
    noise = {(s.layer, s.dtype): 10 ** (-s.sqnr_db / 10) for s in sens}
    choice = {n: cands[-1] for n in layers}

    def total() -> int:
        return sum(layer_bytes(model, n, d) for n, d in choice.items())

    floor = sum(layer_bytes(model, n, cands[0]) for n in layers)
    if floor > budget_bytes:
        raise ModelError(f"a budget of {budget_bytes} bytes is below the smallest reachable "
                         f"size, {floor} bytes (every layer at {cands[0]})",
                         hint=f"raise --budget-bytes to at least {floor}")
    while total() > budget_bytes:
        best, best_cost = None, np.inf
        for n in layers:
            k = cands.index(choice[n])
            if k == 0:
                continue
            lower = cands[k - 1]
            saved = layer_bytes(model, n, choice[n]) - layer_bytes(model, n, lower)
            cost = (noise.get((n, lower), 1.0) - noise.get((n, choice[n]), 0.0)) / max(saved, 1)
            if cost < best_cost:
                best, best_cost = n, cost
        assert best is not None
        choice[best] = cands[cands.index(choice[best]) - 1]
    return choice


def search_accuracy(model: str | onnx.ModelProto, calib: Mapping[str, np.ndarray],
                    data: Mapping[str, np.ndarray], recipe: Recipe, sens: Sequence[Sensitivity],
                    candidates: Sequence[str], max_drop: float) -> tuple[dict[str, str], float]:
    """Narrowest per-layer weight dtypes whose measured top-1 drop is at most ``max_drop``
    (activations at the recipe's dtype; :func:`search_accuracy_mixed` varies them too).

    Returns:
        The choice and its accuracy.

    Raises:
        ModelError: if ``data`` has no labels, or even the widest candidate drops too much.
    """
    found = search_accuracy_mixed(model, calib, data, recipe, sens, candidates, max_drop)
    return found.weights, found.accuracy


@dataclass(frozen=True)
class MixedChoice:
    """A per-layer precision choice.

    Attributes:
        weights: weight dtype per weighted layer.
        activations: dtype of the activation each weighted layer writes (empty when only
            weights were searched).
        accuracy: top-1 accuracy of the quantized model on the evaluation data.
    """

    weights: dict[str, str]
    activations: dict[str, str]
    accuracy: float


def search_accuracy_mixed(model: str | onnx.ModelProto, calib: Mapping[str, np.ndarray],
                          data: Mapping[str, np.ndarray], recipe: Recipe,
                          sens: Sequence[Sensitivity], candidates: Sequence[str],
                          max_drop: float, activation_candidates: Sequence[str] = ()
                          ) -> MixedChoice:
    """Narrowest per-layer weight (and activation) dtypes within a top-1 accuracy budget.

    Every layer starts at the widest weight candidate and, with ``activation_candidates``
    (``int8``/``int16`` the unit computes in), writes its activation at the widest of those.
    Rounds of one-step narrowings follow, each kept only if the measured drop stays within
    ``max_drop``: weights in order of increasing sensitivity (the table), then activations
    layer by layer (narrowing an activation halves the bytes every later op moves and, on a
    unit such as Ethos-U55, doubles its MAC rate). Stops when no step is accepted.

    Raises:
        ModelError: if ``data`` has no labels, or even the widest candidates drop too much.
    """
    if "labels" not in data:
        raise ModelError("the evaluation data has no 'labels' array",
                         hint="save the --eval .npz with the inputs and a 'labels' array")
    proto = load_model(model)
    cands = [d for d in _ORDER if d in candidates]
    acands = [d for d in ("int8", "int16") if d in activation_candidates]
    float_acc = accuracy(proto, data)
    layers = [n.name for n in weighted_layers(proto)]
    choice = {n: cands[-1] for n in layers}
    acts = {n: acands[-1] for n in layers} if acands else {}

    # activation statistics do not depend on the dtypes: calibrate once (equalization
    # changes the weights, so quantize_static recalibrates then whatever it is given)
    stats = None if recipe.equalize else collect_stats(proto, calib)

    def acc_of(w: Mapping[str, str], a: Mapping[str, str]) -> float:
        r = with_dtypes(recipe, w, a if acands else None)
        return accuracy(quantize_static(proto, calib, r, stats=stats).model, data)

    acc = acc_of(choice, acts)
    if float_acc - acc > max_drop:
        widest = cands[-1] + (f" weights and {acands[-1]} activations" if acands else "")
        raise ModelError(f"with every layer at {widest} the accuracy drop is "
                         f"{float_acc - acc:.4f} > {max_drop}",
                         hint="allow a larger --max-accuracy-drop or a wider scheme")
    sq = {(s.layer, s.dtype): s.sqnr_db for s in sens}
    changed = True
    while changed:
        changed = False
        order = sorted((n for n in layers if cands.index(choice[n]) > 0),
                       key=lambda n: -sq.get((n, cands[cands.index(choice[n]) - 1]), -np.inf))
        for n in order:
            trial = {**choice, n: cands[cands.index(choice[n]) - 1]}
            a = acc_of(trial, acts)
            if float_acc - a <= max_drop:
                choice, acc, changed = trial, a, True
        for n in (n for n in layers if acts and acands.index(acts[n]) > 0):
            trial = {**acts, n: acands[acands.index(acts[n]) - 1]}
            a = acc_of(choice, trial)
            if float_acc - a <= max_drop:
                acts, acc, changed = trial, a, True
    return MixedChoice(choice, acts, acc)
