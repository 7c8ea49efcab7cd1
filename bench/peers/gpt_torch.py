"""modula's GPT and the modular training step in PyTorch: the model and step of gpt_jax.py,
written from the same definitions (modula-systems/modula `modula/bond.py`,
`modula/compound.py`), for the GPT training-step benchmark (gpt_speed.py), eager or under
torch.compile.

Same layout as gpt_jax.py: a Linear weight is [d_out, d_in] (y = x W^T), the embedding is
[d_embed, vocab]; `params` is the flat role-named dict of gpt_rules.flatten ("embed", "out",
"blocks.<i>.<role>"). Rope is what modula's code computes (gpt_jax.rope's "as_computed").
"""

import math

import torch
import torch.nn.functional as F

from gpt_rules import GELU_MAX_SLOPE, newton_schulz


def split_heads(x, heads):
    """[B, T, h d] -> [B, h, T, d]: consecutive blocks of d entries are the heads."""
    b, t, width = x.shape
    return x.reshape(b, t, heads, width // heads).transpose(1, 2)


def merge_heads(x):
    """[B, h, T, d] -> [B, T, h d]."""
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def rope(x, base=10000.0):
    """gpt_jax.rope(x, variant="as_computed"): modula's get_cached returns (sin, cos) and
    Rope.rotate unpacks it as (cos, sin), so y[:r] = sin x[r:] + cos x[:r],
    y[r:] = sin x[:r] - cos x[r:] with angles t base^(-i/r), r = d/2."""
    t, d = x.shape[-2], x.shape[-1]
    r = d // 2
    inverse_frequencies = 1.0 / base ** (torch.arange(r, dtype=x.dtype) / r)
    angles = torch.outer(torch.arange(t, dtype=x.dtype), inverse_frequencies)  # [T, r]
    cos, sin = torch.sin(angles), torch.cos(angles)  # the swap modula's code makes
    low, high = x[..., :r], x[..., r:]
    return torch.cat([cos * high + sin * low, cos * low - sin * high], dim=-1)


def attention(params, i, x, heads, attention_scale=1.0):
    """modula's Attention (causal): O((1/3) softmax(mask(rope(q) rope(k)^T / d)) v)."""
    w = lambda role: params[f"blocks.{i}.{role}"]  # noqa: E731
    q = rope(split_heads(x @ w("q").T, heads))
    k = rope(split_heads(x @ w("k").T, heads))
    v = split_heads(x @ w("v").T, heads)
    scores = q @ k.transpose(-2, -1) / q.shape[-1]  # 1/d, not 1/sqrt d (Large et al. 2024)
    t = scores.shape[-1]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    p = torch.softmax(attention_scale * scores.masked_fill(~causal, float("-inf")), dim=-1)
    return merge_heads((p @ v) / 3.0) @ w("o").T  # 1/3: the tuple (V, scores) has sensitivity 3


def mlp(params, i, x):
    h = F.gelu(x @ params[f"blocks.{i}.mlp_in"].T) / GELU_MAX_SLOPE  # exact (erf) GELU
    return h @ params[f"blocks.{i}.mlp_out"].T


def forward(params, tokens, cfg):
    """Logits [B, T, V] for token ids [B, T] (cfg: heads, blocks, final_scale, attention_scale)."""
    x = params["embed"].T[tokens]  # [B, T, d]
    a = 1.0 / (2 * cfg["blocks"])  # 2L residual connections
    for i in range(cfg["blocks"]):
        x = (1 - a) * x + a * attention(params, i, x, cfg["heads"],
                                        cfg.get("attention_scale", 1.0))
        x = (1 - a) * x + a * mlp(params, i, x)
    return cfg.get("final_scale", 1.0) * (x @ params["out"].T)


def loss(params, tokens, targets, cfg):
    """Mean cross-entropy over all B*T positions."""
    logits = forward(params, tokens, cfg)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def direction(name, m):
    """gpt_jax.direction: columns over their RMS for the embedding, sqrt(d_out / d_in) U V^T
    (gpt_rules.newton_schulz) for the matrices."""
    if name == "embed":
        rms = torch.sqrt(torch.mean(m * m, dim=0, keepdim=True))
        return torch.where(rms > 0, m / torch.where(rms > 0, rms, 1.0), 0.0)
    return math.sqrt(m.shape[0] / m.shape[1]) * newton_schulz(m, torch.linalg.norm)


@torch.no_grad()
def modular_update(params, momenta, coefficient, lr, beta=0.95):
    """gpt_jax.modular_step's update, in place: m <- beta m + (1 - beta) g (g = W.grad),
    W <- W - (lr / c_l) direction(m)."""
    for name, w in params.items():
        m = momenta[name]
        m.mul_(beta).add_(w.grad, alpha=1 - beta)
        w.sub_(direction(name, m), alpha=lr / coefficient[name])
