#!/usr/bin/env python3
"""Helpers for scripts/autobahn.sh (Python 3, standard library only).

Subcommands:
  free-port [HOST]                      print a TCP port that is free on HOST (127.0.0.1)
  wait-port HOST PORT SECONDS [PID]     wait until HOST:PORT accepts connections; fail early
                                        if process PID exits; exit 1 on timeout
  spec fuzzingclient|fuzzingserver ...  write a wstest spec (see `spec --help`)
  count-cases FILE                      print the length of the JSON list in FILE; exit 1 if 0
  check --agent NAME SIDE=DIR [SIDE=DIR ...]
                                        summarise wstest reports (DIR/index.json) and exit 1
                                        unless every case listed in DIR/expected-cases.json
                                        (when present) is in the report and every reported
                                        case has behavior and behaviorClose OK or
                                        INFORMATIONAL
"""

import argparse
import json
import os
import re
import socket
import sys
import time

PASSING = ("OK", "INFORMATIONAL")
# Headline categories, in the order they are printed (other values are appended).
CATEGORIES = ("OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED")


def free_port(args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((args.host, 0))
        print(sock.getsockname()[1])
    return 0


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); look at its state where /proc exists.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def wait_port(args):
    deadline = time.monotonic() + args.seconds
    while True:
        try:
            with socket.create_connection((args.host, args.port), timeout=1):
                return 0
        except OSError:
            pass
        if args.pid and not _alive(args.pid):
            print("process %d exited before %s:%d accepted connections"
                  % (args.pid, args.host, args.port), file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print("timed out after %ss waiting for %s:%d" % (args.seconds, args.host, args.port),
                  file=sys.stderr)
            return 1
        time.sleep(0.1)


def _patterns(text):
    return [p.strip() for p in text.split(",") if p.strip()]


def write_spec(args):
    spec = {
        "outdir": args.outdir,
        "cases": _patterns(args.cases),
        "exclude-cases": _patterns(args.exclude),
        "exclude-agent-cases": {},
    }
    if args.mode == "fuzzingclient":
        spec["servers"] = [{"agent": args.agent, "url": args.url}]
    else:
        spec["url"] = args.url
        # Informational only: wstest ignores it; the web UI is disabled with `-u 0`.
        spec["webport"] = 0
    if not spec["cases"]:
        print("no case patterns given", file=sys.stderr)
        return 2
    with open(args.output, "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")
    return 0


def _case_key(case_id):
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.]", case_id))


def _check_side(side, outdir, agent, expected):
    """Return (ok, lines)."""
    lines = []
    index_path = os.path.join(outdir, "index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        lines.append("%s: no usable report %s (%s)" % (side, index_path, e))
        return False, lines
    results = index.get(agent)
    if results is None:
        lines.append("%s: report %s has no agent %r (agents: %s)"
                     % (side, index_path, agent, ", ".join(sorted(index)) or "none"))
        return False, lines

    counts = {c: 0 for c in CATEGORIES}
    close_bad = 0
    bad = []
    for case_id in sorted(results, key=_case_key):
        r = results[case_id]
        behavior = r.get("behavior", "?")
        close = r.get("behaviorClose", "?")
        counts[behavior] = counts.get(behavior, 0) + 1
        if close not in PASSING:
            close_bad += 1
        if behavior not in PASSING or close not in PASSING:
            report = r.get("reportfile")
            report = os.path.join(outdir, report) if report else "-"
            bad.append("  %-10s behavior=%s behaviorClose=%s duration=%sms report=%s"
                       % (case_id, behavior, close, r.get("duration", "?"), report))

    missing = []
    if expected is not None:
        missing = sorted(set(expected) - set(results), key=_case_key)
        for case_id in missing:
            bad.append("  %-10s MISSING (selected but not in the report)" % case_id)

    ok = not bad
    summary = ", ".join("%s %d" % (k, v) for k, v in counts.items())
    lines.append("%s: %s; behaviorClose not OK/INFORMATIONAL %d; missing %d; %d cases in %s -> %s"
                 % (side, summary, close_bad, len(missing), len(results), index_path,
                    "PASS" if ok else "FAIL"))
    if bad:
        lines.append("%s: cases not OK/INFORMATIONAL:" % side)
        lines.extend(bad)
    return ok, lines


def _load_expected(outdir):
    path = os.path.join(outdir, "expected-cases.json")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def count_cases(args):
    with open(args.file) as f:
        cases = json.load(f)
    if not cases:
        print("the case selection matches no case", file=sys.stderr)
        return 1
    print(len(cases))
    return 0


def check(args):
    all_ok = True
    details = []
    for item in args.sides:
        side, sep, outdir = item.partition("=")
        if not sep:
            print("bad side spec %r (want SIDE=DIR)" % item, file=sys.stderr)
            return 2
        ok, lines = _check_side(side, outdir, args.agent, _load_expected(outdir))
        all_ok &= ok
        print(lines[0])
        details.extend(lines[1:])
    for line in details:
        print(line)
    print("autobahn: %s" % ("PASS" if all_ok else "FAIL"))
    return 0 if all_ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("free-port")
    p.add_argument("host", nargs="?", default="127.0.0.1")
    p.set_defaults(func=free_port)

    p = sub.add_parser("wait-port")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("seconds", type=float)
    p.add_argument("pid", type=int, nargs="?", default=0)
    p.set_defaults(func=wait_port)

    p = sub.add_parser("spec")
    p.add_argument("mode", choices=("fuzzingclient", "fuzzingserver"))
    p.add_argument("--url", required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--agent", default="rfc6455")
    p.add_argument("--cases", default="*", help="comma-separated case patterns")
    p.add_argument("--exclude", default="", help="comma-separated case patterns")
    p.add_argument("--output", required=True)
    p.set_defaults(func=write_spec)

    p = sub.add_parser("count-cases")
    p.add_argument("file")
    p.set_defaults(func=count_cases)

    p = sub.add_parser("check")
    p.add_argument("--agent", required=True)
    p.add_argument("sides", nargs="+", metavar="SIDE=DIR")
    p.set_defaults(func=check)

    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
