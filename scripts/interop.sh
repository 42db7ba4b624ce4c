#!/usr/bin/env bash
# Interop with real peers nobody here wrote: Python `websockets`, Node `ws`, headless
# Chromium's own WebSocket, and nginx as a reverse proxy and load balancer.
#
# Usage:
#   scripts/interop.sh [--install-only] [--only GROUPS]
#
#   --install-only   install what is missing, then stop
#   --only GROUPS    comma-separated subset of: python,node,browser,nginx,examples
#
# What it does:
#   1. Installs what is missing, into $INTEROP_HOME (default ~/.cache/rfc6455-interop):
#      Python `websockets` (pip, in a venv), Node `ws` and `playwright-core` (npm), and
#      Debian's `chromium` and `nginx-light` (apt-get; services are not started).
#   2. cargo build --release of the examples it drives (with the `tokio` feature, for the
#      tokio_* ones), once with the `deflate` feature (the peers' binaries are copied to
#      target/interop/bin-deflate) and once without.
#   3. Runs the groups; every case prints one line, PASS or FAIL:
#      python    Python websockets client -> our echo_server / interop_server, and our
#                interop_client -> a Python websockets server (scripts/interop/py_*.py);
#                the same for the tokio adapter: the Python client's data cases ->
#                tokio_echo_server, our tokio_interop_client -> the Python server
#      node      the same with Node ws (scripts/interop/node_*.js)
#      browser   two headless Chromium pages on the chat example: a message typed in one
#                shows in the other; screenshot in target/interop/chat.png. Plus a client
#                too slow for the room, dropped with 1013 while the room goes on.
#      nginx     nginx (HTTP/1.1, Upgrade/Connection) in front of two echo_server backends:
#                both are reached, killing one drops only its connections, new ones still
#                get through
#      examples  the self-contained example programs run to completion
#   python, node and browser run twice: without and with permessage-deflate.
#   All servers listen on 127.0.0.1, on ports picked free at run time; every process
#   started is stopped on exit. Results: target/interop/results.txt; logs:
#   target/interop/logs.
#
# Exit status: 0 when every case passed; 1 when one failed; other non-zero when an install
# or the build failed.
#
# Environment:
#   INTEROP_HOME         install location (default $HOME/.cache/rfc6455-interop)
#   INTEROP_SKIP_BUILD   1: use the example binaries as they are
#   INTEROP_UPDATE_DOCS  1: also copy the chat screenshot to docs/chat.png
#   CHROMIUM             the browser binary (default /usr/bin/chromium)
#   CARGO_TARGET_DIR     honoured for the example binaries
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
HELPERS=$SCRIPT_DIR/interop

WEBSOCKETS_VERSION=17.4
WS_VERSION=8.23.0
PLAYWRIGHT_VERSION=1.65.1

INTEROP_HOME=${INTEROP_HOME:-$HOME/.cache/rfc6455-interop}
VENV=$INTEROP_HOME/venv
NODE_PREFIX=$INTEROP_HOME/node
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
OUT=$ROOT/target/interop
LOGS=$OUT/logs
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BIN=$TARGET/release/examples
export DEBIAN_FRONTEND=noninteractive

INSTALL_ONLY=
GROUPS_WANTED=python,node,browser,nginx,examples
while (($#)); do
    case $1 in
        --install-only) INSTALL_ONLY=1 ;;
        --only)
            GROUPS_WANTED=${2:?--only needs a list}
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "interop: unknown argument $1 (try --help)" >&2
            exit 2
            ;;
    esac
    shift
done
wanted() { [[ ,$GROUPS_WANTED, == *",$1,"* ]]; }

log() { printf '[interop] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 3
}

# ---------------------------------------------------------------- processes
PIDS=()
WORK=
stop_group() { # pid: TERM its process group, then KILL what is left
    local pid=$1 i
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        stop_group "$pid"
    done
    PIDS=()
    [[ -z $WORK ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Starts "$@" in its own process group, output to the log $1; sets BG_PID.
BG_PID=
start_bg() {
    local logfile=$1
    shift
    setsid "$@" >"$logfile" 2>&1 </dev/null &
    BG_PID=$!
    PIDS+=("$BG_PID")
}
stop_bg() { # pid
    local p keep=()
    stop_group "$1"
    for p in "${PIDS[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:$1 accepts connections; fails early when process $2 exits.
wait_port() {
    local port=$1 pid=$2 i
    for ((i = 0; i < 200; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Starts a server on a free port: start_server NAME CMD... (the port replaces {PORT} in
# the arguments); sets SERVER_PORT and SERVER_PID.
SERVER_PORT=
SERVER_PID=
start_server() {
    local name=$1 arg args=()
    shift
    SERVER_PORT=$(free_port)
    for arg in "$@"; do
        args+=("${arg//\{PORT\}/$SERVER_PORT}")
    done
    start_bg "$LOGS/$name.log" "${args[@]}"
    SERVER_PID=$BG_PID
    if ! wait_port "$SERVER_PORT" "$SERVER_PID"; then
        tail -n 20 "$LOGS/$name.log" >&2 || true
        fail "$name" "starts and listens on 127.0.0.1:$SERVER_PORT"
        return 1
    fi
}

# ---------------------------------------------------------------- results
RESULTS=
pass() { printf 'PASS  %-42s %s\n' "$1" "$2" | tee -a "$RESULTS"; }
fail() { printf 'FAIL  %-42s %s\n' "$1" "$2" | tee -a "$RESULTS"; }

# Runs a test program whose stdout has lines "PASS case" / "FAIL case: why"; records them
# under SUITE. A non-zero exit or no result line at all is a failure too.
run_cases() {
    local suite=$1 logfile=$LOGS/${1//[^a-zA-Z0-9_.-]/_}.log rc=0 line seen=0
    shift
    timeout 180 "$@" >"$logfile.out" 2>"$logfile" </dev/null || rc=$?
    while IFS= read -r line; do
        case $line in
            "PASS "*) pass "$suite" "${line#PASS }" && seen=1 ;;
            "FAIL "*) fail "$suite" "${line#FAIL }" && seen=1 ;;
        esac
    done <"$logfile.out"
    if ((rc != 0 || !seen)); then
        fail "$suite" "(test program exited with status $rc; log: ${logfile#"$ROOT"/})"
        tail -n 15 "$logfile" | sed 's/^/    /' >&2 || true
    fi
}

# ---------------------------------------------------------------- install
as_root() {
    if [[ $(id -u) == 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root (or password-less sudo) to run: $*"
    fi
}

python_ready() {
    [[ -x $VENV/bin/python ]] &&
        "$VENV/bin/python" -c "import websockets, sys; sys.exit(websockets.__version__ != '$WEBSOCKETS_VERSION')" 2>/dev/null
}
node_ready() {
    [[ -f $NODE_PREFIX/node_modules/ws/package.json &&
        -f $NODE_PREFIX/node_modules/playwright-core/package.json ]] &&
        grep -q "\"version\": \"$WS_VERSION\"" "$NODE_PREFIX/node_modules/ws/package.json" &&
        grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$NODE_PREFIX/node_modules/playwright-core/package.json"
}

install_apt() { # packages...
    local policy=/usr/sbin/policy-rc.d added=
    # Installing nginx must not start a system nginx on port 80.
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod +x "$policy"
        added=1
    fi
    log "apt-get update; apt-get install $*"
    as_root apt-get update -q >"$LOGS/apt.log" 2>&1 || log "apt-get update reported errors (see $LOGS/apt.log)"
    local rc=0
    as_root apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" \
        >>"$LOGS/apt.log" 2>&1 || rc=$?
    [[ -z $added ]] || as_root rm -f "$policy"
    if ((rc != 0)); then
        tail -n 20 "$LOGS/apt.log" >&2
        die "apt-get install $* failed"
    fi
}

install_all() {
    local started=$SECONDS missing=()
    mkdir -p "$INTEROP_HOME" "$LOGS"
    if { wanted browser && [[ ! -x $CHROMIUM ]]; }; then
        missing+=(chromium)
    fi
    if wanted nginx && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
        missing+=(nginx-light)
    fi
    # npm and python3-venv come with the machine image; install them if a machine lacks them.
    if { wanted node || wanted browser; } && ! command -v npm >/dev/null; then
        missing+=(nodejs npm)
    fi
    if ((${#missing[@]})); then
        install_apt "${missing[@]}"
    fi
    if wanted python && ! python_ready; then
        log "pip install websockets==$WEBSOCKETS_VERSION into $VENV"
        rm -rf "$VENV"
        python3 -m venv "$VENV" >>"$LOGS/pip.log" 2>&1 || die "python3 -m venv failed (see $LOGS/pip.log)"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
            "websockets==$WEBSOCKETS_VERSION" >>"$LOGS/pip.log" 2>&1 ||
            die "pip install websockets failed (see $LOGS/pip.log)"
    fi
    if { wanted node || wanted browser; } && ! node_ready; then
        log "npm install ws@$WS_VERSION playwright-core@$PLAYWRIGHT_VERSION into $NODE_PREFIX"
        mkdir -p "$NODE_PREFIX"
        [[ -f $NODE_PREFIX/package.json ]] || echo '{"private": true}' >"$NODE_PREFIX/package.json"
        (cd "$NODE_PREFIX" && npm install --no-audit --no-fund --loglevel=error \
            "ws@$WS_VERSION" "playwright-core@$PLAYWRIGHT_VERSION") >>"$LOGS/npm.log" 2>&1 ||
            die "npm install failed (see $LOGS/npm.log)"
    fi
    log "install step took $((SECONDS - started)) s"
}

# ---------------------------------------------------------------- groups
# The python, node and browser groups run twice: with the examples as built by default
# (no compression), and built with the `deflate` feature (permessage-deflate negotiated with
# every peer that offers or accepts it). Arguments: the binaries' directory, 0 or 1.
variant() {
    if (($1)); then echo " +deflate"; fi
}

group_python() {
    local bin=$1 deflate=$2 py=$VENV/bin/python echo_port cmd_port tag
    tag=$(variant "$deflate")
    start_server "echo_server$tag" "$bin/echo_server" "127.0.0.1:{PORT}" || return 0
    echo_port=$SERVER_PORT
    start_server "interop_server$tag" "$bin/interop_server" "127.0.0.1:{PORT}" || return 0
    cmd_port=$SERVER_PORT
    run_cases "python client -> rfc6455 server$tag" env INTEROP_DEFLATE="$deflate" \
        "$py" "$HELPERS/py_client.py" "ws://127.0.0.1:$echo_port/" "ws://127.0.0.1:$cmd_port/"
    start_server "py_server$tag" "$py" "$HELPERS/py_server.py" "{PORT}" || return 0
    run_cases "rfc6455 client -> python server$tag" "$bin/interop_client" \
        "ws://127.0.0.1:$SERVER_PORT/" all
    run_cases "rfc6455 tokio client -> python server$tag" "$bin/tokio_interop_client" \
        "ws://127.0.0.1:$SERVER_PORT/"
    start_server "tokio_echo_server$tag" "$bin/tokio_echo_server" "127.0.0.1:{PORT}" || return 0
    run_cases "python client -> rfc6455 tokio server$tag" env INTEROP_DEFLATE="$deflate" \
        "$py" "$HELPERS/py_client.py" "ws://127.0.0.1:$SERVER_PORT/" -
}

group_node() {
    local bin=$1 deflate=$2 echo_port cmd_port tag
    tag=$(variant "$deflate")
    export NODE_PATH=$NODE_PREFIX/node_modules
    start_server "echo_server$tag" "$bin/echo_server" "127.0.0.1:{PORT}" || return 0
    echo_port=$SERVER_PORT
    start_server "interop_server$tag" "$bin/interop_server" "127.0.0.1:{PORT}" || return 0
    cmd_port=$SERVER_PORT
    run_cases "node client -> rfc6455 server$tag" env INTEROP_DEFLATE="$deflate" \
        node "$HELPERS/node_client.js" "ws://127.0.0.1:$echo_port/" "ws://127.0.0.1:$cmd_port/"
    start_server "node_server$tag" node "$HELPERS/node_server.js" "{PORT}" || return 0
    run_cases "rfc6455 client -> node server$tag" "$bin/interop_client" \
        "ws://127.0.0.1:$SERVER_PORT/" all
    run_cases "rfc6455 tokio client -> node server$tag" "$bin/tokio_interop_client" \
        "ws://127.0.0.1:$SERVER_PORT/"
    start_server "tokio_echo_server$tag" "$bin/tokio_echo_server" "127.0.0.1:{PORT}" || return 0
    run_cases "node client -> rfc6455 tokio server$tag" env INTEROP_DEFLATE="$deflate" \
        node "$HELPERS/node_client.js" "ws://127.0.0.1:$SERVER_PORT/" -
}

group_browser() {
    local bin=$1 deflate=$2 tag shot
    tag=$(variant "$deflate")
    shot=$OUT/chat${tag:+-deflate}.png
    export NODE_PATH=$NODE_PREFIX/node_modules
    start_server "chat$tag" "$bin/chat" "127.0.0.1:{PORT}" || return 0
    run_cases "chromium -> rfc6455 chat$tag" env INTEROP_DEFLATE="$deflate" \
        node "$HELPERS/browser_chat.js" "http://127.0.0.1:$SERVER_PORT/" "$CHROMIUM" "$shot"
    if ((!deflate)); then
        if [[ ${INTEROP_UPDATE_DOCS:-} == 1 && -s $shot ]]; then
            cp "$shot" "$ROOT/docs/chat.png"
            log "copied the screenshot to docs/chat.png"
        fi
        run_cases "rfc6455 client -> chat, slow client" "$bin/interop_client" \
            "ws://127.0.0.1:$SERVER_PORT/ws" chat-slow-client
    fi
}

group_nginx() {
    local nginx a_port a_pid b_port b_pid n_port line conf
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    start_server backend_a "$BIN/echo_server" "127.0.0.1:{PORT}" || return 0
    a_port=$SERVER_PORT a_pid=$SERVER_PID
    start_server backend_b "$BIN/echo_server" "127.0.0.1:{PORT}" || return 0
    b_port=$SERVER_PORT b_pid=$SERVER_PID
    n_port=$(free_port)
    mkdir -p "$WORK/nginx/tmp"
    conf=$WORK/nginx/nginx.conf
    sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@PORT@|$n_port|g" \
        -e "s|@BACKEND_A@|127.0.0.1:$a_port|g" -e "s|@BACKEND_B@|127.0.0.1:$b_port|g" \
        "$HELPERS/nginx.conf.in" >"$conf"
    if ! "$nginx" -t -q -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$conf" >"$LOGS/nginx-t.log" 2>&1; then
        cat "$LOGS/nginx-t.log" >&2
        fail "nginx proxy" "configuration test"
        return 0
    fi
    start_bg "$LOGS/nginx.log" "$nginx" -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$conf"
    if ! wait_port "$n_port" "$BG_PID"; then
        fail "nginx proxy" "nginx starts"
        return 0
    fi
    # The client opens connections through nginx, then asks (a line "KILL host:port") for
    # one backend to be killed, waits for "killed" on its standard input, and checks what
    # survived.
    local suite="nginx proxy, 2 echo_servers" rc=0 seen=0 to client_pid
    mkfifo "$WORK/nginx/in" "$WORK/nginx/out"
    "$BIN/interop_client" "ws://127.0.0.1:$n_port/" nginx-proxy \
        <"$WORK/nginx/in" >"$WORK/nginx/out" 2>"$LOGS/nginx_client.log" &
    client_pid=$!
    PIDS+=("$client_pid")
    exec {to}>"$WORK/nginx/in"
    while IFS= read -r -t 60 line; do
        case $line in
            "KILL 127.0.0.1:$a_port") stop_bg "$a_pid" && echo killed >&"$to" ;;
            "KILL 127.0.0.1:$b_port") stop_bg "$b_pid" && echo killed >&"$to" ;;
            "PASS "*) pass "$suite" "${line#PASS }" && seen=1 ;;
            "FAIL "*) fail "$suite" "${line#FAIL }" && seen=1 ;;
            *) echo "$line" >>"$LOGS/nginx_client.log" ;;
        esac
    done <"$WORK/nginx/out"
    exec {to}>&-
    wait "$client_pid" || rc=$?
    if ((rc != 0 || !seen)); then
        fail "$suite" "(test program exited with status $rc)"
        tail -n 15 "$LOGS/nginx_client.log" | sed 's/^/    /' >&2 || true
    fi
}

group_examples() {
    local example
    for example in subprotocol origin_check binary heartbeat reconnect; do
        if timeout 60 "$BIN/$example" >"$LOGS/example_$example.log" 2>&1 </dev/null; then
            pass "examples" "cargo run --example $example"
        else
            fail "examples" "cargo run --example $example (log: target/interop/logs/example_$example.log)"
        fi
    done
    start_server broadcast "$BIN/broadcast" "127.0.0.1:{PORT}" || return 0
    run_cases "examples" "$BIN/interop_client" "ws://127.0.0.1:$SERVER_PORT/" broadcast
}

# ---------------------------------------------------------------- main
mkdir -p "$LOGS"
install_all
[[ -z $INSTALL_ONLY ]] || exit 0

DEFLATE_BIN=$OUT/bin-deflate
PEERS=(echo_server interop_server interop_client chat tokio_echo_server tokio_interop_client)
if [[ ${INTEROP_SKIP_BUILD:-} != 1 ]]; then
    started=$SECONDS
    log "cargo build --release --features tokio,deflate (${PEERS[*]}), then without deflate (all examples)"
    (
        cd "$ROOT"
        cargo build --release --quiet --features tokio,deflate "${PEERS[@]/#/--example=}"
        mkdir -p "$DEFLATE_BIN"
        for example in "${PEERS[@]}"; do
            cp "$BIN/$example" "$DEFLATE_BIN/"
        done
        cargo build --release --quiet --features tokio "${PEERS[@]/#/--example=}" --example=broadcast \
            --example=subprotocol --example=origin_check --example=binary --example=heartbeat \
            --example=reconnect
    ) || die "cargo build failed"
    log "build took $((SECONDS - started)) s"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rfc6455-interop.XXXXXX")
RESULTS=$OUT/results.txt
: >"$RESULTS"
started=$SECONDS
for group in python node browser nginx examples; do
    wanted "$group" || continue
    case $group in
        python | node | browser) runs=("$BIN 0" "$DEFLATE_BIN 1") ;;
        *) runs=("") ;;
    esac
    for run in "${runs[@]}"; do
        log "group $group${run:+ $(variant "${run##* }")}"
        # shellcheck disable=SC2086 # two words: directory and flag
        "group_$group" $run
        cleanup
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/rfc6455-interop.XXXXXX")
    done
done

passed=$(grep -c '^PASS' "$RESULTS" || true)
failed=$(grep -c '^FAIL' "$RESULTS" || true)
log "ran in $((SECONDS - started)) s; results in ${RESULTS#"$ROOT"/}"
echo "interop: $passed passed, $failed failed"
((failed == 0 && passed > 0))
