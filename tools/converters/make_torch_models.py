"""Exports small torch nets to ONNX (float) for socsim's converter-pattern tests.

Run in the torch environment (never socsim's own; torch is not a socsim dependency)::

    python3 -m venv /work/envs/torch && /work/envs/torch/bin/pip install torch==2.13.0 onnx onnxscript
    /work/envs/torch/bin/python tools/converters/make_torch_models.py

then quantize them with onnxruntime's quantizer in socsim's venv::

    python tools/converters/quantize_ort.py

Outputs (committed, each < 200 KB) in workloads/converters/:

- ``torch_mbblock.onnx``: ZeroPad2d -> Conv 3x3 + BatchNorm + ReLU6 -> depthwise 3x3 + BatchNorm
  + ReLU6 -> pointwise 1x1 + BatchNorm -> residual Add -> ReLU -> global average pool ->
  flatten -> Linear: the patterns a converter leaves (Pad, BatchNorm, Clip, Flatten).
  torch 2.13's default exporter (torch.export) folds the Pad and the BatchNorms itself;
  ``torch_mbblock_ts.onnx`` is the same net from the TorchScript exporter, which keeps them
  (Pad, BatchNormalization, Flatten) for the runtime to fold.
- ``torch_mlp.onnx``: Linear + ReLU -> Linear (Gemm).

Weights come from ``torch.manual_seed(0)``; BatchNorm statistics are set from a seeded
generator so the folds have something to fold.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from torch import nn

OUT = Path(__file__).resolve().parents[2] / "workloads" / "converters"
OPSET = 17


def _bn(c: int, gen: torch.Generator) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.1 * torch.randn(c, generator=gen))
        bn.bias.copy_(0.1 * torch.randn(c, generator=gen))
        bn.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
        bn.running_var.copy_(1 + 0.1 * torch.rand(c, generator=gen))
    return bn


class MbBlock(nn.Module):
    """A MobileNetV2-like block with an explicit pad and a residual add."""

    def __init__(self, gen: torch.Generator) -> None:
        super().__init__()
        self.pad = nn.ZeroPad2d(1)
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, bias=False), _bn(16, gen), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False),
                                _bn(16, gen), nn.ReLU6())
        self.pw = nn.Sequential(nn.Conv2d(16, 16, 1, bias=False), _bn(16, gen))
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(self.pad(x))
        y = torch.relu(self.pw(self.dw(s)) + s)
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(64, 32), nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


def export(model: nn.Module, shape: tuple[int, ...], name: str, optimize: bool = True
           ) -> Path:
    """torch.onnx.export (the torch.export-based exporter, torch 2.13's default);
    ``optimize=False`` keeps what its graph optimizer would fold (Pad, BatchNormalization)."""
    path = OUT / f"{name}.onnx"
    x = torch.zeros(shape)
    torch.onnx.export(model.eval(), (x,), str(path), input_names=["input"],
                      output_names=["logits"], opset_version=OPSET, dynamo=True,
                      external_data=False, optimize=optimize)
    return path


def export_torchscript(model: nn.Module, shape: tuple[int, ...], name: str) -> Path:
    """The TorchScript exporter (``dynamo=False``) keeping BatchNormalization
    (``TrainingMode.PRESERVE`` on an eval-mode model) and the Pad; the Pad's constant
    pads subgraph is evaluated here (onnx.reference), as any runtime folds it."""
    path = OUT / f"{name}.onnx"
    torch.onnx.export(model.eval(), (torch.zeros(shape),), str(path), input_names=["input"],
                      output_names=["logits"], opset_version=OPSET, dynamo=False,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    onnx.save(_fold_constants(onnx.load(str(path))), str(path))
    return path


def _fold_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """Nodes whose inputs are all constants replaced by initializers (onnx.reference)."""
    g = model.graph
    known = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    kept = []
    for node in g.node:
        if all(i in known for i in node.input if i):
            run = ReferenceEvaluator(helper.make_graph(
                [node], "one", [], [helper.make_tensor_value_info(o, 0, None)
                                    for o in node.output],
                [numpy_helper.from_array(known[i], i) for i in node.input if i]),
                opsets={"": model.opset_import[0].version})
            for name, value in zip(node.output, run.run(None, {})):
                known[name] = np.asarray(value)
            continue
        kept.append(node)
    used = {i for n in kept for i in n.input}
    del g.node[:]
    g.node.extend(kept)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in known.items() if k in used)
    return model


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    block = MbBlock(gen)
    paths = [export(block, (1, 3, 32, 32), "torch_mbblock"),
             export_torchscript(block, (1, 3, 32, 32), "torch_mbblock_ts"),
             export(Mlp(), (1, 64), "torch_mlp")]
    for path in paths:
        print(f"{path.relative_to(OUT.parents[1])}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
