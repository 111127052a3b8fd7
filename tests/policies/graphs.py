"""Small float ONNX graphs for the policy tests (onnx.helper), and a direct simulation of a
plan (no policy involved) used as the brute-force reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from socsim.config.scenario import RunSettings, Workload
from socsim.policies.base import Plan
from socsim.sim.engine import Job, Simulation

HERE = Path(__file__).parent
SOC = HERE / "search_soc.yaml"


def _model(nodes, inits, inp, out, shape_in, shape_out) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(inp, TensorProto.FLOAT, shape_in)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, shape_out)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _w(name: str, shape, seed: int) -> onnx.TensorProto:
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)


def chain6(k: int = 64) -> onnx.ModelProto:
    """x -> MatMul -> Relu -> MatMul -> Relu -> MatMul -> Sigmoid: six ops, the last one the
    accelerator lacks."""
    nodes, inits, prev = [], [], "x"
    for i in range(3):
        inits.append(_w(f"W{i}", (k, k), i))
        nodes.append(helper.make_node("MatMul", [prev, f"W{i}"], [f"m{i}"], name=f"mm{i}"))
        act = "Relu" if i < 2 else "Sigmoid"
        nodes.append(helper.make_node(act, [f"m{i}"], [f"a{i}"], name=f"{act.lower()}{i}"))
        prev = f"a{i}"
    return _model(nodes, inits, "x", prev, [16, k], [16, k])


def fork_join(k: int = 64) -> onnx.ModelProto:
    """x -> (MatMul -> Relu) and (MatMul -> Sigmoid) -> Add -> MatMul: two parallel branches."""
    inits = [_w("Wa", (k, k), 1), _w("Wb", (k, k), 2), _w("Wc", (k, k), 3)]
    nodes = [helper.make_node("MatMul", ["x", "Wa"], ["ma"], name="mma"),
             helper.make_node("Relu", ["ma"], ["ra"], name="relua"),
             helper.make_node("MatMul", ["x", "Wb"], ["mb"], name="mmb"),
             helper.make_node("Sigmoid", ["mb"], ["sb"], name="sigb"),
             helper.make_node("Add", ["ra", "sb"], ["s"], name="add"),
             helper.make_node("MatMul", ["s", "Wc"], ["y"], name="mmc")]
    return _model(nodes, inits, "x", "y", [32, k], [32, k])


def big_kernel_conv() -> onnx.ModelProto:
    """A 3x3 Conv (the accelerator runs it) then a 5x5 Conv (over its kernel_max [3, 3])."""
    inits = [_w("K3", (8, 4, 3, 3), 1), _w("K5", (8, 8, 5, 5), 2)]
    nodes = [helper.make_node("Conv", ["x", "K3"], ["c3"], name="conv3", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c3", "K5"], ["y"], name="conv5", pads=[2, 2, 2, 2])]
    return _model(nodes, inits, "x", "y", [1, 4, 16, 16], [1, 8, 16, 16])


def save(model: onnx.ModelProto, folder: Path, name: str) -> Path:
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    return path


def simulate(soc, graph, plan: Plan, inferences: int = 1, max_in_flight: int = 1):
    """(mean latency ns, total energy pJ) of ``plan`` run directly by the engine."""
    w = Workload(name="w", model=graph.path or "m.onnx", inferences=inferences,
                 max_in_flight=max_in_flight)
    trace = Simulation(soc, [Job(w, graph, plan)], RunSettings(functional=False)).run()
    lat = [end - start for _, _, start, end, _ in trace.inferences]
    return sum(lat) / len(lat), trace.ledger.total_pj()
