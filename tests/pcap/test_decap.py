"""The appliance as the tunnel end (``ports[].decap: true``), at the Aramis
position of seed 002.

Reference: shared/reference/linux-ioam-behaviour.md section 5 (the outer HbH
is processed as a destination node first, section 2.3 sentinels; then
ip6_tunnel removes the outer header and the inner packet is received on the
tunnel device, which has IOAM disabled, and forwarded), section 2.1 (a
misaligned IOAM option is dropped even where IOAM is disabled), section 4;
RFC 6040 section 4.2 for ECN; RFC 2473 for the nested tunnel.

All cases travel in one appliance run, told apart by the flow label (inner
and outer carry the same one) and by the outer source address ``db04::<tag>``
that the export records carry. Forwarded frames are compared byte for byte
with the inner packet as it was built here, hop limit - 1 and ECN per
RFC 6040; the outer trace processing is checked through the export record,
compared with the reference model's destination-node fill.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import pytest

import ioam_scapy as ioam
import pcaptest as pt
from test_export import assert_record, run_ext, upstream_filled

# Aramis (config/aramis.yaml) without the edge on eth1, so that what the
# inner packet carries leaves unchanged, plus eth2: decap on, IOAM disabled.
CONFIG = """\
node: {id: 3, id_wide: 33333333}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:03:00
    addresses: [db02::2/64]
    decap: true
    ioam: {enabled: true, id: 301, id_wide: 301301}
  - name: eth1
    device: net_pcap1
    mac: 02:00:00:00:03:01
    addresses: [db03::1/64]
    ioam: {enabled: false, id: 302, id_wide: 302302}
  - name: eth2
    device: net_pcap2
    mac: 02:00:00:00:03:02
    addresses: [db05::1/64]
    decap: true
    ioam: {enabled: false, id: 303, id_wide: 303303}
namespaces:
  - {id: 123, data: 0xdeadbee2, wide: 0xcafec0caf22dc0de}
routes:
  - {prefix: "db01::/64", port: eth0, via: "db02::1"}
  - {prefix: "db04::/64", port: eth0, via: "db02::1"}
neighbors:
  - {address: "db02::1", mac: "02:00:00:00:02:01", port: eth0}
  - {address: "db03::2", mac: "02:00:00:00:00:04", port: eth1}
"""

MAC = {0: "02:00:00:00:03:00", 1: "02:00:00:00:03:01", 2: "02:00:00:00:03:02"}
PEER = {0: "02:00:00:00:02:01", 1: "02:00:00:00:00:04", 2: "02:00:00:00:05:00"}
NEXT_HOP = {0: "02:00:00:00:02:01", 1: "02:00:00:00:00:04"}    # Porthos, Beta
US = "db02::2"
ALPHA, BETA = "db01::1", "db03::2"
INNER_DSCP, OUTER_DSCP = 0x0A, 0x2E

# Athos (63/1) and Porthos (62/2) have written; one node (4 octets) is free.
SEED_TRACE = ioam.ioam_trace_option(ns=123, type24=0x800000, size=12, remlen=1,
                                    data=bytes(4) + bytes.fromhex("3e000002" "3f000001"))


def hbh(*opts: bytes, nh: int = ioam.NH_IPV6) -> bytes:
    """A HbH with the options after PadN(2) (IOAM at the 4n offset 44)."""
    return ioam.ext_header(nh, ioam.padn(2) + b"".join(opts))


def chain(headers: List[tuple], last_nh: int) -> tuple:
    """Extension header chain: [(type, options)], -> (first type, bytes)."""
    out = b""
    for i, (_t, opts) in enumerate(headers):
        nh = headers[i + 1][0] if i + 1 < len(headers) else last_nh
        out += ioam.ext_header(nh, opts)
    return (headers[0][0] if headers else last_nh), out


def inner_packet(tag: int, *, dst: str = BETA, hlim: int = 63, ecn: int = 0,
                 ext: bytes = b"", ext_nh: int = ioam.NH_HOPOPTS) -> bytes:
    return ioam.icmp_packet(ALPHA, dst, ext=ext, ext_nh=ext_nh, hlim=hlim, fl=tag, seq=tag,
                            tc=(INNER_DSCP << 2) | ecn)


def tunnel(tag: int, inner: bytes, *, headers: Optional[List[tuple]] = None,
           dst: str = US, hlim: int = 62, ecn: int = 0, port: int = 0,
           raw: Optional[bytes] = None) -> bytes:
    """ip6ip6 frame from Porthos: outer src db04::<tag>, flow label tag,
    ``headers`` (or one ``raw`` HbH whose next header is 41) before the inner."""
    first, ext = chain(headers or [], ioam.NH_IPV6)
    if raw is not None:
        first, ext = ioam.NH_HOPOPTS, raw
    pkt = ioam.ipv6(f"db04::{tag:x}", dst, ext + inner, nh=first, hlim=hlim, fl=tag,
                    tc=(OUTER_DSCP << 2) | ecn)
    return ioam.ether(MAC[port], PEER[port], pkt)


def plain(tag: int, dst: str, *, ext: bytes = b"", ext_nh: int = ioam.NH_HOPOPTS,
          port: int = 0) -> bytes:
    pkt = ioam.icmp_packet(f"db04::{tag:x}", dst, ext=ext, ext_nh=ext_nh, hlim=62, fl=tag,
                           seq=tag)
    return ioam.ether(MAC[port], PEER[port], pkt)


def decapped(inner: bytes, outer_ecn: int) -> Optional[bytes]:
    """The inner packet as it must leave: RFC 6040 ECN (DSCP not copied),
    hop limit - 1 (ip6_forward). None: RFC 6040 drop."""
    tc = ioam.traffic_class(inner)
    ecn = ioam.RFC6040_DECAP[tc & 3][outer_ecn]
    if ecn is None:
        return None
    return ioam.set_hop_limit(ioam.set_traffic_class(inner, (tc & 0xFC) | ecn), inner[7] - 1)


@dataclass
class DCase:
    name: str
    frame: bytes
    port: int = 0
    out_port: Optional[int] = None       # None: dropped
    out: bytes = b""                     # expected frame
    drop: Optional[str] = None
    events: List[str] = field(default_factory=list)
    record: Optional[str] = None         # event of the expected export record
    maybe_decap: bool = False            # dropped after the outer header went
    out_variables: list = field(default_factory=list)
    answer: bytes = b""                  # expected ICMPv6 message (leaves by eth0)
    icmp: Optional[str] = None           # its counter in the stats group "icmp"

    @property
    def tag(self) -> int:
        return pt.frame_tag(self.frame)

    @property
    def src(self) -> str:
        return f"db04::{self.tag:x}"


FILLED, DECAP, SKIP_DIS = "ioam_filled", "decapsulated", "ioam_skip_disabled"


def _build() -> List[DCase]:
    cases: List[DCase] = []
    tag = iter(range(1, 10_000))

    def fwd(name, t, inner, frame, *, outer_ecn=0, out_port=1, events=(), record=None,
            port=0):
        out = decapped(inner, outer_ecn)
        assert out is not None
        cases.append(DCase(name, frame, port, out_port,
                           ioam.ether(NEXT_HOP[out_port], MAC[out_port], out),
                           events=list(events), record=record))

    def drop(name, frame, reason, *, events=(), record=None, port=0, maybe_decap=False,
             answer=b"", icmp=None):
        cases.append(DCase(name, frame, port, drop=reason, events=list(events), record=record,
                           maybe_decap=maybe_decap, answer=answer, icmp=icmp))

    def to_porthos(pkt):
        """An ICMPv6 message of ours as it leaves: routed back out of eth0."""
        return ioam.ether(NEXT_HOP[0], MAC[0], pkt)

    def error(builder, invoking, *args):
        """RFC 4443 error about ``invoking`` (the packet as dropped), from
        eth0's address (the port it arrived on), to its source."""
        src = str(ipaddress.IPv6Address(invoking[8:24]))
        return to_porthos(builder(US, src, invoking, *args))

    # --- decapsulated and forwarded ---------------------------------------------
    t = next(tag)
    inner = inner_packet(t)
    fwd("seed_trace", t, inner, tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE)]),
        events=[FILLED, DECAP], record="decap")
    t = next(tag)
    inner = inner_packet(t)
    # Athos (schema 777: 100 octets) has written; Aramis needs 64 of the 144 left.
    full = upstream_filled(ioam.ioam_trace_option(ns=123, type24=0xFFF002, size=244),
                           hlim=64, nodes=1, nh=ioam.NH_IPV6)
    fwd("full_trace_0xfff002", t, inner, tunnel(t, inner, raw=full),
        events=[FILLED, DECAP], record="decap")
    t = next(tag)
    inner = inner_packet(t)
    two = ioam.padn(2) + SEED_TRACE + ioam.ioam_trace_option(ns=123, type24=0xC00000, size=8)
    fwd("two_outer_traces", t, inner, tunnel(t, inner, headers=[(0, two)]),
        events=[FILLED, FILLED, DECAP], record="decap")
    t = next(tag)
    inner = inner_packet(t)
    fwd("no_hbh", t, inner, tunnel(t, inner), events=[DECAP])
    t = next(tag)
    inner = inner_packet(t)
    fwd("hbh_then_dstopts", t, inner,
        tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE), (60, ioam.padn(6))]),
        events=[FILLED, DECAP], record="decap")
    t = next(tag)
    inner = inner_packet(t)
    fwd("dstopts_only", t, inner, tunnel(t, inner, headers=[(60, ioam.padn(6))]),
        events=[DECAP])
    t = next(tag)
    inner = inner_packet(t)
    fwd("hbh_and_3_dstopts", t, inner,
        tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE), (60, ioam.padn(6)),
                                  (60, bytes.fromhex("1e0400000000")),
                                  (60, ioam.padn(6))]),
        events=[FILLED, DECAP], record="decap")
    t = next(tag)
    inner = inner_packet(t)
    # IOAM in a Destination Options header is not recognised (reference 4).
    fwd("ioam_in_dstopts_ignored", t, inner,
        tunnel(t, inner, headers=[(60, ioam.padn(2) + SEED_TRACE)]), events=[DECAP])
    t = next(tag)
    inner = inner_packet(t)
    fwd("unknown_namespace", t, inner,
        tunnel(t, inner, headers=[(0, ioam.padn(2) + ioam.ioam_trace_option(ns=999, size=12))]),
        events=["ioam_skip_unknown_ns", DECAP])
    t = next(tag)
    inner = inner_packet(t)
    full_trace = ioam.ioam_trace_option(ns=123, size=8, remlen=0,
                                        data=bytes.fromhex("3e0000023f000001"))
    fwd("trace_full_overflow", t, inner,
        tunnel(t, inner, headers=[(0, ioam.padn(2) + full_trace)]),
        events=["ioam_overflow_set", DECAP], record="decap")
    t = next(tag)
    inner = inner_packet(t, dst="db01::1")
    fwd("inner_routed_back_eth0", t, inner,
        tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE)]), out_port=0,
        events=[FILLED, DECAP], record="decap")
    t = next(tag)
    inner = inner_packet(t)
    fwd("outer_hop_limit_1", t, inner,
        tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE)], hlim=1),
        events=[FILLED, DECAP], record="decap")
    t = next(tag)
    inner = inner_packet(t, ext=hbh(ioam.ioam_trace_option(ns=123, size=12), nh=58))
    fwd("inner_ioam_not_processed", t, inner,
        tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE)]),
        events=[FILLED, DECAP, SKIP_DIS], record="decap")
    t = next(tag)
    inner = inner_packet(t, ext=hbh(bytes([ioam.OPT_IOAM, 0]), nh=58))
    fwd("inner_ioam_short_skipped", t, inner, tunnel(t, inner), events=[DECAP, SKIP_DIS])
    t = next(tag)
    inner = ioam.encap_packet("db04::1", BETA, inner_packet(t), fl=t)
    inner = ioam.set_traffic_class(inner, INNER_DSCP << 2)
    fwd("nested_tunnel_not_for_us", t, inner, tunnel(t, inner), events=[DECAP])
    t = next(tag)
    inner = inner_packet(t)
    fwd("eth2_ioam_disabled", t, inner,
        tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE)], dst="db05::1", port=2),
        events=[SKIP_DIS, DECAP], port=2)

    # --- ECN: all 16 (outer, inner) combinations, DSCPs differ --------------------
    for o in (0, 1, 2, 3):
        for i in (0, 1, 2, 3):
            t = next(tag)
            inner = inner_packet(t, ecn=i)
            name = f"ecn_outer_{ioam.ECN_NAMES[o]}_inner_{ioam.ECN_NAMES[i]}"
            frame = tunnel(t, inner, ecn=o)
            if ioam.RFC6040_DECAP[i][o] is None:
                drop(name, frame, "decap_ecn", maybe_decap=True)
            else:
                fwd(name, t, inner, frame, outer_ecn=o, events=[DECAP])

    # --- not for us: transit ----------------------------------------------------
    t = next(tag)
    inner = inner_packet(t)
    frame = tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE)], dst=BETA)
    model = ioam.expected_frame(frame, pt.profile_for(CONFIG, frame, "eth0"),
                                ingress_mac=MAC[0], egress_mac=MAC[1],
                                next_hop_mac=NEXT_HOP[1])
    assert model.model.verdict == "forward"
    cases.append(DCase("tunnel_to_another_node", frame, 0, 1, model.frame, events=[FILLED],
                       out_variables=model.variables))
    t = next(tag)
    frame = tunnel(t, inner_packet(t), headers=[(0, ioam.padn(2) + SEED_TRACE)], dst="db09::1")
    m = ioam.linux_transit(frame[14:], pt.profile_for(CONFIG, frame, "eth0"))
    assert m.drop == "no_route" and not m.variables      # our fill is in the quote
    drop("tunnel_no_route", frame, "no_route", events=[FILLED],
         answer=error(ioam.dest_unreach, m.packet, 0), icmp="icmp_unreachable")

    # --- dropped --------------------------------------------------------------------
    t = next(tag)
    drop("decap_disabled_own_address", tunnel(t, inner_packet(t), dst="db03::1", port=1),
         "decap_disabled", port=1)
    t = next(tag)
    drop("decap_disabled_eth0_address", tunnel(t, inner_packet(t), dst=US, port=1),
         "decap_disabled", port=1)
    t = next(tag)
    drop("bad_inner_shorter_than_40", tunnel(t, inner_packet(t)[:20]), "decap_bad_inner",
         maybe_decap=True)
    t = next(tag)
    drop("bad_inner_empty", tunnel(t, b""), "decap_bad_inner", maybe_decap=True)
    t = next(tag)
    v4 = inner_packet(t)
    drop("bad_inner_version_4", tunnel(t, bytes([0x45]) + v4[1:]), "decap_bad_inner",
         maybe_decap=True)
    t = next(tag)
    # The outer Destination Options header claims 88 octets; 40 + 24 follow.
    bad_do = ioam.ipv6(f"db04::{t:x}", US, bytes([41, 10]) + ioam.padn(6)
                       + inner_packet(t)[:24], nh=60, fl=t, hlim=62)
    drop("bad_outer_dstopts_past_end", ioam.ether(MAC[0], PEER[0], bad_do), "decap_bad_inner",
         maybe_decap=True)
    t = next(tag)
    drop("nested_tunnel_to_us", tunnel(t, ioam.encap_packet("db04::1", US, inner_packet(t))),
         "decap_nested", maybe_decap=True)
    t = next(tag)
    drop("nested_tunnel_to_other_own_address",
         tunnel(t, ioam.encap_packet("db04::1", "db03::1", inner_packet(t))), "decap_nested",
         maybe_decap=True)
    t = next(tag)
    nested = ioam.ipv6("db04::1", US, ioam.ext_header(41, ioam.padn(6)) + inner_packet(t),
                       nh=0, hlim=63, fl=t)
    drop("nested_tunnel_behind_hbh", tunnel(t, nested), "decap_nested", maybe_decap=True)
    t = next(tag)
    drop("inner_hbh_padn_nonzero",
         tunnel(t, inner_packet(t, ext=ioam.ext_header(58, ioam.padn(6, fill=1)))),
         "hbh_padn_nonzero", maybe_decap=True)
    t = next(tag)
    drop("inner_hbh_unknown_option_discard",
         tunnel(t, inner_packet(t, ext=ioam.ext_header(58, bytes.fromhex("80020000")))),
         "hbh_unknown_option", maybe_decap=True)
    t = next(tag)
    drop("inner_ioam_misaligned",
         tunnel(t, inner_packet(t, ext=ioam.ext_header(
             58, ioam.ioam_trace_option(ns=123, size=4) + ioam.padn(2)))),
         "ioam_misaligned", maybe_decap=True)
    t = next(tag)
    drop("inner_hbh_too_many_options",
         tunnel(t, inner_packet(t, ext=ioam.ext_header(58, bytes.fromhex("1e00") * 9))),
         "hbh_too_many_options", maybe_decap=True)
    # After the decapsulation the inner packet is the one dropped or answered
    # (the errors quote it, not the tunnel); it arrived on eth0.
    t = next(tag)
    inner = inner_packet(t, hlim=1)
    drop("inner_hop_limit_1", tunnel(t, inner, headers=[(0, ioam.padn(2) + SEED_TRACE)]),
         "hop_limit_exceeded", events=[FILLED], record="decap", maybe_decap=True,
         answer=error(ioam.time_exceeded, inner), icmp="icmp_time_exceeded")
    t = next(tag)
    inner = inner_packet(t, dst="db09::1")
    drop("inner_no_route", tunnel(t, inner), "no_route", maybe_decap=True,
         answer=error(ioam.dest_unreach, inner, 0), icmp="icmp_unreachable")
    # Echo Requests to the node are answered (RFC 4443 4.2): none is left
    # for local_delivery. The reply carries no extension header.
    t = next(tag)
    inner = inner_packet(t, dst="db03::1")
    drop("inner_to_us", tunnel(t, inner), None, maybe_decap=True,
         answer=to_porthos(ioam.echo_reply_for(inner)), icmp="icmp_echo_reply")
    t = next(tag)
    frame = plain(t, US)
    drop("local_not_a_tunnel", frame, None,
         answer=to_porthos(ioam.echo_reply_for(frame[14:])), icmp="icmp_echo_reply")
    t = next(tag)
    frame = plain(t, US, ext=hbh(SEED_TRACE, nh=58))
    drop("local_with_trace", frame, None, events=[FILLED], record="local",
         answer=to_porthos(ioam.echo_reply_for(frame[14:])), icmp="icmp_echo_reply")
    t = next(tag)
    ext = ioam.ext_header(60, ioam.padn(2) + SEED_TRACE) + ioam.ext_header(58, ioam.padn(6))
    frame = plain(t, US, ext=ext)
    drop("local_hbh_dstopts_icmp", frame, None, events=[FILLED], record="local",
         answer=to_porthos(ioam.echo_reply_for(frame[14:])), icmp="icmp_echo_reply")
    return cases


CASES = _build()
BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES)
assert len({c.tag for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def decap_run(batch_dir):
    inputs: Dict[int, List[bytes]] = {}
    for c in CASES:
        inputs.setdefault(c.port, []).append(c.frame)
    return run_ext(batch_dir("decap"), CONFIG, inputs, nports=3)


def _outputs(x, tag):
    return [(p, f) for p in sorted(x.run.out) for f in x.run.out[p] if pt.frame_tag(f) == tag]


FWD = [c for c in CASES if c.out_port is not None]
DROPPED = [c for c in CASES if c.out_port is None]


@pytest.mark.parametrize("case", FWD, ids=lambda c: c.name)
def test_forwarded(case, decap_run):
    outs = _outputs(decap_run, case.tag)
    assert [p for p, _ in outs] == [case.out_port], (
        f"{case.name}: expected one frame on port {case.out_port}, got "
        f"{[p for p, _ in outs]}\n{decap_run.run.describe()}")
    actual = outs[0][1]
    exp, seen = ioam.apply_variables(case.out, actual, case.out_variables)
    pt.check_variables(seen, decap_run.run)
    assert actual == exp, (f"{case.name}\n{ioam.hexdiff(exp, actual)}\ninput    "
                           f"{case.frame.hex()}\nexpected {exp.hex()}\nactual   {actual.hex()}")


@pytest.mark.parametrize("case", DROPPED, ids=lambda c: c.name)
def test_dropped(case, decap_run):
    outs = _outputs(decap_run, case.tag)
    assert outs == [], (f"{case.name}: expected a drop ({case.drop}), got "
                        f"{[(p, f.hex()) for p, f in outs]}")


def test_drop_counters(decap_run):
    want = Counter(c.drop for c in DROPPED if c.drop)
    assert decap_run.run.drops == dict(want), decap_run.run.describe()
    icmp = Counter(c.icmp for c in CASES if c.icmp)
    assert decap_run.run.icmp == dict(icmp), decap_run.run.describe()


ANSWERED = [c for c in CASES if c.answer]


@pytest.mark.parametrize("case", ANSWERED, ids=lambda c: c.name)
def test_icmp_answer(case, decap_run):
    """The ICMPv6 message a dropped or local case gets, byte for byte: the
    errors quote the (inner) packet as dropped, from eth0's first address;
    the Echo Replies come from the address the request was sent to."""
    got = [(p, f) for p in sorted(decap_run.run.out)
           for f in pt.answers(decap_run.run.out[p]).get(case.tag, [])]
    assert [p for p, _ in got] == [0], (f"{case.name}: expected one ICMPv6 message on eth0, "
                                        f"got {[(p, f.hex()) for p, f in got]}")
    actual = got[0][1]
    assert actual == case.answer, (f"{case.name}\n{ioam.hexdiff(case.answer, actual)}\n"
                                   f"expected {case.answer.hex()}\nactual   {actual.hex()}")


def test_ioam_counters(decap_run):
    """IOAM events exactly; ``decapsulated`` at least once per forwarded
    tunnel, and at most once more per tunnel dropped after its outer header
    was removed (whether those count is not specified)."""
    want = Counter()
    for c in CASES:
        want.update(c.events)
        if c.record:
            want["ioam_exported"] += c.events.count(FILLED) + c.events.count("ioam_overflow_set")
    got = dict(decap_run.run.ioam)
    n_decap = got.pop(DECAP, 0)
    sure = want.pop(DECAP)
    maybe = sum(1 for c in CASES if c.maybe_decap)
    assert got == dict(want), decap_run.run.describe()
    assert sure <= n_decap <= sure + maybe, decap_run.run.describe()
    n = len(FWD) + len([c for c in CASES if c.answer])
    assert sum(len(v) for v in decap_run.run.out.values()) == n


RECORDED = [c for c in CASES if c.record]


@pytest.mark.parametrize("case", RECORDED, ids=lambda c: c.name)
def test_outer_trace_processed_as_destination(case, decap_run):
    """The outer trace gets the destination node's data (reference 5 / 2.3:
    hop limit - 1, egress 0xFFFF / 0xFFFFFFFF, queue depth 0xFFFFFFFF) before
    the decapsulation; compared with the model through the export record."""
    pkt = case.frame[14:]
    prof = pt.profile(CONFIG, "eth0" if case.port == 0 else "eth2", None)
    m = ioam.linux_transit(pkt, prof)
    assert m.verdict == "local"
    dst = ipaddress.IPv6Address(pkt[24:40]).compressed
    traces = ioam.prealloc_traces(m.packet)
    recs = decap_run.by_src(case.src)
    assert len(recs) == len(traces), f"{case.name}: {json.dumps(recs)}"
    for rec, trace in zip(recs, traces):
        exp = {"event": case.record, "port": "eth0", "src": case.src, "dst": dst,
               **ioam.export_record(trace)}
        assert_record(rec, exp, decap_run.run, case.name)


def test_only_expected_records(decap_run):
    """No record for unknown namespaces, disabled ports, IOAM in Destination
    Options, the inner packet's IOAM, or transit (no --trace-export-transit)."""
    want = [c.src for c in RECORDED for _ in range(2 if c.name == "two_outer_traces" else 1)]
    assert [r["src"] for r in decap_run.records] == want, (
        json.dumps(decap_run.records, indent=1))


def test_destination_sentinels_literal(decap_run):
    """Aramis's node in the full trace, field by field (seed 002 values)."""
    (rec,) = decap_run.by_src(BY_NAME["full_trace_0xfff002"].src)
    assert len(rec["hops"]) == 2 and rec["remaining_len"] == (244 - 100 - 64) // 4
    me = rec["hops"][-1]
    run = decap_run.run
    assert run.started - 5 <= me.pop("timestamp_sec") <= run.ended + 5
    assert 0 <= me.pop("timestamp_frac") < 1_000_000
    assert me == {
        "hop_limit": 61, "node_id": 3, "ingress_if_id": 301, "egress_if_id": 0xFFFF,
        "transit_delay": 0xFFFFFFFF, "namespace_data": "0xdeadbee2",
        "queue_depth": 0xFFFFFFFF, "checksum_complement": "0xffffffff",
        "hop_limit_wide": 61, "node_id_wide": 33333333, "ingress_if_id_wide": 301301,
        "egress_if_id_wide": 0xFFFFFFFF, "namespace_data_wide": "0xcafec0caf22dc0de",
        "buffer_occupancy": 0xFFFFFFFF,
        "opaque_state_snapshot": {"schema_id": 0xFFFFFF, "length": 0, "data": ""}}
    (rec,) = decap_run.by_src(BY_NAME["seed_trace"].src)
    assert [(h["hop_limit"], h["node_id"]) for h in rec["hops"]] == [(63, 1), (62, 2), (61, 3)]
    assert rec["dst"] == US and rec["event"] == "decap" and rec["port"] == "eth0"
    (rec,) = decap_run.by_src(BY_NAME["outer_hop_limit_1"].src)
    assert rec["hops"][-1] == {"hop_limit": 0, "node_id": 3}
    (rec,) = decap_run.by_src(BY_NAME["trace_full_overflow"].src)
    assert rec["flags"]["overflow"] is True and len(rec["hops"]) == 2
