"""The SimPy engine: units, DMA engines and memories as resources; ops as processes.

Per inference, every op is a process that waits for its inputs, brings each one into a memory
its unit can read (in place when it already can: a zero-copy hand-off; else a DMA transfer
that holds an engine channel for ``setup + bytes / bw``), allocates its outputs in the first
of its unit's memories with room (waiting, if none has, on the memories as one resource),
holds one of the unit's engines for the roofline time of its cost record
(:mod:`socsim.hw.cost`, the model the policies' estimates use), records its energy, and frees every tensor no one reads any more.

Only this package knows SimPy. Time is integer nanoseconds.
"""

from __future__ import annotations

import gc

import simpy

from socsim.config.scenario import RunSettings
from socsim.config.soc import SoC
from socsim.errors import ConfigError, Problem, SimulationError
from socsim.hw.dvfs import initial_mhz
from socsim.hw.estimate import input_memory
from socsim.hw.governors import available_governors, get_governor
from socsim.hw.kind import kind_of, reconfigurable
from socsim.policies.validation import plan_points, plan_queue
from socsim.sim.arrivals import Arrivals
from socsim.sim.bandwidth import BandwidthFabric, Link
from socsim.sim.battery import BatteryView
from socsim.sim.execution import OpExecution
from socsim.sim.memory import Memories, MemoryPool
from socsim.sim.monitor import Monitors
from socsim.sim.movement import DataMovement
from socsim.sim.paging import PageCache, WeightPaging
from socsim.sim.program import Job, Program
from socsim.sim.reconfiguration import Reconfiguration
from socsim.sim.replay import FastPath
from socsim.sim.resources import FitResource
from socsim.sim.stations import PriorityUnitState, Station, UnitState
from socsim.sim.trace import CounterRecord, Trace

__all__ = ["Job", "Simulation"]


class Simulation(Arrivals, OpExecution, Reconfiguration, DataMovement, WeightPaging,
                 Monitors):
    """One run of a set of jobs on a SoC.

    The processes live in one module per concern: :mod:`socsim.sim.arrivals` (workloads
    and inferences), :mod:`socsim.sim.execution` (ops),
    :mod:`socsim.sim.movement` (copies, conversions, allocation), :mod:`socsim.sim.paging`
    (weight page-ins), :mod:`socsim.sim.reconfiguration` (reconfigurable units),
    :mod:`socsim.sim.monitor` (thermal, DVFS, the sampled deadlock stop); this class holds
    the state they share and the run.

    Args:
        soc: the device.
        jobs: the workloads with their graphs and plans.
        settings: the scenario's run settings (seed, operating points, zero-copy switch).
    """

    def __init__(self, soc: SoC, jobs: list[Job], settings: RunSettings, runtime=None):
        self.soc = soc
        self.settings = settings
        self.env = simpy.Environment()
        self.trace = Trace()
        self.pools = {name: MemoryPool(name, m.size_bytes, m.page_bytes)
                      for name, m in soc.memories.items()}
        self.ambient_c = soc.ambient_c if settings.ambient_c is None else settings.ambient_c
        self.units: dict[str, UnitState] = {}
        for name, gov in settings.governors.items():
            if gov.name not in available_governors():
                raise ConfigError(Problem(
                    f"unknown governor {gov.name!r}; available: {available_governors()}",
                    path=f"run.governors.{name}.name"))
        for job in jobs:  # the one plan check (socsim.policies.validation)
            job.plan.validate(job.graph, soc, job.workload.name)
        named = [(job.workload.name, job.plan) for job in jobs]
        fixed = plan_points(named)
        if fixed:  # a plan's operating point holds its unit there: no governor moves it
            settings = settings.model_copy(update={"governors": {
                n: g for n, g in settings.governors.items() if n not in fixed}})
            self.settings = settings
        self.queue = plan_queue(named)
        state_type = UnitState if self.queue == "fifo" else PriorityUnitState
        for name, unit in soc.units.items():
            freq = fixed.get(name) or initial_mhz(settings.governors.get(name), unit.dvfs,
                                                  settings.operating_points.get(name))
            self.units[name] = state_type(self.env, name, unit, freq, self.pools,
                                          self.ambient_c)
        self.dma = {name: Station(self.env, name, e.channels) for name, e in soc.dma.items()}
        # the ledger's DMA counters (transfers, bytes), kept apart from the trace
        self._dma_transfers = dict.fromkeys(soc.dma, 0)
        self._dma_bytes = dict.fromkeys(soc.dma, 0)
        # reconfigurable units (the kind says: an FPGA's kernel library): what is configured,
        # when each configuration is usable, and when the unit's configuration port (one per
        # unit: reconfigurations serialise) is free
        self.reconfigurables = {name: res for name, unit in soc.units.items()
                                if (res := reconfigurable(unit)) is not None}
        self._config_ready: dict[str, dict[str, int]] = {n: {} for n in self.reconfigurables}
        self._config_port: dict[str, int] = dict.fromkeys(self.reconfigurables, 0)
        # room on each: a put loads a configuration once it fits, a release is the get
        self.config_areas = {name: FitResource(self.env) for name in self.reconfigurables}
        for unit in soc.units.values():
            pool = self.pools.get(unit.weights_cache) if unit.weights_cache else None
            if pool is not None and pool.cache is None:
                pool.cache = PageCache(pool, self._evicted)
        #: per memory: (bw_gbps, read pJ/B, write pJ/B, is DRAM-kind)
        self.mem_params = {n: (m.bw_gbps, m.read_pj_per_byte, m.write_pj_per_byte,
                               m.kind == "dram") for n, m in soc.memories.items()}
        # shared bandwidth: each DRAM, and the interconnect DMA transfers cross
        self.bandwidth = BandwidthFabric(self.env)
        #: units whose memory ports run side by side (their kind's parallel_ports)
        self.parallel_ports = frozenset(n for n, u in soc.units.items()
                                        if kind_of(u).parallel_ports(u))
        self.dram_links = {n: Link(n, m.bw_gbps) for n, m in soc.memories.items()
                           if m.kind == "dram"}
        self.bus = (Link("interconnect", soc.interconnect.bw_gbps)
                    if soc.interconnect is not None else None)
        self.input_memory = input_memory(soc)
        self.programs = [Program(i, job, soc, self.units) for i, job in enumerate(jobs)]
        for job in jobs:
            self.trace.notes += list(job.plan.notes)
        # the memories as one resource: a put allocates once it fits, a free is the get
        self.memory = Memories(self.env, self.pools)
        #: read-only state of charge for runtime managers (None without run.battery)
        self.battery = BatteryView(settings.battery, self) if settings.battery else None
        self._started = 0
        self._arrivals_open = 0  # arrival processes that may still start inferences
        self._timed_arrivals = 0  # open-loop arrival processes (they wake on their own)
        self._busy = 0  # ops and transfers executing right now
        self._done = False  # every arrival started and every inference finished
        #: the runtime manager's process (socsim.runtime.process), or None: no manager
        self.runtime = runtime
        if runtime is not None:
            runtime.bind(self)
        self._slot_waiters = 0  # arrivals waiting for a workload's slot (socsim.sim.replay)
        #: the start barrier; with run.fast_path, records and replays quiet windows
        self.fast_path = FastPath(self, settings.fast_path)

    # -- processes -------------------------------------------------------------------------

    def run(self) -> Trace:
        """Simulate every workload to completion and return the trace."""
        env = self.env
        for prog in self.programs:
            if prog.variant_of is not None:  # a variant: the runtime manager starts it
                continue
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
            elif state.unit.thermal is not None or (gov is not None
                                                    and get_governor(gov.name).samples):
                groups[name] = [name]
            else:
                self.trace.counters.append(CounterRecord(0, name, "freq_mhz", state.freq_mhz))
        for members in groups.values():
            env.process(self._monitor(members))
        if self.runtime is not None:
            env.process(self.runtime.process())
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
        if self.fast_path.enabled:
            self.trace.fast_path = self.fast_path.summary()
        return self.trace

    def _finish(self) -> None:
        trace = self.trace
        span = max((rec.end_ns for rec in trace.inferences), default=self.env.now)
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
            trace.unit_kinds[name] = state.unit.kind
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
