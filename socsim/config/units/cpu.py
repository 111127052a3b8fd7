"""The config of a CPU cluster (kind ``cpu``); its cost model is :mod:`socsim.hw.cpu`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from socsim.config._base import Cores, Size, VectorBits
from socsim.config.units.base import Efficiency, UnitBase, check_families

__all__ = ["Cpu"]


class Cpu(UnitBase):
    """CPU cluster with a SIMD datapath; MACs per cycle per core = vector bits / dtype bits."""

    kind: Literal["cpu"] = "cpu"
    vector_bits_per_cycle: VectorBits = Field(
        description="SIMD datapath bits retired per cycle per core (e.g. 64 for a dual-beat "
        "128-bit Helium M55 or a 64-bit-wide NEON A53 pipe).")
    threads_per_op: Cores = Field(
        1, description="Cores one op is split across (a multi-threaded kernel); the cluster "
        "runs cores // threads_per_op ops at once.")
    efficiency: Efficiency = Field(
        description="Fraction of peak SIMD throughput reached per op family (must have "
        "'default').")
    cache_kib: Size | None = Field(
        None, description="Last-level cache of the cluster, KiB. A conv or matrix op whose "
        "operands do not fit re-reads its activations once per half-cache block of weights "
        "(docs/model.md, \"CPU caches\"); None: every operand byte moves once.")

    @property
    def engines(self) -> int:
        """Ops the cluster runs at once: ``cores // threads_per_op``."""
        return self.cores // self.threads_per_op

    @field_validator("efficiency")
    @classmethod
    def _families(cls, value: dict[str, float]) -> dict[str, float]:
        return check_families(value)

    @model_validator(mode="after")
    def _threads_fit(self) -> Cpu:
        if self.threads_per_op > self.cores:
            raise ValueError(f"threads_per_op={self.threads_per_op} exceeds cores={self.cores}")
        return self
