"""Built-in runtime managers: ``static``, ``threshold`` and ``feedback`` (``cascade`` lives in
:mod:`socsim.runtime.cascade`). docs/runtime.md gives their parameters with examples."""

from __future__ import annotations

from typing import Any

from socsim.runtime.base import RuntimeManager, SystemState, number
from socsim.runtime.process import Controls

METRICS = ("temp_c", "utilisation", "freq_mhz", "soc", "miss_rate", "queue")
_UNIT_METRICS = ("temp_c", "utilisation", "freq_mhz")


class Static(RuntimeManager):
    """Never acts: every workload runs its primary variant, units stay where governors and
    operating points put them (the baseline the others are compared with)."""

    name = "static"

    def __init__(self, params, workloads, units):
        super().__init__(params, workloads, units)
        if params:
            raise ValueError(f"`static` takes no parameters; got {sorted(params)}")


class Threshold(RuntimeManager):
    """Rules on one metric each, in order (later active rules win).

    ``params.rules``: a list of ``{metric, of, above | below, hysteresis, variant, freq,
    drop}``. ``metric`` is one of ``temp_c`` / ``utilisation`` / ``freq_mhz`` (``of`` a unit),
    ``miss_rate`` / ``queue`` (``of`` a workload) or ``soc`` (battery state of charge, 0-1;
    never active without a battery). A rule turns on when the metric is above (below) the
    limit and off once it is ``hysteresis`` below (above) it. While on, it sets ``variant``
    ({workload: variant}), ``freq`` ({unit: MHz, or ``min`` / ``max``}: the manager pins the
    unit there, within a ``thermal`` governor's trip cap: socsim.runtime.dvfs) and ``drop``
    ({workload: true}); with no rule on, workloads run their primary variant, pinned units
    go back to their governor, and nothing is dropped.

    Example: ``{metric: temp_c, of: npu, above: 85, hysteresis: 3,
    variant: {vision: int4_dsp}}``; ``{metric: soc, below: 0.2, freq: {npu: min}}``.
    """

    name = "threshold"

    def __init__(self, params, workloads, units):
        super().__init__(params, workloads, units)
        unknown = set(params) - {"rules"}
        if unknown or not isinstance(params.get("rules"), list) or not params["rules"]:
            raise ValueError("`threshold` takes `rules: [{metric, of, above|below, ...}, ...]`"
                             + (f"; unknown parameters {sorted(unknown)}" if unknown else ""))
        self.rules = [self._check(i, r) for i, r in enumerate(params["rules"])]
        self.on = [False] * len(self.rules)

    def _check(self, i: int, rule: Any) -> dict:
        where = f"rules[{i}]"
        if not isinstance(rule, dict):
            raise ValueError(f"{where}: give a mapping {{metric, of, above|below, ...}}")
        extra = set(rule) - {"metric", "of", "above", "below", "hysteresis", "variant", "freq",
                             "drop"}
        if extra:
            raise ValueError(f"{where}: unknown keys {sorted(extra)}")
        metric = rule.get("metric")
        if metric not in METRICS:
            raise ValueError(f"{where}.metric: {metric!r}; choose one of {list(METRICS)}")
        if ("above" in rule) == ("below" in rule):
            raise ValueError(f"{where}: give exactly one of `above` and `below`")
        for key in ("above", "below", "hysteresis"):
            if key in rule:
                number(f"{where}.{key}", rule[key])
        if metric != "soc":
            names = self.units if metric in _UNIT_METRICS else self.workloads
            if rule.get("of") not in names:
                raise ValueError(f"{where}.of: {rule.get('of')!r}; {metric} is of one of "
                                 f"{sorted(names)}")
        for w, v in (rule.get("variant") or {}).items():
            if w not in self.workloads or v not in self.workloads[w]:
                raise ValueError(f"{where}.variant: {w}: {v} is not a variant of a workload; "
                                 f"variants: {self.workloads}")
        for u, f in (rule.get("freq") or {}).items():
            if u not in self.units or (f not in ("min", "max") and f not in self.units[u]):
                raise ValueError(f"{where}.freq: {u}: {f} is not a unit's DVFS point, `min` "
                                 f"or `max`; points: {self.units}")
        for w in rule.get("drop") or {}:
            if w not in self.workloads:
                raise ValueError(f"{where}.drop: {w!r} is not a workload")
        return rule

    @staticmethod
    def _value(rule: dict, state: SystemState) -> float | None:
        m = rule["metric"]
        if m == "soc":
            return state.soc_fraction
        if m == "miss_rate":
            return state.miss_rate[rule["of"]]
        return getattr(state, m)[rule["of"]]

    def decide(self, state: SystemState, ctl: Controls) -> None:
        variant = {w: vs[0] for w, vs in state.variants.items()}
        freq: dict[str, float] = {}
        drop = dict.fromkeys(state.variants, False)
        for k, rule in enumerate(self.rules):
            value = self._value(rule, state)
            if value is not None:
                h = float(rule.get("hysteresis", 0))
                if "above" in rule:
                    lim = float(rule["above"])
                    self.on[k] = value > lim if not self.on[k] else value > lim - h
                else:
                    lim = float(rule["below"])
                    self.on[k] = value < lim if not self.on[k] else value < lim + h
            if not self.on[k]:
                continue
            variant.update(rule.get("variant") or {})
            for u, f in (rule.get("freq") or {}).items():
                points = state.freqs_mhz[u]
                freq[u] = points[0] if f == "min" else points[-1] if f == "max" else f
            drop.update({w: bool(v) for w, v in (rule.get("drop") or {}).items()})
        why = ", ".join(f"rule {k}" for k, on in enumerate(self.on) if on) or "no rule on"
        for w, v in variant.items():
            ctl.set_variant(w, v, why)
        for w, on in drop.items():
            ctl.set_drop(w, on, why)
        for u in sorted({u for r in self.rules for u in (r.get("freq") or {})}):
            if u in freq:
                ctl.set_freq(u, freq[u], why)
            else:
                ctl.release_freq(u, why)


class Feedback(RuntimeManager):
    """Tracks a deadline-miss-rate target for one workload by stepping along a ladder of its
    variants (most accurate first): after a period whose miss rate is above ``target``, one
    step down the ladder (cheaper); after ``patience`` periods in a row at or below
    ``target / 2``, one step up. Periods with no completed inference leave it where it is.

    ``params``: ``workload``, ``target`` (0-1, default 0.05), ``ladder`` (variant names,
    default: the workload's variants in scenario order), ``patience`` (default 5).
    """

    name = "feedback"

    def __init__(self, params, workloads, units):
        super().__init__(params, workloads, units)
        extra = set(params) - {"workload", "target", "ladder", "patience"}
        if extra:
            raise ValueError(f"`feedback`: unknown parameters {sorted(extra)}")
        w = params.get("workload")
        if w not in workloads:
            raise ValueError(f"`feedback` needs `workload:` one of {sorted(workloads)}")
        self.workload = w
        self.ladder = list(params.get("ladder") or workloads[w])
        bad = [v for v in self.ladder if v not in workloads[w]]
        if bad or len(self.ladder) < 2:
            raise ValueError(f"`feedback.ladder`: give two or more of {workloads[w]}"
                             + (f"; unknown {bad}" if bad else ""))
        self.target = number("`feedback.target`", params.get("target", 0.05))
        if not 0 <= self.target < 1:
            raise ValueError("`feedback.target`: a miss rate in [0, 1)")
        self.patience = number("`feedback.patience`", params.get("patience", 5), integer=True)
        if self.patience < 1:
            raise ValueError("`feedback.patience`: a count >= 1")
        self.step = 0
        self.calm = 0

    def decide(self, state: SystemState, ctl: Controls) -> None:
        rate = state.miss_rate[self.workload]
        if rate is None:
            return
        if rate > self.target:
            self.calm = 0
            if self.step < len(self.ladder) - 1:
                self.step += 1
                ctl.set_variant(self.workload, self.ladder[self.step],
                                f"miss rate {rate:.3f} > {self.target}")
        elif rate <= self.target / 2:
            self.calm += 1
            if self.calm >= self.patience and self.step > 0:
                self.step -= 1
                self.calm = 0
                ctl.set_variant(self.workload, self.ladder[self.step],
                                f"miss rate {rate:.3f} <= {self.target / 2} for "
                                f"{self.patience} periods")
        else:
            self.calm = 0
