"""JAX and optax's side of the comparison, imported by bench/peers/peers.py inside
the virtual environment (.venv: jax, jaxlib, optax and numpy from PyPI).

optax's convention for a weight is x W = y, W [d_in x d_out] (MuonDimensionNumbers: axis 0 is
the reduction axis, axis 1 the output axis), so it is given modnorm's W [d_out x d_in]
transposed: the quintic commutes with transposition (p(X^T) = p(X)^T) and optax's
fan_out / fan_in is then modnorm's d_out / d_in.
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
from optax.contrib import _muon

from timing import timed

NS_COEFFS = (3.4445, -4.7750, 2.0315)  # optax _DEFAULT_NS_COEFFS


def versions():
    import jaxlib
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "optax": optax.__version__,
            "numpy": np.__version__}


def x64():
    """A context in which jax uses 64-bit floats (for the exact f64 check)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older jax
    return enable_x64()


def orthogonalize(g, eps):
    """optax.contrib's orthogonalize_via_newton_schulz (frobenius preconditioning, 5 steps) in
    g's dtype; f64 inputs are run with jax's x64 mode on."""
    ctx = x64() if g.dtype == np.float64 else contextlib.nullcontext()
    with ctx:
        x = jnp.asarray(g)
        coeffs = jnp.asarray(NS_COEFFS, dtype=x.dtype)
        f = jax.jit(lambda x: _muon.orthogonalize_via_newton_schulz(x, coeffs, 5, eps=eps))
        return np.asarray(f(x))


def muon_trajectory(w0, grads, options):
    """optax.contrib.muon over the given gradients (modnorm's layout [steps x d_out x d_in]);
    returns the weights after each step in modnorm's layout."""
    opt = optax.contrib.muon(
        learning_rate=options["lr"], beta=options["beta"], nesterov=options["nesterov"],
        adaptive=options.get("correction", "off") == "per_layer",
        weight_decay=options.get("weight_decay", 0.0), eps=1e-8)
    params = {"w": jnp.asarray(w0.T)}
    state = opt.init(params)

    @jax.jit
    def step(params, state, g):
        updates, state = opt.update({"w": g}, state, params)
        return optax.apply_updates(params, updates), state

    out = []
    for g in grads:
        params, state = step(params, state, jnp.asarray(g.T))
        out.append(np.asarray(params["w"]).T)
    return np.stack(out)


def mlp_loss(params, x, y):
    """784-512-512-10 ReLU MLP without biases; params are W^T [d_in x d_out] (optax's layout)."""
    h = x
    for k, w in enumerate(params):
        h = h @ w
        if k + 1 < len(params):
            h = jax.nn.relu(h)
    logp = jax.nn.log_softmax(h)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def mlp_grad(weights, x, labels):
    """Loss and gradients (modnorm's layout) of the MLP."""
    params = [jnp.asarray(w.T) for w in weights]
    loss, grads = jax.jit(jax.value_and_grad(mlp_loss))(params, jnp.asarray(x),
                                                       jnp.asarray(labels.astype(np.int32)))
    return float(loss), [np.asarray(g).T for g in grads]


def time_orthogonalize(g, warmup, repeats):
    """optax's Newton-Schulz under jax.jit, f32; the first warm-up call compiles."""
    x = jnp.asarray(g)
    coeffs = jnp.asarray(NS_COEFFS, dtype=x.dtype)
    f = jax.jit(lambda x: _muon.orthogonalize_via_newton_schulz(x, coeffs, 5))
    return timed(lambda: f(x).block_until_ready(), max(warmup, 1), repeats)


def time_train_step(weights, x, labels, lr, warmup, repeats):
    """One jitted step: value_and_grad of the MLP, optax.contrib.muon (Nesterov, every weight is
    a matrix, so no AdamW part), apply_updates; parameters and state are donated."""
    opt = optax.contrib.muon(learning_rate=lr, nesterov=True)
    params = [jnp.asarray(w.T) for w in weights]
    state = opt.init(params)
    xs, ys = jnp.asarray(x), jnp.asarray(labels.astype(np.int32))

    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(mlp_loss)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    box = {"params": params, "state": state}

    def run():
        p, s, loss = step(box["params"], box["state"], xs, ys)
        loss.block_until_ready()
        box["params"], box["state"] = p, s

    return timed(run, max(warmup, 1), repeats)
