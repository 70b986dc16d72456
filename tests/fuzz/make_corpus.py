#!/usr/bin/python3
"""Writes the fuzzers' seed corpora under tests/fuzz/corpus/<target>/.

    /usr/bin/python3 tests/fuzz/make_corpus.py

Packets are built with tests/pcap/ioam_scapy.py, the same Linux-layout
builders the pcap tests use, for the roles of tests/dp/role_configs.hpp:

  transit  Ethernet frames for Porthos (eth0 02:00:00:00:02:00)
  encap    Ethernet frames for Athos (eth0 02:00:00:00:01:00, eth1 ..:01:01)
  decap    Ethernet frames for Aramis (eth0 02:00:00:00:03:00, eth1 ..:03:01)
  nd       scripts for the neighbour discovery node (eth0 02:00:00:00:05:00,
           eth1 ..:05:01): frames and clock steps, format in packet_fuzz.hpp
  parsers  the IPv6 packets of all three, and Neighbor Solicitations and
           Advertisements (no Ethernet header)
  config   the seed configurations and a few refused ones

Each packet fuzzer feeds every input to both ports; frames sent to the
all-nodes multicast MAC 33:33:00:00:00:01 pass the L2 check on both, so the
corpus has each interesting packet that way too. Files are small (the largest
is a 9000-octet frame) and named after what they hold; the fuzzers add their
own under hashed names when run on these directories (CI runs them on copies).
"""

import shutil
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "pcap"))

import ioam_scapy as ioam  # noqa: E402

MCAST = "33:33:00:00:00:01"
NH_ICMP = ioam.NH_ICMPV6
EXP = 0x1E  # experimental option type, action 00 (skip)
# Two Hop-by-Hop headers in a row, each holding only an IOAM trace.
TWO_HBH = (ioam.linux_hbh(nh=ioam.NH_HOPOPTS, size=8)
           + ioam.linux_hbh(nh=ioam.NH_ICMPV6, size=8))


def frame(dst_mac, src_mac, pkt):
    return ioam.ether(dst_mac, src_mac, pkt)


def pkt(src, dst, ext=b"", ext_nh=ioam.NH_HOPOPTS, **kw):
    return ioam.icmp_packet(src, dst, ext=ext, ext_nh=ext_nh, **kw)


def node_words(type24, hlim, node_id):
    """Node data as a Linux node would have written it: only bit 0 here."""
    assert type24 == 0x800000
    return struct.pack("!I", (hlim << 24) | node_id)


def with_plen(p, plen):
    return p[:4] + struct.pack("!H", plen) + p[6:]


def contiguous(build):
    """The packet build(data) makes, with data whose last two octets put the
    packet fuzzers' two-segment split (packet_fuzz.hpp, layout 4) two octets
    before the end of the frame: every header in the first segment, so that
    the burst of four layouts can take the worker's fast paths, which the
    fuzzers compare with the stages."""
    base = b"ioamfwd-fast-path"
    frame_len = 14 + len(build(base + b"\0\0"))
    return build(base + struct.pack("!H", frame_len - 2))


def transit_packets():
    A, B = "db01::1", "db03::2"
    out = {}
    out["linux_bit0_size12"] = pkt(A, B, ioam.linux_hbh(size=12))
    out["linux_bit0_size4"] = pkt(A, B, ioam.linux_hbh(size=4))
    out["linux_full_fff002_size244"] = pkt(A, B, ioam.linux_hbh(type24=0xFFF002, size=244))
    out["linux_ns124_long_schema"] = pkt(A, B, ioam.linux_hbh(ns=124, type24=0x800002, size=200))
    out["linux_ns0"] = pkt(A, B, ioam.linux_hbh(ns=0, type24=0xC00000, size=16))
    out["linux_unknown_ns"] = pkt(A, B, ioam.linux_hbh(ns=999, size=8))
    # Athos already wrote its node: RemainingLen 2 of 3.
    data = bytes(8) + node_words(0x800000, 63, 1)
    out["linux_second_hop"] = pkt(A, B, ioam.linux_hbh(size=12, remlen=2, data=data))
    out["linux_last_hop_full"] = pkt(A, B, ioam.linux_hbh(size=4, remlen=0))
    out["linux_overflow_set"] = pkt(A, B, ioam.linux_hbh(size=8, overflow=True))
    out["two_traces"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.padn(2)
                                                  + ioam.ioam_trace_option(size=4)
                                                  + ioam.ioam_trace_option(size=4)))
    out["misaligned"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.pad1()
                                                  + ioam.ioam_trace_option(size=4)))
    out["nodelen_mismatch"] = pkt(A, B, ioam.linux_hbh(size=8, nodelen=2))
    out["remlen_beyond_option"] = pkt(A, B, ioam.linux_hbh(size=8, remlen=100))
    out["ioam_short"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.padn(2) + ioam.tlv(0x31, b"\x00")))
    out["ioam_option_type_pot"] = pkt(A, B, ioam.ext_header(
        NH_ICMP, ioam.padn(2) + ioam.ioam_other_option(ioam.IOAM_POT, bytes(12))))
    out["padn_nonzero"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.padn(6, fill=1)))
    out["padding_run_8"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.pad1() * 8
                                                     + ioam.tlv(EXP, bytes(4)), hdrlen=1))
    out["nine_options"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.tlv(EXP) * 9))
    out["unknown_option_discard"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.tlv(0x9E, bytes(4))))
    out["router_alert_calipso"] = pkt(A, B, ioam.ext_header(
        NH_ICMP, ioam.tlv(0x05, b"\x00\x00") + ioam.tlv(0x07, bytes(8))))
    out["jumbo_option"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.padn(2) + ioam.tlv(0xC2, bytes(4))))
    out["hbh_beyond_packet"] = pkt(A, B, ioam.ext_header(NH_ICMP, ioam.padn(6), hdrlen=10))
    out["ioam_in_dstopts"] = pkt(A, B, ioam.ext_header(
        NH_ICMP, ioam.padn(2) + ioam.ioam_trace_option(size=4)), ext_nh=ioam.NH_DSTOPTS)
    chain = ioam.linux_hbh(nh=ioam.NH_DSTOPTS, size=4)
    chain += ioam.ext_header(43, ioam.padn(6))  # dst opts -> routing
    chain += bytes([44, 0, 0, 0, 0, 0, 0, 0])   # routing (type 0, no segments) -> fragment
    chain += bytes([NH_ICMP, 0, 0, 0, 0, 0, 0, 1])  # fragment -> ICMPv6
    out["extension_header_chain"] = pkt(A, B, chain)
    out["no_hbh"] = pkt(A, B)
    out["to_own_address"] = pkt(A, "db04::2", ioam.linux_hbh(size=8))
    out["hop_limit_1"] = pkt(A, B, ioam.linux_hbh(size=8), hlim=1)
    out["no_route"] = pkt(A, "dead::1", ioam.linux_hbh(size=8))
    out["no_neighbor"] = pkt(A, "db09::1", ioam.linux_hbh(size=8))
    out["link_local"] = pkt("fe80::1", B, ioam.linux_hbh(size=8))
    out["multicast_dst"] = pkt(A, "ff02::1", ioam.linux_hbh(size=8))
    out["jumbogram_plen0"] = with_plen(pkt(A, B, ioam.linux_hbh(size=8)), 0)
    out["plen_beyond_frame"] = with_plen(pkt(A, B, ioam.linux_hbh(size=8)), 400)
    out["ipv6_header_only"] = ioam.ipv6(A, B, b"", nh=59)
    out["large_8900"] = pkt(A, B, ioam.linux_hbh(size=12), data=bytes(8900 - 40 - 32 - 8))
    out["contig_plain"] = contiguous(lambda d: pkt(A, B, data=d))
    out["contig_plain_reverse"] = contiguous(lambda d: pkt(B, A, data=d))
    out["contig_bit0_size12"] = contiguous(lambda d: pkt(A, B, ioam.linux_hbh(size=12), data=d))
    out["contig_fff002_size244"] = contiguous(
        lambda d: pkt(A, B, ioam.linux_hbh(type24=0xFFF002, size=244), data=d))
    out["contig_second_hop"] = contiguous(lambda d: pkt(A, B, ioam.linux_hbh(
        size=12, remlen=2, data=bytes(8) + node_words(0x800000, 63, 1)), data=d))
    out["contig_hop_limit_1"] = contiguous(lambda d: pkt(A, B, hlim=1, data=d))
    return out


def encap_packets():
    A = "db01::1"
    out = {}
    out["to_encap_route"] = pkt(A, "db03::2")
    out["to_inline_route"] = pkt(A, "db05::7")
    out["to_auto_route"] = pkt(A, "db06::7")
    out["to_plain_route"] = pkt(A, "db02::9")
    out["inline_route_has_hbh"] = pkt(A, "db05::7", ioam.linux_hbh(size=8))
    out["encap_route_has_ioam"] = pkt(A, "db03::2", ioam.linux_hbh(size=8))
    out["near_mtu_encap"] = pkt(A, "db03::2", data=bytes(1500 - 40 - 8 - 10))
    out["near_mtu_inline"] = pkt(A, "db05::7", data=bytes(1500 - 40 - 8 - 20))
    out["hop_limit_2"] = pkt(A, "db03::2", hlim=2)
    out["to_own_address"] = pkt(A, "db01::2")
    # The reverse direction, into eth1 where IOAM is enabled.
    out["reverse_with_trace"] = pkt("db03::2", "db01::1", ioam.linux_hbh(size=12))
    # Regression (found by fuzz_encap): two HbH headers; the edge eth0 strips
    # the IOAM-only first one and must not promote the second, with IOAM.
    out["regress_two_hbh_to_edge"] = pkt("db03::2", "db01::1", TWO_HBH)
    out["contig_plain_route"] = contiguous(lambda d: pkt(A, "db02::9", data=d))
    out["contig_encap_route"] = contiguous(lambda d: pkt(A, "db03::2", data=d))
    out["contig_inline_route"] = contiguous(lambda d: pkt(A, "db05::7", data=d))
    out["contig_auto_route"] = contiguous(lambda d: pkt(A, "db06::7", data=d))
    out["contig_reverse_with_trace"] = contiguous(
        lambda d: pkt("db03::2", "db01::1", ioam.linux_hbh(size=12), data=d))
    return out


def decap_packets():
    athos, aramis = "db04::1", "db02::2"
    inner = pkt("db01::1", "db03::2")
    inner_ioam = pkt("db01::1", "db03::2", ioam.linux_hbh(size=8))
    data = bytes(4) + node_words(0x800000, 63, 2) + node_words(0x800000, 63, 1)
    outer_hbh = ioam.linux_hbh(nh=ioam.NH_IPV6, size=12, remlen=1, data=data)
    out = {}
    out["ip6ip6_linux_trace"] = ioam.encap_packet(athos, aramis, inner, hbh=outer_hbh)
    out["ip6ip6_full_trace"] = ioam.encap_packet(
        athos, aramis, inner, hbh=ioam.linux_hbh(nh=ioam.NH_IPV6, type24=0xFFF002, size=244))
    out["ip6ip6_no_hbh"] = ioam.encap_packet(athos, aramis, inner)
    out["ip6ip6_inner_ioam"] = ioam.encap_packet(athos, aramis, inner_ioam, hbh=outer_hbh)
    nested = ioam.encap_packet("db01::1", "db03::2", inner_ioam,
                               hbh=ioam.linux_hbh(nh=ioam.NH_IPV6, size=8))
    out["ip6ip6_nested_ioam"] = ioam.encap_packet(athos, aramis, nested, hbh=outer_hbh)
    # Outer ECN CE over a Not-ECT inner packet: RFC 6040 says drop.
    out["ip6ip6_outer_ce"] = ioam.encap_packet(athos, aramis, inner, hbh=outer_hbh)
    out["ip6ip6_outer_ce"] = bytes([0x60, 0x30]) + out["ip6ip6_outer_ce"][2:]
    limit = ioam.ext_header(ioam.NH_IPV6, ioam.tlv(0x04, b"\x04") + ioam.padn(3))
    out["ip6ip6_encap_limit"] = ioam.ipv6(athos, aramis, limit + inner, nh=ioam.NH_DSTOPTS)
    out["ip6ip6_inner_truncated"] = ioam.encap_packet(athos, aramis, inner[:30], hbh=outer_hbh)
    out["ip6ip6_inner_v4"] = ioam.encap_packet(athos, aramis, b"\x45" + inner[1:], hbh=outer_hbh)
    out["local_not_tunnel"] = pkt(athos, aramis, ioam.linux_hbh(size=8))
    out["from_outside_with_ioam"] = pkt("db03::2", "db01::1", ioam.linux_hbh(size=8))
    out["from_outside_ioam_and_ra"] = pkt("db03::2", "db01::1", ioam.ext_header(
        NH_ICMP, ioam.tlv(0x05, b"\x00\x00") + ioam.ioam_trace_option(size=8)))
    # Regressions (found by fuzz_decap): two HbH headers from outside (strip
    # on ingress) and inside a tunnel (strip on egress to Beta).
    out["regress_two_hbh_from_edge"] = pkt("db03::2", "db01::1", TWO_HBH)
    out["regress_two_hbh_in_tunnel"] = ioam.encap_packet(
        athos, aramis, pkt("db01::1", "db03::2", TWO_HBH), hbh=outer_hbh)
    out["contig_ip6ip6_linux_trace"] = contiguous(lambda d: ioam.encap_packet(
        athos, aramis, pkt("db01::1", "db03::2", data=d), hbh=outer_hbh))
    out["contig_ip6ip6_no_hbh"] = contiguous(lambda d: ioam.encap_packet(
        athos, aramis, pkt("db01::1", "db03::2", data=d)))
    out["contig_ip6ip6_inner_ioam"] = contiguous(lambda d: ioam.encap_packet(
        athos, aramis, pkt("db01::1", "db03::2", ioam.linux_hbh(size=8), data=d), hbh=outer_hbh))
    out["contig_plain_to_athos"] = contiguous(lambda d: pkt("db03::2", "db01::1", data=d))
    out["contig_from_outside_with_ioam"] = contiguous(
        lambda d: pkt("db03::2", "db01::1", ioam.linux_hbh(size=8), data=d))
    return out


def icmp6_checksum(src, dst, msg):
    """RFC 4443 §2.3 over the RFC 8200 §8.1 pseudo-header."""
    data = (ioam._a16(src) + ioam._a16(dst) + struct.pack("!IxxxB", len(msg), NH_ICMP)
            + msg + b"\0" * (len(msg) % 2))
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def nd_packet(src, dst, msg, hlim=255):
    msg = msg[:2] + struct.pack("!H", icmp6_checksum(src, dst, msg)) + msg[4:]
    return ioam.ipv6(src, dst, msg, nh=NH_ICMP, hlim=hlim)


def lla_opt(otype, mac):
    return bytes([otype, 1]) + ioam.mac_bytes(mac)


def ns_msg(target, opts=b""):
    return bytes([135, 0, 0, 0, 0, 0, 0, 0]) + ioam._a16(target) + opts


def na_msg(target, flags=0x60, opts=b""):
    return bytes([136, 0, 0, 0, flags, 0, 0, 0]) + ioam._a16(target) + opts


def solicited_node(target):
    a = ioam._a16(target)
    return "ff02::1:ff%02x:%02x%02x" % (a[13], a[14], a[15])


# The neighbour discovery node of tests/dp/role_configs.hpp (kNdYaml).
ND_ETH0, ND_ETH1 = "02:00:00:00:05:00", "02:00:00:00:05:01"
GW_MAC = "02:00:00:00:02:03"  # db02::3, the next hop of db03::/64


def cmd_frame(port, data, all_layouts=False):
    return bytes([port | (2 if all_layouts else 0)]) + struct.pack("!H", len(data)) + data


def cmd_wait(ms):
    out = b""
    while ms > 0:
        step = min(ms // 100, 127)
        out += bytes([0x80 | step])
        ms -= step * 100
    return out


def nd_scripts():
    def to_eth0(p, src_mac="02:00:00:00:04:01"):
        return cmd_frame(0, frame(ND_ETH0, src_mac, p))

    def to_eth1(p, src_mac=GW_MAC, dst_mac=ND_ETH1, all_layouts=False):
        return cmd_frame(1, frame(dst_mac, src_mac, p), all_layouts)

    ping_db03 = to_eth0(pkt("db01::1", "db03::1"))
    na_gw = nd_packet("db02::3", "db02::5", na_msg("db02::3", 0x60, lla_opt(2, GW_MAC)))
    na_gw_no_tlla = nd_packet("db02::3", "db02::5", na_msg("db02::3", 0x60))
    ns_for_us = nd_packet("db02::3", solicited_node("db02::5"),
                          ns_msg("db02::5", lla_opt(1, GW_MAC)))
    out = {}
    out["ns_for_us"] = to_eth1(ns_for_us, dst_mac="33:33:ff:00:00:05", all_layouts=True)
    out["ns_for_us_unicast_no_slla"] = to_eth1(nd_packet("db02::3", "db02::5", ns_msg("db02::5")),
                                              all_layouts=True)
    out["ns_dad"] = to_eth1(nd_packet("::", solicited_node("db06::5"), ns_msg("db06::5")),
                            dst_mac="33:33:ff:00:00:05")
    out["ns_link_local_target"] = to_eth0(nd_packet(
        "db04::1", solicited_node("fe80::ff:fe00:500"),
        ns_msg("fe80::ff:fe00:500", lla_opt(1, "02:00:00:00:04:01"))))
    out["na_unsolicited"] = to_eth1(nd_packet("db02::3", "ff02::1",
                                              na_msg("db02::3", 0x20, lla_opt(2, GW_MAC))),
                                    dst_mac="33:33:00:00:00:01")
    out["held_then_na"] = ping_db03 + to_eth1(na_gw)
    out["held_then_na_no_tlla"] = ping_db03 + to_eth1(na_gw_no_tlla) + cmd_wait(4000)
    out["held_four_layouts_then_na"] = (cmd_frame(0, frame(ND_ETH0, "02:00:00:00:04:01",
                                                           pkt("db01::1", "db03::1")), True)
                                        + to_eth1(na_gw, all_layouts=True))
    out["held_then_ns_teaches"] = to_eth0(pkt("db01::1", "db02::3")) + to_eth1(ns_for_us)
    out["held_unresolved"] = ping_db03 + cmd_wait(1000) + ping_db03 + cmd_wait(3000)
    out["held_tunnel_then_na"] = (to_eth0(pkt("db01::1", "db09::1"))
                                  + to_eth1(nd_packet("db02::7", "db02::5", na_msg(
                                      "db02::7", 0x60, lla_opt(2, "02:00:00:00:02:07")))))
    out["held_inline_encap"] = to_eth0(pkt("db01::1", "db0a::1")) + cmd_wait(3000)
    out["resolved_stale_delay_probe"] = (ping_db03 + to_eth1(na_gw) + cmd_wait(31000)
                                         + ping_db03 + cmd_wait(6000) + ping_db03)
    out["na_override_changes_mac"] = (ping_db03 + to_eth1(na_gw) + to_eth1(nd_packet(
        "db02::3", "db02::5", na_msg("db02::3", 0x20, lla_opt(2, "02:00:00:00:02:33"))))
        + ping_db03)
    out["cache_full"] = b"".join(to_eth0(pkt("db01::1", f"db02::{i:x}")) for i in range(16, 28))
    # Malformed options (RFC 4861 §4.6): zero length, past the end, a lone
    # type octet, two TLLAs, a 16-octet one.
    bad = {
        "zero_len": na_msg("db02::3", 0x60, bytes([2, 0]) + bytes(6)),
        "past_end": na_msg("db02::3", 0x60, bytes([2, 2]) + ioam.mac_bytes(GW_MAC)),
        "lone_type": na_msg("db02::3", 0x60, lla_opt(2, GW_MAC) + b"\x02"),
        "two_tlla": na_msg("db02::3", 0x60, lla_opt(2, GW_MAC) + lla_opt(2, "02:00:00:00:02:99")),
        "wide_tlla": na_msg("db02::3", 0x60, bytes([2, 2]) + bytes(14) + lla_opt(2, GW_MAC)),
    }
    for name, msg in bad.items():
        out[f"held_then_na_{name}"] = ping_db03 + to_eth1(nd_packet("db02::3", "db02::5", msg))
    out["ns_two_slla"] = to_eth1(nd_packet("db02::3", solicited_node("db02::5"), ns_msg(
        "db02::5", lla_opt(1, GW_MAC) + lla_opt(1, "02:00:00:00:02:99"))),
        dst_mac="33:33:ff:00:00:05")
    out["ns_dad_wide_slla"] = to_eth1(nd_packet("::", solicited_node("db02::5"), ns_msg(
        "db02::5", bytes([1, 2]) + bytes(14))), dst_mac="33:33:ff:00:00:05")
    out["ns_dad_to_all_nodes"] = to_eth1(nd_packet("::", "ff02::1", ns_msg("db02::5")),
                                         dst_mac="33:33:00:00:00:01")
    # A route whose neighbour is static, in all four layouts with the headers
    # in the first segment: the worker's fast path takes such bursts.
    plain = frame(ND_ETH1, GW_MAC, contiguous(lambda d: pkt("db03::2", "db01::1", data=d)))
    out["contig_plain_static"] = cmd_frame(1, plain, True) + cmd_frame(1, plain, True)
    return out


ROLE_MACS = {
    "transit": (("02:00:00:00:02:00", "02:00:00:00:01:01"),
                ("02:00:00:00:02:01", "02:00:00:00:03:00")),
    "encap": (("02:00:00:00:01:00", "02:00:00:00:00:01"),
              ("02:00:00:00:01:01", "02:00:00:00:02:00")),
    "decap": (("02:00:00:00:03:00", "02:00:00:00:02:01"),
              ("02:00:00:00:03:01", "02:00:00:00:00:04")),
}

# Which port each packet is meant for (0 = eth0); the rest go to eth0.
TO_ETH1 = {"reverse_with_trace", "from_outside_with_ioam", "from_outside_ioam_and_ra",
           "regress_two_hbh_to_edge", "regress_two_hbh_from_edge", "contig_plain_reverse",
           "contig_reverse_with_trace", "contig_plain_to_athos", "contig_from_outside_with_ioam"}


# Inputs the fuzzers found, kept verbatim because no builder above makes
# them: a Neighbor Solicitation from a multicast source, on which
# make_neighbor_advert and check_nd once disagreed (RFC 4291 §2.7).
FOUND = {
    "parsers": {
        "regress_ns_from_multicast_source": bytes.fromhex(
            "6000000000283affffffffffffffffff0000000000000000ff02000000000000"
            "00000001ff00000587009e8900000000db020000000000000000000001050000"
            "00020000000000000000000000000000"),
    },
}


def write(target, name, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main():
    for target in ("transit", "encap", "decap", "nd", "parsers", "config"):
        shutil.rmtree(HERE / "corpus" / target, ignore_errors=True)
    roles = {"transit": transit_packets(), "encap": encap_packets(), "decap": decap_packets()}
    for role, packets in roles.items():
        (eth0, eth1) = ROLE_MACS[role]
        for name, p in packets.items():
            dst, src = eth1 if name in TO_ETH1 else eth0
            write(role, name, frame(dst, src, p))
            if len(p) < 1500:
                write(role, name + "_mcast", frame(MCAST, src, p))
            write("parsers", f"{role}_{name}", p)
        # Not IPv6, too short, and the 60-octet minimum frame.
        ipv4 = bytes([0x45, 0, 0, 46]) + bytes(4) + bytes([64, 1, 0, 0]) + bytes(8) + bytes(26)
        write(role, "ipv4", ioam.ether(eth0[0], eth0[1], ipv4, ethertype=0x0800))
        write(role, "runt_20", frame(eth0[0], eth0[1], packets[next(iter(packets))])[:20])
        short = ioam.ipv6("db01::1", "db03::2", b"\xab\xcd", nh=59)
        write(role, "min_frame_60", frame(eth0[0], eth0[1], short) + bytes(4))
    for name, script in nd_scripts().items():
        write("nd", name, script)
        # The script's frames on their own, as IPv6 packets, for check_nd and
        # make_neighbor_advert in fuzz_parsers.
        i = n = 0
        while i < len(script):
            if script[i] & 0x80:
                i += 1
                continue
            length = struct.unpack("!H", script[i + 1:i + 3])[0]
            f = script[i + 3:i + 3 + length]
            i += 3 + length
            if f[12:14] == b"\x86\xdd" and len(f) > 54 and f[54] in (135, 136):
                write("parsers", f"nd_{name}_{n}", f[14:])
                n += 1
    for target, inputs in FOUND.items():
        for name, data in inputs.items():
            write(target, name, data)
    for cfg in ("athos", "porthos", "aramis"):
        write("config", f"seed_{cfg}.yaml", (REPO / "config" / f"{cfg}.yaml").read_bytes())
    write("config", "bad_mtu.yaml", b"ports:\n  - {name: eth0, device: d, mtu: 80}\n")
    write("config", "bad_duplicate_key.yaml",
          b"ports:\n  - name: eth0\n    name: eth1\n    device: d\n")
    write("config", "bad_flow.yaml", b"ports: [{name: eth0, device: d}\n")
    write("config", "encap_all_modes.yaml", b"""\
node: {id: 1}
ports:
  - {name: eth0, device: a, addresses: [db01::2/64], ioam: {enabled: true}}
  - {name: eth1, device: b, addresses: [db04::1/64], edge: true, edge_policy: drop, decap: true}
namespaces: [{id: 9, schema: 5}]
schemas: [{id: 5, data: "x"}]
routes:
  - {prefix: db03::/64, via: db04::2, port: eth1, encap: {mode: auto, tundst: db02::2, freq: 3/7, trace: {type: 0x800002, ns: 9, size: 244}}}
  - {prefix: "::/0", via: db04::2, port: eth1, encap: {trace: {type: 0xfff002, ns: 0, size: 4}}}
neighbors: [{address: db04::2, mac: 02:00:00:00:02:00, port: eth1}]
""")


if __name__ == "__main__":
    main()
