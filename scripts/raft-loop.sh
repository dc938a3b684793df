#!/usr/bin/env bash
# Runs the Raft scenario suite N times in a row: scripts/raft-loop.sh [N] (default 20).
exec "$(dirname "$0")/suite-loop.sh" raft "$@"
