#!/usr/bin/env bash
# Runs the sans-IO core's unit tests under Miri on three targets: x86_64 (little-endian,
# 64-bit), s390x (big-endian) and i686 (32-bit). Byte order and `usize` width bite exactly
# where the core works: frame lengths, close codes, word-at-a-time masking and UTF-8 checks.
#
#   scripts/miri.sh                                  # all three targets
#   scripts/miri.sh s390x-unknown-linux-gnu          # one
#   MIRI_JOBS=2 scripts/miri.sh                      # two targets at a time
#
# What runs: `cargo +nightly miri test --lib` with the default features: the frame codec, the
# connection state machine, the handshake parsers, masking (the portable path: Miri has no
# SIMD detection), UTF-8 validation, the proxy exchanges, the copy helpers, and the blocking
# adapter's driving loop and read-timeout bookkeeping (against a scripted transport and a clock
# moved by hand; the adapters' I/O is tested over sockets in tests/). zlib (feature `deflate`)
# is left out. Under `cfg(miri)` the exhaustive loops and the large-message tests run smaller
# versions of themselves, every branch kept, and proptest draws PROPTEST_CASES (default 8)
# cases per property.
#
# The C-built dev-dependency (rcgen, through ring) is not built under Miri (Cargo.toml puts it
# under `cfg(not(miri))`), so no cross C compiler is needed. Needs a nightly toolchain with
# the miri and rust-src components; they are installed with rustup when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(x86_64-unknown-linux-gnu s390x-unknown-linux-gnu i686-unknown-linux-gnu)
fi

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "==> installing nightly with miri and rust-src"
    rustup toolchain install nightly --profile minimal --component miri,rust-src
fi

export PROPTEST_CASES=${PROPTEST_CASES:-8}
# Proptest writes failures next to the sources, which Miri's isolation forbids. Isolation also
# hides the environment: the two variables are forwarded by name.
export PROPTEST_DISABLE_FAILURE_PERSISTENCE=1
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-env-forward=PROPTEST_CASES -Zmiri-env-forward=PROPTEST_DISABLE_FAILURE_PERSISTENCE"
run_one() {
    local target=$1 start=$SECONDS
    echo "==> miri: $target"
    # Each test's time in the log (libtest's --report-time, nightly only), to see what to shrink.
    cargo +nightly miri test --target "$target" --lib -- -Zunstable-options --report-time
    echo "==> miri: $target passed in $((SECONDS - start)) s"
}

# MIRI_JOBS targets at a time (default 1). Each parallel run gets its own target directory,
# so that no run waits on another's build lock, and its own log, printed whole when it ends.
jobs=${MIRI_JOBS:-1}
if ((jobs <= 1)); then
    for target in "${targets[@]}"; do run_one "$target"; done
    exit 0
fi
base=${CARGO_TARGET_DIR:-target}
mkdir -p "$base"
declare -A pid_of=()
failed=0
finish_one() {
    local done_pid rc=0
    wait -n -p done_pid || rc=$?
    local target=${pid_of[$done_pid]}
    cat "$base/miri-$target.log"
    ((rc == 0)) || { echo "==> miri: $target FAILED (exit $rc)"; failed=1; }
    unset "pid_of[$done_pid]"
}
for target in "${targets[@]}"; do
    while ((${#pid_of[@]} >= jobs)); do finish_one; done
    CARGO_TARGET_DIR=$base/miri-$target run_one "$target" >"$base/miri-$target.log" 2>&1 &
    pid_of[$!]=$target
done
while ((${#pid_of[@]} > 0)); do finish_one; done
exit "$failed"
