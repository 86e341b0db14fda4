#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster:
#
#     bash scripts/with-postgres.sh cargo test --workspace
#
# initdb makes a cluster in a fresh temporary directory, pg_ctl starts it on
# a free loopback port (as the `postgres` user when run as root: PostgreSQL
# refuses to run as root), ORDERFLOW_TEST_POSTGRES names it for the command,
# and the cluster is stopped and removed when the command ends, however it
# ends. Installs Debian's postgresql package first when initdb is missing
# and this runs as root; otherwise says what to install.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: bash scripts/with-postgres.sh COMMAND [ARGS...]" >&2
    exit 2
fi

find_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    # Debian keeps the server binaries out of PATH, one directory per major.
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    fi
}

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing PostgreSQL (apt-get install -y postgresql)" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        bindir=$(find_bindir)
    fi
fi
if [ -z "$bindir" ]; then
    echo "error: PostgreSQL's initdb and pg_ctl were not found." >&2
    echo "Install the server (Debian/Ubuntu: sudo apt-get install -y postgresql;" >&2
    echo "macOS: brew install postgresql) or set ORDERFLOW_TEST_POSTGRES to a server" >&2
    echo "where the tests may create databases, and run the command directly." >&2
    exit 1
fi

# A free loopback port: bind port 0 and read what the kernel chose.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d "${TMPDIR:-/tmp}/orderflow-pg.XXXXXX")
chmod 755 "$dir"

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
fi

stop() {
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT

as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
# Durability is pointless for a cluster that lives one test run: fsync off.
if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null; then
    cat "$dir/server.log" >&2
    exit 1
fi

export ORDERFLOW_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
# The cluster's own client tools (psql) first on PATH, for scripts.
export PATH="$bindir:$PATH"
echo "==> $("$bindir/postgres" --version) on 127.0.0.1:$port (ORDERFLOW_TEST_POSTGRES=$ORDERFLOW_TEST_POSTGRES)" >&2
"$@"
