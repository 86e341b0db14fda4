#!/usr/bin/env bash
# The retry storm on two server replicas sharing one PostgreSQL database,
# next to one process on the same server: retry-storm starts the real
# server binaries, spreads every client's tries across the replicas, and
# exits 1 on a duplicate or missing order, a 5xx, a 429 without
# Retry-After, or /metrics that disagree with the clients. Runs inside
# scripts/with-postgres.sh (a throw-away cluster, ORDERFLOW_TEST_POSTGRES).
#
# The debug binaries (built by the test step) serve: the storm ends when
# its orders are placed, and --duration is only its bound, set well above
# what it needs here. The evidence goes under the target directory, so CI
# leaves the checkout clean; docs/evidence/retry-storm-2-replicas.md is the
# committed release-build run.
#
# Environment (optional): CARGO_TARGET_DIR as for cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build -p orderflow-server -p orderflow-load --locked
bash scripts/with-postgres.sh bash -c '
    "$0/debug/retry-storm" --server-bin "$0/debug/orderflow-server" \
        --database "$ORDERFLOW_TEST_POSTGRES" --replicas 2 \
        --duration 60s --arrival 4s \
        --out "$0/retry-storm/retry-storm-2-replicas.md"
' "$TARGET_DIR"
