#!/usr/bin/env bash
# The chat room across several servers (examples/cluster/): redis-server, two chat nodes and
# nginx in front, all on loopback, checked with headless Chromium pages.
#
# Usage:
#   scripts/cluster.sh [--install-only] [--release] [--serve | --load]
#
#   --install-only   install what is missing, then stop
#   --release        build the nodes with --release (default: a debug build, quicker to make)
#   --serve          start everything, print the addresses, and wait for Ctrl-C instead of
#                    running the checks
#   --load           the load measurement instead of the checks (not run by CI): a release
#                    build, Redis and two nodes; chat-load with $LOAD_CLIENTS clients (500)
#                    sending $LOAD_RATE messages/s (50) for $LOAD_SECS s (10), spread over
#                    both nodes, then all on one node (the other idle on the bus), then on
#                    one node without Redis
#
# What it does:
#   1. Installs what is missing: Debian's `redis-server`, `nginx-light` and `chromium`
#      (apt-get; services are not started), Node's `ws` and `playwright-core` (npm, into
#      $INTEROP_HOME as scripts/interop.sh does).
#   2. cargo build --locked of examples/cluster (its own workspace), target dir
#      target/cluster unless CARGO_TARGET_DIR is set. The build time is printed.
#   3. Starts the two nodes first, then redis-server (no persistence: --save '' --appendonly
#      no), so the nodes start without Redis and must join the bus when it comes up; then
#      nginx (least_conn, WebSocket proxying) in front of both. Ports are picked free at run
#      time, on 127.0.0.1; every process started is stopped on exit.
#   4. Runs scripts/cluster/browser_cluster.js; every case prints one line, PASS or FAIL:
#      0  the nodes started before Redis join the bus when it comes up
#      1  pages on node a and node b see each other's messages, joins and leaves
#      2  each page's online list shows the other
#      3  node a is killed (SIGKILL) mid-chat: its nginx page reconnects to node b, every
#         message after that arrives everywhere, node a's users leave the lists within the
#         heartbeat expiry
#      4  node a restarted; Redis killed and restarted: the local room goes on meanwhile,
#         messages cross nodes again once it is back, nothing from the outage is replayed
#      5  a message over 64 KiB is closed with 1009; a client that stops reading is dropped
#         with 1013
#      and then: no node crashed (both still run, no panic in their logs).
#   Logs: target/cluster-logs, with a screenshot of the page that moved from node a to node b
#   (cluster.png; docs/cluster.png is one).
#
# Exit status: 0 when every case passed; 1 when one failed; other non-zero when an install
# or the build failed.
#
# Environment:
#   INTEROP_HOME      npm install location (default $HOME/.cache/rfc6455-interop)
#   CHROMIUM          the browser binary (default /usr/bin/chromium)
#   CARGO_TARGET_DIR  honoured for the build
#   LOAD_CLIENTS, LOAD_RATE, LOAD_SECS   for --load
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
HELPERS=$SCRIPT_DIR/cluster
MEMBER=$ROOT/examples/cluster

WS_VERSION=8.23.0
PLAYWRIGHT_VERSION=1.65.1

INTEROP_HOME=${INTEROP_HOME:-$HOME/.cache/rfc6455-interop}
NODE_PREFIX=$INTEROP_HOME/node
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
LOGS=$ROOT/target/cluster-logs
TARGET=${CARGO_TARGET_DIR:-$ROOT/target/cluster}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
export DEBIAN_FRONTEND=noninteractive

INSTALL_ONLY= RELEASE= SERVE= LOAD=
while (($#)); do
    case $1 in
        --install-only) INSTALL_ONLY=1 ;;
        --release) RELEASE=1 ;;
        --serve) SERVE=1 ;;
        --load) LOAD=1 RELEASE=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "cluster: unknown argument $1 (try --help)" >&2
            exit 2
            ;;
    esac
    shift
done

log() { printf '[cluster] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 3
}

# ---------------------------------------------------------------- processes
PIDS=()
WORK=
stop_group() { # pid [signal]: signal its process group (TERM by default), then KILL the rest
    local pid=$1 sig=${2:-TERM} i
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
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

# Starts "$@" in its own process group, output appended to the log $1; sets BG_PID.
BG_PID=
start_bg() {
    local logfile=$1
    shift
    setsid "$@" >>"$logfile" 2>&1 </dev/null &
    BG_PID=$!
    PIDS+=("$BG_PID")
}
stop_bg() { # pid [signal]
    local p keep=()
    stop_group "$@"
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

# ---------------------------------------------------------------- results
RESULTS=
pass() { printf 'PASS  %s\n' "$1" | tee -a "$RESULTS"; }
fail() { printf 'FAIL  %s\n' "$1" | tee -a "$RESULTS"; }

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

node_ready() {
    [[ -f $NODE_PREFIX/node_modules/ws/package.json &&
        -f $NODE_PREFIX/node_modules/playwright-core/package.json ]] &&
        grep -q "\"version\": \"$WS_VERSION\"" "$NODE_PREFIX/node_modules/ws/package.json" &&
        grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$NODE_PREFIX/node_modules/playwright-core/package.json"
}

install_apt() { # packages...
    local policy=/usr/sbin/policy-rc.d added=
    # Installing redis-server or nginx must not start a system service.
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

REDIS_SERVER= NGINX=
install_all() {
    local started=$SECONDS missing=()
    mkdir -p "$INTEROP_HOME" "$LOGS"
    command -v redis-server >/dev/null || [[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
    if [[ -z $LOAD ]]; then
        command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
        [[ -x $CHROMIUM ]] || missing+=(chromium)
        command -v npm >/dev/null || missing+=(nodejs npm)
    fi
    if ((${#missing[@]})); then
        install_apt "${missing[@]}"
    fi
    if [[ -z $LOAD ]] && ! node_ready; then
        log "npm install ws@$WS_VERSION playwright-core@$PLAYWRIGHT_VERSION into $NODE_PREFIX"
        mkdir -p "$NODE_PREFIX"
        [[ -f $NODE_PREFIX/package.json ]] || echo '{"private": true}' >"$NODE_PREFIX/package.json"
        (cd "$NODE_PREFIX" && npm install --no-audit --no-fund --loglevel=error \
            "ws@$WS_VERSION" "playwright-core@$PLAYWRIGHT_VERSION") >>"$LOGS/npm.log" 2>&1 ||
            die "npm install failed (see $LOGS/npm.log)"
    fi
    REDIS_SERVER=$(command -v redis-server || echo /usr/bin/redis-server)
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    log "install step took $((SECONDS - started)) s"
}

# ---------------------------------------------------------------- the cluster
NODE_BIN= REDIS_PORT= REDIS_PID= NGINX_PORT=
declare -A NODE_PORT NODE_PID

start_node() { # name [--no-redis]: starts (or restarts) it on its port
    local name=$1 redis=(--redis "redis://127.0.0.1:$REDIS_PORT/")
    [[ ${2:-} != --no-redis ]] || redis=()
    start_bg "$LOGS/node-$name.log" "$NODE_BIN" "127.0.0.1:${NODE_PORT[$name]}" \
        --node "$name" "${redis[@]}"
    NODE_PID[$name]=$BG_PID
    wait_port "${NODE_PORT[$name]}" "$BG_PID" || {
        tail -n 20 "$LOGS/node-$name.log" >&2
        return 1
    }
}

start_redis() {
    start_bg "$LOGS/redis.log" "$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" \
        --save '' --appendonly no --dir "$WORK" --protected-mode yes
    REDIS_PID=$BG_PID
    wait_port "$REDIS_PORT" "$REDIS_PID" || {
        tail -n 20 "$LOGS/redis.log" >&2
        return 1
    }
}

start_nginx() {
    local conf=$WORK/nginx/nginx.conf
    mkdir -p "$WORK/nginx/tmp"
    sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" \
        -e "s|@NODE_A@|127.0.0.1:${NODE_PORT[a]}|g" -e "s|@NODE_B@|127.0.0.1:${NODE_PORT[b]}|g" \
        "$HELPERS/nginx.conf.in" >"$conf"
    "$NGINX" -t -q -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$conf" >"$LOGS/nginx-t.log" 2>&1 || {
        cat "$LOGS/nginx-t.log" >&2
        return 1
    }
    start_bg "$LOGS/nginx.log" "$NGINX" -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$conf"
    wait_port "$NGINX_PORT" "$BG_PID"
}

# Carries out one `CTL` line of the browser script.
control() {
    case $1 in
        "KILL a" | "KILL b") stop_bg "${NODE_PID[${1#KILL }]}" KILL ;;
        "START a" | "START b") start_node "${1#START }" ;;
        STOP_REDIS) stop_bg "$REDIS_PID" KILL ;;
        START_REDIS) start_redis ;;
        *) return 1 ;;
    esac
}

# The load measurement: the same clients over both nodes, on one node, on one node alone.
load() {
    local a=ws://127.0.0.1:${NODE_PORT[a]}/ws b=ws://127.0.0.1:${NODE_PORT[b]}/ws
    local args=(--clients "${LOAD_CLIENTS:-500}" --rate "${LOAD_RATE:-50}" --secs "${LOAD_SECS:-10}")
    sleep 2 # the nodes find the bus
    lscpu | grep -E '^(Model name|CPU\(s\)):' | sed 's/  */ /g'
    echo "== two nodes, Redis between them"
    "$TARGET/release/chat-load" --nodes "$a,$b" "${args[@]}"
    echo "== one node on the bus (the other idle)"
    "$TARGET/release/chat-load" --nodes "$a" "${args[@]}"
    echo "== one node without Redis"
    stop_bg "${NODE_PID[a]}"
    start_node a --no-redis || die "node a did not start"
    "$TARGET/release/chat-load" --nodes "$a" "${args[@]}"
}

main() {
    mkdir -p "$LOGS"
    rm -f "$LOGS"/*.log
    RESULTS=$LOGS/results.txt
    : >"$RESULTS"
    install_all
    [[ -z $INSTALL_ONLY ]] || return 0

    local profile=debug build_started=$SECONDS
    log "cargo build${RELEASE:+ --release} --locked (examples/cluster)"
    (cd "$MEMBER" && CARGO_TARGET_DIR=$TARGET cargo build --locked ${RELEASE:+--release} --bins) ||
        die "the build failed"
    [[ -z $RELEASE ]] || profile=release
    NODE_BIN=$TARGET/$profile/chat-node
    log "build took $((SECONDS - build_started)) s ($profile)"

    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rfc6455-cluster.XXXXXX")
    REDIS_PORT=$(free_port)
    NODE_PORT[a]=$(free_port)
    NODE_PORT[b]=$(free_port)
    NGINX_PORT=$(free_port)
    # The nodes first: they must serve without Redis, and join the bus once it is up.
    start_node a || die "node a did not start"
    start_node b || die "node b did not start"
    start_redis || die "redis-server did not start"
    if [[ -n $LOAD ]]; then
        load
        return
    fi
    start_nginx || die "nginx did not start"
    log "redis 127.0.0.1:$REDIS_PORT; node a http://127.0.0.1:${NODE_PORT[a]}/;" \
        "node b http://127.0.0.1:${NODE_PORT[b]}/; nginx http://127.0.0.1:$NGINX_PORT/"

    if [[ -n $SERVE ]]; then
        log "open http://127.0.0.1:$NGINX_PORT/ in two browser tabs; Ctrl-C stops everything"
        wait "${NODE_PID[a]}" "${NODE_PID[b]}" || true
        return 0
    fi

    local checks_started=$SECONDS line rc=0 seen=0 to driver_pid
    mkfifo "$WORK/in" "$WORK/out"
    NODE_PATH=$NODE_PREFIX/node_modules timeout 240 node "$HELPERS/browser_cluster.js" \
        "http://127.0.0.1:${NODE_PORT[a]}/" "http://127.0.0.1:${NODE_PORT[b]}/" \
        "http://127.0.0.1:$NGINX_PORT/" "$CHROMIUM" "$LOGS/cluster.png" \
        <"$WORK/in" >"$WORK/out" 2>"$LOGS/browser.log" &
    driver_pid=$!
    PIDS+=("$driver_pid")
    exec {to}>"$WORK/in"
    while IFS= read -r -t 120 line; do
        case $line in
            "CTL "*)
                log "${line#CTL }"
                if control "${line#CTL }"; then
                    echo done >&"$to"
                else
                    echo "failed" >&"$to"
                fi
                ;;
            "PASS "*) pass "${line#PASS }" && seen=1 ;;
            "FAIL "*) fail "${line#FAIL }" && seen=1 ;;
            *) echo "$line" >>"$LOGS/browser.log" ;;
        esac
    done <"$WORK/out"
    exec {to}>&-
    wait "$driver_pid" || rc=$?
    if ((rc != 0 || !seen)); then
        fail "browser checks (exited with status $rc; log: ${LOGS#"$ROOT"/}/browser.log)"
        tail -n 15 "$LOGS/browser.log" | sed 's/^/    /' >&2 || true
    fi
    local name crashed=
    for name in a b; do
        kill -0 "${NODE_PID[$name]}" 2>/dev/null || crashed+=" $name exited;"
        ! grep -q panicked "$LOGS/node-$name.log" || crashed+=" $name panicked;"
    done
    if [[ -z $crashed ]]; then
        pass "no node crashed: a and b still run, no panic in their logs"
    else
        fail "a node crashed:$crashed (logs: ${LOGS#"$ROOT"/})"
    fi
    log "checks took $((SECONDS - checks_started)) s; whole script $SECONDS s"
    if grep -q '^FAIL' "$RESULTS"; then
        log "$(grep -c '^FAIL' "$RESULTS") case(s) failed"
        return 1
    fi
    log "all $(grep -c '^PASS' "$RESULTS") cases passed"
}

main
