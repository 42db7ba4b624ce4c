#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60), one after another, single
# job, with libFuzzer's memory limits set so over-allocation is a finding:
#   -rss_limit_mb=2048    the whole process
#   -malloc_limit_mb=512  any single allocation (every fuzz config caps frames at 64 KiB)
# Prints the executions per target and fails if any target crashed, leaked, timed out or
# hit a limit. Crashing inputs land in fuzz/artifacts/<target>/: copy each into
# fuzz/regressions/<target>/ once fixed, so `cargo test --all-features` replays it.
#
# New corpus entries go to fuzz/work/<target>/ (git-ignored); the committed seeds in
# fuzz/corpus/<target>/ are only read.
#
#   scripts/fuzz.sh 600                 # every target, 10 minutes each
#   scripts/fuzz.sh 60 connection mask  # some targets
#
# Needs cargo-fuzz (installed from crates.io when missing) and a nightly toolchain; without
# nightly it falls back to stable with RUSTC_BOOTSTRAP=1 and no sanitizer (-s none).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-60}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
    sanitizer=()
else
    echo "==> no nightly toolchain: RUSTC_BOOTSTRAP=1 on stable, without a sanitizer"
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
    sanitizer=(-s none)
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <("${fuzz[@]}" list)
fi

echo "==> building ${#targets[@]} targets"
"${fuzz[@]}" build "${sanitizer[@]}" --debug-assertions

declare -A execs status
failed=0
for target in "${targets[@]}"; do
    mkdir -p "work/$target" "corpus/$target"
    log="work/$target.log"
    extra=()
    # The workload targets run slowly (many API calls per input): let their inputs grow to
    # max_len at once rather than after many runs without new coverage.
    if [ "$target" = workload ] || [ "$target" = tokio_workload ]; then
        extra=(-len_control=0)
    fi
    echo "==> $target: ${seconds}s"
    set +e
    "${fuzz[@]}" run "${sanitizer[@]}" --debug-assertions "$target" \
        "work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -timeout=20 -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
    code=$?
    set -e
    # libFuzzer's final statistics; "Done N runs" as a fallback.
    n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [ -z "$n" ]; then
        n=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    fi
    execs[$target]=${n:-?}
    if [ "$code" -eq 0 ]; then
        status[$target]=ok
    else
        status[$target]="FAILED (exit $code)"
        failed=1
        echo "--- $target failed; the end of its log ($log):"
        tail -n 40 "$log"
    fi
done

echo
echo "==> fuzzing summary (${seconds}s per target)"
printf '%-20s %14s  %s\n' target execs result
for target in "${targets[@]}"; do
    printf '%-20s %14s  %s\n' "$target" "${execs[$target]}" "${status[$target]}"
done
if [ "$failed" -ne 0 ]; then
    echo "fuzzing found a crash: see fuzz/artifacts/" >&2
    exit 1
fi
