"""modnorm's GPT training step side by side with the same step in jit-compiled JAX and in
PyTorch 2.x, eager and under torch.compile.

Reported per side: the median wall time of a step, the CPU time per step (all of the process's
threads: on a machine that other jobs load, a process's wall time depends on the share of the
cores it gets, its CPU time much less), and the peak RSS.

The step: forward, mean cross-entropy, backward and the modular optimizer step (EMA momentum
0.95, Muon's 5-step quintic, W <- W - lr/c_l dualize(m)), modnorm's through bench_gpt_step (its
Optimizer defaults), JAX's through gpt_jax.modular_step under jax.jit with donated buffers,
PyTorch's through gpt_torch (the same model and step, float32): autograd and
gpt_torch.modular_update, eager, or with the loss and the update each under torch.compile (the
first call compiles; where torch.compile fails, the row says so, with the reason). Every side
runs in its own child process with the same thread count, so that each peak RSS is its own;
PyTorch under the Python of --torch-python (default: .venv-torch's, which `scripts/setup torch2`
creates, then the others child.find_torch_python tries; skipped, saying so, without one). JAX and PyTorch start from the same weights
(initial_weights) and batch, and take as many steps: their first and last losses must agree
within 1e-5 and 1e-4 (relative; LOSS_TOLERANCE), or the script fails. Sizes: modula's
hello-gpt (vocab 73, context 64, batch 12, d 128, 4 heads, 4 blocks) and a 4x wider one (d 512,
context 256, batch 16).

Usage (scripts/bench-gpt runs it):
  gpt_speed.py --ours build/bin/bench_gpt_step [--threads 2] [--repeats 10] [--warmup 3]
               [--sizes hello wide] [--torch-python PATH|none] [--out FILE.json]
  gpt_speed.py --side jax|torch-eager|torch-compiled --size hello ...   (a child; prints JSON)
"""

import argparse
import datetime
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts"))
from child import find_torch_python, run_child  # noqa: E402
from cpu import cpu_label, cpuinfo  # noqa: E402

SIZES = {
    "hello": {"vocab": 73, "context": 64, "batch": 12, "d_embed": 128, "heads": 4, "blocks": 4},
    "wide": {"vocab": 73, "context": 256, "batch": 16, "d_embed": 512, "heads": 4, "blocks": 4},
}
LR = 0.1


def initial_weights(size):
    """modnorm's initialisation, drawn with numpy (seed 0), and one batch: (flat role-named
    float32 weights, token ids, targets). Orthogonal matrices scaled by sqrt(d_out / d_in),
    embedding columns of RMS 1."""
    import numpy as np

    s = SIZES[size]
    d, v = s["d_embed"], s["vocab"]
    rng = np.random.default_rng(0)

    def matrix(rows, cols):
        q, _ = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        return (np.sqrt(rows / cols) * (q if rows >= cols else q.T)).astype(np.float32)

    embed = rng.standard_normal((d, v))
    embed /= np.sqrt(np.mean(embed * embed, axis=0, keepdims=True))
    flat = {"embed": embed.astype(np.float32), "out": matrix(v, d)}
    for i in range(s["blocks"]):
        for role in ("q", "k", "v", "o"):
            flat[f"blocks.{i}.{role}"] = matrix(d, d)
        flat[f"blocks.{i}.mlp_in"] = matrix(4 * d, d)
        flat[f"blocks.{i}.mlp_out"] = matrix(d, 4 * d)
    tokens = rng.integers(0, v, (s["batch"], s["context"])).astype(np.int32)
    targets = rng.integers(0, v, (s["batch"], s["context"])).astype(np.int32)
    return flat, tokens, targets


def measure(step, warmup, repeats):
    """Times step() (which returns the loss as a float) like timing.timed, the first call apart
    (it compiles, under jit or torch.compile): the first call's time and loss (the loss at the
    initial weights), the last loss, and the CPU time per timed step (all threads)."""
    from timing import timed

    start = time.perf_counter()
    losses = [step()]
    first_s = time.perf_counter() - start
    cpu_s = []

    def run():
        start = time.process_time()
        losses.append(step())
        cpu_s.append(time.process_time() - start)

    t = timed(run, max(warmup - 1, 0), repeats)
    t.update({"first_step_s": first_s, "first_loss": losses[0], "last_loss": losses[-1],
              "cpu_s_per_step": sum(cpu_s[-repeats:]) / repeats,
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
    return t


def jax_side(size, warmup, repeats):
    import functools

    import jax
    import jax.numpy as jnp

    import gpt_jax

    s = SIZES[size]
    weights, tokens, targets = initial_weights(size)
    flat = {k: jnp.asarray(w) for k, w in weights.items()}
    momenta = {k: jnp.zeros_like(w) for k, w in flat.items()}
    tokens, targets = jnp.asarray(tokens), jnp.asarray(targets)
    cfg = {"heads": s["heads"], "blocks": s["blocks"]}
    coefficient = gpt_jax.coefficients(s["blocks"])
    step = jax.jit(functools.partial(gpt_jax.modular_step, cfg=cfg, coefficient=coefficient,
                                     lr=LR), donate_argnums=(0, 1))
    box = {"params": flat, "momenta": momenta}

    def run():
        box["params"], box["momenta"], value = step(box["params"], box["momenta"], tokens,
                                                    targets)
        return float(value)  # waits for the step

    t = measure(run, warmup, repeats)
    t.update({"implementation": f"jax {jax.__version__} (jit)",
              "parameters": int(sum(w.size for w in flat.values()))})
    return t


def torch_side(size, mode, warmup, repeats):
    """gpt_torch's step, eager or with the loss and the update under torch.compile; where
    torch.compile fails, {"unavailable": reason} instead of the timing."""
    import functools

    import torch

    import gpt_torch
    from gpt_rules import coefficients
    from torch_side import blas_name

    s = SIZES[size]
    weights, tokens, targets = initial_weights(size)
    params = {k: torch.tensor(w, requires_grad=True) for k, w in weights.items()}
    momenta = {k: torch.zeros_like(w) for k, w in params.items()}
    tokens = torch.tensor(tokens, dtype=torch.long)
    targets = torch.tensor(targets, dtype=torch.long)
    loss = functools.partial(gpt_torch.loss, cfg={"heads": s["heads"], "blocks": s["blocks"]})
    update = functools.partial(gpt_torch.modular_update, coefficient=coefficients(s["blocks"]),
                               lr=LR)
    if mode == "compiled":
        loss, update = torch.compile(loss), torch.compile(update)

    def run():
        for w in params.values():
            w.grad = None
        value = loss(params, tokens, targets)
        value.backward()
        update(params, momenta)
        return value.item()

    info = {"implementation": f"torch {torch.__version__} ({mode})", "blas": blas_name(),
            "threads": torch.get_num_threads(),
            "parameters": int(sum(w.numel() for w in params.values()))}
    try:
        t = measure(run, warmup, repeats)
    except Exception as e:  # noqa: BLE001 (torch.compile's failures have many types)
        if mode != "compiled":
            raise
        first_line = (str(e).strip().splitlines() or [""])[0]
        return {**info, "unavailable": f"torch.compile failed: {type(e).__name__}: {first_line}"}
    return {**t, **info}


# |loss, PyTorch - JAX| / JAX. Same initial weights and batch: the first step's loss checks the
# model; both sides take the same number of steps (warm-up and timed), so the last loss checks
# the optimizer step too (f32 Newton-Schulz rounding differs a little between the two).
LOSS_TOLERANCE = {"first_loss": 1e-5, "last_loss": 1e-4}
PEERS = {"jax": "JAX (jit)", "torch_eager": "PyTorch eager", "torch_compiled": "PyTorch compiled"}
NS_STEPS = 5  # gpt_rules.newton_schulz's iterations


def step_flops(size):
    """The floating-point operations of one training step at `size`, the same count for every
    side: the forward pass's products (2 T rows cols per weight matrix but the embedding, a
    gather; 4 B context^2 d per block for the attention scores and their mix), twice that for
    the backward pass, and Newton-Schulz on every matrix but the embedding (per iteration, on
    the m x n wide orientation: the symmetric X X^T at its useful m^2 n, as bench_gemm counts
    ssyrk, then 2 m^3 and 2 m^2 n). The elementwise work is left out: this is the work a GEMM
    could do, so the step's time against the GEMM roof says how much goes elsewhere."""
    s = SIZES[size]
    d, v, tokens = s["d_embed"], s["vocab"], s["batch"] * s["context"]
    matrices = [(v, d)] + s["blocks"] * ([(d, d)] * 4 + [(4 * d, d), (d, 4 * d)])
    forward = sum(2 * tokens * rows * cols for rows, cols in matrices) + \
        s["blocks"] * 4 * s["batch"] * s["context"] ** 2 * d
    orthogonalize = sum(NS_STEPS * (3 * min(r, c) ** 2 * max(r, c) + 2 * min(r, c) ** 3)
                        for r, c in matrices)
    return 3 * forward + orthogonalize


def gemm_roof(binaries, threads):
    """The machine's best f32 GEMM rate, measured now: the fastest provider's square-2048 sgemm
    among the bench_gemm executables given (bench/gemm.cpp), on the steps' thread count."""
    best = None
    for binary in binaries:
        doc = json.loads(run_child([binary, "--repeats", "5"], threads))
        rate = next(r["gflops"] for r in doc["rows"] if r["what"].startswith("roof"))
        if best is None or rate > best["gflops"]:
            best = {"gflops": rate, "provider": doc["provider"], "kernels": doc["kernels"]}
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", help="the bench_gpt_step executable")
    ap.add_argument("--side", choices=["jax", "torch-eager", "torch-compiled"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--size", choices=sorted(SIZES), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["hello", "wide"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--torch-python", help="Python with PyTorch 2.x (default: .venv-torch's, "
                                           "child.find_torch_python); 'none' skips PyTorch")
    ap.add_argument("--out", help="write the results here (JSON)")
    ap.add_argument("--roof", nargs="*", default=[],
                    help="bench_gemm executables: each side's share of the best one's GEMM rate")
    a = ap.parse_args()
    if a.side == "jax":
        print(json.dumps(jax_side(a.size, a.warmup, a.repeats)))
        return 0
    if a.side:
        print(json.dumps(torch_side(a.size, a.side[len("torch-"):], a.warmup, a.repeats)))
        return 0
    if not a.ours:
        ap.error("--ours is required")
    torch_python, torch_note = find_torch_python(a.torch_python)
    print(f"PyTorch: {torch_python or 'skipped'} ({torch_note})", flush=True)

    roof = gemm_roof(a.roof, a.threads) if a.roof else None
    if roof:
        print(f"GEMM roof: {roof['gflops']:.0f} GFLOP/s ({roof['provider']}, {roof['kernels']} "
              f"kernels, square 2048, {a.threads} thread(s))", flush=True)
    rows, failed = [], []
    for size in a.sizes:
        s = SIZES[size]
        ours_cmd = [a.ours, "--warmup", str(a.warmup), "--repeats", str(a.repeats)]
        for key, value in s.items():
            ours_cmd += ["--" + key.replace("_", "-"), str(value)]
        row = {"size": size, **s, "modnorm": json.loads(run_child(ours_cmd, a.threads))}
        child = ["--size", size, "--warmup", str(a.warmup), "--repeats", str(a.repeats)]
        here = os.path.abspath(__file__)
        row["jax"] = json.loads(run_child([sys.executable, here, "--side", "jax"] + child,
                                          a.threads))
        for mode in ("eager", "compiled") if torch_python else ():
            row["torch_" + mode] = json.loads(run_child(
                [torch_python, here, "--side", "torch-" + mode] + child, a.threads))
        ours = row["modnorm"]
        timed = {k: row[k] for k in PEERS if k in row and "median_s" in row[k]}
        for k, peer in timed.items():
            if peer["parameters"] != ours["parameters"]:
                raise RuntimeError(f"{size}: parameter counts differ: modnorm "
                                   f"{ours['parameters']}, {PEERS[k]} {peer['parameters']}")
            for loss, tolerance in LOSS_TOLERANCE.items() if k != "jax" else ():
                error = abs(peer[loss] - row["jax"][loss]) / abs(row["jax"][loss])
                peer[loss + "_vs_jax"] = error
                if error > tolerance:
                    failed.append(f"{size}: {PEERS[k]}'s {loss} {peer[loss]:.7f} differs from "
                                  f"JAX's {row['jax'][loss]:.7f} by {error:.1e} (relative; "
                                  f"tolerance {tolerance:.0e})")
        fastest = min(timed, key=lambda k: timed[k]["median_s"])
        row["flops_per_step"] = step_flops(size)
        if roof:  # the share of the GEMM roof of ours and of the fastest peer
            row["roof_share"] = {k: row["flops_per_step"] / row[k]["median_s"] /
                                 (roof["gflops"] * 1e9) for k in ("modnorm", fastest)}
        row.update({"speedup": row["jax"]["median_s"] / ours["median_s"],
                    "cpu_speedup": row["jax"]["cpu_s_per_step"] / ours["cpu_s_per_step"],
                    "fastest_peer": PEERS[fastest], "fastest_peer_side": fastest,
                    "speedup_vs_fastest_peer": timed[fastest]["median_s"] / ours["median_s"]})
        rows.append(row)
        print(f"{size:>6}: wall, CPU per step, peak RSS: modnorm {1e3 * ours['median_s']:.1f} ms, "
              f"{1e3 * ours['cpu_s_per_step']:.0f} ms, {ours['peak_rss_mib']:.0f} MiB", flush=True)
        for k in PEERS:
            if k not in row:
                continue
            p = row[k]
            print(f"{'':>8}{PEERS[k]:<17} " + (
                f"unavailable: {p['unavailable']}" if "unavailable" in p else
                f"{1e3 * p['median_s']:.1f} ms ({p['median_s'] / ours['median_s']:.2f}x ours), "
                f"{1e3 * p['cpu_s_per_step']:.0f} ms, {p['peak_rss_mib']:.0f} MiB; first loss "
                f"{p['first_loss']:.6f}, compile/first step {p['first_step_s']:.1f} s"),
                flush=True)
    doc = {"date": datetime.date.today().isoformat(), "threads": a.threads,
           "repeats": a.repeats, "load_average": list(os.getloadavg()),
           "cpu": cpu_label(cpuinfo()), "gemm_roof": roof,
           "torch": {"python": torch_python, "version_or_reason": torch_note}, "rows": rows}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)
    for message in failed:
        print("gpt_speed: FAIL: " + message, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
