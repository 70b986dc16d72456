"""Seed 002 replayed at the Porthos position, decoded by tshark (Wireshark's
own IOAM dissector) as an independent second opinion on the wire format.

Athos's data in the input is synthesised with the reference model (encap
node, output path); the appliance must write Porthos's data in front of it.
"""

import shutil
import subprocess

import pytest

import ioam_scapy as ioam
import pcaptest as pt

pytestmark = pytest.mark.skipif(
    shutil.which("tshark") is None,
    reason="tshark is not installed (Debian package 'tshark'); it is the independent decoder")

# Porthos exactly as the seed configures it (brief's config).
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
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
"""

ATHOS = ioam.NodeProfile(
    node_id=1, node_id_wide=11111111, ingress_id=101, ingress_id_wide=101101,
    egress_id=102, egress_id_wide=102102,
    namespaces={123: ioam.Namespace(0xDEADBEE0, 0xCAFEC0CAF00DC0DE, 777,
                                    b"something that will be 4n-aligned")})

F = "ipv6.opt.ioam.trace."
FIELDS = ["ns", "nodelen", "remlen", "type", "flag.o", "node.hlim", "node.id", "node.iif",
          "node.eif", "node.tss", "node.tsf", "node.nsdata", "node.qdepth", "node.id_wide",
          "node.iif_wide", "node.eif_wide", "node.nsdata_wide", "node.oss.len",
          "node.oss.scid", "node.oss.data"]
BAD = ("_ws.malformed || _ws.expert.severity >= warning || ipv6.opt.ioam.trace.invalid_nodelen"
       " || ipv6.opt.ioam.trace.invalid_remlen || ipv6.opt.ioam.trace.invalid_type")


def tshark_fields(pcap):
    """One dict per frame: short field name -> list of all occurrences."""
    cmd = ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "occurrence=a",
           "-E", "separator=|", "-E", "aggregator=;"]
    for f in FIELDS:
        cmd += ["-e", F + f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    rows = []
    for line in res.stdout.splitlines():
        vals = line.split("|")
        rows.append({f: (v.split(";") if v else []) for f, v in zip(FIELDS, vals)})
    return rows


def tshark_problems(pcap):
    res = subprocess.run(["tshark", "-n", "-r", str(pcap), "-Y", BAD], capture_output=True,
                         text=True, timeout=60, check=True)
    return res.stdout.strip()


def _num(v):
    return int(v, 0)


def athos_frame(type24, size, tag):
    """Seed: Athos encapsulates toward tundst db02::2 (Aramis) with
    'trace prealloc type T ns 123 size S' and fills its own data."""
    inner = ioam.icmp_packet(pt.ALPHA, pt.BETA_RX, hlim=63, fl=tag, seq=tag)
    pkt = ioam.encap_packet(pt.ATHOS, pt.ARAMIS, inner,
                            hbh=ioam.linux_hbh(ioam.NH_IPV6, 123, type24, size))
    pkt = ioam.encap_node_fill(pkt, ATHOS, {ioam.VAR_TS_SEC: 1_700_000_000,
                                            ioam.VAR_TS_FRAC: 1, ioam.VAR_QDEPTH: 0})
    return ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC, pkt)


def test_seed_replay_exact(appliance):
    """The seed's own route: type 0x800000, size 12, encap mode."""
    frame = athos_frame(0x800000, 12, tag=1)
    run = appliance(CONFIG, {0: [frame]})
    assert len(run.out[1]) == 1
    out = run.out[1][0]
    pt.assert_frame(out, pt.expect(frame, pt.profile_for(CONFIG, frame)), run, "seed")
    # Literal trace after Porthos: RemLen 1, [62|2] in front of Athos's [63|1].
    assert out[14 + 48:14 + 48 + 20] == bytes.fromhex("007b0801" "80000000" "00000000"
                                                      "3e000002" "3f000001")
    pcap = run.workdir / "OUT1.pcap"
    assert tshark_problems(pcap) == ""
    (row,) = tshark_fields(pcap)
    assert row["ns"] == ["123"] and row["remlen"] == ["1"] and row["nodelen"] == ["1"]
    assert [_num(x) for x in row["node.id"]] == [2, 1]
    assert [_num(x) for x in row["node.hlim"]] == [62, 63]


def test_full_trace_decoded_by_tshark(appliance):
    """Type 0xfff002, size 244: every field of Porthos as tshark sees it."""
    frame = athos_frame(0xFFF002, 244, tag=2)
    run = appliance(CONFIG, {0: [frame]})
    assert len(run.out[1]) == 1
    pt.assert_frame(run.out[1][0], pt.expect(frame, pt.profile_for(CONFIG, frame)), run,
                    "full")
    pcap = run.workdir / "OUT1.pcap"
    assert tshark_problems(pcap) == ""
    (row,) = tshark_fields(pcap)
    first = {k: v[0] for k, v in row.items() if v}
    assert first["ns"] == "123" and first["nodelen"] == "15" and first["remlen"] == "16"
    assert first["flag.o"] in ("0", "False")
    assert [_num(x) for x in row["node.id"]] == [2, 1]          # newest node first
    assert _num(first["node.hlim"]) == 62
    assert _num(first["node.iif"]) == 201 and _num(first["node.eif"]) == 202
    assert _num(first["node.nsdata"]) == 0xDEADBEE1
    assert _num(first["node.nsdata_wide"]) == 0xCAFEC0CAF11DC0DE
    assert _num(first["node.id_wide"]) == 22222222
    assert _num(first["node.iif_wide"]) == 201201 and _num(first["node.eif_wide"]) == 202202
    assert _num(first["node.qdepth"]) != 0xFFFFFFFF
    tss = _num(first["node.tss"])
    assert run.started - pt.TS_TOLERANCE_S <= tss <= run.ended + pt.TS_TOLERANCE_S
    assert _num(first["node.tsf"]) < 1_000_000
    assert [_num(x) for x in row["node.oss.scid"]] == [666, 777]
    assert [_num(x) for x in row["node.oss.len"]] == [4, 9]
    assert bytes.fromhex(row["node.oss.data"][0].replace(":", "")) == b"Hello there -Obi"
    # Athos's node is passed through untouched.
    assert _num(row["node.nsdata"][1]) == 0xDEADBEE0 and _num(row["node.tss"][1]) == 1_700_000_000


def test_tshark_sees_no_problem_in_matrix_outputs(appliance):
    """Every single-bit / size variant the appliance writes dissects cleanly."""
    frames = []
    # Wireshark 4.0 flags NodeLen 0 as an error, so bit 22 alone (legal, the
    # selftest's input_bit22) cannot be checked here: use bit 0 + bit 22.
    for n in list(range(12)) + [22]:
        t = ioam.bit(n) if n != 22 else 0x800002
        size = 4 * max(1, ioam.nodelen_for(t) + ioam.oss_words(t, b"Hello there -Obi"))
        frames.append(pt.inline_frame(ioam.linux_hbh(58, 123, t, size), tag=100 + n))
    for size in range(4, 245, 24):
        frames.append(pt.encap_frame(ioam.linux_hbh(41, 123, 0x800000, size), tag=200 + size))
    run = appliance(CONFIG, {0: frames})
    assert len(run.out[1]) == len(frames)
    pcap = run.workdir / "OUT1.pcap"
    assert tshark_problems(pcap) == ""
    rows = tshark_fields(pcap)
    assert all([_num(x) for x in r["node.id"]] in ([2], []) for r in rows)
    # bit 0, bit 0 + 22, and every size carry a node id
    assert sum(1 for r in rows if r["node.id"]) == 2 + 11
