"""modnorm's hybrid parameter groups against the same hybrid in optax and in PyTorch.

Runs bench_hybrid_ours, which trains a small modnorm::GPT for N steps with the hidden matrices on
Muon and the embedding, output layer and vectors on AdamW, and records every gradient and every
weight after each step. Then replays the same gradients from the same initial weights through the
peer's optimizers and checks, after every step and for every parameter, the relative Frobenius
error of the weights. Prints the worst per group; exits 1 on any failure.

--peer optax (the default): optax's
  multi_transform({"muon": contrib.muon(...), "adam": adamw(...)}, labels)
against ours with Convention::optax, the muon lr rule and Newton-Schulz epsilon 1e-8 (optax's
`eps`). optax's matrix layout is x W = y: the transposed weight. Tolerance 1e-5.

--peer torch: torch.optim.Muon on the hidden matrices and torch.optim.AdamW on the rest (PyTorch
2.9 or later; docs/training.md has the mapping of their options onto parameter groups), against
ours with this library's Convention::modular and epsilon 0, once per lr rule: Muon's
adjust_lr_fn "original" (sqrt(max(1, d_out/d_in))) against LrRule::muon and "match_rms_adamw"
(0.2 sqrt(max(d_out, d_in))) against LrRule::rms_match. torch.optim.Muon runs its Newton-Schulz
iteration in bfloat16 (`_zeropower_via_newtonschulz` casts its input), so each rule is checked
twice: with that function's iteration in float32 (the same lines, our transcription, in place of
torch's; momentum, Nesterov, the lr adjustment, weight decay and AdamW stay torch's own code),
tolerance 1e-5, and as PyTorch ships it, tolerance TOLERANCE_BF16 (bf16 keeps 8 significant bits).

Usage: hybrid_agreement.py --ours build/bin/bench_hybrid_ours [--peer optax|torch]
                           [--steps 20] [--out DIR] [--skip-if-missing]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TOLERANCE = 1e-5
# torch.optim.Muon as shipped, whose Newton-Schulz runs in bfloat16 (8 significant bits): its
# weights drift from the f32 iteration's by 2.5e-3 to 3.6e-3 over the 20 steps; swapping the lr
# rules (the nearest wrong mapping) differs by 7e-2.
TOLERANCE_BF16 = 1e-2
# torch.optim.Muon's adjust_lr_fn for each of our lr rules.
TORCH_ADJUST_LR = {"muon": "original", "rms_match": "match_rms_adamw"}


def missing(peer):
    """Why the peer cannot run here, or None."""
    try:
        import numpy  # noqa: F401
        if peer == "optax":
            import jax  # noqa: F401
            import optax  # noqa: F401
            from optax import contrib  # noqa: F401
        else:
            import torch
            if not hasattr(torch.optim, "Muon"):
                return f"torch {torch.__version__} has no torch.optim.Muon (PyTorch 2.9 or later)"
    except ImportError as e:
        return str(e)
    return None


def run_ours(ours, path, steps, convention, lr_rule):
    """Runs bench_hybrid_ours; its tensors, groups (name -> "muon" | "adam") and options."""
    import st
    subprocess.run([ours, path, "--steps", str(steps), "--convention", convention,
                    "--lr-rule", lr_rule], check=True)
    tensors, meta = st.load(path)
    return tensors, json.loads(meta["groups"]), json.loads(meta["options"])


def optax_layout(name, w):
    """modnorm's d_out x d_in matrix as optax's d_in x d_out (only Muon needs it: AdamW is
    elementwise); vectors as they are."""
    return w.T if w.ndim == 2 else w


def optax_replay(tensors, groups, o, steps):
    """The weights after each step under optax's multi_transform, in modnorm's layout."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from optax import contrib

    names = list(groups)
    params = {n: jnp.asarray(optax_layout(n, tensors["init." + n])) for n in names}
    tx = optax.multi_transform(
        {"muon": contrib.muon(learning_rate=o["muon_lr"], beta=o["muon_beta"], eps=o["ns_eps"],
                              weight_decay=o["weight_decay"], nesterov=True),
         "adam": optax.adamw(learning_rate=o["adam_lr"], b1=o["adam_b1"], b2=o["adam_b2"],
                             eps=o["eps"], weight_decay=o["weight_decay"])},
        dict(groups))
    state = tx.init(params)

    @jax.jit  # one compilation instead of one dispatch per small op and step
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for t in range(steps):
        grads = {n: jnp.asarray(optax_layout(n, tensors[f"grad.{t}.{n}"])) for n in names}
        params, state = step(params, state, grads)
        yield {n: optax_layout(n, np.asarray(params[n])) for n in names}


def newton_schulz_f32(grad, ns_coefficients, ns_steps, eps):
    """torch.optim._muon._zeropower_via_newtonschulz (PyTorch 2.15) with its iterate in float32
    instead of bfloat16; otherwise the same operations in the same order."""
    import torch
    a, b, c = ns_coefficients
    x = grad.to(dtype=torch.float32, copy=True)
    if grad.size(0) > grad.size(1):
        x = x.T
    x.div_(x.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if grad.size(0) > grad.size(1) else x


def torch_replay(tensors, groups, o, steps, f32):
    """The weights after each step under torch.optim.Muon (hidden matrices) and AdamW (the
    rest); with f32, Muon's Newton-Schulz iteration in float32 (newton_schulz_f32)."""
    import torch
    from torch.optim import _muon

    names = list(groups)
    params = {n: torch.tensor(tensors["init." + n]) for n in names}
    muon = torch.optim.Muon([params[n] for n in names if groups[n] == "muon"],
                            lr=o["muon_lr"], weight_decay=o["weight_decay"],
                            momentum=o["muon_beta"], nesterov=True,
                            adjust_lr_fn=TORCH_ADJUST_LR[o["lr_rule"]])
    adam = torch.optim.AdamW([params[n] for n in names if groups[n] == "adam"],
                             lr=o["adam_lr"], betas=(o["adam_b1"], o["adam_b2"]), eps=o["eps"],
                             weight_decay=o["weight_decay"])
    shipped = _muon._zeropower_via_newtonschulz
    if f32:
        _muon._zeropower_via_newtonschulz = newton_schulz_f32
    try:
        for t in range(steps):
            for n in names:
                params[n].grad = torch.tensor(tensors[f"grad.{t}.{n}"])
            muon.step()
            adam.step()
            yield {n: params[n].numpy().copy() for n in names}
    finally:
        _muon._zeropower_via_newtonschulz = shipped


def compare(tensors, groups, replay):
    """{group: (worst "name @ step t", relative Frobenius error)} over every step."""
    import numpy as np
    worst = {}
    for t, weights in enumerate(replay):
        for n, ref in weights.items():
            ref = np.asarray(ref, dtype=np.float64)
            got = tensors[f"weight.{t}.{n}"].astype(np.float64)
            error = np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-30)
            if groups[n] not in worst or error > worst[groups[n]][1]:
                worst[groups[n]] = (f"{n} @ step {t}", error)
    return worst


def checks(ours, peer, steps, out_dir):
    """(title, {group: (where, error)}, tolerance) per comparison the peer makes."""
    path = os.path.join(out_dir, f"hybrid_{peer}.safetensors")
    if peer == "optax":
        tensors, groups, o = run_ours(ours, path, steps, "optax", "muon")
        yield ("optax multi_transform(contrib.muon, adamw)",
               compare(tensors, groups, optax_replay(tensors, groups, o, steps)), TOLERANCE)
        return
    import torch
    for rule, adjust in TORCH_ADJUST_LR.items():
        tensors, groups, o = run_ours(ours, path, steps, "modular", rule)
        for f32, tol in ((True, TOLERANCE), (False, TOLERANCE_BF16)):
            title = (f"torch {torch.__version__} Muon(adjust_lr_fn={adjust!r}) + AdamW vs lr rule "
                     f"{rule}, Newton-Schulz in {'f32' if f32 else 'bf16 (as shipped)'}")
            yield title, compare(tensors, groups, torch_replay(tensors, groups, o, steps, f32)), tol


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", required=True, help="the bench_hybrid_ours executable")
    parser.add_argument("--peer", choices=["optax", "torch"], default="optax")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", help="directory for the safetensors files (default: temporary)")
    parser.add_argument("--skip-if-missing", action="store_true",
                        help="print 'TEST skipped: ...' and exit 0 without the peer (TEST: "
                             "hybrid_agreement, or hybrid_agreement_torch with --peer torch)")
    a = parser.parse_args()
    test = "hybrid_agreement" + ("_torch" if a.peer == "torch" else "")
    why = missing(a.peer)
    if why is not None:
        if a.skip_if_missing:
            setup = ("scripts/setup installs optax in .venv" if a.peer == "optax" else
                     "`scripts/setup torch2` installs PyTorch 2.x in .venv-torch")
            print(f"{test} skipped: {why} ({setup})")
            return 0
        sys.exit(f"{test}: {why}")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = a.out or tmp
        os.makedirs(out_dir, exist_ok=True)
        for title, worst, tolerance in checks(a.ours, a.peer, a.steps, out_dir):
            print(f"modnorm hybrid groups vs {title}, {a.steps} steps; relative Frobenius error "
                  "of the weights")
            for group, (where, error) in sorted(worst.items()):
                ok = error <= tolerance
                failed += not ok
                print(f"  {group:<5} worst {where:<42} {error:.2e}  (tol {tolerance:.0e})  "
                      f"{'ok' if ok else 'FAIL'}")
    print(f"{test}: " + (f"{failed} FAILED" if failed else "all within tolerance"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
