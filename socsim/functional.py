"""Functional execution of a run: every inference's outputs, computed with the integer
arithmetic of the unit each op was placed on.

The model is lowered by the timing graph's QDQ fusion rules (``graph.rules``: ``onnxruntime``,
what a target unit executes, or ``tflite``), not by the host's (``onnxruntime_x86``), so the
functional ops are the simulated ops: an int8-activation Conv is an integer op computed with its
unit's arithmetic in both. On int8-activation models the outputs therefore differ from the
installed onnxruntime on an x86 host (which runs those Convs as DQ -> float Conv -> Q): they are
the target's arithmetic, not the host's (docs/graph.md, "Functional rules").

The arithmetic of an op depends only on its placement (a unit's ``arithmetic`` block), never
on timing, so each workload's model is compiled once with a per-node arithmetic map and run
for each completed inference. Inputs come from the workload's ``inputs`` file (arrays by input
name, samples along the first axis, cycled over inferences) or, without one, from
``numpy.random.default_rng([run.seed, workload index, inference])``: uniform in [-1, 1) for
float inputs, the full range for integer inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from socsim.config.soc import SoC
from socsim.errors import ConfigError, Problem
from socsim.execute import Arithmetic, compile_model
from socsim.hw.kind import kind_of
from socsim.sim.engine import Job


@dataclass
class FunctionalResult:
    """Outputs by ``workload/inference/output`` and integer event counts per workload."""

    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    events: dict[str, dict[str, int]] = field(default_factory=dict)
    flagged_ops: dict[str, list[str]] = field(default_factory=dict)


def _arithmetic_map(job: Job, soc: SoC) -> dict[str, Arithmetic]:
    mapping = {}
    for op, unit in zip(job.graph.ops, job.plan.units):
        a = kind_of(soc.units[unit]).arithmetic(soc.units[unit])
        for node in op.nodes:  # the compute node, and any activation fused into it
            mapping[node] = a
    return mapping


#: The integer events counted per workload (``OpStats`` fields).
EVENT_KEYS = ("accumulator_saturations", "output_saturations", "requant_overflows",
              "pair_saturations")


def record_run(result: FunctionalResult, workload: str, inference: int, run,
               totals: dict[str, int], flagged: set[str],
               label: Callable[[str], str] = lambda node: node) -> None:
    """Add one inference's outputs (keyed ``workload/inference/output``) to ``result`` and its
    integer events to ``totals``; ``flagged`` gets ``label(node)`` of every node whose
    arithmetic differed (any event but a saturated output, which is by design)."""
    for out_name, value in run.outputs.items():
        result.outputs[f"{workload}/{inference}/{out_name}"] = value
    for node, stats in run.stats.items():
        for key in EVENT_KEYS:
            count = getattr(stats, key)
            totals[key] += count
            if count and key != "output_saturations":
                flagged.add(label(node))


def compile_job(job: Job, soc: SoC):
    """``job``'s model compiled as the run computes it: lowered by its timing graph's rules,
    each node with the arithmetic of the unit it is placed on."""
    return compile_model(job.graph.path, arithmetic=_arithmetic_map(job, soc),
                         rules=job.graph.rules)


def _inputs(job: Job, index: int, seed: int, k: int, samples) -> dict[str, np.ndarray]:
    g = job.graph
    if samples is not None:
        return {name: samples[name][index % len(samples[name])] for name in g.inputs}
    rng = np.random.default_rng([seed, k, index])
    out = {}
    for name in g.inputs:
        t = g.tensors[name]
        dtype = np.dtype(t.dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out[name] = rng.integers(info.min, info.max, size=t.shape, endpoint=True, dtype=dtype)
        else:
            out[name] = rng.uniform(-1.0, 1.0, size=t.shape).astype(dtype)
    return out


def _load_samples(job: Job) -> dict[str, np.ndarray] | None:
    """The workload's ``inputs`` file, read and checked by :mod:`socsim.npz`."""
    from socsim.npz import graph_inputs, load_npz

    path = job.workload.inputs
    if path is None:
        return None
    try:
        return load_npz(path, graph_inputs(job.graph), what="inputs file")
    except ConfigError as exc:
        raise ConfigError([Problem(p.message, path=f"{job.workload.name}.inputs")
                           for p in exc.problems]) from None


def execute_run(jobs: tuple[Job, ...], soc: SoC, completed: list[tuple], seed: int,
                on_inference: Callable[[], None] | None = None) -> FunctionalResult:
    """Run every completed inference of every job through socsim's kernels.

    Args:
        completed: the trace's inference records (workload, inference, ...).
        on_inference: called after each inference (progress display).
    """
    result = FunctionalResult()
    for k, job in enumerate(jobs):
        name = job.workload.name
        compiled = compile_job(job, soc)
        samples = _load_samples(job)
        totals = dict.fromkeys(EVENT_KEYS, 0)
        flagged: set[str] = set()
        for rec in completed:
            if rec.workload != name:
                continue
            index = rec.inference
            run = compiled.run(_inputs(job, index, seed, k, samples))
            if on_inference is not None:
                on_inference()
            record_run(result, name, index, run, totals, flagged)
        result.events[name] = totals
        result.flagged_ops[name] = sorted(flagged)
    return result
