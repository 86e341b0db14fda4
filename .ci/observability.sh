#!/usr/bin/env bash
# The operator's side of the contract, with Prometheus' own tool:
#   - promtool check rules / test rules on ops/prometheus (the alerts and
#     their unit tests);
#   - promtool check metrics on what the running server exports at
#     /metrics after some traffic;
#   - the Grafana dashboard is valid JSON;
#   - the built-in dashboard (/dashboard) renders in headless Chromium and
#     its panels fill with live data.
#
# Installs the Debian packages `prometheus` (for promtool) and `chromium`
# when missing.
# Exit status: 0 when every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "promtool and chromium"
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
promtool --version | head -n1
chromium --version

step "alert rules (promtool check rules, promtool test rules)"
promtool check rules ops/prometheus/orderflow-alerts.yml
(cd ops/prometheus && promtool test rules orderflow-alerts.test.yml)

step "Grafana dashboard is valid JSON"
python3 -c 'import json,sys; d=json.load(open("ops/grafana/orderflow.json")); assert d["panels"], "no panels"; print(len(d["panels"]), "panels")'

step "the server's /metrics (promtool check metrics)"
# shellcheck source=.ci/server.sh
. .ci/server.sh
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

step "the built-in dashboard in headless Chromium"
# Three seconds of traffic (reads, keyed writes with replays, writes past
# the quota, a 404), so the server's once-a-second samples hold rates.
end=$((SECONDS + 3))
n=0
while [ "$SECONDS" -lt "$end" ]; do
    n=$((n + 1))
    curl -sS -o /dev/null -H "$AUTH" "$BASE/v1/orders"
    curl -sS -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: ci-dash-$((n % 3))" -X POST "$BASE/v1/customers" \
        -d "{\"name\": \"CI\", \"email\": \"ci$((n % 3))@example.com\"}"
    curl -sS -o /dev/null "$BASE/v1/nowhere"
done
# Past the writes quota (50 per second) even on a loaded machine: 150
# requests, 20 at a time, then a check that some were refused.
seq 1 150 | xargs -P 20 -I{} curl -sS -o /dev/null -w '%{http_code}\n' -H "$AUTH" \
    -H 'Content-Type: application/json' -X POST "$BASE/v1/customers" \
    -d '{"name": "Burst", "email": "burst@example.com"}' >"$WORK/burst.txt"
if ! grep -q '^429$' "$WORK/burst.txt"; then
    echo "the burst of 150 writes drew no 429: $(sort "$WORK/burst.txt" | uniq -c | tr '\n' ' ')" >&2
    exit 1
fi
sleep 2
chromium --headless=new --no-sandbox --disable-gpu --virtual-time-budget=3000 \
    --dump-dom "$BASE/dashboard" 2>/dev/null >"$WORK/dashboard.html"
python3 - "$WORK/dashboard.html" <<'PY'
import re, sys
dom = open(sys.argv[1]).read()
samples = re.search(r'data-scrapes="(\d+)"', dom)
assert samples and int(samples.group(1)) >= 3, f"the page holds too few samples: {samples and samples.group(1)}"
panels = dict(re.findall(r'data-panel="([a-z-]+)" data-points="(\d+)"', dom))
want = ["retry-storm", "requests", "errors", "rate-limits", "latency", "database"]
empty = [p for p in want if int(panels.get(p, 0)) == 0]
assert not empty, f"panels without data: {empty} (all: {panels})"
print(f"dashboard: {samples.group(1)} samples; points per panel: {panels}")
PY
