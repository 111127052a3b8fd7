"""Scenario fields of runtime dynamics: model variants of a workload, and the runtime manager.

docs/runtime.md describes the managers and what they see.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from socsim.config._base import Range, Spec, real_in

Accuracy = real_in(Range(0.0, 1.0, "", "an accuracy is a fraction of correct answers"))
PeriodMs = real_in(Range(1e-3, 1e6, "ms", "a runtime manager decides every 1-1000 ms; below "
                         "1 µs its decisions outnumber the ops"))
JitterMs = real_in(Range(0.0, 1e6, "ms", "sensor jitter is a fraction of the period"))
BurstS = real_in(Range(0.0, 86_400.0, "s", "bursts last milliseconds to minutes", lo_open=True))


class RuntimeSpec(Spec):
    """The runtime manager: a strategy that watches the system and acts during the run."""

    manager: str = Field("static", description="A registered runtime manager "
                         "(socsim.runtime: static, threshold, feedback, cascade, or one from "
                         "the `socsim.runtime_managers` entry-point group).")
    period_ms: PeriodMs = Field(10.0, description="How often the manager decides, ms.")
    params: dict[str, Any] = Field(default_factory=dict, description="Manager parameters "
                                   "(checked by the manager).")
