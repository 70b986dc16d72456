#!/usr/bin/env bash
# Installs what ioamfwd needs from Debian 12 (only what is missing) and builds
# it into build/. Safe to run again: it only does what is left to do.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    g++ meson ninja-build pkg-config
    libdpdk-dev dpdk dpdk-dev libpcap-dev
    libyaml-cpp-dev libspdlog-dev libfmt-dev libgtest-dev
    python3 python3-scapy python3-pytest python3-yaml tshark iproute2
    iputils-ping iputils-tracepath ethtool procps  # the live suite (tests/live)
    clang libclang-rt-14-dev  # the libFuzzer targets of scripts/test.sh (README "Hardening")
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -q
    # tshark asks whether non-root users may capture; the answer does not matter here.
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}"
fi

if [ ! -f build/build.ninja ]; then
    meson setup build "$@"
elif [ $# -gt 0 ]; then
    meson configure build "$@"
fi
ninja -C build
