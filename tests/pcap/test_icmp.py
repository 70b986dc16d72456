"""ICMPv6 the appliance originates as a router (RFC 4443): Echo Replies to
its own addresses, Time Exceeded, Destination Unreachable and Packet Too
Big about the packets it drops, the suppression rules of section 2.4 (e),
the rate limit of section 2.4 (f), and the appliance's own packets on IOAM
encap routes.

Every message is compared byte for byte, whole frame, with one built here
with Scapy from the RFC text (ioam_scapy.time_exceeded / dest_unreach /
packet_too_big / echo_reply_for); the quoted invoking packet is the packet
as it was when dropped (the reference model's transit fill included), and
tshark must find every checksum good.

The appliance's documented choices on top of the RFCs: errors come from the
first address of the port the offending packet arrived on, hop limit 64,
traffic class and flow label 0; Echo Replies come from the request's
destination with hop limit 64, the request's traffic class and flow label 0,
and no extension headers.

One appliance run per configuration; cases are told apart by the flow label
of the packet sent (the tag), which an error quotes, and by the Echo
Request's sequence number (= tag), which the Echo Reply returns.
"""

from __future__ import annotations

import ipaddress
import shutil
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (IPv6, ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6PacketTooBig, ICMPv6ParamProblem, ICMPv6TimeExceeded,
                                ICMPv6ND_Redirect)
from scapy.packet import Raw

import encap_model as em
import ioam_scapy as ioam
import pcaptest as pt

ALPHA, BETA = pt.ALPHA, pt.BETA_RX
ETH0_A, ETH0_B, ETH1_A = "db04::2", "db04::3", "db02::1"
ETH2_MAC = "02:00:00:00:02:02"
MAC = {0: pt.ETH0_MAC, 1: pt.ETH1_MAC, 2: ETH2_MAC}
PEER = {0: pt.ATHOS_MAC, 1: pt.ARAMIS_MAC, 2: "02:00:00:00:05:00"}
MTU1 = 1400
BCAST = "ff:ff:ff:ff:ff:ff"

# Porthos (seed 002) with the return route to Alpha's link that
# config/porthos.yaml has, a second address on eth0, an MTU on eth1, a
# route whose gateway has no neighbour entry and a port without addresses.
# Neighbour discovery gives up after one solicitation and 100 ms, so the
# Destination Unreachable (address unreachable) of an unresolved next hop
# comes within the run's 300 ms idle exit.
CONFIG = f"""\
node: {{id: 2, id_wide: 22222222}}
nd: {{retrans_ms: 100, max_solicit: 1}}
ports:
  - name: eth0
    device: net_pcap0
    mac: {pt.ETH0_MAC}
    addresses: [db04::2/64, db04::3/64]
    ioam: {{enabled: true, id: 201, id_wide: 201201}}
  - name: eth1
    device: net_pcap1
    mac: {pt.ETH1_MAC}
    addresses: [db02::1/64]
    mtu: {MTU1}
    ioam: {{id: 202, id_wide: 202202}}
  - name: eth2
    device: net_pcap2
    mac: {ETH2_MAC}
namespaces:
  - {{id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de}}
routes:
  - {{prefix: "db03::/64", port: eth1, via: "db02::2"}}
  - {{prefix: "db01::/64", port: eth0, via: "db04::1"}}
  - {{prefix: "db07::/64", port: eth0, via: "db04::9"}}
  - {{prefix: "db03:0:0:1::/64", port: eth2, via: "db05::2"}}
neighbors:
  - {{address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}}
  - {{address: "db04::1", mac: "02:00:00:00:01:01", port: eth0}}
  - {{address: "db05::2", mac: "02:00:00:00:05:00", port: eth2}}
"""
NO_ROUTE_SRC = "db0a::1"              # no route back: errors to it are dropped
NO_NEIGH_SRC = "db07::1"              # route back via db04::9, which has no neighbour


# --------------------------------------------------------------------------
# Frames and expected answers
# --------------------------------------------------------------------------

def frame(pkt, *, port: int = 0, dst_mac: Optional[str] = None) -> bytes:
    return ioam.ether(dst_mac or MAC[port], PEER[port], bytes(pkt))


def echo(tag: int, *, src: str = ALPHA, dst: str = BETA, hlim: int = 64, tc: int = 0,
         ext: bytes = b"", ext_nh: int = ioam.NH_HOPOPTS, data: bytes = b"ioamfwd-icmp-test",
         port: int = 0, dst_mac: Optional[str] = None) -> bytes:
    pkt = ioam.icmp_packet(src, dst, ext=ext, ext_nh=ext_nh, hlim=hlim, fl=tag, tc=tc,
                           ident=0xBEEF, seq=tag, data=data)
    return frame(pkt, port=port, dst_mac=dst_mac)


def sized(tag: int, length: int, **kw) -> bytes:
    """An Echo Request whose IPv6 packet is ``length`` octets long."""
    return echo(tag, data=bytes((i * 7 + tag) & 0xFF for i in range(length - 48)), **kw)


def icmp_raw(tag: int, icmp, *, src: str = ALPHA, dst: str = BETA, hlim: int = 1) -> bytes:
    return frame(IPv6(src=src, dst=dst, hlim=hlim, fl=tag) / icmp)


QUOTED = bytes(IPv6(src=BETA, dst=ALPHA, hlim=3) / ICMPv6EchoRequest(id=1, seq=2))


@dataclass
class Answer:
    """One message the appliance must send: leaves by ``port`` to ``mac``;
    ``build(actual IPv6 packet)`` gives the expected IPv6 packet (the words
    of the quoted packet a model cannot predict are taken from the actual
    message after a plausibility check)."""
    port: int
    mac: str
    build: Callable[[bytes, pt.RunResult], bytes]


def error_answer(kind: int, src: str, dst: str, invoking: bytes, *, code: int = 0,
                 mtu: int = 0, variables=(), port: int = 0) -> Answer:
    def build(actual: bytes, run: pt.RunResult) -> bytes:
        inv = bytearray(invoking)
        seen: Dict[str, List[int]] = {}
        for off, kind_ in variables:
            a = 48 + off
            if off + 4 <= ioam.IPV6_MIN_MTU - 48 and a + 4 <= len(actual):
                inv[off:off + 4] = actual[a:a + 4]
                seen.setdefault(kind_, []).append(int.from_bytes(actual[a:a + 4], "big"))
        pt.check_variables(seen, run, forwarded=False)
        return ioam.icmp6_error(kind, src, dst, bytes(inv), code=code, mtu=mtu)
    return Answer(port, PEER[port], build)


def reply_answer(request_frame: bytes, *, port: int = 0) -> Answer:
    return Answer(port, PEER[port], lambda _a, _r: ioam.echo_reply_for(request_frame[14:]))


def as_dropped(f: bytes, *, ingress: str = "eth0") -> Tuple[bytes, list]:
    """The offending packet as the node holds it when it drops it: the
    reference model's fill of its IOAM trace (transit node), the hop limit
    as received, Ethernet padding trimmed; plus the offsets of the words
    the model cannot predict."""
    m = ioam.linux_transit(f[14:], pt.profile_for(CONFIG, f, ingress=ingress))
    return ioam.set_hop_limit(m.packet, f[14 + 7]), m.variables


@dataclass
class ICase:
    name: str
    frame: bytes
    port: int = 0
    drop: Optional[str] = None               # drop counter of the packet sent
    counter: Optional[str] = None            # "icmp" counter it adds
    answer: Optional[Answer] = None          # the message the appliance sends
    answer_drop: Optional[str] = None        # the message's own drop (no way back)
    forward: Optional[bytes] = None          # expected forwarded frame (on eth1)
    events: List[str] = field(default_factory=list)
    held: bool = False                       # handed to neighbour discovery (nd_held)

    @property
    def tag(self) -> int:
        return pt.frame_tag(self.frame)


def _cases() -> List[ICase]:
    cases: List[ICase] = []
    tags = iter(range(1, 1000))

    def add(name, build, **kw):
        f = build(next(tags))
        cases.append(ICase(name, f, **kw))
        return cases[-1]

    def te(name, build, *, src_addr=ETH0_A, port=0, **kw):
        """A packet that must get Time Exceeded (quoting it as dropped)."""
        c = add(name, build, port=port, drop="hop_limit_exceeded", counter="icmp_time_exceeded",
                **kw)
        inv, var = as_dropped(c.frame, ingress=f"eth{port}")
        sender = str(ipaddress.IPv6Address(inv[8:24]))
        c.answer = error_answer(ioam.ICMP6_TIME_EXCEEDED, src_addr, sender, inv, variables=var,
                                port=port)
        return c

    def du(name, build, code, drop):
        c = add(name, build, drop=drop, counter="icmp_unreachable")
        inv, var = as_dropped(c.frame)
        c.answer = error_answer(ioam.ICMP6_DEST_UNREACH, ETH0_A, ALPHA, inv, code=code,
                                variables=var)
        return c

    def du_nd(name, build):
        """A packet whose next hop never answers: held, solicited, then
        Destination Unreachable code 3 quoting it as it was to leave (hop
        limit decremented, as Linux's neighbour failure does); the drop is
        counted by neighbour discovery (nd group), not as no_neighbor."""
        c = add(name, build, held=True)
        inv, var = as_dropped(c.frame)
        inv = ioam.set_hop_limit(inv, c.frame[14 + 7] - 1)
        c.answer = error_answer(ioam.ICMP6_DEST_UNREACH, ETH0_A, ALPHA, inv, code=3,
                                variables=var)
        return c

    def ptb(name, build, mtu, **kw):
        c = add(name, build, drop="mtu_exceeded", counter="icmp_packet_too_big", **kw)
        inv, var = as_dropped(c.frame)
        c.answer = error_answer(ioam.ICMP6_PACKET_TOO_BIG, ETH0_A, ALPHA, inv, mtu=mtu,
                                variables=var)
        return c

    def reply(name, build, *, port=0, **kw):
        c = add(name, build, port=port, counter="icmp_echo_reply", **kw)
        c.answer = reply_answer(c.frame, port=port)
        return c

    def suppressed(name, build, drop, **kw):
        return add(name, build, drop=drop, counter="icmp_suppressed", **kw)

    # --- Time Exceeded (RFC 4443 3.3), code 0 ---------------------------------------
    te("te_hop_limit_1", lambda t: echo(t, hlim=1))
    te("te_hop_limit_0", lambda t: echo(t, hlim=0))
    # the trace this node filled before the drop is in the quoted packet
    te("te_ioam_filled", lambda t: echo(t, hlim=1, ext=ioam.linux_hbh(
        ioam.NH_ICMPV6, 123, 0xFFF002, 64)), events=[ioam.EV_FILLED])
    te("te_udp_traffic_class", lambda t: frame(
        IPv6(src=ALPHA, dst=BETA, hlim=1, tc=0xB8, fl=t) / UDP(sport=4321, dport=9)
        / Raw(b"udp payload")))
    te("te_about_echo_reply", lambda t: icmp_raw(t, ICMPv6EchoReply(id=7, seq=t)))
    te("te_big_truncated", lambda t: sized(t, 1500, hlim=1))
    # arrives on eth1: from eth1's address, back out of eth1 to Aramis
    te("te_from_eth1", lambda t: echo(t, src=BETA, dst=ALPHA, hlim=1, port=1),
       src_addr=ETH1_A, port=1)

    # --- Destination Unreachable (RFC 4443 3.1) -----------------------------------------
    du("du_no_route", lambda t: echo(t, dst="db09::1"), 0, "no_route")
    du_nd("du_no_neighbor_via", lambda t: echo(t, dst="db07::5"))
    du_nd("du_no_neighbor_on_link", lambda t: echo(t, dst="db02::77"))
    # 48 + 1232 = 1280: quoted whole; one octet more is cut
    du("du_quote_1232_whole", lambda t: sized(t, 1232, dst="db09::1"), 0, "no_route")
    du("du_quote_1233_cut", lambda t: sized(t, 1233, dst="db09::1"), 0, "no_route")

    # --- Packet Too Big (RFC 4443 3.2): eth1's MTU ------------------------------------------
    ptb("ptb_one_over", lambda t: sized(t, MTU1 + 1), MTU1)
    ptb("ptb_ioam_filled", lambda t: sized(t, MTU1 + 1, ext=ioam.linux_hbh(
        ioam.NH_ICMPV6, 123, 0x800000, 12)), MTU1, events=[ioam.EV_FILLED])
    # RFC 4443 2.4 (e.3)-(e.5) exception: sent for a link-layer multicast frame
    ptb("ptb_l2_multicast", lambda t: sized(t, MTU1 + 1, dst_mac=ioam.ALL_NODES_MAC), MTU1)
    c = add("at_mtu_forwarded", lambda t: sized(t, MTU1))
    c.forward = pt.expect(c.frame, pt.profile_for(CONFIG, c.frame)).frame

    # --- Echo Reply (RFC 4443 4.2) ----------------------------------------------------
    reply("echo_first_address", lambda t: echo(t, dst=ETH0_A))
    reply("echo_second_address", lambda t: echo(t, dst=ETH0_B))
    reply("echo_eth1_address_via_eth0", lambda t: echo(t, dst=ETH1_A))
    reply("echo_traffic_class", lambda t: echo(t, dst=ETH0_A, tc=0xB9))
    reply("echo_hop_limit_1", lambda t: echo(t, dst=ETH0_A, hlim=1))
    # the destination node fills the trace (events), the reply carries none of it
    reply("echo_hbh_ioam", lambda t: echo(t, dst=ETH0_A, ext=ioam.linux_hbh(
        ioam.NH_ICMPV6, 123, 0xFFF002, 64)), events=[ioam.EV_FILLED])
    reply("echo_hbh_dstopts", lambda t: echo(
        t, dst=ETH0_A, ext=ioam.ext_header(ioam.NH_DSTOPTS, ioam.padn(6))
        + ioam.ext_header(ioam.NH_ICMPV6, ioam.tlv(0x1E, bytes(4)))))
    reply("echo_odd_data", lambda t: echo(t, dst=ETH0_A, data=b"1234567"))
    reply("echo_no_data", lambda t: echo(t, dst=ETH0_A, data=b""))
    reply("echo_1500_octets", lambda t: sized(t, 1500, dst=ETH0_A))
    reply("echo_ethernet_trailer", lambda t: echo(t, dst=ETH0_A) + b"\xee" * 10)
    reply("echo_from_eth1", lambda t: echo(t, src=BETA, dst=ETH1_A, port=1), port=1)
    c = add("echo_bad_checksum", lambda t: echo(t, dst=ETH0_A), drop="icmp_bad_checksum")
    bad = bytearray(c.frame)
    bad[14 + 40 + 2] ^= 0x5A
    c.frame = bytes(bad)
    c = reply("echo_to_us_no_route_back", lambda t: echo(t, src=NO_ROUTE_SRC, dst=ETH0_A))
    c.answer, c.answer_drop = None, "no_route"

    # --- not sent (RFC 4443 2.4 (e)) -----------------------------------------------
    for kind, msg in ((1, ICMPv6DestUnreach(code=1)), (2, ICMPv6PacketTooBig(mtu=1280)),
                      (3, ICMPv6TimeExceeded()), (4, ICMPv6ParamProblem(code=2, ptr=40))):
        suppressed(f"about_error_type{kind}", lambda t, m=msg: icmp_raw(t, m / QUOTED),
                   "hop_limit_exceeded")
    suppressed("about_error_behind_hbh", lambda t: frame(
        ioam.ipv6(ALPHA, BETA, ioam.ext_header(ioam.NH_ICMPV6, ioam.padn(6))
                  + bytes(IPv6(src=ALPHA, dst=BETA) / ICMPv6TimeExceeded() / QUOTED)[40:],
                  nh=ioam.NH_HOPOPTS, hlim=1, fl=t)), "hop_limit_exceeded")
    suppressed("about_redirect", lambda t: icmp_raw(
        t, ICMPv6ND_Redirect(tgt="db04::1", dst=BETA)), "hop_limit_exceeded")
    suppressed("l2_multicast_hop_limit", lambda t: echo(t, hlim=1, dst_mac=ioam.ALL_NODES_MAC),
               "hop_limit_exceeded")
    suppressed("l2_broadcast_hop_limit", lambda t: echo(t, hlim=1, dst_mac=BCAST),
               "hop_limit_exceeded")
    suppressed("l2_broadcast_no_route", lambda t: echo(t, dst="db09::1", dst_mac=BCAST),
               "no_route")
    suppressed("src_unspecified", lambda t: echo(t, src="::", hlim=1), "hop_limit_exceeded")
    # dropped before anything could provoke an error (RFC 4291 2.7: a multicast
    # address is never a source; multicast is not forwarded)
    add("src_multicast", lambda t: echo(t, src="ff0e::1", hlim=1), drop="ipv6_bad_address")
    add("dst_multicast", lambda t: echo(t, dst="ff0e::1", hlim=1,
                                        dst_mac=ioam.multicast_mac("ff0e::1")), drop="multicast")
    add("no_source_address", lambda t: echo(t, hlim=1, port=2, dst="db03:0:0:1::5"),
        port=2, drop="hop_limit_exceeded", counter="icmp_no_source")
    c = te("error_no_route_back", lambda t: echo(t, src=NO_ROUTE_SRC, hlim=1))
    c.answer, c.answer_drop = None, "no_route"
    # The Time Exceeded is held for db04::9 and dropped when it fails: no
    # error about an error (RFC 4443 2.4(e)), counted unreachable_suppressed.
    c = te("error_no_neighbor_back", lambda t: echo(t, src=NO_NEIGH_SRC, hlim=1))
    c.answer, c.held = None, True
    return cases


CASES = _cases()
BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES) and len({c.tag for c in CASES}) == len(CASES)


def run_cases(workdir: Path, config: str, cases, nports: int = 3) -> pt.RunResult:
    inputs: Dict[int, List[bytes]] = {}
    for c in cases:
        inputs.setdefault(c.port, []).append(c.frame)
    return pt.run_appliance(workdir, config, inputs, nports)


@pytest.fixture(scope="module")
def icmp_run(batch_dir):
    return run_cases(batch_dir("icmp"), CONFIG, CASES)


def answers_of(run: pt.RunResult, tag: int) -> List[Tuple[int, bytes]]:
    return [(p, f) for p in sorted(run.out) for f in pt.answers(run.out[p]).get(tag, [])]


def assert_answer(run: pt.RunResult, tag: int, answer: Optional[Answer], label: str
                  ) -> Optional[bytes]:
    """Exactly the expected message (or none) answers ``tag``; byte for byte."""
    got = answers_of(run, tag)
    if answer is None:
        assert got == [], f"{label}: expected no ICMPv6 answer, got " \
                          f"{[(p, f.hex()) for p, f in got]}\n{run.describe()}"
        return None
    assert [p for p, _ in got] == [answer.port], (
        f"{label}: expected one answer on port {answer.port}, got "
        f"{[(p, f.hex()) for p, f in got]}\n{run.describe()}")
    actual = got[0][1]
    want = ioam.ether(answer.mac, MAC[answer.port], answer.build(actual[14:], run))
    assert actual == want, (f"{label}: ICMPv6 message differs\n{ioam.hexdiff(want, actual)}\n"
                            f"expected {want.hex()}\nactual   {actual.hex()}")
    assert ioam.icmp6_checksum_ok(actual[14:]), f"{label}: bad ICMPv6 checksum"
    return actual


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case(case, icmp_run):
    run = icmp_run
    assert_answer(run, case.tag, case.answer, case.name)
    fwd = [(p, f) for p in sorted(run.out) for f in run.out[p] if pt.frame_tag(f) == case.tag]
    if case.forward is None:
        assert fwd == [], f"{case.name}: forwarded although it must be dropped"
    else:
        assert [p for p, _ in fwd] == [1], f"{case.name}: not forwarded once on eth1"
        pt.assert_frame(fwd[0][1], pt.expect(case.frame, pt.profile_for(CONFIG, case.frame)),
                        run, case.name)


def test_counters(icmp_run):
    """Every drop and ICMP counter of the run, exactly: the original drop
    reason still counts the packet; an answer that cannot be delivered
    counts its own drop."""
    drops = Counter(c.drop for c in CASES if c.drop)
    drops.update(c.answer_drop for c in CASES if c.answer_drop)
    icmp = Counter(c.counter for c in CASES if c.counter)
    icmp["nd_held"] = sum(1 for c in CASES if c.held)
    events = Counter(e for c in CASES for e in c.events)
    run = icmp_run
    assert run.drops == dict(drops), run.describe()
    assert run.icmp == dict(icmp), run.describe()
    assert run.ioam == dict(events), run.describe()
    nd = run.nonzero("nd")
    assert (nd["ns_multicast"], nd["failed"], nd["unreachable"], nd["unreachable_sent"],
            nd["unreachable_suppressed"]) == (2, 2, 3, 2, 1), run.describe()
    sent = sum(1 for c in CASES if c.answer) + sum(1 for c in CASES if c.forward)
    sent += len(UNRESOLVED)  # one solicitation per unresolved next hop
    assert sum(len(v) for v in run.out.values()) == sent, run.describe()


# Next hops the run solicits: (port, address) -> the port's source address.
UNRESOLVED = {(0, "db04::9"): ETH0_A, (1, "db02::77"): ETH1_A}


def test_solicitations(icmp_run):
    """RFC 4861 7.2.2: one multicast Neighbor Solicitation per unresolved
    next hop, out of its port, to the target's solicited-node group, from
    the port's first address, with our MAC as Source Link-Layer Address;
    built here with Scapy."""
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr
    for (port, target), src in UNRESOLVED.items():
        group = ioam.solicited_node(target)
        want = ioam.ether(ioam.multicast_mac(group), MAC[port], bytes(
            IPv6(src=src, dst=group, hlim=255) / ICMPv6ND_NS(tgt=target)
            / ICMPv6NDOptSrcLLAddr(lladdr=MAC[port])))
        got = [f for f in icmp_run.out[port] if len(f) > 54 and f[54] == 135]
        assert got == [want], (f"{target}: expected {want.hex()}, got "
                               f"{[f.hex() for f in got]}\n{icmp_run.describe()}")


def test_literal_time_exceeded(icmp_run):
    """One message written out octet by octet, independent of Scapy."""
    c = BY_NAME["te_hop_limit_1"]
    ((_, f),) = answers_of(icmp_run, c.tag)
    inv = c.frame[14:]
    hdr = (ioam.mac_bytes(pt.ATHOS_MAC) + ioam.mac_bytes(pt.ETH0_MAC) + b"\x86\xdd"
           + bytes.fromhex("60000000") + struct.pack("!H", 8 + len(inv)) + b"\x3a\x40"
           + ipaddress.IPv6Address(ETH0_A).packed + ipaddress.IPv6Address(ALPHA).packed
           + b"\x03\x00")
    assert f[:len(hdr)] == hdr and f[56:58] != b"\0\0" and f[58:62] == bytes(4)
    assert f[62:] == inv


def test_truncation_to_1280(icmp_run):
    """RFC 4443 2.4 (c): the message never exceeds the minimum IPv6 MTU;
    the quoted packet is cut there and only there."""
    for name, quoted in (("te_big_truncated", 1232), ("du_quote_1232_whole", 1232),
                         ("du_quote_1233_cut", 1232), ("ptb_one_over", 1232),
                         ("te_hop_limit_1", len(BY_NAME["te_hop_limit_1"].frame) - 14)):
        c = BY_NAME[name]
        ((_, f),) = answers_of(icmp_run, c.tag)
        assert len(f) - 14 == 48 + quoted, f"{name}: {len(f) - 14} octets"
        assert f[14 + 48:] == c.frame[14:14 + quoted]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_checksums(icmp_run, mtu_run, own_run, tmp_path):
    """Wireshark's dissector as a second opinion: every message the runs
    sent (also those carrying IOAM, inline or in a tunnel) is ICMPv6 of the
    expected type, with "Checksum Status: Good"."""
    msgs = [f for run in (icmp_run, mtu_run, own_run) for p in sorted(run.out)
            for f in run.out[p] if pt.icmp_message(f[14:]) is not None and pt.frame_tag(f) == 0]
    pcap = tmp_path / "answers.pcap"
    pt.write_pcap(pcap, msgs)
    got = pt.tshark_icmp6(pcap)
    assert [g["type"] for g in got] == [f[14 + pt.icmp_message(f[14:])[1]] for f in msgs]
    bad = [(i, g) for i, g in enumerate(got) if g["checksum"] != "Good" or g["malformed"]]
    assert not bad, bad
    assert len(msgs) == (sum(1 for c in CASES if c.answer) + len(OWN_CASES)
                         + sum(1 for _, _, mtu in MTU_CASES if mtu)
                         + len(UNRESOLVED))  # the solicitations are checked too


# --------------------------------------------------------------------------
# Packet Too Big for the IOAM overhead of encap routes (eth1 MTU 1280)
# --------------------------------------------------------------------------

MTU_CONFIG_ROUTES = [
    # prefix, encap (YAML), octets the route adds
    ("db03::/64", None, 0),
    ("db03:0:0:1::/64", "{mode: inline, trace: {type: 0x800000, ns: 123, size: 4}}", 24),
    ("db03:0:0:2::/64", "{mode: inline, trace: {type: 0xfff002, ns: 123, size: 244}}", 264),
    ("db03:0:0:3::/64", "{mode: encap, tundst: \"db02::2\", trace: {type: 0x800000, ns: 123, "
                        "size: 4}}", 64),
    ("db03:0:0:4::/64", "{mode: encap, tundst: \"db02::2\", trace: {type: 0xfff002, ns: 123, "
                        "size: 244}}", 304),
    ("db03:0:0:5::/64", "{mode: auto, tundst: \"db02::2\", trace: {type: 0x800000, ns: 123, "
                        "size: 12}}", 72),
]


def mtu_config() -> str:
    routes = []
    for prefix, enc, _ in MTU_CONFIG_ROUTES:
        line = f'  - {{prefix: "{prefix}", port: eth1, via: "db02::2"'
        routes.append(line + (f", encap: {enc}}}" if enc else "}"))
    cfg = CONFIG.replace(f"mtu: {MTU1}", "mtu: 1280")
    head, tail = cfg.split("routes:\n", 1)
    keep = [ln for ln in tail.split("neighbors:\n")[0].splitlines() if "db03" not in ln]
    return (head + "routes:\n" + "\n".join(keep + routes) + "\nneighbors:\n"
            + tail.split("neighbors:\n")[1])


def _mtu_cases():
    out = []
    for i, (prefix, _, overhead) in enumerate(MTU_CONFIG_ROUTES):
        dst = prefix.split("/")[0] + "2"
        limit = 1280 - overhead
        out.append((f"route{i}_fits", sized(100 + 2 * i, limit, dst=dst), None))
        out.append((f"route{i}_over", sized(101 + 2 * i, limit + 1, dst=dst), limit))
    return out


MTU_CASES = _mtu_cases()


@pytest.fixture(scope="module")
def mtu_run(batch_dir):
    return pt.run_appliance(batch_dir("mtu"), mtu_config(), {0: [f for _, f, _ in MTU_CASES]},
                            3)


@pytest.mark.parametrize("name,frm,mtu", MTU_CASES, ids=[c[0] for c in MTU_CASES])
def test_ptb_ioam_overhead(name, frm, mtu, mtu_run):
    """A packet that fits the egress MTU only without the IOAM header its
    route inserts gets Packet Too Big with the MTU less that header (inline:
    the HbH; encap: 40 + the HbH), so that the sender's next packet fits;
    one octet less is forwarded, exactly at the MTU."""
    tag = pt.frame_tag(frm)
    fwd = pt.by_tag(mtu_run.out[1]).get(tag, [])
    if mtu is None:
        assert len(fwd) == 1 and len(fwd[0]) - 14 == 1280, f"{name}: not forwarded at 1280"
        assert_answer(mtu_run, tag, None, name)
        return
    assert fwd == []
    ans = Answer(0, pt.ATHOS_MAC, lambda _a, _r: ioam.packet_too_big(ETH0_A, ALPHA, frm[14:],
                                                                      mtu))
    assert_answer(mtu_run, tag, ans, name)


def test_ptb_ioam_overhead_counters(mtu_run):
    plain = 1
    assert mtu_run.drops == {"mtu_exceeded": plain, "ioam_mtu_exceeded": len(MTU_CASES) // 2
                             - plain}, mtu_run.describe()
    assert mtu_run.icmp == {"icmp_packet_too_big": len(MTU_CASES) // 2}, mtu_run.describe()


# --------------------------------------------------------------------------
# The appliance's own packets on encap routes
# --------------------------------------------------------------------------

OWN_ROUTES = {
    # source prefix: (encap YAML, how the node's own packets leave)
    "db01::/64": ('{mode: auto, tundst: "db04::1", trace: {type: 0xfff002, ns: 123, '
                  'size: 100}}', "inline"),
    "db01:0:0:1::/64": ('{mode: encap, tundst: "db04::1", trace: {type: 0xc00000, ns: 123, '
                        'size: 8}}', "encap"),
    "db01:0:0:2::/64": ("{mode: inline, trace: {type: 0x800000, ns: 123, size: 12}}",
                        "inline"),
}
OWN_TRACE = {"db01::/64": (0xFFF002, 100), "db01:0:0:1::/64": (0xC00000, 8),
             "db01:0:0:2::/64": (0x800000, 12)}


def own_config() -> str:
    lines = [f'  - {{prefix: "{p}", port: eth0, via: "db04::1", encap: {e}}}'
             for p, (e, _) in OWN_ROUTES.items()]
    return CONFIG.replace('  - {prefix: "db01::/64", port: eth0, via: "db04::1"}',
                          "\n".join(lines))


OWN_NODE = ioam.NodeProfile(node_id=2, node_id_wide=22222222, egress_id=201,
                            egress_id_wide=201201,
                            namespaces={123: ioam.Namespace(0xDEADBEE1, 0xCAFEC0CAF11DC0DE)})


def on_route(pkt: bytes, prefix: str) -> Tuple[bytes, list]:
    """An IPv6 packet the node originates, as the encap route of ``prefix``
    sends it (auto: inline for the node's own packets, as Linux does for
    locally generated ones), with this node's data (hop limit not
    decremented, no ingress: ids and timestamps 0xFFFF.. )."""
    type24, size = OWN_TRACE[prefix]
    mode = OWN_ROUTES[prefix][1]
    if mode == "inline":
        hbh = em.hbh_block(pkt[6], 123, type24, size)
        new = bytearray(pkt[:40] + hbh + pkt[40:])
        new[6] = ioam.NH_HOPOPTS
    else:
        hbh = em.hbh_block(ioam.NH_IPV6, 123, type24, size)
        new = bytearray(pkt[:4] + b"\0\0" + bytes([ioam.NH_HOPOPTS, pkt[7]])
                        + ipaddress.IPv6Address(ETH0_A).packed
                        + ipaddress.IPv6Address("db04::1").packed + hbh + pkt)
    new[4:6] = struct.pack("!H", len(new) - 40)
    return ioam.own_packet_fill(bytes(new), OWN_NODE)


OWN_CASES = [
    # name, frame, answer kind, source prefix
    ("auto_time_exceeded", echo(301, src="db01::2", hlim=1), "te", "db01::/64"),
    ("auto_echo_reply", echo(302, src="db01::5", dst=ETH0_A), "reply", "db01::/64"),
    ("auto_ptb_big", sized(303, MTU1 + 1, src="db01::6"), "ptb", "db01::/64"),
    ("encap_time_exceeded", echo(304, src="db01:0:0:1::2", hlim=1), "te", "db01:0:0:1::/64"),
    ("encap_echo_reply", echo(305, src="db01:0:0:1::2", dst=ETH0_B), "reply",
     "db01:0:0:1::/64"),
    ("inline_unreachable", echo(306, src="db01:0:0:2::2", dst="db09::1"), "du",
     "db01:0:0:2::/64"),
    ("inline_echo_reply", echo(307, src="db01:0:0:2::2", dst=ETH1_A), "reply",
     "db01:0:0:2::/64"),
]
TRANSIT_TO_AUTO = echo(310, src=BETA, dst="db01::7", port=1)


def _own_expected(f: bytes, kind: str) -> bytes:
    pkt = f[14:]
    src = str(ipaddress.IPv6Address(pkt[8:24]))
    if kind == "reply":
        return ioam.echo_reply_for(pkt)
    if kind == "te":
        return ioam.time_exceeded(ETH0_A, src, pkt)
    if kind == "ptb":
        return ioam.packet_too_big(ETH0_A, src, pkt, MTU1)
    return ioam.dest_unreach(ETH0_A, src, pkt, 0)


@pytest.fixture(scope="module")
def own_run(batch_dir):
    return pt.run_appliance(batch_dir("own"), own_config(),
                            {0: [f for _, f, _, _ in OWN_CASES], 1: [TRANSIT_TO_AUTO]}, 3)


@pytest.mark.parametrize("name,frm,kind,prefix", OWN_CASES, ids=[c[0] for c in OWN_CASES])
def test_own_packets_on_encap_routes(name, frm, kind, prefix, own_run):
    """Errors and replies pass through the encap route to their destination;
    mode auto inserts inline for them; their IOAM entry is an originating
    node's: hop limit 64 (not decremented), ingress 0xFFFF / 0xFFFFFFFF,
    timestamps 0xFFFFFFFF, egress eth0 (201 / 201201)."""
    run = own_run
    tag = pt.frame_tag(frm)
    got = answers_of(run, tag)
    assert [p for p, _ in got] == [0], f"{name}: {[(p, f.hex()) for p, f in got]}"
    actual = got[0][1]
    want, variables = on_route(_own_expected(frm, kind), prefix)
    exp, seen = ioam.apply_variables(ioam.ether(pt.ATHOS_MAC, pt.ETH0_MAC, want), actual,
                                     [(o + 14, k) for o, k in variables])
    pt.check_variables(seen, run)
    assert actual == exp, (f"{name}\n{ioam.hexdiff(exp, actual)}\nexpected {exp.hex()}\n"
                           f"actual   {actual.hex()}")
    pkt = actual[14:]
    if OWN_ROUTES[prefix][1] == "encap":
        assert pkt[6] == ioam.NH_HOPOPTS and pkt[40] == ioam.NH_IPV6
    node = ioam.decode_nodes(ioam.ioam_trace(pkt))[0]
    assert node["hop_limit"] == 64 and node["node_id"] == 2
    if "ingress_id" in node:
        assert (node["ingress_id"], node["egress_id"]) == (0xFFFF, 201)
    if "ts_sec" in node:
        assert node["ts_sec"] == node["ts_frac"] == 0xFFFFFFFF
        assert (node["ingress_id_wide"], node["egress_id_wide"]) == (0xFFFFFFFF, 201201)
        assert node["hop_limit_wide"] == 64


def test_own_packets_transit_still_encap(own_run):
    """Control: a packet in transit on the same auto route is encapsulated."""
    node = em.EncapNode(own_config())
    o = node.process(TRANSIT_TO_AUTO, "eth1")
    assert o.verdict == "forward" and o.mode == "encap"
    fwd = pt.by_tag(own_run.out[0]).get(310, [])
    assert len(fwd) == 1
    exp, seen = ioam.apply_variables(o.frame, fwd[0], o.variables)
    pt.check_variables(seen, own_run)
    assert fwd[0] == exp, ioam.hexdiff(exp, fwd[0])


def test_own_packets_counters(own_run):
    run = own_run
    n = len(OWN_CASES)
    assert run.icmp == {"icmp_echo_reply": 3, "icmp_time_exceeded": 2,
                        "icmp_packet_too_big": 1, "icmp_unreachable": 1}, run.describe()
    assert run.drops == {"hop_limit_exceeded": 2, "mtu_exceeded": 1, "no_route": 1}
    assert run.ioam.get("ioam_inserted") == n + 1, run.describe()
    assert run.ioam.get("ioam_filled") == n + 1, run.describe()


# --------------------------------------------------------------------------
# Rate limit (RFC 4443 2.4 (f)): token bucket per worker lcore
# --------------------------------------------------------------------------

def rate_config(icmp: str) -> str:
    return CONFIG + f"icmp: {icmp}\n"


N_FLOOD = 50


def _flood():
    frames, errors, replies = [], [], []
    for i in range(N_FLOOD):
        frames.append(echo(400 + i, hlim=1))
        errors.append(400 + i)
        if i % 5 == 0:
            frames.append(echo(500 + i, dst=ETH0_A))
            replies.append(500 + i)
    frames.append(echo(600, dst="db09::1"))
    errors.append(600)
    return frames, errors, replies


@pytest.fixture(scope="module")
def rate_runs(batch_dir):
    frames, _, _ = _flood()
    return {key: pt.run_appliance(batch_dir(f"rate_{key}"), rate_config(text), {0: frames}, 3)
            for key, text in (("1_5", "{rate: 1, burst: 5}"), ("0", "{rate: 0}"))}


def test_rate_limit_burst(rate_runs):
    """rate 1/s, burst 5, 51 errors due within a fraction of a second: the
    first 5 are sent (at most ``burst`` at once), the rest are counted as
    rate limited; Echo Replies are not limited."""
    run = rate_runs["1_5"]
    _, errors, replies = _flood()
    sent = sorted(t for t in pt.answers(run.out[0]) if t in errors)
    assert sent == errors[:5], run.describe()
    for t in errors[:5]:
        f = echo(t, hlim=1)
        assert_answer(run, t, error_answer(ioam.ICMP6_TIME_EXCEEDED, ETH0_A, ALPHA, f[14:]),
                      f"flood {t}")
    for t in replies:
        assert_answer(run, t, reply_answer(echo(t, dst=ETH0_A)), f"reply {t}")
    assert run.icmp == {"icmp_time_exceeded": 5, "icmp_rate_limited": len(errors) - 5,
                        "icmp_echo_reply": len(replies)}, run.describe()
    assert run.drops == {"hop_limit_exceeded": N_FLOOD, "no_route": 1}, run.describe()


def test_rate_zero_sends_no_error(rate_runs):
    """``rate: 0``: no error at all, every one counted; Echo Replies still go."""
    run = rate_runs["0"]
    _, errors, replies = _flood()
    assert sorted(pt.answers(run.out[0])) == sorted(replies), run.describe()
    assert run.icmp == {"icmp_rate_limited": len(errors), "icmp_echo_reply": len(replies)}
    assert run.drops == {"hop_limit_exceeded": N_FLOOD, "no_route": 1}, run.describe()
