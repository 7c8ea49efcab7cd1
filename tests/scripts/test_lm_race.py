"""scripts/lm_race's protocol on a made-up loss surface (no training): grids extended until the
optimum is inside, the hybrids' AdamW group at AdamW's winner, winners on every seed, the target
and the ratios, the equal-wall-time runs. Run: python3 -m unittest test_lm_race (in this folder)."""
import concurrent.futures
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import math
import os
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_loader = importlib.machinery.SourceFileLoader("lm_race", os.path.join(ROOT, "scripts", "lm_race"))
_spec = importlib.util.spec_from_loader("lm_race", _loader)
race = importlib.util.module_from_spec(_spec)
_loader.exec_module(race)

OPTIMUM = {arm: centre * {"muon_hybrid": 8, "modula": 1 / 8}.get(arm, 1)
           for arm, (_, centre) in race.ARMS.items()}  # two of them 3 grid points outside
PER_STEP = {"adamw": 0.1, "muon_hybrid": 0.125, "normuon_hybrid": 0.125, "modula": 0.15,
            "sgd": 0.09}
# CPU time per step, not proportional to the wall time (a machine whose load varies)
CPU_PER_STEP = {"adamw": 0.05, "muon_hybrid": 0.1, "normuon_hybrid": 0.1, "modula": 0.04,
                "sgd": 0.05}
STEPS = 100


def fake_run(search, lr, steps, seed):
    """A quadratic in log2(lr) around the arm's optimum, a little worse for later seeds, falling
    linearly in the step; diverged above 64x the optimum. The hybrids' loss also pays for an
    AdamW group away from AdamW's optimum."""
    if lr > 64 * OPTIMUM[search.arm]:
        return {"val_loss": math.inf, "seconds": math.nan, "cpu_seconds": 1.0, "steps": steps,
                "rows": []}
    final = 1.0 + 0.01 * math.log2(lr / OPTIMUM[search.arm]) ** 2 + 0.002 * seed
    final += 0.03 * (search.arm == "sgd")  # never reaches AdamW's loss
    if search.arm in race.HYBRIDS:
        final += 0.01 * math.log2(search.adam_lr() / OPTIMUM["adamw"]) ** 2 - 0.05
    rows = [{"step": s, "tokens": s * search.tokens_per_step,
             "val_loss": final + 0.5 * (1 - s / steps), "seconds": s * PER_STEP[search.arm]}
            for s in range(10, steps + 1, 10)]
    return {"val_loss": final, "seconds": steps * PER_STEP[search.arm],
            "cpu_seconds": steps * CPU_PER_STEP[search.arm], "steps": steps, "rows": rows}


def run(max_extensions):
    adamw = race.Search("adamw", 2048, STEPS, 4e-3, None, max_extensions)
    adamw.adamw = adamw
    searches = [adamw] + [race.Search(a, 2048, STEPS, race.ARMS[a][1], adamw, max_extensions)
                          for a in race.ARMS if a != "adamw"]
    started = []

    def start(r):
        search, _, lr, steps, seed = r
        started.append(r)
        future = concurrent.futures.Future()
        future.set_result(fake_run(search, lr, steps, seed))
        return future

    with contextlib.redirect_stdout(io.StringIO()):  # one line per run
        race.run_searches(searches, start, jobs=2)
    return {s.arm: s for s in searches}, started


class LmRaceProtocol(unittest.TestCase):
    def test_grids_extend_until_the_optimum_is_inside(self):
        arms, _ = run(max_extensions=3)
        for name, s in arms.items():
            self.assertAlmostEqual(s.winner, OPTIMUM[name], msg=name)
            lrs = sorted(s.grid)
            self.assertTrue(lrs[0] < s.winner < lrs[-1], name)
        self.assertEqual(arms["muon_hybrid"].extensions, 2)  # the optimum 8x the centre
        self.assertEqual(arms["modula"].extensions, 2)
        self.assertEqual(arms["adamw"].extensions, 0)
        self.assertEqual(len(arms["modula"].grid), 7)

    def test_extensions_stop_at_the_cap_and_say_so(self):
        arms, _ = run(max_extensions=1)
        s = arms["muon_hybrid"]
        self.assertEqual(len(s.grid), 6)
        self.assertAlmostEqual(s.winner, max(s.grid))
        self.assertFalse(race.summary(s)["inside"])

    def test_hybrids_take_adamws_winner_and_every_winner_runs_every_seed(self):
        arms, started = run(max_extensions=3)
        for name in race.HYBRIDS:
            self.assertAlmostEqual(arms[name].adam_lr(), arms["adamw"].winner)
        first_hybrid = min(k for k, r in enumerate(started) if r[0].arm in race.HYBRIDS)
        last_adamw_grid = max(k for k, r in enumerate(started)
                              if r[0].arm == "adamw" and r[1] == "grid")
        self.assertGreater(first_hybrid, last_adamw_grid)
        for s in arms.values():
            self.assertEqual(sorted(s.seeds), list(range(race.SEEDS)))
            seeds = [r[4] for r in started if r[0] is s and r[1] == "seed"]
            self.assertEqual(sorted(seeds), list(range(1, race.SEEDS)))

    def test_target_ratios_and_equal_wall_time(self):
        arms, _ = run(max_extensions=3)
        adamw = arms["adamw"]
        target = adamw.curve()[-1][2]
        self.assertAlmostEqual(target, 1.0 + 0.002 * (0 + 1 + 2) / 3)
        self.assertEqual(race.first_below(adamw.curve(), target)[0], STEPS)
        result = {"target": target, "arms": {name: race.summary(s) for name, s in arms.items()}}
        race.to_target(result)
        own, hybrid = result["arms"]["adamw"], result["arms"]["muon_hybrid"]
        self.assertEqual(own["token_ratio"], 1.0)
        self.assertNotIn("wall", own)
        # The hybrids end 0.05 lower: their mean curve crosses the target at step 90.
        self.assertEqual(hybrid["tokens_to_target"], 90 * 2048)
        self.assertAlmostEqual(hybrid["token_ratio"], 0.9)
        # CPU minutes to the target: the share of the run's CPU time up to step 90.
        self.assertAlmostEqual(own["minutes_to_target"], STEPS * CPU_PER_STEP["adamw"] / 60)
        self.assertAlmostEqual(hybrid["time_ratio"], 90 * CPU_PER_STEP["muon_hybrid"] /
                               (STEPS * CPU_PER_STEP["adamw"]))
        self.assertIsNone(result["arms"]["sgd"]["tokens_to_target"])
        self.assertIsNone(result["arms"]["sgd"]["time_ratio"])
        # Equal wall time, as CPU time: AdamW's 5 s at 0.1 and 0.04 s per step.
        self.assertEqual(hybrid["wall"]["steps"], 50)
        self.assertEqual(result["arms"]["modula"]["wall"]["steps"], 125)

    def test_a_run_of_one_batch_size_keeps_the_others_race(self):
        def doc(races, tokens=524288, date="2026-12-06"):
            return {"arch": "modern", "rule": "muon", "quick": False, "tokens": tokens,
                    "context": 64, "evals": 20, "eval_tokens": 16384, "seeds": 3, "date": date,
                    "load_average": [1.5, 1, 1],
                    "calibration": {f"adamw {t}": {"seconds": int(t)} for t in races},
                    "races": {t: {"target": float(t)} for t in races}}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "race.json")
            with open(path, "w") as f:
                json.dump(doc(["2048", "512"], date="2026-12-05"), f)
            new = doc(["512"])
            new["races"]["512"]["target"] = 9.0
            race.keep_other_races(new, path)
            self.assertEqual(list(new["races"]), ["2048", "512"])
            self.assertEqual(new["races"]["512"]["target"], 9.0)  # the new run's, not the file's
            self.assertEqual(new["races"]["2048"]["date"], "2026-12-05")
            self.assertEqual(new["calibration"]["adamw 2048"], {"seconds": 2048})
            other = doc(["512"], tokens=49152)  # another protocol: nothing is kept
            race.keep_other_races(other, path)
            self.assertEqual(list(other["races"]), ["512"])


if __name__ == "__main__":
    unittest.main()
