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


def run_child(cmd, threads):
    """Runs cmd with child_env(threads); its stdout, or RuntimeError with the end of its stderr."""
    proc = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout
