"""Child processes of the peers' benchmarks (gpt_speed.py, lm.py, peers.py): one thread count for
every side, and the Python that runs PyTorch."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def child_env(threads):
    """This environment with `threads` threads for OpenMP, OpenBLAS, MKL and XLA's CPU backend."""
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = str(threads)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=true"
                        f" intra_op_parallelism_threads={threads}").strip()
    return env


def start_child(cmd, threads):
    """Starts cmd with child_env(threads), its output captured; finish_child collects it."""
    return subprocess.Popen(cmd, env=child_env(threads), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish_child(proc):
    """Waits for a started child: its stdout, or RuntimeError with the end of its stderr."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(proc.args)} failed ({proc.returncode}):\n{err[-3000:]}")
    return out


def run_child(cmd, threads):
    """Runs cmd with child_env(threads) to its end: its stdout (RuntimeError if it fails)."""
    return finish_child(start_child(cmd, threads))


def find_torch_python(choice):
    """(python, torch version) for a PyTorch side: `choice`, or the first of $PEERS_TORCH_PYTHON,
    .venv-torch's (`scripts/setup torch2`), this Python and Debian's /usr/bin/python3 whose torch
    can exchange arrays with its numpy; (None, why not) when there is none or choice is 'none'."""
    if choice == "none":
        return None, "disabled (--torch-python none)"
    candidates = [choice] if choice else [
        os.environ.get("PEERS_TORCH_PYTHON"),
        os.path.join(ROOT, ".venv-torch", "bin", "python"),
        sys.executable, "/usr/bin/python3"]
    tried = []
    for py in [c for c in candidates if c]:
        tried.append(py)
        if not os.access(py, os.X_OK):
            continue
        probe = subprocess.run([py, "-c", "import numpy, torch; torch.tensor(numpy.zeros(2)); "
                                "print(torch.__version__)"], capture_output=True, text=True)
        if probe.returncode == 0:
            return py, probe.stdout.strip()
    return None, ("no Python with a working torch among " + ", ".join(tried) +
                  " (`scripts/setup torch2` installs PyTorch 2.x in .venv-torch, "
                  "scripts/bench-peers Debian's python3-torch)")
