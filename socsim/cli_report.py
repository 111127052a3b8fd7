"""``socsim report RUN_DIR [RUN_DIR ...]``: one self-contained HTML page comparing runs.

Registered on the root app by :mod:`socsim.cli`; plotly and pandas load inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from socsim.errors import SocsimError

_out = Console()


def _window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise SocsimError(f"--window {text!r} is not START_MS:END_MS",
                          hint="e.g. --window 10:10.5 (ms of simulated time)") from None
    if not lo < hi:
        raise SocsimError(f"--window {text!r}: START_MS must be below END_MS",
                          hint="e.g. --window 10:10.5")
    return lo, hi


def report(
    run_dirs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR...", show_default=False,
                                                   help="Report folders of `socsim run`.")],
    out: Annotated[Path, typer.Option("--out", metavar="FILE",
                                      help="HTML file to write.")] = Path("report.html"),
    window: Annotated[str | None, typer.Option(
        "--window", metavar="START_MS:END_MS", help="Gantt window, ms of simulated time "
        "(default: each run's first inference).")] = None,
) -> None:
    """Write one self-contained HTML page (plotly inline, works offline) comparing runs:
    summary tables, latency / power / frequency / temperature / battery over the run,
    latency distributions and a Gantt of one window per run."""
    from socsim.report.html import render

    page = render(list(run_dirs), _window(window))
    out.write_text(page, encoding="utf-8")
    _out.print(f"report: {out} ({len(page) / 1e6:.1f} MB, {len(run_dirs)} run(s))",
               highlight=False, soft_wrap=True)
