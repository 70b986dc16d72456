#!/usr/bin/python3
"""The seed's three-node IOAM domain (seed 002), replayed over net_pcap.

Alpha (db01::1) pings Beta (db03::2) through the IOAM domain
Athos -> Porthos -> Aramis. Each node is an ioamfwd process with its
config/<node>.yaml and two net_pcap ports; the capture one node sends on eth1
is the capture the next one receives on eth0:

  Alpha --eth0[Athos]eth1--> eth0[Porthos]eth1--> eth0[Aramis]eth1--> Beta
          encap ioam6 mode encap            transit         decap + export
          tundst db02::2

Athos inserts the pre-allocated trace in an ip6ip6 tunnel to Aramis and
writes its node data, Porthos adds its own, Aramis adds its own, exports the
completed trace (--trace-export) and delivers Alpha's original packet to Beta.
The tables below are Aramis's exported records.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scapy.all import Ether, ICMPv6EchoRequest, IPv6, Raw, rdpcap, wrpcap

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "build" / "ioamfwd"
NODE_NAMES = {1: "Athos", 2: "Porthos", 3: "Aramis"}
ALPHA, BETA = "db01::1", "db03::2"
ALPHA_MAC, ATHOS_ETH0_MAC = "02:00:00:00:00:01", "02:00:00:00:01:00"

FIELDS = [
    ("hop_limit", "hop limit"), ("node_id", "node id"),
    ("ingress_if_id", "ingress if id"), ("egress_if_id", "egress if id"),
    ("timestamp_sec", "timestamp s"), ("timestamp_frac", "timestamp us"),
    ("transit_delay", "transit delay"), ("namespace_data", "namespace data"),
    ("queue_depth", "queue depth"), ("checksum_complement", "checksum compl."),
    ("hop_limit_wide", "hop limit (wide)"), ("node_id_wide", "node id (wide)"),
    ("ingress_if_id_wide", "ingress id (wide)"), ("egress_if_id_wide", "egress id (wide)"),
    ("namespace_data_wide", "ns data (wide)"), ("buffer_occupancy", "buffer occupancy"),
]


def alpha_packets(count):
    return [Ether(dst=ATHOS_ETH0_MAC, src=ALPHA_MAC) /
            IPv6(src=ALPHA, dst=BETA, hlim=64) /
            ICMPv6EchoRequest(id=0x1001, seq=seq) / Raw(b"ioamfwd demo")
            for seq in range(1, count + 1)]


def config_for(name, trace, workdir):
    """config/<name>.yaml, with Athos's encap trace replaced for a variant."""
    src = ROOT / "config" / f"{name}.yaml"
    if name != "athos" or trace is None:
        return src
    text = src.read_text()
    text, n = re.subn(r"(\n\s+trace:\s*\n(\s+)type:).*\n(\s+ns:.*\n)(\s+size:).*\n",
                      lambda m: f"{m.group(1)} 0x{trace[0]:06x}\n{m.group(3)}{m.group(4)} "
                                f"{trace[1]}\n", text)
    if n != 1:
        sys.exit("cannot find Athos's encap trace in config/athos.yaml")
    out = workdir / "athos_variant.yaml"
    out.write_text(text)
    return out


def run_node(name, config, workdir, rx0, export=None):
    """Replay `rx0` into eth0 of one ioamfwd node; returns its eth1 capture."""
    empty, out0, out1 = (workdir / f"{name}_{x}.pcap" for x in ("empty", "out0", "out1"))
    wrpcap(str(empty), [], linktype=1)
    cmd = [str(BIN), "-l", "0-1", "--no-huge", "-m", "512", "--no-shconf", "--no-pci",
           "--log-level=lib.eal:error", "--file-prefix", f"ioamfwd_demo_{name}",
           "--vdev", f"net_pcap0,rx_pcap={rx0},tx_pcap={out0}",
           "--vdev", f"net_pcap1,rx_pcap={empty},tx_pcap={out1}",
           "--", "--config", str(config), "--idle-exit", "300", "--log-level", "warn"]
    if export:
        cmd += ["--trace-export", str(export)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    shutil.rmtree(f"/var/run/dpdk/ioamfwd_demo_{name}", ignore_errors=True)
    if res.returncode != 0:
        sys.exit(f"ioamfwd ({name}) failed:\n{res.stdout}{res.stderr}")
    lines = res.stdout.splitlines()
    ports = [l.strip() for l in lines if l.strip().startswith("port ")]
    events = [l.strip() for l in lines if l.strip().startswith("ioam:")]
    print(f"  {name:<8} " + "  |  ".join(p.split(None, 2)[1] + " " + " ".join(p.split()[3:])
                                        for p in ports))
    for e in events:
        print(f"           {e}")
    return out1


def cell(value):
    # The all-ones "unavailable" values read better in hex.
    if isinstance(value, int) and value in (0xFFFF, 0xFFFFFFFF):
        return f"0x{value:x} (n/a)"
    return str(value)


def show(record):
    hops = record["hops"]
    print(f"  namespace {record['namespace']}, trace type {record['trace_type']}, "
          f"NodeLen {record['nodelen']}, RemainingLen {record['remaining_len']}, "
          f"overflow {'yes' if record['flags']['overflow'] else 'no'}, "
          f"completed by {record['event']} on {record['port']} "
          f"({record['src']} -> {record['dst']})")
    rows = [("field", [f"node {i + 1} ({NODE_NAMES.get(h.get('node_id'), '?')})"
                       for i, h in enumerate(hops)])]
    for key, label in FIELDS:
        if key in hops[0]:
            rows.append((label, [cell(h[key]) for h in hops]))
    if "opaque_state_snapshot" in hops[0]:
        cells = []
        for h in hops:
            o = h["opaque_state_snapshot"]
            text = bytes.fromhex(o["data"]).rstrip(b"\0").decode("ascii", "replace")
            cells.append(f"{o['schema_id']} {text!r}" if o["length"] else
                         f"none (0x{o['schema_id']:06x})")
        rows.append(("opaque snapshot", cells))
    width = max(len(c) for _, cells in rows for c in cells) + 2
    for label, cells in rows:
        print("  " + label.ljust(20) + "".join(c.ljust(width) for c in cells).rstrip())


def run_variant(title, trace, count, workdir):
    label = "as in config/athos.yaml" if trace is None else \
        f"type 0x{trace[0]:06x}, {trace[1]} octets"
    print(f"\n=== {title} ({label}): {count} echo requests {ALPHA} -> {BETA}")
    sent = alpha_packets(count)
    alpha = workdir / "alpha.pcap"
    wrpcap(str(alpha), sent)
    export = workdir / "aramis_traces.jsonl"
    athos_out = run_node("athos", config_for("athos", trace, workdir), workdir, alpha)
    porthos_out = run_node("porthos", config_for("porthos", None, workdir), workdir, athos_out)
    beta_in = run_node("aramis", config_for("aramis", None, workdir), workdir, porthos_out,
                       export)
    received = rdpcap(str(beta_in))
    records = [json.loads(l) for l in export.read_text().splitlines()]
    if len(received) != count or len(records) != count:
        sys.exit(f"expected {count} packets at Beta and {count} traces, got "
                 f"{len(received)} and {len(records)}")
    same = all(bytes(r[IPv6].payload) == bytes(s[IPv6].payload) and r[IPv6].hlim == 62
               for r, s in zip(received, sent))
    print(f"  Beta received {len(received)} packets: {'Alpha' if same else 'NOT Alpha'}'s "
          f"packets unchanged except hop limit 64 -> 62")
    print("\n  trace of the first packet, as Aramis exported it:")
    show(records[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5, help="echo requests per variant")
    ap.add_argument("--keep", action="store_true", help="keep the capture files")
    args = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run scripts/setup.sh")
    workdir = Path(tempfile.mkdtemp(prefix="ioamfwd-demo-"))
    try:
        run_variant("seed 002", None, args.count, workdir)
        run_variant("full trace", (0xFFF002, 244), args.count, workdir)
    finally:
        if args.keep:
            print(f"\ncaptures and exports kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
