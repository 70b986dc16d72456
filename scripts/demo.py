#!/usr/bin/python3
"""The seed's three-node IOAM domain (seed 002), replayed over net_pcap.

Alpha (db01::1) pings Beta (db03::2) through the IOAM domain
Athos -> Porthos -> Aramis. Each ioamfwd node runs as its own process with
its config/<node>.yaml; the output capture of one node is the input of the
next. The traces of the packets leaving the domain are decoded and printed.

Until ioamfwd's encapsulating node exists, Athos's part is played here: the
packets are written as Athos emits them with `encap ioam6 mode inline`
(Hop-by-Hop with the pre-allocated trace and Athos's node data already in
it), and Porthos and Aramis are ioamfwd transit nodes.
"""

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "pcap"))

import ioam_scapy as io  # noqa: E402
from scapy.all import rdpcap, wrpcap, Ether  # noqa: E402

BIN = ROOT / "build" / "ioamfwd"
NODE_NAMES = {1: "Athos", 2: "Porthos", 3: "Aramis"}

# Addresses and MACs of the seed topology (config/*.yaml).
ALPHA, BETA = "db01::1", "db03::2"
ATHOS_ETH1_MAC, PORTHOS_ETH0_MAC = "02:00:00:00:01:01", "02:00:00:00:02:00"


def athos_output(type24, size, count):
    """Frames as Athos sends them on eth1: Alpha's echo requests (hop limit 64,
    decremented by Athos's forwarding) with the trace inserted and Athos's
    node data written with the encapsulating node's output-path rules."""
    athos = io.NodeProfile(
        node_id=1, node_id_wide=11111111, enabled=False, ingress_id=101,
        ingress_id_wide=101101, egress_id=102, egress_id_wide=102102, is_input=False,
        namespaces={123: io.Namespace(0xDEADBEE0, 0xCAFEC0CAF00DC0DE, 777,
                                      b"something that will be 4n-aligned")})
    frames = []
    for seq in range(1, count + 1):
        hbh = io.linux_hbh(io.NH_ICMPV6, 123, type24, size)
        ip = io.ipv6(ALPHA, BETA, hbh + io.icmp6_echo(ALPHA, BETA, seq=seq), nh=io.NH_HOPOPTS,
                     hlim=63)
        tr = io.ioam_options(ip)[0]
        tr_data_off = tr.offset + 4 + 8
        variables = []
        node = io.fill_node_data(63, athos, athos.namespaces[123], type24, variables, 0)
        room = tr.trace.remlen * 4
        if len(node) <= room:
            node = bytearray(node)
            now = time.time()
            for off, kind in variables:
                value = {io.VAR_TS_SEC: int(now) & 0xFFFFFFFF,
                         io.VAR_TS_FRAC: int((now % 1) * 1_000_000),
                         io.VAR_QDEPTH: 0}[kind]
                struct.pack_into("!I", node, off, value)
            start = tr_data_off + room - len(node)
            ip = bytearray(ip)
            ip[start:start + len(node)] = node
            ip[tr.offset + 7] = (ip[tr.offset + 7] & 0x80) | ((room - len(node)) // 4)
        frames.append(io.ether(PORTHOS_ETH0_MAC, ATHOS_ETH1_MAC, bytes(ip)))
    return frames


def run_node(name, workdir, rx0):
    """Replay `rx0` into eth0 of ioamfwd running config/<name>.yaml; returns
    the frames that left eth1."""
    empty, out0, out1 = workdir / f"{name}_empty.pcap", workdir / f"{name}_out0.pcap", \
        workdir / f"{name}_out1.pcap"
    wrpcap(str(empty), [], linktype=1)
    cmd = [str(BIN), "-l", "0-1", "--no-huge", "-m", "512", "--no-shconf", "--no-pci",
           "--log-level=lib.eal:error", "--file-prefix", f"demo_{name}",
           "--vdev", f"net_pcap0,rx_pcap={rx0},tx_pcap={out0}",
           "--vdev", f"net_pcap1,rx_pcap={empty},tx_pcap={out1}",
           "--", "--config", str(ROOT / "config" / f"{name}.yaml"), "--idle-exit", "300",
           "--log-level", "warn"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        sys.exit(f"ioamfwd ({name}) failed:\n{res.stdout}{res.stderr}")
    summary = [line for line in res.stdout.splitlines() if line.strip().startswith("port")]
    print(f"  {name:<8} " + "\n           ".join(s.strip() for s in summary))
    return out1


FIELDS = [
    ("hop_limit", "hop limit", "{}"), ("node_id", "node id", "{}"),
    ("ingress_id", "ingress if id", "{}"), ("egress_id", "egress if id", "{}"),
    ("ts_sec", "timestamp s", "{}"), ("ts_frac", "timestamp us", "{}"),
    ("transit_delay", "transit delay", "0x{:08x}"), ("ns_data", "namespace data", "0x{:08x}"),
    ("queue_depth", "queue depth", "{}"), ("checksum_complement", "checksum compl.", "0x{:08x}"),
    ("hop_limit_wide", "hop limit (wide)", "{}"), ("node_id_wide", "node id (wide)", "{}"),
    ("ingress_id_wide", "ingress id (wide)", "{}"), ("egress_id_wide", "egress id (wide)", "{}"),
    ("ns_data_wide", "ns data (wide)", "0x{:016x}"),
    ("buffer_occupancy", "buffer occupancy", "0x{:08x}"),
]


def show_trace(frame):
    ip = io.strip_ether(frame)
    tr = io.ioam_trace(ip)
    nodes = list(reversed(io.decode_nodes(tr)))  # path order: Athos first
    print(f"  namespace {tr.ns}, trace type 0x{tr.type24:06x}, NodeLen {tr.nodelen}, "
          f"RemainingLen {tr.remlen}, overflow {'yes' if tr.overflow else 'no'}")
    rows = [("field", [f"node {i + 1} ({NODE_NAMES.get(n.get('node_id'), '?')})"
                       for i, n in enumerate(nodes)])]
    for key, label, fmt in FIELDS:
        if key in nodes[0]:
            rows.append((label, [fmt.format(n[key]) for n in nodes]))
    if "oss" in nodes[0]:
        cells = []
        for n in nodes:
            o = n["oss"]
            text = o["data"].rstrip(b"\0").decode("ascii", "replace")
            cells.append(f"{o['schema_id']} {text!r}" if o["length"] else
                         f"none (0x{o['schema_id']:06x})")
        rows.append(("opaque snapshot", cells))
    width = max(len(c) for _, cells in rows for c in cells) + 2
    for label, cells in rows:
        print("  " + label.ljust(20) + "".join(c.ljust(width) for c in cells).rstrip())


def run_variant(title, type24, size, count, workdir):
    print(f"\n=== {title}: trace type 0x{type24:06x}, {size} octets pre-allocated, "
          f"{count} echo requests {ALPHA} -> {BETA}")
    src = workdir / f"athos_out_{type24:06x}.pcap"
    wrpcap(str(src), [Ether(f) for f in athos_output(type24, size, count)])
    porthos_out = run_node("porthos", workdir, src)
    aramis_out = run_node("aramis", workdir, porthos_out)
    frames = [bytes(p) for p in rdpcap(str(aramis_out))]
    if len(frames) != count:
        sys.exit(f"expected {count} packets out of Aramis, got {len(frames)}")
    print(f"\n  trace of the first packet leaving Aramis towards Beta:")
    show_trace(frames[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5, help="echo requests per variant")
    ap.add_argument("--keep", action="store_true", help="keep the capture files")
    args = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run scripts/setup.sh")
    workdir = Path(tempfile.mkdtemp(prefix="ioamfwd-demo-"))
    try:
        run_variant("seed 002", 0x800000, 12, args.count, workdir)
        run_variant("full trace", 0xFFF002, 244, args.count, workdir)
    finally:
        if args.keep:
            print(f"\ncaptures kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
