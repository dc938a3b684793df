#!/usr/bin/env bash
# Runs the Raft scenario suite (tests/tests/raft_*.rs) N times in release
# mode, stopping at the first failure; prints how many runs passed.
#
#   scripts/raft-loop.sh [N]        (default 20)
#
# Each run's output goes to target/raft-loop/run-<i>.log; a failing run's
# log is kept and its tail printed.
set -uo pipefail

runs="${1:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
logs="$root/target/raft-loop"
mkdir -p "$logs"
cd "$root"

suites=()
for file in tests/tests/raft_*.rs; do
    name="$(basename "$file" .rs)"
    suites+=(--test "$name")
done

cargo test --release -p raftkv-tests "${suites[@]}" --no-run --quiet || exit 1

passed=0
for ((i = 1; i <= runs; i++)); do
    log="$logs/run-$i.log"
    start=$(date +%s)
    if cargo test --release -p raftkv-tests "${suites[@]}" -- --nocapture >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "run $i/$runs passed in $(($(date +%s) - start)) s"
        rm -f "$log"
    else
        echo "run $i/$runs FAILED after $(($(date +%s) - start)) s; log: $log"
        grep -E "panicked|FAILED|failed|apply error" "$log" | head -20
        echo "$passed of $runs runs passed before the first failure"
        exit 1
    fi
done
echo "$passed of $runs runs passed"
