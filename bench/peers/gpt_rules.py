"""The framework-free parts of modula's GPT shared by its JAX and PyTorch models (gpt_jax.py,
gpt_torch.py): GELU's scale, the modular coefficients c_l derived from masses and sensitivities
by modula's rules (modula-systems/modula `modula/abstract.py`), Muon's Newton-Schulz iteration
(on either framework's arrays) and the flat role-named parameter dicts. Python alone, so that
either framework's environment imports it.
"""

import math

# max_x d/dx gelu(x) for the exact (erf) GELU, attained at x = sqrt 2: Phi(sqrt 2) +
# sqrt 2 phi(sqrt 2) = erfc(-1)/2 + 1/(e sqrt pi) = 1.128904... modnorm divides by this exact
# value; modula divides by the rounded 1.1289 and (jax.nn.gelu's default) uses the tanh
# approximation of GELU. We follow modnorm here: exact GELU over the exact maximum slope.
GELU_MAX_SLOPE = 0.5 * math.erfc(-1.0) + 1.0 / (math.e * math.sqrt(math.pi))

QUINTIC = (3.4445, -4.7750, 2.0315)  # Muon's quintic (Jordan et al. 2024), 5 steps


def newton_schulz(g, norm, steps=5):
    """U V^T of g [d_out, d_in] approximately, for JAX arrays and PyTorch tensors alike (`norm`:
    the framework's Frobenius norm): X_0 = g / ||g||_F, then X <- a X + (b A + c A^2) X with
    A = X X^T, on the wide orientation (modnorm's OrthogonalizeMethod::quintic, epsilon 0)."""
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    x = x / norm(x)
    a, b, c = QUINTIC
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


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


def flatten(params):
    """{"embed", "out", "blocks": [{role: w}]} -> {"embed", "out", "blocks.<i>.<role>"}."""
    flat = {"embed": params["embed"], "out": params["out"]}
    for i, w in enumerate(params["blocks"]):
        for role, value in w.items():
            flat[f"blocks.{i}.{role}"] = value
    return flat


def unflatten(flat, blocks):
    """The inverse of flatten for a GPT of `blocks` blocks."""
    return {"embed": flat["embed"], "out": flat["out"],
            "blocks": [{role: flat[f"blocks.{i}.{role}"]
                        for role in ("q", "k", "v", "o", "mlp_in", "mlp_out")}
                       for i in range(blocks)]}
