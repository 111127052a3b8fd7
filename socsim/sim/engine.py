"""The SimPy engine: units, DMA engines and memories as resources; ops as processes.

Per inference, every op is a process that waits for its inputs, brings each one into a memory
its unit can read (in place when it already can: a zero-copy hand-off; else a DMA transfer
that holds an engine channel for ``setup + bytes / bw``), allocates its outputs in the first
of its unit's memories with room, holds one of the unit's engines for the roofline time of
:mod:`socsim.hw.estimate`, records its energy, and frees every tensor no one reads any more.

Only this package knows SimPy. Time is integer nanoseconds.
"""

from __future__ import annotations

import gc
from itertools import repeat
from math import ceil

import numpy as np
import simpy

from socsim.config.scenario import RunSettings
from socsim.config.soc import SoC
from socsim.errors import PlacementError, SimulationError
from socsim.hw.dvfs import initial_mhz, next_mhz
from socsim.hw.estimate import input_memory
from socsim.hw.fabric import Fabric as KernelFabric
from socsim.hw.thermal import rc_step
from socsim.hw.timing import transfer_ns
from socsim.sim.bandwidth import Fabric, Link
from socsim.sim.memory import MemoryPool
from socsim.sim.paging import PageCache, SegmentKey
from socsim.sim.program import Inference, Job, OpSpec, Program
from socsim.sim.stations import Station, UnitState
from socsim.sim.trace import Trace

__all__ = ["Job", "Simulation"]


class Simulation:
    """One run of a set of jobs on a SoC.

    Args:
        soc: the device.
        jobs: the workloads with their graphs and plans.
        settings: the scenario's run settings (seed, operating points, zero-copy switch).
    """

    def __init__(self, soc: SoC, jobs: list[Job], settings: RunSettings):
        self.soc = soc
        self.settings = settings
        self.env = simpy.Environment()
        self.trace = Trace()
        self.pools = {name: MemoryPool(name, m.size_bytes, m.page_bytes)
                      for name, m in soc.memories.items()}
        self.ambient_c = soc.ambient_c if settings.ambient_c is None else settings.ambient_c
        self.units: dict[str, UnitState] = {}
        for name, unit in soc.units.items():
            freq = initial_mhz(settings.governors.get(name), unit.dvfs,
                               settings.operating_points.get(name))
            self.units[name] = UnitState(self.env, name, unit, freq, self.pools, self.ambient_c)
        self.dma = {name: Station(self.env, name, e.channels) for name, e in soc.dma.items()}
        # the ledger's DMA counters (transfers, bytes), kept apart from the trace
        self._dma_transfers = dict.fromkeys(soc.dma, 0)
        self._dma_bytes = dict.fromkeys(soc.dma, 0)
        # FPGA kernel libraries: what is configured, when each kernel is usable, and when the
        # unit's configuration port (one per fabric: reconfigurations serialise) is free
        self.kernel_fabrics = {name: KernelFabric(unit) for name, unit in soc.units.items()
                               if unit.kind == "fpga" and unit.kernels is not None}
        self._kernel_ready: dict[str, dict[str, int]] = {n: {} for n in self.kernel_fabrics}
        self._config_port: dict[str, int] = dict.fromkeys(self.kernel_fabrics, 0)
        self._kernel_released = self.env.event()
        for unit in soc.units.values():
            pool = self.pools.get(unit.weights_cache) if unit.weights_cache else None
            if pool is not None and pool.cache is None:
                pool.cache = PageCache(pool, self._evicted)
        #: per memory: (bw_gbps, read pJ/B, write pJ/B, is DRAM-kind)
        self.mem_params = {n: (m.bw_gbps, m.read_pj_per_byte, m.write_pj_per_byte,
                               m.kind == "dram") for n, m in soc.memories.items()}
        # shared bandwidth: each DRAM, and the interconnect DMA transfers cross
        self.fabric = Fabric(self.env)
        self.dram_links = {n: Link(n, m.bw_gbps) for n, m in soc.memories.items()
                           if m.kind == "dram"}
        self.bus = (Link("interconnect", soc.interconnect.bw_gbps)
                    if soc.interconnect is not None else None)
        self.input_memory = input_memory(soc)
        self.programs = [Program(i, job, soc, self.units) for i, job in enumerate(jobs)]
        for job in jobs:
            self._check_routes(job)
            self.trace.notes += list(job.plan.notes)
        self._freed = self.env.event()  # succeeds (and is renewed) whenever memory is freed
        self._started = 0
        self._arrivals_open = 0  # arrival processes that may still start inferences
        self._timed_arrivals = 0  # open-loop arrival processes (they wake on their own)
        self._busy = 0  # ops and transfers executing right now
        self._done = False  # every arrival started and every inference finished

    def _check_routes(self, job: Job) -> None:
        """Every hand-off the plan implies must be addressable or have a DMA route."""
        producer_mem = {t: self.input_memory for t in job.graph.inputs}
        problems = []
        for op, uname in zip(job.graph.ops, job.plan.units):
            unit = self.soc.units[uname]
            for t in op.inputs:
                src = producer_mem[t]
                if src in unit.memories:
                    continue
                if not any(self.soc.dma_between(src, dst) for dst in unit.memories):
                    problems.append(f"{job.workload.name}: op {op.name!r} on {uname!r} reads "
                                    f"{t!r} from {src!r}, which {uname!r} cannot address and no "
                                    f"DMA engine connects to its memories {unit.memories}")
            for t in op.outputs:
                producer_mem[t] = unit.memories[0]
        if problems:
            raise PlacementError(problems[:5], hint="add a DMA engine or a memory link in the "
                                 "device file, or place the ops differently")
        problems = self._conversion_problems(job)
        if problems:
            raise PlacementError(problems[:5], hint="a unit that converts layouts needs "
                                 "convert_bytes_per_cycle; or place the ops differently")

    def _conversion_problems(self, job: Job) -> list[str]:
        """Units the plan makes convert layouts must say how fast (and what it costs)."""
        prog = next(p for p in self.programs if p.workload is job.workload)
        problems = []
        for spec in prog.specs:
            u = spec.unit.unit
            for t, need in zip(spec.inputs, spec.need):
                fmt = prog.fmt[t]
                if need is None or fmt is None or fmt == need:
                    continue
                writer = prog.producer[t]
                if u.convert_bytes_per_cycle is not None:
                    converter = spec.unit.name
                elif self.soc.units[writer].convert_bytes_per_cycle is not None:
                    converter = writer
                else:
                    problems.append(
                        f"{job.workload.name}: op {spec.name!r} on {spec.unit.name!r} reads "
                        f"{prog.tensor_names[t]!r} written by {writer!r} as {fmt[0]}/c{fmt[1]} "
                        f"but works in {need[0]}/c{need[1]}: set "
                        f"units.{spec.unit.name}.convert_bytes_per_cycle (or "
                        f"units.{writer}.convert_bytes_per_cycle) in the device file, or give "
                        "both units one layout")
                    continue
                power = self.soc.units[converter].power
                if prog.dtypes[t] not in power.energy_pj_per_op:
                    problems.append(
                        f"{job.workload.name}: {converter!r} converts "
                        f"{prog.tensor_names[t]!r} ({prog.dtypes[t]}): add "
                        f"units.{converter}.power.energy_pj_per_op.{prog.dtypes[t]}")
        return problems

    # -- processes -------------------------------------------------------------------------

    def run(self) -> Trace:
        """Simulate every workload to completion and return the trace."""
        env = self.env
        for prog in self.programs:
            w = prog.workload
            self._arrivals_open += 1
            if w.inferences is not None:
                env.process(self._closed_loop(prog, w.inferences, w.max_in_flight))
            else:
                self._timed_arrivals += 1
                env.process(self._open_loop(prog))
        # one monitor per RC node (a unit's own, or a zone shared by several) and per unit
        # whose governor samples; a constant frequency needs one sample for its counter track
        groups: dict[str, list[str]] = {}
        for name, state in self.units.items():
            gov = self.settings.governors.get(name)
            zone = state.unit.thermal_zone
            if zone is not None:
                groups.setdefault(f"zone {zone}", []).append(name)
            elif state.unit.thermal is not None or (gov is not None and gov.name in (
                    "ondemand", "thermal")):
                groups[name] = [name]
            else:
                self.trace.counters.append((0, name, "freq_mhz", state.freq_mhz))
        for members in groups.values():
            env.process(self._monitor(members))
        # the run allocates many short-lived objects; freezing what exists keeps the cyclic
        # collector from re-scanning the (large, long-lived) graphs and programs each time
        gc.freeze()
        try:
            env.run()
        except SimulationError as exc:  # SimPy re-raises a copy; surface ours with its hint
            raise exc.__cause__ if isinstance(exc.__cause__, SimulationError) else exc from None
        finally:
            gc.unfreeze()
        if len(self.trace.inferences) < self._started:
            full = [f"{p.name} {p.used}/{p.capacity} bytes in use" for p in self.pools.values()
                    if p.used]
            raise SimulationError(
                f"deadlock: {self._started - len(self.trace.inferences)} inference(s) could not "
                f"finish: every one waits for memory another holds ({'; '.join(full)})",
                hint="enlarge the memory, lower max_in_flight or the arrival rate, or place ops "
                "on a unit with more memory")
        self._finish()
        return self.trace

    def _closed_loop(self, prog: Program, count: int, in_flight: int):
        slots = simpy.Resource(self.env, capacity=in_flight)
        for i in range(count):
            req = slots.request()
            yield req
            self.env.process(self._inference(prog, i, self.env.now, slots, req))
        self._arrivals_open -= 1

    def _open_loop(self, prog: Program):
        w = prog.workload
        slots = simpy.Resource(self.env, capacity=w.max_in_flight)
        horizon = w.duration_s * 1e9
        period = 1e9 / w.rate_hz
        rng = np.random.default_rng([self.settings.seed, prog.index])
        t, i = 0.0, 0
        while t < horizon:
            yield self.env.timeout(round(t) - self.env.now)
            self.env.process(self._admit(prog, i, slots))
            i += 1
            t += rng.exponential(period) if w.arrival == "poisson" else period
        self._arrivals_open -= 1
        self._timed_arrivals -= 1

    def _admit(self, prog: Program, index: int, slots: simpy.Resource):
        """An open-loop arrival waits (queued, FIFO) for one of the workload's slots."""
        arrival = self.env.now
        req = slots.request()
        yield req
        yield from self._inference(prog, index, arrival, slots, req)

    def _inference(self, prog: Program, index: int, arrival: int, slots: simpy.Resource,
                   req: simpy.Event):
        """One inference: place its inputs, start its ops, wait for its outputs, free its slot."""
        env = self.env
        inf = Inference(env, prog, index)
        self._started += 1
        pool = self.pools[self.input_memory]
        for t in prog.inputs:
            size = pool.try_alloc(prog.nbytes[t])
            while not size and prog.nbytes[t]:
                if pool.footprint(prog.nbytes[t]) > pool.capacity:
                    raise SimulationError(
                        f"{prog.name}: input {prog.tensor_names[t]!r} "
                        f"({prog.nbytes[t]} bytes) is larger than {self.input_memory!r} "
                        f"({pool.capacity} bytes)",
                        hint=f"enlarge memory {self.input_memory!r} in the device file, or set "
                        "the SoC's inputs_in to a larger memory")
                yield self._freed
                size = pool.try_alloc(prog.nbytes[t])
            inf.locs[t].append((self.input_memory, None, size, None))
            self._produced(inf, t)
        specs = prog.specs
        for i in prog.sources:
            env.process(self._op(inf, specs[i]))
        for ev in inf.outputs.values():
            if ev.callbacks is not None:
                yield ev
        deadline = prog.workload.deadline_ms
        self.trace.inferences.append((prog.name, index, arrival, env.now,
                                      None if deadline is None
                                      else arrival + round(deadline * 1e6)))
        for t in prog.outputs:
            self._unref(inf, t)
        slots.release(req)
        if not self._arrivals_open and len(self.trace.inferences) == self._started:
            self._done = True

    def _produced(self, inf: Inference, t: int) -> None:
        """Tensor ``t`` of ``inf`` is ready: start the ops it was the last input missing for."""
        ev = inf.outputs.get(t)
        if ev is not None:
            ev.succeed()
        waiting = inf.waiting
        specs = inf.prog.specs
        for c in inf.prog.consumers[t]:
            waiting[c] -= 1
            if not waiting[c]:
                self.env.process(self._op(inf, specs[c]))

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
            w_ns, sram_pj, dram_pj, w_dram = spec.wc_cost
            for j in inf.prog.prefetch[spec.wkey[1]]:  # double buffering: the next ops' weights
                nxt = inf.prog.specs[j]
                if not nxt.wcache.hit(nxt.wkey) and nxt.wkey not in nxt.wcache.pending:
                    env.process(self._prefetch(inf, nxt))
        else:
            w_ns, sram_pj, dram_pj, w_dram = spec.w_cost
        out_mems = self._alloc_outputs(inf, spec, unit)
        while out_mems is None:  # no memory of the unit has room: wait until something frees
            yield self._freed
            out_mems = self._alloc_outputs(inf, spec, unit)
        engine = unit.acquire()
        if engine.__class__ is not int:
            engine = yield engine
        if spec.kernel is not None:
            yield from self._configure(inf, spec)
        start = env.now
        unit.begin(start)
        self._busy += 1
        static0 = unit.static_pj(start)
        freq, volt = unit.freq_mhz, unit.voltage_v
        dyn_pj = spec.dyn_nom_pj * unit.vscale2
        # SRAM traffic takes bytes / bw; DRAM traffic is a flow sharing the DRAM's bandwidth
        w_pool = spec.wpool if cache is None else cache.pool
        key = (w_pool, *in_mems, *out_mems)
        traffic = spec.traffic_cost.get(key)
        if traffic is None:
            traffic = spec.traffic_cost[key] = self._traffic(spec, in_mems, out_mems, w_ns,
                                                             w_dram, w_pool)
        traffic[5] += 1  # the ledger's count of ops that moved these bytes
        mem_ns, t_sram, t_dram, dram_bytes, _, _ = traffic
        sram_pj += t_sram
        dram_pj += t_dram
        duration = yield from self._roofline(start, spec.cycles * 1e3 / freq, mem_ns,
                                             dram_bytes)
        end = start + duration
        unit.end(end)
        self._busy -= 1
        unit.dyn_pj += dyn_pj
        unit.release(engine)
        static_pj = (unit.static_pj(end) - static0) / unit.engines
        unit.compute_pj += dyn_pj  # the ledger, counted apart from the record below
        unit.op_static_pj += static_pj
        if spec.kernel is not None:
            self.kernel_fabrics[unit.name].release(spec.kernel)
            if self._kernel_released.callbacks:  # an op waits for room on the fabric
                self._kernel_released.succeed()
                self._kernel_released = env.event()
        if cache is not None:
            cache.done(spec.wkey)
            self._wake_memory_waiters()  # its pages are evictable again
        self.trace.ops.append((
            inf.prog.name, inf.index, spec.name, spec.op_type, spec.dtype, unit.name, engine,
            start, end, spec.cycles, spec.macs, spec.util, spec.in_total,
            spec.weight_bytes, spec.out_total, dyn_pj, sram_pj, dram_pj, static_pj, freq, volt))
        for t in spec.inputs:
            self._unref(inf, t)
        for t in spec.outputs:
            self._produced(inf, t)

    def _roofline(self, start: int, compute_ns: float, mem_ns: float,
                  dram_bytes: dict[str, int] | None):
        """Hold for ``⌈max(compute, SRAM time + DRAM streams)⌉`` ns from ``start``, the DRAM
        bytes (None: none) streaming as flows that share each DRAM's bandwidth; return the
        duration.

        The work streams its DRAM bytes evenly over its compute time, at most at the DRAM's
        bandwidth: cap = bytes / max(compute - SRAM time, bytes / bw).
        """
        env = self.env
        if not dram_bytes:
            duration = ceil(max(compute_ns, mem_ns))
            yield env.timeout(duration)
            return duration
        links = self.dram_links
        fabric = self.fabric
        flows = [fabric.start(nb, (links[m],),
                              nb / max(compute_ns - mem_ns, nb / links[m].capacity))
                 for m, nb in dram_bytes.items()]
        # unless already slowed by sharing, sleep for the work alone (sharing only slows its
        # flows: a lower bound), then settle
        if all(f.rate >= f.cap for f in flows):
            yield env.timeout(ceil(max(compute_ns, mem_ns + max(
                (f.alone_ns for f in flows), default=0.0))))
        flow_end = start
        for f in flows:
            end_t = fabric.end_time(f)
            if end_t is None:
                yield fabric.wait(f)
                end_t = f.end
            flow_end = max(flow_end, end_t)
        duration = ceil(max(compute_ns, mem_ns + flow_end - start))
        if start + duration > env.now:
            yield env.timeout(start + duration - env.now)
        return duration

    def _configure(self, inf: Inference, spec: OpSpec):
        """Make the op's FPGA kernel resident and wait until it is usable.

        A miss is a partial reconfiguration (:meth:`socsim.hw.fabric.Fabric.acquire`: LRU
        eviction of unpinned kernels, time and energy from the fabric's parameters) through
        the fabric's one configuration port, so reconfigurations of a unit serialise. The op
        holds its engine meanwhile; a kernel that fits only once a running op's kernel is
        released waits for that release.
        """
        env = self.env
        name = spec.unit.name
        fabric = self.kernel_fabrics[name]
        kernel = spec.kernel
        while not fabric.can_load(kernel):
            yield self._kernel_released
        rc = fabric.acquire(kernel)
        ready = self._kernel_ready[name]
        if not rc.hit:
            start = max(env.now, self._config_port[name])
            end = start + ceil(rc.time_ns)
            self._config_port[name] = ready[kernel] = end
            for k in rc.evicted:
                ready.pop(k, None)
            spec.unit.dyn_pj += rc.energy_pj  # heats the unit like its ops' energy
            spec.unit.reconfig_pj += rc.energy_pj
            self.trace.reconfigs.append((inf.prog.name, inf.index, spec.name, name, kernel,
                                         start, end, rc.bitstream_bytes, rc.energy_pj,
                                         " ".join(rc.evicted)))
        usable = ready.get(kernel, 0)
        if usable > env.now:
            self._busy += 1  # the configuration port works (not a stall)
            yield env.timeout(usable - env.now)
            self._busy -= 1

    def _traffic(self, spec: OpSpec, in_mems: list[str], out_mems: list[str], w_ns: float,
                 w_dram: str | None, w_pool: MemoryPool) -> list:
        """[SRAM ns, operand SRAM pJ, operand DRAM pJ, DRAM bytes per DRAM or None, bytes per
        memory as (pool, read, written), 0] of an op reading its weights from ``w_pool``, its
        inputs from ``in_mems`` and writing its outputs to ``out_mems``. The last item counts
        the ops that moved these bytes (the ledger's, see :meth:`_finish`)."""
        dram_bytes: dict[str, int] = {}
        moved: dict[str, list[int]] = {}
        if spec.weight_bytes:
            moved[w_pool.name] = [spec.weight_bytes, 0]
        mem_ns, sram_pj, dram_pj = (w_ns, 0.0, 0.0) if w_dram is None else (0.0, 0.0, 0.0)
        if w_dram is not None:
            dram_bytes[w_dram] = spec.weight_bytes
        if spec.traffic:
            params = self.mem_params
            for nb, m, write in (*zip(spec.in_bytes, in_mems, repeat(False)),
                                 *zip(spec.out_bytes, out_mems, repeat(True))):
                bw, rd, wr, dram = params[m]
                moved.setdefault(m, [0, 0])[write] += nb
                pj = nb * (wr if write else rd)
                if dram:
                    dram_pj += pj
                    dram_bytes[m] = dram_bytes.get(m, 0) + nb
                else:
                    mem_ns += nb / bw
                    sram_pj += pj
        return [mem_ns, sram_pj, dram_pj, {m: nb for m, nb in dram_bytes.items() if nb} or None,
                tuple((self.pools[m], r, w) for m, (r, w) in moved.items()), 0]

    def _page_in(self, inf: Inference, spec: OpSpec):
        """Bring the op's weights into its unit's ``weights_cache`` (a page fault), or wait for
        the page-in another inference started; leave them marked in use and return True.
        Return False (the op streams its weights instead) when pinned pages leave no room."""
        cache, key = spec.wcache, spec.wkey
        while not cache.hit(key):
            pending = cache.pending.get(key)
            if pending is not None:
                yield pending
                continue
            done = cache.pending[key] = self.env.event()
            footprint = cache.pool.footprint(spec.weight_bytes)
            while True:
                if cache.pinned_bytes + footprint > cache.pool.capacity:
                    del cache.pending[key]
                    done.succeed()
                    return False
                size = cache.pool.try_alloc(spec.weight_bytes)
                if size:
                    break
                yield self._freed  # pages are held by running ops or activations: wait
            yield from self._fill(inf, spec, size)
            del cache.pending[key]
            done.succeed()
        cache.use(key)
        return True

    def _prefetch(self, inf: Inference, spec: OpSpec):
        """Page ``spec``'s weights in ahead of its op, if they fit now (evicting only what an
        on-demand page-in could); never waits for room, so it cannot deadlock anything."""
        cache, key = spec.wcache, spec.wkey
        if key in cache.resident or key in cache.pending or (
                cache.pinned_bytes + cache.pool.footprint(spec.weight_bytes)
                > cache.pool.capacity):
            return
        size = cache.pool.try_alloc(spec.weight_bytes)
        if not size:
            return
        done = cache.pending[key] = self.env.event()
        yield from self._fill(inf, spec, size)
        del cache.pending[key]
        done.succeed()

    def _fill(self, inf: Inference, spec: OpSpec, size: int):
        """DMA ``spec``'s weights into the ``size`` bytes allocated for them in its cache and
        record the page-in."""
        cache = spec.wcache
        src, dst = spec.unit.unit.weights_in, cache.pool.name
        start, end, engine, channel = yield from self._dma(spec.wengine, spec.weight_bytes,
                                                           src, dst)
        self.trace.page_faults += size // cache.pool.page
        self.trace.transfers.append((
            inf.prog.name, inf.index, f"{spec.name}:weights", "page_in", src, dst,
            spec.weight_bytes, start, end, spec.wengine, channel,
            *self._transfer_pj(spec.wengine, src, dst, spec.weight_bytes)))
        cache.insert(spec.wkey, size, spec.wpin)

    def _evicted(self, key: SegmentKey, size: int) -> None:
        prog = self.programs[key[0]]
        self.trace.evictions.append((self.env.now, self.soc.units[prog.specs[key[1]].unit.name]
                                     .weights_cache, prog.name, prog.specs[key[1]].name, size))

    def _monitor(self, members: list[str]):
        """Sample a group of units that share one RC node (a thermal zone; else one unit):
        every period integrate the node's temperature over the group's power and record it on
        each member, and let each member's governor pick an operating point on its own
        sampling period (after the transition latency).

        The period is the shortest governor ``sample_ms`` in the group (1 ms without one).
        """
        env = self.env
        states = [self.units[m] for m in members]
        govs = [self.settings.governors.get(m) for m in members]
        thermal = self.soc.thermal_of(members[0])
        periods = [round(g.sample_ms * 1e6) if g is not None else None for g in govs]
        period = min((p for p in periods if p is not None), default=1_000_000)
        counters = self.trace.counters
        now = env.now
        last_t = now
        last_energy = sum(s.dyn_pj + s.static_pj(now) for s in states)
        decided = [(now, s.busy_ns(now)) for s in states]  # per member: last decision
        for s in states:
            counters.append((now, s.name, "freq_mhz", s.freq_mhz))
            if thermal is not None:
                counters.append((now, s.name, "temp_c", s.temp_c))
        temp = states[0].temp_c
        stalled = 0
        while True:
            yield env.timeout(period)
            now = env.now
            if self._done:
                return
            # nothing executing and no timed arrival to come: everything left waits for memory
            # (or for a slot such a waiter holds), a deadlock; stop and let run() report it
            stalled = stalled + 1 if not self._busy and not self._timed_arrivals else 0
            if stalled >= 2:
                return
            if thermal is not None:
                energy = sum(s.dyn_pj + s.static_pj(now) for s in states)
                power_w = (energy - last_energy) * 1e-3 / (now - last_t)  # pJ/ns = mW
                temp = rc_step(temp, power_w, self.ambient_c, thermal, (now - last_t) * 1e-9)
                for s in states:
                    s.set_temperature(now, temp)
                    counters.append((now, s.name, "temp_c", temp))
                last_energy = sum(s.dyn_pj + s.static_pj(now) for s in states)
            last_t = now
            for k, (state, gov) in enumerate(zip(states, govs)):
                t0, busy0 = decided[k]
                if gov is None or now - t0 < periods[k]:
                    continue
                busy = state.busy_ns(now)
                decided[k] = (now, busy)
                if state.switching:
                    continue
                util = (busy - busy0) / (state.unit.engines * (now - t0))
                target = next_mhz(gov, state.unit.dvfs, state.freq_mhz, util, temp, thermal)
                if target != state.freq_mhz:
                    env.process(self._switch(state, target))

    def _switch(self, state: UnitState, freq_mhz: float):
        """Change a unit's operating point after its DVFS transition latency."""
        state.switching = True
        yield self.env.timeout(round(state.unit.dvfs.transition_us * 1e3))
        if not self._done:
            state.set_point(self.env.now, freq_mhz)
            self.trace.counters.append((self.env.now, state.name, "freq_mhz", freq_mhz))
        state.switching = False

    # -- memory and transfers --------------------------------------------------------------

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
                    self.trace.transfers.append((
                        inf.prog.name, inf.index, inf.prog.tensor_names[t], "zero_copy", mem,
                        mem, inf.prog.nbytes[t], now, now, None, None, 0.0, 0.0, 0.0))
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
        route = self._route_for(inf, t, unit, need)
        while route is None:  # every reachable memory of the unit is full: wait for a free
            yield self._freed
            route = self._route_for(inf, t, unit, need)
        src, engine_name, dst, size, fmt, nbytes = route
        start, end, engine, channel = yield from self._dma(engine_name, nbytes, src, dst)
        self.trace.transfers.append((
            inf.prog.name, inf.index, inf.prog.tensor_names[t], "dma", src, dst, nbytes, start,
            end, engine_name, channel, *self._transfer_pj(engine_name, src, dst, nbytes)))
        inf.locs[t].append((dst, unit.name, size, fmt))
        done.succeed(dst)
        return dst

    def _converter(self, inf: Inference, t: int, unit: UnitState) -> UnitState:
        """Who converts ``t`` for ``unit``: the reader if it can, else the writer (as a host
        CPU formats tensors for an accelerator's runtime)."""
        if unit.unit.convert_bytes_per_cycle is not None:
            return unit
        return self.units[inf.prog.producer[t]]

    def _convert(self, inf: Inference, t: int, unit: UnitState, need: tuple[str, int]):
        """Rewrite 4-D tensor ``t`` in format ``need`` on ``unit``: read a copy it can address
        (in place, or brought by DMA), write a new one in its first memory with room.
        Recorded as a ``LayoutConvert`` op (docs/model.md, "Layouts")."""
        env = self.env
        prog = inf.prog
        src = self._readable(inf, t, unit, None)
        if src is None:
            src = yield from self._copy(inf, t, unit, None)
        in_b, out_b = prog.nbytes[t], prog.stored_bytes(t, need)
        placed = self._alloc_in(unit, out_b)
        while placed is None:
            yield self._freed
            placed = self._alloc_in(unit, out_b)
        dst, size = placed
        engine = unit.acquire()
        if engine.__class__ is not int:
            engine = yield engine
        start = env.now
        unit.begin(start)
        self._busy += 1
        static0 = unit.static_pj(start)
        u = unit.unit
        cycles = max(in_b, out_b) / u.convert_bytes_per_cycle + u.launch_overhead_cycles
        bw_src, _, _, src_dram = self.mem_params[src]
        bw_dst, _, _, dst_dram = self.mem_params[dst]
        sram_ns = (0.0 if src_dram else in_b / bw_src) + (0.0 if dst_dram else out_b / bw_dst)
        dram_bytes: dict[str, int] = {}
        for mem, nb, dram in ((src, in_b, src_dram), (dst, out_b, dst_dram)):
            if dram and nb:
                dram_bytes[mem] = dram_bytes.get(mem, 0) + nb
        # DRAM bytes share the DRAM's bandwidth like an op's
        duration = yield from self._roofline(start, cycles * 1e3 / unit.freq_mhz, sram_ns,
                                             dram_bytes)
        end = start + duration
        unit.end(end)
        self._busy -= 1
        dtype = prog.dtypes[t]
        dyn_pj = prog.elements[t] * u.power.energy_pj_per_op[dtype] * unit.vscale2
        unit.dyn_pj += dyn_pj
        sram_pj, dram_pj = self._ends_pj(src, in_b, dst, out_b)
        unit.release(engine)
        static_pj = (unit.static_pj(end) - static0) / unit.engines
        unit.compute_pj += dyn_pj  # the ledger, counted apart from the record below
        unit.op_static_pj += static_pj
        unit.ops += 1
        self.pools[src].read_bytes += in_b
        self.pools[dst].written_bytes += out_b
        self.trace.ops.append((
            prog.name, inf.index, f"{prog.tensor_names[t]}>{need[0]}/c{need[1]}@{unit.name}",
            "LayoutConvert", dtype, unit.name, engine, start, end, cycles, 0, 0.0, in_b, 0,
            out_b, dyn_pj, sram_pj, dram_pj, static_pj, unit.freq_mhz, unit.voltage_v))
        inf.locs[t].append((dst, unit.name, size, need))
        return dst

    def _alloc_in(self, unit: UnitState, nbytes: int) -> tuple[str, int] | None:
        """(memory, footprint) of ``nbytes`` allocated in the first of ``unit``'s memories
        with room, or None."""
        for pool in unit.pools:
            size = pool.try_alloc(nbytes)
            if size or not nbytes:
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
        if channel.__class__ is not int:
            channel = yield channel
        start = env.now
        self._busy += 1
        links = tuple(link for link in (self.bus, self.dram_links.get(src),
                                        self.dram_links.get(dst)) if link is not None)
        if links and nbytes:
            setup = ceil(engine.setup_ns)
            if setup:
                yield env.timeout(setup)
            flow = self.fabric.start(nbytes, links, engine.rate_gbps)
            yield env.timeout(ceil(flow.alone_ns))
            end_t = self.fabric.end_time(flow)
            if end_t is None:
                yield self.fabric.wait(flow)
                end_t = flow.end
            if ceil(end_t) > env.now:
                yield env.timeout(ceil(end_t) - env.now)
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
                size = dst_pool.try_alloc(nbytes)
                if size or not nbytes:
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
                size = pool.try_alloc(nbytes)
                if size or not nbytes:
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
            for mem, _, size, _ in inf.locs[t]:
                self.pools[mem].free(size)
            inf.locs[t] = []
            self._wake_memory_waiters()

    def _wake_memory_waiters(self) -> None:
        if self._freed.callbacks:  # someone waits for memory: wake them, re-arm
            self._freed.succeed()
            self._freed = self.env.event()

    def _finish(self) -> None:
        trace = self.trace
        span = max((rec[3] for rec in trace.inferences), default=self.env.now)
        trace.makespan_ns = span
        trace.units = list(self.soc.units)
        trace.dma_engines = list(self.soc.dma)
        ledger = trace.ledger
        for prog in self.programs:  # bytes and ops of the op executions the engine counted
            for spec in prog.specs:
                for *_, moved, runs in spec.traffic_cost.values():
                    spec.unit.ops += runs
                    for pool, read, written in moved:
                        pool.read_bytes += runs * read
                        pool.written_bytes += runs * written
        for name, state in self.units.items():
            # idle = leakage - what the engine charged to ops (its counter, not the records)
            trace.idle_static_pj[name] = state.static_pj(span) - state.op_static_pj
            trace.engines[name] = state.unit.engines
            ledger.unit_compute_pj[name] = state.compute_pj
            ledger.unit_reconfig_pj[name] = state.reconfig_pj
            ledger.unit_dynamic_pj[name] = state.dyn_pj
            ledger.unit_op_static_pj[name] = state.op_static_pj
            ledger.unit_leakage_pj[name] = state.static_pj(span)
            ledger.unit_ops[name] = state.ops
        for name, mem in self.soc.memories.items():
            trace.idle_static_pj[name] = mem.leakage_mw * span
            trace.memory_peak_bytes[name] = self.pools[name].peak
            trace.memory_capacity_bytes[name] = self.pools[name].capacity
            pool = self.pools[name]
            ledger.memory_read_bytes[name] = pool.read_bytes
            ledger.memory_written_bytes[name] = pool.written_bytes
            ledger.memory_pj[name] = (pool.read_bytes * mem.read_pj_per_byte
                                      + pool.written_bytes * mem.write_pj_per_byte)
            ledger.memory_kind[name] = mem.kind
            ledger.memory_static_pj[name] = mem.leakage_mw * span
        for name, engine in self.soc.dma.items():
            trace.engines[name] = engine.channels
            ledger.dma_transfers[name] = self._dma_transfers[name]
            ledger.dma_bytes[name] = self._dma_bytes[name]
            ledger.dma_pj[name] = self._dma_bytes[name] * engine.energy_pj_per_byte
