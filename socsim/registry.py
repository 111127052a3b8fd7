"""Named plug-ins: a dict filled by a decorator, third parties merged from an entry-point group
on first lookup (as timm's model registry and mkdocs' plugins do).

Policies (``socsim.policies``) and DVFS governors (``socsim.governors``) each keep one
:class:`Registry`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T", bound=type)

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Classes by their ``name`` attribute.

    Args:
        what: what the entries are, for messages ("policy", "governor").
        group: the entry-point group third parties publish entries in.
    """

    def __init__(self, what: str, group: str):
        self.what = what
        self.group = group
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
        for ep in entry_points(group=self.group):
            self.register(ep.load())

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
