"""Builds socsim's TFLite reference data: small int8 Keras models, their TFLite reference-kernel
intermediates, and their tf2onnx conversions (tests/data/tflite/).

Run with the separate reference environment (never the project's):

    python3 -m venv /work/envs/tf
    /work/envs/tf/bin/pip install "tensorflow-cpu==2.21.*" "tf2onnx==1.17.*" "ai-edge-litert==2.3.*"
    /work/envs/tf/bin/python tools/tflite/make_models.py [--out tests/data/tflite]

For every model: Keras (seeded weights) -> TFLite converter, full-integer post-training
quantization with a representative dataset drawn from a fixed seed -> ``<name>.tflite``; the
ai-edge-litert interpreter with the reference op resolver (``OpResolverType.BUILTIN_REF``) and
``experimental_preserve_all_tensors=True`` runs it on fixed inputs and every tensor it holds is
saved to ``<name>.npz`` (key ``t<index>``, the tensor's index in subgraph 0; ``names`` lists
the tensor names by index; constants are left out, they are in the .tflite); tf2onnx converts the .tflite to ``<name>.onnx`` (opset 17).
``versions.json`` records the versions used.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras = tf.keras
layers = keras.layers

SEED = 20261206
CALIBRATION_SAMPLES = 32


def _seed(k: int) -> None:
    keras.utils.set_random_seed(SEED + k)


# ---- op models: every op of issue 11 item 2 --------------------------------------------------

def conv_ops() -> keras.Model:
    """CONV_2D with fused RELU, RELU6 and none; DEPTHWISE_CONV_2D; FULLY_CONNECTED."""
    x = inp = keras.Input((12, 12, 3), batch_size=1)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(8, 3, strides=2, padding="valid")(x)
    x = layers.ReLU(6.0)(x)
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu")(x)
    x = layers.Conv2D(6, 1, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(10)(x)
    return keras.Model(inp, x, name="conv_ops")


def binary_ops() -> keras.Model:
    """ADD (same shape and broadcast), SUB, MUL, CONCATENATION (requantizing), RESHAPE, PAD."""
    a = keras.Input((6, 6, 4), batch_size=1)
    ca = layers.Conv2D(4, 1)(a)
    cb = layers.Conv2D(4, 3, padding="same")(a)
    s = layers.Add()([ca, cb])
    d = layers.Subtract()([ca, s])
    m = layers.Multiply()([s, d])
    g = layers.GlobalMaxPooling2D(keepdims=True)(cb)
    bsum = layers.Add()([m, g])  # broadcast over H, W
    cat = layers.Concatenate()([bsum, ca, d])
    p = layers.ZeroPadding2D(((1, 0), (0, 1)))(cat)
    r = layers.Reshape((7 * 7, 12))(p)
    r = layers.Reshape((7, 7, 12))(r)
    out = layers.Conv2D(3, 1)(r)
    return keras.Model(a, out, name="binary_ops")


def pool_ops() -> keras.Model:
    """AVERAGE_POOL_2D (valid and same padding: divisor = valid elements), MAX_POOL_2D, MEAN."""
    x = inp = keras.Input((11, 11, 5), batch_size=1)
    x = layers.Conv2D(6, 3, padding="same")(x)
    a = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    b = layers.MaxPooling2D(2, strides=2, padding="same")(x)
    c = layers.AveragePooling2D(2, strides=2, padding="valid")(x)
    m = layers.Concatenate()([layers.GlobalAveragePooling2D()(a), layers.GlobalAveragePooling2D()(b),
                              layers.GlobalAveragePooling2D()(c)])
    k = layers.GlobalAveragePooling2D(keepdims=True)(x)
    k = layers.Flatten()(k)
    return keras.Model(inp, [m, k], name="pool_ops")


def activation_ops() -> keras.Model:
    """SOFTMAX, LOGISTIC, TANH, HARD_SWISH."""
    x = inp = keras.Input((4, 4, 8), batch_size=1)
    x = layers.Conv2D(8, 3, padding="same")(x)
    h = layers.Activation("hard_swish")(x)
    t = layers.Activation("tanh")(x)
    s = layers.Activation("sigmoid")(x)
    f = layers.Flatten()(layers.Concatenate()([h, t, s]))
    y = layers.Dense(10)(f)
    y = layers.Softmax()(y)
    return keras.Model(inp, [y, h], name="activation_ops")


def quantize_ops() -> keras.Model:
    """QUANTIZE (float -> int8 at the input), DEQUANTIZE (int8 -> float at the output)."""
    x = inp = keras.Input((8, 8, 2), batch_size=1)
    x = layers.Conv2D(4, 3, activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(5)(x)
    return keras.Model(inp, x, name="quantize_ops")


# ---- the zoo's architectures, shaped like MLPerf Tiny's (reduced) ----------------------------

def ds_cnn() -> keras.Model:
    """DS-CNN (small) keyword spotting, MLPerf Tiny's KWS network: 49x10 MFCC input."""
    x = inp = keras.Input((49, 10, 1), batch_size=1)
    x = layers.Conv2D(64, (10, 4), strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(64, 1, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.AveragePooling2D((25, 5))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(12)(x)
    x = layers.Softmax()(x)
    return keras.Model(inp, x, name="ds_cnn")


def resnet8() -> keras.Model:
    """ResNet-8, MLPerf Tiny's image classification network on 32x32x3."""
    def block(x, filters, stride):
        y = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU()(y)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        y = layers.BatchNormalization()(y)
        if stride != 1 or x.shape[-1] != filters:
            x = layers.Conv2D(filters, 1, strides=stride)(x)
        return layers.ReLU()(layers.Add()([x, y]))

    x = inp = keras.Input((32, 32, 3), batch_size=1)
    x = layers.Conv2D(16, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = block(x, 16, 1)
    x = block(x, 32, 2)
    x = block(x, 64, 2)
    x = layers.AveragePooling2D(8)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(10)(x)
    x = layers.Softmax()(x)
    return keras.Model(inp, x, name="resnet8")


def mobilenet_v2() -> keras.Model:
    """MobileNetV2 with width 0.35 (MLPerf Tiny's visual wake words network) at 48x48."""
    inp = keras.Input((48, 48, 3), batch_size=1)
    return keras.applications.MobileNetV2(input_tensor=inp, alpha=0.35, weights=None,
                                          classes=2, classifier_activation="softmax")


MODELS = {
    "conv_ops": (conv_ops, "int8"),
    "binary_ops": (binary_ops, "int8"),
    "pool_ops": (pool_ops, "int8"),
    "activation_ops": (activation_ops, "int8"),
    "quantize_ops": (quantize_ops, "float32"),
    "ds_cnn": (ds_cnn, "int8"),
    "resnet8": (resnet8, "int8"),
    "mobilenet_v2": (mobilenet_v2, "int8"),
}


def _perturb_batchnorm(model: keras.Model, rng: np.random.Generator) -> None:
    """Gives BatchNormalization layers non-trivial statistics (folded into the convs)."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                               rng.uniform(-0.2, 0.2, beta.shape).astype(np.float32),
                               rng.uniform(-0.1, 0.1, mean.shape).astype(np.float32),
                               rng.uniform(0.5, 1.5, var.shape).astype(np.float32)])


def convert(model: keras.Model, io_type: str, rng: np.random.Generator) -> bytes:
    shapes = [tuple(i.shape) for i in model.inputs]
    calib = [[rng.uniform(-1.0, 1.0, s).astype(np.float32) for s in shapes]
             for _ in range(CALIBRATION_SAMPLES)]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(calib)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if io_type == "int8":
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def run_reference(path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    feeds = {}
    for d in interp.get_input_details():
        if np.dtype(d["dtype"]) == np.int8:
            v = rng.integers(-128, 128, size=d["shape"], dtype=np.int8)
        else:
            v = rng.uniform(-1.0, 1.0, size=d["shape"]).astype(d["dtype"])
        interp.set_tensor(d["index"], v)
        feeds[d["index"]] = v
    interp.invoke()
    out: dict[str, np.ndarray] = {}
    names = []
    computed = {i for op in interp._get_ops_details() for i in op["outputs"]}
    computed |= {d["index"] for d in interp.get_input_details()}
    for d in sorted(interp.get_tensor_details(), key=lambda d: d["index"]):
        names.append(d["name"])
        if d["index"] not in computed:  # constants: in the .tflite already
            continue
        try:
            value = interp.get_tensor(d["index"])
        except ValueError:  # tensors without data (none expected with preserve_all_tensors)
            continue
        if value is not None and value.size:
            out[f"t{d['index']}"] = np.array(value)
    out["names"] = np.array(names)
    return out


def to_onnx(src: Path, dst: Path) -> None:
    subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(src), "--output",
                    str(dst), "--opset", "17"], check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "tests" / "data"
                                          / "tflite"))
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for k, (name, (build, io_type)) in enumerate(MODELS.items()):
        if args.only and name not in args.only:
            continue
        _seed(k)
        rng = np.random.default_rng([SEED, k])
        model = build()
        _perturb_batchnorm(model, rng)
        path = out / f"{name}.tflite"
        path.write_bytes(convert(model, io_type, rng))
        np.savez_compressed(out / f"{name}.npz", **run_reference(path, rng))
        to_onnx(path, out / f"{name}.onnx")
        print(f"{name}: {path.stat().st_size} bytes")
    import ai_edge_litert
    import tf2onnx
    (out / "versions.json").write_text(json.dumps({
        "tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__,
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", "unknown"),
        "numpy": np.__version__, "seed": SEED, "onnx_opset": 17}, indent=2) + "\n")


if __name__ == "__main__":
    main()
