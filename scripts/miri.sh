#!/usr/bin/env bash
# Runs the sans-IO core's unit tests under Miri on three targets: x86_64 (little-endian,
# 64-bit), s390x (big-endian) and i686 (32-bit). Byte order and `usize` width bite exactly
# where the core works: frame lengths, close codes, word-at-a-time masking and UTF-8 checks.
#
#   scripts/miri.sh                                  # all three targets
#   scripts/miri.sh s390x-unknown-linux-gnu          # one
#
# What runs: `cargo +nightly miri test --lib` with the default features: the frame codec, the
# connection state machine, the handshake parsers, masking (the portable path: Miri has no
# SIMD detection), UTF-8 validation, the proxy exchanges and the copy helpers. The adapters
# have no unit tests (they are tested over sockets in tests/), and zlib (feature `deflate`) is
# left out. Under `cfg(miri)` the exhaustive loops and the large-message tests run smaller
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
for target in "${targets[@]}"; do
    echo "==> miri: $target"
    start=$SECONDS
    # Each test's time in the log (libtest's --report-time, nightly only), to see what to shrink.
    cargo +nightly miri test --target "$target" --lib -- -Zunstable-options --report-time
    echo "==> miri: $target passed in $((SECONDS - start)) s"
done
