"""The battery as the running simulation sees it: a read-only state of charge.

Runtime managers read ``sim.battery.soc_fraction`` (``None`` on ``sim.battery`` when the
scenario has no ``run.battery``). Each reading takes the energy spent since the previous one,
from the engine's live counters (units' dynamic, reconfiguration and leakage energy, memories'
leakage, DMA bytes x pJ/byte) plus the memory traffic of the op and transfer records appended
since, and discharges the battery by it at the average power of that interval
(:func:`socsim.hw.battery.step`). Readings never change the run: no event is scheduled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from socsim.config.battery import BatterySpec
from socsim.hw.battery import step, terminal_v
from socsim.sim.trace import OpBuffer

if TYPE_CHECKING:
    from socsim.sim.engine import Simulation


class BatteryView:
    """Read-only state of charge of ``spec`` while ``sim`` runs.

    Attributes:
        spec: the configured battery.
    """

    __slots__ = ("spec", "_sim", "_t_ns", "_pj", "_soc", "_power_w", "_n_ops", "_n_xfers",
                 "_ops_pj", "_xfers_pj")

    def __init__(self, spec: BatterySpec, sim: Simulation):
        self.spec = spec
        self._sim = sim
        self._t_ns = 0
        self._pj = 0.0
        self._soc = spec.initial_soc
        self._power_w = 0.0
        self._n_ops = 0  # records of trace.ops / trace.transfers already counted
        self._n_xfers = 0
        # the memory traffic of the op and transfer records, each summed in record order
        # (two sums: however the records are grouped into readings, each adds the same
        # numbers in the same order, so a run with the fast path reads the same charge)
        self._ops_pj = 0.0
        self._xfers_pj = 0.0
        sim.trace.flush_hooks.append(self._catch_up)

    def _catch_up(self) -> None:
        """Add the traffic of the records appended since the last call. Also called just
        before and just after a streamed run hands a chunk on (then the lists shrink: what
        is left was counted before)."""
        trace = self._sim.trace
        ops, xfers = trace.ops, trace.transfers
        if len(ops) < self._n_ops or len(xfers) < self._n_xfers:  # a chunk was handed on
            self._n_ops, self._n_xfers = len(ops), len(xfers)
            return
        pj = self._ops_pj
        if isinstance(ops, OpBuffer):  # a streamed run: replayed windows as column blocks
            for sram, dram in ops.fields_from(self._n_ops, ("sram_pj", "dram_pj")):
                pj += sram + dram
        else:
            for rec in ops[self._n_ops:]:
                pj += rec.sram_pj + rec.dram_pj
        self._ops_pj = pj
        pj = self._xfers_pj
        for rec in xfers[self._n_xfers:]:
            pj += rec.sram_pj + rec.dram_pj
        self._xfers_pj = pj
        self._n_ops, self._n_xfers = len(ops), len(xfers)

    def _energy_pj(self, now: int) -> float:
        sim = self._sim
        self._catch_up()
        units = sum(u.compute_pj + u.reconfig_pj + u.static_pj(now) for u in sim.units.values())
        mems = sum(m.leakage_mw for m in sim.soc.memories.values()) * now
        dma = sum(n * sim.soc.dma[e].energy_pj_per_byte for e, n in sim._dma_bytes.items())
        return units + mems + dma + self._ops_pj + self._xfers_pj

    def _advance(self) -> None:
        now = self._sim.env.now
        if now <= self._t_ns:
            return
        pj = self._energy_pj(now)
        seconds = (now - self._t_ns) * 1e-9
        self._power_w = (pj - self._pj) * 1e-12 / seconds
        self._soc = step(self.spec, self._soc, self._power_w, seconds)
        self._t_ns, self._pj = now, pj

    @property
    def soc_fraction(self) -> float:
        """State of charge now, 0 to 1."""
        self._advance()
        return self._soc

    @property
    def terminal_v(self) -> float:
        """Terminal voltage now at the average power since the previous reading, V
        (NaN when the battery cannot deliver that power)."""
        self._advance()
        return float(terminal_v(self.spec, self._soc, self._power_w))
