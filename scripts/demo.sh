#!/usr/bin/env bash
# Sets up (Debian packages, build) and runs the seed's IOAM domain
# Athos -> Porthos -> Aramis over net_pcap files, printing the decoded traces.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
exec /usr/bin/python3 scripts/demo.py "$@"
