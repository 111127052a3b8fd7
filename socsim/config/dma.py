"""DMA engines: who they connect, how fast, at what cost."""

from __future__ import annotations

from pydantic import Field, field_validator

from socsim.config._base import NonNegativeFloat, PositiveFloat, PositiveInt, Spec


class DmaEngine(Spec):
    """A DMA engine with independent channels, each moving one transfer at a time.

    A transfer of ``b`` bytes occupies one channel for ``setup_ns + b / bw_gbps`` ns.
    """

    channels: PositiveInt = Field(description="Transfers the engine runs at once.")
    bw_gbps: PositiveFloat = Field(description="Bandwidth of one channel, GB/s.")
    setup_ns: NonNegativeFloat = Field(description="Fixed cost per transfer (descriptor "
                                       "fetch, arbitration), ns.")
    energy_pj_per_byte: NonNegativeFloat = Field(description="Engine energy per byte moved, pJ "
                                                 "(memory read/write energy is added on top).")
    connects: list[str] = Field(min_length=2, description="Memories the engine can copy "
                                "between (any to any).")

    @field_validator("connects")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"lists a memory twice: {value}")
        return value
