# Sourced by the CI scripts that need a live server (schemathesis.sh,
# contract-verify.sh, observability.sh): builds the debug server, starts it
# on a free loopback port with a fresh database in a temporary directory,
# and waits for /healthz. Sets SERVER, WORK, SERVER_PID, BASE
# (http://127.0.0.1:PORT) and KEY (the bootstrap admin key); an EXIT trap
# stops every server started here and removes WORK whatever happens, so a
# failed run leaves nothing behind.
#
# Also defines, for scripts that need more:
#   start_server NAME [server flags...]  starts another server (database
#       $WORK/NAME.db, output $WORK/NAME.out and .err) and sets STARTED_PID
#       and STARTED_BASE;
#   server_survived PID NAME  fails, with the server's last lines, when the
#       server died during the run.
# Needs `step` defined by the caller.
#
# With CI_DATABASE=postgres (inside scripts/with-postgres.sh, which names
# the throw-away cluster in ORDERFLOW_TEST_POSTGRES and puts psql on PATH)
# each server gets a fresh PostgreSQL database of its own instead of a
# SQLite file: orderflow_ci_NAME, created before it starts.

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
step "build the server (cargo build -p orderflow-server)"
cargo build -p orderflow-server --locked
SERVER="$TARGET_DIR/debug/orderflow-server"

WORK="$(mktemp -d)"
SERVER_PIDS=()
cleanup() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

server_database() {
    local name="$1"
    case "${CI_DATABASE:-sqlite}" in
        sqlite) echo "$WORK/$name.db" ;;
        postgres)
            if [ -z "${ORDERFLOW_TEST_POSTGRES:-}" ]; then
                echo "CI_DATABASE=postgres needs ORDERFLOW_TEST_POSTGRES: run this through bash scripts/with-postgres.sh" >&2
                return 1
            fi
            psql -q -v ON_ERROR_STOP=1 "$ORDERFLOW_TEST_POSTGRES" \
                -c "DROP DATABASE IF EXISTS orderflow_ci_$name WITH (FORCE)" \
                -c "CREATE DATABASE orderflow_ci_$name" >&2 || return 1
            echo "${ORDERFLOW_TEST_POSTGRES%/*}/orderflow_ci_$name"
            ;;
        *)
            echo "CI_DATABASE=$CI_DATABASE: expected sqlite or postgres" >&2
            return 1
            ;;
    esac
}

start_server() {
    local name="$1"
    shift
    local database
    database="$(server_database "$name")" || exit 1
    # Port 0: the kernel picks a free port; the server prints the address.
    "$SERVER" --listen 127.0.0.1:0 --database "$database" --log-level warn "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    STARTED_PID=$!
    SERVER_PIDS+=("$STARTED_PID")
    STARTED_BASE=""
    local deadline=$((SECONDS + 60))
    until [ -n "$STARTED_BASE" ] && curl -fsS --max-time 2 "$STARTED_BASE/healthz" >/dev/null 2>&1; do
        if ! kill -0 "$STARTED_PID" 2>/dev/null; then
            echo "the $name server exited during start-up:" >&2
            cat "$WORK/$name.err" >&2
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "the $name server did not answer /healthz within 60 s" >&2
            cat "$WORK/$name.err" >&2
            exit 1
        fi
        STARTED_BASE="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/$name.out" | head -n1 || true)"
        # Poll interval while waiting for the deadline, not a fixed wait.
        sleep 0.1
    done
}

server_survived() {
    if ! kill -0 "$1" 2>/dev/null; then
        echo "the $2 server died during the run:" >&2
        tail -n 50 "$WORK/$2.err" >&2
        exit 1
    fi
}

step "start the server on 127.0.0.1 with a fresh ${CI_DATABASE:-sqlite} database"
start_server orderflow
SERVER_PID="$STARTED_PID"
BASE="$STARTED_BASE"
KEY="$(grep -o 'of_sk_[0-9a-f]\{32\}' "$WORK/orderflow.out" | head -n1 || true)"
if [ -z "$KEY" ]; then
    echo "the server did not print an admin key (of_sk_ + 32 hex digits)" >&2
    exit 1
fi
echo "server at $BASE (pid $SERVER_PID)"
