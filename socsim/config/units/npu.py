"""The config of an NPU (kind ``npu``): a systolic array (:mod:`socsim.hw.npu`) or an Ethos-U-class
block model (:mod:`socsim.hw.npu_block`), chosen by ``microarchitecture``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from socsim.config._base import ArrayDim, DType, Rate, Size
from socsim.config.ethos_u import EthosU
from socsim.config.units.base import UnitBase

__all__ = ["Npu"]


class Npu(UnitBase):
    """A MAC-array (systolic) NPU: rows x cols processing elements."""

    kind: Literal["npu"] = "npu"
    array_rows: ArrayDim = Field(description="PE array rows.")
    array_cols: ArrayDim = Field(description="PE array columns.")
    dataflow: Literal["output_stationary", "weight_stationary", "input_stationary"] = Field(
        "output_stationary", description="Which operand stays in the PEs.")
    macs_per_pe_per_cycle: dict[DType, Rate] = Field(
        description="MACs one PE retires per cycle per dtype (e.g. int8: 1, int16: 0.5).")
    elementwise_ops_per_cycle: Rate = Field(
        description="Throughput of the elementwise / activation / pooling engine, ops/cycle.")
    ifmap_sram_kib: Size | None = Field(
        None, description="Double-buffered input-feature-map SRAM (SCALE-Sim's IFMAP SRAM), "
        "KiB. None: buffers large enough, no fill/drain prologue is modelled.")
    filter_sram_kib: Size | None = Field(
        None, description="Double-buffered weight SRAM (SCALE-Sim's Filter SRAM), KiB. None: "
        "as for ifmap_sram_kib.")
    ofmap_sram_kib: Size | None = Field(
        None, description="Double-buffered output SRAM (SCALE-Sim's OFMAP SRAM), KiB. None: "
        "as for ifmap_sram_kib.")
    sram_fill_words_per_cycle: Rate = Field(
        10, description="Words per cycle that fill the ifmap / filter SRAMs from the backing "
        "memory before the first fold (SCALE-Sim's estimate-bandwidth default is 10). Only "
        "read when all three SRAM sizes are set.")

    microarchitecture: Literal["systolic", "ethos_u"] = Field(
        "systolic", description="Cost model: a rows x cols systolic array (socsim.hw.npu) or "
        "a block-based Arm Ethos-U-class NPU (socsim.hw.npu_block, parameters in `ethos_u`; "
        "array_* and elementwise_ops_per_cycle are then unused).")
    ethos_u: EthosU | None = Field(
        None, description="Block-model parameters; required with microarchitecture ethos_u.")

    @model_validator(mode="after")
    def _ethos_u_given(self) -> Npu:
        if self.microarchitecture == "ethos_u":
            if self.ethos_u is None:
                raise ValueError("microarchitecture: ethos_u needs an `ethos_u:` block (see "
                                 "devices/ethos_u55_128_high_end_embedded.yaml)")
            unknown = sorted(set(self.ethos_u.ports) - set(self.memories))
            if unknown:
                raise ValueError(f"ethos_u.ports {unknown} are not in this unit's memories "
                                 f"{self.memories}")
        return self

    @model_validator(mode="after")
    def _buffers_all_or_none(self) -> Npu:
        sizes = (self.ifmap_sram_kib, self.filter_sram_kib, self.ofmap_sram_kib)
        if any(s is None for s in sizes) and any(s is not None for s in sizes):
            raise ValueError("set all of ifmap_sram_kib, filter_sram_kib, ofmap_sram_kib or "
                             f"none of them (got {sizes})")
        return self

    @property
    def buffered(self) -> bool:
        """Whether the SRAM sizes are given (and the fill/drain prologue is modelled)."""
        return self.ifmap_sram_kib is not None
