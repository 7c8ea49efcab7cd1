"""modnorm's character-level GPT against the same model trained in JAX, same data, same order.

modula's hello-gpt configuration by default (context 64, batch 12, d 128, 4 heads of 32, 4
blocks, EMA momentum 0.95 without Nesterov, lr 0.1 decaying linearly to 0, 2000 steps) on the
KJV (or --text). Both sides start from the same weights (modnorm's initialisation for the seed,
written by bench_gpt_ours), draw the same windows in the same order (each step's from modnorm's
Generator, xoshiro256** seeded by splitmix64, seeded from the run's seed and the step as
`modnorm train` does; reimplemented here), and score the validation loss on the same positions
(the first --eval-tokens characters of the last 10%, in consecutive windows). modnorm runs as a
user runs it (`modnorm train gpt ... --json --log`); JAX runs gpt_jax.modular_step under
jax.jit. Each side in its own process with the same thread count.

--optimizer hybrid trains the race's Muon hybrid instead (scripts/lm_race, arm muon_hybrid): the
hidden matrices by the orthogonalized step under the muon lr rule (Nesterov, beta 0.95, no decay,
--muon-lr), the embedding and the head by AdamW (betas 0.9/0.95, eps 1e-8, decoupled decay 0.1,
--adam-lr), warmup-stable-decay (a ramp over the first 5% of the steps, a linear cooldown to 0
over the last half). modnorm: two `--group`s; JAX: optax's multi_transform of contrib.muon and
adamw (optax's x W = y layout: the hidden matrices transposed). optax's Muon bias-corrects its
momentum and modnorm's (Convention::modular, the command line's) does not: the same direction
at step 1 and in the limit, slightly different weights of the gradient against the momentum
over the first ~1/(1 - beta) steps; the two final losses should agree within 0.02 nats/char.

Usage (scripts/bench-lm runs it):
  lm.py --modnorm build/bin/modnorm --init build/bin/bench_gpt_ours [--text FILE]
        [--steps 2000] [--eval-every 100] [--eval-tokens 32768] [--threads 2] [--concurrent]
        [--optimizer modular|hybrid] [--batch 12] [--muon-lr 0.02] [--adam-lr 0.004]
        [--out FILE]
  lm.py --side jax ...   (the JAX child; prints JSON)
"""

import argparse
import csv
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from child import finish_child, run_child, start_child  # noqa: E402
import tempfile
import time

CONFIG = {"context": 64, "batch": 12, "width": 128, "heads": 4, "depth": 4, "lr": 0.1,
          "beta": 0.95, "seed": 0}
HYBRID = {"betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.1, "cooldown": 0.5}
MASK = (1 << 64) - 1


def step_seed(seed, step):
    """modnorm train's seed of step `step`'s windows (src/cli/lm.cpp): MurmurHash3's finaliser
    of the finalised seed plus the step."""
    def mix(h):
        h = ((h ^ (h >> 33)) * 0xFF51AFD7ED558CCD) & MASK
        h = ((h ^ (h >> 33)) * 0xC4CEB9FE1A85EC53) & MASK
        return h ^ (h >> 33)
    return mix((mix(seed) + step) & MASK)


def warmup_steps(steps):
    """The hybrid's ramp: the first 5% of the steps (scripts/lm_race's)."""
    return steps // 20


def hybrid_flags(a):
    """modnorm train's flags for the hybrid (the race's muon_hybrid arm)."""
    b1, b2 = HYBRID["betas"]
    return ["--group", f"@embedding,@output,@vector:adamw,lr={a.adam_lr!r},betas={b1}/{b2},"
            f"eps={HYBRID['eps']!r},wd={HYBRID['weight_decay']!r}",
            "--group", f"@hidden:modular,lr={a.muon_lr!r},rule=muon,beta={CONFIG['beta']}",
            "--schedule", "warmup_stable_decay", "--warmup", str(warmup_steps(a.steps))]


def wsd(base, steps):
    """modnorm's warmup_stable_decay (scheduled_lr) with the hybrid's ramp, cooldown to 0, as an
    optax schedule of the step count t (steps taken before this one)."""
    import jax.numpy as jnp
    warmup, start = warmup_steps(steps), (1.0 - HYBRID["cooldown"]) * steps

    def schedule(count):
        t = count.astype(jnp.float32)
        f = jnp.where(t < start, 1.0, 1.0 - jnp.minimum(1.0, (t - start) / (steps - start)))
        if warmup > 0:
            f = jnp.where(t < warmup, (t + 1.0) / warmup, f)
        return base * f
    return schedule


def hybrid_step(flat, cfg, a):
    """(optax-layout params, their optimizer state, a jit-compiled step
    (params, state, x, y) -> (params, state, loss), the map back to modnorm's layout)."""
    import jax
    import optax
    from optax import contrib

    import gpt_jax

    hidden = {k for k in flat if k.startswith("blocks.")}
    layout = lambda p: {k: v.T if k in hidden else v for k, v in p.items()}  # noqa: E731
    b1, b2 = HYBRID["betas"]
    tx = optax.multi_transform(
        {"muon": contrib.muon(learning_rate=wsd(a.muon_lr, a.steps), beta=CONFIG["beta"],
                              nesterov=True),
         "adam": optax.adamw(learning_rate=wsd(a.adam_lr, a.steps), b1=b1, b2=b2,
                             eps=HYBRID["eps"], weight_decay=HYBRID["weight_decay"])},
        {k: "muon" if k in hidden else "adam" for k in flat})
    params = layout(flat)

    @jax.jit
    def step(params, state, x, y):
        value, grads = jax.value_and_grad(
            lambda p: gpt_jax.loss(gpt_jax.unflatten(layout(p), cfg["blocks"]), x, y, cfg))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value
    return params, tx.init(params), step, layout


class Generator:
    """modnorm::Generator (src/generator.cpp): xoshiro256** seeded by splitmix64."""

    def __init__(self, seed):
        x, self.s = seed, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next_u64(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def below(self, n):
        limit = MASK - (MASK % n)
        while True:
            x = self.next_u64()
            if x < limit:
                return x % n


def corpus(path):
    """modnorm::load_text: code points, last floor(n/10) for validation, sorted vocabulary of the
    training part; ids as lists."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    n_train = len(text) - int(0.1 * len(text))
    vocabulary = sorted(set(text[:n_train]))
    index = {c: k for k, c in enumerate(vocabulary)}
    return vocabulary, [index[c] for c in text[:n_train]], [index[c] for c in text[n_train:]]


def jax_side(a):
    import functools

    import jax
    import jax.numpy as jnp
    import numpy as np

    import gpt_jax
    import st
    from gpt_agreement import role_of

    c = CONFIG
    vocabulary, train, validation = corpus(a.text)
    train, validation = np.asarray(train, np.int32), np.asarray(validation, np.int32)
    weights, _ = st.load(a.init_file)
    flat = {role_of(k[len("weight."):]): jnp.asarray(v) for k, v in weights.items()
            if k.startswith("weight.")}
    cfg = {"heads": c["heads"], "blocks": c["depth"]}
    if a.optimizer == "hybrid":  # the schedule is optax's, from its step count
        flat, state, hybrid, layout = hybrid_step(flat, cfg, a)
        step = lambda p, opt_state, x, y, s: hybrid(p, opt_state, x, y)  # noqa: E731
    else:
        state = {k: jnp.zeros_like(v) for k, v in flat.items()}  # the momenta
        modular = jax.jit(functools.partial(gpt_jax.modular_step, cfg=cfg,
                                            coefficient=gpt_jax.coefficients(c["depth"]),
                                            beta=c["beta"]), donate_argnums=(0, 1))
        step = lambda p, m, x, y, s: modular(  # noqa: E731
            p, m, x, y, lr=c["lr"] * (1.0 - s / a.steps))
        layout = lambda p: p  # noqa: E731
    params = lambda p: gpt_jax.unflatten(layout(p), c["depth"])  # noqa: E731
    eval_loss = jax.jit(lambda p, x, y: gpt_jax.loss(params(p), x, y, cfg))

    t = c["context"]
    offsets = []
    while offsets_fit(offsets, t, len(validation), a.eval_tokens):
        offsets.append(len(offsets) * t)
    windows = lambda ids, o: (np.stack([ids[k:k + t] for k in o]),  # noqa: E731
                              np.stack([ids[k + 1:k + t + 1] for k in o]))

    def validation_loss(p):
        total = 0.0
        for begin in range(0, len(offsets), 32):
            x, y = windows(validation, offsets[begin:begin + 32])
            total += float(eval_loss(p, x, y)) * x.size
        return total / (len(offsets) * t)

    rows, start = [], time.perf_counter()
    for s in range(a.steps):
        order = Generator(step_seed(c["seed"], s))
        x, y = windows(train, [order.below(len(train) - t) for _ in range(a.batch)])
        flat, state, value = step(flat, state, x, y, s)
        if (s + 1) % a.eval_every == 0 or s + 1 == a.steps:
            rows.append({"step": s + 1, "train_loss": float(value),
                         "val_loss": validation_loss(flat),
                         "seconds": time.perf_counter() - start})
    return {"implementation": f"jax {jax.__version__} (jit)", "rows": rows,
            "seconds": time.perf_counter() - start, "vocab": len(vocabulary)}


def offsets_fit(offsets, t, n, tokens):
    """Whether one more consecutive window fits (modnorm's validation_loss rule)."""
    return len(offsets) * t + t + 1 <= n and len(offsets) * t < tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modnorm", help="the modnorm executable")
    ap.add_argument("--init", help="the bench_gpt_ours executable (writes the initial weights)")
    ap.add_argument("--text", default=os.environ.get("MODNORM_KJV") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "modnorm", "kjv.txt"))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-tokens", type=int, default=32768)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--concurrent", action="store_true",
                    help="run both sides at the same time (fair on a loaded machine; give each "
                         "--threads 1 on 2 cores)")
    ap.add_argument("--optimizer", choices=["modular", "hybrid"], default="modular")
    ap.add_argument("--batch", type=int, default=CONFIG["batch"], help="windows per step")
    ap.add_argument("--muon-lr", type=float, default=0.02, help="hybrid: the hidden matrices'")
    ap.add_argument("--adam-lr", type=float, default=4e-3, help="hybrid: the rest's (AdamW)")
    ap.add_argument("--out", help="write the results here (JSON)")
    ap.add_argument("--side", choices=["jax"], help=argparse.SUPPRESS)
    ap.add_argument("--init-file", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side == "jax":
        print(json.dumps(jax_side(a)))
        return 0
    if not (a.modnorm and a.init):
        ap.error("--modnorm and --init are required")

    c = CONFIG
    vocabulary, _, _ = corpus(a.text)
    with tempfile.TemporaryDirectory() as tmp:
        init = os.path.join(tmp, "init.safetensors")
        d_head = c["width"] // c["heads"]
        run_child([a.init, init, "--vocab", str(len(vocabulary)), "--d-embed", str(c["width"]),
                   "--heads", str(c["heads"]), "--d-query", str(d_head), "--d-value", str(d_head),
                   "--blocks", str(c["depth"]), "--seed", str(c["seed"])], a.threads)
        log = os.path.join(tmp, "ours.csv")
        ours_cmd = [a.modnorm, "train", "gpt", "--text", a.text, "--steps",
                    str(a.steps), "--eval-every", str(a.eval_every), "--eval-tokens",
                    str(a.eval_tokens), "--context", str(c["context"]), "--batch", str(a.batch),
                    "--width", str(c["width"]), "--heads", str(c["heads"]), "--depth",
                    str(c["depth"]), "--seed", str(c["seed"]), "--log", log, "--json"]
        if a.optimizer == "hybrid":
            ours_cmd += hybrid_flags(a)
        else:
            ours_cmd += ["--lr", str(c["lr"]), "--beta", str(c["beta"]), "--no-nesterov",
                         "--schedule", "linear_decay"]
        jax_cmd = [sys.executable, os.path.abspath(__file__), "--side", "jax", "--init-file", init,
                   "--text", a.text, "--steps", str(a.steps), "--eval-every", str(a.eval_every),
                   "--eval-tokens", str(a.eval_tokens), "--optimizer", a.optimizer, "--batch",
                   str(a.batch), "--muon-lr", repr(a.muon_lr), "--adam-lr", repr(a.adam_lr)]
        if a.concurrent:  # both at once: they share whatever else loads the machine
            started = [start_child(ours_cmd, a.threads), start_child(jax_cmd, a.threads)]
            ours_out, jax_out = [finish_child(p) for p in started]
        else:
            ours_out, jax_out = run_child(ours_cmd, a.threads), run_child(jax_cmd, a.threads)
        ours = json.loads(ours_out.strip().splitlines()[-1])
        peer = json.loads(jax_out)
        with open(log) as f:
            ours["rows"] = [{"step": int(r["step"]), "train_loss": float(r["train_loss"]),
                             "val_loss": float(r["val_loss"]), "seconds": float(r["seconds"])}
                            for r in csv.DictReader(f) if r["val_loss"]]
    ours_final, jax_final = ours["rows"][-1], peer["rows"][-1]
    doc = {"date": datetime.date.today().isoformat(), "threads": a.threads,
           "concurrent": a.concurrent, "config": dict(c, batch=a.batch),
           "optimizer": a.optimizer,
           "hybrid": dict(HYBRID, muon_lr=a.muon_lr, adam_lr=a.adam_lr,
                          warmup=warmup_steps(a.steps)) if a.optimizer == "hybrid" else None,
           "steps": a.steps, "eval_every": a.eval_every, "eval_tokens": a.eval_tokens,
           "text": os.path.basename(a.text), "vocab": len(vocabulary),
           "load_average": list(os.getloadavg()), "modnorm": ours, "jax": peer,
           "val_loss_difference": ours_final["val_loss"] - jax_final["val_loss"],
           "step_time_ratio": (peer["rows"][-1]["seconds"] / a.steps) /
                              (ours_final["seconds"] / a.steps)}
    print(f"validation loss after {a.steps} steps: modnorm {ours_final['val_loss']:.4f}, JAX "
          f"{jax_final['val_loss']:.4f} nats/char (difference {doc['val_loss_difference']:+.4f});"
          f" wall time per step: modnorm {1e3 * ours_final['seconds'] / a.steps:.1f} ms, JAX "
          f"{1e3 * jax_final['seconds'] / a.steps:.1f} ms ({doc['step_time_ratio']:.2f}x)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
