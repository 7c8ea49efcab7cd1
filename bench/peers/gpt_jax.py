"""modula's GPT in plain JAX, written from modula's published definitions
(modula-systems/modula `modula/bond.py`, `modula/compound.py`, `modula/abstract.py`), as an
independent check of modnorm::GPT (bench/peers/gpt_agreement.py).

Weights follow modnorm's layout: a Linear weight is [d_out, d_in] (y = x W^T), the embedding is
[d_embed, vocab] (column t is token t's vector). `params` is a dict:
    {"embed": [d, V], "blocks": [{"q", "k", "v", "o", "mlp_in", "mlp_out"}, ...], "out": [V, d]}

The modular coefficients c_l are derived here from masses and sensitivities by modula's rules
(`coefficients`), not copied from modnorm.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

# max_x d/dx gelu(x) for the exact (erf) GELU, attained at x = sqrt 2: Phi(sqrt 2) +
# sqrt 2 phi(sqrt 2) = erfc(-1)/2 + 1/(e sqrt pi) = 1.128904... modnorm divides by this exact
# value; modula divides by the rounded 1.1289 and (jax.nn.gelu's default) uses the tanh
# approximation of GELU. We follow modnorm here: exact GELU over the exact maximum slope.
GELU_MAX_SLOPE = 0.5 * math.erfc(-1.0) + 1.0 / (math.e * math.sqrt(math.pi))


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


# --- modula's composition rules (abstract.py), for the coefficients c_l ----------------------
# A composite M1 o M0 (M0 first) of mass M sends target norm t to its children as
# t m0 / (M s(M1)) and t m1 / M; a tuple sends t m_i / M to child i; an atom's dualized gradient
# is dualize(g) * t, so its coefficient is c = 1 / t for t = 1 at the root.

class _Atom:
    def __init__(self, name, mass=1.0):
        self.name, self.mass, self.sensitivity = name, mass, 1.0

    def tare(self, relative):
        self.mass *= relative

    def targets(self, t):
        return {self.name: t}


class _Bond:
    def __init__(self, sensitivity=1.0):
        self.mass, self.sensitivity = 0.0, sensitivity

    def tare(self, relative):
        pass

    def targets(self, t):
        return {}


class _Compose:  # children applied left to right
    def __init__(self, *children):
        self.children = children
        self.mass = sum(c.mass for c in children)
        self.sensitivity = math.prod(c.sensitivity for c in children)

    def tare(self, relative):
        self.mass *= relative
        for c in self.children:
            c.tare(relative)

    def targets(self, t):
        out = {}
        if self.mass == 0:
            return out
        for k, c in enumerate(self.children):
            after = math.prod(d.sensitivity for d in self.children[k + 1:])
            out.update(c.targets(t * c.mass / self.mass / after))
        return out


class _Tuple(_Compose):
    def __init__(self, *children):
        super().__init__(*children)
        self.sensitivity = sum(c.sensitivity for c in children)

    def targets(self, t):
        out = {}
        if self.mass == 0:
            return out
        for c in self.children:
            out.update(c.targets(t * c.mass / self.mass))
        return out


def coefficients(blocks, blocks_mass=5.0, final_scale=1.0):
    """{role name: c_l} for the GPT by modula's rules; names as in `role_names`."""
    def residual(f, a):  # Add o ((1-a) Identity, a f)
        return _Compose(_Tuple(_Bond(1 - a), _Compose(f, _Bond(a))), _Bond(1.0))

    a = 1.0 / (2 * blocks)
    pairs = []
    for i in range(blocks):
        p = f"blocks.{i}."
        qk = _Compose(_Tuple(_Atom(p + "q"), _Atom(p + "k")), _Bond(1.0))  # (Q, K) >> Rope
        scores = _Compose(qk, _Bond(1.0), _Bond(1.0), _Bond(1.0))  # QK^T/d, mask, softmax(1)
        att = _Compose(_Tuple(_Atom(p + "v"), scores), _Bond(1.0), _Bond(1.0 / 3.0),
                       _Atom(p + "o"))
        mlp_ = _Compose(_Atom(p + "mlp_in"), _Bond(1.0), _Atom(p + "mlp_out"))
        pairs += [residual(att, a), residual(mlp_, a)]
    stack = _Compose(*pairs)
    stack.tare(blocks_mass / stack.mass)
    gpt = _Compose(_Atom("embed"), stack, _Atom("out"), _Bond(final_scale))
    return {name: 1.0 / t for name, t in gpt.targets(1.0).items()}


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


def flatten(params):
    flat = {"embed": params["embed"], "out": params["out"]}
    for i, w in enumerate(params["blocks"]):
        for role, value in w.items():
            flat[f"blocks.{i}.{role}"] = value
    return flat


def unflatten(flat, blocks):
    return {"embed": flat["embed"], "out": flat["out"],
            "blocks": [{role: flat[f"blocks.{i}.{role}"]
                        for role in ("q", "k", "v", "o", "mlp_in", "mlp_out")}
                       for i in range(blocks)]}


# --- the modular training step (modnorm's Optimizer defaults) -------------------------------

QUINTIC = (3.4445, -4.7750, 2.0315)  # Muon's quintic (Jordan et al. 2024), 5 steps


def newton_schulz(g, steps=5):
    """U V^T of g [d_out, d_in] approximately: X_0 = g / ||g||_F, then X <- a X + (b A + c A^2) X
    with A = X X^T, on the wide orientation (modnorm's OrthogonalizeMethod::quintic, epsilon 0)."""
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    x = x / jnp.linalg.norm(x)
    a, b, c = QUINTIC
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def direction(name, m):
    """The atom's duality map of the momentum m: columns over their RMS for the embedding,
    sqrt(d_out / d_in) U V^T (Newton-Schulz) for the matrices."""
    if name == "embed":
        rms = jnp.sqrt(jnp.mean(m * m, axis=0, keepdims=True))
        return jnp.where(rms > 0, m / jnp.where(rms > 0, rms, 1.0), 0.0)
    return math.sqrt(m.shape[0] / m.shape[1]) * newton_schulz(m)


def modular_step(params, momenta, tokens, targets, cfg, coefficient, lr, beta=0.95):
    """One step of modnorm's default Optimizer: loss and gradients, EMA momentum
    m <- beta m + (1 - beta) g, W <- W - (lr / c_l) direction(m). Flat role-named dicts
    (flatten); returns (params, momenta, loss). jit it with cfg, coefficient static."""
    value, grads = jax.value_and_grad(
        lambda p: loss(unflatten(p, cfg["blocks"]), tokens, targets, cfg))(params)
    momenta = {k: beta * momenta[k] + (1 - beta) * grads[k] for k in params}
    params = {k: params[k] - (lr / coefficient[k]) * direction(k, momenta[k]) for k in params}
    return params, momenta, value
