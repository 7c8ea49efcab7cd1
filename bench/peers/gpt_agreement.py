"""modnorm::GPT against an independent JAX model of modula's GPT (bench/peers/gpt_jax.py), or
with --arch modern modnorm::ModernGPT against one of the normed GPT (modern_gpt_jax.py).

For each number of blocks L, runs bench_gpt_ours (which writes modnorm's weights, a batch of
token ids and targets, logits, loss, weight gradients and dualized gradients to a safetensors
file), runs the JAX model on the same weights and batch (in float64, so that the reference's
own rounding does not count), and checks, relative in the Frobenius norm:
  logits and loss         <= 1e-5
  every weight gradient   <= 1e-5
  every dualized update   <= 1e-3   (dualize(g_l) / c_l, exact polar factor by SVD)
  the duality map alone   <= 1e-5   (the JAX map applied to modnorm's own gradients)
  every coefficient c_l   <= 1e-12  (modula's composition rules, derived independently)
Prints one table; exits 1 on any failure.

Usage:
  gpt_agreement.py --ours build/bin/bench_gpt_ours [--blocks 1 3] [--out DIR]
                   [--rope as_named|as_computed] [--arch modula|modern] [--skip-if-missing]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

try:  # checked in main(): without them the test reports itself skipped
    import jax
    import numpy as np
    MISSING = None
except ImportError as e:
    MISSING = e

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if MISSING is None:
    import gpt_jax  # noqa: E402
    import modern_gpt_jax  # noqa: E402
    import st  # noqa: E402

# batch 8: 64 positions hold every token, so that the first layer's Q, K and V gradients have
# full rank 16. A rank-deficient gradient's polar factor is not determined by it: the exact
# SVD turns its f32 rounding noise in the null space into unit singular directions, and two
# implementations' updates then differ by O(1) (batch 3 gives 1.04 for blocks.0.q at L = 1).
SIZES = {"vocab": 17, "context": 8, "batch": 8, "d-embed": 16, "heads": 2, "d-query": 8,
         "d-value": 8, "final-scale": 1.5, "seed": 0}
# The modern GPT: one head width, logits soft-capped (at a cap the logits reach, so that the
# tanh bends them); modula's final scale does not apply.
MODERN_SIZES = {**{k: v for k, v in SIZES.items() if k != "final-scale"}, "soft-cap": 2.0,
                "arch": "modern"}
TOLERANCES = {"logits": 1e-5, "loss": 1e-5, "grad": 1e-5, "dual": 1e-3, "dual_map": 1e-5,
              "coefficient": 1e-12}

# modnorm's dotted parameter names (GPT in src/models/gpt.cpp: pair = residual(att) >>
# residual(mlp), residual = Add{Scale(1 - a), Scale(a, f)}, att = Tuple{V, scores} >> ... >> O,
# scores = Tuple{Q, K} >> ...) -> the JAX model's roles.
BLOCK_ROLES = {"0.1.0.0.0.0.weight": "v", "0.1.0.0.1.0.0.0.weight": "q",
               "0.1.0.0.1.0.1.0.weight": "k", "0.1.0.3.weight": "o",
               "1.1.0.0.weight": "mlp_in", "1.1.0.2.weight": "mlp_out"}


# The same for ModernGPT: pair = Add{Identity, RMSNorm >> att} >> Add{Identity, RMSNorm >> mlp},
# att = Tuple{V, scores} >> ... >> O, scores = Tuple{Q >> .., K >> ..} >> ...
MODERN_BLOCK_ROLES = {"0.1.1.0.0.0.weight": "v", "0.1.1.0.1.0.0.0.weight": "q",
                      "0.1.1.0.1.0.1.0.weight": "k", "0.1.1.3.weight": "o",
                      "1.1.1.0.weight": "mlp_in", "1.1.1.2.weight": "mlp_out"}


def role_of(name, arch):
    if name == "embed.weight":
        return "embed"
    if name == ("out.weight" if arch == "modern" else "out.0.weight"):
        return "out"
    _, index, rest = name.split(".", 2)
    roles = MODERN_BLOCK_ROLES if arch == "modern" else BLOCK_ROLES
    if rest not in roles:
        raise KeyError(f"gpt_agreement: no role for modnorm parameter {name!r}")
    return f"blocks.{index}.{roles[rest]}"


def relative(ours, ref):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    scale = np.linalg.norm(ref)
    return float(np.linalg.norm(ours - ref) / (scale if scale > 0 else 1.0))


def reference(arch, options, blocks, rope_variant):
    """(forward(params, tokens), loss(params, tokens, targets), coefficients) of the JAX model."""
    if arch == "modern":
        cfg = {"heads": options["heads"], "soft_cap": options["soft_cap"]}
        return (lambda p, x: modern_gpt_jax.forward(p, x, cfg),
                lambda p, x, y: modern_gpt_jax.loss(p, x, y, cfg),
                modern_gpt_jax.coefficients(blocks, options["d_query"], options["blocks_mass"]))
    cfg = {"heads": options["heads"], "final_scale": options["final_scale"],
           "attention_scale": options["attention_scale"]}
    return (lambda p, x: gpt_jax.forward(p, x, cfg, rope_variant),
            lambda p, x, y: gpt_jax.loss(p, x, y, cfg, rope_variant),
            gpt_jax.coefficients(blocks, options["blocks_mass"], options["final_scale"]))


def check(ours_exe, blocks, out_dir, rope_variant, arch):
    """Rows (L, quantity, worst tensor, relative error, tolerance) for one L."""
    import jax.numpy as jnp

    path = os.path.join(out_dir, f"gpt_{arch}_L{blocks}.safetensors")
    args = [ours_exe, path, "--blocks", str(blocks)]
    for key, value in (MODERN_SIZES if arch == "modern" else SIZES).items():
        args += [f"--{key}", str(value)]
    subprocess.run(args, check=True)
    t, meta = st.load(path)
    options = json.loads(meta["options"])
    ours_c = json.loads(meta["coefficients"])
    names = [k[len("weight."):] for k in t if k.startswith("weight.")]
    roles = {name: role_of(name, arch) for name in names}
    if len(set(roles.values())) != len(names) or len(names) != 2 + 6 * blocks:
        raise RuntimeError(f"gpt_agreement: parameters {names} do not map one to one")

    forward, loss, coefficient = reference(arch, options, blocks, rope_variant)
    flat = {roles[n]: jnp.asarray(t["weight." + n], jnp.float64) for n in names}
    params = gpt_jax.unflatten(flat, blocks)
    tokens = jnp.asarray(t["tokens"])
    targets = jnp.asarray(t["targets"])
    logits = np.asarray(forward(params, tokens))
    value, grads = jax.value_and_grad(loss)(params, tokens, targets)
    grads = {k: np.asarray(v) for k, v in gpt_jax.flatten(grads).items()}
    dual = gpt_jax.dualize(grads, coefficient)
    # The duality map alone: the JAX map applied to modnorm's own (f32) gradients.
    dual_map = gpt_jax.dualize({roles[n]: t["grad." + n] for n in names}, coefficient)

    rows = [(blocks, "logits", "logits", relative(t["logits"], logits), TOLERANCES["logits"]),
            (blocks, "loss", "loss", relative(t["loss"], float(value)), TOLERANCES["loss"])]
    for quantity, ours, ref in (
            ("grad", lambda n: t["grad." + n], lambda n: grads[roles[n]]),
            ("dual", lambda n: t["dual." + n], lambda n: dual[roles[n]]),
            ("dual_map", lambda n: t["dual." + n], lambda n: dual_map[roles[n]]),
            ("coefficient", lambda n: ours_c[n], lambda n: coefficient[roles[n]])):
        worst = max(names, key=lambda n: relative(ours(n), ref(n)))
        rows.append((blocks, quantity, roles[worst], relative(ours(worst), ref(worst)),
                     TOLERANCES[quantity]))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", required=True, help="the bench_gpt_ours executable")
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--out", help="directory for the safetensors files (default: temporary)")
    parser.add_argument("--rope", choices=["as_named", "as_computed"], default="as_computed",
                        help="which reading of modula's Rope the JAX side uses (gpt_jax.rope)")
    parser.add_argument("--arch", choices=["modula", "modern"], default="modula",
                        help="which GPT: modula's or the normed one (modern_gpt_jax)")
    parser.add_argument("--skip-if-missing", action="store_true",
                        help="print 'gpt_agreement skipped: ...' and exit 0 without jax")
    a = parser.parse_args()
    if MISSING is not None:
        if a.skip_if_missing:
            print(f"gpt_agreement skipped: {MISSING} (scripts/setup installs jax in .venv)")
            return 0
        raise MISSING
    jax.config.update("jax_enable_x64", True)  # the reference in float64
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = a.out or tmp
        os.makedirs(out_dir, exist_ok=True)
        rows = [row for blocks in a.blocks
                for row in check(a.ours, blocks, out_dir, a.rope, a.arch)]
    sizes = MODERN_SIZES if a.arch == "modern" else SIZES
    print(f"modnorm GPT ({a.arch}) vs JAX (rope {a.rope}; sizes {sizes}); "
          "relative Frobenius errors")
    print(f"{'L':>2}  {'quantity':<12} {'worst tensor':<18} {'rel. error':>10}  {'tol':>7}")
    failed = 0
    for blocks, quantity, worst, error, tol in rows:
        ok = error <= tol
        failed += not ok
        print(f"{blocks:>2}  {quantity:<12} {worst:<18} {error:>10.2e}  {tol:>7.0e}"
              f"  {'ok' if ok else 'FAIL'}")
    print("gpt_agreement: " + (f"{failed} FAILED" if failed else "all within tolerance"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
