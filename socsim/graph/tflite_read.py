"""Reads a ``.tflite`` flatbuffer into plain data: tensors (shape, type, quantization, constant
data) and operators (builtin name, tensor indices, decoded options) of subgraph 0.

The flatbuffer is decoded with the ``tflite`` package, the Python code generated from TFLite's
own ``schema.fbs``; nothing here knows the binary layout. Options are decoded generically from
the schema's option table of each operator (every scalar field, by its schema name), once.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from socsim.errors import ModelError

#: TFLite ``TensorType`` -> numpy dtype name (the types socsim executes or carries).
_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool",
          7: "int16", 9: "int8", 10: "float64", 15: "uint16", 16: "uint32", 17: "int4"}

#: ``ActivationFunctionType`` names.
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
               5: "SIGN_BIT"}

#: ``Padding`` names.
PADDINGS = {0: "SAME", 1: "VALID"}


@dataclass(frozen=True)
class TflTensor:
    """One tensor of the model.

    Attributes:
        index: its index in the subgraph (what operators refer to).
        name: its name in the file.
        shape: static shape (a dynamic batch ``-1`` is read as 1).
        dtype: numpy dtype name.
        scale: quantization scales (float32, one per channel or one), empty if not quantized.
        zero_point: zero points (int64), as many as scales.
        axis: the quantized dimension of per-channel scales.
        data: the constant's value (weights, biases, shapes), None for activations.
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    axis: int = 0
    data: np.ndarray | None = field(default=None, repr=False)

    @property
    def quantized(self) -> bool:
        return self.scale.size > 0

    @property
    def const(self) -> bool:
        return self.data is not None


@dataclass(frozen=True)
class TflOp:
    """One operator.

    Attributes:
        index: position in the subgraph's execution order.
        opcode: builtin operator name (``CONV_2D``, ``ADD``...; ``CUSTOM:<code>`` for custom ops).
        inputs: tensor indices (-1 for an omitted optional input).
        outputs: tensor indices.
        options: decoded builtin options by snake_case field name (``stride_w``,
            ``fused_activation_function`` as its name, ``padding`` as ``SAME``/``VALID``).
    """

    index: int
    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class TflModel:
    """Subgraph 0 of a .tflite file.

    Attributes:
        name: the file stem.
        path: the file.
        tensors: every tensor, by index.
        ops: operators in execution order.
        inputs: graph input tensor indices.
        outputs: graph output tensor indices.
    """

    name: str
    path: str
    tensors: tuple[TflTensor, ...]
    ops: tuple[TflOp, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _options(op, builtin_options_names: dict[int, str]) -> dict[str, object]:
    import tflite

    kind = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    if not kind or table is None:
        return {}
    cls = getattr(tflite, builtin_options_names.get(kind, ""), None)
    if cls is None:
        return {}
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    out: dict[str, object] = {}
    for attr, fn in inspect.getmembers(cls, inspect.isfunction):
        if (attr.startswith(("GetRootAs", "Init", "_")) or attr.endswith(
                ("AsNumpy", "Length", "IsNone", "BufferHasIdentifier"))
                or len(inspect.signature(fn).parameters) != 1):
            continue
        key = _snake(attr)
        value = getattr(opts, attr)()
        if isinstance(value, bytes):
            value = value.decode()
        out[key] = value
    for key, names in (("fused_activation_function", ACTIVATIONS), ("padding", PADDINGS)):
        if key in out:
            out[key] = names.get(int(out[key]), str(out[key]))
    return out


def _tensor(model, sub, i: int, where: str) -> TflTensor:
    t = sub.Tensors(i)
    name = t.Name().decode() if t.Name() else f"tensor_{i}"
    dtype = _TYPES.get(t.Type())
    if dtype is None:
        raise ModelError(f"{where}: tensor {name!r} has TFLite type {t.Type()}, which socsim "
                         f"does not read; supported types: {', '.join(sorted(_TYPES.values()))}")
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    if any(d < 0 for d in shape):
        shape = tuple(1 if d < 0 else d for d in shape)
    q = t.Quantization()
    scale = np.zeros(0, np.float32)
    zp = np.zeros(0, np.int64)
    axis = 0
    if q is not None and q.ScaleLength():
        scale = q.ScaleAsNumpy().astype(np.float32)
        zp = (q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength()
              else np.zeros(scale.shape, np.int64))
        axis = int(q.QuantizedDimension())
    data = None
    buf = model.Buffers(t.Buffer()) if t.Buffer() > 0 else None
    if buf is not None and buf.DataLength():
        raw = buf.DataAsNumpy().tobytes()
        if dtype == "int4":
            raise ModelError(f"{where}: tensor {name!r} holds packed int4 constants, which "
                             "socsim does not unpack; requantize the weights to int8")
        data = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
    return TflTensor(i, name, shape, dtype, scale, zp, axis, data)


def read_tflite(path: str | Path) -> TflModel:
    """Reads subgraph 0 of a ``.tflite`` file.

    Raises:
        ModelError: the file cannot be read, is not a TFLite flatbuffer, has no subgraph, or
            holds a tensor type socsim does not read.
    """
    import tflite

    path = Path(path)
    try:
        buf = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory; give a .tflite file") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)",
                         hint="give a model written by the TFLite converter")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        if model.SubgraphsLength() < 1:
            raise ModelError(f"{path}: the model has no subgraph")
        sub = model.Subgraphs(0)
        names = {v: k for k, v in vars(tflite.BuiltinOptions).items()
                 if isinstance(v, int) and not k.startswith("_")}
        tensors = tuple(_tensor(model, sub, i, str(path)) for i in range(sub.TensorsLength()))
        ops = []
        for k in range(sub.OperatorsLength()):
            op = sub.Operators(k)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
            opcode = tflite.opcode2name(builtin)
            if opcode == "CUSTOM":
                opcode = f"CUSTOM:{(code.CustomCode() or b'').decode()}"
            ops.append(TflOp(k, opcode, tuple(int(i) for i in op.InputsAsNumpy()),
                             tuple(int(i) for i in op.OutputsAsNumpy()),
                             _options(op, names)))
        inputs = tuple(int(i) for i in sub.InputsAsNumpy())
        outputs = tuple(int(i) for i in sub.OutputsAsNumpy())
    except ModelError:
        raise
    except Exception as exc:  # a truncated or corrupt flatbuffer raises anything
        raise ModelError(f"{path}: not a readable TFLite model ({type(exc).__name__}: {exc})",
                         hint="re-export it with the TFLite converter") from None
    return TflModel(path.stem, str(path), tensors, tuple(ops), inputs, outputs)


def tensor_names(model: TflModel) -> list[str]:
    """Unique names of the model's tensors by index: a repeated name gets ``#<index>``."""
    seen: set[str] = set()
    out = []
    for t in model.tensors:
        n = t.name if t.name not in seen else f"{t.name}#{t.index}"
        seen.add(n)
        out.append(n)
    return out
