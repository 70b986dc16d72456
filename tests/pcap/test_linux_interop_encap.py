"""Interop: Linux accepts ioamfwd's IOAM insertion (encapsulating node).

ioamfwd plays Athos, the encapsulating node of the Linux IOAM how-to: Alpha's
packets (db01::1 -> db03:..::2, ICMPv6 echo and UDP, hop limit 64, the UDP
ones with traffic class 0xb8 and a flow label) are replayed into its eth0
and it inserts a Pre-allocated Trace with its own node data (hop limit 63 as
the packet leaves, node 1, ingress 101, egress 102, ...), one appliance run
per insertion mode:

  * inline  - HbH inserted right after the IPv6 header;
  * encap   - new outer IPv6 header (copy of the inner one: traffic class,
              flow label, hop limit) to tundst db02::2, source = eth1's first
              address db04::1, then the HbH with next header 41;
  * tunsrc  - encap with an explicit tunnel source (db04::50);
  * auto    - forwarded traffic, so the same as encap (reference §3.3).

Every route (= destination prefix db03:0:0:<i>::/64; the seed's own
db03::/64 is i = 0) carries a different trace: the seed's type 0x800000 size
12, every single bit 0-11 and 22 at sizes 4, 8 and 40 (plus bit 22 at 64,
where both nodes' schemas fit), type 0x800000 at every size 4..244 and the
full 0xfff002 at 244: 103 traces x 2 packets x 4 modes = 824 packets.

What leaves ioamfwd's eth1 is then sent into a real Linux IOAM transit router
(linux_peer.py, Porthos IDs, routes db03::/16 via db02::2; the tunnel
destination db02::2 is its connected eth1 neighbour) and checked:

  test_ioamfwd_matches_model    ioamfwd's output, every byte, against the
                                reference note (§1.2 layout, §2.2/2.3 fill,
                                §2.4 output-path hop limit, §3.3 outer header);
  test_ioamfwd_run_clean        no stray frames, counters, no mbuf leak;
  test_linux_accepts_ioamfwd    (a) Linux forwarded it; (b) Linux wrote its
                                node exactly as predicted (hop limit 62, node
                                2, 201/202, ns data 0xdeadbee1, OSS 666 ...)
                                in front of Athos's untouched entry, RemLen
                                down by exactly its NodeLen (+OSS), or set
                                Overflow when there is no room; (c) everything
                                else byte-identical to what ioamfwd sent,
                                apart from the outer hop limit (63 -> 62);
  test_tshark_decodes           Wireshark's dissector reads the final frames
                                without any malformed/expert warning, with
                                namespace 123 and every field of both nodes
                                (2 then 1).  Known Wireshark 4.0 limitation:
                                it rejects NodeLen 0 ("cannot be 0"), which
                                RFC 9197 allows and Linux produces for a type
                                with bit 22 alone; those frames must show
                                exactly that complaint and nothing else;
  test_linux_encap_node_matches ioamfwd's output equals what Linux itself
                                produces as an encap node (ip -6 route ...
                                encap ioam6 ...) for the same forwarded
                                packets, masking only timestamps and queue
                                depth.  Skips when the kernel has no
                                CONFIG_IPV6_IOAM6_LWTUNNEL; the tunsrc mode
                                also needs iproute2 >= 6.12.

test_linux_accepts_model_output / test_tshark_decodes_model are the harness
sanity checks: the same checks on frames built from the reference model
alone (need Linux and tshark, not ioamfwd).

Words that cannot be equal between two implementations or two runs (bit 2
timestamp seconds, bit 3 microseconds, bit 6 queue depth) are compared after
a plausibility check: seconds within a few seconds of the run (Linux's at or
after Athos's), microseconds < 10^6, queue depth not 0xFFFFFFFF.

Run as root with Debian's python:  /usr/bin/python3 -m pytest
tests/pcap/test_linux_interop_encap.py  ($IOAMFWD_BIN overrides build/ioamfwd).
Skips with the reason when not root, without kernel IOAM, or without the
binary.  About 15 s.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import linux_peer  # noqa: E402

try:
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
except ImportError:  # pragma: no cover
    pytest.skip("Scapy not importable; run with /usr/bin/python3",
                allow_module_level=True)

REPO = Path(__file__).resolve().parents[2]
IOAMFWD_BIN = Path(os.environ.get("IOAMFWD_BIN", REPO / "build" / "ioamfwd"))

ALPHA_MAC = "02:00:00:00:00:01"
ATHOS_ETH0_MAC = "02:00:00:00:01:00"
ATHOS_ETH1_MAC = "02:00:00:00:01:01"
PORTHOS_ETH0_MAC = linux_peer.PORTHOS.eth0_mac          # 02:00:00:00:02:00
ALPHA, ATHOS_ETH1, TUNDST, TUNSRC = "db01::1", "db04::1", "db02::2", "db04::50"
HLIM_IN = 64
NS = 123
TAG = b"ioamfwd-encap#"
TS_TOLERANCE_S = 5
U32_NA = 0xFFFFFFFF
MASKED_BITS = (2, 3, 6)
OPT_OFF = 44            # IOAM option: IPv6 header + HbH nh/len + PadN(2)
TRACE_OFF = 48          # trace header (same offset inline and encap)


# ---------------------------------------------------------------------------
# node profiles (reference §2.3) and trace arithmetic

@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    node_id: int
    node_wide: int
    in_id: int
    in_wide: int
    out_id: int
    out_wide: int
    ns_data: int
    ns_wide: int
    schema_id: int
    schema: bytes


ATHOS = Node("athos", 1, 11111111, 101, 101101, 102, 102102,
             0xDEADBEE0, 0xCAFEC0CAF00DC0DE, 777,
             b"something that will be 4n-aligned")
PORTHOS = Node("porthos", 2, 22222222, 201, 201201, 202, 202202,
               0xDEADBEE1, 0xCAFEC0CAF11DC0DE, 666, b"Hello there -Obi")


def bit(k: int) -> int:
    return 1 << (23 - k)


def nodelen(trace_type: int) -> int:
    return (bin(trace_type & 0xFF1FFC).count("1")
            + 2 * bin(trace_type & 0x00E000).count("1"))


def field_words(k: int) -> int:
    return 2 if 8 <= k <= 10 else 1


def pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def oss_words(trace_type: int, node: Node) -> int:
    return 1 + len(pad4(node.schema)) // 4 if trace_type & bit(22) else 0


def node_entry(node: Node, trace_type: int, hop: int) -> tuple:
    """(entry bytes with the bit 2/3/6 words zero, {bit: offset in entry})."""
    out, masked = b"", {}
    for k in range(22):
        if not trace_type & bit(k):
            continue
        if k in MASKED_BITS:
            masked[k] = len(out)
            out += bytes(4)
        elif k == 0:
            out += struct.pack("!I", (hop << 24) | node.node_id)
        elif k == 1:
            out += struct.pack("!HH", node.in_id, node.out_id)
        elif k == 5:
            out += struct.pack("!I", node.ns_data)
        elif k == 8:
            out += struct.pack("!Q", (hop << 56) | node.node_wide)
        elif k == 9:
            out += struct.pack("!II", node.in_wide, node.out_wide)
        elif k == 10:
            out += struct.pack("!Q", node.ns_wide)
        else:                                   # 4, 7, 11 (12-21 refused)
            out += struct.pack("!I", U32_NA)
    if trace_type & bit(22):
        sc = pad4(node.schema)
        out += struct.pack("!I", ((len(sc) // 4) << 24) | node.schema_id) + sc
    return out, masked


def linux_hbh(next_header: int, trace_type: int, size: int) -> bytes:
    """The HbH Linux's encap node builds (reference §1.2), data all zero."""
    opt = (bytes([0x31, 10 + size, 0, 0])
           + struct.pack("!HBBI", NS, nodelen(trace_type) << 3, size // 4,
                         trace_type << 8) + bytes(size))
    body = bytes([1, 0]) + opt
    if size % 8 == 4:
        body += bytes([1, 2, 0, 0])
    assert (2 + len(body)) % 8 == 0
    return bytes([next_header, (2 + len(body)) // 8 - 1]) + body


@dataclasses.dataclass
class Fill:
    status: str             # "filled" | "overflow" | "was-overflow"
    remlen_before: int
    remlen_after: int
    entry_off: int = -1     # absolute offset of the entry written, if any
    entry_len: int = 0
    masked: dict = dataclasses.field(default_factory=dict)  # bit -> abs off


def linux_fill(pkt: bytearray, node: Node, hop: int) -> Fill:
    """Reference §2.2 on the trace at TRACE_OFF (masked words left zero)."""
    t = TRACE_OFF
    trace_type = struct.unpack_from("!I", pkt, t + 4)[0] >> 8
    remlen = pkt[t + 3] & 0x7F
    if pkt[t + 2] & 0x04:
        return Fill("was-overflow", remlen, remlen)
    need = nodelen(trace_type) + oss_words(trace_type, node)
    if remlen == 0 or remlen < need:
        pkt[t + 2] |= 0x04
        return Fill("overflow", remlen, remlen)
    entry, masked = node_entry(node, trace_type, hop)
    pos = t + 8 + (remlen - need) * 4
    pkt[pos:pos + len(entry)] = entry
    pkt[t + 3] = (pkt[t + 3] & 0x80) | (remlen - need)
    return Fill("filled", remlen, remlen - need, pos, len(entry),
                {k: pos + o for k, o in masked.items()})


def extract_masked(pkt: bytes, fill: Fill) -> tuple:
    """(pkt with fill's masked words zeroed, {bit: value})."""
    buf, vals = bytearray(pkt), {}
    for k, off in fill.masked.items():
        vals[k] = struct.unpack_from("!I", buf, off)[0]
        buf[off:off + 4] = bytes(4)
    return bytes(buf), vals


def plausibility(vals: dict, t0: float, t1: float, who: str) -> list:
    errs = []
    if 2 in vals:
        lo, hi = int(t0) - TS_TOLERANCE_S, int(t1) + TS_TOLERANCE_S
        if not lo <= vals[2] <= hi:
            errs.append(f"{who} bit2 seconds {vals[2]} outside [{lo}, {hi}]")
    if 3 in vals and vals[3] >= 1_000_000:
        errs.append(f"{who} bit3 microseconds {vals[3]:#x} >= 10^6")
    if 6 in vals and vals[6] == U32_NA:
        errs.append(f"{who} bit6 queue depth is 0xFFFFFFFF (unavailable)")
    return errs


# ---------------------------------------------------------------------------
# cases

@dataclasses.dataclass(frozen=True)
class Spec:
    index: int
    name: str
    trace_type: int
    size: int

    @property
    def prefix(self) -> str:
        return "db03::/64" if self.index == 0 else f"db03:0:0:{self.index:x}::/64"

    @property
    def dst(self) -> str:
        return "db03::2" if self.index == 0 else f"db03:0:0:{self.index:x}::2"


def _specs() -> list:
    raw = [("seed", 0x800000, 12)]
    for k in list(range(12)) + [22]:
        for size in (4, 8, 40):
            raw.append((f"bit{k}-s{size}", bit(k), size))
    raw.append(("bit22-s64", bit(22), 64))
    for size in range(4, 245, 4):
        raw.append((f"size{size}", 0x800000, size))
    raw.append(("full-s244", 0xFFF002, 244))
    return [Spec(i, n, t, s) for i, (n, t, s) in enumerate(raw)]


SPECS = _specs()


@dataclasses.dataclass(frozen=True)
class Mode:
    index: int
    name: str
    mode: str                   # "inline" | "encap" | "auto" (= encap when
                                #   forwarding, reference §3.3)
    tunsrc: Optional[str] = None

    @property
    def outer_src(self) -> str:
        return self.tunsrc or ATHOS_ETH1


MODES = (Mode(0, "inline", "inline"), Mode(1, "encap", "encap"),
         Mode(2, "tunsrc", "encap", TUNSRC), Mode(3, "auto", "auto"))
KINDS = ("icmp", "udp")


@dataclasses.dataclass(frozen=True)
class Case:
    mode: Mode
    spec: Spec
    kind: str

    @property
    def id(self) -> str:
        return f"{self.mode.name}-{self.spec.name}-{self.kind}"

    @property
    def tag(self) -> bytes:
        return TAG + b"%d%03d%d" % (self.mode.index, self.spec.index,
                                    KINDS.index(self.kind))

    def frame(self) -> bytes:
        """Alpha's frame as it reaches Athos's eth0."""
        return _alpha_frame(self)

    def ipv6_in(self) -> bytes:
        return self.frame()[14:]


@functools.lru_cache(maxsize=None)
def _alpha_frame(case: Case) -> bytes:
    payload = case.tag + b"." * 18
    if case.kind == "icmp":
        ip = IPv6(src=ALPHA, dst=case.spec.dst, hlim=HLIM_IN)
        l4 = ICMPv6EchoRequest(id=0x0A1A, seq=case.spec.index, data=payload)
    else:       # non-zero traffic class and flow label: the outer copies them
        ip = IPv6(src=ALPHA, dst=case.spec.dst, hlim=HLIM_IN, tc=0xB8,
                  fl=0x12345 ^ case.spec.index)
        l4 = UDP(sport=40000, dport=40001) / Raw(payload)
    return bytes(Ether(dst=ATHOS_ETH0_MAC, src=ALPHA_MAC) / ip / l4)


CASES = [Case(m, s, k) for m in MODES for s in SPECS for k in KINDS]
BY_TAG = {c.tag: c for c in CASES}


def case_of(frame: bytes) -> Optional[Case]:
    pos = frame.find(TAG)
    if pos < 0:
        return None
    return BY_TAG.get(frame[pos:pos + len(TAG) + 5])


# ---------------------------------------------------------------------------
# the expectation model for Athos (reference §1.2, §2, §3.3)

@functools.lru_cache(maxsize=None)
def athos_model(case: Case) -> tuple:
    """(expected IPv6 packet leaving Athos, masked words zero; its Fill)."""
    inner = bytearray(case.ipv6_in())
    inner[7] -= 1       # forwarded: decremented before the encap (§2.4)
    ttype, size = case.spec.trace_type, case.spec.size
    if case.mode.mode == "inline":
        hbh = linux_hbh(inner[6], ttype, size)
        pkt = bytearray(inner[:40] + hbh + inner[40:])
        pkt[6] = 0
        struct.pack_into("!H", pkt, 4, len(pkt) - 40)
    else:
        hbh = linux_hbh(41, ttype, size)
        outer = bytearray(inner[:40])           # version, TC, FL, hop limit
        struct.pack_into("!H", outer, 4, len(hbh) + len(inner))
        outer[6] = 0
        outer[8:24] = _a16(case.mode.outer_src)
        outer[24:40] = _a16(TUNDST)
        pkt = outer + hbh + inner
    fill = linux_fill(pkt, ATHOS, pkt[7])
    return bytes(pkt), fill


def porthos_model(sent: bytes) -> tuple:
    """(expected IPv6 packet leaving the Linux transit router, masked words
    of its own entry zero; its Fill), given what ioamfwd sent."""
    pkt = bytearray(sent)
    pkt[7] -= 1                         # forwarding decrement (outer header)
    fill = linux_fill(pkt, PORTHOS, pkt[7])               # writes hlim - 1
    return bytes(pkt), fill


def _a16(addr: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, addr)


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def two_node_cases() -> list:
    return [c for c in CASES if athos_model(c)[1].status == "filled"
            and porthos_model(athos_model(c)[0])[1].status == "filled"]


# ---------------------------------------------------------------------------
# diagnostics

def hexdiff(a: bytes, b: bytes, label_a: str, label_b: str) -> str:
    n = max(len(a), len(b))
    diffs = {i for i in range(n) if i >= len(a) or i >= len(b) or a[i] != b[i]}

    def dump(data: bytes) -> str:
        rows = []
        for base in range(0, len(data), 16):
            rows.append(f"  {base:04x}: " + "".join(
                f"{data[i]:02x}" + ("*" if i in diffs else " ")
                for i in range(base, min(base + 16, len(data)))))
        return "\n".join(rows)
    first = ", ".join(f"0x{i:x}" for i in sorted(diffs)[:20])
    return (f"{len(diffs)} differing octets (first: {first}); lengths "
            f"{label_a}={len(a)} {label_b}={len(b)}\n{label_a}:\n{dump(a)}\n"
            f"{label_b}:\n{dump(b)}")


# ---------------------------------------------------------------------------
# pcap files

def write_pcap(path: Path, frames: list) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        now = time.time()
        for fr in frames:
            f.write(struct.pack("<IIII", int(now), int(now % 1 * 1e6),
                                len(fr), len(fr)))
            f.write(fr)


def read_pcap(path: Path) -> list:
    if not path.exists():
        return []
    raw = path.read_bytes()
    if len(raw) < 24:
        return []
    endian = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    frames, off = [], 24
    while off + 16 <= len(raw):
        incl = struct.unpack_from(endian + "IIII", raw, off)[2]
        off += 16
        frames.append(raw[off:off + incl])
        off += incl
    return frames


# ---------------------------------------------------------------------------
# ioamfwd as Athos

def encap_yaml(mode: Mode, spec: Spec) -> str:
    parts = [f"mode: {mode.mode}"]
    if mode.mode != "inline":
        parts.append(f'tundst: "{TUNDST}"')
    if mode.tunsrc:
        parts.append(f'tunsrc: "{mode.tunsrc}"')
    if spec.index == 0:
        parts.append("freq: 1/1")         # the seed spells it out
    parts.append(f"trace: {{type: 0x{spec.trace_type:06x}, ns: {NS}, "
                 f"size: {spec.size}}}")
    return "{" + ", ".join(parts) + "}"


def athos_config(mode: Mode) -> str:
    routes = "\n".join(
        f'  - {{prefix: "{s.prefix}", port: eth1, via: "db04::2", '
        f"encap: {encap_yaml(mode, s)}}}" for s in SPECS)
    return (
        "node: {id: 1, id_wide: 11111111}\n"
        "ports:\n"
        f'  - {{name: eth0, device: net_pcap0, mac: "{ATHOS_ETH0_MAC}", '
        'addresses: ["db01::2/64"], ioam: {id: 101, id_wide: 101101}}\n'
        f'  - {{name: eth1, device: net_pcap1, mac: "{ATHOS_ETH1_MAC}", '
        'addresses: ["db04::1/64"], ioam: {id: 102, id_wide: 102102}}\n'
        "namespaces: [{id: 123, data: 0xdeadbee0, wide: 0xcafec0caf00dc0de, "
        "schema: 777}]\n"
        'schemas: [{id: 777, data: "something that will be 4n-aligned"}]\n'
        "routes:\n"
        f"{routes}\n"
        '  - {prefix: "db02::/64", port: eth1, via: "db04::2"}\n'
        f'neighbors: [{{address: "db04::2", mac: "{PORTHOS_ETH0_MAC}", '
        "port: eth1}]\n")


@dataclasses.dataclass
class AthosRun:
    frames: dict            # tag -> Ethernet frame out of eth1
    t0: float
    t1: float
    duplicates: list
    strays: list            # untagged frames on eth1, anything on eth0
    stats: dict


def run_athos(mode: Mode, workdir: Path) -> AthosRun:
    d = workdir / mode.name
    d.mkdir()
    write_pcap(d / "empty.pcap", [])
    write_pcap(d / "in0.pcap", [c.frame() for c in CASES if c.mode == mode])
    (d / "conf.yaml").write_text(athos_config(mode))
    prefix = f"ioamfwd-encap-interop-{os.getpid()}-{mode.name}"
    argv = [str(IOAMFWD_BIN), "-l", "0-1", "--no-huge", "-m", "512",
            "--no-shconf", f"--file-prefix={prefix}", "--no-pci",
            "--log-level=lib.eal:error",
            "--vdev", f"net_pcap0,rx_pcap={d / 'in0.pcap'},tx_pcap={d / 'out0.pcap'}",
            "--vdev", f"net_pcap1,rx_pcap={d / 'empty.pcap'},tx_pcap={d / 'out1.pcap'}",
            "--", "--config", str(d / "conf.yaml"), "--idle-exit", "300",
            "--stats-json", str(d / "stats.json")]
    t0 = time.time()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"ioamfwd ({mode.name}) did not exit within 60 s:\n"
                    f"{e.stdout}\n{e.stderr}")
    finally:
        shutil.rmtree(Path("/var/run/dpdk") / prefix, ignore_errors=True)
    t1 = time.time()
    if proc.returncode != 0:
        pytest.fail(f"ioamfwd ({mode.name}) exited {proc.returncode}\n"
                    f"argv: {' '.join(argv)}\nstdout:\n{proc.stdout}\n"
                    f"stderr:\n{proc.stderr}")
    stats = json.loads((d / "stats.json").read_text())
    res = AthosRun({}, t0, t1, [], [], stats)
    res.strays += [f.hex() for f in read_pcap(d / "out0.pcap")]
    for fr in read_pcap(d / "out1.pcap"):
        c = case_of(fr)
        if c is None or c.mode != mode:
            res.strays.append(fr.hex())
        elif c.tag in res.frames:
            res.duplicates.append(c.id)
        else:
            res.frames[c.tag] = fr
    return res


# ---------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix=f"ioamfwd-encap-interop-{os.getpid()}-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def athos_runs(workdir) -> dict:
    if not (IOAMFWD_BIN.is_file() and os.access(IOAMFWD_BIN, os.X_OK)):
        pytest.skip(f"ioamfwd binary not found at {IOAMFWD_BIN} "
                    "(build it, or set IOAMFWD_BIN)")
    if os.geteuid() != 0:
        pytest.skip("needs root (DPDK EAL runtime directory)")
    return {m.name: run_athos(m, workdir) for m in MODES}


@pytest.fixture(scope="module")
def transit_router():
    why = linux_peer.probe()
    if why:
        pytest.skip(f"Linux IOAM transit router unavailable: {why}")
    # Porthos; db03::/16 covers every case's prefix, the tunnel destination
    # db02::2 is on eth1's connected db02::/64 (a permanent neighbour).
    cfg = dataclasses.replace(linux_peer.PORTHOS,
                              routes=(("db03::/16", "db02::2"),))
    try:
        with linux_peer.LinuxIoamRouter(cfg) as router:
            yield router
    except linux_peer.LinuxPeerUnavailable as e:
        pytest.skip(f"Linux IOAM transit router unavailable: {e}")


@dataclasses.dataclass
class TransitRun:
    sent: dict              # tag -> IPv6 packet sent into Linux
    got: dict               # tag -> IPv6 packet Linux forwarded
    t0: float
    t1: float
    duplicates: list
    strays: list
    final_frames: list      # (case, Ethernet frame) in send order, forwarded


def through_linux(router, sent_frames: dict) -> TransitRun:
    """Send frames (tag -> Ethernet frame) into the transit router's eth0."""
    dst = mac(PORTHOS_ETH0_MAC)     # ioamfwd already uses it; made explicit
    order = sorted(sent_frames, key=lambda tag: (BY_TAG[tag].mode.index,
                                                 BY_TAG[tag].spec.index,
                                                 BY_TAG[tag].kind))
    frames = [dst + sent_frames[t][6:] for t in order]
    t0 = time.time()
    out = router.forward(frames)
    t1 = time.time()
    res = TransitRun({t: sent_frames[t][14:] for t in order}, {}, t0, t1, [], [], [])
    got_frames = {}
    for fr in out:
        c = case_of(fr)
        if c is None or c.tag not in sent_frames:
            res.strays.append(fr.hex())
        elif c.tag in res.got:
            res.duplicates.append(c.id)
        else:
            res.got[c.tag] = fr[14:]
            got_frames[c.tag] = fr
    res.final_frames = [(BY_TAG[t], got_frames[t]) for t in order if t in got_frames]
    return res


@pytest.fixture(scope="module")
def transit_of_ioamfwd(athos_runs, transit_router) -> TransitRun:
    frames = {}
    for run in athos_runs.values():
        frames.update(run.frames)
    return through_linux(transit_router, frames)


@pytest.fixture(scope="module")
def transit_of_model(transit_router) -> TransitRun:
    """The model's Athos output (fake but plausible masked words)."""
    now = int(time.time())
    frames = {}
    for c in CASES:
        pkt, fill = athos_model(c)
        buf = bytearray(pkt)
        for k, off in fill.masked.items():
            struct.pack_into("!I", buf, off, {2: now, 3: 0, 6: 0}[k])
        eth = mac(PORTHOS_ETH0_MAC) + mac(ATHOS_ETH1_MAC) + b"\x86\xdd"
        frames[c.tag] = eth + bytes(buf)
    res = through_linux(transit_router, frames)
    res.t0 = min(res.t0, now)
    return res


# ---------------------------------------------------------------------------
# checks shared by the model run and the ioamfwd run

def transit_errors(case: Case, sent: bytes, got: Optional[bytes],
                   t0: float, t1: float) -> list:
    """(a), (b), (c) of the brief for one packet; [] when all hold."""
    if got is None:
        return ["(a) Linux did not forward the packet"]
    want, fill = porthos_model(sent)
    got_m, vals = extract_masked(got, fill)
    errs = []
    t = TRACE_OFF
    nl_before, nl_after = sent[t + 2] >> 3, got[t + 2] >> 3
    if nl_before != nl_after:
        errs.append(f"(b) NodeLen changed {nl_before} -> {nl_after}")
    rem_got = got[t + 3] & 0x7F
    ttype = struct.unpack_from("!I", sent, t + 4)[0] >> 8
    if fill.status == "filled":
        need = nodelen(ttype) + oss_words(ttype, PORTHOS)
        if rem_got != fill.remlen_before - need:
            errs.append(f"(b) RemLen {fill.remlen_before} -> {rem_got}, expected "
                        f"-{need} (NodeLen {nodelen(ttype)} + OSS "
                        f"{oss_words(ttype, PORTHOS)})")
        if got[t + 2] & 0x04:
            errs.append("(b) Linux set Overflow although its node fits")
        e0, e1 = fill.entry_off, fill.entry_off + fill.entry_len
        if got_m[e0:e1] != want[e0:e1]:
            errs.append("(b) Linux's node data differs from the prediction:\n"
                        + hexdiff(want[e0:e1], got_m[e0:e1], "predicted", "linux"))
        data_end = OPT_OFF + 2 + sent[OPT_OFF + 1]
        if got[e1:data_end] != sent[e1:data_end]:
            errs.append("(b) Athos's entry (everything after Linux's node) changed")
        if any(got[t + 8:e0]):
            errs.append("(b) the free area in front of Linux's node is not zero")
        errs += plausibility(vals, t0, t1, "linux")
        athos_fill = athos_model(case)[1]
        if 2 in vals and athos_fill.status == "filled":
            a_sec = struct.unpack_from("!I", sent, athos_fill.masked[2])[0]
            a_us = (struct.unpack_from("!I", sent, athos_fill.masked[3])[0]
                    if 3 in athos_fill.masked else 0)
            l_us = vals.get(3, 0) if 3 in athos_fill.masked else 0
            if (vals[2], l_us) < (a_sec, a_us):
                errs.append(f"(b) Linux's timestamp {vals[2]}.{l_us:06d} is "
                            f"before Athos's {a_sec}.{a_us:06d}")
    elif fill.status == "overflow":
        if not got[t + 2] & 0x04 or rem_got != fill.remlen_before:
            errs.append("(b) Linux should have set Overflow (no room) and "
                        "left RemLen alone")
    else:
        if rem_got != fill.remlen_before:
            errs.append("(b) Overflow was set by Athos, yet Linux changed RemLen")
    if got_m != want:
        errs.append("(c) forwarded packet differs from what ioamfwd sent (+ the "
                    "predicted Linux node, hop limit - 1):\n"
                    + hexdiff(want, got_m, "expected", "linux"))
    return errs


# ---------------------------------------------------------------------------
# tests

def _ids(cases):
    return [c.id for c in cases]


def test_case_list_sane():
    """The model's layout is §1.2's, and enough cases carry two nodes."""
    assert len(SPECS) == 103 and len(CASES) == 103 * 2 * len(MODES)
    assert len({c.tag for c in CASES}) == len(CASES)
    for c in CASES:
        pkt, fill = athos_model(c)
        size = c.spec.size
        assert pkt[40 + 1] == (16 + (size + 7) // 8 * 8) // 8 - 1, c.id
        assert pkt[42:44] == b"\x01\x00" and pkt[44] == 0x31, c.id
        assert pkt[45] == 10 + size and pkt[46:48] == b"\x00\x00", c.id
        assert pkt[7] == HLIM_IN - 1, c.id
        assert len(pkt) <= 1500, c.id
    # the seed: one Athos node, 63/1, 101/102 is not asked for, but its
    # header must read (O=0, NodeLen 1, RemLen 2)
    seed = next(c for c in CASES if c.spec.index == 0)
    pkt, fill = athos_model(seed)
    assert (pkt[50] >> 3, pkt[50] & 4, pkt[51]) == (1, 0, 2)
    assert pkt[64:68] == bytes([63, 0, 0, 1])
    n2 = two_node_cases()
    names = {c.spec.name for c in n2}
    assert {"seed", "full-s244", "bit22-s64", "size8", "size244"} <= names
    assert len(n2) == 84 * 2 * len(MODES), len(n2)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_linux_accepts_model_output(case: Case, transit_of_model: TransitRun):
    """Harness sanity (no ioamfwd): Linux fills the model's frames as
    predicted, i.e. the model and the checks are right."""
    r = transit_of_model
    errs = transit_errors(case, r.sent[case.tag], r.got.get(case.tag),
                          r.t0, r.t1)
    assert not errs, f"{case.id}: " + "\n".join(errs)
    assert case.id not in r.duplicates


def test_model_run_no_strays(transit_of_model: TransitRun):
    assert not transit_of_model.strays, transit_of_model.strays
    assert not transit_of_model.duplicates, transit_of_model.duplicates


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_ioamfwd_matches_model(case: Case, athos_runs: dict):
    """ioamfwd's encapsulating-node output, byte for byte (masked words
    checked for plausibility)."""
    run = athos_runs[case.mode.name]
    fr = run.frames.get(case.tag)
    assert fr is not None, f"{case.id}: ioamfwd did not forward the packet"
    assert fr[:14] == mac(PORTHOS_ETH0_MAC) + mac(ATHOS_ETH1_MAC) + b"\x86\xdd", \
        f"{case.id}: Ethernet header {fr[:14].hex()}"
    want, fill = athos_model(case)
    got_m, vals = extract_masked(fr[14:], fill)
    assert got_m == want, f"{case.id}:\n" + hexdiff(want, got_m, "model", "ioamfwd")
    errs = plausibility(vals, run.t0, run.t1, "ioamfwd")
    assert not errs, f"{case.id}: " + "; ".join(errs)
    assert case.id not in run.duplicates, f"{case.id} sent twice"


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_ioamfwd_run_clean(mode: Mode, athos_runs: dict):
    """Nothing else left the ports; counters agree; no mbuf leak."""
    run = athos_runs[mode.name]
    assert not run.strays, "\n".join(run.strays)
    assert not run.duplicates, run.duplicates
    assert run.stats.get("mbufs_in_use") == 0, run.stats
    cases = [c for c in CASES if c.mode == mode]
    filled = sum(1 for c in cases if athos_model(c)[1].status == "filled")
    ioam = run.stats.get("ioam", {})
    want = {"ioam_inserted": len(cases), "ioam_filled": filled,
            "ioam_overflow_set": len(cases) - filled, "ioam_sampled_out": 0}
    assert {k: ioam.get(k) for k in want} == want, run.stats
    drops = {k: v for k, v in run.stats.get("drops", {}).items() if v}
    assert not drops, drops
    assert run.stats["ports"]["eth1"]["tx"] == len(cases), run.stats


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_linux_accepts_ioamfwd(case: Case, athos_runs: dict,
                               transit_of_ioamfwd: TransitRun):
    """The proof: Linux's transit node accepts ioamfwd's header and adds its
    node exactly as predicted; nothing else changes but the hop limit."""
    r = transit_of_ioamfwd
    if case.tag not in r.sent:
        pytest.fail(f"{case.id}: ioamfwd did not forward it, nothing to send")
    errs = transit_errors(case, r.sent[case.tag], r.got.get(case.tag),
                          athos_runs[case.mode.name].t0, r.t1)
    assert not errs, f"{case.id}: " + "\n".join(errs)
    assert case.id not in r.duplicates


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_linux_spot_checks(mode: Mode, transit_of_ioamfwd: TransitRun):
    """The seed's trace after Linux, spelled out: Porthos 62/2 then Athos
    63/1, RemLen 2 -> 1, NodeLen 1; and the full trace's OSS words."""
    r = transit_of_ioamfwd
    seed = next(c for c in CASES if c.mode == mode and c.spec.name == "seed")
    got = r.got[seed.tag]
    t = TRACE_OFF
    assert struct.unpack_from("!HBB", got, t) == (123, 1 << 3, 1)
    assert got[t + 8:t + 20] == bytes(4) + bytes([62, 0, 0, 2, 63, 0, 0, 1])
    assert got[7] == 62
    if mode.mode == "inline":
        assert got[6] == 0 and got[40] == 58
    else:
        src = mode.tunsrc or ATHOS_ETH1
        assert got[8:24] == _a16(src) and got[24:40] == _a16(TUNDST)
        assert got[40] == 41
        inner = got[40 + 8 * (got[41] + 1):]
        assert inner[7] == 63 and inner[24:40] == _a16(seed.spec.dst)
    full = next(c for c in CASES if c.mode == mode and c.spec.name == "full-s244")
    got = r.got[full.tag]
    nl, rem = got[t + 2] >> 3, got[t + 3] & 0x7F
    assert (nl, rem) == (15, 61 - 2 * 15 - 10 - 5)
    data = got[t + 8:]
    p_oss = data[rem * 4 + 60:rem * 4 + 80]             # Porthos's OSS
    a_oss = data[rem * 4 + 140:rem * 4 + 180]           # then Athos's
    assert p_oss == struct.pack("!I", (4 << 24) | 666) + b"Hello there -Obi"
    assert a_oss == (struct.pack("!I", (9 << 24) | 777)
                     + b"something that will be 4n-aligned\0\0\0")


def test_linux_transit_no_strays(transit_of_ioamfwd: TransitRun):
    r = transit_of_ioamfwd
    assert not r.strays, r.strays
    assert not r.duplicates, r.duplicates
    two = sum(1 for c in two_node_cases() if c.tag in r.got)
    assert two == 84 * 2 * len(MODES), f"only {two} packets came back with two nodes"


# --- tshark ---------------------------------------------------------------

TF = "ipv6.opt.ioam.trace."
# field -> (trace bit, value of a node); the dissector lists nodes newest
# first.  Hop limits are checked separately (bits 0 and 8 both show one).
TSHARK_NODE_FIELDS = {
    "node.id": (0, lambda n: n.node_id),
    "node.iif": (1, lambda n: n.in_id), "node.eif": (1, lambda n: n.out_id),
    "node.tss": (2, None), "node.tsf": (3, None), "node.trdelay": (4, None),
    "node.nsdata": (5, lambda n: n.ns_data), "node.qdepth": (6, None),
    "node.csum": (7, None), "node.id_wide": (8, lambda n: n.node_wide),
    "node.iif_wide": (9, lambda n: n.in_wide),
    "node.eif_wide": (9, lambda n: n.out_wide),
    "node.nsdata_wide": (10, lambda n: n.ns_wide), "node.bufoccup": (11, None),
    "node.oss.scid": (22, lambda n: n.schema_id),
}
TSHARK_FIELDS = ["ns", "node.hlim"] + list(TSHARK_NODE_FIELDS)
TSHARK_BAD = ("_ws.malformed || _ws.expert.severity >= warning || "
              "ipv6.opt.ioam.trace.invalid_nodelen || "
              "ipv6.opt.ioam.trace.invalid_remlen || "
              "ipv6.opt.ioam.trace.invalid_type")
# Wireshark 4.0's IOAM dissector refuses NodeLen 0 ("cannot be 0"), which
# RFC 9197 allows and Linux produces when the type is bit 22 (OSS) alone:
# those frames get exactly that expert error and no node decoding.
OSS_ONLY = bit(22)


def _tshark(args: list) -> str:
    proc = subprocess.run(["tshark", "-n"] + args, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def tshark_errors(run: TransitRun, mode: Mode, pcap: Path) -> list:
    frames = [(c, fr) for c, fr in run.final_frames if c.mode == mode]
    assert frames
    write_pcap(pcap, [fr for _, fr in frames])
    errs = []
    oss_only = {i + 1 for i, (c, _) in enumerate(frames)
                if c.spec.trace_type == OSS_ONLY}
    flagged = _tshark(["-r", str(pcap), "-Y", TSHARK_BAD, "-T", "fields",
                       "-e", "frame.number"]).split()
    flagged = {int(n) for n in flagged}
    if flagged != oss_only:
        bad = sorted(flagged - oss_only)
        errs.append(f"tshark flags frames {bad} ("
                    + ", ".join(frames[n - 1][0].id for n in bad[:10]) + ")")
        if bad:
            errs.append(_tshark(["-r", str(pcap), "-V", "-Y",
                                 f"frame.number=={bad[0]}"])[-6000:])
    if oss_only:
        nodelen0 = {int(n) for n in _tshark([
            "-r", str(pcap), "-T", "fields", "-e", "frame.number", "-Y",
            "ipv6.opt.ioam.trace.invalid_nodelen && !_ws.malformed && "
            "!ipv6.opt.ioam.trace.invalid_remlen && "
            "!ipv6.opt.ioam.trace.invalid_type"]).split()}
        if nodelen0 != oss_only:
            errs.append("bit-22-only frames show more than the NodeLen-0 "
                        f"complaint: {sorted(oss_only - nodelen0)}")
    verbose = _tshark(["-r", str(pcap), "-V", "-Y",
                       f"!({TSHARK_BAD})"])
    if "Malformed" in verbose or "Expert Info (Warning" in verbose:
        errs.append("tshark -V shows Malformed/Warning in unflagged frames")
    cmd = ["-r", str(pcap), "-T", "fields", "-E", "occurrence=a",
           "-E", "separator=|", "-E", "aggregator=;"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", TF + f]
    rows = _tshark(cmd).splitlines()
    if len(rows) != len(frames):
        return errs + [f"tshark printed {len(rows)} rows for {len(frames)} frames"]
    for num, ((case, _), row) in enumerate(zip(frames, rows), start=1):
        vals = {f: (v.split(";") if v else [])
                for f, v in zip(TSHARK_FIELDS, row.split("|"))}
        if [int(v, 0) for v in vals["ns"]] != [NS]:
            errs.append(f"{case.id}: namespace {vals['ns']}")
        if num in oss_only:
            continue
        sent = run.sent[case.tag]
        nodes = []                                 # newest first
        if porthos_model(sent)[1].status == "filled":
            nodes.append((PORTHOS, sent[7] - 1))
        if athos_model(case)[1].status == "filled":
            nodes.append((ATHOS, sent[7]))
        ttype = case.spec.trace_type
        hlims = []
        for _, hop in nodes:
            hlims += [hop] * (bool(ttype & bit(0)) + bool(ttype & bit(8)))
        if [int(v, 0) for v in vals["node.hlim"]] != hlims:
            errs.append(f"{case.id}: hop limits {vals['node.hlim']}, "
                        f"expected {hlims}")
        for f, (k, value) in TSHARK_NODE_FIELDS.items():
            want_n = len(nodes) if ttype & bit(k) else 0
            got = vals[f]
            if len(got) != want_n:
                errs.append(f"{case.id}: {f} decoded {len(got)} times, "
                            f"expected {want_n} ({[n.name for n, _ in nodes]})")
                continue
            if value is not None and want_n:
                want = [value(n) for n, _ in nodes]
                if [int(v, 0) for v in got] != want:
                    errs.append(f"{case.id}: {f} = {got}, expected {want}")
    return errs


def _need_tshark() -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (Debian package 'tshark')")


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_tshark_decodes(mode: Mode, transit_of_ioamfwd: TransitRun, workdir):
    """Wireshark's IOAM dissector reads the frames Linux forwarded: no
    malformed/expert warning, namespace 123, both nodes (2 then 1)."""
    _need_tshark()
    errs = tshark_errors(transit_of_ioamfwd, mode,
                         workdir / f"final-{mode.name}.pcap")
    assert not errs, "\n".join(errs[:40])


def test_tshark_decodes_model(transit_of_model: TransitRun, workdir):
    """Harness sanity for the tshark checks (model frames through Linux)."""
    _need_tshark()
    errs = []
    for mode in MODES:
        errs += tshark_errors(transit_of_model, mode,
                              workdir / f"model-{mode.name}.pcap")
    assert not errs, "\n".join(errs[:40])


# --- Linux as the encapsulating node ----------------------------------------

LINUX_ATHOS_BASE = linux_peer.RouterConfig(
    node_id=1, node_id_wide=11111111,
    eth0_id=101, eth0_id_wide=101101, eth1_id=102, eth1_id_wide=102102,
    eth0_enabled=False,
    namespaces=(linux_peer.IoamNamespace(NS, ATHOS.ns_data, ATHOS.ns_wide,
                                         ATHOS.schema_id),),
    schemas=(linux_peer.IoamSchema(ATHOS.schema_id, ATHOS.schema.decode()),),
    eth0_addr="db01::2/64", eth1_addr="db04::1/64",
    eth0_mac=ATHOS_ETH0_MAC, eth1_mac=ATHOS_ETH1_MAC,
    sender_mac=ALPHA_MAC, receiver_mac=PORTHOS_ETH0_MAC,
    eth1_neighbors=(("db04::2", PORTHOS_ETH0_MAC),))


def linux_athos_config(mode: Mode) -> linux_peer.RouterConfig:
    routes = []
    for s in SPECS:
        spec = f"mode {mode.mode}"
        if mode.tunsrc:
            spec += f" tunsrc {mode.tunsrc}"
        if mode.mode != "inline":
            spec += f" tundst {TUNDST}"
        spec += (f" trace prealloc type 0x{s.trace_type:06x} ns {NS} "
                 f"size {s.size}")
        routes.append((s.prefix, "db04::2", spec))
    routes.append(("db02::/64", "db04::2"))
    return dataclasses.replace(LINUX_ATHOS_BASE, routes=tuple(routes))


@dataclasses.dataclass
class LinuxEncapRun:
    got: dict               # tag -> Ethernet frame
    t0: float
    t1: float
    skipped: Optional[str] = None


@pytest.fixture(scope="module")
def linux_encap_runs() -> dict:
    why = linux_peer.probe_ioam6_lwtunnel()
    if why:
        pytest.skip(f"Linux encap-node comparison not possible here: {why}")
    runs = {}
    for mode in MODES:
        if mode.tunsrc and not linux_peer.iproute2_has_tunsrc():
            runs[mode.name] = LinuxEncapRun({}, 0, 0, "iproute2 has no "
                                            "'encap ioam6 ... tunsrc' (< 6.12)")
            continue
        try:
            with linux_peer.LinuxIoamRouter(linux_athos_config(mode)) as r:
                t0 = time.time()
                out = r.forward([c.frame() for c in CASES if c.mode == mode])
                t1 = time.time()
        except linux_peer.LinuxPeerUnavailable as e:
            runs[mode.name] = LinuxEncapRun({}, 0, 0, str(e))
            continue
        got = {}
        for fr in out:
            c = case_of(fr)
            if c is not None:
                got[c.tag] = fr
        runs[mode.name] = LinuxEncapRun(got, t0, t1)
    return runs


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_linux_encap_node_matches(case: Case, athos_runs: dict,
                                  linux_encap_runs: dict):
    """ioamfwd's insertion equals Linux's own (ioam6 lwtunnel) for the same
    forwarded packet; only bits 2/3/6 of Athos's entry are masked."""
    lx_run = linux_encap_runs[case.mode.name]
    if lx_run.skipped:
        pytest.skip(lx_run.skipped)
    fw = athos_runs[case.mode.name].frames.get(case.tag)
    lx = lx_run.got.get(case.tag)
    assert lx is not None, f"{case.id}: Linux (encap node) did not forward it"
    assert fw is not None, f"{case.id}: ioamfwd did not forward it"
    _, fill = athos_model(case)
    lx_m, lx_vals = extract_masked(lx[14:], fill)
    fw_m, _ = extract_masked(fw[14:], fill)
    errs = plausibility(lx_vals, lx_run.t0, lx_run.t1, "linux-encap")
    if case.mode.mode != "inline" and not case.mode.tunsrc and lx_m[8:24] != fw_m[8:24]:
        # Source address selection is Linux's choice (§3.3); report, not fail.
        warnings.warn(f"{case.id}: Linux picked outer source "
                      f"{lx_m[8:24].hex()} (ioamfwd {fw_m[8:24].hex()})")
        lx_m = lx_m[:8] + fw_m[8:24] + lx_m[24:]
    assert lx_m == fw_m, f"{case.id}:\n" + hexdiff(lx_m, fw_m, "linux", "ioamfwd")
    assert lx[:14] == fw[:14], f"{case.id}: Ethernet {lx[:14].hex()} vs {fw[:14].hex()}"
    assert not errs, "; ".join(errs)
