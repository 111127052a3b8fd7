"""A scenario workload's model as it runs: quantized on load (cached), ops substituted.

:func:`workload_model` turns a workload's ``quantize:`` recipe into the cached QDQ model
(:func:`socsim.quant.cache.quantized_path`); with ``write=False`` (``socsim validate``) it
checks the recipe's calibration file against the float model and writes nothing.
:func:`substitute_for_plan` rewrites the ops a plan moved off the unit that runs the rest of
the workload, when that unit has every op of the rewrite, so the next placement can keep
them there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx

from socsim.config.scenario import Workload
from socsim.config.soc import SoC
from socsim.errors import ModelError
from socsim.npz import load_npz, onnx_inputs
from socsim.quant.cache import PROJECT_CACHE, cached_path, quantized_path
from socsim.quant.substitute import rewrite_ops, substitute, verify

if TYPE_CHECKING:
    from socsim.graph.ir import Op

__all__ = ["Substituted", "substitute_for_plan", "workload_model"]

SUBSTITUTE_CACHE = PROJECT_CACHE.parent / "substitute"
"""Rewritten models, beside the quantized ones (relative to the working directory)."""


def workload_model(workload: Workload, *, write: bool = True) -> tuple[str | None, str]:
    """The model file ``workload`` runs, and a note saying where it came from.

    Args:
        workload: a resolved workload (paths absolute) with a ``quantize`` recipe.
        write: quantize and cache on a miss; False only checks the calibration file and
            returns the cached path if it is already there, else None.

    Raises:
        ModelError: the calibration file is unreadable or lacks a model input, or the
            quantizer rejects the data.
        ValueError: the workload has no ``quantize`` recipe.
    """
    spec = workload.quantize
    if spec is None:
        raise ValueError(f"workload {workload.name!r} has no `quantize` recipe")
    recipe = spec.recipe()
    _check_calib(workload.model, spec.calib)
    if write:
        path = quantized_path(workload.model, spec.calib, recipe)
    else:
        path = cached_path(workload.model, spec.calib, recipe)
        if not path.is_file():
            return None, (f"model quantized ({recipe.label()}) on the first run, then cached "
                          f"in {PROJECT_CACHE}/; its placement is checked then")
    return str(path), f"runs {path} ({recipe.label()}, quantized on load, cached)"


def _check_calib(model: str, calib: str) -> None:
    """Raises ModelError unless ``calib`` is an .npz of plain arrays for ``model``'s inputs
    (read and checked by :mod:`socsim.npz`, samples along the inputs' batch axis)."""
    load_npz(calib, onnx_inputs(onnx.load(model, load_external_data=False)),
             what="calibration file", layout="batch", error=ModelError)


@dataclass(frozen=True)
class Substituted:
    """A rewrite made before placement.

    Attributes:
        node: the original node's name.
        op_type: its op type.
        ops: the op types it became.
        unit: the unit that lacked ``op_type`` and has every op of the rewrite.
        bound: the rewrite's stated relative float error.
        measured: the relative difference measured on seeded random inputs (onnxruntime).
    """

    node: str
    op_type: str
    ops: tuple[str, ...]
    unit: str
    bound: float
    measured: float

    def reason(self) -> str:
        """One line for the summary's notes."""
        return (f"{self.node} ({self.op_type}) substituted by {'/'.join(self.ops)}: unit "
                f"{self.unit!r} lacks {self.op_type} and has every op of the rewrite "
                f"(measured relative difference {self.measured:.2g}, bound {self.bound:g})")


def substitute_for_plan(model_path: str, ops: Sequence[Op], units: Sequence[str], soc: SoC, *,
                        seed: int, write: bool = True
                        ) -> tuple[str | onnx.ModelProto, list[Substituted]] | None:
    """Rewrites the ops a plan moved off the unit that runs the rest of the workload.

    An op is rewritten when it has a rule (:data:`socsim.quant.substitute.SUBSTITUTIONS`),
    the plan put it on a unit other than the one running most of the workload's other ops (or
    on a unit that cannot run it, as ``single`` does), that unit lacks the op type, and that
    unit supports every op of the rewrite in the op's dtype. The rewrite is checked in onnxruntime on seeded random inputs against its bound.

    Args:
        model_path: the model the plan was made for.
        ops: the graph's ops (:class:`socsim.graph.ir.Op`), aligned with ``units``.
        units: the plan's unit per op.
        soc: the device.
        seed: seeds the verification inputs.
        write: save the rewritten model in :data:`SUBSTITUTE_CACHE` and return its path;
            False returns the ModelProto (nothing written).

    Returns:
        None when nothing qualifies, else the rewritten model and the rewrites made.

    Raises:
        ModelError: a rewrite differs from the original by more than its bound.
    """
    original = onnx.load(model_path)
    nodes = {n.name: n for n in original.graph.node}
    counts: dict[str, int] = {}
    for u in units:
        counts[u] = counts.get(u, 0) + 1
    chosen: dict[str, str] = {}  # op type -> the unit it should stay on
    for op, unit in zip(ops, units):
        node = nodes.get(op.name)
        rewrite = rewrite_ops(node) if node is not None and op.op_type not in chosen else None
        if rewrite is None:
            continue
        own = soc.units.get(unit)
        if own is not None and not own.supports(op.op_type, op.dtype):
            home = unit  # a plan that cannot run (e.g. `single`): the op's own unit lacks it
        else:
            home = max((u for u in counts if u != unit), key=lambda u: counts[u], default=None)
        target = soc.units.get(home) if home is not None else None
        if target is None or target.supports(op.op_type, op.dtype):
            continue
        if all(target.supports(t, op.dtype) for t in rewrite):
            chosen[op.op_type] = home
    if not chosen:
        return None
    new, subs = substitute(original, chosen)
    measured = verify(original, new, _random_feeds(original, seed))
    worst = max(s.bound for s in subs)
    if measured > worst:
        raise ModelError(f"{model_path}: substituting {', '.join(chosen)} changed the outputs "
                         f"by {measured:.3g} (relative), more than the stated {worst:g}",
                         hint="set `substitute: false` on the workload")
    made = [Substituted(s.node, s.op_type, s.ops, chosen[s.op_type], s.bound, measured)
            for s in subs]
    if not write:
        return new, made
    data = new.SerializeToString()
    out = SUBSTITUTE_CACHE / (f"{Path(model_path).stem}."
                              f"{hashlib.sha256(data).hexdigest()[:16]}.onnx")
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, out)
    return str(out), made


def _random_feeds(model: onnx.ModelProto, seed: int) -> dict[str, np.ndarray]:
    """Seeded standard-normal inputs for every float graph input of static shape."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal([1 if d is None else d for d in spec.shape])
            .astype(spec.dtype) for name, spec in onnx_inputs(model).items()}
