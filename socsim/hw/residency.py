"""Pinning shared by the reconfigurable resources (:class:`socsim.hw.kind.Reconfigurable`): an
op acquires its configuration (load and pin) and releases it when done; a pinned
configuration is never evicted. Subclasses supply ``load`` and the residency itself
(:class:`socsim.hw.fpga_residency.FpgaResidency`, :class:`socsim.hw.cim_residency.CimResidency`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Pinned"]


class Pinned:
    """``acquire`` / ``release`` over a subclass's ``load``, with pin counts per name."""

    _pins: dict[str, int]

    def load(self, name: str) -> Any:
        raise NotImplementedError

    def is_pinned(self, name: str) -> bool:
        """Whether some op holds ``name`` (acquired, not yet released)."""
        return self._pins.get(name, 0) > 0

    def acquire(self, name: str) -> Any:
        """:meth:`load` ``name`` and pin it, so that no other load evicts it until
        :meth:`release` (for units running several ops at once).

        Raises:
            whatever :meth:`load` raises.
        """
        result = self.load(name)
        self._pins[name] = self._pins.get(name, 0) + 1
        return result

    def release(self, name: str) -> None:
        """Undo one :meth:`acquire` of ``name``.

        Raises:
            ValueError: ``name`` is not pinned.
        """
        count = self._pins.get(name, 0)
        if count == 0:
            raise ValueError(f"{name!r} is not acquired; pinned: "
                             f"{sorted(n for n, c in self._pins.items() if c)}")
        self._pins[name] = count - 1
        if count == 1:
            self._unpinned(name)

    def _unpinned(self, name: str) -> None:
        """Called when the last pin of ``name`` goes (default: nothing)."""
