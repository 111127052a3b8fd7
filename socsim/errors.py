"""Errors socsim raises on purpose, each one line for the user plus a hint.

The CLI turns any :class:`SocsimError` into ``file:line:col: field.path: message`` lines and a
non-zero exit, never a traceback. Library callers catch the kind they care about.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, located as precisely as we can.

    Attributes:
        message: what is wrong and how to fix it.
        file: the file it was found in, if any.
        line: 1-based line in ``file``, if known.
        col: 1-based column in ``file``, if known.
        path: dotted field path inside the document (``units.npu0.macs``), if any.
    """

    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.col is not None:
                    where += f":{self.col}"
            where += ": "
        path = f"{self.path}: " if self.path else ""
        return f"{where}{path}{self.message}"


class SocsimError(Exception):
    """Base of every error socsim reports to a user.

    Carries one or more :class:`Problem` records so that a file with five typos reports five lines.
    """

    def __init__(self, problems: list[Problem] | Problem | str, *, hint: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.hint = hint
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(SocsimError):
    """A device or scenario file is malformed, has unknown fields or impossible values."""


class ModelError(SocsimError):
    """An ONNX model cannot be read, checked or shape-inferred."""


class UnsupportedOpError(ModelError):
    """An ONNX operator socsim (or a unit) cannot cost or execute."""


class PlacementError(SocsimError):
    """A placement policy produced, or was asked for, an impossible plan."""


class SimulationError(SocsimError):
    """The simulation reached a state the model says is impossible (e.g. memory over capacity)."""


__all__ = [
    "ConfigError",
    "ModelError",
    "PlacementError",
    "Problem",
    "SimulationError",
    "SocsimError",
    "UnsupportedOpError",
]
