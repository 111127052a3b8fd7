"""The one reader of user .npz files: run inputs, calibration data, evaluation data.

Every .npz socsim reads goes through :func:`read_npz` (the archive, safely) and
:func:`check_arrays` (its arrays against the model's inputs), or both at once through
:func:`load_npz`. Reading is safe against hostile files:

- the archive's declared sizes are bounded before anything is decompressed: the zip directory's
  uncompressed sizes and, per array, the size its ``.npy`` header declares (a header may
  declare a shape far larger than the data behind it; numpy would allocate it first), at most
  :data:`MAX_NPZ_BYTES` together;
- pickled objects are refused (the ``.npy`` header's dtype is read first; nothing is
  unpickled);
- a truncated or corrupt archive (``zipfile.BadZipFile``, a bad CRC, a short member) is one
  message, never a traceback.

Every message has one shape: ``FILE: the <what> <problem>; <fix>``, naming the array (key)
when one is at fault.

Two layouts of samples exist, both "samples along the first axis":

- ``stacked`` (a scenario's ``inputs``): each sample is one whole model input, so an array is
  ``(S, *input_shape)``;
- ``batch`` (calibration and evaluation data): samples run along the model input's own first
  (batch) dimension, so an array is ``(S, *input_shape[1:])``.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.lib import format as npy_format

from socsim.errors import ConfigError, Problem, SocsimError

if TYPE_CHECKING:
    import onnx

    from socsim.graph.ir import Graph

__all__ = ["LABELS", "MAX_NPZ_BYTES", "InputSpec", "NpzError", "check_arrays", "graph_inputs",
           "load_npz", "onnx_inputs", "read_npz"]

#: Largest total of uncompressed array bytes read from one .npz (a zip bomb stops here).
MAX_NPZ_BYTES = 1 << 30
#: The key of the class labels in evaluation data.
LABELS = "labels"

Layout = Literal["stacked", "batch"]
# What a corrupt or truncated archive raises while being read (zlib: a damaged deflate stream;
# EOFError / ValueError: a short member or a bad .npy header; NotImplementedError: a
# compression method zipfile lacks).
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError,
                NotImplementedError, KeyError)


class NpzError(ConfigError):
    """An .npz file socsim cannot use; each problem is ``FILE: ...; fix``."""


@dataclass(frozen=True)
class InputSpec:
    """One model input an .npz must hold an array for.

    Attributes:
        shape: the input's dimensions; None where a dimension is symbolic.
        dtype: numpy dtype name (``float32``, ``int8``...).
    """

    shape: tuple[int | None, ...]
    dtype: str


def graph_inputs(graph: Graph) -> dict[str, InputSpec]:
    """The inputs of a loaded :class:`socsim.graph.ir.Graph` (static shapes)."""
    return {n: InputSpec(tuple(graph.tensors[n].shape), graph.tensors[n].dtype)
            for n in graph.inputs}


def onnx_inputs(model: onnx.ModelProto) -> dict[str, InputSpec]:
    """The graph inputs of an ONNX model that are not initializers (symbolic dims: None)."""
    from onnx import helper

    inits = {i.name for i in model.graph.initializer}
    out = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        t = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
        out[vi.name] = InputSpec(dims, np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)).name)
    return out


def _fix(inputs: Mapping[str, InputSpec] | None, layout: Layout, labels: bool) -> str:
    names = list(inputs) if inputs is not None else ["<input name>"]
    extra = f" and {LABELS}=<one integer class per sample>" if labels else ""
    along = ("samples along the first axis" if layout == "stacked"
             else "samples along the model input's first (batch) axis")
    return f"save it with numpy.savez(path, **{{name: array}}) for inputs {names}{extra}, {along}"


def read_npz(path: str | Path, *, what: str = "data file",
             inputs: Mapping[str, InputSpec] | None = None, layout: Layout = "stacked",
             labels: bool = False, max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """Every array of the .npz at ``path``, read safely (see the module docstring).

    Args:
        path: the file.
        what: what the file is, for messages (``inputs file``, ``calibration data``...).
        inputs: the model's inputs, named in the fix of a message (optional).
        layout: how samples are laid out, named in the fix.
        labels: whether the fix should mention a ``labels`` array.
        max_bytes: bound on the total uncompressed (and declared) array bytes.

    Raises:
        NpzError: the file is missing, not an .npz archive, too large, holds pickled objects
            or cannot be read.
    """
    p = str(path)
    fix = _fix(inputs, layout, labels)
    try:
        z = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise NpzError(f"{p}: the {what} does not exist; check the path") from None
    except IsADirectoryError:
        raise NpzError(f"{p}: the {what} is a directory; give an .npz file") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise NpzError(f"{p}: the {what} is not an .npz archive; {fix}") from None
    with z:
        infos = [i for i in z.infolist() if not i.is_dir()]
        total = sum(i.file_size for i in infos)
        if total > max_bytes:
            raise NpzError(f"{p}: the {what} expands to {total:,} bytes, more than the "
                           f"{max_bytes:,}-byte limit; give fewer samples")
        declared = 0
        arrays: dict[str, np.ndarray] = {}
        for info in infos:
            key = info.filename.removesuffix(".npy")
            try:
                with z.open(info) as f:
                    shape, dtype = _header(f)
                if dtype.hasobject:
                    raise NpzError(f"{p}: the {what} cannot be read as an .npz of plain arrays "
                                   f"(array {key!r} holds pickled Python objects, which socsim "
                                   f"never loads); {fix}")
                declared += prod(shape) * dtype.itemsize
                if declared > max_bytes:
                    raise NpzError(f"{p}: the {what}: array {key!r} declares shape {shape} of "
                                   f"{dtype}: the arrays would take more than the "
                                   f"{max_bytes:,}-byte limit; give fewer samples")
                with z.open(info) as f:
                    arrays[key] = npy_format.read_array(f, allow_pickle=False)
            except NpzError:
                raise
            except _READ_ERRORS as exc:
                raise NpzError(f"{p}: the {what} cannot be read as an .npz of plain arrays "
                               f"(array {key!r}: {exc.__class__.__name__}: {exc}); {fix}"
                               ) from None
    return arrays


def _header(f) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the ``.npy`` header at the start of ``f``, reading no data."""
    version = npy_format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = npy_format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = npy_format.read_array_header_2_0(f)
    else:  # 3.0: the 2.0 header with a utf-8 dict; numpy has no public reader of its own
        raise ValueError(f".npy format version {version} is not supported; save with numpy.savez")
    return tuple(shape), dtype


def check_arrays(arrays: Mapping[str, np.ndarray], inputs: Mapping[str, InputSpec], *,
                 path: str | Path, what: str = "data file", layout: Layout = "stacked",
                 labels: bool = False) -> list[str]:
    """Problems of ``arrays`` (read from ``path``) as data for a model with ``inputs``.

    Each model input needs an array of its dtype, with at least one sample along the first
    axis and the input's shape after it (``layout``), and finite values; all inputs (and the
    labels) give the same number of samples. With ``labels``, a 1-D integer ``labels`` array
    of non-negative classes is required too.

    Returns:
        One message per problem (``FILE: the <what>: array 'key' ...; fix``), [] when usable.
    """
    p = str(path)
    missing = [n for n in inputs if n not in arrays]
    if missing:
        return [f"{p}: the {what} lacks arrays for model inputs {missing}; it has "
                f"{sorted(arrays)}; {_fix(inputs, layout, labels)}"]
    problems = []
    counts = {}
    for name, spec in inputs.items():
        array = arrays[name]
        if layout == "batch" and spec.shape and spec.shape[0] not in (None, 1):
            problems.append(f"array {name!r}: the model's input has a fixed first dimension "
                            f"{spec.shape[0]}, so its samples cannot run along it; export the "
                            "model with a symbolic (or 1) batch dimension")
            continue
        want = _want(spec.shape, layout)
        if array.ndim != len(want) + 1 or array.shape[0] < 1 or not all(
                w is None or w == a for w, a in zip(want, array.shape[1:])):
            shown = ", ".join("?" if d is None else str(d) for d in want)
            shown = shown + "," if len(want) == 1 else shown
            problems.append(f"array {name!r} has shape {array.shape}; expected (N, {shown}) "
                            "with N >= 1 samples along the first axis")
            continue
        counts[name] = array.shape[0]
        if array.dtype != np.dtype(spec.dtype):
            problems.append(f"array {name!r} is {array.dtype}; the model's input is "
                            f"{spec.dtype}: save array.astype(numpy.{spec.dtype})")
        elif array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            problems.append(f"array {name!r} holds {bad} NaN or infinite value(s); give finite "
                            "inputs")
    if labels:
        y = arrays.get(LABELS)
        if y is None:
            problems.append(f"has no {LABELS!r} array; add {LABELS}=<one integer class per "
                            "sample> to the .npz")
        elif y.ndim != 1 or y.dtype.kind not in "iu" or (y.size and y.min() < 0):
            problems.append(f"array {LABELS!r} is {y.dtype} of shape {y.shape}; give a 1-D "
                            "array of non-negative integer classes, one per sample")
        else:
            counts[LABELS] = len(y)
    if len(set(counts.values())) > 1:
        problems.append(f"arrays give different numbers of samples {counts}; give each the "
                        "same number along the first axis")
    return [f"{p}: the {what}: {m}" if m.startswith("array") else f"{p}: the {what} {m}"
            for m in problems]


def _want(shape: tuple[int | None, ...], layout: Layout) -> tuple[int | None, ...]:
    """The shape after the sample axis: the whole input (stacked) or all but its batch
    dimension (batch; a fixed batch dimension other than 1 cannot be split into samples)."""
    if layout == "stacked" or not shape:
        return tuple(shape)
    return tuple(shape[1:])


def load_npz(path: str | Path, inputs: Mapping[str, InputSpec], *, what: str = "data file",
             layout: Layout = "stacked", labels: bool = False,
             error: type[SocsimError] = NpzError, hint: str | None = None
             ) -> dict[str, np.ndarray]:
    """:func:`read_npz` then :func:`check_arrays`; raises ``error`` with every problem.

    Raises:
        SocsimError: (``error``, default :class:`NpzError`) the file cannot be read or its
            arrays do not fit ``inputs``.
    """
    try:
        arrays = read_npz(path, what=what, inputs=inputs, layout=layout, labels=labels)
    except NpzError as exc:
        raise error(exc.problems, hint=hint) from None
    problems = check_arrays(arrays, inputs, path=path, what=what, layout=layout, labels=labels)
    if problems:
        raise error([Problem(m) for m in problems], hint=hint)
    return arrays
