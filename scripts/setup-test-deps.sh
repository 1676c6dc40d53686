#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain, idempotently:
#   1. tests/clients/node/node_modules  (ali-ons, pinned by package-lock.json, via `npm ci`)
#   2. .venv/                            (Python venv with tests/clients/python/requirements.txt)
#   3. tests/clients/rust/target/debug/rmq-driver
#                                        (the driver for the crates.io client rocketmq-client-rust,
#                                         a separate cargo workspace with its own Cargo.lock, so
#                                         the main workspace never builds its ~360 crates; built
#                                         with `cargo build --locked`, unoptimised: the first
#                                         build takes several minutes on 2 cores, later ones only
#                                         recompile the driver)
# Each step records a stamp (hash of its lock/requirements/source files and the tool versions)
# and is skipped when the stamp matches and a quick check passes, so a warm run takes well
# under a second. The main workspace's crates need nothing here: cargo fetches them.
#
# Environment:
#   PYTHON=python3.11        interpreter for the venv (default: python3)
#   FERROMQ_SKIP_NODE=1      skip the npm step
#   FERROMQ_SKIP_PYTHON=1    skip the Python step
#   FERROMQ_SKIP_RUST=1      skip building the rocketmq-client-rust driver
#   FERROMQ_FORCE_SETUP=1    reinstall even when up to date
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_DIR="$ROOT/tests/clients/node"
PY_REQS="$ROOT/tests/clients/python/requirements.txt"
VENV="$ROOT/.venv"
RUST_DIR="$ROOT/tests/clients/rust"
PYTHON="${PYTHON:-python3}"
FORCE="${FERROMQ_FORCE_SETUP:-0}"

log() { printf '[setup-test-deps] %s\n' "$*" >&2; }
die() {
    printf '[setup-test-deps] ERROR: %s\n' "$*" >&2
    exit 1
}

hash_of() { # files... -> one sha256 over their contents
    cat "$@" | sha256sum | cut -d' ' -f1
}

run_logged() { # name logfile cmd... : run, and on failure show the log tail and die
    local name="$1" logfile="$2"
    shift 2
    if ! "$@" >"$logfile" 2>&1; then
        printf '[setup-test-deps] ---- %s (first and last lines) ----\n' "$logfile" >&2
        if [[ $(wc -l <"$logfile") -gt 40 ]]; then
            head -n 20 "$logfile" >&2
            printf '[setup-test-deps] ...\n' >&2
            tail -n 20 "$logfile" >&2
        else
            cat "$logfile" >&2
        fi
        die "$name failed: \`$*\` (full log: $logfile)"
    fi
}

# Serialize concurrent runs (two terminals, or test.sh while a developer runs it by hand).
if command -v flock >/dev/null 2>&1; then
    mkdir -p "$ROOT/target"
    exec 9>"$ROOT/target/.setup-test-deps.lock"
    flock 9
fi

LOG_DIR="$ROOT/target/setup-test-deps"
mkdir -p "$LOG_DIR"

# ---------------------------------------------------------------- 1. npm: ali-ons
setup_node() {
    command -v node >/dev/null 2>&1 || die "node not found on PATH (needed for tests/clients/node; install Node.js >= 18)"
    command -v npm >/dev/null 2>&1 || die "npm not found on PATH (needed for tests/clients/node)"
    [[ -f "$NODE_DIR/package-lock.json" ]] || die "missing $NODE_DIR/package-lock.json (it is committed; restore it with git)"

    local want stamp="$NODE_DIR/node_modules/.ferromq-stamp"
    want="$(hash_of "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json") node-$(node --version)"
    if [[ "$FORCE" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" &&
        -f "$NODE_DIR/node_modules/ali-ons/lib/mq_client_api.js" ]]; then
        log "npm: tests/clients/node/node_modules up to date"
        return
    fi
    log "npm: installing tests/clients/node (npm ci) ..."
    local t0=$SECONDS
    rm -f "$stamp"
    run_logged "npm ci in tests/clients/node" "$LOG_DIR/npm-ci.log" \
        npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error
    (cd "$NODE_DIR" && node -e "require('ali-ons/lib/mq_client_api')") >"$LOG_DIR/node-check.log" 2>&1 ||
        die "npm: ali-ons installed but cannot be loaded: $(tail -n 5 "$LOG_DIR/node-check.log")"
    printf '%s' "$want" >"$stamp"
    log "npm: done in $((SECONDS - t0)) s (ali-ons $(cd "$NODE_DIR" && node -p "require('ali-ons/package.json').version"))"
}

# ---------------------------------------------------------------- 2. Python venv
setup_python() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found on PATH (needed for the .venv with the C++ client; set PYTHON=...)"
    [[ -f "$PY_REQS" ]] || die "missing $PY_REQS"

    local want stamp="$VENV/.ferromq-stamp"
    want="$(hash_of "$PY_REQS") $("$PYTHON" --version 2>&1)"
    if [[ "$FORCE" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/python" ]] &&
        "$VENV/bin/python" -c 'import rocketmq.client' >/dev/null 2>&1; then
        log "python: .venv up to date"
        return
    fi
    local t0=$SECONDS
    rm -f "$stamp"
    # A venv made by another interpreter (or half made) is rebuilt from scratch.
    if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "python: .venv is broken, recreating it"
        rm -rf "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "python: creating .venv with $PYTHON ($("$PYTHON" --version 2>&1)) ..."
        run_logged "creating the venv (on Debian/Ubuntu: apt-get install python3-venv)" "$LOG_DIR/venv.log" \
            "$PYTHON" -m venv "$VENV"
    fi
    log "python: installing $(grep -v '^#' "$PY_REQS" | tr '\n' ' ')..."
    run_logged "pip install -r tests/clients/python/requirements.txt" "$LOG_DIR/pip.log" \
        "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -r "$PY_REQS"
    "$VENV/bin/python" -c 'import rocketmq.client' >"$LOG_DIR/python-check.log" 2>&1 ||
        die "python: rocketmq-python-cvs installed but 'import rocketmq.client' fails: $(tail -n 5 "$LOG_DIR/python-check.log")"
    printf '%s' "$want" >"$stamp"
    log "python: done in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- 3. rocketmq-client-rust driver
setup_rust() {
    command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH (needed to build tests/clients/rust)"
    [[ -f "$RUST_DIR/Cargo.lock" ]] || die "missing $RUST_DIR/Cargo.lock (it is committed; restore it with git)"

    # Always this directory's own target (ignore a CARGO_TARGET_DIR meant for the main workspace):
    # the tests look for the binary here.
    local target="$RUST_DIR/target"
    local bin="$target/debug/rmq-driver"
    local want stamp="$target/.ferromq-stamp" srcs
    mapfile -t srcs < <(find "$RUST_DIR/src" -type f -name '*.rs' | LC_ALL=C sort)
    want="$(hash_of "$RUST_DIR/Cargo.toml" "$RUST_DIR/Cargo.lock" "${srcs[@]}") $(cargo --version) $(rustc --version)"
    if [[ "$FORCE" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$bin" ]]; then
        log "rust: $bin up to date"
        return
    fi
    local t0=$SECONDS
    rm -f "$stamp"
    if [[ -x "$bin" ]]; then
        log "rust: rebuilding tests/clients/rust (rmq-driver) ..."
    else
        log "rust: building tests/clients/rust (rmq-driver, rocketmq-client-rust 1.0.0; first build takes several minutes) ..."
    fi
    run_logged "cargo build in tests/clients/rust" "$LOG_DIR/rust-driver-build.log" \
        env CARGO_TARGET_DIR="$target" cargo build --locked --manifest-path "$RUST_DIR/Cargo.toml" --bin rmq-driver
    [[ -x "$bin" ]] || die "rust: the build succeeded but $bin is missing"
    printf '%s' "$want" >"$stamp"
    log "rust: done in $((SECONDS - t0)) s (binary: $bin)"
}

if [[ "${FERROMQ_SKIP_NODE:-0}" == 1 ]]; then log "npm: skipped (FERROMQ_SKIP_NODE=1)"; else setup_node; fi
if [[ "${FERROMQ_SKIP_PYTHON:-0}" == 1 ]]; then log "python: skipped (FERROMQ_SKIP_PYTHON=1)"; else setup_python; fi
if [[ "${FERROMQ_SKIP_RUST:-0}" == 1 ]]; then log "rust: skipped (FERROMQ_SKIP_RUST=1)"; else setup_rust; fi
log "test dependencies ready"
