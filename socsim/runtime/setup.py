"""From a scenario to a :class:`~socsim.runtime.process.RuntimeProcess`: plan every variant
of every workload, build the scenario's manager, check its parameters."""

from __future__ import annotations

from collections.abc import Sequence

from socsim.config.scenario import Scenario
from socsim.errors import ConfigError, Problem, SocsimError
from socsim.runtime.base import get_manager
from socsim.runtime.process import RuntimeProcess, Variant
from socsim.sim.program import Job


def needs_runtime(scenario: Scenario) -> bool:
    """Whether the run needs a manager process: a manager other than ``static``, or a
    workload with variants (``static`` then reports time per variant, all primary)."""
    return scenario.runtime.manager != "static" or any(w.variants for w in scenario.workloads)


def _locate(scenario: Scenario, loc: tuple, message: str) -> Problem:
    from socsim.config.loading import scenario_document

    doc = scenario_document(scenario)
    return doc.locate(loc, message) if doc is not None else Problem(
        message, path=".".join(map(str, loc)))


def plan_variants(scenario: Scenario, jobs: Sequence[Job]) -> dict[str, list[Variant]]:
    """Per workload, its variants: its own job first, then each ``variants`` entry placed by
    its policy (else the workload's).

    Raises:
        ConfigError: a variant's model or placement fails, located at the variant.
    """
    from socsim.check import plan_workloads

    out: dict[str, list[Variant]] = {}
    for i, (w, job) in enumerate(zip(scenario.workloads, jobs)):
        out[w.name] = [Variant(w.variant, w.accuracy, job)]
        for j, v in enumerate(w.variants):
            vw = w.model_copy(update={"model": v.model, "variants": [], "quantize": None,
                                      "substitute": False,
                                      "policy": v.policy if v.policy is not None else w.policy})
            one = scenario.model_copy(update={"workloads": [vw]})
            one._doc = None
            try:
                (vjob,) = plan_workloads(one)
            except SocsimError as exc:
                raise ConfigError(_locate(scenario, ("workloads", i, "variants", j),
                                          f"variant {v.name!r}: {exc}")) from None
            out[w.name].append(Variant(v.name, v.accuracy, vjob))
    return out


def make_runtime(scenario: Scenario, jobs: Sequence[Job]) -> RuntimeProcess | None:
    """The run's manager process, or None when the run needs none (:func:`needs_runtime`).

    Raises:
        ConfigError: an unknown manager or bad parameters, located at ``runtime``.
    """
    if not needs_runtime(scenario):
        return None
    spec = scenario.runtime
    try:
        cls = get_manager(spec.manager)
    except KeyError as exc:
        raise ConfigError(_locate(scenario, ("runtime", "manager"), f"{exc.args[0]} (or "
                                  "publish one in the `socsim.runtime_managers` entry-point "
                                  "group)")) from None
    variants = plan_variants(scenario, jobs)
    units = {n: [p.freq_mhz for p in u.dvfs.points] for n, u in scenario.device.units.items()}
    try:
        manager = cls(dict(spec.params), {w: [v.name for v in vs] for w, vs in variants.items()},
                      units)
    except ValueError as exc:
        raise ConfigError(_locate(scenario, ("runtime", "params"),
                                  f"runtime manager {spec.manager!r}: {exc}")) from None
    # what a manager that computes values needs (the cascade): the seed, the SoC, the jobs
    manager.seed = scenario.run.seed
    manager.soc = scenario.device
    manager.jobs = {(w, v.name): v.job for w, vs in variants.items() for v in vs}
    return RuntimeProcess(manager, variants, spec.period_ms)
