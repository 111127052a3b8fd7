"""Shared pydantic base and small value types for every config model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Data types a unit can compute in, by the ONNX element type names socsim uses everywhere.
DType = Literal["int4", "uint4", "int8", "uint8", "int16", "uint16", "int32", "float16", "float32"]

#: Bits per element of each :data:`DType`.
DTYPE_BITS: dict[str, int] = {
    "int4": 4, "uint4": 4, "int8": 8, "uint8": 8, "int16": 16, "uint16": 16,
    "int32": 32, "float16": 16, "float32": 32,
}

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class Spec(BaseModel):
    """Base of every config model: frozen, unknown fields are errors, no coercion of strings."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True)


def bits_of(dtype: str) -> int:
    """Bits per element of ``dtype`` (one of :data:`DType`)."""
    return DTYPE_BITS[dtype]
