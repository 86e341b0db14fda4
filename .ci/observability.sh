#!/usr/bin/env bash
# The operator's side of the contract, with Prometheus' own tool:
#   - promtool check rules / test rules on ops/prometheus (the alerts and
#     their unit tests);
#   - promtool check metrics on what the running server exports at
#     /metrics after some traffic;
#   - the Grafana dashboard is valid JSON.
#
# Installs the Debian package `prometheus` (for promtool) when missing.
# Exit status: 0 when every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "promtool"
if ! command -v promtool >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version | head -n1

step "alert rules (promtool check rules, promtool test rules)"
promtool check rules ops/prometheus/orderflow-alerts.yml
(cd ops/prometheus && promtool test rules orderflow-alerts.test.yml)

step "Grafana dashboard is valid JSON"
python3 -c 'import json,sys; d=json.load(open("ops/grafana/orderflow.json")); assert d["panels"], "no panels"; print(len(d["panels"]), "panels")'

step "the server's /metrics (promtool check metrics)"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build -p orderflow-server --locked
SERVER="$TARGET_DIR/debug/orderflow-server"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
"$SERVER" --listen 127.0.0.1:0 --database "$WORK/orderflow.db" --log-level warn \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
deadline=$((SECONDS + 60))
BASE=""
until [ -n "$BASE" ] && curl -fsS --max-time 2 "$BASE/healthz" >/dev/null 2>&1; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$WORK/server.err" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "the server did not answer /healthz within 60 s" >&2
        exit 1
    fi
    BASE="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/server.out" | head -n1 || true)"
    sleep 0.1
done
KEY="$(grep -o 'of_sk_[0-9a-f]\{32\}' "$WORK/server.out" | head -n1)"
AUTH="Authorization: Bearer $KEY"
# Traffic that fills every family: reads, a write with a key and its
# replay, a problem, a routing failure.
curl -fsS -o /dev/null -H "$AUTH" "$BASE/v1/orders"
for _ in 1 2; do
    curl -sS -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' \
        -H 'Idempotency-Key: ci-observability' -X POST "$BASE/v1/customers" \
        -d '{"name": "CI", "email": "ci@example.com"}'
done
curl -sS -o /dev/null "$BASE/v1/orders"
curl -sS -o /dev/null "$BASE/nowhere"
curl -fsS "$BASE/metrics" >"$WORK/metrics.txt"
promtool check metrics <"$WORK/metrics.txt"
grep -q 'http_server_request_duration_seconds_bucket{.*http_route="/v1/customers"' "$WORK/metrics.txt"
grep -q 'orderflow_idempotency_requests_total{outcome="replayed"} 1' "$WORK/metrics.txt"
echo "metrics: $(grep -vc '^#' "$WORK/metrics.txt") samples, promtool found no problem"
