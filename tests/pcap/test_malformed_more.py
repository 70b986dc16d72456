"""More malformed traffic (hardening, issue 8), beyond corpus.py: every
case names its expected outcome (a drop counter, or forwarded and compared
byte for byte) and is asserted on its own; each run's drop counters must
equal exactly the reasons declared here (no drop outside the expected ones)
and every run ends with ``mbufs_in_use == 0`` (pcaptest).

Groups, one appliance run each:
  enabled / disabled  Porthos (corpus.CONFIG), eth0 IOAM on / off: payload
                      length vs frame, HbH and option lengths, RemainingLen,
                      NodeLen, alignment, padding, option count, Destination
                      Options, long extension header chains (forwarded
                      unchanged: a transit node does not parse past the HbH),
                      60-octet and runt frames, unknown IOAM option-types,
                      frames larger than the mbuf (net_pcap chains them);
  jumbo               Porthos with MTU 9000: 9000-octet frames;
  decap               the seed's Aramis (config/aramis.yaml): nested ip6ip6
                      with IOAM outside, in the middle and inside;
  edge_strip          Aramis with edge_policy strip on eth1: IOAM from outside;
  truncated           a Linux-layout IOAM packet (the seed's Athos -> Porthos
                      ip6ip6 packet, and an inline 0xfff002 one) cut at every
                      length from 0 to full, with its payload length as it
                      was and fixed up to the cut: each length's outcome named.

Multi-segment mbufs proper are covered by tests/dp (dp_tests) and the fuzzers;
here net_pcap chains only what does not fit one mbuf.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import pytest

import corpus
import ioam_scapy as ioam
import pcaptest as pt

REPO = pt.REPO
ICMP = ioam.NH_ICMPV6
HOP, DST, RT, FRAG, AH = ioam.NH_HOPOPTS, ioam.NH_DSTOPTS, 43, 44, 51
EXP = 0x1E  # RFC 3692 experimental option type: action 00 (skip)

JUMBO_CONFIG = corpus.config("enabled").replace(
    "    addresses: [db04::2/64]\n", "    mtu: 9000\n    addresses: [db04::2/64]\n").replace(
    "    addresses: [db02::1/64]\n", "    mtu: 9000\n    addresses: [db02::1/64]\n")
assert JUMBO_CONFIG.count("mtu: 9000") == 2

ARAMIS = (REPO / "config" / "aramis.yaml").read_text()
ARAMIS_STRIP = ARAMIS.replace("    edge: true ", "    edge: true\n    edge_policy: strip ")
assert "edge_policy: strip" in ARAMIS_STRIP
ARAMIS_MAC = {0: "02:00:00:00:03:00", 1: "02:00:00:00:03:01"}
ARAMIS_PEER = {0: "02:00:00:00:02:01", 1: "02:00:00:00:00:04"}  # Porthos, Beta


# --- builders -------------------------------------------------------------------

def icmp(src: str = pt.ALPHA, dst: str = pt.BETA_RX, tag: int = 0) -> bytes:
    return ioam.icmp6_echo(src, dst, seq=tag & 0xFFFF)


def frame(ext: bytes = b"", *, tag: int, first: int = HOP, plen: Optional[int] = None,
          dst: str = pt.BETA_RX, upper: Optional[bytes] = None, hlim: int = 64,
          last_nh: Optional[int] = None, dst_mac: str = pt.ETH0_MAC) -> bytes:
    """Athos -> Porthos eth0: IPv6 (flow label ``tag``) + ``ext`` + upper layer
    (an ICMPv6 echo unless ``upper``); ``plen`` overrides the payload length."""
    body = ext + (icmp(dst=dst, tag=tag) if upper is None else upper)
    nh = first if ext else (ICMP if last_nh is None else last_nh)
    pkt = ioam.ipv6(pt.ALPHA, dst, body, nh=nh, hlim=hlim, fl=tag, plen=plen)
    return ioam.ether(dst_mac, pt.ATHOS_MAC, pkt)


def hbh(opts: bytes, nh: int = ICMP, **kw) -> bytes:
    return ioam.ext_header(nh, opts, **kw)


def trace(size: int = 4, **kw) -> bytes:
    return ioam.ioam_trace_option(123, kw.pop("type24", 0x800000), size, **kw)


def linux(size: int = 12, nh: int = ICMP, **kw) -> bytes:
    return ioam.linux_hbh(nh, 123, kw.pop("type24", 0x800000), size, **kw)


def dstopts(nh: int, n: int = 6) -> bytes:
    return ioam.ext_header(nh, ioam.padn(n))


# --- transit entries (Porthos) -------------------------------------------------------

@dataclass
class Entry:
    name: str
    build: Callable[[int], bytes]      # tag -> frame
    reason: Optional[str]              # drop counter, None = forwarded
    why: str
    ingress: str = "enabled"           # a GROUPS entry: which run and configuration
    taggable: bool = True              # the output can be found by flow label
    model: bool = True                 # the Linux model predicts this outcome
    # IOAM events when not the model's. The model lists what Linux did to the
    # options it walked before a drop; the appliance counts the IOAM outcomes
    # of packets whose HbH it accepted, so a dropped packet counts none.
    events: Optional[Dict[str, int]] = None


def _payload_entries() -> List[Entry]:
    def plen_ffff(t):
        return frame(linux(), tag=t, plen=0xFFFF)

    def plen_cuts_hbh(t):  # 16-octet HbH, payload length 12
        return frame(linux(4), tag=t, plen=12)

    def plen_cuts_ioam(t):  # the IOAM option (at 44) ends at 64; plen stops at 20
        return frame(linux(12), tag=t, plen=20)

    def plen_zero_no_next(t):
        return frame(tag=t, plen=0, last_nh=59, upper=b"\xaa" * 20)

    def plen_cuts_icmp(t):  # HbH whole, ICMPv6 cut: a transit node does not care
        return frame(linux(), tag=t, plen=32 + 4)

    def plen_exact_hbh(t):
        return frame(linux(4, nh=59), tag=t, upper=b"")

    return [
        Entry("plen_0xffff", plen_ffff, "ipv6_bad_length", "payload length 65535, frame ~100"),
        Entry("plen_shorter_than_hbh", plen_cuts_hbh, "hbh_truncated",
              "payload length 12 < the 16-octet HbH (rest of the frame is padding)"),
        Entry("plen_cuts_ioam_option", plen_cuts_ioam, "hbh_truncated",
              "payload length ends inside the IOAM option"),
        Entry("ok_plen_zero_no_next_header", plen_zero_no_next, None,
              "payload length 0, next header 59: a 40-octet packet, 20 octets trimmed"),
        Entry("ok_plen_cuts_upper_layer", plen_cuts_icmp, None,
              "payload length ends inside the ICMPv6 message: trimmed and forwarded"),
        Entry("ok_hbh_is_the_whole_payload", plen_exact_hbh, None,
              "HbH ends exactly at the payload end (next header 59)"),
    ]


def _length_entries() -> List[Entry]:
    return [
        Entry("hbh_hdrlen_255", lambda t: frame(hbh(ioam.padn(6), hdrlen=255), tag=t),
              "hbh_truncated", "HbH claims 2048 octets in a ~50-octet payload"),
        Entry("hbh_hdrlen_one_too_many", lambda t: frame(hbh(ioam.padn(2) + trace(4),
                                                             hdrlen=3), tag=t, upper=b""),
              "hbh_truncated", "HbH one 8-octet unit longer than the payload"),
        Entry("ioam_opt_len_255",
              lambda t: frame(hbh(ioam.padn(2) + trace(4, opt_len=255)), tag=t),
              "hbh_bad_option", "IOAM option length 255 in a 24-octet HbH"),
        Entry("ioam_crossing_by_one",
              lambda t: frame(bytes([ICMP, 2]) + ioam.padn(2) + trace(8, opt_len=19), tag=t),
              "hbh_bad_option", "IOAM option (21 octets at HbH offset 4) runs one octet "
              "past the 24-octet HbH"),
        Entry("remlen_one_word_beyond",
              lambda t: frame(hbh(ioam.padn(2) + trace(8, remlen=3)), tag=t),
              "ioam_trace_malformed", "10 + 3*4 > option length 18"),
        Entry("remlen_127_size_244",
              lambda t: frame(linux(244, remlen=127, type24=0xFFF002), tag=t),
              "ioam_trace_malformed", "RemainingLen 127 in a 244-octet trace"),
        Entry("nodelen_31", lambda t: frame(linux(12, nodelen=31), tag=t),
              "ioam_nodelen_mismatch", "NodeLen 31 for type 0x800000 (1 word)"),
        Entry("nodelen_full_minus_one",
              lambda t: frame(linux(244, type24=0xFFF002,
                                    nodelen=ioam.nodelen_for(0xFFF002) - 1), tag=t),
              "ioam_nodelen_mismatch", "NodeLen one short of type 0xfff002's"),
        Entry("ok_type_zero_nodelen_zero",
              lambda t: frame(hbh(ioam.padn(2) + trace(8, type24=0, nodelen=0)), tag=t),
              None, "no field asked for: NodeLen 0 is consistent; nothing to write"),
        Entry("ok_type_oss_only", lambda t: frame(linux(24, type24=0x000002), tag=t),
              None, "only bit 22: the schema's opaque state snapshot is all the node writes"),
        Entry("ok_type_bit23_only",
              lambda t: frame(hbh(ioam.padn(2) + trace(8, type24=0x000001, nodelen=0)), tag=t),
              None, "bit 23 (reserved) alone: NodeLen 0"),
    ]


def _alignment_padding_entries() -> List[Entry]:
    x5 = ioam.tlv(EXP, bytes(3))  # 5 octets: the IOAM option after it starts at 47
    return [
        Entry("misaligned_after_5_octet_option", lambda t: frame(hbh(x5 + trace(4)), tag=t),
              "ioam_misaligned", "IOAM at offset 47"),
        Entry("misaligned_second_ioam",
              lambda t: frame(hbh(ioam.padn(2) + trace(4) + ioam.pad1() + trace(4)), tag=t),
              "ioam_misaligned", "first IOAM at 44 is fine, the second at 59 is not",
              events={}),
        Entry("misaligned_on_disabled_port", lambda t: frame(hbh(x5 + trace(4)), tag=t),
              "ioam_misaligned", "alignment is checked before the port's switch",
              ingress="disabled"),
        Entry("padn_nonzero_last_octet",
              lambda t: frame(hbh(ioam.padn(6)[:-1] + b"\x80" + trace(4) + ioam.padn(4)), tag=t),
              "hbh_padn_nonzero", "PadN(6) whose last octet is 0x80"),
        Entry("padn_nonzero_disabled_port",
              lambda t: frame(hbh(ioam.padn(6, fill=0xFF)), tag=t), "hbh_padn_nonzero",
              "a generic HbH rule: also where IOAM is disabled", ingress="disabled"),
        Entry("ok_padn_empty", lambda t: frame(hbh(ioam.padn(2) + trace(4)), tag=t), None,
              "PadN with no payload (2 octets)"),
        Entry("padding_pad1x4_padn4",
              lambda t: frame(hbh(ioam.pad1() * 4 + ioam.padn(4) + ioam.tlv(EXP, bytes(4)),
                                  hdrlen=1), tag=t),
              "hbh_padding", "four Pad1 then PadN(4): 8 consecutive padding octets"),
        Entry("padding_padn5_pad1x3",
              lambda t: frame(hbh(ioam.padn(5) + ioam.pad1() * 3 + ioam.tlv(EXP, bytes(4)),
                                  hdrlen=1), tag=t),
              "hbh_padding", "PadN(5) then three Pad1: 8"),
        Entry("ok_padding_7_option_7",
              lambda t: frame(hbh(ioam.padn(7) + ioam.tlv(EXP, bytes(1)) + ioam.padn(7)
                                  + ioam.tlv(EXP, bytes(3))), tag=t),
              None, "7 padding octets, an option, 7 again: each run is within the limit"),
    ]


def _count_entries() -> List[Entry]:
    other4 = ioam.ioam_other_option(ioam.IOAM_INCREMENTAL)  # 4 octets, 4n at 44 + 4k
    return [
        Entry("nine_ioam_options_enabled",
              lambda t: frame(hbh(ioam.padn(2) + other4 * 9), tag=t),
              "hbh_too_many_options", "9 IOAM options (all skipped as Incremental): > 8",
              events={}),
        Entry("nine_ioam_options_disabled",
              lambda t: frame(hbh(ioam.padn(2) + other4 * 9), tag=t),
              "hbh_too_many_options", "9 IOAM options on a disabled port: > 8",
              ingress="disabled", events={}),
        Entry("ok_eight_options_padding_between",
              lambda t: frame(hbh((ioam.padn(3) + ioam.tlv(EXP, bytes(1))) * 8), tag=t),
              None, "8 options each behind 3 octets of padding"),
        Entry("nine_options_router_alert_counts",
              lambda t: frame(hbh(ioam.tlv(0x05, b"\x00\x00") + ioam.tlv(EXP) * 8), tag=t),
              "hbh_too_many_options", "router alert is one of the 9"),
    ]


def _dstopts_chain_entries() -> List[Entry]:
    def dst_garbage_ioam(t):
        d = ioam.ext_header(ICMP, ioam.padn(2) + trace(4, opt_len=200), hdrlen=2,
                            autopad=False)
        d = d + bytes(24 - len(d)) if len(d) < 24 else d[:24]
        return frame(d, first=DST, tag=t)

    def dst_then_hbh(t):
        return frame(dstopts(HOP) + linux(), first=DST, tag=t)

    def hbh_then_20_dst(t):
        chain = b"".join(dstopts(DST) for _ in range(19)) + dstopts(ICMP)
        return frame(linux(12, nh=DST) + chain, tag=t)

    def hbh_rt_frag_ah_dst(t):
        rt = bytes([FRAG, 0, 0, 0, 0, 0, 0, 0])          # type 0, no segments left
        frag = bytes([AH, 0, 0, 0, 0x12, 0x34, 0x56, 0x78])
        ah = bytes([DST, 2]) + bytes(2) + bytes(12)       # (2 + 2) * 4 = 16 octets
        return frame(linux(12, nh=RT) + rt + frag + ah + dstopts(ICMP), tag=t)

    def no_hbh_30_dst(t):
        chain = b"".join(dstopts(DST) for _ in range(29)) + dstopts(ICMP)
        return frame(chain, first=DST, tag=t)

    def hbh_then_garbage(t):
        # HbH, then a Destination Options header claiming 2048 octets.
        return frame(linux(12, nh=DST) + bytes([ICMP, 255, 0xAA, 0xBB]), tag=t, upper=b"")

    def hbh_then_unknown_proto(t):
        return frame(linux(12, nh=253), tag=t, upper=b"\xde\xad\xbe\xef" * 4)

    return [
        Entry("ok_dstopts_garbage_ioam", dst_garbage_ioam, None,
              "IOAM option crossing a Destination Options header: not parsed in transit"),
        Entry("ok_dstopts_then_hbh", dst_then_hbh, None,
              "a HbH that is not first is not a HbH to a transit node: trace untouched"),
        Entry("ok_hbh_then_20_dstopts", hbh_then_20_dst, None,
              "21 extension headers: HbH filled, the rest forwarded unchanged"),
        Entry("ok_hbh_routing_fragment_ah_dstopts", hbh_rt_frag_ah_dst, None,
              "HbH, Routing, Fragment, AH, Destination Options: only the HbH is read"),
        Entry("ok_30_dstopts_no_hbh", no_hbh_30_dst, None,
              "30 Destination Options headers: nothing to parse, forwarded"),
        Entry("ok_hbh_then_garbage_header", hbh_then_garbage, None,
              "after the HbH, a header claiming more than the packet: not ours to check"),
        Entry("ok_hbh_then_unknown_protocol", hbh_then_unknown_proto, None,
              "next header 253 (experimental) after the HbH"),
    ]


def _size_entries() -> List[Entry]:
    def min60_plain(t):
        f = frame(tag=t, last_nh=59, upper=b"\xab\xcd")
        return f + bytes(60 - len(f))

    def min60_hbh(t):  # 6 octets of payload cannot hold the 8-octet HbH
        f = frame(hbh(ioam.padn(6), nh=59)[:6], tag=t, upper=b"")
        return f + bytes(60 - len(f))

    def min64_hbh(t):
        return frame(hbh(ioam.padn(6), nh=59), tag=t, upper=b"") + bytes(2)

    def jumbo(t):
        f = frame(linux(12), tag=t, upper=icmp(tag=t)[:8] + bytes(9000 - 40 - 32 - 8))
        assert len(f) == 9014
        return f

    def big_hbh_2048(t):
        # A valid 2048-octet HbH: 8 skip options (7 x 257 + 247 octets);
        # net_pcap spreads the 2110-octet frame over two 2048-octet mbufs.
        opts = ioam.tlv(EXP, bytes(255)) * 7 + ioam.tlv(EXP, bytes(245))
        h = hbh(opts, autopad=False)
        assert len(h) == 2048
        return frame(h, tag=t)

    def big_trailer(t):
        # A small packet, then 3000 octets of trailer: net_pcap chains the
        # frame; the headers are all in the first segment.
        return frame(linux(12), tag=t) + bytes(3000)

    return [
        Entry("ok_min_frame_60_plain", min60_plain, None,
              "60-octet frame, 2 octets of payload, 4 of link padding: trimmed"),
        Entry("min_frame_60_hbh_cut", min60_hbh, "hbh_truncated",
              "60-octet frame whose 6-octet payload starts a HbH"),
        Entry("ok_frame_64_hbh_only", min64_hbh, None,
              "an 8-octet HbH and nothing else (next header 59), 2 octets of padding"),
        Entry("runt_13", lambda t: frame(tag=t)[:13], "ipv6_truncated",
              "13 octets: not even an Ethernet header", taggable=False, model=False),
        Entry("runt_14_ethernet_only", lambda t: frame(tag=t)[:14], "ipv6_truncated",
              "an Ethernet header alone", taggable=False),
        Entry("ok_jumbo_9000", jumbo, None, "9000-octet IPv6 packet, MTU 9000 on both ports",
              ingress="jumbo"),
        Entry("jumbo_9000_mtu_1500", jumbo, "mtu_exceeded",
              "9000-octet packet, MTU 1500: net_pcap chains it (headers in the first "
              "segment), filled (Linux fills before the MTU check), then refused",
              model=False, events={"ioam_filled": 1}),
        Entry("hbh_2048_spans_mbufs", big_hbh_2048, "headers_not_contiguous",
              "a valid 2048-octet HbH that net_pcap splits across two mbufs",
              model=False, events={}),
        Entry("ok_small_packet_3000_octet_trailer", big_trailer, None,
              "headers in the first segment; the 3000-octet trailer (in both segments) "
              "is link padding and is trimmed", ingress="trailer"),
    ]


def _option_type_entries() -> List[Entry]:
    out = []
    for t in (5, 0x7F, 0x80, 0xFF):
        out.append(Entry(f"ok_ioam_option_type_{t}",
                         lambda tag, t=t: frame(hbh(ioam.padn(2) + ioam.ioam_other_option(
                             t, bytes(12))), tag=tag),
                         None, f"IOAM option-type {t} is not a Pre-allocated Trace: skipped"))
    out.append(Entry("ok_ioam_option_type_9_no_body",
                     lambda t: frame(hbh(ioam.padn(2) + ioam.ioam_other_option(9)), tag=t),
                     None, "option length 2: reserved and option-type only"))
    out.append(Entry("ok_prealloc_garbage_disabled",
                     lambda t: frame(hbh(ioam.padn(2) + ioam.ioam_other_option(
                         0, b"\xff" * 6)), tag=t),
                     None, "a broken Pre-allocated Trace is skipped where IOAM is disabled",
                     ingress="disabled"))
    return out


def entries() -> List[Entry]:
    return (_payload_entries() + _length_entries() + _alignment_padding_entries()
            + _count_entries() + _dstopts_chain_entries() + _size_entries()
            + _option_type_entries())


ENTRIES = entries()
assert len({e.name for e in ENTRIES}) == len(ENTRIES)
# "trailer" is the enabled configuration again, in a run of its own.
GROUPS = ("enabled", "disabled", "jumbo", "trailer")
CONFIGS = {"enabled": corpus.config("enabled"), "disabled": corpus.config("disabled"),
           "jumbo": JUMBO_CONFIG, "trailer": corpus.config("enabled")}


def _cases(group: str) -> List[pt.Case]:
    cases = []
    for e in ENTRIES:
        if e.ingress != group:
            continue
        tag = 0x800 + len(cases)
        f = e.build(tag)
        cases.append(pt.Case(e.name, f, tag, pt.expect(f, pt.profile_for(CONFIGS[group], f)),
                             expected_drop=e.reason))
    return cases


_batches = pt.LazyBatches(lambda group, wd: pt.run_batch(wd, CONFIGS[group], _cases(group)))


@pytest.fixture(scope="module")
def batch(batch_dir):
    yield lambda group: _batches.get(group, batch_dir(group))
    _batches.clear()


BY_NAME = {e.name: e for e in ENTRIES}


@pytest.mark.parametrize("e", [x for x in ENTRIES if x.reason], ids=lambda e: e.name)
def test_dropped(e, batch):
    b = batch(e.ingress)
    case = b.cases[e.name]
    if e.model:
        assert case.model.model.drop == e.reason, "the Linux model disagrees with the entry"
    if e.taggable:
        assert b.output_of(e.name) == [], f"{e.name}: forwarded ({e.why})"
    same = sum(1 for c in b.cases.values() if c.expected_drop == e.reason)
    got = b.run.stats["drops"].get(e.reason)
    assert got == same, (f"{e.name} ({e.why}): {e.reason} = {got}, expected {same}\n"
                         f"non-zero drops: {b.run.drops}\ninput {case.frame[:200].hex()}")


@pytest.mark.parametrize("e", [x for x in ENTRIES if not x.reason], ids=lambda e: e.name)
def test_forwarded(e, batch):
    b = batch(e.ingress)
    case = b.cases[e.name]
    assert case.model.model.verdict == "forward", "the Linux model disagrees with the entry"
    outs = b.output_of(e.name)
    assert len(outs) == 1, (f"{e.name} ({e.why}): {len(outs)} frames on eth1\n"
                            f"non-zero drops: {b.run.drops}\ninput {case.frame[:200].hex()}")
    pt.assert_frame(outs[0], case.model, b.run, f"{e.name} ({e.why})")


@pytest.mark.parametrize("group", GROUPS)
def test_counters(group, batch):
    """Drops: exactly the declared reasons. IOAM events: the model's, or the
    entry's own where the model cannot know (MTU, mbuf layout)."""
    b = batch(group)
    declared = Counter(c.expected_drop for c in b.cases.values() if c.expected_drop)
    assert b.run.drops == dict(declared), b.run.describe()
    events: Counter = Counter()
    for c in b.cases.values():
        e = BY_NAME[c.name]
        events.update(e.events if e.events is not None else Counter(c.model.model.events))
    assert b.run.ioam == dict(events), b.run.describe()
    n_fwd = sum(1 for c in b.cases.values() if not c.expected_drop)
    assert b.run.port("eth0")["rx"] == len(b.cases)
    assert b.run.port("eth1")["tx"] == n_fwd == len(b.run.out[1])
    assert b.run.out[0] == []


# --- truncation at every length ----------------------------------------------------

TAG_SEED, TAG_FULL = 0x5EED, 0xF002


def seed_packet() -> bytes:
    """Athos -> Porthos in seed 002 (Linux layout): ip6ip6 to Aramis, HbH with
    the 0x800000/size 12 trace that Athos has already written (63/1)."""
    inner = ioam.icmp_packet(pt.ALPHA, pt.BETA_RX, hlim=63, fl=TAG_SEED, seq=1)
    h = ioam.linux_hbh(ioam.NH_IPV6, 123, 0x800000, 12, remlen=2,
                       data=bytes(8) + bytes.fromhex("3f000001"))
    return ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC,
                      ioam.encap_packet(pt.ATHOS, pt.ARAMIS, inner, hbh=h, hlim=63, fl=TAG_SEED))


def full_packet() -> bytes:
    """Inline, every fillable bit (0xfff002), 244 octets of trace."""
    return pt.inline_frame(ioam.linux_hbh(ICMP, 123, 0xFFF002, 244), tag=TAG_FULL)


def with_plen(f: bytes, plen: int) -> bytes:
    return f[:18] + struct.pack("!H", plen) + f[20:]


def truncation_outcome(full: bytes, n: int, fixed: bool) -> Optional[str]:
    """What the cut frame ``full[:n]`` must give, written from the rules (not
    the model): the drop reason, or None = forwarded."""
    if n < 14 + 40:
        return "ipv6_truncated"
    plen_orig = struct.unpack_from("!H", full, 18)[0]
    plen = n - 54 if fixed else plen_orig
    if 40 + plen > n - 14:
        return "ipv6_bad_length"
    if full[20] == HOP:
        if plen == 0:
            return "jumbogram"
        if plen < 8 or plen < (full[55] + 1) * 8:
            return "hbh_truncated"
    return None


def truncations() -> List[tuple]:
    """(name, frame, expected, fixed) for every cut of both packets."""
    out = []
    for pname, full in (("seed", seed_packet()), ("fff002", full_packet())):
        for n in range(len(full) + 1):
            cut = full[:n]
            out.append((f"{pname}_cut{n}", cut, truncation_outcome(full, n, False), False))
            if 54 <= n < len(full):
                fixed = with_plen(cut, n - 54)
                out.append((f"{pname}_cut{n}_plen_fixed", fixed,
                            truncation_outcome(full, n, True), True))
    return out


TRUNC = truncations()


@pytest.fixture(scope="module")
def trunc_run(batch_dir):
    return pt.run_appliance(batch_dir("truncated"), corpus.config("enabled"),
                            {0: [f for _n, f, _e, _x in TRUNC]})


def test_truncated_every_length_counters(trunc_run):
    """Every cut is accounted for: the drop counters are exactly the named
    reasons, everything else left by eth1, nothing leaked (pcaptest)."""
    expected = Counter(e for _n, _f, e, _x in TRUNC if e)
    assert trunc_run.drops == dict(expected), trunc_run.describe()
    n_fwd = sum(1 for _n, _f, e, _x in TRUNC if e is None)
    assert trunc_run.port("eth0")["rx"] == len(TRUNC)
    assert len(trunc_run.out[1]) == n_fwd == trunc_run.port("eth1")["tx"]
    assert trunc_run.out[0] == []


def test_truncated_forwarded_frames_are_exact(trunc_run):
    """The forwarded cuts (payload length fixed up, HbH whole) leave in input
    order, each exactly as the Linux model forwards it."""
    prof_frames = [f for _n, f, e, _x in TRUNC if e is None]
    assert len(trunc_run.out[1]) == len(prof_frames)
    for sent, got in zip(prof_frames, trunc_run.out[1]):
        model = pt.expect(sent, pt.profile_for(corpus.config("enabled"), sent))
        assert model.model.verdict == "forward"
        pt.assert_frame(got, model, trunc_run, f"cut of {len(sent)} octets")


def test_truncation_rules_agree_with_the_model():
    """The rules above and the reference model give the same outcome for
    every cut (a check of the oracle itself; no appliance run)."""
    for name, f, expected, _fixed in TRUNC:
        if len(f) < 14:
            continue  # the model starts at the Ethernet header
        m = pt.expect(f, pt.profile_for(corpus.config("enabled"), f)).model
        assert (m.drop if m.verdict != "forward" else None) == expected, name


# --- decapsulating node: nested ip6ip6 with IOAM inside and outside ------------------

SEED_TRACE = ioam.ioam_trace_option(ns=123, type24=0x800000, size=12, remlen=1,
                                    data=bytes(4) + bytes.fromhex("3e000002" "3f000001"))


def outer(tag: int, inner: bytes, *, hbh_opts: Optional[bytes] = SEED_TRACE,
          dst: str = "db02::2", port: int = 0, src: str = "db04::1") -> bytes:
    h = ioam.ext_header(ioam.NH_IPV6, ioam.padn(2) + hbh_opts) if hbh_opts else b""
    pkt = ioam.ipv6(src, dst, h + inner, nh=HOP if h else ioam.NH_IPV6, hlim=62, fl=tag)
    return ioam.ether(ARAMIS_MAC[port], ARAMIS_PEER[port], pkt)


def inner_pkt(tag: int, *, ext: bytes = b"", ext_nh: int = HOP, dst: str = "db03::2",
              hlim: int = 63) -> bytes:
    return ioam.icmp_packet("db01::1", dst, ext=ext, ext_nh=ext_nh, hlim=hlim, fl=tag, seq=tag)


def ioam_only_hbh(nh: int, size: int = 8) -> bytes:
    return ioam.linux_hbh(nh, 123, 0x800000, size)


def without_first_hbh(pkt: bytes) -> bytes:
    """``pkt`` (IPv6) without its first HbH: what leaves when it held only IOAM."""
    assert pkt[6] == HOP
    n = (pkt[41] + 1) * 8
    plen = struct.unpack_from("!H", pkt, 4)[0] - n
    return pkt[:4] + struct.pack("!HB", plen, pkt[40]) + pkt[7:40] + pkt[40 + n:]


def to_beta(pkt: bytes) -> bytes:
    return ioam.ether(ARAMIS_PEER[1], ARAMIS_MAC[1], ioam.set_hop_limit(pkt, pkt[7] - 1))


@dataclass
class NCase:
    name: str
    frame: bytes
    out: Optional[bytes]            # expected frame on eth1, None = dropped
    drop: Optional[str] = None
    port: int = 0
    why: str = ""
    events: Dict[str, int] = field(default_factory=dict)

    @property
    def tag(self) -> int:
        return pt.frame_tag(self.frame)


def _decap_cases() -> List[NCase]:
    cs: List[NCase] = []
    t = 0x900
    # Outer trace (filled as the destination), inner IOAM-only HbH: the inner
    # packet leaves by the edge eth1 without it.
    inner = inner_pkt(t, ext=ioam_only_hbh(ICMP))
    cs.append(NCase("outer_and_inner_ioam", outer(t, inner), to_beta(without_first_hbh(inner)),
                    why="inner IOAM is not processed (tunnel device) and is stripped at the edge",
                    events={"ioam_filled": 1, "decapsulated": 1, "ioam_skip_disabled": 1,
                            "edge_egress_stripped": 1}))
    t += 1
    # Three levels: outer (to us) -> middle ip6ip6 to Beta with IOAM -> inner
    # with IOAM. The middle packet is forwarded: its IOAM-only HbH goes at the
    # edge, the inner packet is payload and stays as it is.
    innermost = inner_pkt(t, ext=ioam_only_hbh(ICMP))
    middle = ioam.ipv6("db01::1", "db03::2", ioam_only_hbh(ioam.NH_IPV6) + innermost, nh=HOP,
                       hlim=63, fl=t)
    cs.append(NCase("three_levels_middle_to_beta", outer(t, middle),
                    to_beta(without_first_hbh(middle)),
                    why="the middle tunnel is not ours: forwarded, its IOAM stripped at the edge",
                    events={"ioam_filled": 1, "decapsulated": 1, "ioam_skip_disabled": 1,
                            "edge_egress_stripped": 1}))
    t += 1
    middle = ioam.ipv6("db01::1", "db02::2", ioam_only_hbh(ioam.NH_IPV6) + innermost, nh=HOP,
                       hlim=63, fl=t)
    cs.append(NCase("three_levels_middle_to_us", outer(t, middle), None, "decap_nested",
                    why="a tunnel to us inside a tunnel to us",
                    events={"ioam_filled": 1, "decapsulated": 1, "ioam_skip_disabled": 1}))
    t += 1
    bad = ioam.ext_header(ICMP, ioam.pad1() + ioam.ioam_trace_option(size=4) + ioam.padn(3))
    cs.append(NCase("inner_ioam_misaligned", outer(t, inner_pkt(t, ext=bad)), None,
                    "ioam_misaligned", why="the inner HbH is parsed after decapsulation",
                    events={"ioam_filled": 1, "decapsulated": 1}))
    t += 1
    inner = inner_pkt(t, ext=ioam_only_hbh(ICMP, 244))
    cs.append(NCase("outer_none_inner_big_trace", outer(t, inner, hbh_opts=None),
                    to_beta(without_first_hbh(inner)),
                    why="no outer HbH; a 244-octet inner trace removed at the edge",
                    events={"decapsulated": 1, "ioam_skip_disabled": 1,
                            "edge_egress_stripped": 1}))
    t += 1
    # Two HbH headers in a row (RFC 8200 allows one, first). The first holds
    # only IOAM, so the edge removes it whole: the second, never validated,
    # must not become the first HbH of what leaves the domain with its IOAM.
    two = ioam_only_hbh(HOP) + ioam_only_hbh(ICMP)
    cs.append(NCase("inner_two_hbh_headers", outer(t, inner_pkt(t, ext=two)), "check-no-ioam",
                    why="edge egress strip must not promote a second HbH carrying IOAM",
                    events={}))
    return cs


DECAP = _decap_cases()


def _strip_cases() -> List[NCase]:
    cs: List[NCase] = []
    t = 0xA00
    pkt = ioam.icmp_packet("db03::2", "db01::1", ext=ioam_only_hbh(ICMP), hlim=64, fl=t, seq=t)
    cs.append(NCase("from_outside_ioam_stripped", ioam.ether(ARAMIS_MAC[1], ARAMIS_PEER[1], pkt),
                    ioam.ether(ARAMIS_PEER[0], ARAMIS_MAC[0],
                               ioam.set_hop_limit(without_first_hbh(pkt), 63)),
                    port=1, why="edge_policy strip: the IOAM-only HbH is removed on ingress",
                    events={"edge_stripped": 1}))
    t += 1
    two = ioam_only_hbh(HOP) + ioam_only_hbh(ICMP)
    pkt = ioam.icmp_packet("db03::2", "db01::1", ext=two, hlim=64, fl=t, seq=t)
    cs.append(NCase("from_outside_two_hbh_headers", ioam.ether(ARAMIS_MAC[1], ARAMIS_PEER[1], pkt),
                    "check-no-ioam", port=1,
                    why="ingress strip must not promote a second HbH carrying foreign IOAM "
                        "into the domain", events={}))
    return cs


STRIP = _strip_cases()


def _nested_run(wd, config_text, cases):
    inputs: Dict[int, List[bytes]] = {}
    for c in cases:
        inputs.setdefault(c.port, []).append(c.frame)
    return pt.run_appliance(wd, config_text, inputs)


@pytest.fixture(scope="module")
def decap_run(batch_dir):
    return _nested_run(batch_dir("decap"), ARAMIS, DECAP)


@pytest.fixture(scope="module")
def strip_run(batch_dir):
    return _nested_run(batch_dir("edge_strip"), ARAMIS_STRIP, STRIP)


def _first_hbh_ioam(frame_bytes: bytes) -> List[ioam.Tlv]:
    pkt = frame_bytes[14:]
    if len(pkt) < 48 or pkt[6] != HOP:
        return []
    return [o for o in ioam.hbh_tlvs(pkt) if o.otype == ioam.OPT_IOAM]


def _check_nested(run: pt.RunResult, c: NCase, out_port: int) -> None:
    outs = [f for p in run.out for f in run.out[p] if pt.frame_tag(f) == c.tag]
    if c.out == "check-no-ioam":
        # Dropped, or forwarded with no IOAM in the first HbH: either keeps
        # the domain closed.
        for f in outs:
            assert not _first_hbh_ioam(f), (
                f"{c.name}: {c.why}\nIOAM left in the first HbH of {f.hex()}\n"
                f"input {c.frame.hex()}")
        return
    if c.out is None:
        assert outs == [], f"{c.name}: forwarded ({c.why})"
        return
    assert len(outs) == 1, f"{c.name}: {len(outs)} frames out ({c.why})\n{run.describe()}"
    assert outs[0] in run.out[out_port], f"{c.name}: left by the wrong port"
    assert outs[0] == c.out, (f"{c.name} ({c.why})\n{ioam.hexdiff(c.out, outs[0])}")


@pytest.mark.parametrize("case", DECAP, ids=lambda c: c.name)
def test_nested_decap(case, decap_run):
    _check_nested(decap_run, case, 1)


@pytest.mark.parametrize("case", STRIP, ids=lambda c: c.name)
def test_edge_strip_from_outside(case, strip_run):
    _check_nested(strip_run, case, 0)


@pytest.mark.parametrize("which", ["decap", "edge_strip"])
def test_nested_counters(which, decap_run, strip_run):
    run, cases = (decap_run, DECAP) if which == "decap" else (strip_run, STRIP)
    known = [c for c in cases if c.out != "check-no-ioam"]
    drops = Counter(c.drop for c in known if c.drop)
    events: Counter = Counter()
    for c in known:
        events.update(c.events)
    # The two-HbH cases may be refused under any reason or forwarded: leave
    # their counters out of the comparison but nothing else.
    extra = [c for c in cases if c.out == "check-no-ioam"]
    got_drops = Counter(run.drops)
    got_events = Counter(run.ioam)
    for c in extra:
        outs = [f for p in run.out for f in run.out[p] if pt.frame_tag(f) == c.tag]
        if not outs:  # dropped: exactly one drop of some reason is theirs
            reason = next((r for r in got_drops if got_drops[r] > drops.get(r, 0)), None)
            assert reason, f"{c.name} neither forwarded nor counted as a drop"
            got_drops[reason] -= 1
    got_drops = +got_drops
    assert dict(got_drops) == dict(drops), run.describe()
    for k, v in events.items():
        assert got_events[k] >= v, f"{k}: {got_events[k]} < {v}\n{run.describe()}"
