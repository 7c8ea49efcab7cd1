#!/usr/bin/env bash
# A rank that dies must end the job with an error, not leave the others waiting: rank 1 of 2
# exits in the middle of the run (test_distributed_rank_dies.cpp) while rank 0 waits in a
# collective; mpirun must notice, end rank 0 and fail, well within the collective's timeout.
# Usage: rank_dies.sh MPIEXEC MODNORM_TESTS
set -uo pipefail
mpiexec=$1 tests=$2
start=$(date +%s)
output=$(OMP_NUM_THREADS=1 timeout 100 "$mpiexec" --allow-run-as-root --oversubscribe -np 2 \
         "$tests" --run_test=distributed_rank_dies 2>&1)
status=$?
elapsed=$(( $(date +%s) - start ))
echo "$output" | tail -n 20
echo "rank_dies.sh: mpirun exited with status $status after ${elapsed} s"
if [ "$status" -eq 0 ]; then echo "rank_dies.sh: FAIL: the job succeeded"; exit 1; fi
if [ "$status" -eq 124 ]; then echo "rank_dies.sh: FAIL: the job hung"; exit 1; fi
if [ "$elapsed" -ge 60 ]; then echo "rank_dies.sh: FAIL: took ${elapsed} s"; exit 1; fi
if ! grep -qiE "exited|abort|terminat" <<<"$output"; then
  echo "rank_dies.sh: FAIL: mpirun did not say a process ended"; exit 1
fi
echo "rank_dies.sh: ok"
