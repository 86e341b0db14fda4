#!/usr/bin/env bash
# Breaking-change gate for the OrderFlow contract: compares
# spec/orderflow.yaml at the previous commit (HEAD~1) with the working
# tree's copy, prints break-diff's markdown report, and fails when a change
# would break existing clients (any finding of level `error`).
#
#   bash .ci/break-diff-gate.sh [extra break-diff options, e.g. --waivers FILE]
#
# Passes, saying why, when there is nothing to compare against: a first
# commit, a shallow clone without HEAD~1, or a HEAD~1 without the spec.
# Agreed breaks are accepted through spec/break-diff-waivers.yaml when that
# file exists (see break-diff/README.md, "Waivers and filters").
#
# Environment (all optional):
#   BREAK_DIFF       a built break-diff binary; default: `cargo run` of the
#                    workspace's break-diff crate
#   BREAK_DIFF_BASE  the revision to compare against; default HEAD~1
#   BREAK_DIFF_SPEC  the spec's path in the repository; default spec/orderflow.yaml
set -euo pipefail
cd "$(dirname "$0")/.."

base=${BREAK_DIFF_BASE:-HEAD~1}
spec=${BREAK_DIFF_SPEC:-spec/orderflow.yaml}
waivers=spec/break-diff-waivers.yaml

say() { printf 'break-diff gate: %s\n' "$*"; }

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    say "not inside a git work tree, so there is no previous revision to compare with; passing"
    exit 0
fi
if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
    say "$base does not exist (first commit, or a shallow clone: fetch with depth 2 or more); nothing to compare, passing"
    exit 0
fi
if ! git cat-file -e "$base:$spec" 2>/dev/null; then
    say "$spec does not exist at $base (the spec is new); nothing to compare, passing"
    exit 0
fi
if [[ ! -f $spec ]]; then
    say "$spec is missing from the working tree; deleting the contract breaks every client"
    exit 1
fi

args=(--format markdown --fail-on error)
if [[ -f $waivers ]]; then
    args+=(--waivers "$waivers")
fi
args+=("$@" "$base:$spec" "$spec")

say "break-diff ${args[*]}"
status=0
if [[ -n ${BREAK_DIFF:-} ]]; then
    "$BREAK_DIFF" "${args[@]}" || status=$?
else
    cargo run --quiet --locked -p break-diff -- "${args[@]}" || status=$?
fi

case $status in
    0) say "no breaking change" ;;
    1) say "breaking changes found (level error above). Evolve the spec compatibly, or record an agreed break with its reason in $waivers" ;;
    *) say "break-diff could not compare the two documents (exit $status)" ;;
esac
exit "$status"
