"""The modern (normed) GPT in plain JAX, written from modded-nanogpt's `train_gpt.py`
(KellerJordan/modded-nanogpt) and dion's `models/gpt_model.py` (microsoft/dion), as an
independent check of modnorm::ModernGPT (bench/peers/gpt_agreement.py --arch modern):

    x = rms_norm(embed[tokens])
    per block:  x = x + attention(rms_norm(x));  x = x + mlp(rms_norm(x))
    logits = rms_norm(x) @ out^T, then cap * tanh(logits / cap) when a cap is given
    attention: q, k = rope(rms_norm(q)), rope(rms_norm(k)) per head (QK-norm before RoPE),
               softmax(q k^T / sqrt(d_head) + causal mask) v, merged, then O
    mlp:       relu(x W_in^T)^2 W_out^T (or the scaled GELU of modula)

RMSNorm has no weights: x / sqrt(mean(x^2) + eps) over the last axis, eps 1e-6 (modnorm's
default; F.rms_norm's is the dtype's epsilon). The Rope and the weight layout are modnorm's
(gpt_jax.rope as modula computes it; a Linear weight is [d_out, d_in], the embedding
[d_embed, vocab]); the parameter dict is gpt_jax's (flatten, unflatten). The coefficients c_l
come from the composition rules (gpt_rules's modula-rules tree), not from modnorm.
"""

import math

import jax
import jax.numpy as jnp

import gpt_jax
from gpt_jax import merge_heads, rope, split_heads
from gpt_rules import _Atom, _Bond, _Compose, _Tuple

EPS = 1e-6


def rms_norm(x):
    return x / jnp.sqrt(jnp.mean(x * x, axis=-1, keepdims=True) + EPS)


def attention(w, x, heads):
    q = rope(rms_norm(split_heads(x @ w["q"].T, heads)))
    k = rope(rms_norm(split_heads(x @ w["k"].T, heads)))
    v = split_heads(x @ w["v"].T, heads)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    t = scores.shape[-1]
    scores = jnp.where(jnp.tril(jnp.ones((t, t), dtype=bool)), scores, -jnp.inf)
    return merge_heads(jax.nn.softmax(scores, axis=-1) @ v) @ w["o"].T


def mlp(w, x, activation):
    h = x @ w["mlp_in"].T
    if activation == "gelu":
        h = jax.nn.gelu(h, approximate=False) / gpt_jax.GELU_MAX_SLOPE
    else:
        h = jnp.square(jax.nn.relu(h))
    return h @ w["mlp_out"].T


def forward(params, tokens, cfg):
    """Logits [B, T, V] for token ids [B, T] (cfg: heads, soft_cap (0: none), activation)."""
    x = rms_norm(params["embed"].T[tokens])
    for w in params["blocks"]:
        x = x + attention(w, rms_norm(x), cfg["heads"])
        x = x + mlp(w, rms_norm(x), cfg.get("activation", "squared_relu"))
    logits = rms_norm(x) @ params["out"].T
    cap = cfg.get("soft_cap", 0.0)
    return cap * jnp.tanh(logits / cap) if cap > 0 else logits


def loss(params, tokens, targets, cfg):
    """Mean cross-entropy over all B*T positions."""
    logp = jax.nn.log_softmax(forward(params, tokens, cfg), axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))


def coefficients(blocks, d_head, blocks_mass=5.0, activation="squared_relu"):
    """{role name: c_l} by the composition rules. Sensitivities: every atom, RMSNorm, Rope,
    the score product (1/d), mask, head split and merge 1; the Softmax sqrt(d_head) (it turns
    q.k / d into q.k / sqrt d); relu^2 2 (slope 2 relu(x) <= 2 for |x| <= 1), scaled GELU 1;
    the soft cap 1 (slope <= 1)."""
    def residual(f):  # Add{Identity, RMSNorm >> f}: concatenation, then the sum
        return _Compose(_Tuple(_Bond(1.0), _Compose(_Bond(1.0), f)), _Bond(1.0))

    def head(name):  # Linear >> SplitIntoHeads >> RMSNorm
        return _Compose(_Atom(name), _Bond(1.0), _Bond(1.0))

    pairs = []
    for i in range(blocks):
        p = f"blocks.{i}."
        scores = _Compose(_Tuple(head(p + "q"), head(p + "k")), _Bond(1.0), _Bond(1.0),
                          _Bond(1.0), _Bond(math.sqrt(d_head)))  # rope, qk, mask, softmax
        v = _Compose(_Atom(p + "v"), _Bond(1.0))
        att = _Compose(_Tuple(v, scores), _Bond(1.0), _Bond(1.0), _Atom(p + "o"))
        slope = 1.0 if activation == "gelu" else 2.0
        mlp_ = _Compose(_Atom(p + "mlp_in"), _Bond(slope), _Atom(p + "mlp_out"))
        pairs += [residual(att), residual(mlp_)]
    stack = _Compose(*pairs)
    stack.tare(blocks_mass / stack.mass)
    gpt = _Compose(_Atom("embed"), _Bond(1.0), stack, _Bond(1.0), _Atom("out"), _Bond(1.0))
    return {name: 1.0 / t for name, t in gpt.targets(1.0).items()}
