"""Installing a throwaway distribution with entry points, as a third-party package would be
installed, for the plug-in tests (unit kinds, governors, policies, runtime managers)."""

from __future__ import annotations

from pathlib import Path

import pytest


def install_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str,
                         source: str, entry_points: str) -> Path:
    """Write package ``package`` (one ``__init__.py`` holding ``source``) and its
    ``.dist-info`` (``entry_points`` is the ``entry_points.txt`` text) into a fresh site
    folder put first on ``sys.path`` for the test; the folder."""
    site = tmp_path / "site"
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(source)
    name = package.replace("_", "-")
    info = site / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(site))
    return site
