"""The whole pipeline behind ``socsim run``: scenario -> graphs -> plans -> simulation -> tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from socsim.config.loading import load_scenario, scenario_document
from socsim.config.scenario import Scenario
from socsim.functional import FunctionalResult, execute_run
from socsim.policies import make_policy
from socsim.policies.base import PlacementPolicy
from socsim.report.tables import Tables, summary, tables
from socsim.report.write import write_report
from socsim.sim.engine import Job, Simulation
from socsim.sim.trace import Trace


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced.

    Attributes:
        scenario: the resolved scenario (SoC loaded, paths absolute).
        jobs: per workload, its graph and plan.
        trace: the raw simulation records.
        tables: the report frames.
        summary: the ``summary.json`` dictionary.
        functional: each inference's outputs and integer events (``run.functional``).
    """

    scenario: Scenario
    jobs: tuple[Job, ...]
    trace: Trace
    tables: Tables
    summary: dict
    functional: FunctionalResult | None = None

    def write(self, out: str | Path | None = None) -> list[Path]:
        """Write the report folder (default: ``run.out``, else ``reports/<scenario name>``),
        with ``outputs.npz`` (``workload/inference/output`` arrays) for a functional run."""
        folder = Path(out or self.scenario.run.out or Path("reports") / self.scenario.name)
        paths = write_report(folder, self.tables, self.trace, self.summary)
        if self.functional is not None:
            paths.append(self.functional.save(folder / "outputs.npz"))
        return paths


def plan_jobs(scenario: Scenario) -> list[Job]:
    """Load each workload's graph and place it with the scenario's policy.

    Raises:
        ConfigError: bad policy name or parameters, a bad inputs file (located in the
            scenario file).
        ModelError, UnsupportedOpError: a model socsim cannot read or cost.
        PlacementError: the policy's plan is invalid.
    """
    from socsim.check import plan_workloads  # located errors; model warnings in plan notes

    return plan_workloads(scenario)


def make_policies(scenario: Scenario) -> list[PlacementPolicy]:
    """The placement policy of each workload (its own, else the scenario's), checked.

    Raises:
        ConfigError: an unknown policy, bad parameters, or a unit the SoC lacks, located in the
            scenario file.
    """
    doc = scenario_document(scenario)
    locate = doc.locate if doc is not None else None
    default = make_policy(scenario.policy, scenario.device, locate)
    return [default if w.policy is None else
            make_policy(w.policy, scenario.device, _prefixed(locate, ("workloads", i)))
            for i, w in enumerate(scenario.workloads)]


def _prefixed(locate, prefix: tuple):
    """``locate`` for a policy nested under ``prefix`` (e.g. a workload's own policy)."""
    if locate is None:
        return None
    return lambda loc, msg: locate((*prefix, *loc), msg)


def run_scenario(scenario: Scenario | str | Path, overrides: Sequence[str] = ()) -> RunResult:
    """Load (if a path), plan, simulate and tabulate a scenario.

    Args:
        scenario: a scenario file or an already loaded :class:`Scenario`.
        overrides: ``dotted.path=value`` assignments applied before validation (files only).

    Raises:
        SocsimError: any input problem, with its location and a hint.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, overrides)
    jobs = plan_jobs(scenario)
    soc = scenario.device
    trace = Simulation(soc, jobs, scenario.run).run()
    kinds = {**{n: u.kind for n, u in soc.units.items()}, **{n: "dma" for n in soc.dma},
             **{n: m.kind for n, m in soc.memories.items()}}
    t = tables(trace, kinds)
    s = summary(t, trace, scenario=scenario.name, soc=soc.name,
                policy=scenario.policy.model_dump(), seed=scenario.run.seed)
    functional = None
    if scenario.run.functional:
        functional = execute_run(tuple(jobs), soc, trace.inferences, scenario.run.seed)
        s["functional"] = {
            w: {"integer_events": functional.events[w],
                "ops_whose_arithmetic_overflowed": functional.flagged_ops[w]}
            for w in functional.events}
    return RunResult(scenario, tuple(jobs), trace, t, s, functional)
