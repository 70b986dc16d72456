#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then runs every test: the GoogleTest unit suite
# and the pytest pcap suite (replays through build/ioamfwd on net_pcap, plus
# the Linux interop test, which skips itself when not root or without IOAM).
# Ends with one line "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

results=build/test-results
rm -rf "$results" && mkdir -p "$results"

echo "== unit tests (GoogleTest)"
build/tests/unit_tests --gtest_brief=1 --gtest_output="json:$results/unit.json"
unit_rc=$?

echo "== pcap tests (pytest + Scapy, Debian's /usr/bin/python3)"
IOAMFWD_BIN="$PWD/build/ioamfwd" /usr/bin/python3 -m pytest tests/pcap -q -rs \
    -p no:cacheprovider --junitxml="$results/pcap.xml"
pcap_rc=$?

/usr/bin/python3 - "$results" "$unit_rc" "$pcap_rc" <<'PY'
import json, sys, xml.etree.ElementTree as ET
results, unit_rc, pcap_rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
passed = failed = skipped = 0
try:
    u = json.load(open(f"{results}/unit.json"))
    u_failed = u.get("failures", 0) + u.get("errors", 0)
    u_skipped = sum(1 for suite in u.get("testsuites", []) for t in suite.get("testsuite", [])
                    if t.get("result") == "SKIPPED")
    passed += u.get("tests", 0) - u_failed - u_skipped
    failed += u_failed
    skipped += u_skipped + u.get("disabled", 0)
except (OSError, ValueError):
    failed += 1  # the unit binary did not run or did not report
try:
    root = ET.parse(f"{results}/pcap.xml").getroot()
    for s in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        n, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += n - f - e - sk
        failed += f + e
        skipped += sk
except (OSError, ET.ParseError):
    failed += 1
# A runner that crashed without reporting a failure still counts as one.
if unit_rc != 0 and failed == 0: failed = 1
if pcap_rc not in (0, 5) and failed == 0: failed = 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
