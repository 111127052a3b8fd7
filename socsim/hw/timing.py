"""Time and energy formulas shared by the simulator and the policies' estimates.

- compute time: ``ns = cycles / f_MHz * 1e3``;
- memory time: ``ns = bytes / bw_GBps`` (1 GB/s moves one byte per ns);
- an op takes ``max(compute, memory)`` (a roofline: the unit overlaps its own loads);
- a DMA transfer takes ``setup_ns + bytes / rate_gbps`` on one channel when alone (``rate_gbps``:
  the channel's burst-derated rate; the simulator divides shared links among streams);
- dynamic energy scales with ``(V / V_nominal)^2``, leakage power with ``V / V_nominal``.
"""

from __future__ import annotations

from math import ceil

from socsim.config.dma import DmaEngine
from socsim.config.power import OperatingPoint
from socsim.config.units import Unit
from socsim.graph.ir import Op


def compute_ns(cycles: float, freq_mhz: float) -> float:
    """Nanoseconds ``cycles`` take at ``freq_mhz``."""
    return cycles * 1e3 / freq_mhz


def transfer_ns(engine: DmaEngine, nbytes: int) -> int:
    """Whole nanoseconds one DMA transfer of ``nbytes`` occupies a channel when alone."""
    return ceil(engine.setup_ns) + ceil(nbytes / engine.rate_gbps)


def dynamic_pj(unit: Unit, op: Op, point: OperatingPoint, mac_dtype: str | None = None
               ) -> float:
    """Dynamic compute energy of ``op`` on ``unit`` at ``point``, pJ (MACs at
    ``energy_pj_per_mac[mac_dtype]``, default the op's dtype; see
    :func:`socsim.hw.base.mac_dtype`)."""
    p = unit.power
    scale = (point.voltage_v / unit.dvfs.nominal.voltage_v) ** 2
    energy = 0.0
    if op.macs:
        energy += op.macs * p.energy_pj_per_mac[mac_dtype or op.dtype]
    if op.elem_ops:
        energy += op.elem_ops * p.energy_pj_per_op[op.dtype]
    return energy * scale


def leakage_mw(unit: Unit, point: OperatingPoint) -> float:
    """Static power of ``unit`` at ``point``, mW (linear in V / V_nominal)."""
    return unit.power.leakage_mw * point.voltage_v / unit.dvfs.nominal.voltage_v
