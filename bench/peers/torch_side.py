"""PyTorch's side of the comparison: run by bench/peers/peers.py in a child process
under a Python that has torch (Debian's python3-torch lives in /usr/bin/python3, next to
Debian's numpy 1.24; the virtual environment's numpy 2 cannot load that torch build).

Usage: python3 torch_side.py agree INPUT.safetensors OUTPUT.safetensors
       python3 torch_side.py speed INPUT.safetensors OUTPUT.json THREADS

The jobs are the ones bench_peers_ours reads (the "jobs" metadata of INPUT); this side does the
ones PyTorch has a counterpart for: "orthogonalize" (the reference quintic below), "mlp_grad"
(autograd) and, in speed mode, "train_step" (forward, backward and the reference Muon step) and
"cnn_step" (the same for the residual CNN, built from torch.nn.Conv2d).
"""

import json
import os
import re
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
    EMA momentum via lerp, Nesterov, the quintic, then sqrt(max(1, rows/cols)) (rows = d_out);
    a convolution's weight [c_out, c_in, k, k] orthogonalized per tap (modnorm's per-tap norm)."""
    for p, buf in zip(params, buffers):
        g = p.grad
        buf.lerp_(g, 1 - momentum)
        update = g.lerp_(buf, momentum) if nesterov else buf
        if update.ndim == 4:  # a convolution: one matrix [c_out, c_in] per tap, as modnorm
            taps = update.permute(2, 3, 0, 1)
            update = zeropower_via_newtonschulz5(taps).permute(2, 3, 0, 1)
        else:
            update = zeropower_via_newtonschulz5(update)
        update = update * max(1, p.size(0) / p.size(1)) ** 0.5
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


class ResCNN(torch.nn.Module):
    """modnorm's ResCNN (models/rescnn.hpp) for 28x28x1 images in PyTorch's NCHW: per stage
    (after the first: AvgPool2d(2) and a 3x3 Conv2d to the new width) one block
    (1 - 1/L) x + (1/L) residue(x), residue = mean-subtract o abs o conv o RMS-divide (each over
    the whole image), L the number of blocks; a 3x3 stem, global average pool and a Linear head.
    No biases; every convolution's output scaled by sqrt(c_out / c_in) / 9 as modnorm's per-tap
    Conv2D."""

    def __init__(self, widths, classes=10):
        super().__init__()
        conv = lambda c_in, c_out: torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)  # noqa
        self.stem = conv(1, widths[0])
        self.entries = torch.nn.ModuleList(conv(a, b) for a, b in zip(widths, widths[1:]))
        self.residues = torch.nn.ModuleList(conv(w, w) for w in widths)
        self.head = torch.nn.Linear(widths[-1], classes, bias=False)

    @staticmethod
    def scaled(conv, x):
        return conv(x) * (conv.out_channels / conv.in_channels) ** 0.5 / 9

    def forward(self, x):
        a = 1 / len(self.residues)
        x = self.scaled(self.stem, x.view(-1, 1, 28, 28))
        for s, residue in enumerate(self.residues):
            if s > 0:
                x = self.scaled(self.entries[s - 1], F.avg_pool2d(x, 2))
            r = x / (x.square().mean(dim=(1, 2, 3), keepdim=True) + 1e-6).sqrt()
            r = self.scaled(residue, r).abs()
            r = r - r.mean(dim=(1, 2, 3), keepdim=True)
            x = (1 - a) * x + a * r
        return self.head(x.mean(dim=(2, 3)))


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
        elif job["op"] in ("train_step", "cnn_step"):
            torch.manual_seed(0)
            net = (mlp([tensors[n] for n in job["weights"]]) if job["op"] == "train_step"
                   else ResCNN(job["widths"]))
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
    """The BLAS that torch's CPU GEMMs go to. torch.__config__ says BLAS_INFO=mkl for PyPI's
    wheels (MKL linked in; its version line follows); Debian's torch calls the system's
    libblas.so.3, which the alternatives system points at OpenBLAS when libopenblas0-* is
    installed: then the CPU BLAS libraries mapped into this process (CUDA's cuBLAS, which PyPI's
    torch loads too, is not one)."""
    config = torch.__config__.show()
    info = re.search(r"BLAS_INFO=(\w+)", config)
    if info and info.group(1) == "mkl":
        version = re.search(r"Math Kernel Library Version ([0-9.]+)", config)
        return "MKL " + version.group(1) if version else "MKL"
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        libs = set()
    blas = sorted(l for l in libs if "blas" in l.lower() and "cublas" not in l.lower())
    return (", ".join(os.path.realpath(l) for l in blas) or
            (f"{info.group(1)} (torch.__config__)" if info else "unknown"))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "agree":
        agree(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 5 and sys.argv[1] == "speed":
        speed(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
