"""An op's execution: its engine, its roofline time and its record.

Part of :class:`socsim.sim.engine.Simulation` (a mixin: the engine's state lives there).
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from itertools import repeat
from math import ceil

from socsim.hw.cost import memory_time
from socsim.hw.timing import compute_ns
from socsim.sim.bandwidth import ceil_ns
from socsim.sim.memory import MemoryPool
from socsim.sim.program import Inference, OpSpec
from socsim.sim.stations import UnitState
from socsim.sim.trace import OpRecord, new_record


class OpExecution:
    """Runs one op of an inference: gets its inputs and weights, allocates its outputs, holds
    an engine for its roofline time, records it and frees what no one reads any more."""

    def _op(self, inf: Inference, spec: OpSpec):
        """One op of ``inf``, started once its inputs are ready."""
        env = self.env
        unit = spec.unit
        in_mems = []
        for t, need in zip(spec.inputs, spec.need):
            mem = self._readable(inf, t, unit, need)
            if mem is None:
                mem = yield from self._copy(inf, t, unit, need)
            in_mems.append(mem)
        cache = spec.wcache
        if cache is not None:
            if cache.hit(spec.wkey):
                cache.use(spec.wkey)
            elif not (yield from self._page_in(inf, spec)):
                cache = None  # pinned pages leave no room: stream from weights_in
        if cache is not None:
            sram_pj, dram_pj = spec.wc_cost
            for j in inf.prog.prefetch[spec.wkey[1]]:  # double buffering: the next ops' weights
                nxt = inf.prog.specs[j]
                if not nxt.wcache.hit(nxt.wkey) and nxt.wkey not in nxt.wcache.pending:
                    env.process(self._prefetch(inf, nxt))
        else:
            sram_pj, dram_pj = spec.w_cost
        # waits while no memory of the unit has room (fit() inlined: this runs per op)
        out_mems = self._alloc_outputs(inf, spec, unit)
        if out_mems is None:
            out_mems = yield self.memory.enqueue(partial(self._alloc_outputs, inf, spec, unit))
        # SRAM traffic takes bytes / bw; DRAM traffic is a flow sharing the DRAM's bandwidth
        w_pool = spec.wpool if cache is None else cache.pool
        key = (w_pool, *in_mems, *out_mems)
        traffic = spec.traffic_cost.get(key)
        if traffic is None:
            traffic = spec.traffic_cost[key] = self._traffic(spec, in_mems, out_mems, w_pool)
        traffic[5] += 1  # the ledger's count of ops that moved these bytes
        mem_ns, t_sram, t_dram, dram_bytes, _, _ = traffic
        sram_pj += t_sram
        dram_pj += t_dram
        engine, start, end, static_pj, freq, volt, vscale2 = yield from self._hold(
            unit, spec.cycles, mem_ns, dram_bytes,
            None if spec.kernel is None else self._configure(inf, spec), inf.key,
            unit.name in self.parallel_ports)
        dyn_pj = spec.dyn_nom_pj * vscale2
        unit.dyn_pj += dyn_pj
        unit.compute_pj += dyn_pj  # the ledger, counted apart from the record below
        if spec.kernel is not None:
            self.reconfigurables[unit.name].release(spec.kernel)
            self.config_areas[unit.name].released()
        if cache is not None:
            cache.done(spec.wkey)
            self.memory.released()  # its pages are evictable again
        trace = self.trace
        records = trace.ops
        records.append(new_record(OpRecord, (
            inf.prog.name, inf.index, spec.name, spec.op_type, spec.dtype, unit.name, engine,
            start, end, spec.cycles, spec.macs, spec.util, spec.in_total,
            spec.weight_bytes, spec.out_total, dyn_pj, sram_pj, dram_pj, static_pj, freq, volt)))
        if len(records) >= trace.flush_at:  # a streamed run: hand a chunk on
            trace.flush_ops()
        for t in spec.inputs:
            self._unref(inf, t)
        for t in spec.outputs:
            self._produced(inf, t)

    def _hold(self, unit: UnitState, cycles: float, mem_ns: float,
              dram_bytes: dict[str, int] | None, prepare: Generator | None = None,
              priority: float = 0, parallel_ports: bool = False):
        """The one "hold a unit for this long" path of ops and layout conversions.

        Take one of ``unit``'s engines (waiting for one), run ``prepare`` holding it (making
        the op's configuration resident on a reconfigurable unit; None: nothing), then keep it
        for the roofline time ``⌈max(compute, SRAM time + DRAM streams)⌉`` of ``cycles`` at
        the operating point of the start and of the memory traffic (``mem_ns`` of SRAM time, ``dram_bytes`` streamed
        as flows that share each DRAM's bandwidth; None: none); release it and charge the op
        its share of the unit's leakage meanwhile. With ``parallel_ports`` (a unit whose
        memories sit on separate ports that run at once, an Ethos-U's AXI masters; its cycles
        already include its own port model) the SRAM time and the DRAM streams overlap:
        ``max(compute, SRAM time, DRAM streams)``.

        ``priority`` is the op's key when the unit's queue is a priority or EDF queue (see
        :func:`socsim.sim.program.queue_key`).

        Returns:
            ``(engine, start, end, static_pj, freq_mhz, voltage_v, vscale2)``: the engine
            (track) held from ``start`` to ``end`` (ns), the leakage charged, and the
            operating point at the start (``vscale2`` = (V / V_nominal)^2, the factor on
            dynamic energy). A plain tuple, unpacked by name at once: this runs per op.
        """
        env = self.env
        engine = unit.acquire(priority)  # the key of a priority or EDF queue; FIFO ignores it
        if engine.__class__ is not int:
            engine = yield engine
        if prepare is not None:
            yield from prepare
        start = env.now
        unit.begin(start)
        self._busy += 1
        static0 = unit.static_pj(start)
        freq, volt, vscale2 = unit.freq_mhz, unit.voltage_v, unit.vscale2
        c_ns = compute_ns(cycles, freq)
        # serial ports: the SRAM time, then the DRAM streams; parallel: side by side
        lead, floor = (0.0, mem_ns) if parallel_ports else (mem_ns, 0.0)
        if not dram_bytes:
            duration = ceil(max(c_ns, mem_ns))
            yield env.timeout(duration)
        else:  # inline, not a sub-generator: every op resumes through here
            # the work streams its DRAM bytes evenly over its compute time, at most at the
            # DRAM's bandwidth: cap = bytes / max(compute - SRAM time, bytes / bw)
            links = self.dram_links
            fabric = self.bandwidth
            flows = [fabric.start(nb, (links[m],),
                                  nb / max(c_ns - lead, nb / links[m].capacity))
                     for m, nb in dram_bytes.items()]
            # unless already slowed by sharing, sleep for the work alone (sharing only slows
            # its flows: a lower bound), then settle
            if all(f.rate >= f.cap for f in flows):
                yield env.timeout(ceil_ns(max(c_ns, floor, lead + max(
                    (f.alone_ns for f in flows), default=0.0))))
            # the flows' ends relative to the start (their origin is an integer ns: exact
            # arithmetic whatever the absolute time, see socsim.sim.bandwidth)
            flow_end = 0.0
            for f in flows:
                if fabric.end_time(f) is None:
                    yield fabric.wait(f)
                end_t = (f.origin - start) + f.rel_end
                if end_t > flow_end:
                    flow_end = end_t
            duration = ceil_ns(max(c_ns, floor, lead + flow_end))
            if start + duration > env.now:
                yield env.timeout(start + duration - env.now)
        end = start + duration
        unit.end(end)
        self._busy -= 1
        unit.release(engine)
        static_pj = (unit.static_pj(end) - static0) / unit.engines
        unit.op_static_pj += static_pj
        return engine, start, end, static_pj, freq, volt, vscale2

    def _traffic(self, spec: OpSpec, in_mems: list[str], out_mems: list[str],
                 w_pool: MemoryPool) -> list:
        """[SRAM ns, operand SRAM pJ, operand DRAM pJ, DRAM bytes per DRAM or None, bytes per
        memory as (pool, read, written), 0] of an op reading its weights from ``w_pool``, its
        inputs from ``in_mems`` and writing its outputs to ``out_mems``. The last item counts
        the ops that moved these bytes (the ledger's, see :meth:`_finish`)."""
        moved: dict[str, list[int]] = {}
        operands = [(w_pool.name, spec.weight_bytes)]
        if spec.weight_bytes:
            moved[w_pool.name] = [spec.weight_bytes, 0]
        sram_pj, dram_pj = 0.0, 0.0
        if spec.traffic:
            params = self.mem_params
            for nb, m, write in (*zip(spec.in_bytes, in_mems, repeat(False)),
                                 *zip(spec.out_bytes, out_mems, repeat(True))):
                _, rd, wr, dram = params[m]
                moved.setdefault(m, [0, 0])[write] += nb
                operands.append((m, nb))
                pj = nb * (wr if write else rd)
                if dram:
                    dram_pj += pj
                else:
                    sram_pj += pj
        # the time: the one formula of socsim.hw.cost
        mem_ns, dram_bytes = memory_time(self.soc.memories, operands)
        return [mem_ns, sram_pj, dram_pj, {m: nb for m, nb in dram_bytes.items() if nb} or None,
                tuple((self.pools[m], r, w) for m, (r, w) in moved.items()), 0]

