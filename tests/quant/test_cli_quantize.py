"""``socsim quantize``: a run writes a model both engines agree on; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

import socsim
from socsim.cli import main

W = Path(__file__).parents[2] / "workloads"


def test_quantize_writes_model_table_and_report(tmp_path, capsys):
    calib = tmp_path / "calib.npz"
    np.savez(calib, input=np.load(W / "digits_calib.npz")["input"][:32])
    test = dict(np.load(W / "digits_test.npz"))
    ev = tmp_path / "eval.npz"
    np.savez(ev, input=test["input"][:100], labels=test["labels"][:100])
    out = tmp_path / "q.onnx"
    rc = main([
        "quantize", str(W / "digits_cnn.onnx"), "--calib", str(calib), "--out", str(out),
        "--scheme", "mixed", "--budget-bytes", "10000", "--per-channel", "--eval", str(ev),
        "--report", str(tmp_path / "rep")])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "conv2" in text and "top-1 accuracy" in text
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["weight_bytes"] <= 10000
    assert {v["variant"] for v in summary["variants"]} >= {"float", "int8 per-tensor"}
    assert (tmp_path / "rep" / "sensitivity.png").stat().st_size > 1000
    q = onnx.load(out)
    x = test["input"][:8]
    ref = ort.InferenceSession(q.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    ours = socsim.execute(q, {"input": x}, qdq="reference")["logits"]
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("not an npz")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, image=np.zeros((2, 1, 8, 8), np.float32))
    shape = tmp_path / "shape.npz"
    np.savez(shape, input=np.zeros((2, 3, 8, 8), np.float32))
    model = str(W / "digits_cnn.onnx")
    cases = [
        (["quantize", model, "--calib", str(shape), "--out", "x.onnx"],
         "shape.npz: the calibration data (--calib): array 'input' has shape (2, 3, 8, 8); "
         "expected (N, 1, 8, 8)"),
        (["quantize", model, "--calib", str(W / "digits_calib.npz"), "--out", "x.onnx",
          "--eval", str(wrong)],
         "wrong.npz: the evaluation data (--eval) lacks arrays for model inputs ['input']; it "
         "has ['image']"),
        (["quantize", model, "--calib", str(bad), "--out", "x.onnx"],
         "bad.npz: the calibration data (--calib) is not an .npz archive"),
        (["quantize", model, "--calib", str(wrong), "--out", "x.onnx"],
         "lacks arrays for model inputs ['input']"),
        (["quantize", str(bad), "--calib", str(wrong), "--out", "x.onnx"], "not a readable ONNX"),
        (["quantize", model, "--calib", str(wrong), "--out", "x.onnx", "--scheme", "int3"],
         "is not one of int8"),
        (["quantize", model, "--calib", str(wrong), "--out", "x.onnx", "--scheme", "mixed"],
         "needs exactly one of"),
        (["quantize", model, "--calib", str(wrong), "--out", "x.onnx", "--device",
          str(W.parent / "devices" / "imx8mp.yaml"), "--unit", "tpu"], "no unit 'tpu'"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)


def test_dynamic_scheme(tmp_path, capsys):
    out = tmp_path / "dyn.onnx"
    assert main(["quantize", str(W / "transformer_block.onnx"), "--out", str(out),
                 "--scheme", "dynamic"]) == 0
    assert "MatMulInteger" in capsys.readouterr().out
    assert sum(n.op_type == "DynamicQuantizeLinear" for n in onnx.load(out).graph.node) >= 4
    assert main(["quantize", str(W / "digits_cnn.onnx"), "--out", str(out)]) == 1
    assert "needs --calib" in capsys.readouterr().err
