"""One post-LayerNorm transformer encoder block (Vaswani et al., "Attention Is All You Need",
NeurIPS 2017; BERT's layout), written the way PyTorch/HF exports write it.

Sequence 64, ``d_model`` 128, 4 heads of 32, FFN 512. Q/K/V and output projections are MatMul +
Add; heads are split by Reshape + Transpose; scores are ``Q @ K^T / sqrt(32)`` then Softmax;
GELU is the exact Erf form ``x * 0.5 * (1 + erf(x / sqrt(2)))``; both sub-layers are followed by
a residual Add and LayerNormalization.

Parameters: 4 x (128x128 + 128) + 2 x 2 x 128 + (128x512 + 512) + (512x128 + 128) = 198,272.
MACs: projections 4 x 64x128x128, attention 2 x 4 x 64x64x32, FFN 2 x 64x128x512 = 13,631,488.
"""

from __future__ import annotations

import math

import onnx

from socsim.zoo._builder import GraphBuilder, Value

SEQ = 64
D_MODEL = 128
HEADS = 4
D_FF = 512
INPUT_SHAPE = (1, SEQ, D_MODEL)


def _heads(g: GraphBuilder, x: Value, name: str, perm: tuple[int, ...]) -> Value:
    x = g.reshape(x, f"{name}_reshape", (1, SEQ, HEADS, D_MODEL // HEADS))
    return g.transpose(x, f"{name}_transpose", perm)


def _attention(g: GraphBuilder, x: Value) -> Value:
    q = _heads(g, g.linear(x, "attn_q", D_MODEL), "attn_q", (0, 2, 1, 3))
    k = _heads(g, g.linear(x, "attn_k", D_MODEL), "attn_k", (0, 2, 3, 1))
    v = _heads(g, g.linear(x, "attn_v", D_MODEL), "attn_v", (0, 2, 1, 3))
    scores = g.matmul(q, k, "attn_scores_matmul")
    scores = g.scalar_op(
        "Div", scores, "attn_scores_scale", "attn_scale", math.sqrt(D_MODEL // HEADS)
    )
    probs = g.softmax(scores, "attn_softmax")
    ctx = g.matmul(probs, v, "attn_context_matmul")
    ctx = g.transpose(ctx, "attn_context_transpose", (0, 2, 1, 3))
    ctx = g.reshape(ctx, "attn_context_reshape", (1, SEQ, D_MODEL))
    return g.linear(ctx, "attn_out", D_MODEL)


def _gelu(g: GraphBuilder, x: Value, p: str) -> Value:
    e = g.unary("Erf", g.scalar_op("Div", x, f"{p}_div", "sqrt2", math.sqrt(2.0)), f"{p}_erf")
    e = g.scalar_op("Add", e, f"{p}_add", "one", 1.0)
    return g.scalar_op("Mul", g.mul(x, e, f"{p}_mul"), f"{p}_half", "half", 0.5)


def build(seed: int = 0) -> onnx.ModelProto:
    """Builds the float32 block (input ``input`` [1,64,128], output ``output`` [1,64,128]).

    Args:
        seed: weight seed.
    """
    g = GraphBuilder("transformer_block", seed)
    x = g.input("input", INPUT_SHAPE)
    x = g.layer_norm(g.add(x, _attention(g, x), "attn_residual_add"), "attn_layernorm")
    y = g.linear(_gelu(g, g.linear(x, "ffn_fc1", D_FF), "ffn_gelu"), "ffn_fc2", D_MODEL)
    y = g.layer_norm(g.add(x, y, "ffn_residual_add"), "ffn_layernorm", out="output")
    g.output(y)
    return g.model("Post-LN transformer encoder block (seq 64, d 128, 4 heads, FFN 512), seeded")
