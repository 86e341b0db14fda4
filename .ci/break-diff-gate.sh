#!/usr/bin/env bash
# Breaking-change gate for an OpenAPI contract: compares the spec at a base
# revision (default HEAD~1) with the working tree's copy, prints
# break-diff's markdown report (one entry per root change), and fails when
# a change would break existing clients (any finding at or above the
# fail-on level, default `error`). This script is the one implementation:
# .ci/run calls it commit by commit, and the composite GitHub Action
# (.github/actions/break-diff, used by .github/workflows/break-diff.yml and
# by other repositories) calls it with the pull request's merge base.
#
#   bash .ci/break-diff-gate.sh [extra break-diff options]
#
# Passes, saying why, when there is nothing to compare against: a first
# commit, a shallow clone without the base, or a base without the spec.
# Agreed breaks are accepted through the waiver file when it exists (see
# break-diff/README.md, "Waivers and filters").
#
# Environment (all optional):
#   BREAK_DIFF              a built break-diff binary; default: `cargo run` of
#                           this workspace's break-diff crate
#   BREAK_DIFF_BASE         the revision to compare against; default HEAD~1
#   BREAK_DIFF_SPEC         the spec's path in the repository; default spec/orderflow.yaml
#   BREAK_DIFF_WAIVERS      the waiver file; default spec/break-diff-waivers.yaml
#   BREAK_DIFF_CONFIG       a --config file of rule levels
#   BREAK_DIFF_FAIL_ON      error (default), warning or info
#   BREAK_DIFF_WORKDIR      the repository to check; default this script's
#   BREAK_DIFF_SUMMARY      a file the markdown report is appended to (the
#                           action passes $GITHUB_STEP_SUMMARY)
#   BREAK_DIFF_ANNOTATIONS  1: first print GitHub annotations, one per change
set -euo pipefail
cd "${BREAK_DIFF_WORKDIR:-$(dirname "$0")/..}"

base=${BREAK_DIFF_BASE:-HEAD~1}
spec=${BREAK_DIFF_SPEC:-spec/orderflow.yaml}
waivers=${BREAK_DIFF_WAIVERS:-spec/break-diff-waivers.yaml}
fail_on=${BREAK_DIFF_FAIL_ON:-error}

say() {
    printf 'break-diff gate: %s\n' "$*"
    if [[ -n ${BREAK_DIFF_SUMMARY:-} ]]; then
        printf 'break-diff gate: %s\n\n' "$*" >>"$BREAK_DIFF_SUMMARY"
    fi
}

break_diff() {
    if [[ -n ${BREAK_DIFF:-} ]]; then
        "$BREAK_DIFF" "$@"
    else
        cargo run --quiet --locked -p break-diff -- "$@"
    fi
}

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

args=(--fail-on "$fail_on")
if [[ -f $waivers ]]; then
    args+=(--waivers "$waivers")
fi
if [[ -n ${BREAK_DIFF_CONFIG:-} ]]; then
    args+=(--config "$BREAK_DIFF_CONFIG")
fi
args+=("$@" "$base:$spec" "$spec")

if [[ ${BREAK_DIFF_ANNOTATIONS:-} == 1 ]]; then
    # Annotations on the diff; the exit code comes from the report below.
    break_diff --format github "${args[@]}" || true
fi
say "break-diff --format markdown ${args[*]}"
status=0
report=$(mktemp)
trap 'rm -f "$report"' EXIT
break_diff --format markdown "${args[@]}" >"$report" || status=$?
cat "$report"
if [[ -n ${BREAK_DIFF_SUMMARY:-} ]]; then
    cat "$report" >>"$BREAK_DIFF_SUMMARY"
fi

case $status in
    0) say "no breaking change" ;;
    1) say "breaking changes found (level $fail_on or above). Evolve the spec compatibly, or record an agreed break with its reason in $waivers" ;;
    *) say "break-diff could not compare the two documents (exit $status)" ;;
esac
exit "$status"
