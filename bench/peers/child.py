"""Child processes of the GPT benchmarks (gpt_speed.py, lm.py): one thread count for every side."""
import os
import subprocess


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
