"""modnorm's hybrid parameter groups against optax's multi_transform of contrib.muon and adamw.

Runs bench_hybrid_ours, which trains a small modnorm::GPT for N steps with the hidden matrices on
Muon (Convention::optax, LrRule::muon) and the embedding, output layer and vectors on AdamW, and
records every gradient and every weight after each step. Then applies optax's
  multi_transform({"muon": contrib.muon(...), "adam": adamw(...)}, labels)
with the same hyperparameters to the same initial weights and the same gradients (optax's matrix
layout is x W = y: the transposed weight), and checks, after every step and for every parameter,
the relative Frobenius error of the weights <= 1e-5. Prints the worst per group; exits 1 on any
failure.

Usage: hybrid_agreement.py --ours build/bin/bench_hybrid_ours [--steps 20] [--out DIR]
                           [--skip-if-missing]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

try:  # checked in main(): without them the test reports itself skipped
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from optax import contrib
    MISSING = None
except ImportError as e:
    MISSING = e

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if MISSING is None:
    import st  # noqa: E402

TOLERANCE = 1e-5


def optax_layout(name, w):
    """modnorm's d_out x d_in matrix as optax's d_in x d_out (only Muon needs it: AdamW is
    elementwise); vectors as they are."""
    return w.T if w.ndim == 2 else w


def check(ours, steps, out_dir):
    path = os.path.join(out_dir, "hybrid.safetensors")
    subprocess.run([ours, path, "--steps", str(steps)], check=True)
    tensors, meta = st.load(path)
    groups = json.loads(meta["groups"])
    o = json.loads(meta["options"])
    names = list(groups)
    params = {n: jnp.asarray(optax_layout(n, tensors["init." + n])) for n in names}
    labels = {n: groups[n] for n in names}
    tx = optax.multi_transform(
        {"muon": contrib.muon(learning_rate=o["muon_lr"], beta=o["muon_beta"], eps=o["eps"],
                              weight_decay=o["weight_decay"], nesterov=True),
         "adam": optax.adamw(learning_rate=o["adam_lr"], b1=o["adam_b1"], b2=o["adam_b2"],
                             eps=o["eps"], weight_decay=o["weight_decay"])},
        labels)
    state = tx.init(params)

    @jax.jit  # one compilation instead of one dispatch per small op and step
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    worst = {}
    for t in range(steps):
        grads = {n: jnp.asarray(optax_layout(n, tensors[f"grad.{t}.{n}"])) for n in names}
        params, state = step(params, state, grads)
        for n in names:
            ref = np.asarray(params[n], dtype=np.float64)
            got = optax_layout(n, tensors[f"weight.{t}.{n}"]).astype(np.float64)
            error = np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-30)
            key = groups[n]
            if key not in worst or error > worst[key][1]:
                worst[key] = (f"{n} @ step {t}", error)
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", required=True, help="the bench_hybrid_ours executable")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", help="directory for the safetensors file (default: temporary)")
    parser.add_argument("--skip-if-missing", action="store_true",
                        help="print 'hybrid_agreement skipped: ...' and exit 0 without optax")
    a = parser.parse_args()
    if MISSING is not None:
        if a.skip_if_missing:
            print(f"hybrid_agreement skipped: {MISSING} (scripts/setup installs optax in .venv)")
            return 0
        raise MISSING
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = a.out or tmp
        os.makedirs(out_dir, exist_ok=True)
        worst = check(a.ours, a.steps, out_dir)
    print(f"modnorm hybrid groups vs optax multi_transform(contrib.muon, adamw), {a.steps} steps;"
          " relative Frobenius error of the weights")
    failed = 0
    for group, (where, error) in sorted(worst.items()):
        ok = error <= TOLERANCE
        failed += not ok
        print(f"  {group:<5} worst {where:<28} {error:.2e}  (tol {TOLERANCE:.0e})  "
              f"{'ok' if ok else 'FAIL'}")
    print("hybrid_agreement: " + (f"{failed} FAILED" if failed else "all within tolerance"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
