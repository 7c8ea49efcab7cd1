"""modula's GPT in plain JAX, written from modula's published definitions
(modula-systems/modula `modula/bond.py`, `modula/compound.py`, `modula/abstract.py`), as an
independent check of modnorm::GPT (bench/peers/gpt_agreement.py).

Weights follow modnorm's layout: a Linear weight is [d_out, d_in] (y = x W^T), the embedding is
[d_embed, vocab] (column t is token t's vector). `params` is a dict:
    {"embed": [d, V], "blocks": [{"q", "k", "v", "o", "mlp_in", "mlp_out"}, ...], "out": [V, d]}

The modular coefficients c_l are derived from masses and sensitivities by modula's rules
(`coefficients`, in gpt_rules.py, shared with the PyTorch model gpt_torch.py), not copied from
modnorm.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from gpt_rules import GELU_MAX_SLOPE, coefficients, flatten, newton_schulz, unflatten  # noqa: F401


def split_heads(x, heads):
    """[B, T, h d] -> [B, h, T, d]: consecutive blocks of d entries are the heads."""
    b, t, width = x.shape
    return x.reshape(b, t, heads, width // heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    """[B, h, T, d] -> [B, T, h d]."""
    b, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)


def rope(x, base=10000.0, variant="as_computed"):
    """Rotary embedding of x [B, h, T, d] with r = d/2, f_i = base^(-i/r), a_ti = t f_i.

    modula's Rope.rotate takes x1 = x[r:], x2 = x[:r] and forms (c x1 + s x2, -s x1 + c x2),
    but its (c, s) come from get_cached, which returns (sin, cos): so
      variant "as_named": c = cos, s = sin, the formula as its names read:
          y[:r] = cos x[r:] + sin x[:r],  y[r:] = cos x[:r] - sin x[r:];
      variant "as_computed": c = sin, s = cos, what modula's code evaluates (and modnorm's
          attention.hpp): y[:r] = sin x[r:] + cos x[:r],  y[r:] = sin x[:r] - cos x[r:].
    Both are orthogonal and relative (q.k depends on t - s only), with opposite rotation
    directions, so they give different scores.
    """
    _, _, t, d = x.shape
    r = d // 2
    inverse_frequencies = 1.0 / base ** (jnp.arange(r, dtype=x.dtype) / r)
    angles = jnp.outer(jnp.arange(t, dtype=x.dtype), inverse_frequencies)  # [T, r]
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    if variant == "as_computed":
        cos, sin = sin, cos
    elif variant != "as_named":
        raise ValueError(f"rope: unknown variant {variant!r}")
    low, high = x[..., :r], x[..., r:]
    return jnp.concatenate([cos * high + sin * low, cos * low - sin * high], axis=-1)


def attention(w, x, heads, attention_scale=1.0, rope_variant="as_computed"):
    """modula's Attention (causal): O((1/3) softmax(mask(rope(q) rope(k)^T / d)) v)."""
    q = rope(split_heads(x @ w["q"].T, heads), variant=rope_variant)
    k = rope(split_heads(x @ w["k"].T, heads), variant=rope_variant)
    v = split_heads(x @ w["v"].T, heads)
    scores = q @ k.transpose(0, 1, 3, 2) / q.shape[-1]  # 1/d, not 1/sqrt d (Large et al. 2024)
    t = scores.shape[-1]
    scores = jnp.where(jnp.tril(jnp.ones((t, t), dtype=bool)), scores, -jnp.inf)
    p = jax.nn.softmax(attention_scale * scores, axis=-1)
    return merge_heads((p @ v) / 3.0) @ w["o"].T  # 1/3: the tuple (V, scores) has sensitivity 3


def mlp(w, x):
    h = jax.nn.gelu(x @ w["mlp_in"].T, approximate=False) / GELU_MAX_SLOPE
    return h @ w["mlp_out"].T


def forward(params, tokens, cfg, rope_variant="as_computed"):
    """Logits [B, T, V] for token ids [B, T] (cfg: heads, final_scale, attention_scale)."""
    x = params["embed"].T[tokens]  # [B, T, d]
    a = 1.0 / (2 * len(params["blocks"]))  # 2L residual connections
    for w in params["blocks"]:
        x = (1 - a) * x + a * attention(w, x, cfg["heads"], cfg.get("attention_scale", 1.0),
                                        rope_variant)
        x = (1 - a) * x + a * mlp(w, x)
    return cfg.get("final_scale", 1.0) * (x @ params["out"].T)


def loss(params, tokens, targets, cfg, rope_variant="as_computed"):
    """Mean cross-entropy over all B*T positions."""
    logits = forward(params, tokens, cfg, rope_variant)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))


# --- the duality map ------------------------------------------------------------------------

def dualize_spectral(g):
    """sqrt(d_out / d_in) U V^T, the exact polar factor (SVD in float64)."""
    g = np.asarray(g, dtype=np.float64)
    u, _, vt = np.linalg.svd(g, full_matrices=False)
    return math.sqrt(g.shape[0] / g.shape[1]) * (u @ vt)


def dualize_columns(g):
    """Each column divided by its RMS (a zero column stays zero): the embedding's column norm."""
    g = np.asarray(g, dtype=np.float64)
    rms = np.sqrt(np.mean(g * g, axis=0, keepdims=True))
    return np.where(rms > 0, g / np.where(rms > 0, rms, 1.0), 0.0)


def dualize(grads, coefficient):
    """{role: dualize(g) / c} for flat role-named gradients."""
    return {name: (dualize_columns(g) if name == "embed" else dualize_spectral(g))
            / coefficient[name] for name, g in grads.items()}


# --- the modular training step (modnorm's Optimizer defaults) -------------------------------

def direction(name, m):
    """The atom's duality map of the momentum m: columns over their RMS for the embedding,
    sqrt(d_out / d_in) U V^T (Newton-Schulz) for the matrices."""
    if name == "embed":
        rms = jnp.sqrt(jnp.mean(m * m, axis=0, keepdims=True))
        return jnp.where(rms > 0, m / jnp.where(rms > 0, rms, 1.0), 0.0)
    return math.sqrt(m.shape[0] / m.shape[1]) * newton_schulz(m, jnp.linalg.norm)


def modular_step(params, momenta, tokens, targets, cfg, coefficient, lr, beta=0.95):
    """One step of modnorm's default Optimizer: loss and gradients, EMA momentum
    m <- beta m + (1 - beta) g, W <- W - (lr / c_l) direction(m). Flat role-named dicts
    (flatten); returns (params, momenta, loss). jit it with cfg, coefficient static."""
    value, grads = jax.value_and_grad(
        lambda p: loss(unflatten(p, cfg["blocks"]), tokens, targets, cfg))(params)
    momenta = {k: beta * momenta[k] + (1 - beta) * grads[k] for k in params}
    params = {k: params[k] - (lr / coefficient[k]) * direction(k, momenta[k]) for k in params}
    return params, momenta, value
