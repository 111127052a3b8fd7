"""The digits models and data (committed; written by workloads/digits_train.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

WORKLOADS = Path(__file__).parents[2] / "workloads"


@pytest.fixture(scope="session")
def digits():
    """(cnn, dscnn, calib, test) with the calibration set cut to 64 samples for speed."""
    calib = dict(np.load(WORKLOADS / "digits_calib.npz"))
    test = dict(np.load(WORKLOADS / "digits_test.npz"))
    return (onnx.load(WORKLOADS / "digits_cnn.onnx"), onnx.load(WORKLOADS / "digits_dscnn.onnx"),
            {k: v[:64] for k, v in calib.items()}, test)
