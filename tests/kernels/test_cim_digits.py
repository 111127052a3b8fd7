"""The ADC-resolution effect on a trained model: the int8 digits CNN on the 600 test images,
its convolutions computed by a CiM dot product (64 rows, 4-bit DAC, 4-bit cells: the macro of
devices/imx8mp_cim.yaml) at 4, 6 and 8 ADC bits and at the exact resolution.

The reference is the same QDQ model on socsim's exact integer kernels (independent of the CiM
code); the labels come from the data set.
"""

from __future__ import annotations

import numpy as np
import pytest

from socsim.execute import compile_model
from socsim.kernels.arithmetic import Arithmetic
from socsim.kernels.cim import CimDot, exact_adc_bits
from socsim.quant import Recipe, quantize_static
from tests.conftest import REPO

ROWS, DAC, CELL = 64, 4, 4


@pytest.fixture(scope="module")
def digits():
    calib = dict(np.load(REPO / "workloads" / "digits_calib.npz"))
    model = quantize_static(REPO / "workloads" / "digits_cnn.onnx", calib,
                            Recipe(scheme="int8", per_channel=True)).model
    test = dict(np.load(REPO / "workloads" / "digits_test.npz"))
    out = model.graph.output[0].name
    ref = compile_model(model).run({"input": test["input"]}).outputs[out]
    return model, test, out, ref


def _logits(digits, adc_bits: int) -> np.ndarray:
    model, test, out, _ = digits
    arith = Arithmetic(integer_dot=CimDot(ROWS, DAC, CELL, adc_bits))
    return compile_model(model, arithmetic=arith).run({"input": test["input"]}).outputs[out]


def test_adc_resolution_sets_the_accuracy(digits):
    _, test, _, ref = digits
    labels = test["labels"]
    ref_top1 = (ref.argmax(-1) == labels).mean()
    exact = exact_adc_bits(CimDot(ROWS, DAC, CELL, 1))
    assert exact == 14
    top1 = {}
    for bits in (4, 6, 8, exact):
        y = _logits(digits, bits)
        top1[bits] = (y.argmax(-1) == labels).mean()
        if bits == exact:
            np.testing.assert_array_equal(y, ref)  # bit for bit the int8 reference
        else:
            assert not np.array_equal(y, ref)
    # monotone (within one image of the 600) and the coarse ADCs clearly worse
    assert top1[4] <= top1[6] + 1 / 600 and top1[6] <= top1[8] + 1 / 600
    assert top1[8] <= top1[exact] + 1 / 600
    assert top1[4] < ref_top1 - 0.2
    assert top1[exact] == ref_top1
