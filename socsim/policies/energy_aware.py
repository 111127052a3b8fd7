"""``energy_aware``: least energy per inference under a latency bound, choosing each unit's
DVFS operating point as well as the placement.

For every combination of the units' operating points (each unit's ``dvfs.points``; at most
:data:`MAX_COMBINATIONS`), the SoC is costed at those points
(:func:`socsim.policies.estimate.at_points`) and candidate placements are built by a weighted
list schedule: ops in graph order, each to the unit minimising ``energy + lambda x finish``
(its dynamic and memory energy and its hand-offs' DMA energy, pJ; its finish time, ns) for
``lambda`` in :data:`LAMBDAS` (0: least energy, whatever the time; large: earliest finish, as
``greedy_eft``): a Lagrangian relaxation of the bound, swept; and each unit alone (what it
cannot run on the most general unit that can). Each candidate is scored with
:meth:`~socsim.policies.estimate.Estimator.evaluate` (one inference's latency, and its energy
including every unit's and memory's leakage over that latency). The least-energy candidate
whose latency is within ``latency_ms`` wins; the plan fixes every unit at its point for the
run (``Plan.points``), which the engine holds (no governor moves it). When none meets the
bound, the fastest is used and the notes say so.
"""

from __future__ import annotations

from itertools import product
from math import inf

from pydantic import Field

from socsim.config.soc import SoC
from socsim.errors import PlacementError
from socsim.graph.ir import Graph
from socsim.policies.base import PlacementPolicy, Plan, PolicyParams, require_units
from socsim.policies.compat import fallback_unit
from socsim.policies.estimate import Estimator, at_points
from socsim.policies.registry import register_policy

#: Weights of time against energy (pJ per ns) swept for each combination of points.
LAMBDAS = (0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e9)
#: Most operating-point combinations tried.
MAX_COMBINATIONS = 4096


class EnergyAwareParams(PolicyParams):
    latency_ms: float | None = Field(None, gt=0)
    """Bound on one inference's estimated latency, ms (None: no bound, the least energy)."""
    units: list[str] | None = None
    """Restrict the candidates to these units (default: all)."""
    scale_points: bool = True
    """Search the units' DVFS points (false: keep the points in force, search placement
    only)."""

    def check(self, soc: SoC):
        return require_units(soc, self.units or [], ("units",))


def weighted_schedule(est: Estimator, names: list[str], lam: float) -> list[str]:
    """Ops in graph order, each to the unit minimising ``energy + lam x finish``."""
    soc = est.soc
    free = {u: [0.0] * soc.units[u].engines for u in names}
    ready: dict[str, tuple[float, str | None]] = {}
    placed: list[str] = []
    for i, op in enumerate(est.ops):
        best = None
        for u in est.candidates(i, names):
            mems = est.in_mems(i, u, lambda t: ready.get(t, (0.0, None))[1])
            at, pj = 0.0, est.op_pj(i, u, mems)
            for t in op.inputs:
                t_ready, w = ready.get(t, (0.0, None))
                at = max(at, t_ready + est.edge_ns(t, w, u))
                pj += est.edge_pj(t, w, u)
            finish = max(at, min(free[u])) + est.run_ns(i, u, mems)
            score = pj + lam * finish
            if best is None or score < best[0]:
                best = (score, u, finish)
        if best is None:
            raise PlacementError(f"no candidate unit supports op {op.name!r} ({op.op_type}, "
                                 f"{op.dtype}); candidates: {names}")
        _, u, finish = best
        slots = free[u]
        slots[slots.index(min(slots))] = finish
        for t in op.outputs:
            ready[t] = (finish, u)
        placed.append(u)
    return placed


def alone(est: Estimator, unit: str) -> tuple[str, ...] | None:
    """Every op on ``unit``, what it cannot run on the most general unit that can (None when
    an op runs nowhere)."""
    placed = []
    for i, op in enumerate(est.ops):
        u = unit if est.ok(i, unit) else fallback_unit(est.soc, op, est.graph)
        if u is None:
            return None
        placed.append(u)
    return tuple(placed)


@register_policy
class EnergyAware(PlacementPolicy):
    """Least estimated energy per inference within ``latency_ms``, over placements and the
    units' operating points; the plan fixes the chosen points."""

    name = "energy_aware"
    Params = EnergyAwareParams

    def place(self, graph: Graph, soc: SoC) -> Plan:
        names = self.params.units or list(soc.units)
        if self.params.scale_points:
            choices = [[p.freq_mhz for p in soc.units[u].dvfs.points] for u in soc.units]
        else:
            choices = [[soc.units[u].dvfs.default.freq_mhz] for u in soc.units]
        combos = 1
        for c in choices:
            combos *= len(c)
        if combos > MAX_COMBINATIONS:
            raise PlacementError(f"energy_aware: {combos} operating-point combinations, more "
                                 f"than {MAX_COMBINATIONS}; set scale_points: false")
        bound = inf if self.params.latency_ms is None else self.params.latency_ms * 1e6
        best = fastest = None
        for freqs in product(*choices):
            points = dict(zip(soc.units, freqs))
            est = Estimator(graph, at_points(soc, points))
            tried = set()
            plans = [tuple(weighted_schedule(est, names, lam)) for lam in LAMBDAS]
            plans += [p for u in names if (p := alone(est, u)) is not None]
            for placed in plans:
                if placed in tried:
                    continue
                tried.add(placed)
                latency, energy = est.evaluate(placed)
                entry = (energy, latency, placed, points)
                if latency <= bound and (best is None or energy < best[0]):
                    best = entry
                if fastest is None or latency < fastest[1]:
                    fastest = entry
        energy, latency, placed, points = best or fastest
        used = dict.fromkeys(placed)
        where = ", ".join(f"{u} at {points[u]:g} MHz" for u in used)
        limit = "none" if self.params.latency_ms is None else f"{self.params.latency_ms:g} ms"
        notes = [f"energy_aware: estimated {energy / 1e6:.4f} uJ and {latency / 1e6:.4f} ms per "
                 f"inference (bound {limit}); {where}"]
        if best is None:
            notes.append(f"energy_aware: no placement meets {self.params.latency_ms:g} ms (the "
                         f"fastest is estimated at {latency / 1e6:.4f} ms); using the fastest")
        return Plan(placed, tuple(notes), points=tuple(points.items()))
