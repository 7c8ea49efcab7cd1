"""modnorm side by side with optax, PyTorch and JAX: agreement and CPU speed.

Run through scripts/bench-peers (which sets up .venv and builds bench_peers_ours), or directly
with the virtual environment's python:

  .venv/bin/python bench/peers/peers.py --ours build/bin/bench_peers_ours [--agreement-only]
      [--out DIR] [--threads 2] [--repeats 10] [--rounds 2]
      [--torch-python /usr/bin/python3|none] [--skip-if-missing]

One process tree: this script (numpy, jax, optax in-process) generates every input with a fixed
seed and writes it to safetensors files; bench_peers_ours (modnorm) and torch_side.py (PyTorch,
under a Python that has torch) read the same files and write their results back; this script
compares, times, and writes DIR/peers.json and DIR/peers.md (a Markdown section for
docs/benchmarks.md). Exit status 1 when any agreement check fails. With --skip-if-missing (the
CTest test peers_agreement) a missing jax/optax prints one line "peers_agreement skipped: ..."
and exits 0.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from child import find_torch_python  # noqa: E402

try:
    import numpy as np

    import st
except ImportError as missing:  # reported by main() (skipped under --skip-if-missing)
    np = st = None
    MISSING = missing

SEED = 9
BETA = 0.95
LR = 0.02
STEPS = 20

# Tolerances of the agreement checks (max |ours - peer| / max |peer|). f32 Newton-Schulz: five
# quintic steps amplify the rounding of different but equally valid summation orders (the
# slope at 0 is 3.4445^5 = 485 for small singular values), so f32 implementations differ by
# about their own distance from the f64 result (2e-6 to 2e-5 on these inputs, the
# ill-conditioned one largest); a wrong coefficient, step count or orientation differs by
# 1e-3 or more, and the f64 checks (1e-12) see even the epsilon convention. Weights after 20
# optimizer steps and gradients: 1e-5.
TOL_NS_F32 = 1e-4
TOL_NS_F64 = 1e-12
TOL_WEIGHTS = 1e-5
TOL_GRADS = 1e-5


def rel_max(a, b):
    """max |a - b| / max |b| (b the peer, the reference)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def rel_elem(a, b):
    """Largest per-element |a - b| / |b| over entries with |b| >= 1% of max |b| (smaller
    entries make the per-element ratio meaningless: it divides rounding noise by ~0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = np.abs(b) >= 0.01 * np.max(np.abs(b))
    return float(np.max(np.abs(a - b)[keep] / np.abs(b)[keep]))


def run(cmd, env=None):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def child_env(threads):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["MKL_NUM_THREADS"] = str(threads)
    return env


def machine(threads):
    cpu = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        fields = dict(l.split(":", 1) for l in lscpu.splitlines() if ":" in l)
        cpu = fields.get("Model name", "").strip()
        flags = fields.get("Flags", "")
        isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
        cpu = f"{cpu} ({isa}, {os.cpu_count()} CPUs, {fields.get('Hypervisor vendor', 'bare metal').strip()})"
    except (OSError, ValueError):
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpu": cpu, "memory_gib": round(mem_kb / 2**20, 1), "kernel": platform.release(),
            "python": platform.python_version(), "threads": threads,
            "load_average": list(os.getloadavg())}


# ---- inputs --------------------------------------------------------------------------------------

def gaussian(rng, *shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def low_rank_like(rng, rows, cols):
    """A gradient-like matrix: singular values decaying from 1 to 1e-4 (log-spaced)."""
    k = min(rows, cols)
    u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
    s = np.logspace(0, -4, k)
    return ((u * s) @ v.T).astype(np.float32)


def mlp_weights(rng, sizes):
    """Orthogonal weights scaled by sqrt(d_out / d_in), modnorm's well-normed initialisation."""
    out = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        q, _ = np.linalg.qr(rng.standard_normal((max(d_in, d_out), min(d_in, d_out))))
        w = q if d_out >= d_in else q.T
        out.append((np.sqrt(d_out / d_in) * w).astype(np.float32))
    return out


MLP_SIZES = [784, 512, 512, 10]


def agreement_inputs(rng):
    tensors, jobs = {}, []
    ns_cases = {"256x256": gaussian(rng, 256, 256), "512x784": gaussian(rng, 512, 784),
                "784x512": gaussian(rng, 784, 512), "10x512": gaussian(rng, 10, 512),
                "lowrank 256x512": low_rank_like(rng, 256, 512)}
    for name, g in ns_cases.items():
        tensors[f"ns/{name}"] = g
        tensors[f"ns64/{name}"] = g.astype(np.float64)
        for eps in (0.0, 1e-8, 1e-7):
            jobs.append({"op": "orthogonalize", "input": f"ns/{name}", "epsilon": eps,
                         "compute": "f32", "output": f"ns/{name}/eps={eps:g}"})
            jobs.append({"op": "orthogonalize", "input": f"ns64/{name}", "epsilon": eps,
                         "compute": "f64", "output": f"ns64/{name}/eps={eps:g}"})

    # Optimizer: one Linear atom per shape, 20 steps of gradients with a persistent part (so
    # momentum matters) and noise, scaled so that optax's adaptive factor <mu_hat, O> (about
    # the nuclear norm) is of order 1.
    opt_cases = []
    for shape in [(128, 192), (192, 128), (10, 64)]:
        d_out, d_in = shape
        w0 = mlp_weights(rng, [d_in, d_out])[0]
        base = gaussian(rng, d_out, d_in, scale=1e-3)
        grads = np.stack([base + gaussian(rng, d_out, d_in, scale=1e-3) for _ in range(STEPS)])
        key = f"opt/{d_out}x{d_in}"
        tensors[key + "/w0"] = w0
        tensors[key + "/grads"] = grads
        for nesterov in (True, False):
            for adaptive in (False, True):
                options = {"lr": LR, "beta": BETA, "nesterov": nesterov, "weight_decay": 0.01,
                           "correction": "per_layer" if adaptive else "off",
                           "convention": "optax", "epsilon": 1e-8}
                name = (f"{key} nesterov={'on' if nesterov else 'off'} "
                        f"{'adaptive' if adaptive else 'muon'}")
                jobs.append({"op": "optimizer", "w0": key + "/w0", "grads": key + "/grads",
                             "options": options, "output": name})
                opt_cases.append((name, key, options, True))
        # The library's own convention on the same gradients, for the record (not a check).
        modular = {"lr": LR, "beta": BETA, "nesterov": True, "weight_decay": 0.01,
                   "correction": "off", "convention": "modular", "epsilon": 0.0}
        name = f"{key} nesterov=on muon (modular convention)"
        jobs.append({"op": "optimizer", "w0": key + "/w0", "grads": key + "/grads",
                     "options": modular, "output": name})
        opt_cases.append((name, key, dict(modular, convention="optax"), False))

    weights = mlp_weights(rng, MLP_SIZES)
    for k, w in enumerate(weights):
        tensors[f"mlp/w{k}"] = w
    tensors["mlp/x"] = gaussian(rng, 128, 784)
    tensors["mlp/y"] = rng.integers(0, 10, 128).astype(np.float32)
    jobs.append({"op": "mlp_grad", "x": "mlp/x", "labels": "mlp/y",
                 "weights": [f"mlp/w{k}" for k in range(len(weights))], "output": "mlp/"})
    return tensors, jobs, list(ns_cases), opt_cases


# ---- agreement -----------------------------------------------------------------------------------

def agreement(args, work, jax_side, torch_python):
    rng = np.random.default_rng(SEED)
    tensors, jobs, ns_names, opt_cases = agreement_inputs(rng)
    inp = os.path.join(work, "agree_inputs.safetensors")
    st.save(inp, tensors, {"jobs": json.dumps(jobs), "seed": SEED})
    ours_out = os.path.join(work, "agree_ours.safetensors")
    run([args.ours, "agree", inp, ours_out], env=child_env(args.threads))
    ours, _ = st.load(ours_out)
    torch_res = None
    if torch_python:
        torch_out = os.path.join(work, "agree_torch.safetensors")
        run([torch_python, os.path.join(HERE, "torch_side.py"), "agree", inp, torch_out],
            env=child_env(args.threads))
        torch_res, _ = st.load(torch_out)

    rows = []

    def check(kind, case, peer, ours_arr, peer_arr, tol, note=""):
        row = {"check": kind, "case": case, "peer": peer, "max_rel": rel_max(ours_arr, peer_arr),
               "max_elem_rel": rel_elem(ours_arr, peer_arr), "tolerance": tol, "note": note}
        row["pass"] = None if tol is None else bool(row["max_rel"] <= tol)
        rows.append(row)

    for name in ns_names:
        g = tensors[f"ns/{name}"]
        optax32 = jax_side.orthogonalize(g, 1e-8)
        optax64 = jax_side.orthogonalize(g.astype(np.float64), 1e-8)
        check("orthogonalize f32", name, "optax", ours[f"ns/{name}/eps=1e-08"], optax32,
              TOL_NS_F32, "epsilon 1e-8 (optax's eps)")
        check("orthogonalize f64", name, "optax", ours[f"ns64/{name}/eps=1e-08"], optax64,
              TOL_NS_F64, "jax x64")
        check("orthogonalize f32", name, "optax", ours[f"ns/{name}/eps=0"], optax32, None,
              "modnorm default epsilon 0: the convention difference")
        check("orthogonalize f64", name, "optax", ours[f"ns64/{name}/eps=0"], optax64, None,
              "modnorm default epsilon 0: the convention difference")
        check("orthogonalize f32", name, "modnorm f64", ours[f"ns/{name}/eps=1e-08"],
              ours[f"ns64/{name}/eps=1e-08"], None, "rounding floor: our f32 against our f64")
        if torch_res is not None:
            check("orthogonalize f32", name, "PyTorch reference",
                  ours[f"ns/{name}/eps=1e-07"], torch_res[f"ns/{name}/eps=1e-07"], TOL_NS_F32,
                  "epsilon 1e-7 (the reference code's)")
            check("orthogonalize f64", name, "PyTorch reference",
                  ours[f"ns64/{name}/eps=1e-07"], torch_res[f"ns64/{name}/eps=1e-07"],
                  TOL_NS_F64, "")

    for name, key, options, is_check in opt_cases:
        optax_traj = jax_side.muon_trajectory(tensors[key + "/w0"], tensors[key + "/grads"],
                                              options)
        check("optimizer, 20 steps", name, "optax.contrib.muon", ours[name], optax_traj,
              TOL_WEIGHTS if is_check else None,
              "weights after every step; Convention::optax, epsilon 1e-8" if is_check else
              "modnorm defaults (Convention::modular, epsilon 0) against optax: not expected to agree")

    weights = [tensors[f"mlp/w{k}"] for k in range(len(MLP_SIZES) - 1)]
    loss, grads = jax_side.mlp_grad(weights, tensors["mlp/x"], tensors["mlp/y"])
    names = ["0.weight", "2.weight", "4.weight"]
    for name, g in zip(names, grads):
        check("MLP gradient (batch 128)", name, "JAX", ours["mlp/" + name], g, TOL_GRADS)
        if torch_res is not None:
            check("MLP gradient (batch 128)", name, "PyTorch", ours["mlp/" + name],
                  torch_res["mlp/" + name], TOL_GRADS)
    check("MLP loss (batch 128)", "loss", "JAX", ours["mlp/loss"], np.float64(loss), TOL_GRADS)
    if torch_res is not None:
        check("MLP loss (batch 128)", "loss", "PyTorch", ours["mlp/loss"], torch_res["mlp/loss"],
              TOL_GRADS)
    return rows


# ---- speed ---------------------------------------------------------------------------------------

NS_SIZES = [(256, 256), (1024, 1024), (1024, 4096), (4096, 1024)]
BATCHES = [128, 1024]
CNN_WIDTHS = [16, 32, 64]  # `modnorm train cnn`'s stages


def speed(args, work, jax_side, torch_python):
    rng = np.random.default_rng(SEED + 1)
    tensors, jobs = {}, []
    for rows_, cols in NS_SIZES:
        name = f"{rows_}x{cols}"
        tensors["g/" + name] = gaussian(rng, rows_, cols)
        jobs.append({"id": f"Newton-Schulz {name}", "op": "orthogonalize", "input": "g/" + name,
                     "warmup": 2, "repeats": args.repeats})
    weights = mlp_weights(rng, MLP_SIZES)
    for k, w in enumerate(weights):
        tensors[f"w{k}"] = w
    for batch in BATCHES:
        tensors[f"x{batch}"] = gaussian(rng, batch, 784)
        tensors[f"y{batch}"] = rng.integers(0, 10, batch).astype(np.float32)
        jobs.append({"id": f"MLP train step, batch {batch}", "op": "train_step",
                     "x": f"x{batch}", "labels": f"y{batch}",
                     "weights": [f"w{k}" for k in range(len(weights))], "lr": 0.1,
                     "torch_lr": LR, "warmup": 3, "repeats": 2 * args.repeats})
    # The residual CNN of `modnorm train cnn` (PyTorch only: torch.nn.Conv2d).
    jobs.append({"id": f"CNN train step, batch {BATCHES[0]}", "op": "cnn_step",
                 "x": f"x{BATCHES[0]}", "labels": f"y{BATCHES[0]}", "widths": CNN_WIDTHS,
                 "lr": 0.3, "torch_lr": LR, "warmup": 3, "repeats": 2 * args.repeats})
    inp = os.path.join(work, "speed_inputs.safetensors")
    st.save(inp, tensors, {"jobs": json.dumps(jobs), "seed": SEED + 1})

    # Each side runs every job in one process, `rounds` times, in alternating order
    # (modnorm, PyTorch, JAX, then JAX, PyTorch, modnorm, ...), so that a drift of the
    # machine's speed does not favour one side; the medians are over all rounds' runs.
    variants = dict(v.split("=", 1) for v in args.variant)  # other builds of modnorm
    sides = ["modnorm"] + list(variants) + (["PyTorch"] if torch_python else []) + ["JAX (jit)"]
    times = {job["id"]: {side: [] for side in sides} for job in jobs}
    torch_info = {}

    def run_side(side, r):
        if side == "JAX (jit)":
            for job in jobs:
                if job["op"] == "cnn_step":
                    continue
                if job["op"] == "orthogonalize":
                    t = jax_side.time_orthogonalize(tensors[job["input"]], job["warmup"],
                                                    job["repeats"])
                else:
                    t = jax_side.time_train_step([tensors[n] for n in job["weights"]],
                                                 tensors[job["x"]], tensors[job["labels"]], LR,
                                                 job["warmup"], job["repeats"])
                times[job["id"]][side] += t["times_s"]
            return
        out_json = os.path.join(work, f"speed_{sides.index(side)}_{r}.json")
        if side == "modnorm" or side in variants:
            binary = args.ours if side == "modnorm" else variants[side]
            run([binary, "speed", inp, out_json], env=child_env(args.threads))
        else:
            run([torch_python, os.path.join(HERE, "torch_side.py"), "speed", inp, out_json,
                 str(args.threads)], env=child_env(args.threads))
        with open(out_json) as f:
            doc = json.load(f)
        if side == "PyTorch":
            torch_info.update({k: doc[k] for k in ("torch_version", "threads", "blas")})
        for t in doc["results"]:
            times[t["id"]][side] += t["times_s"]

    load_before = os.getloadavg()
    for r in range(args.rounds):
        for side in (sides if r % 2 == 0 else sides[::-1]):
            print(f"speed: round {r + 1}/{args.rounds}, {side}", flush=True)
            run_side(side, r)
    load_after = os.getloadavg()

    table = []
    for job in jobs:
        med = {side: statistics.median(t) for side, t in times[job["id"]].items() if t}
        peers = {k: v for k, v in med.items() if k != "modnorm" and k not in variants}
        if not peers:  # the CNN without PyTorch
            continue
        fastest = min(peers, key=peers.get)
        table.append({"workload": job["id"], "modnorm_ms": 1e3 * med["modnorm"],
                      "variants_ms": {k: 1e3 * med[k] for k in variants},
                      "peers_ms": {k: 1e3 * v for k, v in peers.items()}, "fastest_peer": fastest,
                      "speedup_vs_fastest_peer": peers[fastest] / med["modnorm"],
                      "variant_speedup_vs_fastest_peer":
                          {k: peers[fastest] / med[k] for k in variants},
                      "times_s": times[job["id"]]})
    return {"rows": table, "load_before": list(load_before), "load_after": list(load_after),
            "torch": torch_info, "repeats": args.repeats, "rounds": args.rounds}


# ---- output --------------------------------------------------------------------------------------

def _find(rows, check, case, peer, note_start=""):
    for r in rows:
        if (r["check"] == check and r["case"] == case and r["peer"] == peer
                and r["note"].startswith(note_start)):
            return r
    return None


def _cell(r):
    if r is None:
        return "—"
    mark = "" if r["pass"] is None else (" ✓" if r["pass"] else " **FAIL**")
    return f"{r['max_rel']:.1e}{mark}"


def _blas(paths):
    """The BLAS library's file name (the most specific of the mapped ones)."""
    names = [os.path.basename(p) for p in paths.split(", ")]
    return ([n for n in names if "openblas" in n] or names)[-1]


def ns_table(doc):
    """Newton-Schulz agreement: one row per input G, one column per comparison."""
    rows = doc["agreement"]
    lines = ["| G | optax f32 | optax f64 | PyTorch ref. f32 | PyTorch ref. f64 | "
             "ours f32 vs ours f64 | ours f64, epsilon 0, vs optax f64 |",
             "|---|---|---|---|---|---|---|"]
    cases = []
    for r in rows:
        if r["check"].startswith("orthogonalize") and r["case"] not in cases:
            cases.append(r["case"])
    for c in cases:
        cells = [_find(rows, "orthogonalize f32", c, "optax", "epsilon"),
                 _find(rows, "orthogonalize f64", c, "optax", "jax"),
                 _find(rows, "orthogonalize f32", c, "PyTorch reference"),
                 _find(rows, "orthogonalize f64", c, "PyTorch reference"),
                 _find(rows, "orthogonalize f32", c, "modnorm f64"),
                 _find(rows, "orthogonalize f64", c, "optax", "modnorm default")]
        lines.append(f"| {c} | " + " | ".join(_cell(x) for x in cells) + " |")
    return lines


def optimizer_table(doc):
    """Optimizer agreement with optax.contrib.muon: one row per weight shape."""
    rows = doc["agreement"]
    lines = ["| W (d_out x d_in) | Muon, Nesterov | Muon | adaptive, Nesterov | adaptive | "
             "modnorm defaults, Nesterov |", "|---|---|---|---|---|---|"]
    shapes = []
    for r in rows:
        if r["check"].startswith("optimizer"):
            key = r["case"].split(" ")[0]
            if key not in shapes:
                shapes.append(key)
    for key in shapes:
        cells = [_find(rows, "optimizer, 20 steps", f"{key} {n} {a}", "optax.contrib.muon")
                 for n, a in [("nesterov=on", "muon"), ("nesterov=off", "muon"),
                              ("nesterov=on", "adaptive"), ("nesterov=off", "adaptive"),
                              ("nesterov=on", "muon (modular convention)")]]
        lines.append(f"| {key[4:]} | " + " | ".join(_cell(x) for x in cells) + " |")
    return lines


def mlp_table(doc):
    """MLP loss and gradients against JAX's and PyTorch's autograd."""
    rows = doc["agreement"]
    lines = ["| | JAX | PyTorch |", "|---|---|---|"]
    for case in ["loss", "0.weight", "2.weight", "4.weight"]:
        check = "MLP loss (batch 128)" if case == "loss" else "MLP gradient (batch 128)"
        lines.append(f"| {case} | {_cell(_find(rows, check, case, 'JAX'))} | "
                     f"{_cell(_find(rows, check, case, 'PyTorch'))} |")
    return lines


def speed_table(doc):
    """Median times per workload and side, and modnorm's speed-up over the fastest peer."""
    s = doc["speed"]
    peers = sorted({p for row in s["rows"] for p in row["peers_ms"]})
    variants = sorted({p for row in s["rows"] for p in row.get("variants_ms", {})})
    lines = ["| workload | modnorm (ms) | " + " | ".join(f"{p} (ms)" for p in peers)
             + " | fastest peer / modnorm |"
             + "".join(f" {v} (ms) | fastest peer / it |" for v in variants),
             "|---|---|" + "---|" * len(peers) + "---|" + "---|---|" * len(variants)]
    for row in s["rows"]:
        cells = [f"{row['peers_ms'][p]:.1f}" if p in row["peers_ms"] else "—" for p in peers]
        extra = "".join(f" {row['variants_ms'][v]:.1f} | "
                        f"{row['variant_speedup_vs_fastest_peer'][v]:.2f}x |" for v in variants)
        lines.append(f"| {row['workload']} | {row['modnorm_ms']:.1f} | " + " | ".join(cells)
                     + f" | **{row['speedup_vs_fastest_peer']:.2f}x** ({row['fastest_peer']}) |"
                     + extra)
    return lines


def markdown(doc):
    """peers.md: the run's machine and versions, and the tables of docs/benchmarks.md ("Peers";
    scripts/doc_tables renders the same tables there from a committed peers.json)."""
    m, v = doc["machine"], doc["versions"]
    torch = v.get("torch", "not installed")
    lines = ["## Peers: optax, PyTorch, JAX", "",
             f"`scripts/bench-peers`, {doc['date']}: {m['cpu']}, {m['memory_gib']} GiB, Linux "
             f"{m['kernel']}; {m['threads']} threads for every side. modnorm {v.get('modnorm', '?')} "
             f"(GCC, Release, -march=native), jax/jaxlib {v['jax']}/{v['jaxlib']}, optax "
             f"{v['optax']}, numpy {v['numpy']} (PyPI, .venv), PyTorch {torch} ("
             + ("Debian python3-torch" if doc.get("torch_python") == "/usr/bin/python3"
                else f"under {doc.get('torch_python')}")
             + (f", BLAS {_blas(doc['speed']['torch']['blas'])}"
                if doc.get("speed") and doc["speed"].get("torch") else "")
             + ").", "",
             "### Agreement", "",
             "Each cell is max |ours - peer| / max |peer| over all entries (✓: within the "
             f"tolerance: f32 Newton-Schulz {TOL_NS_F32:.0e}, f64 {TOL_NS_F64:.0e}, weights "
             f"{TOL_WEIGHTS:.0e}, gradients {TOL_GRADS:.0e}); peers.json also has the largest "
             "per-element relative difference.", "",
             "Newton-Schulz (quintic, 5 steps; ours with `epsilon` = the peer's: optax 1e-8, "
             "PyTorch reference 1e-7):", ""]
    lines += ns_table(doc)
    lines += ["", f"Optimizer: one Linear atom, {STEPS} steps of the same gradients, lr {LR}, "
              f"beta {BETA}, weight decay 0.01; every step's weights compared with "
              "`optax.contrib.muon` (given W^T). Ours with `Convention::optax` and `epsilon` "
              "1e-8; the last column is modnorm's own convention on the same gradients:", ""]
    lines += optimizer_table(doc)
    lines += ["", "MLP 784-512-512-10 (ReLU, no biases), batch 128: loss and gradients of "
              "`forward` / `backward` against autograd:", ""]
    lines += mlp_table(doc)
    if doc.get("speed"):
        s = doc["speed"]
        lines += ["", "### Speed (CPU, f32, medians after warm-up)", "",
                  f"1-minute load average {s['load_before'][0]:.2f} before the runs (other "
                  f"jobs), {s['load_after'][0]:.2f} after (ours included); per side "
                  f"{s['rounds']} rounds in alternating order of {s['repeats']} (Newton-Schulz) "
                  f"or {2 * s['repeats']} (training step) runs after warm-up; each side's "
                  "median over all its runs.", ""]
        lines += speed_table(doc)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", required=True, help="path of bench_peers_ours")
    ap.add_argument("--agreement-only", action="store_true")
    ap.add_argument("--out", default=None, help="directory for peers.json and peers.md")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10,
                    help="timed runs per round (training step: twice as many)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds of all sides, in alternating order")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=PATH",
                    help="time another build of bench_peers_ours beside modnorm (speed only)")
    ap.add_argument("--torch-python", default=None,
                    help="Python with torch (default: .venv-torch's, this one, then "
                         "/usr/bin/python3); 'none'")
    ap.add_argument("--skip-if-missing", action="store_true",
                    help="exit 0 with 'peers_agreement skipped: ...' when jax/optax are missing")
    args = ap.parse_args()

    # One thread count for everyone, set before jax starts its thread pool.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen=true"
                               f" intra_op_parallelism_threads={args.threads}").strip()
    try:
        if np is None:
            raise MISSING
        import jax_side
    except ImportError as e:
        if args.skip_if_missing:
            print(f"peers_agreement skipped: numpy/jax/optax not importable by {sys.executable} ({e}); "
                  "scripts/setup or scripts/bench-peers creates .venv with them")
            return 0
        raise

    torch_python, torch_note = find_torch_python(args.torch_python)
    print(f"PyTorch: {torch_python or 'skipped'} ({torch_note})", flush=True)
    out = args.out or tempfile.mkdtemp(prefix="modnorm-peers-")
    os.makedirs(out, exist_ok=True)
    versions = jax_side.versions()
    if torch_python:
        versions["torch"] = torch_note
    doc = {"date": datetime.date.today().isoformat(), "machine": machine(args.threads),
           "versions": versions, "torch_python": torch_python, "torch_note": torch_note}

    with tempfile.TemporaryDirectory(prefix="peers-", dir=out) as work:
        doc["agreement"] = agreement(args, work, jax_side, torch_python)
        _, meta = st.load(os.path.join(work, "agree_ours.safetensors"))
        versions["modnorm"] = meta.get("modnorm_version", "?")
        if not args.agreement_only:
            doc["speed"] = speed(args, work, jax_side, torch_python)

    with open(os.path.join(out, "peers.json"), "w") as f:
        json.dump(doc, f, indent=2)
    md = markdown(doc)
    with open(os.path.join(out, "peers.md"), "w") as f:
        f.write(md)
    print(md)
    failed = [r for r in doc["agreement"] if r["pass"] is False]
    checked = [r for r in doc["agreement"] if r["pass"] is not None]
    if not torch_python:
        print(f"PyTorch comparisons skipped: {torch_note}")
    print(f"agreement: {len(checked) - len(failed)} passed, {len(failed)} failed")
    print(f"results: {os.path.join(out, 'peers.json')}, {os.path.join(out, 'peers.md')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
