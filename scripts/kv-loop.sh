#!/usr/bin/env bash
# Runs the KV scenario suite N times in a row: scripts/kv-loop.sh [N] (default 20).
exec "$(dirname "$0")/suite-loop.sh" kv "$@"
