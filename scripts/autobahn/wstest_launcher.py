# -*- coding: utf-8 -*-
# Python 2 launcher for the Autobahn TestSuite's `wstest` (used by scripts/autobahn.sh).
#
# Environment:
#   AUTOBAHN_PY2_SITE     site-packages directory of the private install prefix (required).
#                         It is added with site.addsitedir() so that the .pth files of
#                         namespace packages (zope.*) are processed.
#   AUTOBAHN_LISTEN_HOST  address that wstest's listening WebSocket servers bind to
#                         (default 127.0.0.1). Stock wstest always binds every address.
#
# Usage:
#   python2.7 wstest_launcher.py [wstest options...]     run wstest
#   python2.7 wstest_launcher.py --list-cases SPEC.json  print the case ids SPEC selects,
#                                                        as a JSON list
import json
import os
import site
import sys


def _setup_path():
    site_dir = os.environ.get("AUTOBAHN_PY2_SITE")
    if not site_dir:
        sys.stderr.write("wstest_launcher: AUTOBAHN_PY2_SITE is not set\n")
        sys.exit(2)
    site.addsitedir(site_dir)


def _list_cases(spec_path):
    # Same selection as wstest's fuzzingserver/fuzzingclient: "cases" minus "exclude-cases".
    with open(spec_path) as f:
        spec = json.load(f)
    from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories, \
        CaseSetname, CaseBasename
    from autobahntestsuite.caseset import CaseSet
    case_set = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
    cases = case_set.parseSpecCases(spec)
    unknown = [c for c in cases if c not in case_set.CasesIndices]
    if unknown:
        sys.stderr.write("unknown case id(s): %s\n" % ", ".join(unknown))
        return 1
    sys.stdout.write(json.dumps(cases) + "\n")
    return 0


def _bind_listeners_to(host):
    # autobahn.twisted.websocket.listenWS defaults to interface='' (all addresses) and the
    # testsuite never passes one; the modules import it by name, so patch each of them.
    import autobahntestsuite
    from autobahntestsuite import fuzzing, echo, broadcast, testee
    for module in (fuzzing, echo, broadcast, testee):
        original = getattr(module, "listenWS", None)
        if original is None:
            continue

        def listen_ws(factory, contextFactory=None, backlog=50, interface='', _orig=original):
            return _orig(factory, contextFactory, backlog, interface or host)

        module.listenWS = listen_ws
    return autobahntestsuite


def main():
    _setup_path()
    if len(sys.argv) == 3 and sys.argv[1] == "--list-cases":
        return _list_cases(sys.argv[2])
    _bind_listeners_to(os.environ.get("AUTOBAHN_LISTEN_HOST", "127.0.0.1"))
    from autobahntestsuite import wstest
    sys.argv[0] = "wstest"
    return wstest.run()


if __name__ == "__main__":
    sys.exit(main())
