"""Calibration ranges that come out the same on every host.

onnxruntime's MinMax calibrator runs the float model with onnxruntime itself, so the ranges it
records carry the last bits of the host's float32 kernels: MLAS picks AVX-512F or AVX2/FMA3
kernels (different summation orders in Softmax, different BLAS blockings elsewhere), and a
range that moves by one float32 ulp moves a quantization scale, hence every byte downstream.
The zoo's int8 models must not depend on the machine that generated them, so the ranges are
computed here instead and handed to the quantizer (``quantize_static`` with a calibration
cache, which skips its own inference):

1. **float64 evaluation.** The float model is converted to float64 (initializers, inputs,
   outputs) and run by socsim's own interpreter, each calibration input on its own, recording
   the minimum and maximum of every float tensor a node reads or writes, as the MinMax
   calibrator does (one range per tensor over all samples and elements; graph inputs and
   outputs included). Every float64 operation involved is either correctly rounded (add,
   multiply, divide, sqrt, min/max, comparisons) or accurate to a few ulps (BLAS dot products
   whose blocking depends on the host, SIMD ``exp``), so hosts disagree only in the last bits.
   Measured: of the 158 range ends of the three small models, 15 differ between an AVX-512
   host and ``qemu-x86_64 -cpu Haswell``, by at most ``5.8e-16`` relative.
2. **An outward grid.** Each minimum is rounded down and each maximum up to
   :data:`GRID_BITS` significant bits (a step of at most ``2**-(GRID_BITS-1)`` of the value).
   The rounded range contains the float64 one, widening it by under 1 %, which an int8 scale
   (range / 255) absorbs. Two hosts can round differently only if the exact range lies within
   their float64 disagreement of a grid point: with a relative disagreement ``d`` and
   ``2**GRID_BITS`` grid points per octave, the chance per range end is about
   ``d * 2**GRID_BITS`` (``~1e-13`` here) instead of the near-certainty of a last-bit change
   in float32. Measured: apart from ends that are exact on every host (0, Clip's 6, input
   values), the nearest of the zoo's 269 range ends lies ``8.3e-6`` relative from a grid
   point; ``tests/zoo`` keeps the small models' ends at least ``1e-9`` away.
3. **float32 values.** A grid value has at most :data:`GRID_BITS` significant bits, so it is
   exactly representable as the float32 the quantizer expects.

``tests/zoo`` checks the result against the committed workloads, and ``tools/qemu_avx2.sh``
regenerates them on an emulated AVX2 CPU to check that the bytes agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from socsim.kernels.interpreter import CompiledModel

GRID_BITS = 8
"""Significant bits kept by the outward rounding of calibration ranges."""


def _to_float64(model: onnx.ModelProto) -> onnx.ModelProto:
    # Every FLOAT initializer, Constant and declared type becomes DOUBLE; the graph's outputs
    # become every tensor a node reads or writes (constants aside), so one run exposes them all.
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for i, init in enumerate(g.initializer):
        if init.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(
                numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64), init.name))
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(
                    numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
    for vi in (*g.input, *g.output):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    g.ClearField("value_info")
    constants = {i.name for i in g.initializer}
    declared = {o.name for o in g.output}
    for name in _node_tensors(g.node):
        if name not in constants and name not in declared:
            g.output.append(onnx.ValueInfoProto(name=name))
            declared.add(name)
    return m


def _node_tensors(nodes: Iterable[onnx.NodeProto]) -> list[str]:
    seen: dict[str, None] = {}
    for node in nodes:
        for name in (*node.input, *node.output):
            if name:
                seen.setdefault(name, None)
    return list(seen)


def float64_ranges(model: onnx.ModelProto, samples: Sequence[Mapping[str, np.ndarray]]
                   ) -> dict[str, tuple[float, float]]:
    """Minimum and maximum of every float tensor of ``model`` over ``samples``, in float64.

    Args:
        model: a float32 model.
        samples: input dicts, evaluated one at a time.

    Returns:
        ``{tensor: (min, max)}`` for every non-constant float tensor a node reads or writes.
    """
    compiled = CompiledModel(_to_float64(model), qdq="reference")
    ranges: dict[str, tuple[float, float]] = {}
    for feeds in samples:
        out = compiled.run({k: np.asarray(v, np.float64) for k, v in feeds.items()}).outputs
        for name, value in out.items():
            if value.dtype != np.float64 or value.size == 0:
                continue
            lo, hi = float(np.min(value)), float(np.max(value))
            if name in ranges:
                lo, hi = min(lo, ranges[name][0]), max(hi, ranges[name][1])
            ranges[name] = (lo, hi)
    return ranges


def round_outward(value: float, up: bool, bits: int = GRID_BITS) -> float:
    """``value`` rounded to ``bits`` significant bits, toward +inf if ``up`` else toward -inf.

    Exact: frexp/ldexp only move the exponent, and floor/ceil act on a number below 2**bits.

    Raises:
        ValueError: for a NaN or infinite ``value``.
    """
    if not math.isfinite(value):
        raise ValueError(f"calibration range {value!r} is not finite")
    if value == 0.0:
        return 0.0
    mant, exp = math.frexp(value)  # value = mant * 2**exp, 0.5 <= |mant| < 1
    scaled = math.ldexp(mant, bits)
    return math.ldexp(math.ceil(scaled) if up else math.floor(scaled), exp - bits)


def calibration_ranges(model: onnx.ModelProto, samples: Sequence[Mapping[str, np.ndarray]],
                       bits: int = GRID_BITS) -> dict[str, tuple[np.float32, np.float32]]:
    """Host-independent MinMax ranges of ``model``'s float tensors (see the module docstring).

    Returns:
        ``{tensor: (low, high)}`` as float32 grid values.
    """
    return {name: (np.float32(round_outward(lo, False, bits)),
                   np.float32(round_outward(hi, True, bits)))
            for name, (lo, hi) in sorted(float64_ranges(model, samples).items())}
