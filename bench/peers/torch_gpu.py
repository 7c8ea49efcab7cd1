"""PyTorch's Newton-Schulz on the GPU, beside `bench_orthogonalize --device cuda`
(docs/benchmarks.md, "Orthogonalization on the GPU").

Usage: python3 torch_gpu.py OURS.json [--repeats N]

Reads modnorm's JSON (bench_orthogonalize --device cuda) for the sizes and the cuBLAS bf16
GEMM rate measured there, runs the reference quintic of torch_side.py (5 steps; on a batch
[B, R, C] each matrix is its own problem, as in the reference) under torch.compile on the same
sizes, in bf16 (as published) and f32, and prints one Markdown table: each method's time, its
fraction of the GEMM rate (nominal flops / time / rate), and PyTorch's time over modnorm's.
Timing: CUDA events around each call, median of N after 3 warm-up calls (compilation
included in the warm-up).
"""

import json
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_side import zeropower_via_newtonschulz5  # noqa: E402


def time_ms(fn, x, repeats):
    for _ in range(3):
        fn(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if not torch.cuda.is_available():
        sys.exit("torch_gpu.py: no CUDA device visible to torch")
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 10
    with open(sys.argv[1]) as f:
        ours = json.load(f)
    compiled = torch.compile(zeropower_via_newtonschulz5)
    print(f"PyTorch {torch.__version__}, {torch.cuda.get_device_name()}; modnorm "
          f"bench_orthogonalize --device cuda, same run\n")
    print("| G | method | modnorm (ms) | of bf16 GEMM rate | PyTorch compiled (ms) | "
          "PyTorch / modnorm |")
    print("|---|---|---|---|---|---|")
    for size in ours["results"]:
        batch, rows, cols = size["batch"], size["rows"], size["cols"]
        shape = (batch, rows, cols) if batch > 1 else (rows, cols)
        name = "x".join(str(d) for d in shape)
        gen = torch.Generator(device="cuda").manual_seed(0)
        g = torch.randn(shape, device="cuda", generator=gen)
        for row in size["methods"]:
            peer = ""
            if row["method"] in ("quintic", "quintic_bf16"):
                x = g.bfloat16() if row["method"].endswith("bf16") else g
                t = time_ms(compiled, x, repeats)
                peer = f"{t:.3f} | {t / (row['time_s'] * 1e3):.2f}x"
            else:
                peer = "- | -"
            fraction = row.get("fraction_of_gemm_rate")  # absent for the svd reference
            share = f"{fraction:.0%}" if fraction is not None else "-"
            print(f"| {name} | {row['method']} | {row['time_s'] * 1e3:.3f} | {share} | {peer} |")


if __name__ == "__main__":
    main()
