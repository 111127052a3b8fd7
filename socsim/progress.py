"""Progress bars on stderr for the phases of a run that take a while.

A phase shows a bar only once it has lasted ``delay_s`` (a quick run prints nothing), only
on a terminal, and erases it when done (``transient``), so piped output and logs stay clean.
A phase's count comes from calls to ``advance`` or, for the simulation, whose loop socsim
does not drive, from a ``poll`` function read by a background thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["Phases", "RichPhases"]


class Phases(Protocol):
    """What a run reports its progress to (``socsim.run``'s ``progress=`` argument)."""

    def phase(self, description: str, total: float | None,
              poll: Callable[[], float] | None = None
              ) -> AbstractContextManager[Callable[[float], None]]:
        """A context manager around one phase, yielding ``advance(n=1)``; ``poll``, if
        given, returns the count done so far."""


class RichPhases:
    """:class:`Phases` drawn with rich on ``console`` (stderr), after ``delay_s`` seconds.

    Args:
        console: a ``rich.console.Console`` writing to stderr.
        delay_s: how long a phase runs before its bar appears.
        tick_s: how often the bar is redrawn (and ``poll`` read).
    """

    def __init__(self, console, *, delay_s: float = 1.0, tick_s: float = 0.1):
        self.console = console
        self.delay_s = delay_s
        self.tick_s = tick_s

    @contextmanager
    def phase(self, description: str, total: float | None,
              poll: Callable[[], float] | None = None) -> Iterator[Callable[[float], None]]:
        """Show ``description`` and a bar of ``total`` steps if the phase lasts long enough.

        Yields:
            ``advance(n=1)``: count ``n`` more steps done.
        """
        if not self.console.is_terminal:
            yield lambda n=1: None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=self.console, transient=True,
                       auto_refresh=False)
        task = bar.add_task(description, total=None if total is None else max(1, int(total)))
        stop = threading.Event()
        t0 = time.monotonic()

        def tick() -> None:
            started = False
            while not stop.wait(self.tick_s):
                if poll is not None:
                    bar.update(task, completed=poll())
                if not started and time.monotonic() - t0 >= self.delay_s:
                    bar.start()
                    started = True
                if started:
                    bar.refresh()
            if started:
                bar.stop()

        thread = threading.Thread(target=tick, name="socsim-progress", daemon=True)
        thread.start()
        try:
            yield lambda n=1: bar.advance(task, n)
        finally:
            stop.set()
            thread.join()
