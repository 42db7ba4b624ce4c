#!/usr/bin/env bash
# Server memory per idle connection: starts examples/echo_server.rs (one thread per
# connection), or with SOAK_ADAPTER=tokio examples/tokio_echo_server.rs (one task per
# connection on tokio's multi-thread runtime, built with --features tokio) on 127.0.0.1, reads its VmRSS, opens N real WebSocket connections from a
# separate client process (examples/soak_client.rs: connect, opening handshake, one small
# text message and its echo, then idle), reads VmRSS again and prints
#   soak: N idle connections, server RSS +X KiB per connection (before A MiB, after B MiB)
# followed by where the growth sits in the server's memory map (thread stacks, malloc heaps,
# other), from /proc/PID/smaps.
#
#   scripts/soak.sh                       # 10,000 connections
#   scripts/soak.sh 2000                  # or SOAK_CONNECTIONS=2000 scripts/soak.sh
#   SOAK_MAX_KIB=16 scripts/soak.sh       # fail when above 16 KiB per connection
#   MALLOC_ARENA_MAX=1 scripts/soak.sh    # the environment reaches the server (glibc, RUST_MIN_STACK)
#   SOAK_SERVER=path/to/echo_server scripts/soak.sh   # measure another build (no cargo build)
#   SOAK_KEEP=dir scripts/soak.sh         # keep the logs and both smaps snapshots in dir
#   SOAK_ADAPTER=tokio scripts/soak.sh    # the async server (tokio_echo_server)
#   SOAK_CLIENTS=2 scripts/soak.sh 19000  # split the connections over 2 client processes
#                                         # (default: one per 10,000 connections)
#
# For CI: `SOAK_MAX_KIB=16 scripts/soak.sh` (10,000 connections) runs in about 10 s once
# built (60 s at most for the connections to open) and ends by itself; the figure is
# deterministic to 0.1 KiB run to run (thread stack pages, 1 KiB read buffers). The tokio
# server's figure (all malloc heap) moves by about 0.2 KiB between runs.
#
# Fails (exit 1) when not all connections could be opened, or above SOAK_MAX_KIB. Needs
# only cargo and python3; the server holds N sockets and each client its share, so the
# open-file limit (raised here from soft to hard) must exceed N; the blocking server needs
# N+1 threads. Every connection takes an ephemeral port of 127.0.0.1
# (net.ipv4.ip_local_port_range, 28,232 ports by default).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-${SOAK_CONNECTIONS:-10000}}
max_kib=${SOAK_MAX_KIB:-}
adapter=${SOAK_ADAPTER:-blocking}
case $adapter in
    blocking) example=echo_server features=() ;;
    tokio) example=tokio_echo_server features=(--features tokio) ;;
    *) echo "soak: SOAK_ADAPTER is blocking or tokio, not $adapter" >&2; exit 2 ;;
esac
if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ]; then
    echo "usage: scripts/soak.sh [CONNECTIONS]  (or SOAK_CONNECTIONS=N; default 10000)" >&2
    exit 2
fi

clients=${SOAK_CLIENTS:-$(((n + 9999) / 10000))}
if ! [[ $clients =~ ^[0-9]+$ ]] || [ "$clients" -lt 1 ] || [ "$clients" -gt "$n" ]; then
    echo "soak: SOAK_CLIENTS must be between 1 and $n" >&2
    exit 2
fi

# ---- limits: the server holds N sockets, each client its share; the blocking server N+1 threads.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$(ulimit -Sn)" != "$hard" ]; then
    ulimit -Sn "$hard"
fi
nofile=$(ulimit -Sn)
if [ "$nofile" != unlimited ] && [ "$nofile" -lt $((n + 64)) ]; then
    echo "soak: the open-file limit is $nofile (hard $hard); $n connections need $((n + 64))" >&2
    exit 1
fi
need_threads=$((n + 64))
[ "$adapter" = blocking ] || need_threads=64
for limit in "threads-max:$(cat /proc/sys/kernel/threads-max)" \
             "pid_max:$(cat /proc/sys/kernel/pid_max)" \
             "ulimit -u:$(ulimit -u)"; do
    value=${limit##*:}
    if [ "$value" != unlimited ] && [ "$value" -lt "$need_threads" ]; then
        echo "soak: ${limit%%:*} is $value; the server needs $need_threads threads" >&2
        exit 1
    fi
done
# Each thread stack is two mappings (stack and guard page).
maps=$(cat /proc/sys/vm/max_map_count)
if [ "$adapter" = blocking ] && [ "$maps" -lt $((2 * n + 1000)) ]; then
    echo "soak: vm.max_map_count is $maps; $n threads need about $((2 * n + 1000))" >&2
    exit 1
fi
command -v python3 >/dev/null || { echo "soak: python3 is needed for the report" >&2; exit 1; }

# ---- build
if [ -n "${SOAK_SERVER:-}" ]; then
    server_bin=$SOAK_SERVER
    cargo build --release --quiet --example soak_client
else
    echo "==> building $example and soak_client (release)"
    cargo build --release --quiet "${features[@]}" --example "$example" --example soak_client
fi
target_dir=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
client_bin=$target_dir/release/examples/soak_client
[ -n "${SOAK_SERVER:-}" ] || server_bin=$target_dir/release/examples/$example

# ---- run
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rfc6455-soak.XXXXXX")
server_pid=
client_pids=()
cleanup() {
    exec 3>&- 2>/dev/null || true
    if [ -n "${SOAK_KEEP:-}" ]; then mkdir -p "$SOAK_KEEP" && cp "$tmp"/*.log "$tmp"/*.out "$tmp"/smaps.* "$SOAK_KEEP"/ 2>/dev/null || true; fi
    for pid in "${client_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$server_bin" 127.0.0.1:0 2>"$tmp/server.log" &
server_pid=$!
url=
for _ in $(seq 100); do
    url=$(sed -n 's|^[a-z_]*echo_server: listening on \(ws://[^ ]*\)$|\1|p' "$tmp/server.log")
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "soak: the server did not start listening" >&2; exit 1; }

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status"; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$server_pid/status"; }
sleep 0.5
before=$(rss)
cat "/proc/$server_pid/smaps" >"$tmp/smaps.before"

# The clients hold their connections until their standard input (this fifo) ends. Each
# opens its share one after another; they run side by side.
mkfifo "$tmp/hold"
for c in $(seq "$clients"); do
    share=$(((n * c) / clients - (n * (c - 1)) / clients))
    "$client_bin" "$url" "$share" --hold 110 <"$tmp/hold" >"$tmp/client$c.out" 2>"$tmp/client$c.log" &
    client_pids+=($!)
done
exec 3>"$tmp/hold"
started=$SECONDS
for c in $(seq "$clients"); do
    pid=${client_pids[$((c - 1))]}
    while ! grep -q '^ready' "$tmp/client$c.out"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$tmp"/client*.log >&2
            echo "soak: FAILED: client $c of $clients could not open its connections" \
                 "(server has $(($(threads) - 1)) threads besides the main one)" >&2
            exit 1
        fi
        if [ $((SECONDS - started)) -ge 90 ]; then
            echo "soak: FAILED: $n connections not open after 90 s" >&2
            exit 1
        fi
        sleep 0.2
    done
done
cat "$tmp"/client*.log >&2

# Idle: every connection has had its echo, so the server holds all N. The blocking server
# has a thread per connection blocked in its read; let RSS settle.
if [ "$adapter" = blocking ]; then
    for _ in $(seq 50); do
        [ "$(threads)" -ge $((n + 1)) ] && break
        sleep 0.1
    done
    if [ "$(threads)" -lt $((n + 1)) ]; then
        echo "soak: FAILED: the server has $(($(threads) - 1)) connection threads, not $n" >&2
        exit 1
    fi
fi
sleep 1
after=$(rss)
cat "/proc/$server_pid/smaps" >"$tmp/smaps.after"

# ---- report
python3 - "$n" "$before" "$after" "$tmp/smaps.before" "$tmp/smaps.after" "$max_kib" "$adapter" "$clients" <<'EOF'
import re, sys

n, before, after = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
max_kib = sys.argv[6]
per = (after - before) / n
print(f"soak: {n} idle connections ({sys.argv[7]} server, {sys.argv[8]} client processes), "
      f"server RSS +{per:.1f} KiB per connection "
      f"(before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB)")

def regions(path):
    """Anonymous private mappings, classified: a thread stack has its guard page (---p)
    just below it (so does the 8 KiB signal stack Rust gives each thread: two mappings per
    thread); a glibc arena heap (64 MiB aligned) has its reserve (---p) just above."""
    maps = []
    for line in open(path):
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
        if m:
            maps.append({"start": int(m[1], 16), "end": int(m[2], 16), "perm": m[3],
                         "name": m[4].strip(), "rss": 0})
        elif line.startswith("Rss:") and maps:
            maps[-1]["rss"] = int(line.split()[1])
    by_start = {m["start"]: m for m in maps}
    by_end = {m["end"]: m for m in maps}
    totals = {"thread stacks": [0, 0], "malloc heaps": [0, 0], "other": [0, 0]}
    for m in maps:
        kind = "other"
        if m["name"] == "[heap]":
            kind = "malloc heaps"
        elif m["name"] == "" and m["perm"].startswith("rw"):
            below, above = by_end.get(m["start"]), by_start.get(m["end"])
            if below and below["perm"].startswith("---") and below["end"] - below["start"] <= 1 << 20:
                kind = "thread stacks"
            elif above and above["perm"].startswith("---") and m["start"] % (64 << 20) == 0:
                kind = "malloc heaps"
        totals[kind][0] += m["rss"]
        totals[kind][1] += 1
    return totals

try:
    b, a = regions(sys.argv[4]), regions(sys.argv[5])
    for kind in a:
        grown = a[kind][0] - b[kind][0]
        print(f"soak:   {kind:<14} +{grown / n:6.1f} KiB per connection "
              f"({a[kind][1] - b[kind][1]:+d} mappings, {a[kind][0] / 1024:.1f} MiB resident)")
except OSError as e:
    print(f"soak:   (no breakdown: {e})")

if max_kib and per > float(max_kib):
    print(f"soak: FAILED: {per:.1f} KiB per connection is above SOAK_MAX_KIB={max_kib}")
    sys.exit(1)
if max_kib:
    print(f"soak: OK: at most SOAK_MAX_KIB={max_kib} KiB per connection")
EOF
