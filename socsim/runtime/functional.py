"""Functional execution of a run whose workloads switch variants: each completed inference's
outputs computed by the variant whose answer counts (the last one it ran), with the integer
arithmetic of the units that variant's plan put each op on, on the inputs
:mod:`socsim.functional` gives that inference."""

from __future__ import annotations

from collections.abc import Callable

from socsim.config.soc import SoC
from socsim.functional import (
    EVENT_KEYS,
    FunctionalResult,
    _inputs,
    _load_samples,
    compile_job,
    record_run,
)
from socsim.runtime.process import RuntimeProcess


def execute_variants(rt: RuntimeProcess, soc: SoC, seed: int,
                     on_inference: Callable[[], None] | None = None) -> FunctionalResult:
    """Outputs by ``workload/inference/output`` and integer events per workload."""
    result = FunctionalResult()
    for k, (w, variants) in enumerate(rt.variants.items()):
        primary = variants[0].job
        samples = _load_samples(primary)
        totals = dict.fromkeys(EVENT_KEYS, 0)
        flagged: set[str] = set()
        for v in variants:
            done = [d for d in rt.done if d.workload == w and d.variants.split("+")[-1] == v.name]
            if not done:
                continue
            compiled = compile_job(v.job, soc)
            for d in done:
                run = compiled.run(_inputs(primary, d.inference, seed, k, samples))
                if on_inference is not None:
                    on_inference()
                record_run(result, w, d.inference, run, totals, flagged,
                           lambda node, v=v: f"{v.name}:{node}")
        result.events[w] = totals
        result.flagged_ops[w] = sorted(flagged)
    return result
