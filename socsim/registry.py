"""Named plug-ins: a dict filled by a decorator, third parties merged from an entry-point group
on first lookup (as timm's model registry and mkdocs' plugins do).

Policies (``socsim.policies``), DVFS governors (``socsim.governors``) and unit kinds
(``socsim.units``) each keep one :class:`Registry`. A registry's built-in entries may be given
as entry-point values (``"module:attr"``) and are then loaded by the same code path as a third
party's, without depending on the installed distribution's metadata being current.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

T = TypeVar("T", bound=type)

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Classes by their ``name`` attribute.

    Args:
        what: what the entries are, for messages ("policy", "governor").
        group: the entry-point group third parties publish entries in.
        builtins: entries loaded with the entry points, as ``name -> "module:attr"`` (the
            value of an entry point), before those of installed distributions.
    """

    def __init__(self, what: str, group: str, builtins: Mapping[str, str] | None = None):
        self.what = what
        self.group = group
        self.builtins = dict(builtins or {})
        self.entries: dict[str, T] = {}
        self.loaded = False  # whether the entry points were merged

    def register(self, cls: T) -> T:
        """Register ``cls`` under ``cls.name`` (a decorator: returns the class unchanged).

        Raises:
            ValueError: if another class holds the name.
        """
        if cls.name in self.entries and self.entries[cls.name] is not cls:
            raise ValueError(f"a {self.what} named {cls.name!r} is already registered "
                             f"({self.entries[cls.name].__module__})")
        self.entries[cls.name] = cls
        return cls

    def _load_entry_points(self) -> None:
        if self.loaded:
            return
        self.loaded = True
        builtin = [EntryPoint(name, value, self.group) for name, value in self.builtins.items()]
        for ep in (*builtin, *entry_points(group=self.group)):
            self.register(ep.load())

    def classes(self) -> list[T]:
        """Every registered class, in registration order (built-ins first)."""
        self._load_entry_points()
        return list(self.entries.values())

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._load_entry_points()
        return sorted(self.entries)

    def get(self, name: str) -> T:
        """The class registered as ``name``.

        Raises:
            KeyError: naming the registered ones.
        """
        self._load_entry_points()
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} {name!r}; available: {self.names()}") from None
