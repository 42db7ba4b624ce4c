#!/usr/bin/env bash
# Autobahn TestSuite (wstest) conformance run for the rfc6455 crate, both sides.
#
# Usage:
#   scripts/autobahn.sh [options]
#
#   -c, --cases LIST     case patterns, comma-separated (same as AUTOBAHN_CASES)
#   -s, --sides LIST     "server", "client" or "server,client" (same as AUTOBAHN_SIDES)
#   -d, --deflate        also run 12.* and 13.* (same as AUTOBAHN_DEFLATE=1)
#   -a, --adapter NAME   "blocking" (default) or "tokio" (same as AUTOBAHN_ADAPTER)
#       --install-only   only install wstest (when missing) and check that it runs
#       --check-only     only re-read the reports of an earlier run
#   -h, --help           show this header
#
# What it does:
#   1. Installs wstest (autobahntestsuite 25.10.1, Python 2 only) when it does not run yet:
#      python2.7 + python2.7-dev from Debian bullseye (a temporary apt source on the mirror
#      already configured, removed again after the install), pip 20.3.4 (its wheel fetched
#      with python3's pip), then the pinned dependency set of autobahn/constraints-py2.txt,
#      all into $AUTOBAHN_HOME/py2. wstest runs through autobahn/wstest_launcher.py, which
#      calls site.addsitedir() on that prefix (zope namespace) and binds wstest's listening
#      socket to 127.0.0.1 only (stock wstest binds every address).
#   2. cargo build --release --example echo_server --example autobahn_client
#      (only what the selected sides need; skipped for sides given a *_CMD override). With
#      AUTOBAHN_ADAPTER=tokio: tokio_echo_server and tokio_autobahn_client, built with
#      `--features tokio`.
#   3. Server side: starts `echo_server 127.0.0.1:PORT`, runs `wstest -m fuzzingclient`
#      against it; reports in target/autobahn/server.
#   4. Client side: starts `wstest -m fuzzingserver -u 0` (no web UI) on 127.0.0.1:PORT2,
#      runs `autobahn_client ws://127.0.0.1:PORT2 rfc6455`; reports in target/autobahn/client.
#   5. Prints per side a count of the results and every case whose behavior or
#      behaviorClose is not OK/INFORMATIONAL (or that is missing from the report).
#   Ports are picked free at run time. Every process started is stopped on exit.
#
# Exit status: 0 when, on every side run, every selected case is in the report with
# behavior and behaviorClose OK or INFORMATIONAL; 1 otherwise (NON-STRICT, FAILED,
# UNIMPLEMENTED, WRONG CODE, UNCLEAN, missing cases, a side that timed out or whose
# process under test died); 2 for usage errors; other non-zero for install/build errors.
#
# Environment:
#   AUTOBAHN_CASES       case patterns, comma-separated (default "*"), e.g. "1.*,2.*,5.*"
#   AUTOBAHN_ADAPTER     which adapter's examples are tested: "blocking" (default: echo_server,
#                        autobahn_client) or "tokio" (tokio_echo_server, tokio_autobahn_client).
#                        Reports go to target/autobahn (blocking) or target/autobahn-tokio, so
#                        the two can run at the same time. AUTOBAHN_TLS=1 is blocking only.
#   AUTOBAHN_DEFLATE     1: build with `--features deflate` and do not exclude 12.*/13.*
#   AUTOBAHN_TLS         1: the server side over wss:// — echo_server built with
#                        `--features tls` and given `--cert FILE --key FILE` (a CA and a
#                        certificate for 127.0.0.1 made with openssl in target/autobahn/tls),
#                        wstest's fuzzingclient connecting to wss://127.0.0.1:PORT (it does not
#                        verify certificates). The client side, if selected, stays ws://.
#   AUTOBAHN_EXCLUDE     excluded case patterns, comma-separated (default "12.*,13.*", or
#                        "" with AUTOBAHN_DEFLATE=1); set to "" to exclude nothing
#   AUTOBAHN_SIDES       sides to run: "server,client" (default), "server" or "client"
#   AUTOBAHN_AGENT       agent name in the reports (default "rfc6455")
#   AUTOBAHN_TIMEOUT     seconds allowed for each side's test run (default 420, 1200 with
#                        AUTOBAHN_DEFLATE=1); a side that takes longer is killed and fails
#   AUTOBAHN_SERVER_CMD  shell command for the server under test instead of the
#                        echo_server example; run as `bash -c "$AUTOBAHN_SERVER_CMD \"\$@\"" _
#                        127.0.0.1:PORT`, i.e. it gets the listen address appended as its
#                        last argument. It must echo text/binary messages and answer close.
#                        With AUTOBAHN_TLS=1 it gets `--cert FILE --key FILE` before the
#                        address and must serve TLS.
#   AUTOBAHN_CLIENT_CMD  shell command for the client under test instead of the
#                        autobahn_client example; gets `ws://127.0.0.1:PORT AGENT` appended.
#                        It must run every case (getCaseCount, runCase?case=N&agent=AGENT,
#                        updateReports?agent=AGENT) and exit.
#   AUTOBAHN_PARALLEL    1 (default): run the two sides at the same time; 0: one after the other
#   AUTOBAHN_SKIP_BUILD  1: do not run cargo build (use the example binaries as they are)
#   AUTOBAHN_HOME        install location of wstest (default $HOME/.cache/rfc6455-autobahn)
#   AUTOBAHN_PYTHON2     Python 2.7 interpreter to use (default /usr/bin/python2.7, installed
#                        from Debian bullseye when missing)
#   AUTOBAHN_APT_MIRROR  Debian mirror for the bullseye source (default: the mirror of the
#                        configured Debian sources, else http://deb.debian.org/debian)
#   CARGO_TARGET_DIR     honoured for the example binaries; reports always go to
#                        <repo>/target/autobahn/{server,client} (logs in target/autobahn/logs)
#
# Examples:
#   scripts/autobahn.sh                                  # everything but 12.*/13.*
#   AUTOBAHN_CASES="1.*,2.*,5.*,7.*" scripts/autobahn.sh # a subset
#   AUTOBAHN_DEFLATE=1 scripts/autobahn.sh               # include permessage-deflate
#   AUTOBAHN_TLS=1 scripts/autobahn.sh --sides server    # the server side over wss://
#   scripts/autobahn.sh --sides client --cases 9.*       # one side only
#   AUTOBAHN_SERVER_CMD="python3 my_echo.py" AUTOBAHN_CLIENT_CMD="node my_client.js" \
#     scripts/autobahn.sh                                # another implementation
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
HELPERS=$SCRIPT_DIR/autobahn
TOOL=(python3 "$HELPERS/autobahn_tool.py")

WSTEST_VERSION=25.10.1
PIP_VERSION=20.3.4
SETUPTOOLS_VERSION=44.0.0 # autobahntestsuite 25.10.1 pins it
WHEEL_VERSION=0.37.1

export CI=${CI:-true} DEBIAN_FRONTEND=noninteractive

usage() {
    sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

log() { printf '[autobahn] %s\n' "$*" >&2; }
die() {
    printf '[autobahn] error: %s\n' "$*" >&2
    exit 3
}

# ---------------------------------------------------------------- options
mode=run
while (($#)); do
    case $1 in
        -c | --cases)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            AUTOBAHN_CASES=$2
            shift
            ;;
        --cases=*) AUTOBAHN_CASES=${1#*=} ;;
        -s | --sides)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            AUTOBAHN_SIDES=$2
            shift
            ;;
        --sides=*) AUTOBAHN_SIDES=${1#*=} ;;
        -d | --deflate) AUTOBAHN_DEFLATE=1 ;;
        -a | --adapter)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            AUTOBAHN_ADAPTER=$2
            shift
            ;;
        --adapter=*) AUTOBAHN_ADAPTER=${1#*=} ;;
        --install-only) mode=install ;;
        --check-only) mode=check ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            printf 'unknown argument: %s\n\n' "$1" >&2
            usage >&2
            exit 2
            ;;
    esac
    shift
done

CASES=${AUTOBAHN_CASES:-*}
ADAPTER=${AUTOBAHN_ADAPTER:-blocking}
case $ADAPTER in
    blocking) EXAMPLE_PREFIX= ;;
    tokio) EXAMPLE_PREFIX=tokio_ ;;
    *) log "unknown adapter '$ADAPTER' (want blocking, tokio)"; exit 2 ;;
esac
DEFLATE=${AUTOBAHN_DEFLATE:-0}
TLS=${AUTOBAHN_TLS:-0}
if [[ $TLS == 1 && $ADAPTER != blocking ]]; then
    log "AUTOBAHN_TLS=1 is for the blocking adapter only"
    exit 2
fi
if [[ -n ${AUTOBAHN_EXCLUDE+set} ]]; then
    EXCLUDE=$AUTOBAHN_EXCLUDE
elif [[ $DEFLATE == 1 ]]; then
    EXCLUDE=
else
    EXCLUDE="12.*,13.*"
fi
AGENT=${AUTOBAHN_AGENT:-rfc6455}
if [[ $DEFLATE == 1 ]]; then
    TIMEOUT=${AUTOBAHN_TIMEOUT:-1200} # 12.*/13.* are slow on wstest's (Python 2) side
else
    TIMEOUT=${AUTOBAHN_TIMEOUT:-420}
fi
[[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -gt 0 ]] || { log "AUTOBAHN_TIMEOUT must be a number of seconds"; exit 2; }
run_server=0 run_client=0
IFS=', ' read -r -a sides <<<"${AUTOBAHN_SIDES:-server,client}"
for side in "${sides[@]}"; do
    case $side in
        server) run_server=1 ;;
        client) run_client=1 ;;
        both) run_server=1 run_client=1 ;;
        "") ;;
        *) log "unknown side '$side' (want server, client)"; exit 2 ;;
    esac
done
((run_server || run_client)) || { log "no side selected"; exit 2; }

AUTOBAHN_HOME=${AUTOBAHN_HOME:-$HOME/.cache/rfc6455-autobahn}
PY2=${AUTOBAHN_PYTHON2:-/usr/bin/python2.7}
PREFIX=$AUTOBAHN_HOME/py2
SITE=$PREFIX/lib/python2.7/site-packages
WSTEST=(env -u PYTHONPATH -u PYTHONHOME PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1
    AUTOBAHN_PY2_SITE="$SITE" AUTOBAHN_LISTEN_HOST=127.0.0.1
    "$PY2" "$HELPERS/wstest_launcher.py")

if [[ $ADAPTER == blocking ]]; then
    OUT=$ROOT/target/autobahn
else
    OUT=$ROOT/target/autobahn-$ADAPTER
fi
LOGS=$OUT/logs
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac

# ---------------------------------------------------------------- cleanup
PIDS=()
APT_SOURCE_ADDED=
WORK=

stop_group() { # pid: TERM its process group, then KILL whatever is left
    local pid=$1 i
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
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
    if [[ -n $APT_SOURCE_ADDED ]]; then
        rm -f "$APT_SOURCE_ADDED"
    fi
    if [[ -n $WORK ]]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Start "$@" in the background in its own process group (so that it and all its children
# can be stopped together), output to the log file $1. Sets BG_PID.
BG_PID=
start_bg() {
    local logfile=$1
    shift
    setsid "$@" >"$logfile" 2>&1 </dev/null &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

forget_pid() {
    local pid=$1 p keep=()
    for p in "${PIDS[@]}"; do
        [[ $p == "$pid" ]] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

# Wait for a background job started with start_bg; sets BG_RC.
BG_RC=0
wait_bg() {
    BG_RC=0
    wait "$1" || BG_RC=$?
    forget_pid "$1"
}

alive() { # pid: running (and not a zombie)
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        kill -0 "$1" 2>/dev/null
        return
    }
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

show_log_tail() {
    if [[ -s $1 ]]; then
        log "last lines of $1:"
        tail -n "${2:-20}" "$1" | sed 's/^/    /' >&2
    fi
}

# ---------------------------------------------------------------- install
wstest_works() {
    [[ -x $PY2 && -d $SITE ]] || return 1
    local out
    out=$("${WSTEST[@]}" --autobahnversion 2>/dev/null) || return 1
    [[ $out == *"AutobahnTestSuite $WSTEST_VERSION"* ]]
}

python2_ready() {
    [[ -x $PY2 ]] && "$PY2" -c '
import os, sys
from distutils import sysconfig
assert sys.version_info[:2] == (2, 7)
assert os.path.exists(os.path.join(sysconfig.get_python_inc(), "Python.h"))
' 2>/dev/null
}

as_root() {
    if [[ $(id -u) == 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root (or password-less sudo) to run: $*"
    fi
}

apt_mirror() {
    if [[ -n ${AUTOBAHN_APT_MIRROR:-} ]]; then
        printf '%s\n' "${AUTOBAHN_APT_MIRROR%/}"
        return
    fi
    local f url
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        url=$(grep -v '^[[:space:]]*#' "$f" | grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' | head -n 1 || true)
        url=${url%%[[:space:]]*}
        if [[ -n $url ]]; then
            printf '%s\n' "${url%/}"
            return
        fi
    done
    printf '%s\n' http://deb.debian.org/debian
}

bullseye_configured() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        if grep -v '^[[:space:]]*#' "$f" | grep -qE '(^|[[:space:]])bullseye([[:space:]]|$)'; then
            return 0
        fi
    done
    return 1
}

install_python2() {
    if [[ -n ${AUTOBAHN_PYTHON2:-} ]]; then
        die "AUTOBAHN_PYTHON2=$PY2 is not a Python 2.7 with its C headers"
    fi
    command -v apt-get >/dev/null || die "python2.7 missing and no apt-get to install it"
    local apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
    if ! bullseye_configured; then
        local mirror source=/etc/apt/sources.list.d/bullseye.list
        mirror=$(apt_mirror)
        log "adding the temporary apt source 'deb $mirror bullseye main' ($source)"
        APT_SOURCE_ADDED=$source
        printf 'deb %s bullseye main\n' "$mirror" | as_root tee "$source" >/dev/null
    fi
    log "apt-get update"
    as_root apt-get update -q >"$LOGS/apt.log" 2>&1 ||
        log "apt-get update reported errors (see $LOGS/apt.log); trying the install anyway"
    log "apt-get install python2.7 python2.7-dev"
    if ! as_root apt-get install "${apt_opts[@]}" python2.7 python2.7-dev >>"$LOGS/apt.log" 2>&1; then
        show_log_tail "$LOGS/apt.log"
        die "apt-get install python2.7 python2.7-dev failed (if bullseye moved to the archive, set AUTOBAHN_APT_MIRROR=http://archive.debian.org/debian)"
    fi
    if [[ -n $APT_SOURCE_ADDED ]]; then
        as_root rm -f "$APT_SOURCE_ADDED"
        APT_SOURCE_ADDED=
    fi
}

install_wstest() {
    local started=$SECONDS
    mkdir -p "$AUTOBAHN_HOME" "$LOGS"
    python2_ready || install_python2
    python2_ready || die "$PY2 is not a usable Python 2.7 (with headers)"

    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rfc6455-autobahn.XXXXXX")
    local pip_log=$LOGS/pip-install.log
    local pip_env=(env -u PIP_USER -u PIP_TARGET -u PIP_PREFIX -u PIP_REQUIRE_VIRTUALENV
        -u PIP_CONSTRAINT -u PIP_REQUIREMENT -u PYTHONHOME -u PYTHONPATH
        PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONNOUSERSITE=1)
    local pip_opts=(install --prefix "$PREFIX" --no-cache-dir --no-warn-script-location)

    log "downloading pip $PIP_VERSION (wheel) with python3's pip"
    if ! "${pip_env[@]}" python3 -m pip download "pip==$PIP_VERSION" --no-deps --python-version 2.7 \
        --only-binary=:all: -d "$WORK" >"$pip_log" 2>&1; then
        show_log_tail "$pip_log"
        die "could not download pip $PIP_VERSION"
    fi
    local wheel=$WORK/pip-$PIP_VERSION-py2.py3-none-any.whl
    [[ -f $wheel ]] || die "pip wheel not found in $WORK"

    rm -rf "$PREFIX"
    log "installing pip/setuptools/wheel for Python 2.7 into $PREFIX"
    # pip run from its wheel cannot build PEP 517 projects (its in-process hook is not a
    # real file), so it only installs pip itself into the prefix; that pip does the rest.
    if ! "${pip_env[@]}" "$PY2" "$wheel/pip" "${pip_opts[@]}" --find-links "$WORK" \
        "pip==$PIP_VERSION" "setuptools==$SETUPTOOLS_VERSION" "wheel==$WHEEL_VERSION" \
        >>"$pip_log" 2>&1; then
        show_log_tail "$pip_log"
        die "bootstrapping pip for Python 2.7 failed (log: $pip_log)"
    fi
    log "installing autobahntestsuite==$WSTEST_VERSION (log: $pip_log)"
    if ! "${pip_env[@]}" PYTHONPATH="$SITE" "$PY2" -m pip "${pip_opts[@]}" \
        --constraint "$HELPERS/constraints-py2.txt" "autobahntestsuite==$WSTEST_VERSION" >>"$pip_log" 2>&1; then
        show_log_tail "$pip_log"
        die "pip install autobahntestsuite failed (log: $pip_log)"
    fi
    rm -rf "$WORK"
    WORK=
    wstest_works || die "wstest was installed into $PREFIX but does not run"
    log "wstest installed in $((SECONDS - started))s"
}

ensure_wstest() {
    mkdir -p "$AUTOBAHN_HOME" "$LOGS"
    if wstest_works; then
        return
    fi
    # Serialise concurrent installs into the same prefix.
    if command -v flock >/dev/null; then
        exec 9>"$AUTOBAHN_HOME/.install.lock"
        flock -w 1200 9 || die "timed out waiting for another install ($AUTOBAHN_HOME/.install.lock)"
        if wstest_works; then
            exec 9>&-
            return
        fi
        install_wstest
        exec 9>&-
    else
        install_wstest
    fi
}

# ---------------------------------------------------------------- build
SERVER_CMD=${AUTOBAHN_SERVER_CMD:-}
CLIENT_CMD=${AUTOBAHN_CLIENT_CMD:-}

build_examples() {
    local examples=()
    if ((run_server)) && [[ -z $SERVER_CMD ]]; then
        examples+=(--example "${EXAMPLE_PREFIX}echo_server")
        SERVER_CMD=$(printf '%q' "$TARGET/release/examples/${EXAMPLE_PREFIX}echo_server")
    fi
    if ((run_client)) && [[ -z $CLIENT_CMD ]]; then
        examples+=(--example "${EXAMPLE_PREFIX}autobahn_client")
        CLIENT_CMD=$(printf '%q' "$TARGET/release/examples/${EXAMPLE_PREFIX}autobahn_client")
    fi
    ((${#examples[@]})) || return 0
    if [[ ${AUTOBAHN_SKIP_BUILD:-0} == 1 ]]; then
        log "AUTOBAHN_SKIP_BUILD=1: not building ${examples[*]}"
        return 0
    fi
    local features=() wanted=()
    [[ $DEFLATE == 1 ]] && wanted+=(deflate)
    [[ $TLS == 1 ]] && ((run_server)) && wanted+=(tls)
    [[ $ADAPTER == tokio ]] && wanted+=(tokio)
    if ((${#wanted[@]})); then
        features=(--features "$(IFS=,; printf '%s' "${wanted[*]}")")
    fi
    log "cargo build --release ${examples[*]} ${features[*]}"
    (cd "$ROOT" && cargo build --release "${examples[@]}" "${features[@]}") ||
        die "cargo build failed"
}

# ---------------------------------------------------------------- sides
FAILURES=()

# prepare_side NAME MODE URL: fresh outdir, spec file and expected-cases.json
prepare_side() {
    local name=$1 mode=$2 url=$3 dir=$OUT/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    "${TOOL[@]}" spec "$mode" --url "$url" --outdir "$dir" --agent "$AGENT" \
        --cases "$CASES" --exclude "$EXCLUDE" --output "$OUT/$name-spec.json"
    local n
    if ! "${WSTEST[@]}" --list-cases "$OUT/$name-spec.json" >"$dir/expected-cases.json" ||
        ! n=$("${TOOL[@]}" count-cases "$dir/expected-cases.json"); then
        log "bad case selection: AUTOBAHN_CASES='$CASES' AUTOBAHN_EXCLUDE='$EXCLUDE'"
        exit 2
    fi
    log "$name side: $n cases"
}

# make_certificate DIR: a CA and a certificate for 127.0.0.1 it signed (DIR/server.pem,
# DIR/server.key), for the server side over wss://.
make_certificate() {
    local dir=$1
    command -v openssl >/dev/null || die "AUTOBAHN_TLS=1 needs openssl to make a certificate"
    rm -rf "$dir"
    mkdir -p "$dir"
    (
        cd "$dir"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=rfc6455 autobahn CA" -keyout ca.key -out ca.pem
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile ext.cnf -out server.pem
        cat ca.pem >>server.pem
    ) >"$LOGS/openssl.log" 2>&1 || {
        show_log_tail "$LOGS/openssl.log"
        die "openssl could not make the test certificate"
    }
}

run_server_side() {
    local port addr scheme=ws cmd=$SERVER_CMD
    port=$("${TOOL[@]}" free-port 127.0.0.1)
    addr=127.0.0.1:$port
    if [[ $TLS == 1 ]]; then
        scheme=wss
        make_certificate "$OUT/tls"
        cmd+=" --cert $(printf '%q' "$OUT/tls/server.pem") --key $(printf '%q' "$OUT/tls/server.key")"
    fi
    prepare_side server fuzzingclient "$scheme://$addr"

    log "server side: starting the server under test on $scheme://$addr (log: $LOGS/server-under-test.log)"
    start_bg "$LOGS/server-under-test.log" bash -c "$cmd \"\$@\"" autobahn-server "$addr"
    local server_pid=$BG_PID
    if ! "${TOOL[@]}" wait-port 127.0.0.1 "$port" 60 "$server_pid"; then
        show_log_tail "$LOGS/server-under-test.log"
        FAILURES+=("server: the server under test did not accept connections on $addr")
        stop_group "$server_pid"
        forget_pid "$server_pid"
        return
    fi

    log "server side: wstest -m fuzzingclient (timeout ${TIMEOUT}s, log: $LOGS/wstest-fuzzingclient.log)"
    local started=$SECONDS
    start_bg "$LOGS/wstest-fuzzingclient.log" \
        timeout -k 10 "$TIMEOUT" "${WSTEST[@]}" -m fuzzingclient -s "$OUT/server-spec.json"
    wait_bg "$BG_PID"
    log "server side: wstest finished in $((SECONDS - started))s (exit $BG_RC)"
    if ((BG_RC == 124 || BG_RC == 137)); then
        FAILURES+=("server: wstest fuzzingclient timed out after ${TIMEOUT}s")
        show_log_tail "$LOGS/wstest-fuzzingclient.log"
    elif ((BG_RC != 0)); then
        FAILURES+=("server: wstest fuzzingclient exited with status $BG_RC")
        show_log_tail "$LOGS/wstest-fuzzingclient.log"
    fi

    if ! alive "$server_pid"; then
        wait_bg "$server_pid"
        FAILURES+=("server: the server under test exited during the run (status $BG_RC)")
        show_log_tail "$LOGS/server-under-test.log"
    else
        stop_group "$server_pid"
        forget_pid "$server_pid"
    fi
}

run_client_side() {
    local port url
    port=$("${TOOL[@]}" free-port 127.0.0.1)
    url=ws://127.0.0.1:$port
    prepare_side client fuzzingserver "$url"

    log "client side: wstest -m fuzzingserver on $url (log: $LOGS/wstest-fuzzingserver.log)"
    start_bg "$LOGS/wstest-fuzzingserver.log" \
        timeout -k 10 "$((TIMEOUT + 60))" "${WSTEST[@]}" -m fuzzingserver -u 0 -s "$OUT/client-spec.json"
    local wstest_pid=$BG_PID
    if ! "${TOOL[@]}" wait-port 127.0.0.1 "$port" 60 "$wstest_pid"; then
        show_log_tail "$LOGS/wstest-fuzzingserver.log"
        FAILURES+=("client: wstest fuzzingserver did not accept connections on $url")
        stop_group "$wstest_pid"
        forget_pid "$wstest_pid"
        return
    fi

    log "client side: running the client under test (timeout ${TIMEOUT}s, log: $LOGS/client-under-test.log)"
    local started=$SECONDS
    start_bg "$LOGS/client-under-test.log" \
        timeout -k 10 "$TIMEOUT" bash -c "$CLIENT_CMD \"\$@\"" autobahn-client "$url" "$AGENT"
    wait_bg "$BG_PID"
    log "client side: client finished in $((SECONDS - started))s (exit $BG_RC)"
    if ((BG_RC == 124 || BG_RC == 137)); then
        FAILURES+=("client: the client under test timed out after ${TIMEOUT}s")
        show_log_tail "$LOGS/client-under-test.log"
    elif ((BG_RC != 0)); then
        FAILURES+=("client: the client under test exited with status $BG_RC")
        show_log_tail "$LOGS/client-under-test.log"
    fi

    if ! alive "$wstest_pid"; then
        wait_bg "$wstest_pid"
        FAILURES+=("client: wstest fuzzingserver exited during the run (status $BG_RC)")
        show_log_tail "$LOGS/wstest-fuzzingserver.log"
    else
        stop_group "$wstest_pid"
        forget_pid "$wstest_pid"
    fi
}

check_reports() {
    local args=()
    ((run_server)) && args+=("server=$OUT/server")
    ((run_client)) && args+=("client=$OUT/client")
    local rc=0
    "${TOOL[@]}" check --agent "$AGENT" "${args[@]}" || rc=$?
    local f
    for f in "${FAILURES[@]}"; do
        printf 'FAILED: %s\n' "$f"
    done
    if ((rc == 0 && ${#FAILURES[@]} == 0)); then
        return 0
    fi
    printf 'autobahn: logs in %s, HTML reports in %s/{server,client}/index.html\n' "$LOGS" "$OUT"
    return 1
}

# ---------------------------------------------------------------- main
cd "$ROOT"
mkdir -p "$OUT" "$LOGS"

if [[ $mode == check ]]; then
    check_reports
    exit $?
fi

ensure_wstest
log "$("${WSTEST[@]}" --autobahnversion | tr '\n' ' ')($PY2, $PREFIX)"
[[ $mode == install ]] && exit 0

# Check the case selection before spending time on a build.
"${TOOL[@]}" spec fuzzingserver --url ws://127.0.0.1:9001 --outdir "$OUT" --agent "$AGENT" \
    --cases "$CASES" --exclude "$EXCLUDE" --output "$OUT/selection-spec.json"
if ! "${WSTEST[@]}" --list-cases "$OUT/selection-spec.json" >"$OUT/selection.json" ||
    ! "${TOOL[@]}" count-cases "$OUT/selection.json" >/dev/null; then
    log "bad case selection: AUTOBAHN_CASES='$CASES' AUTOBAHN_EXCLUDE='$EXCLUDE'"
    exit 2
fi
rm -f "$OUT/selection-spec.json" "$OUT/selection.json"

build_examples
log "adapter '$ADAPTER', cases '$CASES', excluded '${EXCLUDE:-none}', agent '$AGENT'$([[ $TLS == 1 ]] && printf ', server side over wss://')"
started=$SECONDS
if ((run_server && run_client)) && [[ ${AUTOBAHN_PARALLEL:-1} == 1 ]]; then
    # Both sides at once: each wstest is one Python process, so on two cores this halves
    # the wall time. Each side runs in a subshell that stops its own processes on exit and
    # leaves its failures in a file for check_reports.
    side_pids=()
    for side in server client; do
        (
            PIDS=() APT_SOURCE_ADDED= WORK= FAILURES=()
            trap cleanup EXIT
            trap 'exit 143' TERM HUP
            "run_${side}_side"
            if ((${#FAILURES[@]})); then printf '%s\n' "${FAILURES[@]}"; fi >"$OUT/$side-failures"
        ) &
        side_pids+=($!)
        PIDS+=($!)
    done
    for pid in "${side_pids[@]}"; do
        wait_bg "$pid"
        ((BG_RC == 0)) || FAILURES+=("a side's run exited with status $BG_RC")
    done
    for side in server client; do
        if [[ ! -f $OUT/$side-failures ]]; then
            FAILURES+=("$side: the side's run ended before it finished")
            continue
        fi
        while IFS= read -r line; do
            FAILURES+=("$line")
        done <"$OUT/$side-failures"
    done
else
    ((run_server)) && run_server_side
    ((run_client)) && run_client_side
fi
log "test runs took $((SECONDS - started))s"
check_reports
