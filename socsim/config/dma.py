"""DMA engines: who they connect, how fast, at what cost."""

from __future__ import annotations

from pydantic import Field, field_validator

from socsim.config._base import Bandwidth, Bytes, Channels, Energy, Spec, TimeNs


class DmaEngine(Spec):
    """A DMA engine with independent channels, each moving one transfer at a time.

    A transfer of ``b`` bytes occupies one channel for ``setup_ns`` and then streams at up to
    :attr:`rate_gbps` (``bw_gbps`` derated by the gap between bursts), less when it shares the
    interconnect or a DRAM with other streams: alone, ``setup_ns + b / rate_gbps`` ns.
    """

    channels: Channels = Field(description="Transfers the engine runs at once.")
    bw_gbps: Bandwidth = Field(description="Bandwidth of one channel, GB/s.")
    setup_ns: TimeNs = Field(description="Fixed cost per transfer (descriptor "
                                       "fetch, arbitration), ns.")
    energy_pj_per_byte: Energy = Field(description="Engine energy per byte moved, pJ "
                                                 "(memory read/write energy is added on top).")
    burst_bytes: Bytes | None = Field(
        None, description="Bytes per burst; None: one unbroken stream.")
    burst_gap_ns: TimeNs = Field(
        0.0, description="Dead time between bursts (re-arbitration, address phase), ns.")
    connects: list[str] = Field(min_length=2, description="Memories the engine can copy "
                                "between (any to any).")

    @field_validator("connects")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"lists a memory twice: {value}")
        return value

    @property
    def rate_gbps(self) -> float:
        """Streaming rate of one channel after burst gaps:
        ``burst / (burst / bw + gap)`` (= ``bw_gbps`` without bursts)."""
        if self.burst_bytes is None or not self.burst_gap_ns:
            return self.bw_gbps
        return self.burst_bytes / (self.burst_bytes / self.bw_gbps + self.burst_gap_ns)


class Interconnect(Spec):
    """The shared bus / NoC every DMA transfer crosses; concurrent transfers divide it."""

    bw_gbps: Bandwidth = Field(description="Aggregate bandwidth, GB/s.")
    description: str = Field("", description="What real fabric this models, and its source.")
