"""Property: when the engine stops a memory-starved run, the stop is real.

Cases come from :func:`tests.sim.property_cases.tight_scenarios`: one closed-loop workload
whose inputs arrive in a DRAM no unit addresses, every unit working out of one small SRAM. A
run completes, stops because a tensor can never fit, or stops in a deadlock. Each outcome is
checked against the SoC document and the graph, not against the engine's own detection:

- a *deadlock* names the memories in use; their fill must be what the trace implies is still
  allocated (the inputs and copies and outputs of the inferences in flight that some unrun
  op still reads), the number of inferences in flight must be what the closed loop admits,
  and every op that could run next (all its producers have run) must want more room than the
  SRAM has left: a copy of a workload input it reads, else its outputs (docs/model.md, "Data
  movement", whole pages of ``page_kib``);
- a *too large* stop names a tensor whose footprint exceeds the SRAM's capacity;
- a completed run reconciles with the engine's ledger and frees every activation.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import event, given

from socsim.errors import SimulationError
from socsim.report.reconcile import reconcile
from socsim.report.tables import summary, tables
from tests.sim.property_cases import (
    SETTINGS,
    outcome,
    prepare,
    relu_chain_model,
    relu_cpu,
    simulate,
    tight_scenarios,
)

_FILL = re.compile(r"(\w+) (\d+)/(\d+) bytes in use")
_IN_FLIGHT = re.compile(r"deadlock: (\d+) inference\(s\) could not finish")
_TOO_LARGE = re.compile(r"'([^']+)' \((\d+) bytes\)")


def _footprint(nbytes: int, page: int) -> int:
    return math.ceil(nbytes / page) * page


def _check_deadlock(doc: dict, job, trace, message: str) -> None:
    sram = doc["soc"]["memories"]["sram"]
    capacity, page = round(sram["size_kib"] * 1024), round(sram["page_kib"] * 1024)
    w = doc["workloads"][0]
    graph = job.graph
    nbytes = {name: t.nbytes for name, t in graph.tensors.items()}
    consumers: dict[str, list[str]] = {}
    for op in graph.ops:
        for t in dict.fromkeys(op.inputs):
            consumers.setdefault(t, []).append(op.name)
    producer = {t: op.name for op in graph.ops for t in op.outputs}
    # the closed loop admits inference i + max_in_flight when one finishes
    finished = {rec.inference for rec in trace.inferences}
    admitted = min(w["inferences"], len(finished) + w["max_in_flight"])
    in_flight = [i for i in range(admitted) if i not in finished]
    assert int(_IN_FLIGHT.search(message).group(1)) == len(in_flight), message
    ran = {i: {rec.op for rec in trace.ops if rec.inference == i} for i in in_flight}
    copied = {i: {rec.tensor for rec in trace.transfers if rec.inference == i
                  and rec.kind == "dma"}
              for i in in_flight}
    sram_used = dram_used = 0
    def read_later(t: str, i: int) -> bool:
        return t in graph.outputs or any(c not in ran[i] for c in consumers.get(t, ()))

    for i in in_flight:
        for t in graph.inputs:  # in the DRAM from the start; its SRAM copy once copied
            if read_later(t, i):
                dram_used += nbytes[t]
                sram_used += _footprint(nbytes[t], page) if t in copied[i] else 0
        for t, p in producer.items():
            if p in ran[i] and read_later(t, i):
                sram_used += _footprint(nbytes[t], page)
    fill = {m: (int(used), int(cap)) for m, used, cap in _FILL.findall(message)}
    assert fill.get("sram", (0, capacity)) == (sram_used, capacity), (fill, sram_used)
    assert fill.get("dram", (0, 0))[0] == dram_used, (fill, dram_used)
    free = capacity - sram_used
    waiting = 0
    for i in in_flight:
        for op in graph.ops:
            if op.name in ran[i] or any(producer.get(t) not in ran[i]
                                        for t in op.inputs if t in producer):
                continue
            missing = [t for t in op.inputs if t in graph.inputs and t not in copied[i]]
            want = (_footprint(nbytes[missing[0]], page) if missing
                    else sum(_footprint(nbytes[t], page) for t in op.outputs))
            assert want > free, (f"#{i} {op.name} wants {want} B and the SRAM has {free} B "
                                 f"free: not a deadlock ({message})")
            waiting += 1
    assert waiting, "a deadlock with nothing waiting"


def _check_too_large(doc: dict, job, message: str) -> None:
    sram = doc["soc"]["memories"]["sram"]
    capacity, page = round(sram["size_kib"] * 1024), round(sram["page_kib"] * 1024)
    name, nb = _TOO_LARGE.search(message).groups()
    assert job.graph.tensors[name].nbytes == int(nb), message
    assert _footprint(int(nb), page) > capacity, message


@SETTINGS
@given(tight_scenarios())
def test_a_memory_starved_run_completes_or_its_stop_is_real(case):
    doc, models = case
    scenario, jobs, sim, trace = outcome(doc, models)
    if isinstance(trace, SimulationError):
        message = str(trace)
        if message.startswith("deadlock"):
            event("deadlock")
            _check_deadlock(doc, jobs[0], sim.trace, message)
        else:
            event("too large")
            _check_too_large(doc, jobs[0], message)
        return
    event("completed")
    soc = scenario.device
    kinds = {**{n: u.kind for n, u in soc.units.items()}, **{n: "dma" for n in soc.dma},
             **{n: m.kind for n, m in soc.memories.items()}}
    t = tables(trace, kinds)
    s = summary(t, trace, scenario="tight", soc=soc.name, policy={}, seed=0)
    assert reconcile(trace, t, s) == []
    assert sim.pools["sram"].used == 0 and sim.pools["dram"].used == 0
    assert trace.memory_peak_bytes["sram"] <= trace.memory_capacity_bytes["sram"]


def _relu_chain_doc(sram_kib: float, in_flight: int = 3) -> tuple[dict, dict]:
    """x[1, 256] f32 (1 KiB) -> Relu -> Relu on one CPU working out of an SRAM of
    ``sram_kib`` (1 KiB pages); inputs in a DRAM; 4 inferences, ``in_flight`` at once."""
    model = relu_chain_model()
    pj = {"read_pj_per_byte": 1.0, "write_pj_per_byte": 1.0}
    cpu = relu_cpu(memory="sram", leakage_mw=0.0)
    doc = {"name": "tight", "soc": {
        "name": "one_cpu", "units": {"cpu": cpu}, "inputs_in": "dram",
        "memories": {"dram": {"kind": "dram", "size_kib": 64, "bw_gbps": 1.0, **pj},
                     "sram": {"kind": "sram", "size_kib": sram_kib, "page_kib": 1.0,
                              "bw_gbps": 1.0, **pj}},
        "dma": {"dma0": {"channels": 1, "bw_gbps": 1.0, "setup_ns": 0,
                         "energy_pj_per_byte": 1.0, "connects": ["dram", "sram"]}}},
        "workloads": [{"name": "w0", "model": "w0.onnx", "inferences": 4,
                       "max_in_flight": in_flight}],
        "policy": {"name": "single", "params": {"unit": "cpu"}},
        "run": {"seed": 0, "functional": False}}
    return doc, {"w0.onnx": model}


def _run(doc: dict, models: dict, folder: Path):
    """(jobs, simulation, trace or SimulationError) of a hand-written case."""
    _, jobs, sim = prepare(doc, models, folder)
    return jobs, sim, simulate(sim)


def test_the_deadlock_check_accepts_a_real_one_and_rejects_a_stop_with_room_left(tmp_path):
    # inferences 0 and 1 copy x in (2 KiB: the SRAM is full); each relu0 wants 1 KiB for its
    # output, inference 2 wants 1 KiB for its copy of x: all three wait, none can go on
    doc, models = _relu_chain_doc(2)
    jobs, sim, trace = _run(doc, models, tmp_path)
    message = str(trace)
    assert "sram 2048/2048 bytes in use" in message and "dram 3072/65536" in message
    _check_deadlock(doc, jobs[0], sim.trace, message)
    # the same stop with one more page in the SRAM: relu0 could have gone on
    bigger = {**doc, "soc": {**doc["soc"], "memories": {
        **doc["soc"]["memories"], "sram": {**doc["soc"]["memories"]["sram"], "size_kib": 3}}}}
    with pytest.raises(AssertionError, match="not a deadlock"):
        _check_deadlock(bigger, jobs[0], sim.trace, message.replace("2048/2048", "2048/3072"))
    # a fill that does not match what the trace leaves allocated
    with pytest.raises(AssertionError):
        _check_deadlock(doc, jobs[0], sim.trace, message.replace("2048/2048", "1024/2048"))
    # one inference at a time needs 2 KiB at most (x's copy, then h, then h and y): it runs
    (tmp_path / "one").mkdir()
    trace = _run(*_relu_chain_doc(2, in_flight=1), tmp_path / "one")[2]
    assert not isinstance(trace, SimulationError)
