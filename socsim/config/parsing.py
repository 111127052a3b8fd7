"""Reading a YAML file with bounded work: size, alias expansion and nesting limited before
anything is built, and numbers read as YAML 1.2 (``1e3`` is a float, as a user means it, not the
string YAML 1.1 makes of it).
"""

from __future__ import annotations

import os
import re
import stat
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

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster when present


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, with YAML 1.2 floats (``1e3``, ``-2.5E-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))




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
            raise ConfigError(node_problem(node, file, _DEEP))
        if node.__class__ is mapping:
            names: set[str] = set()
            for key, value in node.value:
                if key.__class__ is not scalar:
                    raise ConfigError(node_problem(key, file, "a key must be a plain name, not a "
                                                   "list or mapping; write `name: value`"))
                if key.value in names:
                    dups.append(key)
                names.add(key.value)
                count += 1
                stack.append((value, depth + 1))
        elif node.__class__ is sequence:
            stack.extend((v, depth + 1) for v in node.value)
        if count > MAX_NODES:
            raise ConfigError(node_problem(root, file, _MANY))
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
                raise ConfigError(node_problem(node, file, _MANY))
            if depth[key] > MAX_DEPTH:
                raise ConfigError(node_problem(node, file, _DEEP))
            continue
        if key in size:
            continue
        if key in on_path or len(on_path) > MAX_DEPTH:
            raise ConfigError(node_problem(node, file, (
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


def node_problem(node: yaml.Node, file: str, message: str) -> Problem:
    """A :class:`Problem` at ``node``'s position in ``file``."""
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
