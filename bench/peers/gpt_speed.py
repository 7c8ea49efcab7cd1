"""modnorm's GPT training step side by side with the same step in jit-compiled JAX.

Reported per side: the median wall time of a step, the CPU time per step (all of the process's
threads: on a machine that other jobs load, a process's wall time depends on the share of the
cores it gets, its CPU time much less), and the peak RSS.

The step: forward, mean cross-entropy, backward and the modular optimizer step (EMA momentum
0.95, Muon's 5-step quintic, W <- W - lr/c_l dualize(m)), modnorm's through bench_gpt_step (its
Optimizer defaults), JAX's through gpt_jax.modular_step under jax.jit with donated buffers. Both
sides run in their own child process with the same thread count, so that each peak RSS is its
own. Sizes: modula's hello-gpt (vocab 73, context 64, batch 12, d 128, 4 heads, 4 blocks) and a
4x wider one (d 512, context 256, batch 16).

Usage (scripts/bench-gpt runs it):
  gpt_speed.py --ours build/bin/bench_gpt_step [--threads 2] [--repeats 10] [--warmup 3]
               [--sizes hello wide] [--out FILE.json]
  gpt_speed.py --side jax --size hello ...     (the JAX child; prints JSON)
"""

import argparse
import datetime
import json
import os
import platform
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from child import run_child  # noqa: E402

SIZES = {
    "hello": {"vocab": 73, "context": 64, "batch": 12, "d_embed": 128, "heads": 4, "blocks": 4},
    "wide": {"vocab": 73, "context": 256, "batch": 16, "d_embed": 512, "heads": 4, "blocks": 4},
}
LR = 0.1


def jax_side(size, warmup, repeats):
    import functools

    import jax
    import jax.numpy as jnp
    import numpy as np

    import gpt_jax
    from timing import timed

    s = SIZES[size]
    d, v, h, blocks = s["d_embed"], s["vocab"], s["heads"], s["blocks"]
    rng = np.random.default_rng(0)

    def matrix(rows, cols):  # orthogonal, scaled by sqrt(rows / cols): modnorm's initialisation
        q, _ = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        return jnp.asarray(np.sqrt(rows / cols) * (q if rows >= cols else q.T), jnp.float32)

    embed = rng.standard_normal((d, v))  # columns of RMS 1, as modnorm's Embed initialises
    embed /= np.sqrt(np.mean(embed * embed, axis=0, keepdims=True))
    flat = {"embed": jnp.asarray(embed, jnp.float32), "out": matrix(v, d)}
    for i in range(blocks):
        for role in ("q", "k", "v", "o"):
            flat[f"blocks.{i}.{role}"] = matrix(d, d)
        flat[f"blocks.{i}.mlp_in"] = matrix(4 * d, d)
        flat[f"blocks.{i}.mlp_out"] = matrix(d, 4 * d)
    momenta = {k: jnp.zeros_like(w) for k, w in flat.items()}
    tokens = jnp.asarray(rng.integers(0, v, (s["batch"], s["context"])), jnp.int32)
    targets = jnp.asarray(rng.integers(0, v, (s["batch"], s["context"])), jnp.int32)
    cfg = {"heads": h, "blocks": blocks}
    coefficient = gpt_jax.coefficients(blocks)
    step = jax.jit(functools.partial(gpt_jax.modular_step, cfg=cfg, coefficient=coefficient,
                                     lr=LR), donate_argnums=(0, 1))
    box = {"params": flat, "momenta": momenta}

    cpu_s = []  # CPU time of every call, all of the process's threads

    def run():
        start = time.process_time()
        p, m, value = step(box["params"], box["momenta"], tokens, targets)
        value.block_until_ready()
        box["params"], box["momenta"], box["loss"] = p, m, float(value)
        cpu_s.append(time.process_time() - start)

    t = timed(run, max(warmup, 1), repeats)  # the first warm-up call compiles
    t.update({"implementation": f"jax {jax.__version__} (jit)", "last_loss": box["loss"],
              "cpu_s_per_step": sum(cpu_s[-repeats:]) / repeats,
              "parameters": int(sum(w.size for w in flat.values())),
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", help="the bench_gpt_step executable")
    ap.add_argument("--side", choices=["jax"], help=argparse.SUPPRESS)
    ap.add_argument("--size", choices=sorted(SIZES), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["hello", "wide"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", help="write the results here (JSON)")
    a = ap.parse_args()
    if a.side == "jax":
        print(json.dumps(jax_side(a.size, a.warmup, a.repeats)))
        return 0
    if not a.ours:
        ap.error("--ours is required")

    rows = []
    for size in a.sizes:
        s = SIZES[size]
        ours_cmd = [a.ours, "--warmup", str(a.warmup), "--repeats", str(a.repeats)]
        for key, value in s.items():
            ours_cmd += ["--" + key.replace("_", "-"), str(value)]
        ours = json.loads(run_child(ours_cmd, a.threads))
        peer = json.loads(run_child([sys.executable, os.path.abspath(__file__), "--side", "jax",
                                     "--size", size, "--warmup", str(a.warmup), "--repeats",
                                     str(a.repeats)], a.threads))
        if ours["parameters"] != peer["parameters"]:
            raise RuntimeError(f"{size}: parameter counts differ: modnorm {ours['parameters']}, "
                               f"JAX {peer['parameters']}")
        rows.append({"size": size, **s, "modnorm": ours, "jax": peer,
                     "speedup": peer["median_s"] / ours["median_s"],
                     "cpu_speedup": peer["cpu_s_per_step"] / ours["cpu_s_per_step"]})
        print(f"{size:>6}: wall {1e3 * ours['median_s']:.1f} ms (modnorm) vs "
              f"{1e3 * peer['median_s']:.1f} ms (JAX) -> {rows[-1]['speedup']:.2f}x; CPU per "
              f"step {1e3 * ours['cpu_s_per_step']:.0f} vs {1e3 * peer['cpu_s_per_step']:.0f} ms "
              f"-> {rows[-1]['cpu_speedup']:.2f}x; peak RSS {ours['peak_rss_mib']:.0f} vs "
              f"{peer['peak_rss_mib']:.0f} MiB", flush=True)
    doc = {"date": datetime.date.today().isoformat(), "threads": a.threads,
           "repeats": a.repeats, "load_average": list(os.getloadavg()),
           "cpu": platform.processor() or platform.machine(), "rows": rows}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
