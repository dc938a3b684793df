#!/usr/bin/env bash
# Runs the KV scenario suite (tests/tests/kv_*.rs) N times in release
# mode, stopping at the first failure; prints how many runs passed.
#
#   scripts/kv-loop.sh [N]        (default 20)
#
# The test binaries are built once and copied aside, so editing and
# rebuilding the workspace during a long loop does not change what runs.
# A failing run's log stays in target/kv-loop/run-<i>.log.
set -uo pipefail

runs="${1:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/target/kv-loop"
mkdir -p "$out/bin"
cd "$root"

suites=()
for file in tests/tests/kv_*.rs; do
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
        grep -E "panicked|FAILED|not linearizable|did not finish" "$log" | head -20
        echo "$passed of $runs runs passed before the first failure"
        exit 1
    fi
done
echo "$passed of $runs runs passed"
