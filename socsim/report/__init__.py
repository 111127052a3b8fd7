"""Reports: pandas tables, the summary, Chrome/Perfetto trace, plots, the terminal summary,
the writer, and the report folder that is checked first and replaced whole.

Names load on first use, so that :mod:`socsim.report.output` (needed before anything is
simulated) does not pull in pandas and matplotlib. ``socsim.report.tables`` is the module
(its function of the same name builds the frames: ``socsim.report.tables.tables``); likewise
``socsim.report.reconcile.reconcile``.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "Tables": "tables", "summary": "tables", "chrome_trace": "chrome",
    "energy": "plots", "timeline": "plots", "write_report": "write",
    "strict_summary": "write", "summary_tables": "console", "OutputError": "output",
    "REPORT_FILES": "output", "ReportFolder": "output",
}

__all__ = [
    "REPORT_FILES",
    "OutputError",
    "ReportFolder",
    "Tables",
    "chrome_trace",
    "energy",
    "strict_summary",
    "summary",
    "summary_tables",
    "timeline",
    "write_report",
]


def __getattr__(name: str):
    """Import the submodule holding ``name`` on first use."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"socsim.report.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'socsim.report' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
