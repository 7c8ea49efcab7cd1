"""PyTorch's side of the comparison: run by bench/peers/peers.py in a child process
under a Python that has torch (Debian's python3-torch lives in /usr/bin/python3, next to
Debian's numpy 1.24; the virtual environment's numpy 2 cannot load that torch build).

Usage: python3 torch_side.py agree INPUT.safetensors OUTPUT.safetensors
       python3 torch_side.py speed INPUT.safetensors OUTPUT.json THREADS

The jobs are the ones bench_peers_ours reads (the "jobs" metadata of INPUT); this side does the
ones PyTorch has a counterpart for: "orthogonalize" (the reference quintic below), "mlp_grad"
(autograd) and, in speed mode, "train_step" (forward, backward and the reference Muon step).
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from timing import timed  # noqa: E402


def zeropower_via_newtonschulz5(G, steps=5, eps=1e-7):
    """The published reference quintic (K. Jordan, github.com/KellerJordan/Muon, muon.py),
    transcribed with the iterate in G's dtype (the reference casts to bfloat16; f32 here, as
    the CPU comparison asks, f64 for the exact check)."""
    assert G.ndim >= 2
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G
    if G.size(-2) > G.size(-1):
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + eps)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    if G.size(-2) > G.size(-1):
        X = X.mT
    return X


@torch.no_grad()
def muon_step(params, buffers, lr, momentum=0.95, nesterov=True):
    """The reference single-device Muon step (muon.py `muon_update`, weight decay 0):
    EMA momentum via lerp, Nesterov, the quintic, then sqrt(max(1, rows/cols)) (rows = d_out)."""
    for p, buf in zip(params, buffers):
        g = p.grad
        buf.lerp_(g, 1 - momentum)
        update = g.lerp_(buf, momentum) if nesterov else buf
        update = zeropower_via_newtonschulz5(update)
        update = update * max(1, p.size(-2) / p.size(-1)) ** 0.5
        p.add_(update, alpha=-lr)


def mlp(weights):
    """784-512-512-10 ReLU MLP without biases, weights [d_out x d_in] as in modnorm."""
    layers = []
    for k, w in enumerate(weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(w))
        layers.append(lin)
        if k + 1 < len(weights):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def agree(inp, out):
    tensors, meta = st.load(inp)
    result = {}
    for job in json.loads(meta["jobs"]):
        if job["op"] == "orthogonalize":
            G = torch.tensor(tensors[job["input"]])
            result[job["output"]] = zeropower_via_newtonschulz5(G, eps=job["epsilon"]).numpy()
        elif job["op"] == "mlp_grad":
            net = mlp([tensors[n] for n in job["weights"]])
            x = torch.tensor(tensors[job["x"]])
            y = torch.tensor(tensors[job["labels"]]).long()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            result[job["output"] + "loss"] = np.array(loss.item(), dtype=np.float64)
            names = [str(k) + ".weight" for k in range(0, 2 * len(job["weights"]), 2)]
            lins = [m for m in net if isinstance(m, torch.nn.Linear)]
            for name, lin in zip(names, lins):
                result[job["output"] + name] = lin.weight.grad.numpy()
    st.save(out, result, {"torch_version": torch.__version__})


def speed(inp, out, threads):
    torch.set_num_threads(threads)
    tensors, meta = st.load(inp)
    results = []
    for job in json.loads(meta["jobs"]):
        warmup, repeats = job.get("warmup", 2), job.get("repeats", 10)
        if job["op"] == "orthogonalize":
            G = torch.tensor(tensors[job["input"]])
            t = timed(lambda: zeropower_via_newtonschulz5(G), warmup, repeats)
        elif job["op"] == "train_step":
            net = mlp([tensors[n] for n in job["weights"]])
            x = torch.tensor(tensors[job["x"]])
            y = torch.tensor(tensors[job["labels"]]).long()
            params = list(net.parameters())
            buffers = [torch.zeros_like(p) for p in params]
            lr = job.get("torch_lr", 0.02)

            def step():
                for p in params:
                    p.grad = None
                loss = F.cross_entropy(net(x), y)
                loss.backward()
                muon_step(params, buffers, lr)

            t = timed(step, warmup, repeats)
        else:
            continue
        t["id"] = job["id"]
        results.append(t)
    doc = {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
           "blas": blas_name(), "results": results}
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)


def blas_name():
    """The BLAS library torch's GEMM goes to (Debian's torch links libblas.so.3, which the
    alternatives system points at OpenBLAS when libopenblas0-* is installed)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if ".so" in line}
        blas = sorted(l for l in libs if "blas" in l.lower())
        return ", ".join(os.path.realpath(l) for l in blas) or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "agree":
        agree(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 5 and sys.argv[1] == "speed":
        speed(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
