"""IPv6 IOAM (RFC 9197 / RFC 9486) helpers for the pcap tests, plus an
independent pure-Python model of what a Linux IOAM transit node does.

Scapy 2.5 has no IOAM layer, so everything IOAM-shaped here is built and
parsed as raw bytes; Scapy is used for the plain layers (Ethernet, IPv6,
ICMPv6 checksums) and for pcap I/O.

Conventions used throughout:
  * "type24" is the 24-bit IOAM trace type; bit 0 is its most significant
    bit. On the wire it is the upper 24 bits of a 32-bit word whose low octet
    is reserved (0).
  * Offsets returned by the parsers are counted from the start of the IPv6
    header (the unit Linux uses for the 4n alignment rule).
  * The reference model (``linux_transit`` / ``expected_frame``) follows
    shared/reference/linux-ioam-behaviour.md sections 1, 2 and 4 and was
    written from that text only, not from the appliance's C++ code.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

# --------------------------------------------------------------------------
# Constants (reference section 1.1)
# --------------------------------------------------------------------------

ETH_P_IPV6 = 0x86DD
NH_HOPOPTS = 0
NH_IPV6 = 41
NH_ICMPV6 = 58
NH_NONE = 59
NH_DSTOPTS = 60

OPT_PAD1 = 0x00
OPT_PADN = 0x01
OPT_IOAM = 0x31  # 49, RFC 9486

IOAM_PREALLOC = 0
IOAM_INCREMENTAL = 1
IOAM_POT = 2
IOAM_E2E = 3
IOAM_DEX = 4

TRACE_DATA_SIZE_MAX = 244
TRACE_HDR_LEN = 8

# Short (1 word) and wide (2 words) fields, as masks on the 32-bit type word.
SHORT_MASK = 0xFF1FFC00
WIDE_MASK = 0x00E00000

U16_NA = 0xFFFF
U32_NA = 0xFFFFFFFF
U64_NA = 0xFFFFFFFFFFFFFFFF
NODE_ID_DEFAULT = 0xFFFFFF
NODE_ID_WIDE_DEFAULT = 0x00FFFFFFFFFFFFFF

# The 4 trace flag bits (RFC 9197 O, RFC 9322 L and A, one reserved), packed
# as a 4-bit value with O as its most significant bit.
FLAG_OVERFLOW = 0x8
FLAG_LOOPBACK = 0x4
FLAG_ACTIVE = 0x2
FLAG_RESERVED = 0x1

# Counter names of the appliance (src/dataplane/counters.hpp) used by the model.
EV_FILLED = "ioam_filled"
EV_OVERFLOW_SET = "ioam_overflow_set"
EV_SKIP_OVERFLOW = "ioam_skip_overflow"
EV_SKIP_DISABLED = "ioam_skip_disabled"
EV_SKIP_UNKNOWN_NS = "ioam_skip_unknown_ns"
EV_SKIP_OPTION_TYPE = "ioam_skip_option_type"


# --------------------------------------------------------------------------
# Trace type arithmetic
# --------------------------------------------------------------------------

def bit(n: int) -> int:
    """24-bit trace type with only bit ``n`` (0 = MSB) set."""
    if not 0 <= n <= 23:
        raise ValueError(f"trace bit {n} out of range")
    return 1 << (23 - n)


def bits_of(type24: int) -> List[int]:
    """Bit numbers set in a 24-bit trace type, ascending (= wire order)."""
    return [n for n in range(24) if type24 & bit(n)]


def type_word(type24: int, low: int = 0) -> int:
    return ((type24 & 0xFFFFFF) << 8) | (low & 0xFF)


def nodelen_for(type24: int) -> int:
    """NodeLen (4-octet words, OSS excluded) implied by a trace type."""
    word = type_word(type24)
    return bin(word & SHORT_MASK).count("1") + 2 * bin(word & WIDE_MASK).count("1")


def padded(data: bytes) -> bytes:
    """Zero-pad to a multiple of 4 octets."""
    return data + b"\x00" * (-len(data) % 4)


def oss_words(type24: int, schema: Optional[bytes]) -> int:
    """Words written for bit 22 (OSS header + schema), 0 if bit 22 is clear."""
    if not type24 & bit(22):
        return 0
    if schema is None:
        return 1
    return 1 + len(padded(schema)) // 4


# --------------------------------------------------------------------------
# TLV / header builders
# --------------------------------------------------------------------------

def pad1() -> bytes:
    return b"\x00"


def padn(total: int, fill: int = 0) -> bytes:
    """A PadN option occupying ``total`` octets (>= 2) in all."""
    if total < 2:
        raise ValueError("PadN needs at least 2 octets")
    return bytes([OPT_PADN, total - 2]) + bytes([fill]) * (total - 2)


def padding(n: int) -> bytes:
    """Shortest padding of exactly ``n`` octets: nothing, Pad1, or one PadN."""
    if n == 0:
        return b""
    if n == 1:
        return pad1()
    return padn(n)


def tlv(otype: int, data: bytes = b"", length: Optional[int] = None) -> bytes:
    """A generic option; ``length`` overrides the length octet only."""
    return bytes([otype, len(data) if length is None else length]) + data


def trace_header(ns: int, nodelen: int, flags: int, remlen: int, type24: int,
                 type_low: int = 0) -> bytes:
    """The 8-octet Pre-allocated Trace header (reference section 1.1)."""
    b2 = ((nodelen & 0x1F) << 3) | ((flags >> 1) & 0x7)
    b3 = ((flags & 0x1) << 7) | (remlen & 0x7F)
    return struct.pack("!HBBI", ns & 0xFFFF, b2, b3, type_word(type24, type_low))


def ioam_trace_option(ns: int = 123, type24: int = 0x800000, size: int = 4, *,
                      nodelen: Optional[int] = None, remlen: Optional[int] = None,
                      flags: int = 0, overflow: bool = False,
                      data: Optional[bytes] = None, opt_len: Optional[int] = None,
                      reserved: int = 0, opt_type: int = IOAM_PREALLOC,
                      type_low: int = 0) -> bytes:
    """IOAM option (type 0x31) carrying a Pre-allocated Trace.

    Defaults give exactly what a Linux encap node builds: NodeLen computed
    from the type, RemLen = size/4, ``size`` zero octets of data. Every field
    can be overridden; ``data`` replaces the whole data area (free area plus
    any already-written node data) and ``opt_len`` only the length octet.
    """
    if nodelen is None:
        nodelen = nodelen_for(type24)
    if remlen is None:
        remlen = size // 4
    if overflow:
        flags |= FLAG_OVERFLOW
    if data is None:
        data = bytes(size)
    body = bytes([reserved, opt_type]) + trace_header(ns, nodelen, flags, remlen,
                                                      type24, type_low) + data
    return tlv(OPT_IOAM, body, opt_len)


def ioam_other_option(opt_type: int, body: bytes = b"", reserved: int = 0,
                      opt_len: Optional[int] = None) -> bytes:
    """IOAM option with any IOAM option-type and an opaque body."""
    return tlv(OPT_IOAM, bytes([reserved, opt_type]) + body, opt_len)


def ext_header(nh: int, options: bytes, *, hdrlen: Optional[int] = None,
               autopad: bool = True) -> bytes:
    """A Hop-by-Hop or Destination Options header around raw TLVs.

    With ``autopad`` the TLVs are padded (Pad1 or one PadN) to a multiple of 8
    octets; ``hdrlen`` overrides the length octet only.
    """
    body = bytes(options)
    if autopad:
        body += padding(-(2 + len(body)) % 8)
    if hdrlen is None:
        if (2 + len(body)) % 8:
            raise ValueError("extension header not a multiple of 8 octets; "
                             "pass hdrlen explicitly")
        hdrlen = (2 + len(body)) // 8 - 1
    return bytes([nh, hdrlen]) + body


def linux_hbh(nh: int = NH_ICMPV6, ns: int = 123, type24: int = 0x800000,
              size: int = 4, **trace_kw) -> bytes:
    """The HbH a Linux encap node inserts (reference section 1.2):
    PadN(2), the IOAM option at HbH offset 4, PadN(4) when size % 8 == 4."""
    return ext_header(nh, padn(2) + ioam_trace_option(ns, type24, size, **trace_kw))


def linux_hbh_len(size: int) -> int:
    """Total HbH size for a trace of ``size`` octets: 16 + ALIGN(size, 8)."""
    return 16 + (size + 7) // 8 * 8


# --------------------------------------------------------------------------
# Packet builders
# --------------------------------------------------------------------------

def _a16(addr: str) -> bytes:
    return ipaddress.IPv6Address(addr).packed


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def icmp6_echo(src: str, dst: str, ident: int = 0x1234, seq: int = 1,
               data: bytes = b"ioamfwd-pcap-test") -> bytes:
    """ICMPv6 echo request bytes with a correct checksum (via Scapy)."""
    from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
    return bytes(IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=ident, seq=seq, data=data))[40:]


def ipv6(src: str, dst: str, payload: bytes, *, nh: int, hlim: int = 64,
         fl: int = 0, tc: int = 0, plen: Optional[int] = None,
         version: int = 6) -> bytes:
    """An IPv6 header + payload; ``plen`` overrides the payload length field."""
    if plen is None:
        plen = len(payload)
    first = (version << 28) | ((tc & 0xFF) << 20) | (fl & 0xFFFFF)
    return struct.pack("!IHBB", first, plen, nh, hlim) + _a16(src) + _a16(dst) + payload


def ether(dst: str, src: str, payload: bytes, ethertype: int = ETH_P_IPV6) -> bytes:
    return mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload


def icmp_packet(src: str, dst: str, *, ext: bytes = b"", ext_nh: int = NH_HOPOPTS,
                hlim: int = 64, fl: int = 0, tc: int = 0, ident: int = 0x1234,
                seq: int = 1, data: bytes = b"ioamfwd-pcap-test") -> bytes:
    """IPv6 packet: [ext headers] + ICMPv6 echo request.

    ``ext`` is the raw extension-header chain (whose last next-header octet
    must already say 58); ``ext_nh`` is the type of its first header.
    """
    body = ext + icmp6_echo(src, dst, ident, seq, data)
    return ipv6(src, dst, body, nh=ext_nh if ext else NH_ICMPV6, hlim=hlim, fl=fl, tc=tc)


def encap_packet(outer_src: str, outer_dst: str, inner: bytes, *, hbh: bytes = b"",
                 hlim: Optional[int] = None, fl: Optional[int] = None) -> bytes:
    """ip6ip6 packet as a Linux encap node builds it: outer header copied from
    the inner one (traffic class, flow label, hop limit), HbH with nh 41."""
    first, = struct.unpack_from("!I", inner, 0)
    tc = (first >> 20) & 0xFF
    if fl is None:
        fl = first & 0xFFFFF
    if hlim is None:
        hlim = inner[7]
    return ipv6(outer_src, outer_dst, hbh + inner, nh=NH_HOPOPTS if hbh else NH_IPV6,
                hlim=hlim, fl=fl, tc=tc)


def set_hop_limit(pkt: bytes, hlim: int) -> bytes:
    return pkt[:7] + bytes([hlim & 0xFF]) + pkt[8:]


# --------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------

@dataclass
class Tlv:
    offset: int      # from the start of the IPv6 header
    otype: int
    raw: bytes       # whole TLV (for Pad1 a single octet)

    @property
    def data(self) -> bytes:
        return self.raw[2:] if self.otype != OPT_PAD1 else b""


@dataclass
class IoamTrace:
    ns: int
    nodelen: int
    flags: int
    remlen: int
    type24: int
    type_low: int
    data: bytes      # everything after the 8-octet trace header

    @property
    def overflow(self) -> bool:
        return bool(self.flags & FLAG_OVERFLOW)

    def header_tuple(self) -> Tuple[int, int, int]:
        """(Overflow, NodeLen, RemLen) as the selftest tables write it."""
        return (int(self.overflow), self.nodelen, self.remlen)


@dataclass
class IoamOption:
    offset: int      # offset of the option type octet from the IPv6 header
    opt_len: int
    reserved: Optional[int]
    opt_type: Optional[int]
    raw: bytes
    trace: Optional[IoamTrace] = None


def parse_tlvs(pkt: bytes, start: int, end: int) -> List[Tlv]:
    """TLVs of an options header body [start, end); lenient (stops at a TLV
    that would run past ``end``)."""
    out = []
    off = start
    while off < end:
        t = pkt[off]
        if t == OPT_PAD1:
            out.append(Tlv(off, t, pkt[off:off + 1]))
            off += 1
            continue
        if off + 2 > end or off + 2 + pkt[off + 1] > end:
            break
        n = 2 + pkt[off + 1]
        out.append(Tlv(off, t, pkt[off:off + n]))
        off += n
    return out


def strip_ether(frame: bytes) -> bytes:
    """IPv6 packet of an Ethernet frame (no VLAN support needed here)."""
    return frame[14:]


def hbh_tlvs(pkt: bytes) -> List[Tlv]:
    """TLVs of the HbH directly after the IPv6 header ([] when none)."""
    if len(pkt) < 42 or pkt[6] != NH_HOPOPTS:
        return []
    end = min(len(pkt), 40 + (pkt[41] + 1) * 8)
    return parse_tlvs(pkt, 42, end)


def parse_ioam(opt: Tlv) -> IoamOption:
    d = opt.data
    io = IoamOption(opt.offset, opt.raw[1], d[0] if len(d) > 0 else None,
                    d[1] if len(d) > 1 else None, opt.raw)
    if io.opt_type == IOAM_PREALLOC and len(d) >= 2 + TRACE_HDR_LEN:
        ns, b2, b3, word = struct.unpack_from("!HBBI", d, 2)
        io.trace = IoamTrace(ns=ns, nodelen=b2 >> 3,
                             flags=((b2 & 0x7) << 1) | (b3 >> 7), remlen=b3 & 0x7F,
                             type24=word >> 8, type_low=word & 0xFF, data=d[10:])
    return io


def ioam_options(pkt: bytes) -> List[IoamOption]:
    """Every IOAM option of an IPv6 packet's Hop-by-Hop header."""
    return [parse_ioam(t) for t in hbh_tlvs(pkt) if t.otype == OPT_IOAM]


def ioam_trace(pkt: bytes) -> IoamTrace:
    """The single Pre-allocated Trace of an IPv6 packet (assert helper)."""
    traces = [o.trace for o in ioam_options(pkt) if o.trace is not None]
    if len(traces) != 1:
        raise AssertionError(f"expected exactly one IOAM trace, found {len(traces)}")
    return traces[0]


def _u(data: bytes, off: int, n: int) -> int:
    return int.from_bytes(data[off:off + n], "big")


def decode_node(data: bytes, off: int, type24: int) -> Tuple[dict, int]:
    """Decode one node's fields (and OSS) starting at ``off``; returns the
    dict and the offset after it."""
    node: dict = {}
    for n in bits_of(type24):
        if n == 0:
            node["hop_limit"] = data[off]
            node["node_id"] = _u(data, off + 1, 3)
            off += 4
        elif n == 1:
            node["ingress_id"] = _u(data, off, 2)
            node["egress_id"] = _u(data, off + 2, 2)
            off += 4
        elif n in (2, 3, 4, 5, 6, 7, 11):
            name = {2: "ts_sec", 3: "ts_frac", 4: "transit_delay", 5: "ns_data",
                    6: "queue_depth", 7: "checksum_complement",
                    11: "buffer_occupancy"}[n]
            node[name] = _u(data, off, 4)
            off += 4
        elif n == 8:
            node["hop_limit_wide"] = data[off]
            node["node_id_wide"] = _u(data, off + 1, 7)
            off += 8
        elif n == 9:
            node["ingress_id_wide"] = _u(data, off, 4)
            node["egress_id_wide"] = _u(data, off + 4, 4)
            off += 8
        elif n == 10:
            node["ns_data_wide"] = _u(data, off, 8)
            off += 8
        elif 12 <= n <= 21:
            node.setdefault("undefined", {})[n] = _u(data, off, 4)
            off += 4
        elif n == 22:
            length = data[off]
            node["oss"] = {"length": length, "schema_id": _u(data, off + 1, 3),
                           "data": bytes(data[off + 4:off + 4 + 4 * length])}
            off += 4 + 4 * length
        # bit 23: nothing on the wire
    return node, off


def decode_nodes(trace: IoamTrace) -> List[dict]:
    """All node data of a trace, newest node first (reads from RemLen*4)."""
    nodes = []
    off = trace.remlen * 4
    while off < len(trace.data):
        node, nxt = decode_node(trace.data, off, trace.type24)
        if nxt > len(trace.data) or nxt == off:
            raise ValueError("node data runs past the trace")
        nodes.append(node)
        off = nxt
    return nodes


# --------------------------------------------------------------------------
# Reference model of a Linux transit / destination node
# --------------------------------------------------------------------------

@dataclass
class Namespace:
    data: int = U32_NA
    wide: int = U64_NA
    schema_id: Optional[int] = None
    schema: Optional[bytes] = None   # raw (unpadded) schema bytes


@dataclass
class NodeProfile:
    """What the model needs to know about the node and this packet's path.

    ``egress_*`` describe the port the packet is routed to; ``local`` means
    the packet is delivered to the node itself (Linux: loopback egress);
    ``no_route``: the route lookup fails (Linux: the null route, whose device
    is the loopback too).
    ``is_input=False`` gives the encap node's output-path semantics (used to
    synthesise upstream data, e.g. Athos's).
    """
    node_id: int = NODE_ID_DEFAULT
    node_id_wide: int = NODE_ID_WIDE_DEFAULT
    namespaces: Dict[int, Namespace] = field(default_factory=dict)
    enabled: bool = False
    ingress_id: int = U16_NA
    ingress_id_wide: int = U32_NA
    egress_id: int = U16_NA
    egress_id_wide: int = U32_NA
    local: bool = False
    no_route: bool = False
    is_input: bool = True
    has_ingress: bool = True
    max_hbh_opts: int = 8


# Kinds of words whose value the model cannot predict.
VAR_TS_SEC = "ts_sec"
VAR_TS_FRAC = "ts_frac"
VAR_QDEPTH = "queue_depth"

# Placeholders the model writes into unpredictable words (recognisable in dumps).
PLACEHOLDER = {VAR_TS_SEC: 0x5EC05EC0, VAR_TS_FRAC: 0x000F4240 - 1, VAR_QDEPTH: 0x0DE90DE9}


@dataclass
class ModelResult:
    verdict: str                      # "forward", "local" or "drop"
    drop: Optional[str] = None        # drop counter name (local: "local_delivery")
    events: List[str] = field(default_factory=list)   # ioam counter names
    packet: bytes = b""               # IPv6 packet as it leaves (or as last seen)
    variables: List[Tuple[int, str]] = field(default_factory=list)  # (offset, kind)


class _Drop(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def fill_node_data(hlim: int, prof: NodeProfile, ns: Namespace, type24: int,
                   variables: List[Tuple[int, str]], var_base: int) -> bytes:
    """Node data (including OSS) for one node, per reference section 2.3.

    ``hlim`` is the value to write in the hop-limit octets. Offsets of
    unpredictable words are appended to ``variables`` relative to
    ``var_base``.
    """
    out = bytearray()

    def word(v: int, kind: Optional[str] = None) -> None:
        if kind is not None:
            variables.append((var_base + len(out), kind))
        out.extend(struct.pack("!I", v & U32_NA))

    local_egress = prof.local or prof.no_route
    for n in bits_of(type24):
        if n == 0:
            word(((hlim & 0xFF) << 24) | (prof.node_id & 0xFFFFFF))
        elif n == 1:
            ing = prof.ingress_id & 0xFFFF if prof.has_ingress else U16_NA
            egr = U16_NA if local_egress else prof.egress_id & 0xFFFF
            word((ing << 16) | egr)
        elif n == 2:
            if prof.has_ingress:
                word(PLACEHOLDER[VAR_TS_SEC], VAR_TS_SEC)
            else:
                word(U32_NA)
        elif n == 3:
            if prof.has_ingress:
                word(PLACEHOLDER[VAR_TS_FRAC], VAR_TS_FRAC)
            else:
                word(U32_NA)
        elif n in (4, 7, 11) or 12 <= n <= 21:
            word(U32_NA)
        elif n == 5:
            word(ns.data)
        elif n == 6:
            if local_egress:
                word(U32_NA)
            else:
                word(PLACEHOLDER[VAR_QDEPTH], VAR_QDEPTH)
        elif n == 8:
            out.extend(struct.pack("!Q", ((hlim & 0xFF) << 56)
                                   | (prof.node_id_wide & NODE_ID_WIDE_DEFAULT)))
        elif n == 9:
            ing = prof.ingress_id_wide if prof.has_ingress else U32_NA
            egr = U32_NA if local_egress else prof.egress_id_wide
            out.extend(struct.pack("!II", ing & U32_NA, egr & U32_NA))
        elif n == 10:
            out.extend(struct.pack("!Q", ns.wide & U64_NA))
        elif n == 22:
            if ns.schema is None:
                word(0x00FFFFFF)
            else:
                sch = padded(ns.schema)
                word(((len(sch) // 4) << 24) | (ns.schema_id or 0))
                out.extend(sch)
        # bit 23: nothing
    return bytes(out)


def _ioam_input(pkt: bytearray, off: int, prof: NodeProfile, res: ModelResult) -> None:
    """ipv6_hop_ioam() for the option whose type octet is at ``off``
    (reference section 2.1, newest mainline order)."""
    if off % 4:
        raise _Drop("ioam_misaligned")
    if not prof.enabled:
        res.events.append(EV_SKIP_DISABLED)
        return
    opt_len = pkt[off + 1]
    if opt_len < 2:
        raise _Drop("ioam_short")
    if pkt[off + 3] != IOAM_PREALLOC:
        res.events.append(EV_SKIP_OPTION_TYPE)
        return
    if opt_len < 2 + TRACE_HDR_LEN:
        raise _Drop("ioam_trace_truncated")
    th = off + 4  # trace header
    ns_id, b2, b3, word = struct.unpack_from("!HBBI", pkt, th)
    nodelen, remlen, type24 = b2 >> 3, b3 & 0x7F, word >> 8
    if opt_len < 2 + TRACE_HDR_LEN + remlen * 4:
        raise _Drop("ioam_trace_malformed")
    if nodelen != nodelen_for(type24):
        raise _Drop("ioam_nodelen_mismatch")
    ns = prof.namespaces.get(ns_id)
    if ns is None:
        res.events.append(EV_SKIP_UNKNOWN_NS)
        return
    # ioam6_fill_trace_data (section 2.2)
    if b2 & 0x04:  # Overflow already set
        res.events.append(EV_SKIP_OVERFLOW)
        return
    sclen = oss_words(type24, ns.schema)
    if remlen == 0 or remlen < nodelen + sclen:
        pkt[th + 2] = b2 | 0x04
        res.events.append(EV_OVERFLOW_SET)
        return
    hlim = pkt[7]
    if prof.is_input:
        hlim = (hlim - 1) & 0xFF
    data_off = th + TRACE_HDR_LEN + (remlen - nodelen - sclen) * 4
    node = fill_node_data(hlim, prof, ns, type24, res.variables, data_off)
    pkt[data_off:data_off + len(node)] = node
    pkt[th + 3] = (b3 & 0x80) | (remlen - nodelen - sclen)
    res.events.append(EV_FILLED)


def _parse_hbh(pkt: bytearray, prof: NodeProfile, res: ModelResult) -> None:
    """ip6_parse_tlv() on the HbH directly after the IPv6 header (section 4)."""
    if len(pkt) < 42 or len(pkt) < 40 + (pkt[41] + 1) * 8:
        raise _Drop("hbh_truncated")
    end = 40 + (pkt[41] + 1) * 8
    off = 42
    padlen = 0
    count = 0
    while off < end:
        t = pkt[off]
        if t == OPT_PAD1:
            padlen += 1
            if padlen > 7:
                raise _Drop("hbh_padding")
            off += 1
            continue
        if end - off < 2:
            raise _Drop("hbh_bad_option")
        optlen = pkt[off + 1] + 2
        if optlen > end - off:
            raise _Drop("hbh_bad_option")
        if t == OPT_PADN:
            padlen += optlen
            if padlen > 7:
                raise _Drop("hbh_padding")
            if any(pkt[off + 2:off + optlen]):
                raise _Drop("hbh_padn_nonzero")
        else:
            padlen = 0
            count += 1
            if count > prof.max_hbh_opts:
                raise _Drop("hbh_too_many_options")
            if t == OPT_IOAM:
                _ioam_input(pkt, off, prof, res)
            elif t >> 6:
                raise _Drop("hbh_unknown_option")
            # action 00: skip
        off += optlen


def linux_transit(pkt: bytes, prof: NodeProfile) -> ModelResult:
    """What a Linux node does with an IPv6 packet received on an interface.

    Returns the verdict, the drop reason (appliance counter name), the IOAM
    events and the packet as it leaves (hop limit decremented when
    forwarded). Timestamps and queue depth are placeholders listed in
    ``variables``.
    """
    res = ModelResult(verdict="drop")
    buf = bytearray(pkt)
    try:
        if len(buf) < 40:
            raise _Drop("ipv6_truncated")
        if buf[0] >> 4 != 6:
            raise _Drop("ipv6_bad_version")
        plen = struct.unpack_from("!H", buf, 4)[0]
        if plen == 0 and buf[6] == NH_HOPOPTS:
            raise _Drop("jumbogram")
        if 40 + plen > len(buf):
            raise _Drop("ipv6_bad_length")
        del buf[40 + plen:]  # Linux trims link-layer padding
        if buf[6] == NH_HOPOPTS:
            _parse_hbh(buf, prof, res)
        if prof.local:
            raise _Drop("local_delivery")
        if prof.no_route:
            raise _Drop("no_route")
        if buf[7] <= 1:
            raise _Drop("hop_limit_exceeded")
        buf[7] -= 1
        res.verdict = "forward"
    except _Drop as d:
        res.drop = d.reason
        if d.reason == "local_delivery":
            res.verdict = "local"
    res.packet = bytes(buf)
    return res


def encap_node_fill(pkt: bytes, prof: NodeProfile, values: Dict[str, int]) -> bytes:
    """Fill the (single) trace of ``pkt`` as a Linux *encap* node would
    (output path: hop limit written as is), with concrete ``values`` for the
    timestamp / queue-depth words. Used to synthesise upstream node data."""
    p = NodeProfile(**{**prof.__dict__, "enabled": True, "is_input": False,
                       "local": False, "no_route": False})
    buf = bytearray(pkt)
    res = ModelResult("forward")
    _parse_hbh(buf, p, res)
    for off, kind in res.variables:
        buf[off:off + 4] = struct.pack("!I", values[kind] & U32_NA)
    return bytes(buf)


@dataclass
class FrameResult:
    """``linux_transit`` lifted to Ethernet frames."""
    model: ModelResult
    frame: bytes = b""               # expected output frame (forward only)
    variables: List[Tuple[int, str]] = field(default_factory=list)  # frame offsets


def expected_frame(frame: bytes, prof: NodeProfile, *, ingress_mac: str,
                   egress_mac: str = "", next_hop_mac: str = "") -> FrameResult:
    """Expected output of the appliance for one received Ethernet frame."""
    dst = frame[0:6]
    if dst != mac_bytes(ingress_mac) and not dst[0] & 1:
        return FrameResult(ModelResult("drop", "l2_other_host", packet=frame[14:]))
    if len(frame) < 14 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IPV6:
        return FrameResult(ModelResult("drop", "not_ipv6", packet=frame[14:]))
    m = linux_transit(frame[14:], prof)
    if m.verdict != "forward":
        return FrameResult(m)
    out = ether(next_hop_mac, egress_mac, m.packet)
    return FrameResult(m, out, [(o + 14, k) for o, k in m.variables])


def apply_variables(expected: bytes, actual: bytes,
                    variables: Sequence[Tuple[int, str]]) -> Tuple[bytes, Dict[str, List[int]]]:
    """Copy the unpredictable words from ``actual`` into ``expected`` and
    return (patched expected, {kind: [actual values]})."""
    exp = bytearray(expected)
    seen: Dict[str, List[int]] = {}
    for off, kind in variables:
        if off + 4 <= len(actual) and off + 4 <= len(exp):
            exp[off:off + 4] = actual[off:off + 4]
            seen.setdefault(kind, []).append(_u(actual, off, 4))
    return bytes(exp), seen


def hexdiff(expected: bytes, actual: bytes, width: int = 16) -> str:
    """Readable side-by-side dump of the lines that differ."""
    lines = []
    n = max(len(expected), len(actual))
    for base in range(0, n, width):
        e = expected[base:base + width]
        a = actual[base:base + width]
        if e != a:
            lines.append(f"{base:04x}  exp {e.hex(' ')}")
            lines.append(f"      got {a.hex(' ')}")
    if len(expected) != len(actual):
        lines.append(f"length: expected {len(expected)}, got {len(actual)}")
    return "\n".join(lines) or "(identical)"



# --------------------------------------------------------------------------
# Decapsulation, trace export and domain-edge helpers (test_decap.py,
# test_export.py, test_edge.py, test_three_nodes.py). Written from the
# RFCs / the reference text, not from the appliance's code.
# --------------------------------------------------------------------------

ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, ECN_CE = 0b00, 0b01, 0b10, 0b11
ECN_NAMES = {ECN_NOT_ECT: "notect", ECN_ECT1: "ect1", ECN_ECT0: "ect0", ECN_CE: "ce"}

# RFC 6040 section 4.2, Figure 4 (decapsulation): RFC6040_DECAP[inner][outer]
# is the ECN field of the forwarded inner header, None = drop. Written out
# as the RFC's table rather than computed.
RFC6040_DECAP = {
    #              outer: Not-ECT        ECT(0)        ECT(1)        CE
    ECN_NOT_ECT: {ECN_NOT_ECT: ECN_NOT_ECT, ECN_ECT0: ECN_NOT_ECT, ECN_ECT1: ECN_NOT_ECT,
                  ECN_CE: None},
    ECN_ECT0: {ECN_NOT_ECT: ECN_ECT0, ECN_ECT0: ECN_ECT0, ECN_ECT1: ECN_ECT1, ECN_CE: ECN_CE},
    ECN_ECT1: {ECN_NOT_ECT: ECN_ECT1, ECN_ECT0: ECN_ECT1, ECN_ECT1: ECN_ECT1, ECN_CE: ECN_CE},
    ECN_CE: {ECN_NOT_ECT: ECN_CE, ECN_ECT0: ECN_CE, ECN_ECT1: ECN_CE, ECN_CE: ECN_CE},
}


def traffic_class(pkt: bytes) -> int:
    return (struct.unpack_from("!I", pkt, 0)[0] >> 20) & 0xFF


def set_traffic_class(pkt: bytes, tc: int) -> bytes:
    first = struct.unpack_from("!I", pkt, 0)[0]
    first = (first & ~(0xFF << 20) & 0xFFFFFFFF) | ((tc & 0xFF) << 20)
    return struct.pack("!I", first) + pkt[4:]


def set_flow_label(pkt: bytes, fl: int) -> bytes:
    first = struct.unpack_from("!I", pkt, 0)[0]
    return struct.pack("!I", (first & 0xFFF00000) | (fl & 0xFFFFF)) + pkt[4:]


# --- trace export records (brief: one JSON object per completed trace) -------

def _record_node(data: bytes, off: int, type24: int) -> Tuple[Optional[dict], int]:
    """One node in the export record's vocabulary; (None, off) when the
    octets left from ``off`` do not hold a whole node."""
    node: dict = {}
    for n in bits_of(type24):
        if n == 23:
            continue
        if n == 22:
            if off + 4 > len(data):
                return None, off
            octets = data[off] * 4
            if off + 4 + octets > len(data):
                return None, off
            node["opaque_state_snapshot"] = {
                "schema_id": _u(data, off + 1, 3), "length": octets,
                "data": data[off + 4:off + 4 + octets].hex()}
            off += 4 + octets
            continue
        size = 8 if n in (8, 9, 10) else 4
        if off + size > len(data):
            return None, off
        w = data[off:off + size]
        if n == 0:
            node["hop_limit"], node["node_id"] = w[0], _u(w, 1, 3)
        elif n == 1:
            node["ingress_if_id"], node["egress_if_id"] = _u(w, 0, 2), _u(w, 2, 2)
        elif n == 2:
            node["timestamp_sec"] = _u(w, 0, 4)
        elif n == 3:
            node["timestamp_frac"] = _u(w, 0, 4)
        elif n == 4:
            node["transit_delay"] = _u(w, 0, 4)
        elif n == 5:
            node["namespace_data"] = f"0x{_u(w, 0, 4):08x}"
        elif n == 6:
            node["queue_depth"] = _u(w, 0, 4)
        elif n == 7:
            node["checksum_complement"] = f"0x{_u(w, 0, 4):08x}"
        elif n == 8:
            node["hop_limit_wide"], node["node_id_wide"] = w[0], _u(w, 1, 7)
        elif n == 9:
            node["ingress_if_id_wide"], node["egress_if_id_wide"] = _u(w, 0, 4), _u(w, 4, 4)
        elif n == 10:
            node["namespace_data_wide"] = f"0x{_u(w, 0, 8):016x}"
        elif n == 11:
            node["buffer_occupancy"] = _u(w, 0, 4)
        else:  # 12..21
            node[f"bit{n}"] = f"0x{_u(w, 0, 4):08x}"
        off += size
    return node, off


def export_record(trace: IoamTrace) -> dict:
    """The trace-dependent part of an export record for ``trace`` as it is
    in the packet: namespace, type, NodeLen, flags, RemainingLen, the hops
    in path order (encapsulating node first) and whether leftover octets
    did not form a whole node (key ``decode_error`` present, value True
    here: the appliance's message text is not part of the contract)."""
    rec = {
        "namespace": trace.ns,
        "trace_type": f"0x{trace.type24:06x}",
        "nodelen": trace.nodelen,
        "flags": {"overflow": bool(trace.flags & FLAG_OVERFLOW),
                  "loopback": bool(trace.flags & FLAG_LOOPBACK),
                  "active": bool(trace.flags & FLAG_ACTIVE)},
        "remaining_len": trace.remlen,
    }
    hops = []
    off = min(trace.remlen * 4, len(trace.data))
    while off < len(trace.data):
        node, nxt = _record_node(trace.data, off, trace.type24)
        if node is None or nxt == off:
            rec["decode_error"] = True
            break
        hops.append(node)
        off = nxt
    rec["hops"] = hops[::-1]
    return rec


def prealloc_traces(pkt: bytes) -> List[IoamTrace]:
    """Every Pre-allocated Trace in the HbH directly after the IPv6 header."""
    return [o.trace for o in ioam_options(pkt) if o.opt_type == IOAM_PREALLOC
            and o.trace is not None]


# --- domain edge: removing IOAM options from a Hop-by-Hop header ----------------

def strip_ioam(pkt: bytes) -> Tuple[bytes, bool]:
    """The packet with every IOAM option (any option-type) removed from the
    HbH directly after the IPv6 header, as the brief describes the edge
    strip; (packet, whether anything was removed).

    Kept options (everything but IOAM, Pad1 and PadN) stay in order at the
    same HbH offset modulo 8; each is preceded by the minimal padding
    (Pad1 for one octet, one PadN otherwise) that puts it there, and the
    header is padded to a multiple of 8 the same way. No kept option: the
    whole header goes, its next header moves into the IPv6 header."""
    if len(pkt) < 48 or pkt[6] != NH_HOPOPTS:
        return pkt, False
    hlen = (pkt[41] + 1) * 8
    tlvs = parse_tlvs(pkt, 42, 40 + hlen)
    if not any(t.otype == OPT_IOAM for t in tlvs):
        return pkt, False
    kept = [t for t in tlvs if t.otype not in (OPT_IOAM, OPT_PAD1, OPT_PADN)]
    rest = pkt[40 + hlen:]
    if not kept:
        new = bytearray(pkt[:40] + rest)
        new[6] = pkt[40]
    else:
        body = bytearray()
        for t in kept:
            cur = 2 + len(body)
            body += padding(((t.offset - 40) - cur) % 8)
            body += t.raw
        body += padding(-(2 + len(body)) % 8)
        hbh = bytes([pkt[40], (2 + len(body)) // 8 - 1]) + bytes(body)
        new = bytearray(pkt[:40] + hbh + rest)
    new[4:6] = struct.pack("!H", len(new) - 40)
    return bytes(new), True


# --------------------------------------------------------------------------
# ICMPv6 messages a router originates (RFC 4443, RFC 4861), built with
# Scapy from the RFC text: what the appliance must send in answer to a
# packet. Every builder returns a whole IPv6 packet (checksum computed by
# Scapy over the pseudo-header).
# --------------------------------------------------------------------------

ICMP6_DEST_UNREACH = 1
ICMP6_PACKET_TOO_BIG = 2
ICMP6_TIME_EXCEEDED = 3
ICMP6_PARAM_PROBLEM = 4
ICMP6_ECHO_REQUEST = 128
ICMP6_ECHO_REPLY = 129
ND_ROUTER_SOLICIT = 133
ND_ROUTER_ADVERT = 134
ND_NEIGHBOR_SOLICIT = 135
ND_NEIGHBOR_ADVERT = 136
ND_REDIRECT = 137

IPV6_MIN_MTU = 1280          # RFC 8200 section 5; RFC 4443 section 2.4 (c)
ICMP6_ERROR_HLIM = 64        # the appliance's hop limit for what it originates
ND_HLIM = 255                # RFC 4861 section 7.1
ALL_NODES = "ff02::1"
ALL_NODES_MAC = "33:33:00:00:00:01"

# Extension headers an ICMPv6 message may sit behind (RFC 8200 section 4).
_EXT_HEADERS = (NH_HOPOPTS, 43, 44, NH_DSTOPTS)


def upper_layer(pkt: bytes) -> Tuple[int, int]:
    """(next header value, offset) of the upper-layer header of an IPv6
    packet, after its extension headers (Fragment: 8 octets)."""
    nh, off = pkt[6], 40
    while nh in _EXT_HEADERS and off + 2 <= len(pkt):
        size = 8 if nh == 44 else (pkt[off + 1] + 1) * 8
        nh, off = pkt[off], off + size
    return nh, off


def icmp6_error(kind: int, src: str, dst: str, invoking: bytes, *, code: int = 0,
                mtu: int = 0) -> bytes:
    """An ICMPv6 error message (RFC 4443 sections 2.1, 3.1-3.3): from
    ``src`` to ``dst``, hop limit 64, traffic class and flow label 0, the
    4-octet unused field (Packet Too Big: the MTU) and "as much of the
    invoking packet as possible without the ICMPv6 packet exceeding the
    minimum IPv6 MTU" (section 2.4 (c))."""
    from scapy.layers.inet6 import (IPv6, ICMPv6DestUnreach, ICMPv6PacketTooBig,
                                    ICMPv6TimeExceeded)
    from scapy.packet import Raw
    body = invoking[:IPV6_MIN_MTU - 40 - 8]
    if kind == ICMP6_DEST_UNREACH:
        icmp = ICMPv6DestUnreach(code=code)
    elif kind == ICMP6_PACKET_TOO_BIG:
        icmp = ICMPv6PacketTooBig(code=code, mtu=mtu)
    elif kind == ICMP6_TIME_EXCEEDED:
        icmp = ICMPv6TimeExceeded(code=code)
    else:
        raise ValueError(f"ICMPv6 error type {kind}")
    pkt = bytes(IPv6(src=src, dst=dst, hlim=ICMP6_ERROR_HLIM, tc=0, fl=0) / icmp / Raw(body))
    assert len(pkt) <= IPV6_MIN_MTU and pkt[40] == kind
    return pkt


def time_exceeded(src: str, dst: str, invoking: bytes) -> bytes:
    """Time Exceeded, code 0 (hop limit exceeded in transit), RFC 4443 3.3."""
    return icmp6_error(ICMP6_TIME_EXCEEDED, src, dst, invoking, code=0)


def dest_unreach(src: str, dst: str, invoking: bytes, code: int) -> bytes:
    """Destination Unreachable, RFC 4443 3.1: code 0 no route, 3 address
    unreachable."""
    return icmp6_error(ICMP6_DEST_UNREACH, src, dst, invoking, code=code)


def packet_too_big(src: str, dst: str, invoking: bytes, mtu: int) -> bytes:
    """Packet Too Big, code 0, with the next-hop MTU, RFC 4443 3.2."""
    return icmp6_error(ICMP6_PACKET_TOO_BIG, src, dst, invoking, mtu=mtu)


def echo_reply_for(request: bytes) -> bytes:
    """The Echo Reply to the IPv6 packet ``request`` (an Echo Request to one
    of the node's unicast addresses), RFC 4443 4.2: from the request's
    destination, to its source; Identifier, Sequence Number and Data
    returned "entirely and unmodified"; the appliance's choices on top:
    hop limit 64, traffic class reflected, flow label 0, no extension
    headers."""
    from scapy.layers.inet6 import IPv6, ICMPv6EchoReply
    plen = struct.unpack_from("!H", request, 4)[0]
    request = request[:40 + plen]
    nh, off = upper_layer(request)
    assert nh == NH_ICMPV6 and request[off] == ICMP6_ECHO_REQUEST, "not an Echo Request"
    ident, seq = struct.unpack_from("!HH", request, off + 4)
    src = str(ipaddress.IPv6Address(request[24:40]))
    dst = str(ipaddress.IPv6Address(request[8:24]))
    return bytes(IPv6(src=src, dst=dst, hlim=ICMP6_ERROR_HLIM, tc=traffic_class(request), fl=0)
                 / ICMPv6EchoReply(id=ident, seq=seq, data=request[off + 8:]))


def solicited_node(addr: str) -> str:
    """RFC 4291 2.7.1: ff02::1:ff00:0/104 + the address's low 24 bits."""
    low = ipaddress.IPv6Address(addr).packed[13:]
    return str(ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + low))


def multicast_mac(group: str) -> str:
    """RFC 2464 7: 33:33 + the group's low 32 bits."""
    return mac_str(b"\x33\x33" + ipaddress.IPv6Address(group).packed[12:])


def neighbor_advert(target: str, dst: str, mac: str, *, solicited: bool = True) -> bytes:
    """The Neighbor Advertisement a router sends for one of its own
    addresses (RFC 4861 4.4, 7.2.4): from the target, hop limit 255,
    Router and Override set, Solicited unless answering DAD, Target
    Link-Layer Address option with ``mac``."""
    from scapy.layers.inet6 import IPv6, ICMPv6ND_NA, ICMPv6NDOptDstLLAddr
    return bytes(IPv6(src=target, dst=dst, hlim=ND_HLIM, tc=0, fl=0)
                 / ICMPv6ND_NA(R=1, S=1 if solicited else 0, O=1, tgt=target)
                 / ICMPv6NDOptDstLLAddr(lladdr=mac))


def icmp6_checksum_ok(pkt: bytes) -> bool:
    """The ICMPv6 checksum of an IPv6 packet verifies (RFC 4443 2.3: the
    16-bit one's complement sum over the pseudo-header of RFC 8200 8.1 and
    the whole ICMPv6 message is all ones)."""
    nh, off = upper_layer(pkt)
    if nh != NH_ICMPV6:
        return False
    plen = struct.unpack_from("!H", pkt, 4)[0]
    body = pkt[off:40 + plen]
    pseudo = pkt[8:40] + struct.pack("!I3xB", len(body), NH_ICMPV6)
    return _ones_sum(pseudo + body) == 0xFFFF


def with_icmp6_checksum(pkt: bytes) -> bytes:
    """``pkt`` with the checksum of its ICMPv6 message computed (RFC 4443
    2.3), for messages Scapy cannot build (truncated ones)."""
    nh, off = upper_layer(pkt)
    assert nh == NH_ICMPV6
    plen = struct.unpack_from("!H", pkt, 4)[0]
    body = bytearray(pkt[off:40 + plen])
    body[2:4] = b"\0\0"
    pseudo = pkt[8:40] + struct.pack("!I3xB", len(body), NH_ICMPV6)
    csum = 0xFFFF - _ones_sum(pseudo + bytes(body))
    body[2:4] = struct.pack("!H", csum)
    return pkt[:off] + bytes(body) + pkt[40 + plen:]


def _ones_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def own_packet_fill(pkt: bytes, prof: NodeProfile) -> Tuple[bytes, List[Tuple[int, str]]]:
    """Fill the traces of the HbH of a packet the node originates itself
    (Linux's output path for locally generated packets: hop limit written
    as it is, no ingress interface so ingress ids and timestamps are
    unavailable). Returns the packet and the offsets of the words the model
    cannot predict (queue depth)."""
    p = NodeProfile(**{**prof.__dict__, "enabled": True, "is_input": False,
                       "has_ingress": False, "local": False, "no_route": False})
    buf = bytearray(pkt)
    res = ModelResult("forward")
    _parse_hbh(buf, p, res)
    return bytes(buf), list(res.variables)
