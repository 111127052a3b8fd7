"""Everything ``socsim run`` checks before it simulates, for ``socsim validate`` and the run.

A scenario is checked as a run would use it: the YAML (strict numbers, ranges, names), the
device file, each model (readable, static shapes or ``shapes`` for its dynamic dimensions,
known opset, finite weights), each placement (the policy's plan against the units' ops and
dtypes) and each ``inputs`` file (an .npz with one finite array per model input, samples along
the first axis). Every problem is located in the scenario (``file:line:col: field``) with the
fix; warnings (kept but worth a look) go into the plans' notes, which the run prints and
records in ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from socsim.config.document import Loc
from socsim.config.loading import load_any, load_scenario, scenario_document
from socsim.config.scenario import Scenario, Workload
from socsim.errors import ConfigError, ModelError, PlacementError, Problem, SocsimError
from socsim.graph.ir import Graph
from socsim.graph.loading import LoadedModel, load_model
from socsim.npz import MAX_NPZ_BYTES, NpzError, check_arrays, graph_inputs, read_npz
from socsim.sim.program import Job

if TYPE_CHECKING:
    from socsim.config.soc import SoC
    from socsim.policies.base import PlacementPolicy, Plan

#: Largest total of uncompressed arrays read from one inputs file (a zip bomb stops here).
MAX_INPUT_BYTES = MAX_NPZ_BYTES
#: Largest tensor a functional run computes: its kernels hold every tensor in host memory, and
#: edge models' tensors are kilobytes to tens of megabytes.
MAX_TENSOR_BYTES = 1 << 30


@dataclass(frozen=True)
class Checked:
    """What :func:`check_file` found in a file that has no errors.

    Attributes:
        kind: "scenario" or "device".
        name: the scenario's or device's name.
        jobs: each workload's graph and plan (scenarios only).
        warnings: what the user should know (model contents, placement fallbacks).
    """

    kind: Literal["scenario", "device"]
    name: str
    jobs: tuple[Job, ...] = ()
    warnings: tuple[str, ...] = ()


def check_file(path: str | Path, overrides: Sequence[str] = ()) -> Checked:
    """Check a device or scenario file as completely as a run would, without simulating.

    Raises:
        SocsimError: the first file-level problem, or every located problem found.
    """
    path = Path(path)
    if overrides:
        loaded = load_scenario(path, overrides)
    else:
        loaded = load_any(path)
    if not isinstance(loaded, Scenario):
        return Checked("device", loaded.name)
    skipped: list[str] = []
    jobs = plan_workloads(loaded, write=False, unplaced=skipped)
    if not skipped:  # the runtime manager and its parameters, each variant placed
        from socsim.runtime.setup import make_runtime

        make_runtime(loaded, jobs)
    warnings = tuple(dict.fromkeys([*(n for job in jobs for n in job.plan.notes), *skipped]))
    return Checked("scenario", loaded.name, tuple(jobs), warnings)


def plan_workloads(scenario: Scenario, *, write: bool = True,
                   unplaced: list[str] | None = None) -> list[Job]:
    """Load each workload's model, place it with its policy and check its inputs file.

    Each model is loaded once per distinct ``(model, shapes)``. Model warnings join the plan's
    notes, prefixed with the workload's name. A workload with a ``quantize`` recipe runs the
    cached quantized model (:mod:`socsim.quant.workload`); with ``substitute: true``, the ops
    its first plan moved off the workload's main unit are rewritten as ops that unit has and
    the model is placed again (each rewrite is a note starting ``substituted``).

    Args:
        scenario: a loaded scenario.
        write: quantize and cache (a run); False (``socsim validate``) writes nothing: a
            recipe whose model is not cached yet has its calibration file checked and is not
            placed.
        unplaced: receives a note for each workload left unplaced that way.

    Raises:
        ConfigError: a policy that cannot be built, or an unreadable inputs file, located in
            the scenario file.
        ModelError: a model socsim cannot read, located at its workload's ``model``.
        PlacementError: a plan that puts an op on a unit that cannot run it, located at the
            policy that made it.
    """
    from socsim.run import make_policies  # run imports this module

    doc = scenario_document(scenario)

    def locate(loc: Loc, message: str) -> Problem:
        if doc is None:
            return Problem(message, path=".".join(map(str, loc)))
        return doc.locate(loc, message)

    soc = scenario.device
    # policies plan at the operating points the run starts each unit at
    from socsim.policies.estimate import at_points, points_in_force

    plan_soc = at_points(soc, points_in_force(soc, scenario.run))
    models: dict[tuple[str, tuple[tuple[str, int], ...]], LoadedModel] = {}
    jobs: list[Job] = []
    problems: list[Problem] = []
    skipped: list[str] = []
    for i, (w, policy) in enumerate(zip(scenario.workloads, make_policies(scenario))):
        source, pre = w.model, ()
        if w.quantize is not None:
            source, pre = _quantized(w, write, lambda m, i=i: locate(
                ("workloads", i, "quantize"), m))
            if source is None:  # validate, not cached: check the inputs on the float model
                skipped.append(f"workload {w.name!r}: {pre[0]}")
                if w.inputs is not None:
                    try:
                        graph = load_model(w.model, w.shapes).graph
                    except ModelError as exc:
                        raise type(exc)(locate(("workloads", i, "model"), _one_line(exc))
                                        ) from None
                    problems += [locate(("workloads", i, "inputs"), m)
                                 for m in check_inputs(w, graph)]
                continue
        key = (source, tuple(sorted(w.shapes.items())))
        try:
            loaded = models.get(key) or load_model(source, w.shapes)
        except ModelError as exc:
            where = ("workloads", i, "shapes" if "`shapes`" in str(exc) and w.shapes else "model")
            raise type(exc)(locate(where, _one_line(exc))) from None
        models[key] = loaded
        big = max(loaded.graph.tensors.values(), key=lambda t: t.nbytes)
        if scenario.run.functional and big.nbytes > MAX_TENSOR_BYTES:
            problems.append(locate(("workloads", i, "shapes" if w.shapes else "model"), (
                f"tensor {big.name!r} {big.shape} holds {big.nbytes:,} bytes; a functional run "
                f"computes every tensor in host memory (at most {MAX_TENSOR_BYTES:,} bytes "
                "each): give smaller `shapes` or set run.functional: false")))
            continue
        try:
            plan = policy.place(loaded.graph, plan_soc)
            if w.substitute:
                loaded, plan, pre = _substituted(loaded, plan, policy, plan_soc, w, scenario,
                                                 write, pre, lambda m, i=i: locate(
                                                     ("workloads", i, "substitute"), m))
            plan.validate(loaded.graph, soc, w.name)
        except PlacementError as exc:
            at = ("workloads", i, "policy") if w.policy is not None else ("policy",)
            raise PlacementError(locate(at, f"workload {w.name!r}: {_one_line(exc)}; place "
                                        "those ops on a unit whose `ops` and `dtypes` "
                                        "include them, or add them there")) from None
        problems += [locate(("workloads", i, "inputs"), m)
                     for m in check_inputs(w, loaded.graph)]
        notes = tuple(f"workload {w.name!r}: {m}" for m in (*pre, *loaded.warnings))
        jobs.append(Job(w, loaded.graph, replace(plan, notes=plan.notes + notes)))
    problems += _check_governors(scenario, locate)
    problems += _check_plans_agree(jobs, locate)
    if problems:
        raise ConfigError(problems)
    if unplaced is not None:
        unplaced.extend(skipped)
    return jobs


def _check_plans_agree(jobs: list[Job], locate) -> list[Problem]:
    """The workloads' plans fix each unit at one point and order the queues one way."""
    from socsim.policies.validation import plan_points, plan_queue

    named = [(job.workload.name, job.plan) for job in jobs]
    problems = []
    for check in (plan_points, plan_queue):
        try:
            check(named)
        except PlacementError as exc:
            problems.append(locate(("policy",), f"{_one_line(exc)}"))
    return problems


def _check_governors(scenario: Scenario, locate) -> list[Problem]:
    """Each ``run.governors.<unit>.name`` is registered (built-in or by entry point)."""
    from socsim.hw.governors import available_governors

    known = available_governors()
    return [locate(("run", "governors", unit, "name"),
                   f"unknown governor {spec.name!r}; registered: {', '.join(known)} (or "
                   "publish one in the `socsim.governors` entry-point group)")
            for unit, spec in scenario.run.governors.items() if spec.name not in known]


def _quantized(w: Workload, write: bool, locate: Callable[[str], Problem]
               ) -> tuple[str | None, tuple[str, ...]]:
    """The quantized model of ``w`` and the note saying so (None when not cached and not
    ``write``); errors located at the workload's ``quantize``."""
    from socsim.quant.workload import workload_model  # onnxruntime: only when asked for

    try:
        path, note = workload_model(w, write=write)
    except ModelError as exc:
        raise ModelError(locate(_one_line(exc))) from None
    return path, (note,)


def _substituted(loaded: LoadedModel, plan: Plan, policy: PlacementPolicy, soc: SoC,
                 w: Workload, scenario: Scenario, write: bool, pre: tuple[str, ...],
                 locate: Callable[[str], Problem]) -> tuple[LoadedModel, Plan, tuple[str, ...]]:
    """``loaded`` and ``plan`` again after rewriting the ops the plan moved off the
    workload's main unit (unchanged when none qualifies)."""
    from socsim.quant.workload import substitute_for_plan

    if loaded.graph.path is None:
        return loaded, plan, pre
    try:
        res = substitute_for_plan(str(loaded.graph.path), loaded.graph.ops, plan.units, soc,
                                  seed=scenario.run.seed, write=write)
    except ModelError as exc:
        raise ModelError(locate(_one_line(exc))) from None
    if res is None:
        return loaded, plan, pre
    source, made = res
    new = load_model(source, w.shapes)
    return new, policy.place(new.graph, soc), (*pre, *(s.reason() for s in made))


def _one_line(exc: SocsimError) -> str:
    """An error's problems (and hint) as one line: the first few, then how many more."""
    msgs = [p.message for p in exc.problems]
    text = "; ".join(msgs[:3]) + (f"; and {len(msgs) - 3} more" if len(msgs) > 3 else "")
    return f"{text} ({exc.hint})" if exc.hint else text


def check_inputs(workload: Workload, graph: Graph) -> list[str]:
    """Problems of a workload's ``inputs`` file against its graph (none without one).

    The file must be an .npz archive (``numpy.savez``) without pickled objects, holding one
    array per model input, named as the input, of the input's dtype, with at least one sample
    along the first axis and the input's shape after it, and finite values (read and checked
    by :mod:`socsim.npz`, which every .npz reader shares).
    """
    if workload.inputs is None:
        return []
    inputs = graph_inputs(graph)
    try:
        arrays = read_npz(workload.inputs, what="inputs file", inputs=inputs,
                          max_bytes=MAX_INPUT_BYTES)
    except NpzError as exc:
        return [p.message for p in exc.problems]
    return check_arrays(arrays, inputs, path=workload.inputs, what="inputs file")
