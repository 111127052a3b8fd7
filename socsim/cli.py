"""The ``socsim`` command line: a thin typer app; one error handler in :func:`main`.

Only what a command needs is imported when it runs: ``socsim --version`` and ``--help`` load
typer and rich, not onnx, pandas, matplotlib or numba.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from socsim import __version__
from socsim.errors import SocsimError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="socsim: simulate quantized neural networks on heterogeneous edge SoCs.")
out = Console()
err = Console(stderr=True)

_MAX_OPS_HELP = "2,000,000"  # socsim.run.DEFAULT_MAX_OPS (tests/hostile/test_outputs_cli.py keeps them equal)


def _version(value: bool) -> None:
    if value:
        out.print(f"socsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False):
    """socsim: simulate quantized neural networks on heterogeneous edge SoCs."""


@app.command()
def run(scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", show_default=False,
                                                 help="Scenario YAML file.")],
        out_dir: Annotated[str | None, typer.Option(
            "--out", metavar="DIR", help="Report folder, relative to the working directory "
            "(default: run.out, relative to the scenario file, else reports/<name>). An "
            "earlier report there is replaced whole.")] = None,
        seed: Annotated[int | None, typer.Option(min=0, metavar="N",
                                                 help="Override run.seed.")] = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", metavar="PATH=VALUE",
            help="Override a scenario field: dotted.path=value (repeatable).")] = None,
        max_ops: Annotated[int | None, typer.Option(
            "--max-ops", min=1, metavar="N", help="Refuse runs of more ops (inferences x ops "
            f"per inference) than this; default {_MAX_OPS_HELP}.")] = None,
        explain: Annotated[bool, typer.Option(
            "--explain", help="Print, per op, the unit chosen and the estimated time on each "
            "unit, and the plan's notes, before simulating.")] = False):
    """Simulate a scenario, print a summary table and write the report folder."""
    state: dict = {"explain": explain}
    try:
        _run(scenario, out_dir, seed, list(set_ or []), max_ops, state)
    except KeyboardInterrupt:
        err.print(f"interrupted: {_interrupted_state(state.get('folder'))}", highlight=False,
                  soft_wrap=True)
        raise typer.Exit(130) from None


def _interrupted_state(folder) -> str:
    """What Ctrl-C left: the report folder is always whole (see socsim.report.output)."""
    if folder is None:
        return "nothing was written"
    if folder.committed:
        return f"{folder.path}/ holds this run's complete report"
    if folder.path.exists():
        return f"{folder.path}/ still holds the earlier report, unchanged"
    return f"no report was written ({folder.path}/ does not exist)"


def _run(scenario: Path, out_dir: str | None, seed: int | None, overrides: list[str],
         max_ops: int | None, state: dict) -> None:
    """The body of ``socsim run``; ``state["folder"]`` is the report folder once known."""
    from socsim.progress import RichPhases
    from socsim.report.console import summary_tables
    from socsim.run import (
        DEFAULT_MAX_OPS,
        check_size,
        load,
        plan_jobs,
        report_folder,
        run_size,
        simulate,
    )

    if seed is not None:
        overrides.append(f"run.seed={seed}")
    loaded = load(scenario, overrides)
    folder = report_folder(loaded, out_dir)
    state["folder"] = folder
    jobs = plan_jobs(loaded)
    if state.get("explain"):
        _explain(loaded, jobs)
    size = run_size(loaded, jobs)
    check_size(size, DEFAULT_MAX_OPS if max_ops is None else max_ops)
    phases = RichPhases(err)
    with folder.staging() as tmp:  # an unwritable place fails here, before simulating
        err.print(f"simulating {size}", highlight=False, soft_wrap=True)
        result = simulate(loaded, jobs, size=size, progress=phases)
        result.write_into(tmp, progress=phases)
    for table in summary_tables(result.summary):
        out.print(table)
    for note in result.summary["notes"]:
        out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    names = sorted(p.name for p in folder.path.iterdir())
    out.print(f"report: {folder.path}/ ({', '.join(names)})", highlight=False, soft_wrap=True)


def _explain(scenario, jobs) -> None:
    """``--explain``: each workload's plan as a table, then its notes."""
    from rich.table import Table

    from socsim.policies.estimate import at_points, points_in_force
    from socsim.policies.explain import explain_frame

    soc = at_points(scenario.device, points_in_force(scenario.device, scenario.run))
    for job in jobs:
        frame = explain_frame(job.graph, job.plan, soc)
        table = Table(title=f"{job.workload.name}: placement (estimated us of each op alone "
                      "on each unit)")
        for col in frame.columns:
            table.add_column(col)
        for row in frame.itertuples(index=False):
            table.add_row(*(escape(str(v)) for v in row))
        out.print(table)
        for note in job.plan.notes:
            out.print(f"[yellow]plan note:[/] {escape(note)}", highlight=False)


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Device or scenario YAML files.")]):
    """Check device or scenario files; print file:line:col: field: message for each error."""
    from socsim.check import check_file  # everything a run checks: models, plans, inputs

    failed = False
    for f in files:
        try:
            checked = check_file(f)
        except SocsimError as exc:
            failed = True
            _report_error(exc)
            continue
        for note in checked.warnings:
            err.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
        ops = sum(len(job.graph.ops) for job in checked.jobs)
        placed = f", {len(checked.jobs)} workload(s), {ops} ops placed" if checked.jobs else ""
        out.print(f"{f}: ok ({checked.kind} {checked.name!r}{placed})", highlight=False,
                  soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def policies():
    """List the registered placement policies and their parameters."""
    from socsim.policies import available_policies, get_policy

    for name in available_policies():
        cls = get_policy(name)
        params = ", ".join(cls.Params.model_fields) or "none"
        doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        out.print(f"[bold]{name}[/] (params: {params}): {_rst_to_markup(doc)}", highlight=False)


def _rst_to_markup(text: str) -> str:
    """reStructuredText inline literals (````x````) as rich bold; the rest escaped."""
    parts = re.split(r"``(.+?)``", text)
    return "".join(f"[bold]{escape(p)}[/]" if i % 2 else escape(p) for i, p in enumerate(parts))


from socsim.cli_quantize import quantize  # noqa: E402  (light: imports inside the command)

app.command()(quantize)

from socsim.cli_zoo import zoo_app  # noqa: E402  (light: the zoo loads inside the commands)

app.add_typer(zoo_app, name="zoo")

from socsim.sweep.cli import sweep  # noqa: E402  (light: imports inside the command)

app.command()(sweep)

from socsim.cli_report import report  # noqa: E402  (light: imports inside the command)

app.command()(report)


def _report_error(exc: SocsimError) -> None:
    for problem in exc.problems:
        err.print(f"[red]error:[/] {escape(str(problem))}", highlight=False, markup=True,
                  soft_wrap=True)
    if exc.hint:
        err.print(f"hint: {exc.hint}", highlight=False, markup=False, soft_wrap=True)


def _command():
    """The click command behind ``app``, with help that shows what to type: no ``<bool>``
    after flags, ``SCENARIO`` rather than typer's ``{scenario}`` in usage lines."""
    command = typer.main.get_command(app)
    groups = [command]
    while groups:
        group = groups.pop()
        commands = [group, *getattr(group, "commands", {}).values()]
        for cmd in commands:
            if cmd is not group and hasattr(cmd, "commands"):
                groups.append(cmd)
                continue
            cmd.get_help_option = _flag_without_type(cmd.get_help_option)
            for param in cmd.params:
                if param.param_type_name == "option" and getattr(param, "is_flag", False):
                    param.metavar = ""
                elif param.param_type_name == "argument":
                    name = (param.metavar or param.name).upper()
                    suffix = "..." if param.nargs != 1 else ""
                    param.metavar = name
                    param._usage_display_name = lambda n=name, s=suffix: n + s
    return command


def _flag_without_type(get_help_option):
    """Wrap ``Command.get_help_option`` so that ``--help`` shows no ``<bool>`` either."""
    def wrapped(ctx):
        option = get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option
    return wrapped


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and return its exit status.

    Usage errors are click's (status 2, with usage text); any :class:`SocsimError` becomes
    one line per problem plus a hint, status 1, and so does an OSError (a file the system
    refuses); Ctrl-C one line, status 130; never a traceback for bad input.
    """
    try:
        _command().main(args=argv, prog_name="socsim")
    except SocsimError as exc:
        _report_error(exc)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        return 130
    except OSError as exc:  # the machine's refusal (permissions, space), not a socsim bug
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"[red]error:[/] {escape(where + (exc.strerror or str(exc)))}",
                  highlight=False, soft_wrap=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _entry() -> None:
    sys.exit(main())
