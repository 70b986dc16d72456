"""Self-tests of ioam_scapy.py (builders, parsers, Linux reference model).

Pure Python: no appliance binary needed. Literal byte strings below were
worked out by hand from shared/reference/linux-ioam-behaviour.md sections 1
and 2 and the seed 002 configuration.
"""

import struct

import pytest

import corpus
import ioam_scapy as ioam
import linux_selftest as ls
import pcaptest as pt

BETA = ioam.NodeProfile(
    node_id=2, node_id_wide=22222222, enabled=True,
    ingress_id=201, ingress_id_wide=201201, egress_id=202, egress_id_wide=202202,
    namespaces={123: ioam.Namespace()})

PORTHOS = ioam.NodeProfile(
    **{**BETA.__dict__, "namespaces": {123: ioam.Namespace(
        0xDEADBEE1, 0xCAFEC0CAF11DC0DE, 666, b"Hello there -Obi")}})

ATHOS = ioam.NodeProfile(
    node_id=1, node_id_wide=11111111, enabled=True,
    ingress_id=101, ingress_id_wide=101101, egress_id=102, egress_id_wide=102102,
    namespaces={123: ioam.Namespace(0xDEADBEE0, 0xCAFEC0CAF00DC0DE, 777,
                                    b"something that will be 4n-aligned")})


# --- trace type arithmetic -------------------------------------------------------

@pytest.mark.parametrize("n", range(24))
def test_nodelen_per_bit(n):
    want = 2 if n in (8, 9, 10) else 0 if n in (22, 23) else 1
    assert ioam.nodelen_for(ioam.bit(n)) == want


@pytest.mark.parametrize("type24,nodelen", [
    (0x000000, 0), (0x800000, 1), (0xC00000, 2), (0xFF0000, 8), (0x00E000, 6),
    (0xFFF002, 15), (0xFFF000, 15), (0x000FFC, 10), (0xFFFFFF, 25), (0x800001, 1)])
def test_nodelen_combinations(type24, nodelen):
    assert ioam.nodelen_for(type24) == nodelen


def test_bit_numbering_is_msb_first():
    assert ioam.bit(0) == 0x800000 and ioam.bit(22) == 0x000002 and ioam.bit(23) == 1
    assert ioam.bits_of(0xFFF002) == list(range(12)) + [22]
    assert ioam.type_word(0x800000) == 0x80000000


# --- HbH layout (reference 1.2) ---------------------------------------------------

def test_linux_hbh_size4_literal():
    assert ioam.linux_hbh(58, 123, 0x800000, 4) == bytes.fromhex(
        "3a02" "0100" "310e0000" "007b0801" "80000000" "00000000" "01020000")


def test_linux_hbh_size8_literal():
    assert ioam.linux_hbh(41, 123, 0xC00000, 8) == bytes.fromhex(
        "2902" "0100" "31120000" "007b1002" "c0000000" + "00" * 8)


def test_linux_hbh_overflow_and_flags_literal():
    h = ioam.linux_hbh(58, 0x1234, 0xC00000, 4, overflow=True)
    assert h[8:12] == bytes.fromhex("12341401")      # NodeLen 2, O=1, RemLen 1
    h = ioam.linux_hbh(58, 1, 0x800000, 4, flags=0xF)
    assert h[8:12] == bytes.fromhex("00010f81")      # all four flag bits


@pytest.mark.parametrize("size", range(4, 245, 4))
def test_linux_hbh_every_size(size):
    h = ioam.linux_hbh(58, 123, 0x800000, size)
    total = 16 + (size + 7) // 8 * 8
    assert len(h) == total == ioam.linux_hbh_len(size)
    assert h[1] == total // 8 - 1
    assert h[2:4] == b"\x01\x00"
    assert h[4] == 0x31 and h[5] == 10 + size and h[6:8] == b"\x00\x00"
    assert h[8:12] == bytes([0, 123, 1 << 3, size // 4])
    assert h[12:16] == b"\x80\x00\x00\x00"
    assert h[16:16 + size] == bytes(size)
    assert h[16 + size:] == (b"\x01\x02\x00\x00" if size % 8 == 4 else b"")
    # The option sits at IPv6 offset 44 (4n) in a built packet.
    pkt = ioam.icmp_packet("db01::2", "db03::2", ext=h)
    assert [o.offset for o in ioam.ioam_options(pkt)] == [44]
    assert ioam.ioam_trace(pkt).header_tuple() == (0, 1, size // 4)


def test_max_hbh_is_264():
    assert ioam.linux_hbh_len(244) == 264
    assert len(ioam.linux_hbh(58, 1, 0xFFF002, 244)) == 264


# --- seed 002: Athos -> Porthos -> Aramis ----------------------------------------

def _seed_inner():
    return ioam.icmp_packet("db01::2", "db03::2", hlim=63)  # Athos already forwarded


def _athos_seed_packet():
    """Athos: ip -6 route add db03::/64 encap ioam6 mode encap tundst db02::2
    trace prealloc type 0x800000 ns 123 size 12"""
    inner = _seed_inner()
    hbh = ioam.linux_hbh(41, 123, 0x800000, 12)
    assert hbh == bytes.fromhex("2903" "0100" "31160000" "007b0803" "80000000"
                                + "00" * 12 + "01020000")
    pkt = ioam.encap_packet("db04::1", "db02::2", inner, hbh=hbh)
    assert pkt[:8] == bytes.fromhex("60000000") + struct.pack("!HBB", 32 + len(inner), 0, 63)
    assert pkt[40 + 32:] == inner
    filled = ioam.encap_node_fill(pkt, ATHOS, {})
    # Athos writes its hop limit unchanged (output path) + node id 1 at the end.
    assert filled[48:48 + 20] == bytes.fromhex("007b0802" "80000000" "0000000000000000"
                                               "3f000001")
    return filled


def test_seed_athos_encap_literal():
    _athos_seed_packet()


def test_seed_porthos_transit_literal():
    athos_out = _athos_seed_packet()
    m = ioam.linux_transit(athos_out, PORTHOS)
    assert m.verdict == "forward" and m.events == [ioam.EV_FILLED] and not m.variables
    assert m.packet[7] == 62
    assert m.packet[48:48 + 20] == bytes.fromhex("007b0801" "80000000" "00000000"
                                                 "3e000002" "3f000001")
    assert m.packet[:7] == athos_out[:7] and m.packet[68:] == athos_out[68:]
    nodes = ioam.decode_nodes(ioam.ioam_trace(m.packet))
    assert nodes == [{"hop_limit": 62, "node_id": 2}, {"hop_limit": 63, "node_id": 1}]


def test_porthos_oss_literal():
    pkt = ioam.icmp_packet("db01::2", "db03::2", ext=ioam.linux_hbh(58, 123, ioam.bit(22), 20))
    m = ioam.linux_transit(pkt, PORTHOS)
    assert m.packet[48:56] == bytes.fromhex("007b0000" "00000200")
    assert m.packet[56:76] == bytes.fromhex("0400029a") + b"Hello there -Obi"


def test_beta_oss_without_schema_literal():
    pkt = ioam.icmp_packet("db01::2", "db03::2", ext=ioam.linux_hbh(58, 123, ioam.bit(22), 4))
    m = ioam.linux_transit(pkt, BETA)
    assert m.packet[48:60] == bytes.fromhex("007b0000" "00000200" "00ffffff")


def test_athos_schema_padding():
    # 33 octets -> 36 with 3 zero octets; header length 9 words, id 777.
    pkt = ioam.icmp_packet("db01::2", "db03::2", ext=ioam.linux_hbh(58, 123, ioam.bit(22), 40))
    out = ioam.encap_node_fill(pkt, ATHOS, {})
    assert out[56:60] == bytes.fromhex("09000309")
    assert out[60:96] == b"something that will be 4n-aligned\x00\x00\x00"


def test_full_trace_two_nodes_newest_first():
    hbh = ioam.linux_hbh(41, 123, 0xFFF002, 244)
    pkt = ioam.encap_packet("db04::1", "db02::2", _seed_inner(), hbh=hbh)
    athos = ioam.encap_node_fill(pkt, ATHOS, {ioam.VAR_TS_SEC: 1_700_000_000,
                                             ioam.VAR_TS_FRAC: 123456, ioam.VAR_QDEPTH: 7})
    m = ioam.linux_transit(athos, PORTHOS)
    tr = ioam.ioam_trace(m.packet)
    assert tr.header_tuple() == (0, 15, (244 - 100 - 80) // 4)
    n = ioam.decode_nodes(tr)
    assert [x["node_id"] for x in n] == [2, 1]
    assert n[1]["ts_sec"] == 1_700_000_000 and n[1]["ts_frac"] == 123456
    assert n[1]["queue_depth"] == 7 and n[1]["hop_limit"] == 63
    assert n[1]["oss"]["schema_id"] == 777 and n[1]["oss"]["length"] == 9
    assert n[0]["hop_limit"] == 62 and n[0]["ingress_id"] == 201
    assert n[0]["oss"] == {"length": 4, "schema_id": 666, "data": b"Hello there -Obi"}
    kinds = sorted(k for _, k in m.variables)
    assert kinds == sorted([ioam.VAR_TS_SEC, ioam.VAR_TS_FRAC, ioam.VAR_QDEPTH])


# --- the 11.3 matrix through the model -------------------------------------------

ALL_INPUT = ls.input_matrix() + ls.porthos_matrix() + ls.extra_bits_matrix()


@pytest.mark.parametrize("mode", ["inline", "encap"])
@pytest.mark.parametrize("t", ALL_INPUT, ids=lambda t: t.name)
def test_model_meets_selftest_table(t, mode):
    prof = PORTHOS if t.name.startswith("porthos_") else BETA
    if t.disabled:
        prof = ioam.NodeProfile(**{**prof.__dict__, "enabled": False})
    hbh = ls.input_hbh(t, mode)
    if mode == "inline":
        pkt = ioam.icmp_packet("db01::2", "db03::2", ext=hbh, hlim=ls.HLIM_SENT)
    else:
        pkt = ioam.encap_packet("db04::1", "db02::2",
                                ioam.icmp_packet("db01::2", "db03::2"), hbh=hbh,
                                hlim=ls.HLIM_SENT)
    m = ioam.linux_transit(pkt, prof)
    assert m.verdict == "forward"
    assert m.events == [t.event]
    assert ls.verify_output(t, m.packet, mode) == []
    # Only the trace's written area may differ from the input (+ hop limit).
    diff = [i for i in range(len(pkt)) if pkt[i] != m.packet[i]]
    assert all(i == 7 or 48 <= i < 56 + t.size for i in diff)


def test_matrix_counts():
    assert len(ls.input_matrix()) == 80   # reference 6.3: 80 INPUT tests per mode


# --- hop limit, trimming, local delivery -----------------------------------------

@pytest.mark.parametrize("hlim,verdict,written", [
    (255, "forward", 254), (64, "forward", 63), (2, "forward", 1),
    (1, "drop", 0), (0, "drop", 255)])
def test_model_hop_limit(hlim, verdict, written):
    pkt = ioam.icmp_packet("db01::2", "db03::2", ext=ioam.linux_hbh(), hlim=hlim)
    m = ioam.linux_transit(pkt, BETA)
    assert m.verdict == verdict
    assert m.events == [ioam.EV_FILLED]              # written even when dropped (2.4)
    assert m.packet[56] == written
    if verdict == "drop":
        assert m.drop == "hop_limit_exceeded" and m.packet[7] == hlim
    else:
        assert m.packet[7] == hlim - 1


def test_model_local_delivery_sentinels():
    pkt = ioam.icmp_packet("db01::2", "db04::2", ext=ioam.linux_hbh(58, 123, 0xFFF002, 64))
    m = ioam.linux_transit(pkt, ioam.NodeProfile(**{**BETA.__dict__, "local": True}))
    assert m.verdict == "local" and m.drop == "local_delivery"
    node = ioam.decode_nodes(ioam.ioam_trace(m.packet))[0]
    assert node["egress_id"] == 0xFFFF and node["egress_id_wide"] == 0xFFFFFFFF
    assert node["queue_depth"] == 0xFFFFFFFF and node["ingress_id"] == 201
    assert [k for _, k in m.variables] == [ioam.VAR_TS_SEC, ioam.VAR_TS_FRAC]


def test_model_trims_trailer():
    pkt = ioam.icmp_packet("db01::2", "db03::2", ext=ioam.linux_hbh())
    m = ioam.linux_transit(pkt + b"\xee" * 9, BETA)
    assert len(m.packet) == len(pkt)


def test_model_frame_rewrite():
    f = pt.inline_frame(ioam.linux_hbh(), tag=5, hlim=64)
    r = pt.expect(f, BETA)
    assert r.frame[:14] == ioam.mac_bytes(pt.ARAMIS_MAC) + ioam.mac_bytes(pt.ETH1_MAC) + b"\x86\xdd"
    assert r.frame[14 + 7] == 63 and pt.frame_tag(r.frame) == 5
    assert r.variables == []


# --- malformed corpus: the model agrees with the declared reasons ------------------

@pytest.mark.parametrize("e", corpus.entries(), ids=lambda e: e.name)
def test_model_agrees_with_corpus(e):
    frame = e.build(1000)
    r = pt.expect(frame, pt.profile_for(corpus.config(e.ingress), frame))
    assert r.model.drop == e.reason, e.why
    if e.reason is None:
        assert r.model.verdict == "forward"


def test_corpus_frames_are_distinct():
    frames = [e.build(i + 1) for i, e in enumerate(corpus.entries())]
    assert len(set(frames)) == len(frames)


# --- parsers -------------------------------------------------------------------------

def test_parse_every_ioam_option():
    body = (ioam.padn(2) + ioam.ioam_trace_option(7, 0xC00000, 8) +
            ioam.ioam_other_option(ioam.IOAM_POT, bytes(10)))
    pkt = ioam.icmp_packet("db01::2", "db03::2", ext=ioam.ext_header(58, body))
    opts = ioam.ioam_options(pkt)
    assert [(o.offset, o.opt_type) for o in opts] == [(44, 0), (64, 2)]
    assert opts[0].trace.ns == 7 and opts[0].trace.nodelen == 2 and opts[1].trace is None


def test_profile_from_yaml():
    p = pt.profile("""
node: {id: 2, id_wide: 22222222}
ports:
  - {name: eth0, device: net_pcap0, ioam: {enabled: true, id: 201, id_wide: 201201}}
  - {name: eth1, device: net_pcap1, ioam: {id: 202, id_wide: 202202}}
namespaces:
  - {id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}
schemas:
  - {id: 666, data: "Hello there -Obi"}
""")
    assert p == PORTHOS


def test_mini_yaml_reader():
    """The fallback config reader (used when python3-yaml is missing)."""
    text = """\
node: {id: 2, id_wide: 22222222}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: true, id: 201, id_wide: 201201}
  - {name: eth1, device: net_pcap1, ioam: {id: 202}}
namespaces:
  - {id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}
schemas:
  - {id: 666, data: "Hello there -Obi"}
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
"""
    assert pt._mini_yaml(text) == {
        "node": {"id": 2, "id_wide": 22222222},
        "ports": [{"name": "eth0", "device": "net_pcap0", "mac": "02:00:00:00:02:00",
                   "addresses": ["db04::2/64"],
                   "ioam": {"enabled": True, "id": 201, "id_wide": 201201}},
                  {"name": "eth1", "device": "net_pcap1", "ioam": {"id": 202}}],
        "namespaces": [{"id": 123, "data": 0xDEADBEE1, "wide": 0xCAFEC0CAF11DC0DE,
                        "schema": 666}],
        "schemas": [{"id": 666, "data": "Hello there -Obi"}],
        "neighbors": [{"address": "db02::2", "mac": "02:00:00:00:03:00", "port": "eth1"}],
    }
