"""``python -m socsim``: the same as the ``socsim`` command."""

from socsim.cli import _entry

_entry()
