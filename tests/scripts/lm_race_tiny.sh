#!/usr/bin/env bash
# CTest test lm_race_tiny: scripts/lm_race end to end on a tiny text and a tiny GPT (every arm,
# both batch sizes, grids, seeds and equal-wall-time runs through `modnorm train`), then its JSON
# checked: every arm's winner on 3 seeds, the target AdamW's mean final loss, AdamW's ratio 1,
# a wall-time run for every other arm.
# Usage: lm_race_tiny.sh SOURCE_DIR path/to/modnorm
set -euo pipefail
root="$1"
modnorm="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -c "import random; r = random.Random(1); print('\n'.join(' '.join(r.choice(['and', 'the', 'of', 'light', 'earth', 'God']) for _ in range(12)) for _ in range(2000)))" > "$work/text.txt"
python3 "$root/scripts/lm_race" --binary "$modnorm" --tokens 2048 --tokens-per-step 256,128 \
  --evals 2 --eval-tokens 256 --calibration-steps 2 --max-extensions 1 --out "$work/race.json" \
  --no-plot -- --text "$work/text.txt" --width 16 --depth 1 --heads 2
python3 - "$work/race.json" <<'PY'
import json, math, statistics, sys
doc = json.load(open(sys.argv[1]))
assert sorted(doc["races"]) == ["128", "256"], doc["races"].keys()
for t, race in doc["races"].items():
    arms = race["arms"]
    assert list(arms) == ["adamw", "muon_hybrid", "normuon_hybrid", "modula", "sgd"], list(arms)
    assert race["steps"] == 2048 // int(t), race["steps"]
    assert math.isclose(race["target"], statistics.mean(arms["adamw"]["seed_losses"]),
                        rel_tol=1e-12), race["target"]
    assert arms["adamw"]["token_ratio"] == 1.0, arms["adamw"]
    for name, v in arms.items():
        assert len(v["seed_losses"]) == 3 and all(math.isfinite(x) for x in v["seed_losses"]), v
        assert 5 <= len(v["grid"]) <= 6 and repr(v["lr"]) in v["grid"], (name, v["grid"])
        assert v["curve"][-1]["tokens"] == 2048, v["curve"][-1]
        assert ("wall" in v) == (name != "adamw"), name
        assert (v["adam_lr"] == arms["adamw"]["lr"]) == (name.endswith("hybrid")), name
print("lm_race_tiny: ok")
PY
