"""Malformed (and almost-malformed) packets for the transit node.

Each entry builds one frame for the standard topology (pcaptest) and names
the outcome the reference demands: a drop reason (appliance counter name,
reference sections 2.1 and 4, plus the appliance's L2/IPv6 sanity drops) or
None = forwarded. ``ingress`` says which config the entry needs: "enabled"
(eth0 processes IOAM) or "disabled".

Frames are generated here at test time; nothing is committed under pcap/.
"""

from dataclasses import dataclass
from typing import Callable, List, Optional

import ioam_scapy as ioam
import pcaptest as pt

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether


# Porthos (seed 002) as the brief configures it; eth0's ioam.enabled varies.
CONFIG = """\
node: {id: 2, id_wide: 22222222}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: %(enabled)s, id: 201, id_wide: 201201}
  - name: eth1
    device: net_pcap1
    mac: 02:00:00:00:02:01
    addresses: [db02::1/64]
    ioam: {id: 202, id_wide: 202202}
namespaces:
  - {id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}
schemas:
  - {id: 666, data: "Hello there -Obi"}
routes:
  - {prefix: "db03::/64", port: eth1, via: "db02::2"}
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
"""


def config(ingress: str) -> str:
    """Config text for an entry's ``ingress`` ("enabled" / "disabled")."""
    return CONFIG % {"enabled": "true" if ingress == "enabled" else "false"}


@dataclass
class Entry:
    name: str
    build: Callable[[int], bytes]     # tag -> frame
    reason: Optional[str]             # drop counter, None = forwarded
    ingress: str = "enabled"
    taggable: bool = True             # output can be found by flow label
    why: str = ""


ICMP_NH = ioam.NH_ICMPV6
EXP = 0x1E          # RFC 3692 experimental option type: action 00 (skip), not mutable


def _opt(size=4, **kw):
    return ioam.ioam_trace_option(123, 0x800000, size, **kw)


def _hbh(body: bytes, **kw) -> bytes:
    return ioam.ext_header(ICMP_NH, body, **kw)


def _inline(body: bytes, **kw):
    return lambda tag: pt.inline_frame(_hbh(body, **kw), tag=tag)


def _raw_hbh(hbh: bytes):
    return lambda tag: pt.inline_frame(hbh, tag=tag)


def _bad_plen(tag: int) -> bytes:
    f = bytearray(pt.inline_frame(ioam.linux_hbh(), tag=tag))
    plen = int.from_bytes(f[18:20], "big") + 1
    f[18:20] = plen.to_bytes(2, "big")
    return bytes(f)


def _jumbo_without_option(tag: int) -> bytes:
    f = bytearray(pt.inline_frame(ioam.linux_hbh(), tag=tag))
    f[18:20] = b"\x00\x00"
    return bytes(f)


def _bad_version(tag: int) -> bytes:
    f = bytearray(pt.inline_frame(ioam.linux_hbh(), tag=tag))
    f[14] = (4 << 4) | (f[14] & 0x0F)
    return bytes(f)


def _truncated_ipv6(tag: int) -> bytes:
    return pt.inline_frame(ioam.linux_hbh(), tag=tag)[:14 + 39]


def _hbh_beyond_packet(tag: int) -> bytes:
    # HbH says 88 octets; the whole IPv6 payload is far shorter (and the IPv6
    # payload length is consistent with the frame).
    return pt.inline_frame(_hbh(ioam.padn(6), hdrlen=10), tag=tag)


def _hbh_only_partly_present(tag: int) -> bytes:
    # IPv6 payload of 4 octets: not even the 8-octet minimum HbH.
    pkt = ioam.ipv6(pt.ALPHA, pt.BETA_RX, b"\x3a\x00\x01\x00", nh=0, fl=tag)
    return ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC, pkt)


def _ipv4(tag: int) -> bytes:
    return bytes(Ether(dst=pt.ETH0_MAC, src=pt.ATHOS_MAC) /
                 IP(src="192.0.2.1", dst="198.51.100.1", ttl=64, id=tag & 0xFFFF) /
                 ICMP(id=tag & 0xFFFF))


def _other_host(tag: int) -> bytes:
    return pt.inline_frame(ioam.linux_hbh(), tag=tag, dst_mac="02:00:00:00:09:09")


def _no_route(tag: int) -> bytes:
    return pt.inline_frame(b"", tag=tag, dst="db09::1")


def _dstopts_ioam(tag: int) -> bytes:
    d = ioam.ext_header(ICMP_NH, ioam.padn(2) + _opt())
    return pt.inline_frame(d, tag=tag, ext_nh=ioam.NH_DSTOPTS)


def _dstopts_misaligned_ioam(tag: int) -> bytes:
    d = ioam.ext_header(ICMP_NH, ioam.pad1() + _opt(nodelen=7))
    return pt.inline_frame(d, tag=tag, ext_nh=ioam.NH_DSTOPTS)


def _hbh_then_dstopts_ioam(tag: int) -> bytes:
    d = ioam.ext_header(ICMP_NH, ioam.padn(2) + _opt())
    h = ioam.linux_hbh(ioam.NH_DSTOPTS)
    return pt.inline_frame(h + d, tag=tag)


def _trailer(tag: int) -> bytes:
    return pt.inline_frame(ioam.linux_hbh(), tag=tag) + b"\xee" * 11


def _trailer_no_hbh(tag: int) -> bytes:
    return pt.inline_frame(b"", tag=tag, data=b"") + b"\x00" * 6


def entries() -> List[Entry]:
    e = [
        # --- IOAM option checks (reference 2.1) ---------------------------------
        Entry("ioam_misaligned_off43", _inline(ioam.pad1() + _opt()), "ioam_misaligned",
              why="2.1 step 1: option offset 43 is not 4n"),
        Entry("ioam_misaligned_off42", _inline(_opt()), "ioam_misaligned",
              why="2.1 step 1: offset 42"),
        Entry("ioam_misaligned_off46", _inline(ioam.padn(4) + _opt()), "ioam_misaligned",
              why="2.1 step 1: offset 46"),
        Entry("ioam_misaligned_disabled_port", _inline(ioam.pad1() + _opt()),
              "ioam_misaligned", ingress="disabled",
              why="2.1 step 1 precedes the enabled check"),
        Entry("ioam_misaligned_garbage", _inline(ioam.padn(3) + _opt(nodelen=9)),
              "ioam_misaligned", why="alignment is checked before anything else"),
        Entry("ioam_short_len1", _inline(ioam.padn(2) + ioam.tlv(0x31, b"\x00")),
              "ioam_short", why="2.1 step 3: option length 1 < 2"),
        Entry("ioam_short_len0", _inline(ioam.padn(2) + ioam.tlv(0x31, b"")),
              "ioam_short", why="2.1 step 3: option length 0 < 2"),
        Entry("ioam_trace_truncated_len2",
              _inline(ioam.padn(2) + ioam.ioam_other_option(ioam.IOAM_PREALLOC)),
              "ioam_trace_truncated", why="2.1 step 5: length 2 < 10"),
        Entry("ioam_trace_truncated_len9",
              _inline(ioam.padn(2) + ioam.ioam_other_option(
                  ioam.IOAM_PREALLOC, bytes.fromhex("007b0801800000")),),
              "ioam_trace_truncated", why="2.1 step 5: length 9 < 10"),
        Entry("ioam_trace_malformed_remlen2_size4",
              _inline(ioam.padn(2) + _opt(4, remlen=2)), "ioam_trace_malformed",
              why="2.1 step 6: 10 + 2*4 > option length 14"),
        Entry("ioam_trace_malformed_remlen127",
              _inline(ioam.padn(2) + _opt(8, remlen=127)), "ioam_trace_malformed",
              why="2.1 step 6: RemLen 127"),
        Entry("ioam_nodelen_mismatch_bit0_nl2",
              _inline(ioam.padn(2) + _opt(8, nodelen=2)), "ioam_nodelen_mismatch",
              why="2.1 step 7: type 0x800000 needs NodeLen 1"),
        Entry("ioam_nodelen_mismatch_bit0_nl0",
              _inline(ioam.padn(2) + _opt(4, nodelen=0)), "ioam_nodelen_mismatch",
              why="2.1 step 7: NodeLen 0"),
        Entry("ioam_nodelen_mismatch_bit8_nl1",
              _inline(ioam.padn(2) + ioam.ioam_trace_option(123, ioam.bit(8), 8, nodelen=1)),
              "ioam_nodelen_mismatch", why="2.1 step 7: wide field counts 2 words"),
        Entry("ioam_nodelen_mismatch_bit22_nl1",
              _inline(ioam.padn(2) + ioam.ioam_trace_option(123, ioam.bit(22), 4, nodelen=1)),
              "ioam_nodelen_mismatch", why="2.1 step 7: OSS is not counted in NodeLen"),
        Entry("ioam_nodelen_mismatch_bit12_nl0",
              _inline(ioam.padn(2) + ioam.ioam_trace_option(123, ioam.bit(12), 4, nodelen=0)),
              "ioam_nodelen_mismatch", why="2.1 step 7: bits 12-21 count 1 word (2026 mask)"),
        Entry("ioam_nodelen_mismatch_unknown_ns",
              _inline(ioam.padn(2) + ioam.ioam_trace_option(999, 0x800000, 8, nodelen=2)),
              "ioam_nodelen_mismatch", why="2.1: step 7 comes before the namespace lookup"),
        # --- generic HbH rules (reference 4) ---------------------------------------
        Entry("hbh_truncated_hdrlen", _hbh_beyond_packet, "hbh_truncated",
              why="HbH length beyond the packet"),
        Entry("hbh_truncated_tiny", _hbh_only_partly_present, "hbh_truncated",
              why="IPv6 payload shorter than 8 octets of HbH"),
        Entry("hbh_bad_option_crossing",
              _raw_hbh(bytes([ICMP_NH, 0]) + ioam.tlv(EXP, bytes(5))), "hbh_bad_option",
              why="option length runs past the HbH end"),
        Entry("hbh_bad_option_last_octet",
              _raw_hbh(bytes([ICMP_NH, 0]) + ioam.padn(5) + bytes([EXP])), "hbh_bad_option",
              why="a non-Pad1 option with only its type octet left"),
        Entry("hbh_bad_option_ioam_crossing",
              _raw_hbh(bytes([ICMP_NH, 1]) + ioam.padn(2) + _opt(4)[:12]), "hbh_bad_option",
              why="IOAM option (length 14) cut by the HbH end"),
        Entry("hbh_padding_8_pad1",
              _raw_hbh(bytes([ICMP_NH, 1]) + ioam.pad1() * 8 + ioam.tlv(EXP, bytes(4))),
              "hbh_padding", why="8 consecutive Pad1"),
        Entry("hbh_padding_padn8",
              _raw_hbh(bytes([ICMP_NH, 1]) + ioam.padn(8) + ioam.tlv(EXP, bytes(4))),
              "hbh_padding", why="one PadN of 8 octets"),
        Entry("hbh_padding_pad1_padn7",
              _raw_hbh(bytes([ICMP_NH, 1]) + ioam.pad1() + ioam.padn(7) + ioam.tlv(EXP, bytes(4))),
              "hbh_padding", why="Pad1 + PadN(7) = 8 consecutive padding octets"),
        Entry("hbh_padding_padn14",
              _raw_hbh(bytes([ICMP_NH, 1]) + ioam.padn(14)), "hbh_padding",
              why="a whole 16-octet HbH of padding"),
        Entry("hbh_padn_nonzero",
              _raw_hbh(bytes([ICMP_NH, 0]) + ioam.padn(6)[:-1] + b"\x01"),
              "hbh_padn_nonzero", why="PadN payload must be zero"),
        Entry("hbh_padn_nonzero_before_ioam",
              _inline(ioam.padn(6, fill=0xAA) + _opt(4)),
              "hbh_padn_nonzero", why="PadN(6) with non-zero payload before an IOAM option"),
        Entry("hbh_too_many_options_9",
              _inline(ioam.tlv(EXP) * 9), "hbh_too_many_options",
              why="9 non-padding options > default limit 8"),
        Entry("hbh_unknown_option_01", _inline(ioam.tlv(0x5E, bytes(4))), "hbh_unknown_option",
              why="action 01: discard silently"),
        Entry("hbh_unknown_option_10", _inline(ioam.tlv(0x9E, bytes(4))), "hbh_unknown_option",
              why="action 10: discard (Linux also sends ICMP)"),
        Entry("hbh_unknown_option_11", _inline(ioam.tlv(0xDE, bytes(4))), "hbh_unknown_option",
              why="action 11: discard (Linux also sends ICMP)"),
        # --- L2 / IPv6 sanity --------------------------------------------------------
        Entry("ipv6_bad_length", _bad_plen, "ipv6_bad_length",
              why="payload length one octet beyond the frame"),
        Entry("jumbogram", _jumbo_without_option, "jumbogram",
              why="payload length 0 with a HbH (RFC 2675) is not supported"),
        Entry("ipv6_truncated", _truncated_ipv6, "ipv6_truncated", taggable=False,
              why="39 octets of IPv6 header"),
        Entry("ipv6_bad_version", _bad_version, "ipv6_bad_version",
              why="version 4 inside ethertype 0x86dd"),
        Entry("not_ipv6", _ipv4, "not_ipv6", taggable=False, why="IPv4 frame"),
        Entry("l2_other_host", _other_host, "l2_other_host",
              why="unicast frame for another MAC"),
        Entry("no_route", _no_route, "no_route", why="db09::1 has no route"),
        # --- not malformed: must be forwarded -------------------------------------
        Entry("ok_ioam_in_dstopts", _dstopts_ioam, None,
              why="IOAM in Destination Options is an unknown skip option (4)"),
        Entry("ok_misaligned_ioam_in_dstopts", _dstopts_misaligned_ioam, None,
              why="Destination Options are not parsed by a transit node"),
        Entry("ok_hbh_ioam_then_dstopts_ioam", _hbh_then_dstopts_ioam, None,
              why="only the HbH trace is filled"),
        Entry("ok_8_options", _inline(ioam.tlv(EXP) * 8), None,
              why="8 non-padding options is the limit, not over it"),
        Entry("ok_ioam_plus_7_options",
              _inline(ioam.padn(2) + _opt(4) + ioam.tlv(EXP) * 7), None,
              why="IOAM counts as one of the 8 options"),
        Entry("ok_padding_7", _raw_hbh(bytes([ICMP_NH, 1]) + ioam.padn(7) + ioam.tlv(EXP, bytes(5))),
              None, why="7 consecutive padding octets are allowed"),
        Entry("ok_unknown_option_00_then_ioam",
              _inline(ioam.tlv(EXP, b"") + _opt(4)), None,
              why="skip option, then IOAM at offset 44: filled"),
        Entry("ok_ioam_offset48", _inline(ioam.padn(6) + _opt(4)), None,
              why="IOAM at offset 48 is 4n-aligned: filled"),
        Entry("ok_ioam_flags_la_kept",
              _inline(ioam.padn(2) + _opt(4, flags=ioam.FLAG_LOOPBACK | ioam.FLAG_ACTIVE
                                          | ioam.FLAG_RESERVED)),
              None, why="non-Overflow flags are not touched"),
        Entry("ok_ioam_reserved_octets_kept",
              _inline(ioam.padn(2) + _opt(4, reserved=0xA5, type_low=0x5A)), None,
              why="no validation of the reserved octets (2.1)"),
        Entry("ok_ioam_opt_len_longer",
              _inline(ioam.padn(2) + _opt(8, remlen=1)), None,
              why="option longer than 10 + RemLen*4 is fine (2.1 step 6)"),
        Entry("ok_two_ioam_options",
              _inline(ioam.padn(2) + _opt(4) + _opt(4)), None,
              why="every IOAM option of the HbH goes through ipv6_hop_ioam"),
        Entry("ok_trimmed_trailer", _trailer, None,
              why="frame longer than the IPv6 payload: trimmed"),
        Entry("ok_trimmed_trailer_no_hbh", _trailer_no_hbh, None,
              why="Ethernet padding after a plain packet: trimmed"),
    ]
    for t in range(1, 5):
        body = ioam.ioam_other_option(t, bytes.fromhex("007b1001800000000102030405060708"))
        e.append(Entry(f"ok_ioam_option_type{t}", _inline(ioam.padn(2) + body), None,
                       why="IOAM option-types 1..4 are ignored (2.1 step 4)"))
    return e
