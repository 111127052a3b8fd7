"""Data movement and allocation: reads in place, DMA copies, layout conversions, memory.

Part of :class:`socsim.sim.engine.Simulation` (a mixin: the engine's state lives there).
docs/model.md, "Data movement" and "Layouts".
"""

from __future__ import annotations

from functools import partial
from math import ceil

from socsim.errors import SimulationError
from socsim.hw.cost import convert_cycles, converter
from socsim.hw.timing import transfer_ns
from socsim.sim.bandwidth import ceil_ns
from socsim.sim.memory import MemoryPool
from socsim.sim.program import Inference, OpSpec
from socsim.sim.stations import UnitState
from socsim.sim.trace import OpRecord, TransferRecord, new_record


class DataMovement:
    """Brings tensors to the memories units read, allocates and frees them."""

    def _readable(self, inf: Inference, t: int, unit: UnitState,
                  need: tuple[str, int] | None) -> str | None:
        """A memory holding ``t`` in format ``need`` (None: any) that ``unit`` may read in
        place, or None (needs a copy or a conversion)."""
        zero_copy = self.settings.zero_copy
        for mem, owner, _, fmt in inf.locs[t]:
            if need is not None and fmt is not None and fmt != need:
                continue
            if mem in unit.unit.memories and (zero_copy or owner is None or owner == unit.name):
                producer = inf.prog.producer[t]
                if producer is not None and producer != unit.name and owner == producer:
                    now = self.env.now
                    self.trace.transfers.append(new_record(TransferRecord, (
                        inf.prog.name, inf.index, inf.prog.tensor_names[t], "zero_copy", mem,
                        mem, inf.prog.nbytes[t], now, now, None, None, 0.0, 0.0, 0.0)))
                return mem
        return None

    def _copy(self, inf: Inference, t: int, unit: UnitState, need: tuple[str, int] | None):
        """Bring ``t`` into a memory ``unit`` reads, in format ``need`` (None: any): a DMA copy
        of a copy in that format, else a layout conversion on the unit. Return the memory."""
        key = (t, unit.name, need)
        pending = inf.pending.get(key)
        if pending is not None:  # another op of this unit asked first
            if pending.callbacks is not None:
                yield pending
            return pending.value
        done = self.env.event()
        inf.pending[key] = done
        if self.settings.zero_copy:  # a copy under way for another unit may land in reach
            # (not this unit's own: a conversion fetching its source would wait for itself)
            for (t2, u2, need2), ev in list(inf.pending.items()):
                if t2 == t and u2 != unit.name and ev.callbacks is not None and (
                        need is None or need2 == need):
                    yield ev
                    mem = self._readable(inf, t, unit, need)
                    if mem is not None:
                        done.succeed(mem)
                        return mem
        if need is not None and all(f is not None and f != need for *_, f in inf.locs[t]):
            converter = self._converter(inf, t, unit)
            dst = yield from self._convert(inf, t, converter, need)
            if converter is unit:
                done.succeed(dst)
                return dst
            # the producer converted into its own memory: read it in place, or copy it
            dst = self._readable(inf, t, unit, need)
            if dst is not None:
                done.succeed(dst)
                return dst
        # waits while every reachable memory of the unit is full
        route = yield from self.memory.fit(partial(self._route_for, inf, t, unit, need))
        src, engine_name, dst, size, fmt, nbytes = route
        start, end, engine, channel = yield from self._dma(engine_name, nbytes, src, dst)
        self.trace.transfers.append(new_record(TransferRecord, (
            inf.prog.name, inf.index, inf.prog.tensor_names[t], "dma", src, dst, nbytes, start,
            end, engine_name, channel, *self._transfer_pj(engine_name, src, dst, nbytes))))
        inf.locs[t].append((dst, unit.name, size, fmt))
        done.succeed(dst)
        return dst

    def _converter(self, inf: Inference, t: int, unit: UnitState) -> UnitState:
        """Who converts ``t`` for ``unit``: the reader if it can, else the writer (as a host
        CPU formats tensors for an accelerator's runtime)."""
        return self.units[converter(self.soc, inf.prog.producer[t], unit.name)]

    def _convert(self, inf: Inference, t: int, unit: UnitState, need: tuple[str, int]):
        """Rewrite 4-D tensor ``t`` in format ``need`` on ``unit``: read a copy it can address
        (in place, or brought by DMA), write a new one in its first memory with room.
        Recorded as a ``LayoutConvert`` op (docs/model.md, "Layouts")."""
        prog = inf.prog
        src = self._readable(inf, t, unit, None)
        if src is None:
            src = yield from self._copy(inf, t, unit, None)
        in_b, out_b = prog.nbytes[t], prog.stored_bytes(t, need)
        dst, size = yield from self.memory.fit(partial(self._alloc_in, unit, out_b))
        u = unit.unit
        cycles = convert_cycles(u, in_b, out_b)
        bw_src, _, _, src_dram = self.mem_params[src]
        bw_dst, _, _, dst_dram = self.mem_params[dst]
        sram_ns = (0.0 if src_dram else in_b / bw_src) + (0.0 if dst_dram else out_b / bw_dst)
        dram_bytes: dict[str, int] = {}
        for mem, nb, dram in ((src, in_b, src_dram), (dst, out_b, dst_dram)):
            if dram and nb:
                dram_bytes[mem] = dram_bytes.get(mem, 0) + nb
        # DRAM bytes share the DRAM's bandwidth like an op's
        engine, start, end, static_pj, freq, volt, vscale2 = yield from self._hold(
            unit, cycles, sram_ns, dram_bytes)
        dtype = prog.dtypes[t]
        dyn_pj = prog.elements[t] * u.power.energy_pj_per_op[dtype] * vscale2
        unit.dyn_pj += dyn_pj
        sram_pj, dram_pj = self._ends_pj(src, in_b, dst, out_b)
        unit.compute_pj += dyn_pj  # the ledger, counted apart from the record below
        unit.ops += 1
        self.pools[src].read_bytes += in_b
        self.pools[dst].written_bytes += out_b
        self.trace.ops.append(new_record(OpRecord, (
            prog.name, inf.index, f"{prog.tensor_names[t]}>{need[0]}/c{need[1]}@{unit.name}",
            "LayoutConvert", dtype, unit.name, engine, start, end, cycles, 0, 0.0, in_b, 0,
            out_b, dyn_pj, sram_pj, dram_pj, static_pj, freq, volt)))
        inf.locs[t].append((dst, unit.name, size, need))
        return dst

    def _alloc_in(self, unit: UnitState, nbytes: int) -> tuple[str, int] | None:
        """(memory, footprint) of ``nbytes`` allocated in the first of ``unit``'s memories
        with room, or None."""
        for pool in unit.pools:
            size = pool.alloc(nbytes)
            if size is not None:
                if pool is not unit.pools[0]:
                    self._count_spill(nbytes)
                return pool.name, size
        return None

    def _dma(self, engine_name: str, nbytes: int, src: str, dst: str):
        """Hold a channel of ``engine_name`` for one transfer of ``nbytes`` from ``src`` to
        ``dst``: its setup, then a stream sharing the interconnect and the DRAMs it touches
        with every other stream. Return (start, end, engine spec, channel)."""
        env = self.env
        station = self.dma[engine_name]
        engine = self.soc.dma[engine_name]
        channel = station.acquire()
        if channel.__class__ is not int:  # every channel busy: wait for one
            channel = yield channel
        start = env.now
        self._busy += 1
        links = tuple(link for link in (self.bus, self.dram_links.get(src),
                                        self.dram_links.get(dst)) if link is not None)
        if links and nbytes:
            setup = ceil(engine.setup_ns)
            if setup:
                yield env.timeout(setup)
            flow = self.bandwidth.start(nbytes, links, engine.rate_gbps)
            yield env.timeout(ceil_ns(flow.alone_ns))
            if self.bandwidth.end_time(flow) is None:
                yield self.bandwidth.wait(flow)
            end_t = flow.origin + ceil_ns(flow.rel_end)  # integer origin: exact at any time
            if end_t > env.now:
                yield env.timeout(end_t - env.now)
        else:
            yield env.timeout(transfer_ns(engine, nbytes))
        self._busy -= 1
        station.release(channel)
        self._dma_transfers[engine_name] += 1  # the ledger, counted apart from the records
        self._dma_bytes[engine_name] += nbytes
        self.pools[src].read_bytes += nbytes
        self.pools[dst].written_bytes += nbytes
        return start, env.now, engine, channel

    def _transfer_pj(self, engine_name: str, src: str, dst: str, nbytes: int
                     ) -> tuple[float, float, float]:
        """(DMA engine pJ, SRAM pJ, DRAM pJ) of copying ``nbytes`` from ``src`` to ``dst``."""
        return (nbytes * self.soc.dma[engine_name].energy_pj_per_byte,
                *self._ends_pj(src, nbytes, dst, nbytes))

    def _ends_pj(self, src: str, read: int, dst: str, written: int) -> tuple[float, float]:
        """(SRAM pJ, DRAM pJ) of reading ``read`` bytes from ``src`` and writing ``written``
        bytes to ``dst``, each charged to its memory's kind."""
        _, rd, _, src_dram = self.mem_params[src]
        _, _, wr, dst_dram = self.mem_params[dst]
        sram = (0.0 if src_dram else read * rd) + (0.0 if dst_dram else written * wr)
        dram = (read * rd if src_dram else 0.0) + (written * wr if dst_dram else 0.0)
        return sram, dram

    def _route_for(self, inf: Inference, t: int, unit: UnitState,
                   need: tuple[str, int] | None):
        """(source memory, DMA engine, destination memory, footprint, format, bytes) for
        copying a copy of ``t`` in format ``need`` (None: any) to ``unit``, allocating the
        destination; None when every reachable memory is full."""
        reachable = False
        prog = inf.prog
        for dst_pool in unit.pools:
            for src, _, _, fmt in inf.locs[t]:
                if need is not None and fmt is not None and fmt != need:
                    continue
                nbytes = prog.nbytes[t] if fmt is None else prog.stored_bytes(t, fmt)
                engine = self.soc.dma_between(src, dst_pool.name)
                if engine is None or dst_pool.footprint(nbytes) > dst_pool.capacity:
                    continue
                reachable = True
                size = dst_pool.alloc(nbytes)
                if size is not None:
                    if dst_pool is not unit.pools[0]:
                        self._count_spill(nbytes)
                    return src, engine, dst_pool.name, size, fmt, nbytes
        if not reachable:
            raise SimulationError(
                f"{prog.name}: cannot bring {prog.tensor_names[t]!r} ({prog.nbytes[t]} bytes) "
                f"to unit {unit.name!r}: no DMA engine reaches a memory of it large enough",
                hint="enlarge a memory or add a DMA engine in the device file")
        return None

    def _alloc_outputs(self, inf: Inference, spec: OpSpec, unit: UnitState
                       ) -> list[str] | None:
        """Allocate every output of ``spec`` in the first of the unit's memories with room.

        Returns:
            The memory of each output, or None (nothing allocated) when one fits nowhere.
        """
        placed: list[tuple[int, MemoryPool, int]] = []
        for t, nbytes in zip(spec.outputs, spec.out_bytes):
            for pool in unit.pools:
                size = pool.alloc(nbytes)
                if size is not None:
                    placed.append((t, pool, size))
                    break
            else:
                if not any(p.footprint(nbytes) <= p.capacity for p in unit.pools):
                    raise SimulationError(
                        f"{inf.prog.name}: output {inf.prog.tensor_names[t]!r} ({nbytes} bytes) "
                        f"is larger than every memory of {unit.name!r} {unit.unit.memories}",
                        hint="enlarge a memory, or place the op on another unit")
                for _, pool, size in placed:
                    pool.free(size)
                return None
        for t, pool, size in placed:
            if pool is not unit.pools[0]:
                self._count_spill(inf.prog.nbytes[t])
            inf.locs[t].append((pool.name, unit.name, size, inf.prog.fmt[t]))
        return [pool.name for _, pool, _ in placed]

    def _count_spill(self, nbytes: int) -> None:
        """A tensor placed past its unit's preferred memory (not a page fault: nothing is
        paged; the unit reads it where it landed)."""
        self.trace.spills += 1
        self.trace.spill_bytes += nbytes

    def _unref(self, inf: Inference, t: int) -> None:
        inf.refs[t] -= 1
        if inf.refs[t] == 0:
            self.memory.free(inf.locs[t])
            inf.locs[t] = []
