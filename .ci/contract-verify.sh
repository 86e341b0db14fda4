#!/usr/bin/env bash
# contract-verify against the live server: the retry contract
# (Idempotency-Key), rate-limit headers, lifecycle headers, cursor
# pagination, problem details and conditional requests, each where
# spec/orderflow.yaml declares it. A second credential (a customer key made
# through the API) checks that Idempotency-Keys are scoped per credential.
#
# Sources .ci/server.sh (builds and starts the server, sets BASE and KEY).
# Uses the caller's `step` when it exported one, else defines its own.
#
# Environment (optional):
#   CONTRACT_VERIFY_REPORT_DIR  where report.txt (human) and report.json go
#                               (default: $CARGO_TARGET_DIR/contract-verify-report)
#   CARGO_TARGET_DIR            as for cargo
#
# Exit status: the tool's (0 pass, 1 a violation, 2 usage error or no server).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
declare -F step >/dev/null || step() { printf '\n==> %s\n' "$*"; }

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
REPORT_DIR="${CONTRACT_VERIFY_REPORT_DIR:-$TARGET_DIR/contract-verify-report}"

step "build contract-verify (cargo build -p contract-verify)"
cargo build -p contract-verify --locked
VERIFY="$TARGET_DIR/debug/contract-verify"

# shellcheck source=.ci/server.sh
. .ci/server.sh

step "a second credential: a customer and its API key, made through the API"
CUSTOMER_ID="$(curl -fsS -X POST "$BASE/v1/customers" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"name": "contract-verify second credential", "email": "second-credential@contract-verify.example"}' \
    | grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4)"
SECOND_KEY="$(curl -fsS -X POST "$BASE/v1/customers/$CUSTOMER_ID/api-keys" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"name": "contract-verify"}' \
    | grep -o 'of_sk_[0-9a-f]\{32\}' | head -n1)"
if [ -z "$SECOND_KEY" ]; then
    echo "could not create the second credential" >&2
    exit 1
fi

step "a rehearsal server whose clock is past every sunset (--rehearse-at), for the 410 checks"
start_server retired --rehearse-at 2100-01-01T00:00:00Z
RETIRED_PID="$STARTED_PID"
RETIRED="$STARTED_BASE"

step "contract-verify --spec spec/orderflow.yaml --base-url $BASE --retired-base-url $RETIRED"
mkdir -p "$REPORT_DIR"
set +e
"$VERIFY" --spec spec/orderflow.yaml --base-url "$BASE" \
    --header "Authorization: Bearer $KEY" \
    --second-header "Authorization: Bearer $SECOND_KEY" \
    --fixture .ci/contract-verify-fixture.yaml \
    --retired-base-url "$RETIRED" \
    --max-requests 10000 \
    --format json --output "$REPORT_DIR/report.json" | tee "$REPORT_DIR/report.txt"
STATUS=${PIPESTATUS[0]}
set -e

server_survived "$SERVER_PID" orderflow
server_survived "$RETIRED_PID" retired
exit "$STATUS"
