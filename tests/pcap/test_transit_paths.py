"""Transit behaviour beyond the selftest matrix: multi-hop traces, hop
limits, packet streams, unknown IOAM option-types, local delivery, the
reverse (IOAM-disabled) direction."""

from collections import Counter

import pytest

from scapy.layers.inet6 import IPv6, ICMPv6EchoReply

import ioam_scapy as ioam
import pcaptest as pt

# Porthos (seed 002) plus a neighbour entry for Athos so that traffic
# arriving on eth1 can be routed back out of eth0 (connected db04::/64), and
# config/porthos.yaml's route back to Alpha's link, which the appliance's
# ICMPv6 answers to Alpha take.
CONFIG = """\
node: {id: 2, id_wide: 22222222}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: true, id: 201, id_wide: 201201}
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
  - {prefix: "db01::/64", port: eth0, via: "db04::1"}
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
  - {address: "db04::1", mac: "02:00:00:00:01:01", port: eth0}
"""

# Athos (seed 002), used only to synthesise the upstream node's data.
ATHOS = ioam.NodeProfile(
    node_id=1, node_id_wide=11111111, ingress_id=101, ingress_id_wide=101101,
    egress_id=102, egress_id_wide=102102,
    namespaces={123: ioam.Namespace(0xDEADBEE0, 0xCAFEC0CAF00DC0DE, 777,
                                    b"something that will be 4n-aligned")})
ATHOS_VALUES = {ioam.VAR_TS_SEC: 1_700_000_000, ioam.VAR_TS_FRAC: 654_321,
                ioam.VAR_QDEPTH: 3}


def _athos_encap(type24, size, tag, inner_hlim=64):
    """What Athos sends to us: ip6ip6 toward Aramis, its own data filled
    (output path: it writes the hop limit it sends, i.e. inner - 1)."""
    inner = ioam.icmp_packet(pt.ALPHA, pt.BETA_RX, hlim=inner_hlim - 1, fl=tag, seq=tag)
    hbh = ioam.linux_hbh(ioam.NH_IPV6, 123, type24, size)
    pkt = ioam.encap_packet(pt.ATHOS, pt.ARAMIS, inner, hbh=hbh)
    pkt = ioam.encap_node_fill(pkt, ATHOS, ATHOS_VALUES)
    return ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC, pkt)


def _expect(frame):
    return pt.expect(frame, pt.profile_for(CONFIG, frame))


def _time_exceeded(frame):
    """The Time Exceeded (RFC 4443 3.3) the appliance must send Alpha for a
    frame dropped for its hop limit: from eth0's address, out of eth0 to
    Athos, quoting the packet as dropped (this node's trace fill in it)."""
    m = ioam.linux_transit(frame[14:], pt.profile_for(CONFIG, frame))
    assert m.drop == "hop_limit_exceeded" and not m.variables
    return ioam.ether(pt.ATHOS_MAC, pt.ETH0_MAC,
                      ioam.time_exceeded(pt.OWN_ETH0, pt.ALPHA, m.packet))


def _one_out(run, tag, port=1):
    outs = pt.by_tag(run.out[port]).get(tag, [])
    assert len(outs) == 1, f"tag {tag}: {len(outs)} frames on port {port}\n{run.describe()}"
    return outs[0]


# --- multi-hop -------------------------------------------------------------------

TWO_HOP = [
    # name, type, size, our (Overflow, NodeLen, RemLen) afterwards
    ("seed_0x800000_size12", 0x800000, 12, (0, 1, 1)),
    ("full_0xfff002_size244", 0xFFF002, 244, (0, 15, 16)),
    ("bits0_1_5_22_size84", 0xC40002, 84, (0, 3, 0)),
    ("no_room_after_athos", 0xFFF002, 160, (1, 15, 15)),
]


@pytest.mark.parametrize("name,type24,size,header", TWO_HOP, ids=[x[0] for x in TWO_HOP])
def test_two_hop(name, type24, size, header, appliance):
    frame = _athos_encap(type24, size, tag=7)
    before = ioam.ioam_trace(frame[14:])
    run = appliance(CONFIG, {0: [frame]})
    out = _one_out(run, 7)
    pt.assert_frame(out, _expect(frame), run, name)
    after = ioam.ioam_trace(out[14:])
    assert after.header_tuple() == header
    # Athos's bytes (everything from its old RemLen on) are untouched.
    assert after.data[before.remlen * 4:] == before.data[before.remlen * 4:]
    nodes = ioam.decode_nodes(after)
    if header[0]:
        assert [n["node_id"] for n in nodes if "node_id" in n] == [1]
        assert run.ioam == {ioam.EV_OVERFLOW_SET: 1}
    else:
        assert nodes[0].get("node_id") == 2 and nodes[-1].get("node_id") == 1
        assert len(nodes) == 2 and run.ioam == {ioam.EV_FILLED: 1}
        if "hop_limit" in nodes[0]:
            assert (nodes[0]["hop_limit"], nodes[1]["hop_limit"]) == (62, 63)


def test_three_nodes_fit_in_244(appliance):
    """Legacy fwd_full_supp_trace shape: after Athos (25 words) and us (20)
    there is room for Aramis (15 + 1 words)."""
    frame = _athos_encap(0xFFF002, 244, tag=9)
    run = appliance(CONFIG, {0: [frame]})
    tr = ioam.ioam_trace(_one_out(run, 9)[14:])
    assert tr.remlen == 16 and tr.remlen >= 15 + 1


# --- hop limits and streams --------------------------------------------------------

HLIMS = [255, 64, 2, 1, 0]


def test_hop_limits(appliance):
    frames = []
    for i, h in enumerate(HLIMS):
        frames.append(pt.inline_frame(ioam.linux_hbh(), tag=10 + i, hlim=h))
        frames.append(pt.inline_frame(b"", tag=20 + i, hlim=h))
    run = appliance(CONFIG, {0: frames})
    for i, h in enumerate(HLIMS):
        for tag, f in ((10 + i, frames[2 * i]), (20 + i, frames[2 * i + 1])):
            outs = pt.by_tag(run.out[1]).get(tag, [])
            if h > 1:
                assert len(outs) == 1, f"hop limit {h} (tag {tag}) not forwarded"
                pt.assert_frame(outs[0], _expect(f), run, f"hop limit {h}")
                assert outs[0][21] == h - 1
            else:
                assert outs == [], f"hop limit {h} forwarded"
            errs = pt.answers(run.out[0]).get(tag, [])
            if h > 1:
                assert errs == [], f"hop limit {h} (tag {tag}) answered"
            else:
                want = _time_exceeded(f)
                assert errs == [want], (f"hop limit {h} (tag {tag}): Time Exceeded\n"
                                        f"{ioam.hexdiff(want, errs[0] if errs else b'')}")
    for i, h in enumerate(HLIMS[:3]):
        tr = ioam.ioam_trace(pt.by_tag(run.out[1])[10 + i][0][14:])
        assert ioam.decode_nodes(tr)[0]["hop_limit"] == h - 1
    assert run.drops == {"hop_limit_exceeded": 4}, run.describe()
    assert run.icmp == {"icmp_time_exceeded": 4}, run.describe()
    assert len(run.out[0]) == 4


def test_hop_limit_expiry_still_fills(appliance):
    """Reference 2.4 / checklist 20: the data is written before the hop-limit
    drop (Linux parses the HbH in ip6_rcv_core, before ip6_forward)."""
    frame = pt.inline_frame(ioam.linux_hbh(), tag=3, hlim=1)
    run = appliance(CONFIG, {0: [frame]})
    assert run.drops == {"hop_limit_exceeded": 1}, run.describe()
    assert run.ioam == {ioam.EV_FILLED: 1}, (
        "reference 2.4: a Linux node writes its data (hop limit 0) before the "
        "hop-limit drop, so the trace is filled (and an IOAM event would be "
        f"emitted); got IOAM counters {run.ioam}")
    # The Time Exceeded quotes the packet as dropped: the fill is in it.
    want = _time_exceeded(frame)
    assert run.out[0] == [want], ioam.hexdiff(want, run.out[0][0] if run.out[0] else b"")
    quoted = run.out[0][0][14 + 48:]
    assert ioam.decode_nodes(ioam.ioam_trace(quoted)) == [{"hop_limit": 0, "node_id": 2}]
    assert run.icmp == {"icmp_time_exceeded": 1} and run.out[1] == []


def test_stream_of_packets(appliance):
    """300 packets of mixed trace types and sizes: all forwarded in order,
    each byte-exact, timestamps non-decreasing, queue depth plausible."""
    types = [0x800000, 0xC00000, 0xF00000, 0xFFF002, 0x000002, 0x3C0000]
    frames, cases = [], []
    for i in range(300):
        t = types[i % len(types)]
        need = 4 * (ioam.nodelen_for(t) + ioam.oss_words(t, b"Hello there -Obi"))
        size = min(244, need + 4 * (i % 7))
        mk = pt.inline_frame if i % 2 else pt.encap_frame
        f = mk(ioam.linux_hbh(58 if i % 2 else 41, 123, t, size), tag=1000 + i,
               hlim=64 - i % 60)
        frames.append(f)
        cases.append((1000 + i, f))
    run = appliance(CONFIG, {0: frames})
    assert [pt.frame_tag(f) for f in run.out[1]] == [t for t, _ in cases]
    stamps = []
    for (tag, f), out in zip(cases, run.out[1]):
        exp = _expect(f)
        pt.assert_frame(out, exp, run, f"stream tag {tag}")
        _, seen = ioam.apply_variables(exp.frame, out, exp.variables)
        if ioam.VAR_TS_SEC in seen:
            stamps.append((seen[ioam.VAR_TS_SEC][0], seen[ioam.VAR_TS_FRAC][0]))
    assert stamps == sorted(stamps), "timestamps go backwards"
    assert run.drops == {} and run.ioam == {ioam.EV_FILLED: 300}


# --- option types, local delivery, reverse direction ---------------------------------

def test_unknown_ioam_option_types_unchanged(appliance):
    """IOAM option-types 1..4: skipped, frame unchanged but for the MACs and
    the hop limit (checked by hand here, not through the model)."""
    frames = {}
    for t in range(1, 5):
        body = ioam.ioam_other_option(t, bytes(range(16)))
        frames[40 + t] = pt.inline_frame(ioam.ext_header(58, ioam.padn(2) + body), tag=40 + t)
    run = appliance(CONFIG, {0: list(frames.values())})
    for tag, f in frames.items():
        out = _one_out(run, tag)
        want = (ioam.mac_bytes(pt.ARAMIS_MAC) + ioam.mac_bytes(pt.ETH1_MAC) + f[12:21]
                + bytes([f[21] - 1]) + f[22:])
        assert out == want, ioam.hexdiff(want, out)
    assert run.ioam == {ioam.EV_SKIP_OPTION_TYPE: 4} and run.drops == {}


def test_local_delivery(appliance):
    """Packets to the appliance's own addresses: IOAM-processed as the
    destination node (filled). Echo Requests are answered (RFC 4443 4.2:
    from the address they were sent to, back to Alpha out of eth0, without
    the request's HbH); anything else is dropped as local_delivery."""
    frames = [pt.inline_frame(ioam.linux_hbh(58, 123, 0xFFF002, 100), tag=50, dst=pt.OWN_ETH0),
              pt.inline_frame(ioam.linux_hbh(58, 123, 0x800000, 4), tag=51, dst=pt.OWN_ETH1),
              pt.inline_frame(b"", tag=52, dst=pt.OWN_ETH0),
              ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC, bytes(
                  IPv6(src=pt.ALPHA, dst=pt.OWN_ETH0, fl=53) / ICMPv6EchoReply(id=1, seq=53)))]
    for f in frames:
        assert _expect(f).model.verdict == "local"
    run = appliance(CONFIG, {0: frames})
    replies = pt.answers(run.out[0])
    for f in frames[:3]:
        tag = pt.frame_tag(f)
        want = ioam.ether(pt.ATHOS_MAC, pt.ETH0_MAC, ioam.echo_reply_for(f[14:]))
        assert replies.get(tag) == [want], f"tag {tag}: Echo Reply\n{run.describe()}"
        assert want[14 + 6] == ioam.NH_ICMPV6
    assert len(run.out[0]) == 3 and run.out[1] == []
    assert run.drops == {"local_delivery": 1}, run.describe()
    assert run.icmp == {"icmp_echo_reply": 3}, run.describe()
    assert run.ioam == {ioam.EV_FILLED: 2}, run.describe()


def test_reverse_direction_not_enabled(appliance):
    """eth1 has no ioam.enabled: a trace arriving there is left alone
    (ioam_skip_disabled) while the packet is routed out of eth0."""
    pkt = ioam.icmp_packet(pt.BETA_RX, pt.ATHOS, ext=ioam.linux_hbh(), fl=60, hlim=64)
    frame = ioam.ether(pt.ETH1_MAC, pt.ARAMIS_MAC, pkt)
    run = appliance(CONFIG, {1: [frame]})
    out = _one_out(run, 60, port=0)
    exp = ioam.expected_frame(frame, pt.profile_for(CONFIG, frame, ingress="eth1"),
                              ingress_mac=pt.ETH1_MAC, egress_mac=pt.ETH0_MAC,
                              next_hop_mac=pt.ATHOS_MAC)
    assert exp.model.events == [ioam.EV_SKIP_DISABLED]
    pt.assert_frame(out, exp, run, "reverse")
    assert run.ioam == {ioam.EV_SKIP_DISABLED: 1} and run.out[1] == []


def test_both_directions_at_once(appliance):
    """Traffic on both ports in the same run; counters per port."""
    fwd = [pt.inline_frame(ioam.linux_hbh(), tag=70 + i) for i in range(5)]
    rev = [ioam.ether(pt.ETH1_MAC, pt.ARAMIS_MAC,
                      ioam.icmp_packet(pt.BETA_RX, pt.ATHOS, ext=ioam.linux_hbh(), fl=80 + i))
           for i in range(3)]
    run = appliance(CONFIG, {0: fwd, 1: rev})
    assert sorted(pt.frame_tag(f) for f in run.out[1]) == [70 + i for i in range(5)]
    assert sorted(pt.frame_tag(f) for f in run.out[0]) == [80 + i for i in range(3)]
    assert run.port("eth0") == {"device": "net_pcap0", "rx": 5, "tx": 3}
    assert run.port("eth1") == {"device": "net_pcap1", "rx": 3, "tx": 5}
    assert run.ioam == dict(Counter({ioam.EV_FILLED: 5, ioam.EV_SKIP_DISABLED: 3}))
