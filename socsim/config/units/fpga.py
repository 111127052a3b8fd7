"""The config of an FPGA (kind ``fpga``): a fixed datapath, or a kernel library sharing the
fabric (:class:`FpgaFabric`); its cost model is :mod:`socsim.hw.fpga`, its kernel residency
:mod:`socsim.hw.fpga_residency`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from socsim.config._base import (
    Bytes,
    DType,
    Energy,
    FpgaBw,
    FpgaCount,
    FpgaCycles,
    FpgaDepth,
    FpgaReal,
    Rate,
    Spec,
    TimeNs,
)
from socsim.config.units.base import UnitBase

__all__ = ["FPGA_RESOURCES", "Fpga", "FpgaFabric", "FpgaKernel"]


class FpgaFabric(Spec):
    """The programmable logic a kernel library shares, and how it is reconfigured.

    A kernel that is not resident is loaded as a partial bitstream through the configuration
    port: ``time = setup_ns + bytes / reconfig_bw_mb_per_s``, ``energy = bytes ×
    reconfig_pj_per_byte`` (docs/model.md, "FPGA fabric").
    """

    dsp_slices: FpgaCount = Field(description="DSP slices of the fabric (DSP48E2 on "
                                    "UltraScale+).")
    luts: FpgaCount = Field(description="6-input LUTs of the fabric.")
    bram36: FpgaReal = Field(description="36 Kb block RAMs (a RAMB18 counts 0.5).")
    uram: FpgaCount = Field(0, description="288 Kb UltraRAM blocks (0 if the part has "
                                 "none).")
    reconfig_bw_mb_per_s: FpgaBw = Field(
        description="Sustained bandwidth of the configuration port (PCAP / ICAP), MB/s "
        "(10^6 bytes per second).")
    reconfig_setup_ns: TimeNs = Field(
        0, description="Fixed time per reconfiguration (driver, decoupling, start-up), ns.")
    reconfig_pj_per_byte: Energy = Field(
        description="Energy per partial-bitstream byte: fetching it and writing the "
        "configuration memory, pJ.")
    full_bitstream_bytes: Bytes | None = Field(
        None, description="Bytes of a full-device bitstream; a kernel without "
        "`bitstream_bytes` gets this times its largest resource share. Required if a kernel "
        "omits `bitstream_bytes`.")


class FpgaKernel(Spec):
    """One accelerator of an FPGA kernel library: what it runs, what it occupies, how fast.

    Datapath fields left out take the unit's value of the same name.
    """

    ops: list[str] = Field(min_length=1, description="ONNX op types the kernel implements "
                           "(a subset of the unit's `ops`).")
    dtypes: list[DType] | None = Field(
        None, description="Compute dtypes it implements (a subset of the unit's `dtypes`); "
        "None: all of them.")
    dsp_slices: FpgaCount = Field(description="DSP slices the kernel occupies.")
    luts: FpgaCount = Field(description="LUTs the kernel occupies.")
    bram36: FpgaReal = Field(0, description="36 Kb block RAMs it occupies.")
    uram: FpgaCount = Field(0, description="UltraRAM blocks it occupies.")
    parallelism: FpgaCycles | None = Field(None, description="MACs started per initiation.")
    initiation_interval: FpgaCycles | None = Field(None, description="Cycles between "
                                                    "initiations (II).")
    pipeline_depth: FpgaDepth | None = Field(None, description="Pipeline fill latency, "
                                                    "cycles.")
    elementwise_ops_per_cycle: Rate | None = Field(
        None, description="Throughput of its elementwise datapath, ops/cycle.")
    bitstream_bytes: Bytes | None = Field(
        None, description="Partial bitstream size; None: the fabric's full_bitstream_bytes × "
        "the kernel's largest share of any resource.")
    preloaded: bool = Field(False, description="Resident at t = 0 (in the boot bitstream).")


#: Resource fields shared by :class:`FpgaFabric` and :class:`FpgaKernel`, in report order.
FPGA_RESOURCES: tuple[str, ...] = ("dsp_slices", "luts", "bram36", "uram")
_DATAPATH = ("parallelism", "initiation_interval", "pipeline_depth", "elementwise_ops_per_cycle")


class Fpga(UnitBase):
    """A programmable-logic accelerator.

    Without ``kernels``: one pipelined MAC datapath of fixed parallelism, always resident.
    With ``kernels`` (and ``fabric``): a library of accelerators sharing the fabric; an op runs
    on the first kernel (declaration order) implementing its op type and dtype, which must be
    resident (see :class:`socsim.hw.fpga_residency.FpgaResidency`). The unit-level datapath fields are then
    the defaults of each kernel's.
    """

    kind: Literal["fpga"] = "fpga"
    parallelism: FpgaCycles | None = Field(
        None, description="MACs the datapath starts per initiation (required without "
        "`kernels`).")
    initiation_interval: FpgaCycles = Field(1, description="Cycles between initiations (II).")
    pipeline_depth: FpgaDepth | None = Field(
        None, description="Fill latency of the pipeline, cycles (required without `kernels`).")
    elementwise_ops_per_cycle: Rate | None = Field(
        None, description="Throughput of the elementwise datapath, ops/cycle (required "
        "without `kernels`).")
    fabric: FpgaFabric | None = Field(None, description="Fabric resources and reconfiguration "
                                      "model (required with `kernels`).")
    kernels: dict[str, FpgaKernel] | None = Field(
        None, description="Kernel library by name; None: the single fixed datapath above.")

    @field_validator("kernels")
    @classmethod
    def _kernels_fit(cls, kernels: dict[str, FpgaKernel] | None,
                     info: ValidationInfo) -> dict[str, FpgaKernel] | None:
        if kernels is None:
            return kernels
        if not kernels:
            raise ValueError("is empty; list at least one kernel or drop `kernels`")
        problems = _kernel_problems(kernels, info.data)
        if problems:
            raise ValueError("; ".join(problems))
        return kernels

    @model_validator(mode="after")
    def _datapath_or_kernels(self) -> Fpga:
        if self.kernels is None:
            missing = [f for f in _DATAPATH if getattr(self, f) is None]
            if missing:
                raise ValueError(f"{missing} required: a unit without `kernels` is one fixed "
                                 "datapath (or add `fabric` and `kernels`)")
            if self.fabric is not None:
                raise ValueError("`fabric` without `kernels` has no effect; add `kernels` or "
                                 "drop `fabric`")
            return self
        if self.fabric is None:
            raise ValueError("`kernels` need `fabric` (total resources and reconfiguration "
                             "model)")
        covered = {op for k in self.kernels.values() for op in k.ops}
        uncovered = [op for op in self.ops if op not in covered]
        if uncovered:
            raise ValueError(f"ops {uncovered} have no kernel; add them to a kernel's ops or "
                             "drop them from the unit's ops")
        return self

    def supports(self, op_type: str, dtype: str) -> bool:
        """Whether this unit executes ``op_type`` in ``dtype`` (with kernels: one implements
        it)."""
        if not super().supports(op_type, dtype):
            return False
        return self.kernels is None or self.kernel_for(op_type, dtype) is not None

    def kernel_for(self, op_type: str, dtype: str) -> str | None:
        """Name of the kernel that runs ``op_type`` in ``dtype``: the first in declaration
        order implementing it; None without kernels or if none does."""
        for name, k in (self.kernels or {}).items():
            if op_type in k.ops and dtype in (k.dtypes or self.dtypes):
                return name
        return None

    def datapath(self, kernel: str | None = None) -> tuple[int, int, float, float]:
        """``(parallelism, initiation_interval, pipeline_depth, elementwise_ops_per_cycle)`` of
        ``kernel`` (its own values, else the unit's), or of the fixed datapath (None).

        Raises:
            KeyError: ``kernel`` is not in the library (the message lists it).
        """
        k = None
        if kernel is not None:
            if not self.kernels or kernel not in self.kernels:
                raise KeyError(f"no kernel {kernel!r}; this unit has "
                               f"{sorted(self.kernels or {})}")
            k = self.kernels[kernel]
        values = [getattr(k, f) if k is not None and getattr(k, f) is not None
                  else getattr(self, f) for f in _DATAPATH]
        return tuple(values)  # type: ignore[return-value]


def _kernel_problems(kernels: dict[str, FpgaKernel], unit: dict[str, Any]) -> list[str]:
    """Problems of a kernel library against the unit fields validated before it."""
    problems: list[str] = []
    ops, dtypes, fabric = unit.get("ops"), unit.get("dtypes"), unit.get("fabric")
    for name, k in kernels.items():
        where = f"kernels.{name}"
        extra = [op for op in k.ops if ops is not None and op not in ops]
        if extra:
            problems.append(f"{where}.ops: {extra} not in the unit's ops {ops}")
        bad = [d for d in (k.dtypes or []) if dtypes is not None and d not in dtypes]
        if bad:
            problems.append(f"{where}.dtypes: {bad} not in the unit's dtypes {dtypes}")
        for f in _DATAPATH:
            if getattr(k, f) is None and unit.get(f) is None:
                problems.append(f"{where}.{f} is missing and the unit sets no default; set it "
                                "on the kernel or the unit")
        if fabric is None:
            continue
        for res in FPGA_RESOURCES:
            need, have = getattr(k, res), getattr(fabric, res)
            if need > have:
                problems.append(f"{where}.{res}={need:g} exceeds the whole fabric "
                                f"(fabric.{res}={have:g}): the kernel can never be loaded")
        if k.bitstream_bytes is None and fabric.full_bitstream_bytes is None:
            problems.append(f"{where}.bitstream_bytes is missing and "
                            "fabric.full_bitstream_bytes is not set to derive it")
    preloaded = [n for n, k in kernels.items() if k.preloaded]
    for res in FPGA_RESOURCES if fabric is not None else ():
        total = sum(getattr(kernels[n], res) for n in preloaded)
        if total > getattr(fabric, res):
            problems.append(f"preloaded kernels {preloaded} need {res}={total:g} together, more "
                            f"than fabric.{res}={getattr(fabric, res):g}")
    return problems
