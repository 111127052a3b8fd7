"""Progress bars: only on a terminal, only past the delay, gone when done."""

from __future__ import annotations

import io
import time

from rich.console import Console

from socsim.progress import RichPhases


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=80), buf


def test_short_phase_shows_nothing():
    console, buf = _console(True)
    with RichPhases(console, delay_s=5).phase("writing report", 3) as advance:
        advance()
    assert buf.getvalue() == ""


def test_long_phase_shows_a_bar_then_clears_it():
    console, buf = _console(True)
    polled = iter(range(1000))
    with RichPhases(console, delay_s=0.05, tick_s=0.02).phase(
            "simulating", 1000, poll=lambda: next(polled)):
        time.sleep(0.4)
    text = buf.getvalue()
    assert "simulating" in text and "/1000" in text


def test_no_terminal_no_bar():
    console, buf = _console(False)
    with RichPhases(console, delay_s=0).phase("simulating", 10) as advance:
        time.sleep(0.1)
        advance(5)
    assert buf.getvalue() == ""
