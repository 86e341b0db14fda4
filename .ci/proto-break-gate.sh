#!/usr/bin/env bash
# Breaking-change gate for the protobuf contracts: compares every
# spec/proto/*.proto at a base revision (default HEAD~1) with the working
# tree's copy using proto-break (field numbers and types, labels, reserved
# numbers and names, enum values, rpc signatures, package). Passes, saying
# why, when there is nothing to compare (no base, or a file new since it);
# fails when a file that existed at the base is gone.
#
#   PROTO_BREAK=path/to/proto-break bash .ci/proto-break-gate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
base=${PROTO_BREAK_BASE:-HEAD~1}
dir=spec/proto

say() { printf 'proto-break gate: %s\n' "$*"; }
proto_break() {
    if [[ -n ${PROTO_BREAK:-} ]]; then
        "$PROTO_BREAK" "$@"
    else
        cargo run --quiet --locked -p proto-break -- "$@"
    fi
}

if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
    say "$base does not exist (first commit or shallow clone); nothing to compare, passing"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
old_files=$(git ls-tree --name-only "$base" "$dir/" 2>/dev/null | grep '\.proto$' || true)
for f in $old_files; do
    if [[ ! -f $f ]]; then
        say "$f existed at $base and is gone: deleting a contract breaks every peer"
        status=1
    fi
done
shopt -s nullglob
for f in "$dir"/*.proto; do
    if ! git cat-file -e "$base:$f" 2>/dev/null; then
        say "$f does not exist at $base (new contract); nothing to compare, passing"
        continue
    fi
    # The base copy goes beside the other base files, so imports resolve.
    mkdir -p "$tmp/$dir"
    for g in $old_files; do git show "$base:$g" >"$tmp/$g"; done
    if proto_break "$tmp/$f" "$f"; then
        :
    else
        status=$?
    fi
done
case $status in
    0) say "no breaking change" ;;
    1) say "breaking changes found: evolve the .proto compatibly (add fields, reserve removed ones)" ;;
    *) say "proto-break could not compare (exit $status)" ;;
esac
exit "$status"
