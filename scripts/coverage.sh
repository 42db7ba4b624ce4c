#!/usr/bin/env bash
# Line coverage of src/: runs the README's test command, `cargo test --all-features`, built
# with `-C instrument-coverage` (rustc's source-based coverage), and prints the covered lines
# of every file and of the sans-IO core (conn and its errors in error.rs, frame, handshake, mask,
# owned messages in message.rs, utf8, deflate).
#
#   scripts/coverage.sh                   # the table; fails when the core is below 95%
#   COVERAGE_MIN=0 scripts/coverage.sh    # never fail on the figure
#   COVERAGE_SHOW=src/conn/recv.rs scripts/coverage.sh   # also print that file's lines,
#                                         # uncovered ones marked (llvm-cov show)
#   scripts/coverage.sh -- --test driver  # arguments after -- go to cargo test
#
# The toolchain here has no llvm-tools component, so the profiles are read with Debian's
# llvm-profdata and llvm-cov (package llvm-19, installed with apt-get when missing; LLVM 19
# reads what rustc's newer LLVM writes). The instrumented build goes to target/coverage, away
# from the normal one; each test process writes its profile to target/coverage/profiles.
# Every test binary and every example the tests start is counted. Doc tests run, but are
# not instrumented.
#
# Exit status: the tests' own when they fail; 1 when the core's line coverage is below
# COVERAGE_MIN (default 95); 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

min=${COVERAGE_MIN:-95}
if [[ ${1:-} == -- ]]; then shift; fi

find_llvm() {
    local tool=$1 v
    for v in 22 21 20 19; do
        if command -v "$tool-$v" >/dev/null; then
            echo "$tool-$v"
            return
        fi
    done
    return 1
}
if ! find_llvm llvm-cov >/dev/null || ! find_llvm llvm-profdata >/dev/null; then
    echo "==> installing llvm-19 (llvm-profdata, llvm-cov) from Debian"
    sudo=
    if ((EUID != 0)); then sudo=sudo; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q llvm-19 >/dev/null 2>&1 ||
        { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q llvm-19 >/dev/null; }
fi
profdata=$(find_llvm llvm-profdata)
cov=$(find_llvm llvm-cov)

out=target/coverage
rm -rf "$out/profiles"
mkdir -p "$out/profiles"
export CARGO_TARGET_DIR=$out
export RUSTFLAGS="${RUSTFLAGS:-} -C instrument-coverage"
export LLVM_PROFILE_FILE=$PWD/$out/profiles/%p-%m.profraw

start=$SECONDS
cargo test --all-features "$@"
echo "==> tests took $((SECONDS - start)) s instrumented"

"$profdata" merge -sparse "$out"/profiles/*.profraw -o "$out/merged.profdata"
rm -rf "$out/profiles"

# The instrumented programs: the test binaries cargo built, and the examples they start.
objects=()
while IFS= read -r exe; do objects+=(-object "$exe"); done < <(
    cargo test --all-features --no-run --message-format=json "$@" 2>/dev/null |
        python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
        print(msg["executable"])'
    find "$out/debug/examples" -maxdepth 1 -type f -perm -u+x ! -name '*-*' 2>/dev/null
)
first=${objects[1]}
ignore='/\.cargo/|/rustc/|/tests/|/examples/|/benches/|/tests\.rs$'
"$cov" export -summary-only -instr-profile "$out/merged.profdata" "$first" "${objects[@]:2}" \
    -ignore-filename-regex="$ignore" >"$out/summary.json"

python3 - "$out/summary.json" "$PWD/src/" "$min" <<'EOF'
import json, sys

summary, root, minimum = sys.argv[1], sys.argv[2], float(sys.argv[3])
CORE = ("conn", "error", "frame", "handshake", "mask", "message", "utf8", "deflate")
files = json.load(open(summary))["data"][0]["files"]
rows, core, total = [], [0, 0], [0, 0]
for f in files:
    name = f["filename"].replace(root, "")
    if name == f["filename"]:
        continue  # not under src/
    lines = f["summary"]["lines"]
    count, covered = lines["count"], lines["covered"]
    in_core = name.split("/")[0].removesuffix(".rs") in CORE
    rows.append((name, covered, count, in_core))
    total[0] += covered
    total[1] += count
    if in_core:
        core[0] += covered
        core[1] += count
pct = lambda c, n: 100.0 * c / n if n else 100.0
print(f"{'file':<28} {'lines':>6} {'missed':>6} {'cover':>7}")
for name, covered, count, in_core in sorted(rows):
    mark = " *" if in_core else ""
    print(f"{name:<28} {count:>6} {count - covered:>6} {pct(covered, count):>6.1f}%{mark}")
print(f"{'all of src/':<28} {total[1]:>6} {total[1] - total[0]:>6} {pct(*total):>6.1f}%")
figure = pct(*core)
print(f"{'sans-IO core (*)':<28} {core[1]:>6} {core[1] - core[0]:>6} {figure:>6.1f}%")
if figure < minimum:
    print(f"coverage: the core's lines are {figure:.1f}% covered, below {minimum:g}%")
    sys.exit(1)
print(f"coverage: the core's lines are {figure:.1f}% covered (at least {minimum:g}% wanted)")
EOF

if [[ -n ${COVERAGE_SHOW:-} ]]; then
    "$cov" show -instr-profile "$out/merged.profdata" "$first" "${objects[@]:2}" \
        -show-line-counts-or-regions "$COVERAGE_SHOW"
fi
