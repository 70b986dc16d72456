"""Benchmark input captures: Ethernet/IPv6/UDP packets of 64 flows, with and
without an IOAM Pre-allocated Trace (RFC 9197 §4.4, carried in a Hop-by-Hop
header as RFC 9486 §4 and Linux lay it out), plain or in an ip6ip6 tunnel.

Built from bytes with the standard library only, so generating the inputs
needs neither Scapy nor a build; `tshark -V -r FILE` decodes them (checked
when the benchmark was written).

The layout mirrors src/dataplane/ioam_hbh_build.cpp: HbH header (2), PadN(2)
so that the IOAM option starts 4n-aligned, option header (4), trace header
(8), node data, and a trailing PadN(2) when the data size is 4 mod 8.
"""

from __future__ import annotations

import ipaddress
import struct

ETH_IPV6 = 0x86DD
NH_HBH, NH_UDP, NH_IPV6 = 0, 17, 41
OPT_PADN, OPT_IOAM = 0x01, 0x31
IOAM_PREALLOC = 0

# RFC 9197 §4.4.2 bit n of the trace type is (1 << (23 - n)).
_SHORT_MASK = 0xFF1FFC  # bits 0-7, 11, 12-21: one 4-octet word each
_WIDE_MASK = 0x00E000   # bits 8-10: two words each
OSS_BIT = 1 << 1        # bit 22, Opaque State Snapshot (variable length)


def nodelen_words(trace_type: int) -> int:
    """NodeLen (4-octet words) implied by a trace type, OSS excluded."""
    return bin(trace_type & _SHORT_MASK).count("1") + 2 * bin(trace_type & _WIDE_MASK).count("1")


def oss_octets(schema: bytes | None) -> int:
    """Octets a node writes for bit 22: the 4-octet schema header plus the
    schema padded to 4n, or the single 0x00FFFFFF word without a schema."""
    if schema is None:
        return 4
    return 4 + (len(schema) + 3) // 4 * 4


def node_octets(trace_type: int, schema: bytes | None) -> int:
    """Octets one node writes for `trace_type` (its NodeLen plus any OSS)."""
    n = nodelen_words(trace_type) * 4
    if trace_type & OSS_BIT:
        n += oss_octets(schema)
    return n


def mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.replace("-", ":").split(":"))


def ip6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def _csum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    """UDP datagram with its RFC 8200 §8.1 checksum (pseudo-header: the final
    source and destination, the upper-layer length and next header 17)."""
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    pseudo = src + dst + struct.pack("!I3xB", length, NH_UDP)
    c = 0xFFFF - _csum16(pseudo + hdr + payload)
    return struct.pack("!HHHH", sport, dport, length, c or 0xFFFF) + payload


def ipv6_hdr(src: bytes, dst: bytes, next_header: int, payload_len: int,
             hop_limit: int = 64, flow_label: int = 0) -> bytes:
    return struct.pack("!IHBB", (6 << 28) | (flow_label & 0xFFFFF), payload_len,
                       next_header, hop_limit) + src + dst


def ioam_hbh(next_header: int, ns_id: int, trace_type: int, size: int,
             filled: bytes = b"") -> bytes:
    """A Hop-by-Hop header holding one Pre-allocated Trace of `size` octets of
    node data; `filled` is the data earlier nodes wrote (at the end of the
    area, as each node writes in front of the previous one), and
    RemainingLen counts the words left in front of it."""
    if size % 4 or not 4 <= size <= 244:
        raise ValueError(f"trace size {size} must be a multiple of 4 in 4..244")
    if len(filled) % 4 or len(filled) > size:
        raise ValueError("filled node data must be 4n octets and fit the trace")
    total = (16 + size + 7) // 8 * 8
    out = bytearray(total)
    out[0] = next_header
    out[1] = total // 8 - 1
    out[2], out[3] = OPT_PADN, 0
    opt = 4
    out[opt] = OPT_IOAM
    out[opt + 1] = 2 + 8 + size
    out[opt + 2] = 0
    out[opt + 3] = IOAM_PREALLOC
    t = opt + 4
    struct.pack_into("!H", out, t, ns_id)
    out[t + 2] = (nodelen_words(trace_type) << 3) & 0xF8
    out[t + 3] = ((size - len(filled)) // 4) & 0x7F
    out[t + 4:t + 7] = trace_type.to_bytes(3, "big")
    data = t + 8
    out[data + size - len(filled):data + size] = filled
    if size % 8 == 4:
        out[total - 4] = OPT_PADN
        out[total - 3] = 2
    return bytes(out)


def earlier_node_data(trace_type: int, schema: bytes | None, hop_limit: int,
                      node_id: int) -> bytes:
    """Plausible data of one upstream node: the first word is hop limit and
    node id (bit 0), the fixed fields a recognisable filler, and a valid
    Opaque State Snapshot (RFC 9197 §4.4.2.13: length in words, schema id
    666, the schema padded to 4n) when bit 22 is set."""
    fixed = nodelen_words(trace_type) * 4
    words = [struct.pack("!I", (hop_limit << 24) | node_id)] if trace_type & 0x800000 else []
    while len(words) * 4 < fixed:
        words.append(struct.pack("!I", 0xA5A5A5A5))
    data = b"".join(words)[:fixed]
    if trace_type & OSS_BIT:
        if schema is None:
            data += struct.pack("!I", 0x00FFFFFF)
        else:
            padded = schema + b"\0" * (-len(schema) % 4)
            data += struct.pack("!I", (len(padded) // 4) << 24 | 666) + padded
    return data


def frame(dst_mac: bytes, src_mac: bytes, l3: bytes) -> bytes:
    return dst_mac + src_mac + struct.pack("!H", ETH_IPV6) + l3


def udp_packet(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes,
               hop_limit: int = 64, flow_label: int = 0, hbh: bytes | None = None) -> bytes:
    """An IPv6 packet (no Ethernet) carrying UDP, optionally behind `hbh`
    (whose first octet is rewritten to say UDP)."""
    u = udp(src, dst, sport, dport, payload)
    if hbh is None:
        return ipv6_hdr(src, dst, NH_UDP, len(u), hop_limit, flow_label) + u
    hbh = bytes([NH_UDP]) + hbh[1:]
    return ipv6_hdr(src, dst, NH_HBH, len(hbh) + len(u), hop_limit, flow_label) + hbh + u


def ip6ip6(outer_src: bytes, outer_dst: bytes, inner: bytes, hbh: bytes | None = None,
           hop_limit: int = 64) -> bytes:
    """RFC 2473 tunnel packet: outer IPv6 [+ HbH] + the inner IPv6 packet,
    outer version/traffic class/flow label copied from the inner one."""
    vtc = struct.unpack("!I", inner[:4])[0]
    if hbh is None:
        hdr = struct.pack("!IHBB", vtc, len(inner), NH_IPV6, hop_limit)
        return hdr + outer_src + outer_dst + inner
    hbh = bytes([NH_IPV6]) + hbh[1:]
    hdr = struct.pack("!IHBB", vtc, len(hbh) + len(inner), NH_HBH, hop_limit)
    return hdr + outer_src + outer_dst + hbh + inner


def write_pcap(path: str, frames: list[bytes]) -> None:
    """Classic libpcap file, Ethernet link type, microsecond timestamps."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000, i, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path: str) -> list[bytes]:
    """Frames of a classic little-endian pcap (what write_pcap and net_pcap write)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack_from("<I", data)[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise ValueError(f"{path}: not a little-endian classic pcap")
    off, frames = 24, []
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack_from("<IIII", data, off)
        frames.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return frames
