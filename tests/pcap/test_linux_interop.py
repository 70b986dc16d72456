"""Interop: ioamfwd's IOAM transit-node output must equal Linux's, byte for byte.

The same IPv6 packets (Pre-allocated Trace in a Hop-by-Hop option, built by
hand with the exact layout Linux's encap node produces) are

  (a) forwarded by a real Linux IOAM transit router in network namespaces,
      configured as the how-to's Porthos node (linux_peer.py), and
  (b) replayed through ioamfwd (DPDK net_pcap vdevs) with the same IDs.

What leaves the egress port must be identical from the IPv6 header on, except
three words of the node data this hop wrote: timestamp seconds (trace bit 2),
timestamp microseconds (bit 3) and queue depth (bit 6).  Those are masked
after checking that each side's value is plausible.  Ethernet headers are not
compared (the two sides have different link layers).

Tests:
  * test_linux_matches_model   - harness sanity, needs only Linux: the kernel
    fills Porthos's data as the reference note (§2, §11.3) predicts.
  * test_ioamfwd_matches_linux - the interop proof, needs build/ioamfwd
    (or $IOAMFWD_BIN).

Fairness of the comparison -- what Linux does that could make it unfair, and
how it is handled:
  * Linux forwards only packets with a routable source: link-local or
    unspecified sources are never forwarded.  All test packets use global
    sources (db01::1 inner, db04::1 outer).
  * The router decrements the hop limit of the header it forwards (the outer
    one in encap form); ioamfwd must do the same, and the whole IPv6 header is
    compared.  Hop limit 64 is used (hop limit 1 is a separate drop case).
  * Neighbour Discovery could add delays, drops or extra frames: the router's
    next hop db02::2 is a static, permanent neighbour, addresses are `nodad`
    and accept_dad=0; ioamfwd gets the same neighbour statically.
  * The receiver must not answer or react: its veth has IPv6 disabled and only
    an AF_PACKET tap reads it.  The sender likewise has IPv6 disabled.
  * Router-originated control frames (MLD reports etc., link-local source or
    multicast destination) are ignored; every test packet carries a unique tag
    in its payload and outputs are matched by tag, not by position.
  * Upper-layer checksums are correct (the HbH is not covered by them), so no
    device or stack rewrites them; the Linux router does not verify them.
  * IOAM gating is per ingress interface: eth0 ioam6_enabled=1, eth1 left 0
    (never an ingress here).  The "disabled" batch flips eth0 to 0 on Linux
    and uses ioam.enabled=false on ioamfwd.
  * Timestamps come from the kernel's clock at HbH processing (or an RX
    stamp); queue depth is the egress qdisc backlog.  Neither can be equal
    across implementations, hence the masking (and the plausibility checks).
  * Packets Linux drops must be dropped by ioamfwd too: a missing output on
    one side only is a failure.
  * Inconsistent NodeLen is NOT tested: whether Linux drops it depends on
    whether the running kernel has the 2026 fix (reference §7).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
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

ROUTER_ETH0_MAC = linux_peer.PORTHOS.eth0_mac
SENDER_MAC = linux_peer.PORTHOS.sender_mac

# Porthos profile (shared/seeds/002_*), used by the expectation model.
NODE_ID, NODE_ID_WIDE = 2, 22222222
IN_ID, IN_ID_WIDE = 201, 201201
OUT_ID, OUT_ID_WIDE = 202, 202202
NS_ID, NS_DATA, NS_WIDE = 123, 0xDEADBEE1, 0xCAFEC0CAF11DC0DE
SCHEMA_ID, SCHEMA_DATA = 666, b"Hello there -Obi"

U32_NA = 0xFFFFFFFF
TAG = b"ioamfwd-interop#"
MASKED_BITS = (2, 3, 6)
TS_TOLERANCE_S = 5


# ---------------------------------------------------------------------------
# trace-type arithmetic (RFC 9197 numbering: bit 0 is the MSB of the 24 bits)

def bit(k: int) -> int:
    return 1 << (23 - k)


def nodelen(trace_type: int) -> int:
    return (bin(trace_type & 0xFF1FFC).count("1")
            + 2 * bin(trace_type & 0x00E000).count("1"))


def field_words(k: int) -> int:
    if 8 <= k <= 10:
        return 2
    if k <= 21:
        return 1
    return 0          # 22 (OSS) handled separately, 23 writes nothing


def masked_word_offsets(trace_type: int) -> dict:
    """Octet offsets, inside one node entry, of the bit 2/3/6 words."""
    off, found = 0, {}
    for k in range(22):
        if trace_type & bit(k):
            if k in MASKED_BITS:
                found[k] = off
            off += 4 * field_words(k)
    return found


def oss_words(trace_type: int) -> int:
    if not trace_type & bit(22):
        return 0
    return 1 + (len(SCHEMA_DATA) + 3) // 4


# ---------------------------------------------------------------------------
# packet construction (HbH bytes written by hand, Linux encap-node layout)

def trace_option(ns: int, trace_type: int, size: int, *,
                 remlen: Optional[int] = None, overflow: bool = False,
                 prefill: bytes = b"", nl: Optional[int] = None,
                 opt_len: Optional[int] = None, ioam_type: int = 0) -> bytes:
    """IOAM option: 31 len 00 ioam_type | trace header | data (size octets).

    ``prefill`` is upstream node data placed at the end of the data area;
    RemLen defaults to the remaining free words.
    """
    assert size % 4 == 0 and len(prefill) % 4 == 0 and len(prefill) <= size
    if remlen is None:
        remlen = (size - len(prefill)) // 4
    if nl is None:
        nl = nodelen(trace_type)
    if opt_len is None:
        opt_len = 10 + size
    hdr = struct.pack("!HBBI", ns, (nl << 3) | (0x04 if overflow else 0),
                      remlen & 0x7F, trace_type << 8)
    data = bytes(size - len(prefill)) + prefill
    return bytes([0x31, opt_len, 0x00, ioam_type]) + hdr + data


def hbh_ioam(next_header: int, option: bytes) -> bytes:
    """HbH = nh, hdrlen, PadN(2), option, PadN(4) when needed (Linux layout)."""
    body = bytes([0x01, 0x00]) + option
    if (2 + len(body)) % 8 == 4:
        body += bytes([0x01, 0x02, 0x00, 0x00])
    total = 2 + len(body)
    assert total % 8 == 0, total
    return bytes([next_header, total // 8 - 1]) + body


def l4_bytes(kind: str, payload: bytes, src: str, dst: str) -> tuple:
    """(next header, upper-layer bytes with a checksum valid for src/dst)."""
    if kind == "icmp":
        pkt = IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=0x10A, seq=7,
                                                         data=payload)
        return 58, bytes(pkt)[40:]
    if kind == "udp":
        pkt = IPv6(src=src, dst=dst) / UDP(sport=50000, dport=4791) / Raw(payload)
        return 17, bytes(pkt)[40:]
    raise ValueError(kind)


INNER_SRC, INNER_DST = "db01::1", "db03::2"
OUTER_SRC = "db04::1"          # the encapsulating node (Athos) side of db04::/64


@dataclasses.dataclass
class Case:
    name: str
    form: str                   # "inline" | "encap"
    option: bytes               # complete IOAM option (or whatever goes there)
    expect: str                 # "fill" | "overflow" | "untouched" | "drop"
    trace_type: int = 0
    remlen_in: int = 0
    batch: str = "enabled"      # "enabled" | "disabled" (eth0 ioam6_enabled)
    l4: str = "icmp"
    hlim: int = 64
    tc: int = 0
    fl: int = 0
    outer_dst: str = INNER_DST
    hbh_override: Optional[bytes] = None   # raw HbH (malformed cases)
    index: int = -1

    @property
    def id(self) -> str:
        return f"{self.form}-{self.name}"

    def __repr__(self) -> str:            # keep pytest failure headers short
        return f"Case({self.id}, expect={self.expect}, batch={self.batch})"

    def ipv6(self) -> bytes:
        payload = TAG + b"%05d" % self.index + b":" + self.id.encode()[:48]
        nh, l4 = l4_bytes(self.l4, payload, INNER_SRC, INNER_DST)
        if self.form == "inline":
            hbh = self.hbh_override or hbh_ioam(nh, self.option)
            outer = IPv6(src=INNER_SRC, dst=INNER_DST, hlim=self.hlim,
                         tc=self.tc, fl=self.fl, nh=0)
            return bytes(outer / Raw(hbh + l4))
        inner = bytes(IPv6(src=INNER_SRC, dst=INNER_DST, hlim=64, nh=nh)
                      / Raw(l4))
        hbh = self.hbh_override or hbh_ioam(41, self.option)
        outer = IPv6(src=OUTER_SRC, dst=self.outer_dst, hlim=self.hlim,
                     tc=self.tc, fl=self.fl, nh=0)
        return bytes(outer / Raw(hbh + inner))

    def frame(self) -> bytes:
        return bytes(Ether(dst=ROUTER_ETH0_MAC, src=SENDER_MAC, type=0x86DD)
                     / Raw(self.ipv6()))


def athos_entry(trace_type: int, hop: int = 64) -> bytes:
    """Upstream node data as Athos (node 1, encap node) would have written it."""
    out = b""
    for k in range(22):
        if not trace_type & bit(k):
            continue
        if k == 0:
            out += struct.pack("!I", (hop << 24) | 1)
        elif k == 1:
            out += struct.pack("!HH", 0xFFFF, 101)
        elif k == 5:
            out += struct.pack("!I", 0xDEADBEE0)
        elif k == 6:
            out += struct.pack("!I", 0)
        elif k == 8:
            out += struct.pack("!Q", (hop << 56) | 11111111)
        elif k == 9:
            out += struct.pack("!II", U32_NA, 102102)
        elif k == 10:
            out += struct.pack("!Q", 0xCAFEC0CAF00DC0DE)
        else:
            out += struct.pack("!I", U32_NA)
    if trace_type & bit(22):
        schema = b"something that will be 4n-aligned"
        padded = schema + bytes(-len(schema) % 4)
        out += struct.pack("!I", ((len(padded) // 4) << 24) | 777) + padded
    return out


def build_cases() -> list:
    cases = []

    def add(name, trace_type, size, expect, **kw):
        prefill = kw.pop("prefill", b"")
        opt_kw = {k: kw.pop(k) for k in ("remlen", "overflow", "nl", "opt_len",
                                          "ioam_type", "ns") if k in kw}
        ns = opt_kw.pop("ns", NS_ID)
        forms = kw.pop("forms", ("inline", "encap"))
        for form in forms:
            opt = trace_option(ns, trace_type, size, prefill=prefill, **opt_kw)
            remlen_in = opt_kw.get("remlen", (size - len(prefill)) // 4)
            cases.append(Case(name=name, form=form, option=opt, expect=expect,
                              trace_type=trace_type, remlen_in=remlen_in, **kw))

    # §11.3 input_sizeN: type 0x800000, every legal size
    for size in range(4, 245, 4):
        add(f"size{size}", 0x800000, size, "fill")
    add("size244-udp", 0x800000, 244, "fill", l4="udp")
    # §11.3 input_bitK: each single bit; size 4, or 8 for the wide fields,
    # and 20 for bit 22 (1 OSS word + Porthos's 16-octet schema)
    for k in list(range(0, 12)):
        add(f"bit{k}", bit(k), 8 if 8 <= k <= 10 else 4, "fill")
    add("bit0-udp", bit(0), 4, "fill", l4="udp")
    add("bit22", bit(22), 20, "fill")
    add("bits12-21", 0x000FFC, 40, "fill")
    # full supported trace
    add("full-size64", 0xFFF002, 64, "overflow")   # 15 + 5 words > 16
    add("full-size80", 0xFFF002, 80, "fill")       # exact fit
    add("full-size244", 0xFFF002, 244, "fill")
    add("full-size244-udp", 0xFFF002, 244, "fill", l4="udp")
    # header fields Linux must carry through unchanged
    add("bit0-tc-flowlabel", bit(0), 4, "fill", tc=0xB8, fl=0xABCDE)
    # namespace unknown on Porthos (namespace 0 is not special)
    add("undef-ns0", 0x800000, 4, "untouched", ns=0)
    add("undef-ns124", 0xFFF002, 244, "untouched", ns=124)
    # no room
    add("no-room", 0xC00000, 4, "overflow")
    add("no-room-oss", bit(22), 4, "overflow")     # schema needs 5 words
    add("no-room-remlen0", 0xC00000, 8, "overflow",
        prefill=athos_entry(0xC00000))
    # Overflow flag already set (upstream overflowed): never touched
    add("oflag-no-room", 0xC00000, 4, "untouched", overflow=True)
    add("oflag-with-room", 0xC00000, 16, "untouched", overflow=True)
    # a pre-filled upstream entry (two hops): Porthos writes in front of it
    add("two-hop", 0xC00000, 16, "fill", prefill=athos_entry(0xC00000))
    add("two-hop-full", 0xFFF002, 244, "fill", prefill=athos_entry(0xFFF002))
    # IOAM option-types other than Pre-allocated Trace are ignored
    add("ioam-type-incremental", 0x800000, 4, "untouched", ioam_type=1)
    # encap towards the seed's tundst (db02::2, on the connected prefix)
    add("tundst-connected", 0xFFF002, 244, "fill", outer_dst="db02::2",
        forms=("encap",))
    # malformed / forwarding drops (Linux drops silently; so must ioamfwd)
    add("remlen-beyond-option", 0x800000, 4, "drop", remlen=2)
    add("hlim1", 0x800000, 4, "drop", hlim=1)

    def misaligned(batch, suffix=""):
        for form in ("inline", "encap"):
            nh = 58 if form == "inline" else 41
            # IOAM option at IPv6 offset 42 (not 4n-aligned): dropped, and
            # the alignment check comes before the ioam6_enabled gate
            opt = trace_option(NS_ID, 0x800000, 4)
            body = opt + bytes([0x01, 0x04, 0, 0, 0, 0])
            cases.append(Case(name="misaligned" + suffix, form=form,
                              option=opt, expect="drop", trace_type=0x800000,
                              remlen_in=1, batch=batch,
                              hbh_override=bytes([nh, (2 + len(body)) // 8 - 1])
                              + body))

    misaligned("enabled")
    for form in ("inline", "encap"):
        nh = 58 if form == "inline" else 41
        # option too short to hold a trace header -> drop
        short = bytes([0x31, 6, 0, 0]) + struct.pack("!HBB", NS_ID, 1 << 3, 1)
        body = bytes([0x01, 0x00]) + short + bytes([0x01, 0x02, 0, 0])
        cases.append(Case(name="truncated-trace-hdr", form=form, option=short,
                          expect="drop", trace_type=0x800000, remlen_in=1,
                          hbh_override=bytes([nh, (2 + len(body)) // 8 - 1])
                          + body))
    # the ingress gate: eth0 IOAM disabled (second batch / second config)
    add("disabled-bit0", 0x800000, 4, "untouched", batch="disabled")
    add("disabled-full244", 0xFFF002, 244, "untouched", batch="disabled")
    add("disabled-no-room", 0xC00000, 4, "untouched", batch="disabled")
    misaligned("disabled", "-disabled")

    for i, c in enumerate(cases):
        c.index = i
    return cases


CASES = build_cases()
BATCHES = ("enabled", "disabled")


# ---------------------------------------------------------------------------
# output parsing, masking and the expectation model

def find_trace(pkt: bytes) -> Optional[int]:
    """Offset (from the IPv6 header) of the trace header, or None."""
    if len(pkt) < 48 or pkt[6] != 0:
        return None
    end = 40 + (pkt[41] + 1) * 8
    off = 42
    while off < end:
        t = pkt[off]
        if t == 0:
            off += 1
            continue
        if off + 1 >= end:
            return None
        ln = pkt[off + 1]
        if t == 0x31 and ln >= 10 and pkt[off + 3] == 0:
            return off + 4
        off += 2 + ln
    return None


def written_entry(case: Case, pkt: bytes) -> Optional[int]:
    """Offset of the node entry this hop wrote in ``pkt``, or None."""
    if case.expect == "drop" or not case.trace_type:
        return None
    t = find_trace(pkt)
    if t is None:
        return None
    remlen_out = pkt[t + 3] & 0x7F
    if remlen_out >= case.remlen_in:
        return None
    return t + 8 + remlen_out * 4


def masked(case: Case, pkt: bytes) -> tuple:
    """(packet with bit 2/3/6 words of the new entry zeroed, {bit: value})."""
    entry = written_entry(case, pkt)
    if entry is None:
        return pkt, {}
    buf = bytearray(pkt)
    values = {}
    for k, off in masked_word_offsets(case.trace_type).items():
        pos = entry + off
        if pos + 4 <= len(buf):
            values[k] = struct.unpack_from("!I", buf, pos)[0]
            buf[pos:pos + 4] = bytes(4)
    return bytes(buf), values


def plausibility_errors(values: dict, sent_at: float) -> list:
    errs = []
    now32 = int(sent_at) & 0xFFFFFFFF
    if 2 in values:
        delta = ((values[2] - now32 + (1 << 31)) % (1 << 32)) - (1 << 31)
        if abs(delta) > TS_TOLERANCE_S:
            errs.append(f"bit2 seconds {values[2]} is {delta:+d} s from now")
    if 3 in values and values[3] >= 1_000_000:
        errs.append(f"bit3 microseconds {values[3]:#x} >= 10^6")
    if 6 in values and values[6] == U32_NA:
        errs.append("bit6 queue depth is 0xFFFFFFFF (unavailable)")
    return errs


def porthos_entry(trace_type: int, hop: int) -> bytes:
    """What Porthos writes (masked words as zero), reference §2.3 / §11.3."""
    out = b""
    for k in range(22):
        if not trace_type & bit(k):
            continue
        if k == 0:
            out += struct.pack("!I", (hop << 24) | NODE_ID)
        elif k == 1:
            out += struct.pack("!HH", IN_ID, OUT_ID)
        elif k in MASKED_BITS:
            out += bytes(4)
        elif k == 5:
            out += struct.pack("!I", NS_DATA)
        elif k == 8:
            out += struct.pack("!Q", (hop << 56) | NODE_ID_WIDE)
        elif k == 9:
            out += struct.pack("!II", IN_ID_WIDE, OUT_ID_WIDE)
        elif k == 10:
            out += struct.pack("!Q", NS_WIDE)
        else:                       # 4, 7, 11, 12-21
            out += struct.pack("!I", U32_NA)
    if trace_type & bit(22):
        padded = SCHEMA_DATA + bytes(-len(SCHEMA_DATA) % 4)
        out += struct.pack("!I", ((len(padded) // 4) << 24) | SCHEMA_ID) + padded
    return out


def model_output(case: Case) -> Optional[bytes]:
    """Expected forwarded IPv6 packet (masked words zero), None = dropped."""
    if case.expect == "drop":
        return None
    pkt = bytearray(case.ipv6())
    pkt[7] -= 1                                     # forwarding: hop limit - 1
    if case.expect == "untouched":
        return bytes(pkt)
    t = find_trace(bytes(pkt))
    assert t is not None
    remlen = pkt[t + 3] & 0x7F
    need = nodelen(case.trace_type) + oss_words(case.trace_type)
    if case.expect == "overflow":
        assert remlen == 0 or remlen < need
        pkt[t + 2] |= 0x04
        return bytes(pkt)
    assert case.expect == "fill" and remlen >= need > 0
    entry = porthos_entry(case.trace_type, pkt[7])   # hop written = hlim - 1
    pos = t + 8 + (remlen - need) * 4
    pkt[pos:pos + len(entry)] = entry
    pkt[t + 3] = (pkt[t + 3] & 0x80) | (remlen - need)
    return bytes(pkt)


# ---------------------------------------------------------------------------
# diagnostics

def describe_offset(case: Case, off: int, pkt: bytes) -> str:
    if off < 40:
        return "IPv6 header"
    t = find_trace(pkt)
    if t is None:
        return "after IPv6 header"
    if off < t:
        return "HbH/option header"
    if off < t + 8:
        return "trace header"
    data_end = t - 4 + 2 + pkt[t - 3]
    if off >= data_end:
        return "after trace data"
    entry = written_entry(case, pkt)
    if entry is not None and off >= entry:
        rel = off - entry
        o = 0
        for k in range(23):
            if not case.trace_type & bit(k):
                continue
            w = 4 * field_words(k) if k < 22 else 4 * oss_words(case.trace_type)
            if rel < o + w:
                return f"new node entry, bit {k} field"
            o += w
    return "trace data"


def hexdump(data: bytes, diffs: set) -> str:
    lines = []
    for base in range(0, len(data), 16):
        cells = []
        for i in range(base, min(base + 16, len(data))):
            cells.append(f"{data[i]:02x}" + ("*" if i in diffs else " "))
        lines.append(f"  {base:04x}: " + "".join(cells))
    return "\n".join(lines)


def diff_report(case: Case, label_a: str, a: Optional[bytes],
                label_b: str, b: Optional[bytes]) -> str:
    if a is None or b is None:
        have = a if a is not None else b
        who = label_a if a is not None else label_b
        miss = label_b if a is not None else label_a
        return (f"{case.id}: {who} forwarded the packet, {miss} did not "
                f"(expect={case.expect})\n{who}:\n{hexdump(have, set())}")
    n = max(len(a), len(b))
    diffs = {i for i in range(n)
             if i >= len(a) or i >= len(b) or a[i] != b[i]}
    first = sorted(diffs)[:24]
    where = ", ".join(f"0x{i:x} ({describe_offset(case, i, a)})"
                      for i in first)
    return (f"{case.id}: {len(diffs)} differing octets (masked words shown "
            f"as 00); lengths {label_a}={len(a)} {label_b}={len(b)}\n"
            f"differing offsets: {where}\n"
            f"{label_a}:\n{hexdump(a, diffs)}\n{label_b}:\n{hexdump(b, diffs)}")


# ---------------------------------------------------------------------------
# pcap files (written/read here so the format is fully under our control)

def write_pcap(path: Path, frames: list) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        now = time.time()
        for fr in frames:
            f.write(struct.pack("<IIII", int(now), int(now % 1 * 1e6),
                                len(fr), len(fr)))
            f.write(fr)


def read_pcap(path: Path) -> list:
    raw = path.read_bytes()
    if len(raw) < 24:
        raise AssertionError(f"{path}: not a pcap file ({len(raw)} octets)")
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise AssertionError(f"{path}: bad pcap magic {magic.hex()}")
    frames, off = [], 24
    while off + 16 <= len(raw):
        _, _, incl, _ = struct.unpack_from(endian + "IIII", raw, off)
        off += 16
        frames.append(raw[off:off + incl])
        off += incl
    return frames


# ---------------------------------------------------------------------------
# running the two implementations

@dataclasses.dataclass
class RunResult:
    outputs: dict           # case index -> IPv6 bytes
    duplicates: list        # case ids seen more than once
    strays: list            # frames not carrying any case tag
    sent_at: dict           # batch -> time.time() when sent

    def __repr__(self) -> str:
        return (f"RunResult({len(self.outputs)} outputs, "
                f"{len(self.duplicates)} duplicates, {len(self.strays)} strays)")


def collect(frames: list, res: RunResult) -> None:
    for fr in frames:
        pkt = fr[14:]
        pos = pkt.find(TAG)
        if pos < 0:
            # Control traffic a router originates (MLD, ND, ...) is not part
            # of the comparison; anything else untagged is a stray.
            if not linux_peer.is_router_originated(fr):
                res.strays.append(pkt)
            continue
        idx = int(pkt[pos + len(TAG):pos + len(TAG) + 5])
        if idx in res.outputs:
            res.duplicates.append(CASES[idx].id)
        res.outputs[idx] = pkt


def batch_cases(batch: str) -> list:
    return [c for c in CASES if c.batch == batch]


@pytest.fixture(scope="module")
def linux_run() -> RunResult:
    why = linux_peer.probe()
    if why:
        pytest.skip(f"Linux IOAM reference router unavailable: {why}")
    res = RunResult({}, [], [], {})
    try:
        with linux_peer.LinuxIoamRouter(linux_peer.PORTHOS) as router:
            for batch in BATCHES:
                router.set_ingress_enabled(batch == "enabled")
                res.sent_at[batch] = time.time()
                collect(router.forward([c.frame() for c in batch_cases(batch)]),
                        res)
    except linux_peer.LinuxPeerUnavailable as e:
        pytest.skip(f"Linux IOAM reference router unavailable: {e}")
    return res


def ioamfwd_config(enabled: bool) -> str:
    return textwrap.dedent(f"""\
        node: {{id: 2, id_wide: 22222222}}
        ports:
          - {{name: eth0, device: net_pcap0, mac: "02:00:00:00:02:00", addresses: ["db04::2/64"], ioam: {{enabled: {'true' if enabled else 'false'}, id: 201, id_wide: 201201}}}}
          - {{name: eth1, device: net_pcap1, mac: "02:00:00:00:02:01", addresses: ["db02::1/64"], ioam: {{id: 202, id_wide: 202202}}}}
        namespaces: [{{id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}}]
        schemas: [{{id: 666, data: "Hello there -Obi"}}]
        routes: [{{prefix: "db03::/64", port: eth1, via: "db02::2"}}]
        neighbors: [{{address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}}]
        """)


def _remove_runtime_dir(prefix: str) -> None:
    """EAL creates /var/run/dpdk/<prefix> even with --no-shconf; ours only."""
    base = Path("/var/run/dpdk") if os.geteuid() == 0 else Path(
        os.environ.get("XDG_RUNTIME_DIR", "/tmp")) / "dpdk"
    shutil.rmtree(base / prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def ioamfwd_run() -> RunResult:
    if not (IOAMFWD_BIN.is_file() and os.access(IOAMFWD_BIN, os.X_OK)):
        pytest.skip(f"ioamfwd binary not found at {IOAMFWD_BIN} "
                    "(build it, or set IOAMFWD_BIN)")
    res = RunResult({}, [], [], {})
    tmp = Path(tempfile.mkdtemp(prefix=f"ioamfwd-interop-{os.getpid()}-"))
    try:
        write_pcap(tmp / "empty.pcap", [])
        for batch in BATCHES:
            d = tmp / batch
            d.mkdir()
            write_pcap(d / "in0.pcap", [c.frame() for c in batch_cases(batch)])
            (d / "conf.yaml").write_text(ioamfwd_config(batch == "enabled"))
            # DPDK 22.11 rejects --in-memory together with --no-huge
            # ("--legacy-mem is not compatible with --in-memory"), so shared
            # files are disabled instead and the prefix is unique per run.
            prefix = f"ioamfwd-interop-{os.getpid()}-{batch}"
            argv = [str(IOAMFWD_BIN), "-l", "0-1", "--no-huge", "-m", "512",
                    "--no-shconf", f"--file-prefix={prefix}",
                    "--no-pci", "--log-level=lib.eal:error",
                    "--vdev", f"net_pcap0,rx_pcap={d / 'in0.pcap'},"
                              f"tx_pcap={d / 'out0.pcap'}",
                    "--vdev", f"net_pcap1,rx_pcap={tmp / 'empty.pcap'},"
                              f"tx_pcap={d / 'out1.pcap'}",
                    "--", "--config", str(d / "conf.yaml"),
                    "--idle-exit", "300", "--stats-json", str(d / "stats.json")]
            res.sent_at[batch] = time.time()
            try:
                proc = subprocess.run(argv, capture_output=True, text=True,
                                      timeout=60)
            except subprocess.TimeoutExpired as e:
                _remove_runtime_dir(prefix)
                pytest.fail(f"ioamfwd ({batch}) did not exit within 60 s:\n"
                            f"{e.stdout}\n{e.stderr}")
            _remove_runtime_dir(prefix)
            if proc.returncode != 0:
                pytest.fail(f"ioamfwd ({batch}) exited {proc.returncode}\n"
                            f"argv: {' '.join(argv)}\nstdout:\n{proc.stdout}\n"
                            f"stderr:\n{proc.stderr}")
            collect(read_pcap(d / "out1.pcap"), res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------
# tests

def _ids(cases):
    return [c.id for c in cases]


def test_case_list_sane():
    """The hand-built packets have the layout the reference note describes."""
    for c in CASES:
        pkt = c.ipv6()
        assert len(pkt) <= 1500 and pkt[6] == 0, c.id
        if c.hbh_override is None:
            size = len(c.option) - 12
            assert pkt[41] == (16 + (size + 7) // 8 * 8) // 8 - 1, c.id
            assert pkt[42:44] == b"\x01\x00" and pkt[44] == 0x31, c.id
            assert pkt[45] == 10 + size, c.id
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_linux_matches_model(case: Case, linux_run: RunResult):
    """Harness sanity: the kernel fills Porthos's data as §2/§11.3 predict."""
    got = linux_run.outputs.get(case.index)
    want = model_output(case)
    if want is None:
        assert got is None, diff_report(case, "linux", got, "model", None)
        return
    assert got is not None, f"{case.id}: Linux did not forward the packet"
    got_m, values = masked(case, got)
    assert got_m == want, diff_report(case, "linux", got_m, "model", want)
    errs = plausibility_errors(values, linux_run.sent_at[case.batch])
    assert not errs, f"{case.id} (linux): " + "; ".join(errs)


def test_linux_porthos_fields(linux_run: RunResult):
    """Spot checks straight from §11.3 (bit0 = 63/2, bit1 = 201/202, ...)."""
    def entry_words(name, form="inline"):
        case = next(c for c in CASES if c.name == name and c.form == form)
        pkt = linux_run.outputs[case.index]
        t = find_trace(pkt)
        assert t is not None
        return pkt, t, written_entry(case, pkt)

    pkt, t, e = entry_words("bit0")
    assert (pkt[t + 2] >> 3, pkt[t + 3] & 0x7F) == (1, 0)
    assert pkt[e] == 63 and int.from_bytes(pkt[e + 1:e + 4], "big") == 2
    pkt, t, e = entry_words("bit1")
    assert struct.unpack_from("!HH", pkt, e) == (201, 202)
    pkt, t, e = entry_words("bit9", "encap")
    assert struct.unpack_from("!II", pkt, e) == (201201, 202202)
    pkt, t, e = entry_words("bit8")
    assert pkt[e] == 63 and int.from_bytes(pkt[e + 1:e + 8], "big") == 22222222
    pkt, t, e = entry_words("bit22")
    assert struct.unpack_from("!I", pkt, e)[0] == (4 << 24) | 666
    assert pkt[e + 4:e + 20] == SCHEMA_DATA
    pkt, t, e = entry_words("no-room")
    assert e is None and pkt[t + 2] & 0x04
    assert not linux_run.duplicates, linux_run.duplicates
    assert not linux_run.strays, [p.hex() for p in linux_run.strays]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_ioamfwd_matches_linux(case: Case, linux_run: RunResult,
                               ioamfwd_run: RunResult):
    """The interop proof: identical IPv6 output apart from bits 2, 3, 6."""
    lx = linux_run.outputs.get(case.index)
    fw = ioamfwd_run.outputs.get(case.index)
    lx_m, lx_vals = masked(case, lx) if lx is not None else (None, {})
    fw_m, fw_vals = masked(case, fw) if fw is not None else (None, {})
    assert lx_m == fw_m, diff_report(case, "linux", lx_m, "ioamfwd", fw_m)
    errs = plausibility_errors(fw_vals, ioamfwd_run.sent_at[case.batch])
    errs += plausibility_errors(lx_vals, linux_run.sent_at[case.batch])
    assert not errs, f"{case.id}: " + "; ".join(errs)
    assert case.id not in ioamfwd_run.duplicates, f"{case.id} sent twice"


def test_ioamfwd_no_stray_frames(ioamfwd_run: RunResult):
    """Nothing but the forwarded test packets leaves eth1."""
    assert not ioamfwd_run.strays, "\n".join(p.hex() for p in ioamfwd_run.strays)
