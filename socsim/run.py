"""The whole pipeline behind ``socsim run``: scenario -> graphs -> plans -> simulation -> tables.

The steps are separate so that the command line can check the report folder before anything
is simulated and state the run's size first: :func:`load`, :func:`report_folder`,
:func:`plan_jobs`, :func:`run_size` / :func:`check_size`, :func:`simulate`, then
:meth:`RunResult.write`. :func:`run_scenario` chains them for library callers.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from socsim.config.loading import load_scenario, scenario_document
from socsim.config.scenario import Scenario
from socsim.errors import ConfigError, Problem, SocsimError
from socsim.report.output import OutputError, ReportFolder, report_names, resolve_folder

if TYPE_CHECKING:
    from socsim.functional import FunctionalResult
    from socsim.policies.base import PlacementPolicy
    from socsim.progress import Phases
    from socsim.report.stream import OpStream
    from socsim.report.tables import Tables
    from socsim.report.transfers import TransferStream
    from socsim.sim.engine import Job
    from socsim.sim.trace import Trace

DEFAULT_MAX_OPS = 2_000_000
"""Largest run (inferences x ops) simulated without ``--max-ops``: about a minute and a
half of timing-only simulation on a 2-core box, and some 400 MB of ops.csv and trace.json."""


class RunSizeError(SocsimError):
    """The run is larger than the limit it was allowed (``--max-ops``)."""


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
        stream: where a streamed run's op records went (``run.ops_table`` parquet or none;
            :mod:`socsim.report.stream`); None: every op record is in ``trace.ops``.
        transfer_stream: likewise its transfer records (:mod:`socsim.report.transfers`).
    """

    scenario: Scenario
    jobs: tuple[Job, ...]
    trace: Trace
    tables: Tables
    summary: dict
    functional: FunctionalResult | None = None
    stream: OpStream | None = None
    transfer_stream: TransferStream | None = None

    def write(self, out: str | Path | None = None, *, folder: ReportFolder | None = None,
              progress: Phases | None = None) -> list[Path]:
        """Write the report folder, replacing an earlier report there whole.

        Args:
            out: the folder (relative to the working directory); default ``run.out``
                (relative to the scenario file), else ``reports/<scenario name>``.
            folder: an already checked folder (:func:`report_folder`); overrides ``out``.
            progress: shows a bar while the files are written.

        Returns:
            The paths of the files written (``outputs.npz`` for a functional run).

        Raises:
            OutputError: the folder is unusable (see :mod:`socsim.report.output`) or a file
                could not be written; the earlier report, if any, is then unchanged.
        """
        folder = folder or report_folder(self.scenario, None if out is None else str(out))
        with folder.staging() as tmp:
            self.write_into(tmp, progress=progress)
        return [folder.path / n for n in _written_names(self)]

    def write_into(self, folder: Path, *, progress: Phases | None = None) -> list[Path]:
        """Write the report files into an existing, empty ``folder`` (a staging folder).

        Raises:
            OutputError: a file cannot be written (full disk, a non-finite trace time).
        """
        from socsim.report.stream import window_ns
        from socsim.report.write import write_report

        names = _written_names(self)
        phase = progress.phase("writing report", len(names)) if progress else nullcontext()
        with phase as advance:
            try:
                run = self.scenario.run
                return write_report(folder, self.tables, self.trace, self.summary,
                                    self.functional.outputs if self.functional else None,
                                    on_file=(lambda _n: advance()) if advance else None,
                                    plot_window_ns=_window_ns(self.scenario),
                                    ops_table=run.ops_table,
                                    trace_file=run.trace is not False,
                                    window=window_ns(run.trace), stream=self.stream,
                                    transfer_stream=self.transfer_stream)
            except ValueError as exc:
                if "JSON compliant" not in str(exc):  # json's allow_nan=False
                    raise
                raise OutputError(f"the report cannot be written as strict JSON: {exc}",
                                  hint="a non-finite number reached the trace; check the "
                                  "scenario's rates and durations") from None
            except OSError as exc:
                raise OutputError(f"{exc.filename or folder}: cannot write: {exc.strerror}",
                                  hint="free some space or choose another folder with "
                                  "--out; the earlier report is unchanged") from None


def _window_ns(scenario: Scenario) -> tuple[int, int] | None:
    w = scenario.run.plot_window_ms
    return None if w is None else (round(w[0] * 1e6), round(w[1] * 1e6))


def _written_names(result: RunResult) -> list[str]:
    run = result.scenario.run
    return report_names(result.functional is not None, run.ops_table, run.trace is not False)


def load(scenario: Scenario | str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """The scenario, loaded from a file with ``--set`` overrides unless already loaded.

    Raises:
        ConfigError: the file is malformed or its values are impossible.
    """
    if isinstance(scenario, Scenario):
        return scenario
    scenario = load_scenario(scenario, overrides)
    if scenario.run.seed < 0:  # numpy's generators take no negative seed
        raise ConfigError(_locate(scenario, ("run", "seed"), f"{scenario.run.seed} is "
                                  "negative; a seed is an integer >= 0"))
    return scenario


def _locate(scenario: Scenario, loc: tuple, message: str) -> Problem:
    doc = scenario_document(scenario)
    return doc.locate(loc, message) if doc is not None else Problem(message,
                                                                   path=".".join(map(str, loc)))


def report_folder(scenario: Scenario, out: str | None = None) -> ReportFolder:
    """The scenario's report folder, checked (see :mod:`socsim.report.output`).

    Args:
        out: ``--out`` as typed, relative to the working directory; default ``run.out``
            (relative to the scenario file), else ``reports/<name>``.

    Raises:
        OutputError: the folder cannot be used (the name itself is checked with the scenario:
            ``socsim.config.scenario.NAME_PATTERN``).
    """
    doc = scenario_document(scenario)
    locate = doc.locate if doc is not None else None
    source = doc.file if doc is not None else None
    path = resolve_folder(out, name=scenario.name, run_out=scenario.run.out,
                          scenario_file=source, locate=locate)
    option = "--out" if out is not None else "run.out" if scenario.run.out else "name"
    return ReportFolder(path, option, locate)


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
    from socsim.policies import make_policy

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


@dataclass(frozen=True)
class RunSize:
    """How much a run simulates, known before it starts.

    Attributes:
        parts: per workload, (name, inferences, ops per inference); open-loop inferences are
            the arrivals expected in ``duration_s`` (exact when periodic, the mean when Poisson).
        exact: False when a Poisson workload makes the count an expectation.
    """

    parts: tuple[tuple[str, float, int], ...]
    exact: bool

    @property
    def inferences(self) -> float:
        """Inferences of every workload."""
        return sum(n for _, n, _ in self.parts)

    @property
    def ops(self) -> float:
        """Ops of every inference of every workload (layout conversions not counted)."""
        return sum(n * k for _, n, k in self.parts)

    def __str__(self) -> str:
        about = "" if self.exact else "about "
        each = "; ".join(f"{w}: {_count(n)} x {k}" for w, n, k in self.parts)
        return (f"{_about(self.inferences, about)} inferences, {_about(self.ops, about)} ops "
                f"({each})")


def _about(x: float, about: str) -> str:
    return _count(x) if not math.isfinite(x) else about + _count(x)


def _count(x: float) -> str:
    if not math.isfinite(x):
        return "unbounded"
    return f"{x:,.0f}" if x < 1e15 else f"{x:.3g}"


def run_size(scenario: Scenario, jobs: Sequence[Job]) -> RunSize:
    """The inferences and ops ``scenario`` will simulate, from its workloads and plans."""
    parts, exact = [], True
    for w, job in zip(scenario.workloads, jobs):
        if w.inferences is not None:
            n = float(w.inferences)
        elif w.arrival in ("bursty", "trace"):  # counted: the jitter never changes it
            from socsim.sim.arrivals import arrival_times

            n = float(sum(1 for _ in arrival_times(w, scenario.run.seed, len(parts))))
        else:
            arrivals = w.rate_hz * w.duration_s  # inf for absurd rates: caught by the limit
            n = float(math.ceil(arrivals)) if math.isfinite(arrivals) else math.inf
            exact = exact and w.arrival == "periodic"
        parts.append((w.name, n, len(job.graph.ops)))
    return RunSize(tuple(parts), exact)


def check_size(size: RunSize, max_ops: float | None) -> None:
    """Refuse a run of more than ``max_ops`` ops (``None``: no limit).

    Raises:
        RunSizeError: naming each workload's share and how to go on.
    """
    if max_ops is None or size.ops <= max_ops:
        return
    fix = "lower `inferences` (or `rate_hz` x `duration_s`) in the scenario or with --set"
    if size.ops < 1e15:  # beyond, no one means it
        fix += (", or, if you mean it, raise the limit: --max-ops "
                f"{math.ceil(size.ops)}")
    raise RunSizeError(f"the run is {size}, over the limit of {_count(max_ops)} ops",
                       hint=fix)


def simulate(scenario: Scenario, jobs: Sequence[Job], *, size: RunSize | None = None,
             progress: Phases | None = None) -> RunResult:
    """Simulate planned ``jobs``, tabulate, and run the arithmetic if ``run.functional``.

    Raises:
        SimulationError: an impossible state (a deadlock on memory), with a hint.
    """
    from socsim.functional import execute_run
    from socsim.hw.kind import kind_summaries
    from socsim.report.series import run_series, variant_series
    from socsim.report.stream import KEEP_INFERENCES, OPS_CHUNK, OpStream, window_ns
    from socsim.report.tables import summary, tables
    from socsim.runtime.setup import make_runtime
    from socsim.sim.engine import Simulation

    soc = scenario.device
    runtime = make_runtime(scenario, jobs)
    sim = Simulation(soc, list(jobs), scenario.run, runtime)
    stream = streamed = xstream = xstreamed = None
    if scenario.run.ops_table != "csv":  # op records go to the table in chunks
        # a whole-run trace.json needs every op: kept (as frames), so windows suit long runs
        window = (window_ns(scenario.run.trace) if scenario.run.trace is not True
                  else (0, sys.maxsize))
        plot = _window_ns(scenario)  # the timeline's zoom: its ops kept too
        stream = OpStream(scenario.run.ops_table, window, also=plot)
        # transfers go with each op chunk: to transfers.csv, the totals and the same bins
        from socsim.report.transfers import TransferStream

        xstream = TransferStream(sim.trace, stream.bins, window, KEEP_INFERENCES, also=plot,
                                 chunk=OPS_CHUNK)
        op_sink = stream

        def sink(records) -> None:
            op_sink(records)
            xstream.drain()

        sim.trace.stream_ops(sink, OPS_CHUNK)
    total = size.inferences if size is not None and math.isfinite(size.inferences) else None
    phase = (progress.phase("simulating", total, poll=lambda: len(sim.trace.inferences))
             if progress else nullcontext())
    with phase:
        trace = sim.run()
    if stream is not None:
        trace.flush_ops()
        streamed = stream.finish()
        xstreamed = xstream.finish()
    kinds = {**{n: u.kind for n, u in soc.units.items()}, **{n: "dma" for n in soc.dma},
             **{n: m.kind for n, m in soc.memories.items()}}
    t = tables(trace, kinds, streamed=streamed, streamed_transfers=xstreamed)
    s = summary(t, trace, scenario=scenario.name, soc=soc.name,
                policy=scenario.policy.model_dump(), seed=scenario.run.seed)
    kind_summaries(soc.units, t.reconfigs, len(t.inferences), s)
    s["series"] = run_series(t, trace.counters, trace.makespan_ns, trace.engines)
    if trace.fast_path is not None:  # inferences replayed in one step vs op by op
        s["fast_path"] = dict(trace.fast_path)
    if scenario.run.battery is not None or scenario.run.power_budget_mw is not None:
        from socsim.report.battery import battery_summary

        blocks, notes = battery_summary(t, trace.makespan_ns, scenario.run.battery,
                                        scenario.run.power_budget_mw)
        s.update(blocks)
        s["notes"] += notes
    if runtime is not None:
        from socsim.runtime.summary import runtime_summary

        trace.switches = list(runtime.switches)
        s["runtime"] = runtime_summary(runtime, trace.makespan_ns)
        s["series"]["variants"] = variant_series(
            {w: vs[0].name for w, vs in runtime.variants.items()}, trace.switches,
            t.series.edges_ns)
    functional = None
    if scenario.run.functional:
        phase = (progress.phase("computing outputs", len(trace.inferences)) if progress
                 else nullcontext())
        with phase as advance:
            if runtime is not None and any(len(v) > 1 for v in runtime.variants.values()):
                from socsim.runtime.functional import execute_variants

                functional = execute_variants(runtime, soc, scenario.run.seed, advance)
            else:
                functional = execute_run(tuple(jobs), soc, trace.inferences,
                                         scenario.run.seed, on_inference=advance)
        s["functional"] = {
            w: {"integer_events": functional.events[w],
                "ops_whose_arithmetic_overflowed": functional.flagged_ops[w]}
            for w in functional.events}
    return RunResult(scenario, tuple(jobs), trace, t, s, functional, stream, xstream)


def run_scenario(scenario: Scenario | str | Path, overrides: Sequence[str] = (), *,
                 max_ops: float | None = DEFAULT_MAX_OPS,
                 progress: Phases | None = None) -> RunResult:
    """Load (if a path), plan, check the size of, simulate and tabulate a scenario.

    Args:
        scenario: a scenario file or an already loaded :class:`Scenario`.
        overrides: ``dotted.path=value`` assignments applied before validation (files only).
        max_ops: refuse runs of more ops (inferences x ops per inference); None: no limit.
        progress: shows bars for the long phases.

    Raises:
        SocsimError: any input problem, with its location and a hint; RunSizeError past
            ``max_ops``.
    """
    scenario = load(scenario, overrides)
    jobs = plan_jobs(scenario)
    size = run_size(scenario, jobs)
    check_size(size, max_ops)
    return simulate(scenario, jobs, size=size, progress=progress)
