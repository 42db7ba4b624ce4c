#!/usr/bin/env bash
# The client behind real proxies from Debian's packages, on 127.0.0.1 (ports picked free):
#   tinyproxy   HTTP CONNECT, without auth and with Basic auth (BasicAuth)
#   microsocks  SOCKS5, without auth and with username/password (-u/-P)
# Through each: ws:// and wss:// echo (examples/echo_server with a throwaway openssl CA),
# a wrong password and none (the named errors), the proxy down (the named error within the
# handshake deadline), NO_PROXY bypass, and socks5h name resolution by the proxy. Every case
# runs examples/client with the proxy in the environment only, as a user would. One line
# per case, PASS or FAIL; exit 1 on any FAIL. Every process started is stopped on exit.
#
#   scripts/proxy.sh            # installs tinyproxy and microsocks with apt-get if missing
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export DEBIAN_FRONTEND=noninteractive CARGO_TERM_COLOR=never

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ------------------------------------------------------------------ setup
if ! command -v tinyproxy >/dev/null || ! command -v microsocks >/dev/null; then
    echo "==> apt-get install tinyproxy microsocks"
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo -n)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq tinyproxy microsocks >/dev/null
fi
echo "==> cargo build --all-features --example client --example echo_server"
cargo build --quiet --all-features --example client --example echo_server
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # port
    local i
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}
start() { # port log cmd...
    local port=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 </dev/null &
    PIDS+=($!)
    wait_port "$port"
}

# A CA and a certificate it signed for localhost and 127.0.0.1.
(
    cd "$WORK"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=rfc6455 proxy test CA" -keyout ca.key -out ca.pem
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out server.pem
) >"$WORK/openssl.log" 2>&1

WS=$(free_port)
WSS=$(free_port)
start "$WS" "$WORK/echo.log" "$BIN/echo_server" "127.0.0.1:$WS"
start "$WSS" "$WORK/echo-tls.log" "$BIN/echo_server" "127.0.0.1:$WSS" \
    --cert "$WORK/server.pem" --key "$WORK/server.key"

tinyproxy_conf() { # name port [user pass]
    {
        echo "Port $2"
        echo "Listen 127.0.0.1"
        echo "Timeout 30"
        echo "MaxClients 20"
        echo "LogLevel Connect"
        echo "Allow 127.0.0.1"
        echo "DisableViaHeader Yes"
        # No ConnectPort line: CONNECT to any port (the echo servers' ports are random).
        [[ -z ${3:-} ]] || echo "BasicAuth $3 $4"
    } >"$WORK/$1.conf"
}
HTTP=$(free_port)
HTTP_AUTH=$(free_port)
tinyproxy_conf tinyproxy "$HTTP"
tinyproxy_conf tinyproxy-auth "$HTTP_AUTH" alice 's3cret'
start "$HTTP" "$WORK/tinyproxy.log" tinyproxy -d -c "$WORK/tinyproxy.conf"
start "$HTTP_AUTH" "$WORK/tinyproxy-auth.log" tinyproxy -d -c "$WORK/tinyproxy-auth.conf"

SOCKS=$(free_port)
SOCKS_AUTH=$(free_port)
# The plain SOCKS5 proxy resolves names with its own /etc/hosts, which (where a private
# mount namespace is allowed) knows a name the client cannot resolve: ws-target.test.
ISOLATED=0
printf '127.0.0.1 localhost\n127.0.0.1 ws-target.test\n' >"$WORK/hosts"
if unshare -m true 2>/dev/null; then
    ISOLATED=1
    start "$SOCKS" "$WORK/microsocks.log" unshare -m sh -c \
        'mount --bind "$1" /etc/hosts && exec microsocks -i 127.0.0.1 -p "$2"' \
        sh "$WORK/hosts" "$SOCKS"
else
    start "$SOCKS" "$WORK/microsocks.log" microsocks -i 127.0.0.1 -p "$SOCKS"
fi
start "$SOCKS_AUTH" "$WORK/microsocks-auth.log" \
    microsocks -i 127.0.0.1 -p "$SOCKS_AUTH" -u bob -P 'hunter2'
DOWN=$(free_port) # nothing listens here

# ------------------------------------------------------------------ cases
FAILED=0
pass() { printf 'PASS  %-34s %s\n' "$1" "$2"; }
fail() {
    printf 'FAIL  %-34s %s\n' "$1" "$2"
    sed 's/^/      | /' "$WORK/out" "$WORK/err" | tail -n 8
    FAILED=1
}

# client ENV... -- ARGS...: examples/client with only the given proxy variables, sending one
# line; its stdout in $WORK/out, stderr in $WORK/err, its time in ELAPSED (seconds).
ELAPSED=0
client() {
    local envs=()
    while [[ $1 != -- ]]; do
        envs+=("$1")
        shift
    done
    shift
    local start=$SECONDS
    printf 'hello through the proxy\n' | env -u http_proxy -u HTTP_PROXY -u https_proxy \
        -u HTTPS_PROXY -u all_proxy -u ALL_PROXY -u no_proxy -u NO_PROXY "${envs[@]}" \
        timeout 20 "$BIN/client" "$@" >"$WORK/out" 2>"$WORK/err" || true
    ELAPSED=$((SECONDS - start))
}

# echo_case NAME DETAIL ENV... -- ARGS...: the line comes back.
echo_case() {
    local name=$1 detail=$2
    shift 2
    client "$@"
    if grep -qx 'hello through the proxy' "$WORK/out"; then
        pass "$name" "$detail"
    else
        fail "$name" "$detail: no echo"
    fi
}

# error_case NAME DETAIL TEXT ENV... -- ARGS...: the client fails with TEXT in its error.
error_case() {
    local name=$1 detail=$2 text=$3
    shift 3
    client "$@"
    if grep -q "error: .*$text" "$WORK/err" && ! grep -q 'hello' "$WORK/out"; then
        pass "$name" "$detail (${ELAPSED}s)"
    else
        fail "$name" "$detail: expected an error with \"$text\""
    fi
}

CA=(--ca "$WORK/ca.pem")
RESOLVE_FAILED="failed to lookup address"
T=127.0.0.1

echo "==> tinyproxy $(tinyproxy -v 2>&1 | awk '{print $2}'), HTTP CONNECT"
echo_case http/ws "HTTP_PROXY, ws://127.0.0.1 (loopback is not bypassed)" \
    HTTP_PROXY=http://$T:$HTTP -- ws://$T:$WS/
if grep -q "CONNECT $T:$WS" "$WORK/tinyproxy.log"; then
    pass http/ws-via-proxy "tinyproxy's log has CONNECT $T:$WS"
else
    fail http/ws-via-proxy "tinyproxy's log lacks CONNECT $T:$WS"
fi
echo_case http/wss "HTTPS_PROXY, wss://localhost, TLS in the tunnel" \
    HTTPS_PROXY=http://$T:$HTTP -- wss://localhost:$WSS/ "${CA[@]}"
echo_case http-auth/ws "http_proxy with Basic credentials" \
    http_proxy=http://alice:s3cret@$T:$HTTP_AUTH -- ws://$T:$WS/
echo_case http-auth/wss "ALL_PROXY with Basic credentials, wss://" \
    ALL_PROXY=http://alice:s3cret@$T:$HTTP_AUTH -- wss://localhost:$WSS/ "${CA[@]}"
error_case http-auth/wrong-password "tinyproxy's 401, named" "refused the credentials" \
    HTTP_PROXY=http://alice:wrong@$T:$HTTP_AUTH -- ws://$T:$WS/
error_case http-auth/no-password "no credentials, named" "requires credentials" \
    HTTP_PROXY=http://$T:$HTTP_AUTH -- ws://$T:$WS/

echo "==> microsocks, SOCKS5"
echo_case socks5/ws "ALL_PROXY=socks5://, ws://" ALL_PROXY=socks5://$T:$SOCKS -- ws://$T:$WS/
echo_case socks5h/wss "HTTPS_PROXY=socks5h://, wss://localhost" \
    HTTPS_PROXY=socks5h://$T:$SOCKS -- wss://localhost:$WSS/ "${CA[@]}"
if ((ISOLATED)); then
    echo_case socks5h/proxy-resolves "ws://ws-target.test:$WS, a name only the proxy knows" \
        HTTP_PROXY=socks5h://$T:$SOCKS -- ws://ws-target.test:$WS/
    error_case socks5/client-resolves "the same name with socks5:// fails here" "$RESOLVE_FAILED" \
        HTTP_PROXY=socks5://$T:$SOCKS -- ws://ws-target.test:$WS/
else
    echo_case socks5h/proxy-resolves "ws://localhost (no private namespace: not isolated)" \
        HTTP_PROXY=socks5h://$T:$SOCKS -- ws://localhost:$WS/
fi
echo_case socks5-auth/ws "username/password" \
    ALL_PROXY=socks5://bob:hunter2@$T:$SOCKS_AUTH -- ws://$T:$WS/
echo_case socks5h-auth/wss "username/password, wss://" \
    HTTPS_PROXY=socks5h://bob:hunter2@$T:$SOCKS_AUTH -- wss://localhost:$WSS/ "${CA[@]}"
error_case socks5-auth/wrong-password "RFC 1929 refusal, named" \
    "refused the user name and password" \
    ALL_PROXY=socks5h://bob:wrong@$T:$SOCKS_AUTH -- ws://$T:$WS/
error_case socks5-auth/no-password "no acceptable method, named" "requires authentication" \
    ALL_PROXY=socks5h://$T:$SOCKS_AUTH -- ws://$T:$WS/

echo "==> a proxy that is down; NO_PROXY"
error_case http/down "within the 10 s handshake deadline" "could not connect to the proxy" \
    HTTP_PROXY=http://$T:$DOWN -- ws://$T:$WS/
error_case socks5/down "within the 10 s handshake deadline" "could not connect to the proxy" \
    HTTPS_PROXY=socks5h://$T:$DOWN -- wss://localhost:$WSS/ "${CA[@]}"
echo_case no-proxy/ip "NO_PROXY=127.0.0.1 bypasses the (down) proxy" \
    HTTP_PROXY=http://$T:$DOWN NO_PROXY=127.0.0.1 -- ws://$T:$WS/
echo_case no-proxy/domain "no_proxy=.localhost,example.com, wss://localhost" \
    HTTPS_PROXY=http://$T:$DOWN no_proxy=.localhost,example.com -- wss://localhost:$WSS/ "${CA[@]}"
echo_case no-proxy/star "NO_PROXY=*" ALL_PROXY=socks5://$T:$DOWN NO_PROXY='*' -- ws://$T:$WS/

if ((FAILED)); then
    echo "proxy: some cases failed (logs were in $WORK)" >&2
    exit 1
fi
echo "proxy: all cases passed"
