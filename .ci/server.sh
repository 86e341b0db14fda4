# Sourced by the CI scripts that need a live server (schemathesis.sh,
# contract-verify.sh, observability.sh): builds the debug server, starts it
# on a free loopback port with a fresh database in a temporary directory,
# and waits for /healthz. Sets SERVER, WORK, SERVER_PID, BASE (http://127.0.0.1:PORT) and
# KEY (the bootstrap admin key); an EXIT trap stops the server and removes
# WORK whatever happens, so a failed run leaves nothing behind.
# Needs `step` defined by the caller.

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
step "build the server (cargo build -p orderflow-server)"
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

step "start the server on 127.0.0.1 with a fresh database"
# Port 0: the kernel picks a free port; the server prints the address.
"$SERVER" --listen 127.0.0.1:0 --database "$WORK/orderflow.db" --log-level warn \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

deadline=$((SECONDS + 60))
BASE=""
KEY=""
until [ -n "$BASE" ] && curl -fsS --max-time 2 "$BASE/healthz" >/dev/null 2>&1; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server exited during start-up:" >&2
        cat "$WORK/server.err" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "the server did not answer /healthz within 60 s" >&2
        cat "$WORK/server.err" >&2
        exit 1
    fi
    BASE="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/server.out" | head -n1 || true)"
    # Poll interval while waiting for the deadline, not a fixed wait.
    sleep 0.1
done
KEY="$(grep -o 'of_sk_[0-9a-f]\{32\}' "$WORK/server.out" | head -n1 || true)"
if [ -z "$KEY" ]; then
    echo "the server did not print an admin key (of_sk_ + 32 hex digits)" >&2
    exit 1
fi
echo "server at $BASE (pid $SERVER_PID)"
