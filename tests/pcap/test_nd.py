"""Neighbor Discovery (RFC 4861): the appliance answers Neighbor
Solicitations for its own addresses with Neighbor Advertisements, as a
router does, and drops invalid ones (counter ``nd_invalid``).

Every advertisement is compared byte for byte with one built here with
Scapy from RFC 4861 (ioam_scapy.neighbor_advert): from the target address,
to the solicitor (all-nodes ff02::1 for Duplicate Address Detection, with
the Solicited flag clear), hop limit 255, flags Router, Solicited and
Override, a Target Link-Layer Address option with the receiving port's MAC;
sent straight back out of the receiving port to the frame's source MAC
(33:33:00:00:00:01 for DAD). tshark must find every checksum good.

The run has ``icmp: {rate: 0}``: the rate limit of RFC 4443 2.4 (f) is for
ICMPv6 error messages and must leave Neighbor Discovery alone.

Each solicitation comes from its own source MAC 02:00:00:00:0a:<tag>, which
the advertisement goes back to; DAD answers are told apart by target.
"""

from __future__ import annotations

import ipaddress
import shutil
from collections import Counter
from dataclasses import dataclass
from typing import List, Optional

import pytest
from scapy.layers.inet6 import (IPv6, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr)
from scapy.packet import Raw

import ioam_scapy as ioam
import pcaptest as pt

ETH0_A, ETH0_B, ETH1_A = "db04::2", "db04::3", "db02::1"
MAC = {0: pt.ETH0_MAC, 1: pt.ETH1_MAC}

CONFIG = f"""\
node: {{id: 2, id_wide: 22222222}}
ports:
  - name: eth0
    device: net_pcap0
    mac: {pt.ETH0_MAC}
    addresses: [db04::2/64, db04::3/64, db04::4/64, db04::5/64]
    ioam: {{enabled: true, id: 201, id_wide: 201201}}
  - name: eth1
    device: net_pcap1
    mac: {pt.ETH1_MAC}
    addresses: [db02::1/64]
    ioam: {{id: 202, id_wide: 202202}}
namespaces:
  - {{id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de}}
routes:
  - {{prefix: "db03::/64", port: eth1, via: "db02::2"}}
  - {{prefix: "db01::/64", port: eth0, via: "db04::1"}}
neighbors:
  - {{address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}}
  - {{address: "db04::1", mac: "02:00:00:00:01:01", port: eth0}}
  - {{address: "fe80::1", mac: "{pt.ATHOS_MAC}", port: eth0}}
icmp: {{rate: 0}}
"""


def src_mac(tag: int) -> str:
    return f"02:00:00:00:0a:{tag:02x}"


def solicitor(tag: int, port: int = 0) -> str:
    return f"db04::1:{tag:x}" if port == 0 else f"db02::1:{tag:x}"


@dataclass
class NCase:
    name: str
    tag: int
    frame: bytes
    port: int = 0
    answer: Optional[bytes] = None          # expected NA frame
    drop: Optional[str] = None
    counter: Optional[str] = None           # its counter in the stats group "icmp"
    learns: bool = False                    # its SLLA goes to neighbour discovery (7.2.3)


def ns_frame(tag: int, target: str, *, src: Optional[str] = None, dst: Optional[str] = None,
             hlim: int = 255, code: int = 0, sllao: bool = True, options: bytes = b"",
             port: int = 0, dst_mac: Optional[str] = None, raw_icmp: Optional[bytes] = None,
             corrupt: bool = False, hbh: bytes = b"") -> bytes:
    """A Neighbor Solicitation from the solicitor of ``tag`` (default: to
    the target's solicited-node group, with a Source Link-Layer Address
    option carrying the frame's source MAC)."""
    src = solicitor(tag, port) if src is None else src
    dst = ioam.solicited_node(target) if dst is None else dst
    mac = src_mac(tag)
    if raw_icmp is not None:
        pkt = ioam.with_icmp6_checksum(ioam.ipv6(src, dst, raw_icmp, nh=ioam.NH_ICMPV6,
                                                 hlim=hlim))
    else:
        icmp = ICMPv6ND_NS(code=code, tgt=target)
        if sllao:
            icmp = icmp / ICMPv6NDOptSrcLLAddr(lladdr=mac)
        if options:
            icmp = icmp / Raw(options)
        pkt = bytes(IPv6(src=src, dst=dst, hlim=hlim) / icmp)
    if hbh:
        pkt = ioam.ipv6(src, dst, hbh + pkt[40:], nh=ioam.NH_HOPOPTS, hlim=hlim)
    if corrupt:
        pkt = pkt[:42] + bytes([pkt[42] ^ 0xA5]) + pkt[43:]
    if dst_mac is None:
        a = ipaddress.IPv6Address(dst)
        dst_mac = ioam.multicast_mac(dst) if a.is_multicast else MAC[port]
    return ioam.ether(dst_mac, mac, pkt)


def na_frame(target: str, dst: str, l2_dst: str, port: int = 0, solicited: bool = True
             ) -> bytes:
    return ioam.ether(l2_dst, MAC[port], ioam.neighbor_advert(target, dst, MAC[port],
                                                              solicited=solicited))


def _cases() -> List[NCase]:
    cases: List[NCase] = []
    tags = iter(range(1, 250))

    def answered(name, target, *, port=0, **kw):
        t = next(tags)
        f = ns_frame(t, target, port=port, **kw)
        src = str(ipaddress.IPv6Address(f[14 + 8:14 + 24]))
        cases.append(NCase(name, t, f, port, na_frame(target, src, src_mac(t), port),
                           counter="nd_advert", learns=kw.get("sllao", True)))

    def dad(name, target):
        t = next(tags)
        f = ns_frame(t, target, src="::", sllao=False)
        cases.append(NCase(name, t, f, 0, na_frame(target, ioam.ALL_NODES,
                                                   ioam.ALL_NODES_MAC, solicited=False),
                           counter="nd_advert"))

    def dropped(name, target, drop, **kw):
        t = next(tags)
        cases.append(NCase(name, t, ns_frame(t, target, **kw), kw.get("port", 0), drop=drop))

    # --- answered (RFC 4861 7.2.3, 7.2.4) -------------------------------------------
    answered("solicited_node_group", ETH0_A)
    answered("second_address", ETH0_B)
    answered("unicast", ETH0_A, dst=ETH0_A)
    answered("unicast_without_sllao", ETH0_A, dst=ETH0_A, sllao=False)
    answered("link_local_source", ETH0_A, src="fe80::1:2")
    answered("link_local_source_unicast", ETH0_B, src="fe80::1:3", dst=ETH0_B)
    # 4.6 / 7.1.1: options the node does not know are ignored
    answered("unknown_option_ignored", ETH0_A, options=bytes([200, 1]) + bytes(6))
    answered("eth1_address_on_eth1", ETH1_A, port=1)
    # 7.1.1 has no rule about extension headers: a valid NS behind a HbH counts
    answered("behind_hop_by_hop", ETH0_A, hbh=ioam.ext_header(ioam.NH_ICMPV6, ioam.padn(6)))
    dad("dad_first_address", ETH0_A)
    dad("dad_second_address", ETH0_B)

    # --- not one of the receiving port's addresses: not answered (7.2.3) --------------
    dropped("target_on_other_port_group", ETH1_A, "multicast")
    dropped("target_on_other_port_unicast", ETH1_A, "local_delivery", dst=ETH0_A)
    dropped("target_not_ours_group", "db04::99", "multicast")
    dropped("target_not_ours_unicast", "db04::99", "local_delivery", dst=ETH0_A)

    # --- invalid (7.1.1): silently discarded ----------------------------------------
    dropped("hop_limit_254", ETH0_A, "nd_invalid", hlim=254)
    dropped("hop_limit_64_unicast", ETH0_A, "nd_invalid", hlim=64, dst=ETH0_A)
    dropped("bad_checksum", ETH0_A, "nd_invalid", corrupt=True)
    dropped("code_1", ETH0_A, "nd_invalid", code=1)
    dropped("target_multicast", "ff02::1", "nd_invalid", dst=ETH0_A)
    # ICMP length (from the IP length) below 24 octets, checksum correct
    target = ipaddress.IPv6Address(ETH0_A).packed
    dropped("truncated_20_octets", ETH0_A, "nd_invalid",
            raw_icmp=bytes([135, 0, 0, 0]) + bytes(4) + target[:12])
    dropped("truncated_8_octets", ETH0_A, "nd_invalid", raw_icmp=bytes([135, 0, 0, 0, 0, 0, 0, 0]))
    dropped("option_length_zero", ETH0_A, "nd_invalid", options=bytes([14, 0]) + bytes(6))
    dropped("dad_with_sllao", "db04::4", "nd_invalid", src="::")
    dropped("dad_to_unicast", "db04::5", "nd_invalid", src="::", dst="db04::5", sllao=False)
    return cases


CASES = _cases()
BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES)

# Other traffic in the same run (tag = flow label).
LINK_LOCAL_FWD = ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC, ioam.icmp_packet(
    "fe80::1", pt.BETA_RX, fl=900, seq=900))
ALL_NODES_ECHO = ioam.ether(ioam.ALL_NODES_MAC, pt.ATHOS_MAC, ioam.icmp_packet(
    pt.ALPHA, ioam.ALL_NODES, fl=901, seq=901))
GROUP_NOT_ND = ioam.ether(ioam.multicast_mac(ioam.solicited_node(ETH0_A)), pt.ATHOS_MAC,
                          ioam.icmp_packet(pt.ALPHA, ioam.solicited_node(ETH0_A), fl=902,
                                           seq=902))
# A link-local source may reach the appliance: an Echo Request from Athos's
# link-local address (a static neighbour) is answered out of eth0; the
# reply is not "forwarded" (RFC 4291 2.5.6 forbids forwarding link-local
# traffic to other links, not answering it on the link it came from).
LINK_LOCAL_ECHO = ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC, ioam.icmp_packet(
    "fe80::1", ETH0_A, fl=903, seq=903))
OTHER = {"link_local_source_forwarded": (LINK_LOCAL_FWD, "link_local"),
         "echo_to_all_nodes": (ALL_NODES_ECHO, "multicast"),
         "echo_to_solicited_node_group": (GROUP_NOT_ND, "multicast")}


@pytest.fixture(scope="module")
def nd_run(batch_dir):
    inputs = {0: [], 1: []}
    for c in CASES:
        inputs[c.port].append(c.frame)
    inputs[0] += [f for f, _ in OTHER.values()] + [LINK_LOCAL_ECHO]
    return pt.run_appliance(batch_dir("nd"), CONFIG, inputs)


def _advert_key(f: bytes):
    """(L2 destination, target) of a Neighbor Advertisement frame."""
    if f[12:14] != b"\x86\xdd" or len(f) < 14 + 64 or f[14 + 6] != ioam.NH_ICMPV6 \
            or f[14 + 40] != ioam.ND_NEIGHBOR_ADVERT:
        return None
    return ioam.mac_str(f[:6]), str(ipaddress.IPv6Address(f[14 + 48:14 + 64]))


def _adverts_for(run: pt.RunResult, c: NCase):
    """The advertisements that answer ``c``: to its source MAC, or (DAD) to
    all-nodes for its target (each DAD case has a target of its own)."""
    if c.answer is not None:
        key = _advert_key(c.answer)
        hit = lambda f: _advert_key(f) == key  # noqa: E731
    elif c.frame[14 + 8:14 + 24] == bytes(16):
        key = (ioam.ALL_NODES_MAC, str(ipaddress.IPv6Address(c.frame[14 + 48:14 + 64])))
        hit = lambda f: _advert_key(f) == key  # noqa: E731
    else:
        hit = lambda f: f[:6] == ioam.mac_bytes(src_mac(c.tag))  # noqa: E731
    return [(p, f) for p in sorted(run.out) for f in run.out[p] if hit(f)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_solicitation(case, nd_run):
    got = _adverts_for(nd_run, case)
    if case.answer is None:
        assert got == [], (f"{case.name}: expected no advertisement (drop {case.drop}), got "
                           f"{[(p, f.hex()) for p, f in got]}\n{nd_run.describe()}")
        return
    assert [p for p, _ in got] == [case.port], (
        f"{case.name}: expected one advertisement on port {case.port}, got "
        f"{[(p, f.hex()) for p, f in got]}\n{nd_run.describe()}")
    actual = got[0][1]
    assert actual == case.answer, (f"{case.name}: advertisement differs\n"
                                   f"{ioam.hexdiff(case.answer, actual)}\n"
                                   f"expected {case.answer.hex()}\nactual   {actual.hex()}")
    assert ioam.icmp6_checksum_ok(actual[14:])


def test_advertisement_fields(nd_run):
    """The first answer field by field, written out from RFC 4861 4.4."""
    c = BY_NAME["solicited_node_group"]
    ((_, f),) = _adverts_for(nd_run, c)
    na = IPv6(f[14:])
    assert na.hlim == 255 and na.tc == 0 and na.fl == 0
    assert na.src == ETH0_A and na.dst == solicitor(c.tag)
    n = na[ICMPv6ND_NA]
    assert (n.type, n.code, n.R, n.S, n.O, n.res) == (136, 0, 1, 1, 1, 0)
    assert n.tgt == ETH0_A
    assert bytes(n.payload) == bytes([2, 1]) + ioam.mac_bytes(pt.ETH0_MAC)
    dad = IPv6(_adverts_for(nd_run, BY_NAME["dad_first_address"])[0][1][14:])
    assert dad.dst == "ff02::1" and (dad[ICMPv6ND_NA].S, dad[ICMPv6ND_NA].R,
                                     dad[ICMPv6ND_NA].O) == (0, 1, 1)


@pytest.mark.parametrize("name", list(OTHER))
def test_other_traffic_dropped(name, nd_run):
    """A link-local source is still not forwarded; multicast other than ND
    to the port's own groups is dropped; neither gets an answer."""
    f, _ = OTHER[name]
    tag = pt.frame_tag(f)
    assert [x for p in nd_run.out for x in nd_run.out[p] if pt.frame_tag(x) == tag] == []
    assert all(pt.answer_tag(x) != tag for p in nd_run.out for x in nd_run.out[p])


def test_echo_from_link_local_source(nd_run):
    got = pt.answers(nd_run.out[0]).get(903, [])
    want = ioam.ether(pt.ATHOS_MAC, pt.ETH0_MAC, ioam.echo_reply_for(LINK_LOCAL_ECHO[14:]))
    assert got == [want], (f"expected the Echo Reply to fe80::1 on eth0, got "
                           f"{[f.hex() for f in got]}\n{nd_run.describe()}")


def test_counters(nd_run):
    run = nd_run
    drops = Counter(c.drop for c in CASES if c.drop)
    drops.update(d for _, d in OTHER.values())
    assert run.drops == dict(drops), run.describe()
    icmp = Counter(c.counter for c in CASES if c.counter)
    icmp["icmp_echo_reply"] += 1                                  # LINK_LOCAL_ECHO
    # Each answered solicitation with a source link-layer address also
    # teaches neighbour discovery its sender (RFC 4861 7.2.3).
    icmp["nd_solicit_learnt"] = sum(1 for c in CASES if c.learns)
    assert run.icmp == dict(icmp), run.describe()
    assert sum(len(v) for v in run.out.values()) == sum(1 for c in CASES if c.answer) + 1
    assert run.port("eth1")["tx"] == sum(1 for c in CASES if c.answer and c.port == 1)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_checksums(nd_run, tmp_path):
    frames = [f for p in sorted(nd_run.out) for f in nd_run.out[p]
              if f[14 + 40:14 + 41] == bytes([ioam.ND_NEIGHBOR_ADVERT])]
    pcap = tmp_path / "na.pcap"
    pt.write_pcap(pcap, frames)
    got = pt.tshark_icmp6(pcap)
    assert len(got) == len(frames) > 0
    assert all(g == {"type": 136, "checksum": "Good", "malformed": False} for g in got), got
