#!/usr/bin/env bash
# Manual smoke of multi-queue on net_af_packet (qpairs=2) over veths (root):
#
#   mqsmoke-A a0 --veth-- r0 [ioamfwd in mqsmoke-R, 2 workers] r1 --veth-- b0 mqsmoke-B
#
# FLOWS UDP flows (distinct source ports: the kernel's fanout hash is
# symmetric over addresses and ports, it ignores the flow label) of PER
# packets, GAP s apart, go from A through the appliance (config.yaml:
# Porthos, rx_queues: 2) to B, which checks each flow arrived whole, in
# order, with node 2's IOAM data. The namespaces are deleted on exit.
#
#   FLOWS=16 PER=100 GAP=0.0005 [CONFIG=other.yaml] tools/mq_smoke/smoke.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${IOAMFWD_BIN:-$HERE/../../build/ioamfwd}
FLOWS=${FLOWS:-8}; PER=${PER:-50}; GAP=${GAP:-0.001}; CONFIG=${CONFIG:-$HERE/config.yaml}
WORK=$(mktemp -d /tmp/mq_smoke.XXXXXX)
NS="mqsmoke-A mqsmoke-R mqsmoke-B"
cleanup() { for n in $NS; do ip netns del "$n" 2>/dev/null; done; rm -rf /var/run/dpdk/mqsmoke; }
trap cleanup EXIT
cleanup
for n in $NS; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add a0 netns mqsmoke-A type veth peer name r0 netns mqsmoke-R
ip link add b0 netns mqsmoke-B type veth peer name r1 netns mqsmoke-R
ip -n mqsmoke-A link set a0 address 02:00:00:00:01:01
ip -n mqsmoke-R link set r0 address 02:00:00:00:02:00
ip -n mqsmoke-R link set r1 address 02:00:00:00:02:01
ip -n mqsmoke-B link set b0 address 02:00:00:00:03:00
# No kernel IPv6 on these links: the router namespace's kernel must not
# answer for the appliance, the hosts' must not add ND/MLD to the capture.
ip netns exec mqsmoke-R sysctl -qw net.ipv6.conf.r0.disable_ipv6=1 net.ipv6.conf.r1.disable_ipv6=1
ip netns exec mqsmoke-A sysctl -qw net.ipv6.conf.a0.disable_ipv6=1
ip netns exec mqsmoke-B sysctl -qw net.ipv6.conf.b0.disable_ipv6=1
ip -n mqsmoke-A link set a0 up; ip -n mqsmoke-B link set b0 up
ip -n mqsmoke-R link set r0 up; ip -n mqsmoke-R link set r1 up

ip netns exec mqsmoke-R "$BIN" --lcores 0@0,1@1,2@1 --no-huge -m 512 --no-shconf --no-pci \
    --file-prefix mqsmoke --log-level=lib.eal:error \
    --vdev net_af_packet0,iface=r0,qpairs=2 --vdev net_af_packet1,iface=r1,qpairs=2 \
    -- --config "$CONFIG" --idle-sleep-us 100 --stats-json "$WORK/STATS.json" \
    > "$WORK/ioamfwd.out" 2>&1 &
APP=$!
sleep 2
ip netns exec mqsmoke-B /usr/bin/python3 "$HERE/recv.py" "$FLOWS" "$PER" 3 "$WORK/ready" \
    > "$WORK/recv.out" 2>&1 &
RCV=$!
while [ ! -e "$WORK/ready" ]; do sleep 0.1; done
ip netns exec mqsmoke-A /usr/bin/python3 "$HERE/send.py" "$FLOWS" "$PER" "$GAP"
wait $RCV
ip -n mqsmoke-R -s link show r1 | sed -n '1p;4,7p'
ip -n mqsmoke-B -s link show b0 | sed -n '1p;4,7p'
kill -INT $APP; wait $APP
echo "ioamfwd exit $?"
grep -E "never read|polls|lcore [0-9]|port eth" "$WORK/ioamfwd.out"
cat "$WORK/recv.out"
echo "(files in $WORK)"
grep -q "RESULT OK" "$WORK/recv.out"
