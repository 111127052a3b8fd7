"""``cascade``: a small model first, the big one only when the small one is unsure.

Each inference of ``workload`` runs variant ``small``; when it finishes, the manager runs the
small model's arithmetic on that inference's inputs (:mod:`socsim.execute`, with each op's
unit arithmetic, the inputs :mod:`socsim.functional` would give it), inside the event loop,
and reads its top-1 confidence: the largest softmax probability of output ``output`` (default:
the model's first). Below ``threshold`` the same arrival then runs variant ``big``; its
latency runs from the arrival to the big model's end. Each escalation is a switch record
(kind ``escalate``) whose reason gives the confidence; summary.json
``runtime.manager_state`` the confidence quantiles over the run.
"""

from __future__ import annotations

import numpy as np

from socsim.runtime.base import RuntimeManager, number
from socsim.runtime.process import Finished


def top1_confidence(logits: np.ndarray) -> float:
    """Largest softmax probability of ``logits`` (flattened), computed stably in float64."""
    z = np.asarray(logits, dtype=np.float64).ravel()
    e = np.exp(z - z.max())
    return float(e.max() / e.sum())


class Cascade(RuntimeManager):
    """``params``: ``workload``, ``small``, ``big`` (variant names), ``threshold`` (0-1),
    ``output`` (optional output name of the small model)."""

    name = "cascade"

    def __init__(self, params, workloads, units):
        super().__init__(params, workloads, units)
        extra = set(params) - {"workload", "small", "big", "threshold", "output"}
        if extra:
            raise ValueError(f"`cascade`: unknown parameters {sorted(extra)}")
        w = params.get("workload")
        if w not in workloads:
            raise ValueError(f"`cascade` needs `workload:` one of {sorted(workloads)}")
        for key in ("small", "big"):
            if params.get(key) not in workloads[w]:
                raise ValueError(f"`cascade.{key}`: one of {w}'s variants {workloads[w]}")
        t = number("`cascade.threshold`", params.get("threshold"))
        if not 0 <= t <= 1:
            raise ValueError("`cascade.threshold`: a confidence in [0, 1]")
        self.workload, self.small, self.big = w, params["small"], params["big"]
        self.threshold = float(t)
        self.output = params.get("output")
        self._compiled = None
        #: per inference of the workload: the small model's top-1 confidence
        self.confidence: dict[int, float] = {}

    def begin(self, ctl) -> None:
        ctl.set_variant(self.workload, self.small, "cascade: small model first")

    def after_inference(self, done: Finished) -> str | None:
        if done.workload != self.workload or done.variant != self.small:
            return None
        conf = self._confidence(done)
        self.confidence[done.inference] = conf
        return self.big if conf < self.threshold else None

    def escalation_note(self, done: Finished) -> str:
        return (f": top-1 confidence {self.confidence[done.inference]:.4f} < "
                f"{self.threshold:g}")

    def summary(self) -> dict:
        """Frames the small model ran, how many escalated, and the quantiles of its top-1
        confidence (what a threshold is chosen from)."""
        conf = np.array(list(self.confidence.values()), dtype=float)
        q = ({f"p{k}": float(np.percentile(conf, k)) for k in (0, 10, 25, 30, 50, 75, 90, 100)}
             if len(conf) else None)
        return {"threshold": self.threshold, "small_runs": len(conf),
                "escalated": int(np.sum(conf < self.threshold)), "confidence": q}

    def _confidence(self, done: Finished) -> float:
        from socsim.functional import _inputs, _load_samples, compile_job

        prog = done.program
        job = self._job(prog)
        if self._compiled is None:
            self._compiled = compile_job(job, self.soc)
            self._samples = _load_samples(job)
        base = prog.variant_of or prog
        inputs = _inputs(job, done.inference, self.seed, base.index, self._samples)
        outputs = self._compiled.run(inputs).outputs
        name = self.output or next(iter(outputs))
        if name not in outputs:
            raise ValueError(f"`cascade.output`: {name!r} is not an output of the small "
                             f"model; outputs: {list(outputs)}")
        return top1_confidence(outputs[name])

    def _job(self, prog):
        return self.jobs[(self.workload, self.small)]
