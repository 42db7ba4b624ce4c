#!/usr/bin/env bash
# Mutation testing of the sans-IO core with cargo-mutants: each mutant (an operator flipped, a
# function body replaced by a default value...) is built and the tests that cover its area are
# run; a mutant the tests still pass is "missed" and needs a new assertion, or an entry in
# docs/mutants.md when it cannot change behaviour (an equivalent mutant).
#
#   scripts/mutants.sh                    # every area below, one after the other
#   scripts/mutants.sh frame handshake    # some areas
#   scripts/mutants.sh --diff REV [AREA]  # only mutants on lines changed since REV (git diff)
#   MUTANTS_JOBS=2 scripts/mutants.sh     # two mutants at a time (two build directories)
#   MUTANTS_FILES='src/conn/send.rs src/conn/timers.rs' scripts/mutants.sh conn
#                                         # only these files of the area (to finish a run
#                                         # that was stopped: cargo-mutants cannot resume)
#
# Areas and the tests each runs (the library's unit tests always):
#   frame, utf8   tests/connection.rs, tests/messages.rs
#   deflate       src/deflate.rs (negotiation): tests/deflate.rs, tests/messages.rs
#   handshake     src/handshake.rs, src/handshake/: tests/messages.rs, tests/fuzz_regressions.rs
#   conn          src/conn.rs, src/conn/, src/error.rs: tests/connection.rs, deflate.rs,
#                 timers.rs, messages.rs, fuzz_regressions.rs
# Each area's results go to target/mutants/AREA/mutants.out (caught.txt, missed.txt,
# timeout.txt, unviable.txt; AREA-part/ with MUTANTS_FILES). About 5 to 12 s a mutant here;
# a full run is over an hour, so CI does not run it.
#
# Needs cargo-mutants (installed from crates.io when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "==> installing cargo-mutants"
    cargo install cargo-mutants --locked
fi

diff_args=()
if [[ ${1:-} == --diff ]]; then
    [[ $# -ge 2 ]] || { echo "usage: $0 --diff REV [AREA...]" >&2; exit 2; }
    mkdir -p target/mutants
    git diff "$2" -- src >target/mutants/changes.diff
    diff_args=(--in-diff target/mutants/changes.diff)
    shift 2
fi
areas=("$@")
((${#areas[@]})) || areas=(frame utf8 deflate handshake conn)

for area in "${areas[@]}"; do
    case $area in
        frame) files=(src/frame.rs) tests=(connection messages) ;;
        utf8) files=(src/utf8.rs) tests=(connection messages) ;;
        deflate) files=(src/deflate.rs) tests=(deflate messages) ;;
        handshake) files=(src/handshake.rs 'src/handshake/*.rs') tests=(messages fuzz_regressions) ;;
        conn) files=(src/conn.rs 'src/conn/*.rs' src/error.rs)
            tests=(connection deflate timers messages fuzz_regressions) ;;
        *) echo "unknown area '$area' (frame, utf8, deflate, handshake, conn)" >&2; exit 2 ;;
    esac
    out_dir=target/mutants/$area
    if [[ -n ${MUTANTS_FILES:-} ]]; then
        read -ra files <<<"$MUTANTS_FILES"
        out_dir=target/mutants/$area-part
    fi
    args=(--no-shuffle --all-features --jobs "${MUTANTS_JOBS:-1}" --timeout 120
        --output "$out_dir" --cargo-arg=--lib "${diff_args[@]}")
    for f in "${files[@]}"; do args+=(--file "$f"); done
    for t in "${tests[@]}"; do args+=("--cargo-arg=--test=$t"); done
    # Mutants inside the unit test modules are not mutants of the core.
    args+=(--exclude 'src/**/tests.rs' --exclude 'src/**/tests/*.rs')
    echo "==> mutants: $area"
    mkdir -p "$out_dir"
    rc=0
    cargo mutants "${args[@]}" || rc=$?
    # 0: all caught; 2: some missed; 3: some timed out; others: cargo-mutants failed.
    case $rc in
        0 | 2 | 3) ;;
        *) echo "==> cargo mutants failed in $area (exit $rc)" >&2; exit "$rc" ;;
    esac
    out=$out_dir/mutants.out
    for kind in caught missed timeout unviable; do
        printf '%s %s: %s\n' "$area" "$kind" "$(wc -l <"$out/$kind.txt" 2>/dev/null || echo 0)"
    done
done
