"""A parsed YAML document that knows where everything is, with bounded parsing work.

Reading is bounded before any work is done: at most :data:`MAX_BYTES` are read, the node tree
may hold at most :data:`MAX_NODES` values once YAML aliases are expanded (the "billion laughs"
alias bomb) and nest at most :data:`MAX_DEPTH` deep. Numbers follow YAML 1.2 (``1e3`` is a
float, as a user means it, not the string YAML 1.1 makes of it).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from socsim.errors import ConfigError, Problem

#: Largest device or scenario file read: the bundled ones are under 20 KiB.
MAX_BYTES = 1 << 20
#: Most values (scalars, lists, mappings) a document may expand to through its aliases.
MAX_NODES = 100_000
#: Deepest nesting of lists and mappings: the bundled files nest at most 7 deep.
MAX_DEPTH = 64

Loc = tuple[str | int, ...]

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster when present


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, with YAML 1.2 floats (``1e3``, ``-2.5E-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


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


def parse(text: str, file: str) -> tuple[yaml.Node | None, Any, list[yaml.Node]]:
    """Compose and construct one YAML document within the work limits.

    Returns:
        The node tree (None for an empty document), the plain data, and the key nodes that
        repeat a key of their mapping.

    Raises:
        ConfigError: malformed YAML, a key that is not a plain name, or a document over
            :data:`MAX_NODES` / :data:`MAX_DEPTH`.
    """
    loader = _Loader(text)
    dups: list[yaml.Node] = []
    try:
        node = loader.get_single_node()
        if node is not None:
            shared, dups = _scan(node, file)
            if shared:  # aliases: count what they expand to
                _check_size(node, file)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        fix = next((f for k, f in _FIXES.items() if k in problem),
                   "fix the syntax (quote strings holding ': ' or '#')")
        raise ConfigError(Problem(
            f"malformed YAML: {problem}; {fix}", file,
            mark.line + 1 if mark else None, mark.column + 1 if mark else None)) from None
    finally:
        loader.dispose()
    return node, data, dups


#: What to do about the YAML errors a user can meet, by a phrase of the parser's message.
_FIXES = {
    "unhashable key": "a key must be a plain name, not a list or mapping; write `name: value`",
    "another document": "a socsim file holds one YAML document: remove the extra `---`",
    "nesting depth": f"socsim files nest fewer than 10 levels (limit {MAX_DEPTH}): flatten it",
    "constructor for the tag": "socsim reads plain YAML (no !! tags): write the value itself",
}


def _scan(root: yaml.Node, file: str) -> tuple[bool, list[yaml.Node]]:
    """One pass over the distinct nodes: their count and depth (exact when no node is shared),
    keys that are not plain names, and repeated keys.

    Returns:
        Whether some node is reached twice (an alias), and the repeated key nodes.

    Raises:
        ConfigError: a complex key, or too many or too deeply nested values.
    """
    seen: set[int] = set()
    shared = False
    count = 0
    dups: list[yaml.Node] = []
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    mapping, sequence, scalar = yaml.MappingNode, yaml.SequenceNode, yaml.ScalarNode
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            shared = True
            continue
        seen.add(id(node))
        count += 1
        if depth > MAX_DEPTH:
            raise ConfigError(_at(node, file, _DEEP))
        if node.__class__ is mapping:
            names: set[str] = set()
            for key, value in node.value:
                if key.__class__ is not scalar:
                    raise ConfigError(_at(key, file, "a key must be a plain name, not a list or "
                                          "mapping; write `name: value`"))
                if key.value in names:
                    dups.append(key)
                names.add(key.value)
                count += 1
                stack.append((value, depth + 1))
        elif node.__class__ is sequence:
            stack.extend((v, depth + 1) for v in node.value)
        if count > MAX_NODES:
            raise ConfigError(_at(root, file, _MANY))
    return shared, dups


_MANY = (f"this value expands to more than {MAX_NODES:,} values (YAML aliases *name repeat "
         "&name's value); a device or scenario needs a few hundred: write fewer values or "
         "reduce the aliases")
_DEEP = (f"nested more than {MAX_DEPTH} lists or mappings deep; socsim files nest fewer than "
         "10 levels: flatten the structure")


def _check_size(root: yaml.Node, file: str) -> None:
    """Reject a tree whose alias-expanded size or depth is beyond the limits, in time linear in
    the number of distinct nodes (an alias is the same node object as its anchor)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_NODES:
                raise ConfigError(_at(node, file, _MANY))
            if depth[key] > MAX_DEPTH:
                raise ConfigError(_at(node, file, _DEEP))
            continue
        if key in size:
            continue
        if key in on_path or len(on_path) > MAX_DEPTH:
            raise ConfigError(_at(node, file, (
                f"nested more than {MAX_DEPTH} lists or mappings deep (or through a recursive "
                "alias); flatten the structure")))
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _at(node: yaml.Node, file: str, message: str) -> Problem:
    mark = node.start_mark
    return Problem(message, file, mark.line + 1, mark.column + 1)


def read_text(path: Path) -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_BYTES` bytes.

    Raises:
        ConfigError: missing, not a regular file (a directory, a device, a symlink loop),
            too large, unreadable or not UTF-8.
    """
    where = str(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise ConfigError(Problem(f"{kind}; give the path of a YAML file", where))
        if st.st_size > MAX_BYTES:
            raise ConfigError(Problem(_too_big(st.st_size), where))
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(Problem("file not found; check the path", where)) from None
    except OSError as exc:
        raise ConfigError(Problem(f"cannot read ({exc.strerror or exc}); check the path and "
                                  "its permissions", where)) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(Problem(_too_big(len(raw)), where))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(Problem(f"not UTF-8 text (byte {raw[exc.start]:#04x}); save it as "
                                  "UTF-8", where, line)) from None


def _too_big(n: int) -> str:
    return (f"{n:,} bytes is larger than the {MAX_BYTES:,}-byte limit for a device or scenario "
            "file (the bundled ones are under 20 KiB); is this the right file?")


class Document:
    """A parsed YAML document: the plain data, the node tree that knows line numbers, and the
    overrides applied to it (whose errors point at the override, not the file)."""

    def __init__(self, text: str, file: str):
        self.file = file
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
            raise ConfigError(_at(self.node, self.file, (
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
            if isinstance(target, list) and isinstance(last, int) and last < len(target):
                target[last] = value
            elif isinstance(target, dict):
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


def read(path: Path) -> Document:
    """Read and parse a YAML file within the limits.

    Raises:
        ConfigError: as :func:`read_text` and :func:`parse`.
    """
    return Document(read_text(path), str(path))
