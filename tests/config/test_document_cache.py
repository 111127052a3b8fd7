"""socsim.config.document.read's parse cache: keyed by path, mtime and size; each Document owns
its data."""

from __future__ import annotations

import os

import pytest

from socsim.config import document
from socsim.errors import ConfigError


def test_cached_parse_is_a_fresh_document(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("run: {seed: 1}\nname: a\n")
    first = document.read(path)
    first.apply_overrides(["run.seed=7"])
    second = document.read(path)                       # from the cache
    assert second.data == {"run": {"seed": 1}, "name": "a"}   # the override did not leak
    assert second.overrides == {} and second.node is first.node


def test_an_edited_file_is_parsed_again(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("name: a\n")
    assert document.read(path).data == {"name": "a"}
    stat = path.stat()
    path.write_text("name: b\n")                       # same size: the mtime tells
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert document.read(path).data == {"name": "b"}


def test_a_bad_file_fails_on_every_read(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\na: 2\n")                    # a repeated key
    for _ in range(2):
        with pytest.raises(ConfigError):
            document.read(path)
