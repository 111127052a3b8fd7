"""The ``socsim`` command line: a thin typer app; one error handler in :func:`main`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from socsim import __version__
from socsim.errors import SocsimError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="socsim: simulate quantized neural networks on heterogeneous edge SoCs.")
out = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"socsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False):
    """socsim: simulate quantized neural networks on heterogeneous edge SoCs."""


@app.command()
def run(scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        out_dir: Annotated[Path | None, typer.Option("--out", help="Report folder "
                                                        "(default: run.out or reports/<name>).")] = None,
        seed: Annotated[int | None, typer.Option(help="Override run.seed.")] = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", help="Override a scenario field: dotted.path=value (repeatable).")] = None):
    """Simulate a scenario, print a summary table and write the report folder."""
    from socsim.run import run_scenario

    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"run.seed={seed}")
    result = run_scenario(scenario, overrides)
    paths = result.write(out_dir)
    _print_summary(result.summary)
    for w, f in result.summary.get("functional", {}).items():
        events = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in f["integer_events"].items())
        out.print(f"functional {w}: {events}")
    for note in result.summary["notes"]:
        out.print(f"[yellow]note:[/] {note}")
    out.print(f"report: {paths[0].parent}/ ({', '.join(p.name for p in paths)})")


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Device or scenario YAML files.")]):
    """Check device or scenario files; print file:line:col: field: message for each error."""
    from socsim.config import load_any
    from socsim.config.scenario import Scenario
    from socsim.run import make_policies

    failed = False
    for f in files:
        try:
            loaded = load_any(f)
            if isinstance(loaded, Scenario):
                make_policies(loaded)
            out.print(f"{f}: ok ({'scenario' if isinstance(loaded, Scenario) else 'device'} "
                      f"{loaded.name!r})")
        except SocsimError as exc:
            failed = True
            _report_error(exc)
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
        out.print(f"[bold]{name}[/] (params: {params}): {doc}")


from socsim.cli_quantize import quantize  # light: it imports what it needs inside the command

app.command()(quantize)


def _print_summary(s: dict) -> None:
    lat, en = s["latency_ms"], s["energy_mj"]

    def num(v: float | None, fmt: str = ".4g") -> str:
        return "-" if v is None else format(v, fmt)

    head = Table(title=f"{s['scenario']} on {s['soc']} ({s['policy']['name']}): "
                       f"{s['inferences']} inferences in {s['simulated_ms']:.4g} ms simulated",
                 show_header=False)
    head.add_column("what")
    head.add_column("value", justify="right")
    head.add_row("latency ms (p50 / p99 / max)",
                 f"{num(lat['p50'])} / {num(lat['p99'])} / {num(lat['max'])}")
    head.add_row("deadline misses", str(s["deadline_misses"]))
    head.add_row("energy mJ (total / per inference)",
                 f"{num(en['total'])} / {num(en['per_inference'])}")
    cats = ("compute", "sram", "dram", "dma", *(("reconfig",) if en["reconfig"] else ()),
            "static", "idle")
    head.add_row(f"  {' / '.join(cats)} mJ", " / ".join(num(en[k]) for k in cats))
    out.print(head)
    units = Table(title="Units and DMA engines")
    for col in ("component", "ops / transfers", "busy ms", "utilisation", "energy mJ"):
        units.add_column(col, justify="right")
    for name, u in s["units"].items():
        units.add_row(name, str(u["ops"]), f"{u['busy_ms']:.4g}", f"{u['utilisation']:.1%}",
                      f"{u['energy_mj']:.4g}")
    for name, d in s["dma"].items():
        units.add_row(name, str(d["transfers"]), f"{d['busy_ms']:.4g}",
                      f"{d['utilisation']:.1%}", "-")
    out.print(units)
    out.print(f"DMA bytes: {s['dma_bytes']:,}   zero-copy hand-offs: {s['zero_copy_count']:,} "
              f"({s['zero_copy_bytes']:,} bytes)   spills: {s['spills']}   page faults: "
              f"{s['page_faults']}   evictions: {s['paging']['evictions']}")
    for name, f in s["fpga"].items():
        out.print(f"{name}: {f['reconfigurations']} reconfigurations ({f['reconfig_ms']:.4g} ms, "
                  f"{f['bitstream_mb']:.4g} MB of bitstream, {f['energy_mj']:.4g} mJ), "
                  f"{f['evictions']} kernel evictions")


def _report_error(exc: SocsimError) -> None:
    for problem in exc.problems:
        err.print(f"[red]error:[/] {problem}", highlight=False, markup=True, soft_wrap=True)
    if exc.hint:
        err.print(f"hint: {exc.hint}", highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and return its exit status.

    Usage errors are click's (status 2, with usage text); any :class:`SocsimError` becomes
    one line per problem plus a hint, status 1; never a traceback for bad input.
    """
    try:
        app(args=argv, prog_name="socsim")
    except SocsimError as exc:
        _report_error(exc)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _entry() -> None:
    sys.exit(main())
