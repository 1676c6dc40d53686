#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run):
#   1. scripts/setup-test-deps.sh   real clients the tests drive (npm ali-ons, Python venv,
#                                   the rocketmq-client-rust driver in tests/clients/rust)
#   2. cargo fmt --all -- --check
#   3. cargo clippy --workspace --all-targets -- -D warnings
#   4. cargo nextest run --workspace --no-fail-fast   (cargo test --workspace without nextest)
# Ends with one summary line: "summary: N passed, N failed[, N skipped]".
#
# Environment:
#   NEXTEST_PROFILE   nextest profile (default: "ci" when CI is set, else "default"),
#                     see .config/nextest.toml
#   FERROMQ_SKIP_LINT=1  skip fmt and clippy (quick local re-runs)
#   FERROMQ_NO_NEXTEST=1 use `cargo test` even when cargo-nextest is installed
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

START=$SECONDS
STEP="start"
DONE_STEPS=()
TEST_LOG="$ROOT/target/test-sh-tests.log"
PASSED="" FAILED="" SKIPPED=""

step() {
    [[ "$STEP" != start ]] && DONE_STEPS+=("${STEP%% (*}")
    STEP="$1"
    printf '\n==> [%4ds] %s\n' "$((SECONDS - START))" "$1"
}

finish() {
    local rc=$?
    local took=$((SECONDS - START))
    echo
    if [[ $rc -eq 0 ]]; then
        DONE_STEPS+=("${STEP%% (*}")
        local steps
        steps=$(printf '%s; ' "${DONE_STEPS[@]}")
        echo "test.sh: OK in ${took}s: ${steps%; }"
    else
        echo "test.sh: FAILED at step '$STEP' (exit $rc) after ${took}s"
    fi
    if [[ -n "$PASSED$FAILED" ]]; then
        local line="summary: ${PASSED:-0} passed, ${FAILED:-0} failed"
        [[ -n "$SKIPPED" && "$SKIPPED" != 0 ]] && line+=", $SKIPPED skipped"
        echo "$line"
    fi
}
trap finish EXIT

# Counts from the runner's own summary, for the closing line.
count_results() {
    [[ -f "$TEST_LOG" ]] || return 0
    local s plain
    plain=$(sed -E 's/\x1b\[[0-9;]*m//g' "$TEST_LOG")
    num() { grep -oE "[0-9]+ $1" <<<"$s" | grep -oE '[0-9]+' | head -n 1 || echo 0; }
    if s=$(grep -E '^ *Summary \[' <<<"$plain" | tail -n 1) && [[ -n "$s" ]]; then
        # nextest: "Summary [  12.3s] 120 tests run: 117 passed, 2 failed, 1 timed out, 3 skipped"
        PASSED=$(num passed)
        FAILED=$(($(num failed) + $(num 'timed out')))
        SKIPPED=$(num skipped)
    else
        # cargo test: one "test result: ok. N passed; N failed; N ignored; ..." per binary
        local p=0 f=0 i=0
        while read -r a b c; do
            p=$((p + a)) f=$((f + b)) i=$((i + c))
        done < <(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \2 \3/p' <<<"$plain")
        PASSED=$p FAILED=$f SKIPPED=$i
    fi
}

step "setup test dependencies (scripts/setup-test-deps.sh)"
bash "$ROOT/scripts/setup-test-deps.sh"

if [[ "${FERROMQ_SKIP_LINT:-0}" != 1 ]]; then
    step "cargo fmt --all -- --check"
    cargo fmt --all -- --check

    step "cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings
fi

mkdir -p "$ROOT/target"
rm -f "$TEST_LOG"
# Output goes through tee (for the summary): keep colours when a person is watching.
color=auto
[[ -t 1 ]] && color=always
if [[ "${FERROMQ_NO_NEXTEST:-0}" != 1 ]] && cargo nextest --version >/dev/null 2>&1; then
    profile="${NEXTEST_PROFILE:-$([[ -n "${CI:-}" ]] && echo ci || echo default)}"
    step "cargo nextest run --workspace --no-fail-fast --profile $profile"
    set +e
    cargo nextest run --workspace --no-fail-fast --profile "$profile" --color "$color" 2>&1 | tee "$TEST_LOG"
    rc=${PIPESTATUS[0]}
    set -e
else
    step "cargo test --workspace --no-fail-fast (without cargo-nextest)"
    set +e
    cargo test --workspace --no-fail-fast --color "$color" 2>&1 | tee "$TEST_LOG"
    rc=${PIPESTATUS[0]}
    set -e
fi
count_results
exit "$rc"
