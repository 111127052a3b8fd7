"""A parsed YAML document that knows where everything is, and the overrides applied to it.

Parsing is bounded (:mod:`socsim.config.parsing`); errors are located at a line of the file, or
at the ``--set`` / ``soc_set`` entry that wrote the value.

:func:`read` keeps the parses of the last :data:`PARSE_CACHE_SIZE` files, keyed by the path as
given, the file's modification time (ns) and size: a sweep reads one scenario and one device
file per point, and parsing them was about 29 % of a point's cost. Each :class:`Document` gets
its own copy of the data (overrides change it); the node tree, only read, is shared. A file
that fails to parse is never cached, so its error is raised on every read.
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from socsim.config.parsing import MAX_BYTES, MAX_DEPTH, MAX_NODES, node_problem, parse, read_text
from socsim.errors import ConfigError, Problem

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "Document", "Loc", "Origin", "parse", "read",
           "read_text"]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Origin:
    """Where an override came from: a ``--set`` argument, or an entry of a file.

    Attributes:
        file: ``--set path=value`` for the command line, else the file holding the entry.
        line: 1-based line of the entry in ``file``, if it is a file.
        col: 1-based column.
        path: dotted path of the entry in ``file`` (``soc_set.0``), if it is a file.
    """

    file: str
    line: int | None = None
    col: int | None = None
    path: str | None = None

    def problem(self, message: str, field: str) -> Problem:
        """A :class:`Problem` about ``field`` (a path in the overridden document)."""
        shown = f"{self.path}: {field}" if self.path and field else (self.path or field)
        return Problem(message, self.file, self.line, self.col, shown or None)


class Document:
    """A parsed YAML document: the plain data, the node tree that knows line numbers, and the
    overrides applied to it (whose errors point at the override, not the file)."""

    def __init__(self, text: str, file: str, *, parsed: tuple[Any, Any] | None = None):
        """Parse ``text`` (from ``file``), or take ``parsed`` = ``(node, data)`` of an earlier
        parse of the same text (:func:`read`'s cache; ``data`` is copied)."""
        self.file = file
        if parsed is not None:
            self.node, self.data = parsed[0], copy.deepcopy(parsed[1])
        else:
            self.node, self.data, dups = parse(text, file)
            if dups:
                self._report_duplicates({id(k) for k in dups})
        self.overrides: dict[Loc, Origin] = {}

    def _report_duplicates(self, dups: set[int]) -> None:
        """Raise one located problem per repeated key (``dups``: ids of their key nodes)."""
        problems = []
        seen_nodes: set[int] = set()
        stack: list[tuple[yaml.Node | None, Loc]] = [(self.node, ())]
        while stack:
            node, loc = stack.pop()
            if node is None or id(node) in seen_nodes:
                continue
            seen_nodes.add(id(node))
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if id(key) in dups:
                        problems.append(Problem(
                            f"duplicate key {key.value!r} (YAML would silently keep the last); "
                            "delete one", self.file, key.start_mark.line + 1,
                            key.start_mark.column + 1, _dotted((*loc, key.value))))
                    stack.append((value, (*loc, key.value)))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((v, (*loc, i)) for i, v in enumerate(node.value))
        if problems:
            raise ConfigError(sorted(problems, key=lambda p: p.line or 0))

    def require_mapping(self, what: str, fields: str) -> None:
        """Raise unless the document is a mapping (an empty file or a list is not).

        Args:
            what: "device file" or "scenario".
            fields: the fields it needs, for the message.

        Raises:
            ConfigError: located at line 1 (empty) or at the top-level value.
        """
        if self.node is None:
            raise ConfigError(Problem(f"the file is empty; a {what} is a mapping with {fields}",
                                      self.file, 1, 1))
        if not isinstance(self.data, dict):
            kind = {list: "a list", str: "a single string"}.get(type(self.data),
                                                                 type(self.data).__name__)
            raise ConfigError(node_problem(self.node, self.file, (
                f"the top level is {kind}; a {what} is a mapping with {fields}")))

    def locate(self, loc: Loc, message: str, *, missing: bool = False) -> Problem:
        """A :class:`Problem` at the deepest node of ``loc`` that exists in the file.

        Elements of ``loc`` that are not in the document (pydantic's union tags) are left out
        of the path, except the last one of a ``missing`` field, which is its name; the error
        points at the nearest enclosing node. An error under an override, or about a field an
        override created, names the override instead of a line of the file.
        """
        for prefix, origin in self.overrides.items():
            shown = _through(loc, prefix)
            if shown is not None:
                return origin.problem(message, _dotted(shown))
        node = self.node
        key_node = None
        shown: list[str | int] = []
        whole = True
        for i, part in enumerate(loc):
            found = False
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        key_node, node, found = key, value, True
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    key_node, node, found = None, node.value[part], True
            if found or (missing and i == len(loc) - 1):  # else it is a union tag
                shown.append(part)
            if not found:
                whole = False
        created = [o for p, o in self.overrides.items() if shown and _starts(p, shown)]
        if not whole and not missing:  # a field that only an override wrote
            wrote = [o for p, o in self.overrides.items() if loc and _starts(p, loc)]
            if wrote or created:
                return (wrote or created)[0].problem(message, _dotted(loc if wrote else shown))
        if created:
            message += f" (after {', '.join(sorted({_label(o) for o in created}))})"
        mark = (key_node or node).start_mark if node is not None else None
        return Problem(message, self.file, mark.line + 1 if mark else 1,
                       mark.column + 1 if mark else 1, _dotted(shown))

    def apply_overrides(self, assignments: Sequence[str],
                        origins: Sequence[Origin] | None = None) -> None:
        """Apply ``dotted.path=value`` overrides (values parsed as YAML scalars).

        Args:
            assignments: the ``path=value`` strings.
            origins: where each came from; default: ``--set`` on the command line.

        Raises:
            ConfigError: a malformed assignment or a path that cannot be set.
        """
        for k, assignment in enumerate(assignments):
            origin = origins[k] if origins is not None else Origin(f"--set {assignment}")
            path, sep, raw = assignment.partition("=")
            if not sep or not path or "" in path.split("."):
                raise ConfigError(origin.problem(
                    "expected dotted.path=value, e.g. run.seed=3 or workloads.0.inferences=100",
                    ""))
            try:
                value = parse(raw, origin.file)[1]
            except ConfigError:
                value = raw
            loc = tuple(int(p) if p.isdigit() else p for p in path.split("."))
            if not isinstance(self.data, dict):
                self.data = {}
            target: Any = self.data
            for i, part in enumerate(loc[:-1]):
                if isinstance(target, list) and isinstance(part, int) and part < len(target):
                    target = target[part]
                elif isinstance(target, dict) and isinstance(target.get(part, {}), (dict, list)):
                    target = target.setdefault(part, {})
                else:
                    where = _dotted(loc[:i + 1])
                    valid = (f"indices 0..{len(target) - 1}" if isinstance(target, list)
                             else "a mapping")
                    raise ConfigError(origin.problem(
                        f"cannot descend into {where!r}: it is not a mapping or an existing "
                        f"list index (valid here: {valid})", path))
            last = loc[-1]
            settable = isinstance(target, list) and isinstance(last, int) and last < len(target)
            if settable or isinstance(target, dict):
                target[last] = value
            else:
                valid = f"indices 0..{len(target) - 1}" if isinstance(target, list) else "none"
                raise ConfigError(origin.problem(f"cannot set {path!r} (valid here: {valid})",
                                                 path))
            self.overrides[loc] = origin


def _label(origin: Origin) -> str:
    return origin.file if origin.line is None else f"{origin.path} (line {origin.line})"


def _starts(path: Loc, prefix: Sequence[str | int]) -> bool:
    """Whether override ``path`` lies under (or is) ``prefix``."""
    return len(path) >= len(prefix) and all(str(a) == str(b) for a, b in zip(path, prefix))


def _through(loc: Loc, prefix: Loc) -> Loc | None:
    """``loc`` without pydantic's union tags if it lies under the override path ``prefix``
    (the tags are elements of ``loc`` that the path skips), else None."""
    shown: list[str | int] = []
    i = 0
    for part in loc:
        if i < len(prefix) and str(part) == str(prefix[i]):
            i += 1
            shown.append(part)
        elif i < len(prefix) and not isinstance(part, int) and shown:
            continue  # a union tag between two elements of the path
        elif i == len(prefix):
            shown.append(part)
        else:
            return None
    return tuple(shown) if i == len(prefix) else None


def _dotted(loc: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in loc)


#: files whose parse :func:`read` keeps
PARSE_CACHE_SIZE = 32
_PARSED: OrderedDict[tuple[str, int, int], tuple[Any, Any]] = OrderedDict()


def read(path: Path) -> Document:
    """Read and parse a YAML file within the limits (a cached parse while the file's
    modification time and size are unchanged: module docstring).

    Raises:
        ConfigError: as :func:`read_text` and :func:`parse`.
    """
    try:
        st = os.stat(path)
        key = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None  # read_text reports it
    hit = _PARSED.get(key) if key is not None else None
    if hit is not None:
        _PARSED.move_to_end(key)
        return Document("", str(path), parsed=hit)
    doc = Document(read_text(path), str(path))
    if key is not None:
        _PARSED[key] = (doc.node, copy.deepcopy(doc.data))
        while len(_PARSED) > PARSE_CACHE_SIZE:
            _PARSED.popitem(last=False)
    return doc
