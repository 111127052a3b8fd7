"""Quantize-on-load cache: same inputs reuse the file, a changed recipe or model does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from socsim.errors import ModelError
from socsim.quant import Recipe, quantize_static
from socsim.quant.cache import quantized_path

W = Path(__file__).parents[2] / "workloads"


def test_cache_hits_and_misses(tmp_path):
    model = tmp_path / "m.onnx"
    shutil.copy(W / "digits_cnn.onnx", model)
    calib = tmp_path / "c.npz"
    data = {"input": np.load(W / "digits_calib.npz")["input"][:16]}
    np.savez(calib, **data)
    a = quantized_path(model, calib, Recipe(), cache_dir=tmp_path / "cache")
    mtime = a.stat().st_mtime_ns
    assert quantized_path(model, calib, Recipe(), cache_dir=tmp_path / "cache") == a
    assert a.stat().st_mtime_ns == mtime  # not rewritten
    b = quantized_path(model, calib, Recipe(per_channel=True), cache_dir=tmp_path / "cache")
    assert b != a
    # the cached file is the quantizer's output, byte for byte
    fresh = quantize_static(onnx.load(model), data, Recipe()).model
    assert onnx.load(a).SerializeToString() == fresh.SerializeToString()
    with pytest.raises(ModelError, match="does not exist"):
        quantized_path(tmp_path / "missing.onnx", calib, Recipe())
