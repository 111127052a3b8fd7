"""Session-wide cache of zoo builds: MobileNetV2 int8 calibrates at 224x224, build it once."""

from __future__ import annotations

from collections.abc import Callable

import onnx
import pytest

from socsim import zoo


@pytest.fixture(scope="session")
def built() -> Callable[[str], onnx.ModelProto]:
    """``built(name)`` returns ``zoo.build(name)`` (seed 0), building each name at most once.

    Callers must not mutate the returned model.
    """
    cache: dict[str, onnx.ModelProto] = {}

    def get(name: str) -> onnx.ModelProto:
        if name not in cache:
            cache[name] = zoo.build(name)
        return cache[name]

    return get
