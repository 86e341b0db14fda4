#!/usr/bin/env bash
# Independent provider verification: schemathesis (a property-based API
# tester that knows nothing of our code) against the real server binary and
# spec/orderflow.yaml. Every phase (examples, coverage, fuzzing, stateful),
# positive and negative data, every check. Zero failures is the bar: a
# failure is a server bug to fix or a spec error to correct.
#
# Needs python3 (with venv) and the Rust toolchain. Installs schemathesis
# from PyPI, at the pinned version, into a venv under the target directory.
#
# Environment (all optional):
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 150: about 2,500 cases, under two minutes here)
#   SCHEMATHESIS_SEED          hypothesis seed (default 1; fixed so a run is
#                              reproducible; change it to explore)
#   SCHEMATHESIS_REPORT_DIR    where the JUnit and NDJSON reports and the
#                              console output (output.txt) go
#   CARGO_TARGET_DIR           as for cargo
#
# Exit status: 0 when schemathesis found nothing, non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
VENV="$TARGET_DIR/schemathesis-venv-$SCHEMATHESIS_VERSION"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-150}"
SEED="${SCHEMATHESIS_SEED:-1}"
REPORT_DIR="${SCHEMATHESIS_REPORT_DIR:-$TARGET_DIR/schemathesis-report}"

step() { printf '\n==> %s\n' "$*"; }

step "schemathesis $SCHEMATHESIS_VERSION in $VENV"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/schemathesis" --version

# shellcheck source=.ci/server.sh
. .ci/server.sh

# The configuration, with the reason for every setting that is not a
# default. Nothing is switched off.
cat >"$WORK/schemathesis.toml" <<'EOF'
# Rate limits. The spec allows 50 writes and 200 reads per second per API
# key (x-rate-limit-policies), and schemathesis sends everything under one
# key. 429 is a documented response of every limited operation, so status
# and schema checks accept it; but a 429 answering a valid request would be
# reported by positive_data_acceptance only by luck of timing, and a 429
# answering an invalid one hides whether the server would have rejected the
# input. Staying under the smallest quota (writes: 50/s) keeps every
# response meaningful: schemathesis never exceeds 40 requests per second.
rate-limit = "40/s"

# positive_data_acceptance: a request the schema accepts must not be refused
# with a status outside 2xx/3xx/401/403/404/409/429/5xx. Two kinds of input
# are schema-valid yet refused by contract, in ways JSON Schema cannot say;
# for the operations that take them (and only those) the status that the
# spec documents for them is accepted as well.

# `cursor` is an opaque, HMAC-signed token that only the server issues. Any
# string of at most 512 characters is schema-valid; one the server did not
# issue for these filters is a 400 `invalid_cursor`, as documented.
[[operations]]
include-operation-id = ["listCustomers", "listProducts", "listOrders", "listOrderItems", "listCustomersV2", "listProductsV2", "listOrdersV2", "listOrderItemsV2", "listAuditEvents", "listAuditEventsV2", "listWebhookEndpoints", "listWebhookEndpointsV2"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

# createOrder refers to other resources and to earlier requests: a
# `customer_id` or `product_id` that names nothing, an admin order without
# `customer_id` (required for admin keys only), an inactive product or mixed
# currencies, and an Idempotency-Key reused with another body (schemathesis
# draws keys from a small space and reuses them) are all 422, as documented.
[[operations]]
include-operation-id = ["createOrder", "createOrderV2"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

# createCustomer takes an optional Idempotency-Key: the same key with
# another body is a 422 `idempotency_key_reused`, as documented, and
# schemathesis reuses keys across generated bodies.
[[operations]]
include-operation-id = ["createCustomer", "createCustomerV2"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

# A webhook URL: the pattern says scheme, host and no user information,
# which is what JSON Schema can say; one that still is not a URI (a host
# with characters no URI allows) is a documented 422 pointing at `/url`.
[[operations]]
include-operation-id = ["createWebhookEndpoint", "createWebhookEndpointV2"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

# Conditional requests. An entity tag is a quoted string (RFC 9110 §8.8.3):
# If-None-Match and If-Match accept any string up to 1024 characters in the
# schema, and one that is not a list of entity tags is a documented 400.
# A well-formed If-Match the server did not issue for the current version
# is a documented 412 (nothing changes). In v2 a change without If-Match is
# 428 Precondition Required (RFC 6585 §3), the status made for exactly this,
# not one of the generic 4xx the missing-header check expects. One entry per
# set of operations, so that every setting of an operation is in one place.
[[operations]]
include-operation-id = ["getCustomer", "getProduct", "getOrder", "getCustomerV2", "getProductV2", "getOrderV2"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

[[operations]]
include-operation-id = ["updateCustomer", "transitionOrder", "updateProduct"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "412", "429", "5xx"]

[[operations]]
include-operation-id = ["updateCustomerV2", "transitionOrderV2"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "412", "428", "429", "5xx"]
checks.missing_required_header.expected-statuses = ["428"]

# v2's money is a decimal string whose number of fraction digits depends on
# its currency (ISO 4217: two for EUR, none for JPY, three for KWD), and
# whose value is bounded in minor units. The pattern admits up to four
# digits for any currency; "1.234" EUR is schema-valid and a documented
# 422 that points at `/price/amount`. updateProductV2 has that and the
# conditional statuses above.
[[operations]]
include-operation-id = "createProductV2"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

[[operations]]
include-operation-id = "updateProductV2"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "412", "422", "428", "429", "5xx"]
checks.missing_required_header.expected-statuses = ["428"]
EOF

step "schemathesis run: all phases, positive and negative data, --checks all, $MAX_EXAMPLES examples per operation"
mkdir -p "$REPORT_DIR"
set +e
"$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" --no-color run spec/orderflow.yaml \
    --url "$BASE" \
    --header "Authorization: Bearer $KEY" \
    --phases examples,coverage,fuzzing,stateful \
    --mode all \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 10 \
    --report junit,ndjson \
    --report-dir "$REPORT_DIR" 2>&1 | tee "$REPORT_DIR/output.txt"
STATUS=${PIPESTATUS[0]}
set -e

server_survived "$SERVER_PID" orderflow
exit "$STATUS"
