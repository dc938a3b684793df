#!/usr/bin/env bash
# Runs one scenario suite (tests/tests/SUITE_*.rs: raft or kv) N times in release
# mode, stopping at the first failure; prints how many runs passed.
#
#   scripts/suite-loop.sh SUITE [N]   (default 20)
#
# The test binaries are built once and copied aside, so editing and
# rebuilding the workspace during a long loop does not change what runs.
# A failing run's log stays in target/SUITE-loop/run-<i>.log.
set -uo pipefail

suite="${1:?usage: scripts/suite-loop.sh raft|kv [N]}"
runs="${2:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/target/$suite-loop"
mkdir -p "$out/bin"
cd "$root"

suites=()
for file in tests/tests/"$suite"_*.rs; do
    suites+=(--test "$(basename "$file" .rs)")
done

built="$(cargo test --release -p raftkv-tests "${suites[@]}" --no-run 2>&1)" || {
    echo "$built"
    exit 1
}
binaries=()
while read -r path; do
    cp "$path" "$out/bin/"
    binaries+=("$out/bin/$(basename "$path")")
done < <(echo "$built" | sed -n 's/.*Executable .*(\(.*\))$/\1/p')

passed=0
for ((i = 1; i <= runs; i++)); do
    log="$out/run-$i.log"
    start=$(date +%s)
    ok=1
    for binary in "${binaries[@]}"; do
        if ! "$binary" --nocapture >>"$log" 2>&1; then
            ok=0
            break
        fi
    done
    took=$(($(date +%s) - start))
    if ((ok)); then
        passed=$((passed + 1))
        echo "run $i/$runs passed in ${took} s"
        rm -f "$log"
    else
        echo "run $i/$runs FAILED after ${took} s in $(basename "$binary"); log: $log"
        grep -E "panicked|FAILED|apply error|not linearizable|did not finish" "$log" | head -20
        echo "$passed of $runs runs passed before the first failure"
        exit 1
    fi
done
echo "$passed of $runs runs passed"
