#!/usr/bin/env bash
# modnorm's programs start the OpenMP runtime with passive waits (src/wait_policy.cpp: workers
# sleep between operations instead of spinning) unless the user chose a policy, read back from
# the runtime itself (OMP_DISPLAY_ENV); the arguments reach the program unchanged. A runtime that
# prints no OMP_WAIT_POLICY line is reported as skipped.
# Usage: wait_policy.sh path/to/modnorm
set -euo pipefail
modnorm="$1"
fail() { echo "wait_policy.sh: $*" >&2; exit 1; }

# What the runtime reports (OMP_DISPLAY_ENV=verbose) for `modnorm --version` when the
# environment sets no policy but the given assignments.
report() {
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u KMP_BLOCKTIME OMP_DISPLAY_ENV=verbose "$@" \
    "$modnorm" --version 2>&1 >/dev/null
}
value() { sed -n -E "s/.*$1 *= *'([A-Za-z0-9]+)'.*/\1/p" | head -n 1 | tr 'a-z' 'A-Z'; }

default=$(report)
policy=$(value OMP_WAIT_POLICY <<<"$default")
if [ -z "$policy" ]; then
  echo "wait_policy.sh: skipped: this OpenMP runtime does not print OMP_WAIT_POLICY"
  exit 0
fi
[ "$policy" = PASSIVE ] || fail "default policy is '$policy', expected PASSIVE"
spin=$(value GOMP_SPINCOUNT <<<"$default")  # libgomp: passive means no spinning at all
[ -z "$spin" ] || [ "$spin" = 0 ] || fail "default GOMP_SPINCOUNT is $spin, expected 0"

[ "$(report OMP_WAIT_POLICY=active | value OMP_WAIT_POLICY)" = ACTIVE ] ||
  fail "OMP_WAIT_POLICY=active was not kept"
if [ -n "$spin" ]; then
  [ "$(report GOMP_SPINCOUNT=1234 | value GOMP_SPINCOUNT)" = 1234 ] ||
    fail "GOMP_SPINCOUNT=1234 was not kept"
fi

# The program runs once more with the policy added: its arguments arrive unchanged.
err=$(env -u OMP_WAIT_POLICY "$modnorm" inspect "/no such dir/a b.ckpt" 2>&1 >/dev/null || true)
[[ "$err" == *"/no such dir/a b.ckpt"* ]] || fail "an argument with spaces did not arrive: $err"
echo "wait_policy.sh: passive by default, the user's choice kept"
