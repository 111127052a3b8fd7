"""On-chip SRAM and off-chip DRAM (or flash) descriptions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from socsim.config._base import Bandwidth, Channels, Energy, PowerMw, Size, Spec


class _MemoryBase(Spec):
    size_kib: Size = Field(description="Capacity, KiB.")
    bw_gbps: Bandwidth = Field(description="Sustained bandwidth seen by one reader, GB/s.")
    read_pj_per_byte: Energy = Field(description="Energy to read one byte, pJ.")
    write_pj_per_byte: Energy = Field(description="Energy to write one byte, pJ.")
    leakage_mw: PowerMw = Field(0.0, description="Static power while powered, mW.")

    @property
    def size_bytes(self) -> int:
        return int(self.size_kib * 1024)


class Sram(_MemoryBase):
    """On-chip SRAM, allocated in whole pages."""

    kind: Literal["sram"] = "sram"
    page_kib: Size = Field(description="Allocation page size, KiB.")
    banks: Channels = Field(1, description="Independent banks (informative until paging "
                               "models bank conflicts).")

    @model_validator(mode="after")
    def _page_fits(self) -> Sram:
        if self.page_kib > self.size_kib:
            raise ValueError(f"page_kib={self.page_kib:g} is larger than size_kib="
                             f"{self.size_kib:g}: an SRAM must hold at least one page")
        return self

    @property
    def page_bytes(self) -> int:
        return int(self.page_kib * 1024)


class Dram(_MemoryBase):
    """Off-chip DRAM, or any large backing store (flash/MRAM for weights on an MCU)."""

    kind: Literal["dram"] = "dram"

    @property
    def page_bytes(self) -> int:
        return 1


Memory = Annotated[Sram | Dram, Field(discriminator="kind")]
