"""Wall-clock timing shared by the peers' sides (jax_side.py, torch_side.py)."""
import statistics
import time


def timed(fn, warmup, repeats):
    """`warmup` untimed calls, then `repeats` timed ones: median, min and every time (s)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times}
