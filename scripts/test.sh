#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then runs every test: the GoogleTest unit suite,
# the dataplane suite on a real EAL (tests/dp), and the pytest pcap suite
# (replays through build/ioamfwd on net_pcap, plus the Linux interop test,
# which skips itself when not root or without IOAM), and the live suite
# (tests/live: ioamfwd on net_af_packet between network namespaces with real
# Linux hosts; root, skips itself otherwise). Then the hardening runs
# (README "Hardening"): the unit, dataplane and pcap suites again against an
# ASan + UBSan build (build-asan), and a short libFuzzer run per fuzz target
# (build-fuzz, when clang with libFuzzer is installed).
# Ends with one line "N passed, N failed, N skipped".
#
#   IOAMFWD_ASAN=0           skip the sanitizer build and its runs
#   IOAMFWD_FUZZ_SECONDS=N   seconds per fuzz target (default 20; 0 skips them)
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

results=build/test-results
rm -rf "$results" && mkdir -p "$results"
# One line per runner: name, exit code, report file (gtest JSON, JUnit XML or
# a fuzz result); the summary at the end reads them all.
runners="$results/runners.tsv"
: > "$runners"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$runners"; }

echo "== unit tests (GoogleTest)"
build/tests/unit_tests --gtest_brief=1 --gtest_output="json:$results/unit.json"
record unit $? "$results/unit.json"

echo "== dataplane tests (GoogleTest, EAL on net_null, chained mbufs)"
build/tests/dp/dp_tests --gtest_brief=1 --gtest_output="json:$results/dp.json"
record dp $? "$results/dp.json"

echo "== pcap tests (pytest + Scapy, Debian's /usr/bin/python3)"
IOAMFWD_BIN="$PWD/build/ioamfwd" /usr/bin/python3 -m pytest tests/pcap -q -rs \
    -p no:cacheprovider --junitxml="$results/pcap.xml"
record pcap $? "$results/pcap.xml"

echo "== live tests (root: ioamfwd on net_af_packet between network namespaces)"
IOAMFWD_BIN="$PWD/build/ioamfwd" /usr/bin/python3 -m pytest tests/live -q -rs \
    -p no:cacheprovider --junitxml="$results/live.xml" -o junit_suite_name=live
record live $? "$results/live.xml"

# --- hardening: sanitizers --------------------------------------------------
# ASan + UBSan (meson -Dsanitize_all=true). Leak detection stays on: neither
# our code nor DPDK's (--no-huge memory is mmap'd, not malloc'd; EAL state
# is freed by rte_eal_cleanup or reachable from globals) needs a suppression.
# UBSan's reports abort, so they fail the run that hit them.
if [ "${IOAMFWD_ASAN:-1}" != 0 ]; then
    echo "== sanitizer build (build-asan: ASan + UBSan)"
    if { [ -f build-asan/build.ninja ] || meson setup build-asan -Dsanitize_all=true; } &&
        ninja -C build-asan; then
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
        export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
        echo "== unit tests under ASan + UBSan"
        build-asan/tests/unit_tests --gtest_brief=1 --gtest_output="json:$results/asan-unit.json"
        record asan-unit $? "$results/asan-unit.json"
        echo "== dataplane tests under ASan + UBSan"
        build-asan/tests/dp/dp_tests --gtest_brief=1 --gtest_output="json:$results/asan-dp.json"
        record asan-dp $? "$results/asan-dp.json"
        echo "== pcap tests against build-asan/ioamfwd (soak shortened to 10 s a node)"
        IOAMFWD_BIN="$PWD/build-asan/ioamfwd" IOAMFWD_SOAK_SECONDS=10 \
            /usr/bin/python3 -m pytest tests/pcap -q -rs \
            -p no:cacheprovider --junitxml="$results/asan-pcap.xml" \
            -o junit_suite_name=asan-pcap
        record asan-pcap $? "$results/asan-pcap.xml"
        unset ASAN_OPTIONS UBSAN_OPTIONS
    else
        record asan-build 1 ""
    fi
fi

# --- hardening: fuzzing ------------------------------------------------------
# A short run per libFuzzer target from its seed corpus (new inputs go to a
# scratch directory, crashes to $results); each run is one test, passed when
# nothing was found. Longer runs: README "Hardening".
fuzz_seconds="${IOAMFWD_FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" != 0 ]; then
    if echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
        clang++ -fsanitize=fuzzer -x c++ - -o /dev/null 2>/dev/null; then
        echo "== fuzz build (build-fuzz: clang, libFuzzer, ASan + UBSan)"
        if { [ -f build-fuzz/build.ninja ] ||
             CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dtests=false; } &&
            ninja -C build-fuzz; then
            for target in transit encap decap nd parsers config; do
                echo "== fuzz_$target for ${fuzz_seconds} s"
                scratch=$(mktemp -d)
                build-fuzz/tests/fuzz/fuzz_$target -max_total_time="$fuzz_seconds" -timeout=10 \
                    -print_final_stats=1 -artifact_prefix="$results/fuzz_$target-" \
                    "$scratch" "tests/fuzz/corpus/$target" > "$results/fuzz_$target.log" 2>&1
                rc=$?
                rm -rf "$scratch"
                if [ $rc -eq 0 ]; then
                    echo passed > "$results/fuzz_$target.result"
                    grep -E '^(stat::number_of_executed_units|Done)' "$results/fuzz_$target.log"
                else
                    echo failed > "$results/fuzz_$target.result"
                    grep -E -A3 '^\*\*\*|ERROR|SUMMARY' "$results/fuzz_$target.log" | head -40
                    echo "(full log: $results/fuzz_$target.log; reproducer: $results/fuzz_$target-*)"
                fi
                record "fuzz_$target" $rc "$results/fuzz_$target.result"
            done
        else
            record fuzz-build 1 ""
        fi
    else
        echo "== fuzz targets skipped: clang++ with libFuzzer (clang, libclang-rt-14-dev) not found"
        echo skipped > "$results/fuzz.result"
        record fuzz 0 "$results/fuzz.result"
    fi
fi

/usr/bin/python3 - "$runners" <<'PY'
import json, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
per_runner = []
for line in open(sys.argv[1]):
    name, rc, report = line.rstrip("\n").split("\t")
    rc = int(rc)
    p0, f0, s0 = passed, failed, skipped
    try:
        if report.endswith(".json"):  # GoogleTest
            u = json.load(open(report))
            u_failed = u.get("failures", 0) + u.get("errors", 0)
            u_skipped = sum(1 for suite in u.get("testsuites", [])
                            for t in suite.get("testsuite", []) if t.get("result") == "SKIPPED")
            passed += u.get("tests", 0) - u_failed - u_skipped
            failed += u_failed
            skipped += u_skipped + u.get("disabled", 0)
        elif report.endswith(".xml"):  # pytest JUnit
            root = ET.parse(report).getroot()
            for s in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
                n, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
                passed += n - f - e - sk
                failed += f + e
                skipped += sk
        elif report.endswith(".result"):  # one fuzz run, or the skipped fuzzing
            r = open(report).read().strip()
            passed += r == "passed"
            failed += r == "failed"
            skipped += r == "skipped"
        else:  # a build that failed: no report
            failed += 1
    except (OSError, ValueError, ET.ParseError):
        failed += 1  # the runner did not run or did not report
    # A runner that crashed without reporting a failure still counts as one
    # (pytest's 5 is "no tests collected").
    if rc not in (0, 5) and failed == f0:
        failed += 1
    per_runner.append(f"  {name}: {passed - p0} passed, {failed - f0} failed, "
                      f"{skipped - s0} skipped")
print("\n".join(per_runner))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
