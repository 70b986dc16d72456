"""Interop: the seed's three-node IOAM domain with a real Linux kernel inside.

Forward mix (always run when the prerequisites are there):

    Alpha ---> ioamfwd Athos ---> Linux Porthos ---> ioamfwd Aramis ---> Beta
    db01::1    encap node         transit node       decap node          db03::2
               (pcap replay)      (network           (pcap replay,
                                   namespaces)        --trace-export)

1. Alpha's ICMPv6 echo requests (db01::1 -> db03::2, hop limit 64, a few
   sizes, one with traffic class 0xb8 and a flow label) are replayed into
   ioamfwd running ``config/athos.yaml``.  Athos encapsulates them (outer
   IPv6 db04::1 -> db02::2, HbH with the Pre-allocated Trace) and fills its
   own node: hop limit 63, node 1.
2. What Athos sent out of eth1 (addressed to the Linux router's eth0 MAC) is
   injected into a Linux IOAM transit router built in network namespaces by
   ``linux_peer.py`` and configured exactly like the seed's Porthos
   (``net.ipv6.ioam6_id`` 2 / 22222222, eth0 201 / 201201 with
   ``ioam6_enabled=1``, eth1 202 / 202202, ``ip ioam namespace add 123 data
   0xdeadbee1 wide 0xcafec0caf11dc0de``, schema 666 "Hello there -Obi",
   forwarding).  db02::/64 (the tunnel destination, connected) and db03::/64
   (via db02::2) both leave by eth1 and db02::2 is a permanent neighbour with
   Aramis's MAC 02:00:00:00:03:00.  The kernel writes its node (hop limit 62,
   node 2, ...) in front of Athos's.
3. What Linux forwarded is replayed into ioamfwd running
   ``config/aramis.yaml`` (``decap: true`` on eth0) with ``--trace-export``.
   Aramis fills the last node (hop limit 61, node 3, destination sentinels:
   egress 0xFFFF / 0xFFFFFFFF, queue depth 0xFFFFFFFF), exports the complete
   trace, removes the outer header and forwards Alpha's packet to Beta.

Variants: ``seed`` (the seed's trace, type 0x800000 size 12, i.e. the config
files as they are) and ``full`` (type 0xfff002 size 244: every field a node
can write, including the opaque state snapshot; 25 + 20 + 16 words fill the
244 octets exactly).  The Athos config of a variant is config/athos.yaml with
only the encap trace's ``type`` and ``size`` replaced.

Checks (tests):
  test_derived_config        the variant config differs from
                             config/athos.yaml only in the trace type/size;
  test_athos_encap           ioamfwd Athos's output, every octet, against the
                             reference layout (§1.2, §3.3) and its node data;
  test_linux_porthos         Linux forwarded every packet to Aramis's MAC,
                             byte-identical to what Athos sent except the
                             outer hop limit (63 -> 62), RemainingLen and the
                             node Linux wrote, which is exactly Porthos's
                             (62/2, 201/202, 0xdeadbee1, 0xcafec0caf11dc0de,
                             OSS 666 "Hello there -Obi", timestamps and queue
                             depth plausible);
  test_beta_receives_alphas_packets
                             every packet reaches Beta and equals Alpha's
                             packet apart from the hop limit (62) and MACs;
  test_aramis_trace_export   one "decap" record per packet; three hops in
                             path order: Athos's and Linux Porthos's data
                             exactly as on the wire Aramis received, then
                             Aramis's own; timestamps ordered along the path;
  test_aramis_run_clean      nothing leaves Aramis's eth0, no drop counter,
                             every record written, no mbuf leak.

Reverse mix (optional, test_reverse_mix_*): Linux Athos (``ip -6 route ...
encap ioam6 mode encap ...``) -> ioamfwd Porthos (``config/porthos.yaml``)
-> Linux Aramis (``ip6tnl0`` up, decap) -> Beta.  Checks Linux Athos's node,
ioamfwd Porthos's node (with the same transit checks as above, now applied
to ioamfwd) and that every packet reaches Beta unchanged but for hop limit
and MACs.  Linux discards the trace on decap (and iproute2 < 6.9 has no
``ip ioam monitor``), so Linux Aramis's node is not observed.  Needs
CONFIG_IPV6_IOAM6_LWTUNNEL and the ip6_tunnel module; skipped otherwise.

Timestamps (bits 2, 3) and queue depth (bit 6) cannot be predicted: they are
checked for plausibility (seconds within a few seconds of the run and
non-decreasing along the path, microseconds < 10^6, queue depth not
0xFFFFFFFF except at the destination) and otherwise compared where the same
octets are seen twice (wire vs export).

Run as root with Debian's python:
    /usr/bin/python3 -m pytest -q tests/pcap/test_interop_three_nodes.py
($IOAMFWD_BIN overrides build/ioamfwd).  Skips with the reason when not
root, without kernel IOAM / ``ip ioam`` / network namespaces, or without the
binary.  About 3 s here (the reverse mix skipped; its runtime is unmeasured).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import linux_peer  # noqa: E402

try:
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import RawPcapReader, RawPcapWriter
except ImportError:  # pragma: no cover
    pytest.skip("Scapy not importable; run with /usr/bin/python3",
                allow_module_level=True)

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "config"
IOAMFWD_BIN = Path(os.environ.get("IOAMFWD_BIN", REPO / "build" / "ioamfwd"))

# --- the seed's addressing -------------------------------------------------
ALPHA_MAC = "02:00:00:00:00:01"
ATHOS_ETH0_MAC = "02:00:00:00:01:00"
ATHOS_ETH1_MAC = "02:00:00:00:01:01"
PORTHOS_ETH0_MAC = "02:00:00:00:02:00"
PORTHOS_ETH1_MAC = "02:00:00:00:02:01"
ARAMIS_ETH0_MAC = "02:00:00:00:03:00"
ARAMIS_ETH1_MAC = "02:00:00:00:03:01"
BETA_MAC = "02:00:00:00:00:04"
ALPHA, BETA = "db01::1", "db03::2"
TUNSRC, TUNDST = "db04::1", "db02::2"      # Athos eth1, Aramis eth0
NS = 123
HLIM = 64

U16_NA, U32_NA = 0xFFFF, 0xFFFFFFFF
TS_TOLERANCE_S = 5
PATH_SLACK_S = 0.05        # two clocks read on one machine: tiny slack only
TRACE_OFF = 48             # trace header: IPv6 hdr + HbH nh/len + PadN(2) + opt hdr
TAG = b"t3n#"

VARIANTS = {"seed": (0x800000, 12), "full": (0xFFF002, 244)}


# ---------------------------------------------------------------------------
# node profiles (reference §2.3), hop limits as the packet leaves each node

@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    hop: int                  # hop limit the node writes
    node_id: int
    node_wide: int
    in_id: int
    in_wide: int
    out_id: int               # 0xFFFF at the destination (loopback egress)
    out_wide: int
    ns_data: int
    ns_wide: int
    schema_id: Optional[int]
    schema: bytes = b""
    destination: bool = False  # queue depth 0xFFFFFFFF (loopback egress)


ATHOS = Node("athos", 63, 1, 11111111, 101, 101101, 102, 102102,
             0xDEADBEE0, 0xCAFEC0CAF00DC0DE, 777,
             b"something that will be 4n-aligned")
PORTHOS = Node("porthos", 62, 2, 22222222, 201, 201201, 202, 202202,
               0xDEADBEE1, 0xCAFEC0CAF11DC0DE, 666, b"Hello there -Obi")
ARAMIS = Node("aramis", 61, 3, 33333333, 301, 301301, U16_NA, U32_NA,
              0xDEADBEE2, 0xCAFEC0CAF22DC0DE, None, destination=True)
PATH = (ATHOS, PORTHOS, ARAMIS)


def bit(k: int) -> int:
    return 1 << (23 - k)


def nodelen(trace_type: int) -> int:
    return (bin(trace_type & 0xFF1FFC).count("1")
            + 2 * bin(trace_type & 0x00E000).count("1"))


def pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def node_words(node: Node, trace_type: int) -> int:
    oss = 0
    if trace_type & bit(22):
        oss = 1 + len(pad4(node.schema)) // 4
    return nodelen(trace_type) + oss


def hexstr(data: bytes) -> str:
    return data.hex()


# ---------------------------------------------------------------------------
# node data <-> dict with the key names of ioamfwd's --trace-export JSON

def decode_node(data: bytes, off: int, trace_type: int) -> tuple:
    """(dict, next offset) for the node at ``off`` of trace ``data``."""
    d: dict = {}
    for k in range(23):
        if not trace_type & bit(k):
            continue
        if k == 22:
            word = struct.unpack_from("!I", data, off)[0]
            ln = (word >> 24) * 4
            d["opaque_state_snapshot"] = {
                "schema_id": word & 0xFFFFFF, "length": ln,
                "data": hexstr(data[off + 4:off + 4 + ln])}
            off += 4 + ln
            continue
        if 8 <= k <= 10:
            hi, lo = struct.unpack_from("!II", data, off)
            q = (hi << 32) | lo
            if k == 8:
                d["hop_limit_wide"] = hi >> 24
                d["node_id_wide"] = q & 0x00FFFFFFFFFFFFFF
            elif k == 9:
                d["ingress_if_id_wide"], d["egress_if_id_wide"] = hi, lo
            else:
                d["namespace_data_wide"] = f"0x{q:016x}"
            off += 8
            continue
        w = struct.unpack_from("!I", data, off)[0]
        if k == 0:
            d["hop_limit"], d["node_id"] = w >> 24, w & 0xFFFFFF
        elif k == 1:
            d["ingress_if_id"], d["egress_if_id"] = w >> 16, w & 0xFFFF
        elif k == 2:
            d["timestamp_sec"] = w
        elif k == 3:
            d["timestamp_frac"] = w
        elif k == 4:
            d["transit_delay"] = w
        elif k == 5:
            d["namespace_data"] = f"0x{w:08x}"
        elif k == 6:
            d["queue_depth"] = w
        elif k == 7:
            d["checksum_complement"] = f"0x{w:08x}"
        elif k == 11:
            d["buffer_occupancy"] = w
        else:
            d[f"bit{k}"] = f"0x{w:08x}"
        off += 4
    return d, off


MEASURED = ("timestamp_sec", "timestamp_frac", "queue_depth")


def expected_node(node: Node, trace_type: int) -> dict:
    """What ``node`` writes (reference §2.3), without the measured fields."""
    d: dict = {}
    for k in range(23):
        if not trace_type & bit(k):
            continue
        if k == 0:
            d["hop_limit"], d["node_id"] = node.hop, node.node_id
        elif k == 1:
            d["ingress_if_id"], d["egress_if_id"] = node.in_id, node.out_id
        elif k == 4:
            d["transit_delay"] = U32_NA
        elif k == 5:
            d["namespace_data"] = f"0x{node.ns_data:08x}"
        elif k == 7:
            d["checksum_complement"] = f"0x{U32_NA:08x}"
        elif k == 8:
            d["hop_limit_wide"], d["node_id_wide"] = node.hop, node.node_wide
        elif k == 9:
            d["ingress_if_id_wide"] = node.in_wide
            d["egress_if_id_wide"] = node.out_wide
        elif k == 10:
            d["namespace_data_wide"] = f"0x{node.ns_wide:016x}"
        elif k == 11:
            d["buffer_occupancy"] = U32_NA
        elif k == 22:
            if node.schema_id is None:
                d["opaque_state_snapshot"] = {"schema_id": 0xFFFFFF,
                                              "length": 0, "data": ""}
            else:
                sc = pad4(node.schema)
                d["opaque_state_snapshot"] = {"schema_id": node.schema_id,
                                              "length": len(sc),
                                              "data": hexstr(sc)}
    return d


def node_errors(got: dict, node: Node, trace_type: int, lo: float,
                hi: float) -> list:
    """Differences between a decoded node and ``node``'s expected data."""
    errs = []
    want = expected_node(node, trace_type)
    rest = {k: v for k, v in got.items() if k not in MEASURED}
    if rest != want:
        keys = sorted(set(rest) | set(want))
        errs += [f"{node.name}.{k}: got {rest.get(k)!r}, want {want.get(k)!r}"
                 for k in keys if rest.get(k) != want.get(k)]
    if trace_type & bit(2):
        sec = got.get("timestamp_sec")
        if sec is None or not (int(lo) - TS_TOLERANCE_S <= sec
                               <= int(hi) + TS_TOLERANCE_S):
            errs.append(f"{node.name}.timestamp_sec {sec} not within "
                        f"{TS_TOLERANCE_S} s of the run [{int(lo)}, {int(hi)}]")
    if trace_type & bit(3):
        frac = got.get("timestamp_frac")
        if frac is None or frac >= 1_000_000:
            errs.append(f"{node.name}.timestamp_frac {frac} is not "
                        "microseconds (< 10^6)")
    if trace_type & bit(6):
        qd = got.get("queue_depth")
        if node.destination and qd != U32_NA:
            errs.append(f"{node.name}.queue_depth {qd}: a destination node "
                        "writes 0xFFFFFFFF")
        if not node.destination and qd in (None, U32_NA):
            errs.append(f"{node.name}.queue_depth {qd}: forwarding node "
                        "must report a queue depth")
    return errs


def node_time(d: dict) -> Optional[float]:
    if "timestamp_sec" in d and "timestamp_frac" in d:
        return d["timestamp_sec"] + d["timestamp_frac"] / 1e6
    return None


# ---------------------------------------------------------------------------
# wire helpers

def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def hexdump(data: bytes, other: Optional[bytes] = None) -> str:
    """Hex dump; octets differing from ``other`` are marked with '*'."""
    lines = []
    for base in range(0, len(data), 16):
        cells = []
        for i in range(base, min(base + 16, len(data))):
            diff = other is not None and (i >= len(other) or other[i] != data[i])
            cells.append(f"{data[i]:02x}" + ("*" if diff else " "))
        lines.append(f"  {base:04x}: " + "".join(cells))
    return "\n".join(lines)


def both_dumps(label_a: str, a: bytes, label_b: str, b: bytes) -> str:
    diffs = [i for i in range(max(len(a), len(b)))
             if i >= len(a) or i >= len(b) or a[i] != b[i]]
    return (f"{len(diffs)} differing octets, first at "
            f"{', '.join(hex(i) for i in diffs[:12])}; lengths "
            f"{label_a}={len(a)} {label_b}={len(b)}\n"
            f"{label_a}:\n{hexdump(a, b)}\n{label_b}:\n{hexdump(b, a)}")


def frame_tag(frame: bytes) -> Optional[str]:
    """The packet's tag (variant#seq) carried in the ICMPv6 echo data."""
    m = re.search(rb"t3n#(\w+#\d{3})", frame)
    return m.group(1).decode() if m else None


def by_tag(frames: list) -> tuple:
    """({tag: frame}, [duplicate tags], [untagged frames])."""
    out, dups, strays = {}, [], []
    for fr in frames:
        tag = frame_tag(fr)
        if tag is None:
            strays.append(fr)
        elif tag in out:
            dups.append(tag)
        else:
            out[tag] = fr
    return out, dups, strays


def linux_hbh(trace_type: int, size: int) -> bytes:
    """The encap HbH as Linux builds it (reference §1.2), data all zero."""
    opt = (bytes([0x31, 10 + size, 0, 0])
           + struct.pack("!HBBI", NS, nodelen(trace_type) << 3, size // 4,
                         trace_type << 8) + bytes(size))
    body = bytes([1, 0]) + opt
    if size % 8 == 4:
        body += bytes([1, 2, 0, 0])
    return bytes([41, (2 + len(body)) // 8 - 1]) + body


def place_node(pkt: bytes, raw_node: bytes, words: int) -> bytes:
    """``pkt`` with ``raw_node`` written in front of the filled part of the
    trace (at the new RemainingLen) and RemainingLen reduced by ``words``."""
    buf = bytearray(pkt)
    remlen = buf[TRACE_OFF + 3] & 0x7F
    assert remlen >= words, "no room"
    pos = TRACE_OFF + 8 + (remlen - words) * 4
    buf[pos:pos + len(raw_node)] = raw_node
    buf[TRACE_OFF + 3] = (buf[TRACE_OFF + 3] & 0x80) | (remlen - words)
    return bytes(buf)


def trace_data(pkt: bytes) -> bytes:
    size = pkt[TRACE_OFF - 3] - 10
    return pkt[TRACE_OFF + 8:TRACE_OFF + 8 + size]


def newest_node(pkt: bytes, trace_type: int) -> tuple:
    """(decoded dict, raw bytes) of the node at RemainingLen."""
    data = trace_data(pkt)
    start = (pkt[TRACE_OFF + 3] & 0x7F) * 4
    d, end = decode_node(data, start, trace_type)
    return d, data[start:end]


def wire_hops(pkt: bytes, trace_type: int) -> list:
    """Every filled node of the trace in ``pkt``, in path order."""
    data = trace_data(pkt)
    off = (pkt[TRACE_OFF + 3] & 0x7F) * 4
    nodes = []
    while off < len(data):
        d, off = decode_node(data, off, trace_type)
        nodes.append(d)
    return nodes[::-1]


# ---------------------------------------------------------------------------
# Alpha's traffic

def alpha_frames(variant: str) -> list:
    sizes = (24, 56, 56, 200, 512, 1000, 1100, 64)
    frames = []
    for seq, size in enumerate(sizes):
        data = (TAG + f"{variant}#{seq:03d}#".encode()).ljust(size, b".")
        tc, fl = (0xB8, 0x5A5A5) if seq == 7 else (0, 0)
        frames.append(bytes(
            Ether(dst=ATHOS_ETH0_MAC, src=ALPHA_MAC)
            / IPv6(src=ALPHA, dst=BETA, hlim=HLIM, tc=tc, fl=fl)
            / ICMPv6EchoRequest(id=0x3A3A, seq=seq, data=data)))
    return frames


# ---------------------------------------------------------------------------
# configurations

def derived_athos_config(trace_type: int, size: int) -> str:
    """config/athos.yaml with only the encap trace's type and size replaced."""
    text = (CONFIG_DIR / "athos.yaml").read_text()
    text, n_type = re.subn(r"(?m)^(\s+type:\s*)0x[0-9a-fA-F]+",
                           lambda m: f"{m.group(1)}0x{trace_type:06x}", text)
    text, n_size = re.subn(r"(?m)^(\s+size:\s*)\d+",
                           lambda m: f"{m.group(1)}{size}", text)
    assert (n_type, n_size) == (1, 1), (
        "config/athos.yaml no longer has exactly one 'type:' and one 'size:' "
        f"line ({n_type}, {n_size}); update derived_athos_config()")
    return text


LINUX_PORTHOS = dataclasses.replace(
    linux_peer.PORTHOS,
    sender_mac=ATHOS_ETH1_MAC,          # the veth end Athos's frames come from
    receiver_mac=ARAMIS_ETH0_MAC,
    eth0_enabled=True, eth1_enabled=False,
    eth0_addr="db04::2/64", eth1_addr="db02::1/64",   # db02::/64 on eth1
    routes=(("db03::/64", TUNDST),),
    eth1_neighbors=((TUNDST, ARAMIS_ETH0_MAC),),
)
assert (LINUX_PORTHOS.node_id, LINUX_PORTHOS.eth0_id, LINUX_PORTHOS.eth1_id) \
    == (PORTHOS.node_id, PORTHOS.in_id, PORTHOS.out_id)
assert LINUX_PORTHOS.eth0_mac == PORTHOS_ETH0_MAC
assert LINUX_PORTHOS.eth1_mac == PORTHOS_ETH1_MAC


# ---------------------------------------------------------------------------
# ioamfwd runs

@dataclasses.dataclass
class FwdRun:
    out0: list
    out1: list
    stats: dict
    export: list              # parsed JSON records (--trace-export)
    export_raw: str
    stdout: str
    stderr: str
    workdir: Path
    started: float
    ended: float

    def describe(self) -> str:
        return (f"workdir {self.workdir}\n--- stdout ---\n{self.stdout[-3000:]}"
                f"\n--- stderr ---\n{self.stderr[-3000:]}")


def write_pcap(path: Path, frames: list) -> None:
    w = RawPcapWriter(str(path), linktype=1, sync=True)
    if not frames:
        w._write_header(None)  # pylint: disable=protected-access
    for f in frames:
        w.write(bytes(f))
    w.close()


def read_pcap(path: Path) -> list:
    if not path.exists() or path.stat().st_size == 0:
        return []
    return [bytes(d) for d, _ in RawPcapReader(str(path))]


def run_ioamfwd(workdir: Path, name: str, config_text: str, rx0: list,
                export: bool = False) -> FwdRun:
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "conf.yaml"
    conf.write_text(config_text)
    write_pcap(workdir / "in0.pcap", rx0)
    write_pcap(workdir / "in1.pcap", [])
    prefix = f"t3n-{os.getpid()}-{name}"
    argv = [str(IOAMFWD_BIN), "-l", "0-1", "--no-huge", "-m", "512",
            "--no-shconf", f"--file-prefix={prefix}", "--no-pci",
            "--log-level=lib.eal:error",
            "--vdev", f"net_pcap0,rx_pcap={workdir / 'in0.pcap'},"
                      f"tx_pcap={workdir / 'out0.pcap'}",
            "--vdev", f"net_pcap1,rx_pcap={workdir / 'in1.pcap'},"
                      f"tx_pcap={workdir / 'out1.pcap'}",
            "--", "--config", str(conf), "--idle-exit", "300",
            "--stats-json", str(workdir / "stats.json")]
    if export:
        argv += ["--trace-export", str(workdir / "export.jsonl")]
    (workdir / "cmdline.txt").write_text(" ".join(argv) + "\n")
    started = time.time()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True,
                              timeout=60, cwd=workdir)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"ioamfwd {name} did not exit within 60 s ({workdir})\n"
                    f"{e.stdout}\n{e.stderr}")
    finally:
        # EAL leaves /var/run/dpdk/<prefix> behind even with --no-shconf.
        shutil.rmtree(Path("/var/run/dpdk") / prefix, ignore_errors=True)
    ended = time.time()
    if proc.returncode != 0:
        pytest.fail(f"ioamfwd {name} exited {proc.returncode} ({workdir})\n"
                    f"argv: {' '.join(argv)}\n--- stdout ---\n{proc.stdout}\n"
                    f"--- stderr ---\n{proc.stderr}")
    try:
        stats = json.loads((workdir / "stats.json").read_text())
    except (OSError, ValueError) as e:
        pytest.fail(f"ioamfwd {name}: no stats.json ({e})\n{proc.stdout}")
    raw = ""
    records = []
    if export:
        raw = (workdir / "export.jsonl").read_text()
        for line in raw.splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as e:
                    pytest.fail(f"ioamfwd {name}: export line is not JSON "
                                f"({e}): {line!r}")
    return FwdRun(read_pcap(workdir / "out0.pcap"),
                  read_pcap(workdir / "out1.pcap"), stats, records, raw,
                  proc.stdout, proc.stderr, workdir, started, ended)


def nonzero_drops(stats: dict) -> dict:
    return {k: v for k, v in stats.get("drops", {}).items() if v}


# ---------------------------------------------------------------------------
# the forward mix: ioamfwd Athos -> Linux Porthos -> ioamfwd Aramis

@dataclasses.dataclass
class Chain:
    variant: str
    trace_type: int
    size: int
    alpha: list               # frames Alpha sent
    athos: FwdRun
    linux_out: list           # frames Linux Porthos forwarded out of eth1
    aramis: FwdRun
    started: float
    ended: float

    @property
    def alpha_by_tag(self) -> dict:
        return by_tag(self.alpha)[0]


def _prerequisites() -> Optional[str]:
    why = linux_peer.probe()
    if why:
        return f"Linux IOAM router unavailable: {why}"
    if not (IOAMFWD_BIN.is_file() and os.access(IOAMFWD_BIN, os.X_OK)):
        return f"ioamfwd binary not found at {IOAMFWD_BIN} (build it or set IOAMFWD_BIN)"
    return None


@pytest.fixture(scope="module")
def chains(tmp_path_factory) -> dict:
    why = _prerequisites()
    if why:
        pytest.skip(why)
    base = tmp_path_factory.mktemp("three_nodes")
    aramis_conf = (CONFIG_DIR / "aramis.yaml").read_text()
    out = {}
    try:
        with linux_peer.LinuxIoamRouter(LINUX_PORTHOS) as porthos:
            for variant, (trace_type, size) in VARIANTS.items():
                started = time.time()
                alpha = alpha_frames(variant)
                athos = run_ioamfwd(base / f"{variant}-athos", f"{variant}-athos",
                                    derived_athos_config(trace_type, size), alpha)
                to_linux = [mac(porthos.config.eth0_mac) + fr[6:]
                            for fr in athos.out1]
                linux_out = porthos.forward(to_linux) if to_linux else []
                aramis = run_ioamfwd(base / f"{variant}-aramis",
                                     f"{variant}-aramis", aramis_conf,
                                     linux_out, export=True)
                out[variant] = Chain(variant, trace_type, size, alpha, athos,
                                     linux_out, aramis, started, time.time())
    except linux_peer.LinuxPeerUnavailable as e:
        pytest.skip(f"Linux IOAM router unavailable: {e}")
    return out


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def chain(request, chains) -> Chain:
    return chains[request.param]


# ---------------------------------------------------------------------------
# checks shared by both mixes

def check_encap_node(alpha_by_tag: dict, frames: list, trace_type: int,
                     size: int, who: str, src_mac: str, dst_mac: str,
                     lo: float, hi: float) -> list:
    """Frames leaving the encap node (Athos): layout and Athos's node."""
    errs = []
    got, dups, strays = by_tag(frames)
    if dups or strays:
        errs.append(f"{who}: duplicates {dups}, untagged frames "
                    f"{[s.hex() for s in strays]}")
    missing = sorted(set(alpha_by_tag) - set(got))
    if missing:
        errs.append(f"{who}: packets missing: {missing}")
    hbh = linux_hbh(trace_type, size)
    words = node_words(ATHOS, trace_type)
    for tag, fr in sorted(got.items()):
        a = alpha_by_tag.get(tag)
        if a is None:
            errs.append(f"{who}: unexpected packet {tag}")
            continue
        if fr[:14] != mac(dst_mac) + mac(src_mac) + b"\x86\xdd":
            errs.append(f"{tag}: {who} Ethernet header {fr[:14].hex()}")
        pkt, inner = fr[14:], bytearray(a[14:])
        inner[7] = ATHOS.hop                   # forwarded: 64 -> 63
        node, raw_node = newest_node(pkt, trace_type)
        outer = bytearray(inner[:40])          # copy of the inner header
        outer[4:6] = struct.pack("!H", len(hbh) + len(inner))
        outer[6] = 0
        outer[8:40] = bytes(IPv6(src=TUNSRC, dst=TUNDST))[8:40]
        want = place_node(bytes(outer) + hbh + bytes(inner), raw_node, words)
        if pkt != want:
            errs.append(f"{tag}: {who} output differs from the reference "
                        "layout (node data taken from the packet)\n"
                        + both_dumps(who, pkt, "expected", want))
        errs += [f"{tag}: {e}" for e in
                 node_errors(node, ATHOS, trace_type, lo, hi)]
    return errs


def check_transit_node(before: list, after: list, trace_type: int, who: str,
                       dst_mac: str, lo: float, hi: float) -> list:
    """Frames through the transit node (Porthos): exactly one node added."""
    errs = []
    got, dups, strays = by_tag(after)
    sent = by_tag(before)[0]
    if dups or strays:
        errs.append(f"{who}: duplicates {dups}, untagged frames "
                    f"{[s.hex() for s in strays]}")
    missing = sorted(set(sent) - set(got))
    if missing:
        errs.append(f"{who} did not forward: {missing}")
    words = node_words(PORTHOS, trace_type)
    for tag, fr in sorted(got.items()):
        if tag not in sent:
            errs.append(f"{who}: unexpected packet {tag}")
            continue
        if fr[:14] != mac(dst_mac) + mac(PORTHOS_ETH1_MAC) + b"\x86\xdd":
            errs.append(f"{tag}: {who} Ethernet header {fr[:14].hex()}, "
                        f"expected dst {dst_mac} src {PORTHOS_ETH1_MAC}")
        pkt, prev = fr[14:], sent[tag][14:]
        node, raw_node = newest_node(pkt, trace_type)
        want = bytearray(prev)
        want[7] = PORTHOS.hop                  # outer hop limit 63 -> 62
        want = place_node(bytes(want), raw_node, words)
        if pkt != want:
            errs.append(f"{tag}: {who} changed more than the hop limit, "
                        "RemainingLen and its own node\n"
                        + both_dumps(f"{who} out", pkt, "expected", want))
        errs += [f"{tag}: {e}" for e in
                 node_errors(node, PORTHOS, trace_type, lo, hi)]
    return errs


def check_beta(alpha_by_tag: dict, frames: list, who: str) -> list:
    """What the decap node sends to Beta: Alpha's packet, hop limit 62."""
    errs = []
    got, dups, strays = by_tag(frames)
    if dups or strays:
        errs.append(f"{who}: duplicates {dups}, untagged frames "
                    f"{[s.hex() for s in strays]}")
    missing = sorted(set(alpha_by_tag) - set(got))
    if missing:
        errs.append(f"packets that never reached Beta: {missing}")
    for tag, fr in sorted(got.items()):
        a = alpha_by_tag.get(tag)
        if a is None:
            errs.append(f"{who}: unexpected packet {tag}")
            continue
        want = bytearray(a[14:])
        want[7] = HLIM - 2
        if fr[:14] != mac(BETA_MAC) + mac(ARAMIS_ETH1_MAC) + b"\x86\xdd":
            errs.append(f"{tag}: {who} Ethernet header {fr[:14].hex()}")
        if fr[14:] != bytes(want):
            errs.append(f"{tag}: the packet Beta got is not Alpha's with hop "
                        f"limit {HLIM - 2}\n"
                        + both_dumps("beta", fr[14:], "expected", bytes(want)))
    return errs


def fail_if(errs: list) -> None:
    if errs:
        pytest.fail(f"{len(errs)} problem(s):\n" + "\n".join(errs[:40]),
                    pytrace=False)


# ---------------------------------------------------------------------------
# tests: forward mix

def test_derived_config():
    """The variant configs are config/athos.yaml but for the trace."""
    orig = (CONFIG_DIR / "athos.yaml").read_text().splitlines()
    for variant, (trace_type, size) in VARIANTS.items():
        new = derived_athos_config(trace_type, size).splitlines()
        assert len(new) == len(orig)
        changed = [(a.strip(), b.strip()) for a, b in zip(orig, new) if a != b]
        expect = [c for c in [("type: 0x800000", f"type: 0x{trace_type:06x}"),
                              ("size: 12", f"size: {size}")] if c[0] != c[1]]
        assert [(a.split("#")[0].strip(), b.split("#")[0].strip())
                for a, b in changed] == expect, (variant, changed)
    try:
        import yaml
    except ImportError:  # pragma: no cover
        return
    seed = yaml.safe_load((CONFIG_DIR / "athos.yaml").read_text())
    assert seed["routes"][0]["encap"]["trace"] == {"type": 0x800000, "ns": NS,
                                                   "size": 12}
    full = yaml.safe_load(derived_athos_config(0xFFF002, 244))
    assert full["routes"][0]["encap"]["trace"] == {"type": 0xFFF002, "ns": NS,
                                                   "size": 244}
    full["routes"][0]["encap"]["trace"] = seed["routes"][0]["encap"]["trace"]
    assert full == seed


def test_athos_encap(chain: Chain):
    """ioamfwd Athos: encapsulation and its node exactly as Linux would."""
    assert not chain.athos.out0, (
        f"Athos sent {len(chain.athos.out0)} frame(s) back towards Alpha")
    fail_if(check_encap_node(chain.alpha_by_tag, chain.athos.out1,
                             chain.trace_type, chain.size, "athos",
                             ATHOS_ETH1_MAC, PORTHOS_ETH0_MAC,
                             chain.athos.started, chain.athos.ended))
    assert not nonzero_drops(chain.athos.stats), chain.athos.stats


def test_linux_porthos(chain: Chain):
    """Linux Porthos forwards every packet and writes Porthos's node."""
    fail_if(check_transit_node(chain.athos.out1, chain.linux_out,
                               chain.trace_type, "linux-porthos",
                               ARAMIS_ETH0_MAC, chain.started, time.time()))


def test_beta_receives_alphas_packets(chain: Chain):
    """Every packet makes it to Beta, as Alpha sent it but for the hop limit."""
    assert len(chain.aramis.out1) == len(chain.alpha), (
        f"{len(chain.alpha)} sent by Alpha, {len(chain.athos.out1)} left "
        f"Athos, {len(chain.linux_out)} left Linux Porthos, "
        f"{len(chain.aramis.out1)} reached Beta\n{chain.aramis.describe()}")
    fail_if(check_beta(chain.alpha_by_tag, chain.aramis.out1, "aramis"))


def test_aramis_trace_export(chain: Chain):
    """Aramis exports the whole trace: Athos, Linux Porthos, Aramis."""
    tt = chain.trace_type
    recs = chain.aramis.export
    assert len(recs) == len(chain.alpha), (
        f"{len(recs)} export records for {len(chain.alpha)} packets\n"
        f"{chain.aramis.export_raw}\n{chain.aramis.describe()}")
    header = {"event": "decap", "port": "eth0", "src": TUNSRC, "dst": TUNDST,
              "namespace": NS, "trace_type": f"0x{tt:06x}",
              "nodelen": nodelen(tt), "remaining_len": 0}
    errs = []
    # The first two hops as they were on the wire Aramis received (decoded
    # here, independently of ioamfwd), matched as a multiset.
    wire = Counter(json.dumps(wire_hops(fr[14:], tt), sort_keys=True)
                   for fr in chain.linux_out)
    seen = Counter()
    lo, hi = chain.started, chain.aramis.ended
    for i, rec in enumerate(recs):
        where = f"record {i}"
        got_hdr = {k: rec.get(k) for k in header}
        if got_hdr != header:
            errs.append(f"{where}: header {got_hdr}, want {header}")
        if rec.get("flags", {}).get("overflow") is not False:
            errs.append(f"{where}: flags {rec.get('flags')}")
        if "decode_error" in rec:
            errs.append(f"{where}: decode_error {rec['decode_error']}")
        hops = rec.get("hops", [])
        if len(hops) != 3:
            errs.append(f"{where}: {len(hops)} hops, want 3: {hops}")
            continue
        for node, hop in zip(PATH, hops):
            errs += [f"{where}: {e}" for e in
                     node_errors(hop, node, tt, lo, hi)]
        seen[json.dumps(hops[:2], sort_keys=True)] += 1
        times = [node_time(h) for h in hops]
        if None not in times and not (times[0] <= times[1] + PATH_SLACK_S
                                      and times[1] <= times[2] + PATH_SLACK_S):
            errs.append(f"{where}: timestamps not in path order "
                        f"(athos, porthos, aramis) = {times}")
    if seen != wire:
        errs.append("exported Athos/Porthos hops differ from the data on "
                    f"the wire Aramis received:\nexport: {dict(seen)}\n"
                    f"wire:   {dict(wire)}")
    fail_if(errs)


def test_aramis_run_clean(chain: Chain):
    """Aramis: nothing back out of eth0, no drops, nothing lost, no leak."""
    st = chain.aramis.stats
    assert not chain.aramis.out0, "\n".join(f.hex() for f in chain.aramis.out0)
    assert not nonzero_drops(st), json.dumps(st)
    assert st.get("mbufs_in_use") == 0, json.dumps(st)
    assert chain.athos.stats.get("mbufs_in_use") == 0, json.dumps(chain.athos.stats)
    n = len(chain.alpha)
    assert st.get("export", {}) == {"written": n, "lost": 0}, json.dumps(st)
    ioam = st.get("ioam", {})
    assert (ioam.get("decapsulated"), ioam.get("ioam_filled"),
            ioam.get("ioam_export_dropped")) == (n, n, 0), json.dumps(st)


# ---------------------------------------------------------------------------
# reverse mix: Linux Athos -> ioamfwd Porthos -> Linux Aramis (optional)

def linux_athos_config(trace_type: int, size: int) -> "linux_peer.RouterConfig":
    return linux_peer.RouterConfig(
        node_id=ATHOS.node_id, node_id_wide=ATHOS.node_wide,
        eth0_id=ATHOS.in_id, eth0_id_wide=ATHOS.in_wide,
        eth1_id=ATHOS.out_id, eth1_id_wide=ATHOS.out_wide,
        eth0_enabled=False, eth1_enabled=False,
        namespaces=(linux_peer.IoamNamespace(NS, ATHOS.ns_data, ATHOS.ns_wide,
                                             ATHOS.schema_id),),
        schemas=(linux_peer.IoamSchema(ATHOS.schema_id,
                                       ATHOS.schema.decode()),),
        eth0_addr="db01::2/64", eth1_addr="db04::1/64",
        eth0_mac=ATHOS_ETH0_MAC, eth1_mac=ATHOS_ETH1_MAC,
        sender_mac=ALPHA_MAC, receiver_mac=PORTHOS_ETH0_MAC,
        routes=(("db03::/64", "db04::2",
                 f"mode encap tundst {TUNDST} trace prealloc type "
                 f"0x{trace_type:06x} ns {NS} size {size}"),
                ("db02::/64", "db04::2")),
        eth1_neighbors=(("db04::2", PORTHOS_ETH0_MAC),))


LINUX_ARAMIS = linux_peer.RouterConfig(
    node_id=ARAMIS.node_id, node_id_wide=ARAMIS.node_wide,
    eth0_id=ARAMIS.in_id, eth0_id_wide=ARAMIS.in_wide,
    eth1_id=302, eth1_id_wide=302302,
    eth0_enabled=True, eth1_enabled=False,
    namespaces=(linux_peer.IoamNamespace(NS, ARAMIS.ns_data, ARAMIS.ns_wide),),
    schemas=(),
    eth0_addr="db02::2/64", eth1_addr="db03::1/64",
    eth0_mac=ARAMIS_ETH0_MAC, eth1_mac=ARAMIS_ETH1_MAC,
    sender_mac=PORTHOS_ETH1_MAC, receiver_mac=BETA_MAC,
    # Beta is connected; this extra route only gives linux_peer's sentinel
    # its destination prefix (routes[0]).
    routes=(("db03::/64", BETA),),
    eth1_neighbors=((BETA, BETA_MAC),))


def probe_ip6tnl() -> Optional[str]:
    """None if a fresh netns gets an ip6tnl0 fallback device, else why not."""
    ns = f"t3n-ip6tnl-{os.getpid()}"

    def has_ip6tnl0() -> bool:
        return subprocess.run(["ip", "-n", ns, "link", "show", "ip6tnl0"],
                              capture_output=True, timeout=20).returncode == 0
    try:
        if subprocess.run(["ip", "netns", "add", ns], capture_output=True,
                          timeout=20).returncode != 0:
            return "cannot create a netns"
        if has_ip6tnl0():
            return None
        if shutil.which("modprobe"):
            subprocess.run(["modprobe", "ip6_tunnel"], capture_output=True,
                           timeout=20)
            if has_ip6tnl0():
                return None
        return ("no ip6tnl0 in a new netns: ip6_tunnel not available "
                "(modprobe ip6_tunnel failed or no modprobe), or "
                "net.core.fb_tunnels_only_for_init_net set")
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                       timeout=20)


@pytest.fixture(scope="module")
def reverse_prereq() -> None:
    why = _prerequisites() or linux_peer.probe_ioam6_lwtunnel()
    if why:
        pytest.skip(f"reverse mix needs a Linux encap node: {why}")
    why = probe_ip6tnl()
    if why:
        pytest.skip(f"reverse mix needs a Linux decap node: {why}")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_reverse_mix(variant: str, reverse_prereq, tmp_path):
    """Linux Athos (encap) -> ioamfwd Porthos -> Linux Aramis (decap)."""
    trace_type, size = VARIANTS[variant]
    alpha = alpha_frames(variant)
    alpha_tags = by_tag(alpha)[0]
    started = time.time()
    try:
        with linux_peer.LinuxIoamRouter(
                linux_athos_config(trace_type, size)) as athos:
            athos_out = athos.forward(alpha)
        porthos = run_ioamfwd(tmp_path / "porthos", f"rev-{variant}-porthos",
                              (CONFIG_DIR / "porthos.yaml").read_text(),
                              athos_out)
        with linux_peer.LinuxIoamRouter(LINUX_ARAMIS) as aramis:
            aramis.router_cmd("link", "set", "ip6tnl0", "up")
            beta = aramis.forward(porthos.out1) if porthos.out1 else []
    except linux_peer.LinuxPeerUnavailable as e:
        pytest.skip(f"Linux router unavailable: {e}")
    ended = time.time()
    errs = check_encap_node(alpha_tags, athos_out, trace_type, size,
                            "linux-athos", ATHOS_ETH1_MAC, PORTHOS_ETH0_MAC,
                            started, ended)
    errs += check_transit_node(athos_out, porthos.out1, trace_type,
                               "ioamfwd-porthos", ARAMIS_ETH0_MAC,
                               started, ended)
    errs += check_beta(alpha_tags, beta, "linux-aramis")
    if porthos.out0:
        errs.append(f"ioamfwd Porthos sent {len(porthos.out0)} frame(s) "
                    "back to Athos")
    if nonzero_drops(porthos.stats):
        errs.append(f"ioamfwd Porthos drops: {nonzero_drops(porthos.stats)}")
    fail_if(errs)
