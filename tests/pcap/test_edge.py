"""IOAM domain edge (``ports[].edge``, ``edge_policy``): RFC 9197 section 4 and
RFC 9486 section 6 (IOAM must not leak out of the domain; IOAM from outside
must not be trusted).

Topology: eth0 (db04::2) faces the outside: ``edge: true``, IOAM disabled,
as Athos's eth0 in the seed; eth1 (db02::1) is inside the domain, IOAM
enabled. Ingress cases arrive on eth0 for db03::2 (leave by eth1); egress
cases arrive on eth1 for db01::1 (leave by the edge port eth0).

Expected frames: ``ignore`` is the Linux model unchanged; ``strip`` and the
egress strip apply ``ioam_scapy.strip_ioam`` (written from the brief: kept
options at the same offset modulo 8, minimal Pad1/PadN before each and at
the end, the header removed when nothing but IOAM and padding was in it),
then the model. The rebuilt headers are also checked against the rules
themselves (padding runs <= 7, 8-octet multiple, offsets modulo 8), by the
reference model's HbH parser and by tshark. One appliance run per policy.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional

import pytest

import ioam_scapy as ioam
import pcaptest as pt

CONFIG = """\
node: {id: 2, id_wide: 22222222}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    edge: true%(policy)s
    ioam: {enabled: false, id: 201, id_wide: 201201}
  - name: eth1
    device: net_pcap1
    mac: 02:00:00:00:02:01
    addresses: [db02::1/64]
    ioam: {enabled: true, id: 202, id_wide: 202202}
namespaces:
  - {id: 123, data: 0xdeadbee1}
routes:
  - {prefix: "db03::/64", port: eth1, via: "db02::2"}
  - {prefix: "db01::/64", port: eth0, via: "db04::1"}
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
  - {address: "db04::1", mac: "02:00:00:00:01:01", port: eth0}
"""
POLICIES = ("ignore", "strip", "drop")


def config(policy: str) -> str:
    # ignore is the default: leave the key out for it
    return CONFIG % {"policy": "" if policy == "ignore" else f"\n    edge_policy: {policy}"}


RA = bytes.fromhex("05020000")            # Router Alert (MLD), RFC 2711
T4 = ioam.ioam_trace_option(ns=123, size=4)
T244 = ioam.ioam_trace_option(ns=123, size=244)


def other(opt_type: int, n: int) -> bytes:
    return ioam.ioam_other_option(opt_type, bytes(range(1, n + 1)))


def hbh(body: bytes, nh: int = ioam.NH_ICMPV6) -> bytes:
    """Exact HbH: ``body`` must already be a multiple of 8 minus 2."""
    return ioam.ext_header(nh, body, autopad=False)


@dataclass
class ECase:
    name: str
    ext: bytes                 # raw extension chain
    ext_nh: int = ioam.NH_HOPOPTS
    egress: bool = False       # arrives on eth1, leaves by the edge port
    encap: bool = False        # ip6ip6 with ``ext`` as the outer HbH
    invalid: Optional[str] = None     # the HbH's usual drop reason
    rebuilt: Optional[bytes] = None   # literal HbH after the strip (None: removed)

    @property
    def has_ioam(self) -> bool:
        return self.ext_nh == ioam.NH_HOPOPTS and any(
            t.otype == ioam.OPT_IOAM for t in ioam.parse_tlvs(
                b"\0" * 40 + self.ext, 42, 40 + (self.ext[1] + 1) * 8)) if self.ext else False


CASES = [
    # --- ingress (eth0 -> eth1) ---
    ECase("no_hbh", b"", ext_nh=ioam.NH_ICMPV6),
    ECase("ioam_only_size4", ioam.linux_hbh(58, 123, 0x800000, 4)),
    ECase("ioam_only_size8", ioam.linux_hbh(58, 123, 0x800000, 8)),
    ECase("ioam_only_size244", ioam.linux_hbh(58, 123, 0xFFF002, 244)),
    ECase("ra_then_ioam", hbh(RA + ioam.padn(2) + T4),
          rebuilt=bytes.fromhex("3a00" "05020000" "0100")),
    ECase("ioam_then_ra", hbh(ioam.padn(2) + T4 + RA),
          rebuilt=bytes.fromhex("3a00" "0100" "05020000")),
    ECase("ioam_pad1_option7", hbh(ioam.padn(2) + T4 + ioam.pad1() +
                                   bytes.fromhex("1e05a1a2a3a4a5") + ioam.padn(4)),
          rebuilt=bytes.fromhex("3a01" "010100" "1e05a1a2a3a4a5" "01020000")),
    ECase("ra_ioam_option4", hbh(RA + ioam.padn(2) + T4 + bytes.fromhex("1e02aabb") +
                                 ioam.padn(4)),
          rebuilt=bytes.fromhex("3a01" "05020000" "0100" "1e02aabb" "01020000")),
    ECase("ioam_padn7_option5", hbh(ioam.padn(2) + T4 + ioam.padn(7) +
                                    bytes.fromhex("1e03aabbcc")),
          rebuilt=bytes.fromhex("3a00" "00" "1e03aabbcc")),
    ECase("ra_ioam244", hbh(RA + ioam.padn(2) + T244),
          rebuilt=bytes.fromhex("3a00" "05020000" "0100")),
    ECase("incremental_and_pot_only", hbh(ioam.padn(2) + other(1, 12) + other(2, 8))),
    ECase("e2e_dex_and_ra", hbh(ioam.padn(2) + other(3, 4) + other(4, 4) + RA),
          rebuilt=bytes.fromhex("3a00" "0100" "05020000")),
    ECase("ioam_only_then_dstopts", ioam.linux_hbh(60, 123, 0x800000, 4) +
          ioam.ext_header(58, ioam.padn(6))),
    ECase("encap_outer_ioam", ioam.linux_hbh(41, 123, 0x800000, 12), encap=True),
    ECase("ioam_in_dstopts_untouched", ioam.ext_header(58, ioam.padn(2) + T4),
          ext_nh=ioam.NH_DSTOPTS),
    ECase("ra_only_untouched", hbh(RA + ioam.padn(2))),
    ECase("invalid_padn_with_ioam", hbh(ioam.padn(2) + T4 + ioam.padn(4, fill=7)),
          invalid="hbh_padn_nonzero"),
    # --- egress (eth1 -> edge eth0) ---
    ECase("egress_inline_trace", ioam.linux_hbh(58, 123, 0x800000, 8), egress=True),
    ECase("egress_trace_and_ra", hbh(ioam.padn(2) + ioam.ioam_trace_option(ns=123, size=8)
                                     + RA + ioam.padn(4)),
          egress=True, rebuilt=bytes.fromhex("3a01" "010400000000" "05020000" "01020000")),
    ECase("egress_encap_outer_trace", ioam.linux_hbh(41, 123, 0xC00000, 16), egress=True,
          encap=True),
    ECase("egress_no_hbh", b"", ext_nh=ioam.NH_ICMPV6, egress=True),
    ECase("egress_ra_only", hbh(RA + ioam.padn(2)), egress=True),
]
TAGS = {c.name: i + 1 for i, c in enumerate(CASES)}
assert len(TAGS) == len(CASES)


def frame_of(c: ECase) -> bytes:
    tag = TAGS[c.name]
    if c.egress:
        src, dst, mac, peer = pt.BETA_RX, "db01::1", pt.ETH1_MAC, pt.ARAMIS_MAC
    else:
        src, dst, mac, peer = pt.ALPHA, pt.BETA_RX, pt.ETH0_MAC, pt.ATHOS_MAC
    if c.encap:
        inner = ioam.icmp_packet(src, dst, hlim=64, fl=tag, seq=tag)
        pkt = ioam.encap_packet("db07::1" if not c.egress else "db07::2", dst, inner,
                                hbh=c.ext, hlim=64, fl=tag)
    else:
        pkt = ioam.icmp_packet(src, dst, ext=c.ext, ext_nh=c.ext_nh, hlim=64, fl=tag, seq=tag)
    return ioam.ether(mac, peer, pkt)


def expected(c: ECase, policy: str):
    """(drop reason or None, expected frame, variables, stripped?)."""
    frame = frame_of(c)
    cfg = config(policy)
    ingress = "eth1" if c.egress else "eth0"
    egress_mac = pt.ETH0_MAC if c.egress else pt.ETH1_MAC
    nh_mac = pt.ATHOS_MAC if c.egress else pt.ARAMIS_MAC
    pkt = frame[14:]
    strip_in = not c.egress and policy == "strip" and not c.invalid
    if not c.egress and policy == "drop" and c.has_ioam and not c.invalid:
        return "edge_ioam", b"", [], False
    stripped = False
    if strip_in:
        pkt, stripped = ioam.strip_ioam(pkt)
    prof = pt.profile_for(cfg, ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC, pkt), ingress)
    m = ioam.linux_transit(pkt, prof)
    if m.verdict != "forward":
        return m.drop, b"", [], stripped
    out = m.packet
    if c.egress:
        out, stripped = ioam.strip_ioam(out)
        variables = []   # whatever the fill wrote is gone
    else:
        variables = m.variables
    return None, ioam.ether(nh_mac, egress_mac, out), [(o + 14, k) for o, k in variables], \
        stripped


_runs: Dict[str, pt.RunResult] = {}


@pytest.fixture(scope="module")
def edge_run(batch_dir):
    def get(policy: str) -> pt.RunResult:
        if policy not in _runs:
            inputs: Dict[int, List[bytes]] = {}
            for c in CASES:
                inputs.setdefault(1 if c.egress else 0, []).append(frame_of(c))
            _runs[policy] = pt.run_appliance(batch_dir(policy), config(policy), inputs)
        return _runs[policy]
    yield get
    _runs.clear()


def _out(run: pt.RunResult, tag: int):
    return [(p, f) for p in sorted(run.out) for f in run.out[p] if pt.frame_tag(f) == tag]


PARAMS = [pytest.param(p, c, id=f"{p}-{c.name}") for p in POLICIES for c in CASES]


@pytest.mark.parametrize("policy,case", PARAMS)
def test_edge_frame(policy, case, edge_run):
    run = edge_run(policy)
    drop, exp, variables, stripped = expected(case, policy)
    outs = _out(run, TAGS[case.name])
    if drop:
        assert outs == [], f"{case.name}: expected a drop ({drop}), got {outs}"
        return
    want_port = 0 if case.egress else 1
    assert [p for p, _ in outs] == [want_port], (
        f"{case.name}: expected one frame on port {want_port}\n{run.describe()}")
    actual = outs[0][1]
    exp, seen = ioam.apply_variables(exp, actual, variables)
    pt.check_variables(seen, run)
    assert actual == exp, (f"{policy}/{case.name}\n{ioam.hexdiff(exp, actual)}\n"
                           f"input    {frame_of(case).hex()}\nexpected {exp.hex()}\n"
                           f"actual   {actual.hex()}")
    if stripped:
        pkt = actual[14:]
        if case.rebuilt is None:
            assert pkt[6] != ioam.NH_HOPOPTS, "the IOAM-only HbH should be gone"
        else:
            assert pkt[6] == ioam.NH_HOPOPTS
            assert pkt[40:40 + len(case.rebuilt)] == case.rebuilt, (
                f"rebuilt HbH {pkt[40:40 + (pkt[41] + 1) * 8].hex()}, "
                f"expected {case.rebuilt.hex()}")
            _check_rebuilt(frame_of(case)[14:], pkt)


def _check_rebuilt(before: bytes, after: bytes) -> None:
    """The strip rules themselves, on the bytes the appliance sent."""
    end = 40 + (after[41] + 1) * 8
    tlvs = ioam.parse_tlvs(after, 42, end)
    assert sum(len(t.raw) for t in tlvs) == end - 42, "TLVs do not fill the header exactly"
    run = 0
    for t in tlvs:
        if t.otype in (ioam.OPT_PAD1, ioam.OPT_PADN):
            run += len(t.raw)
            assert run <= 7, "padding run over 7 octets"
            assert not any(t.data), "PadN with non-zero payload"
        else:
            run = 0
    assert all(t.otype != ioam.OPT_IOAM for t in tlvs)
    old = [t for t in ioam.parse_tlvs(before, 42, 40 + (before[41] + 1) * 8)
           if t.otype not in (ioam.OPT_PAD1, ioam.OPT_PADN, ioam.OPT_IOAM)]
    new = [t for t in tlvs if t.otype not in (ioam.OPT_PAD1, ioam.OPT_PADN)]
    assert [t.raw for t in new] == [t.raw for t in old], "kept options changed"
    assert [(t.offset - 40) % 8 for t in new] == [(t.offset - 40) % 8 for t in old], \
        "kept options moved modulo 8"
    # Each gap is the minimal one.
    pos = 42
    for t in new:
        assert t.offset - pos == ((t.offset - 40) - (pos - 40)) % 8
        pos = t.offset + len(t.raw)
    assert end - pos == (-(pos - 40)) % 8
    # The reference model's HbH parser accepts it (Linux ip6_parse_tlv).
    m = ioam.linux_transit(after, ioam.NodeProfile(enabled=False))
    assert m.drop is None, m.drop


def _expected_counters(policy: str):
    drops: Counter = Counter()
    ev: Counter = Counter()
    for c in CASES:
        drop, _f, _v, stripped = expected(c, policy)
        if drop:
            drops[drop] += 1
        if stripped:
            ev["edge_egress_stripped" if c.egress else "edge_stripped"] += 1
    return dict(drops), ev


@pytest.mark.parametrize("policy", POLICIES)
def test_edge_counters(policy, edge_run):
    run = edge_run(policy)
    drops, ev = _expected_counters(policy)
    assert run.drops == drops, run.describe()
    for name in ("edge_stripped", "edge_egress_stripped"):
        assert run.ioam.get(name, 0) == ev.get(name, 0), f"{name}\n{run.describe()}"
    # Only the domain-side traces (arriving on eth1) are ever filled.
    n_fill = sum(1 for c in CASES if c.egress and c.has_ioam)
    assert run.ioam.get("ioam_filled", 0) == n_fill, run.describe()
    n_in = sum(1 for c in CASES if not c.egress)
    assert run.port("eth0")["rx"] == n_in and run.port("eth1")["rx"] == len(CASES) - n_in


def test_counter_values_literal(edge_run):
    """The numbers, written out: 13 ingress cases carry IOAM in a valid HbH,
    3 egress cases carry IOAM."""
    assert _expected_counters("ignore") == ({"hbh_padn_nonzero": 1},
                                            Counter({"edge_egress_stripped": 3}))
    assert _expected_counters("strip")[1] == Counter({"edge_stripped": 13,
                                                      "edge_egress_stripped": 3})
    assert _expected_counters("drop")[0] == {"hbh_padn_nonzero": 1, "edge_ioam": 13}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("policy", ["strip", "ignore"])
def test_tshark_sees_valid_headers(policy, edge_run):
    """Wireshark's dissector finds nothing malformed in what left, and sees
    the rebuilt Hop-by-Hop headers' options."""
    run = edge_run(policy)
    # (the IOAM option left in a Destination Options header on purpose is
    # a Wireshark warning of its own: that frame is left out)
    bad = ("(_ws.malformed || _ws.expert.severity >= warning || ipv6.opt.type == 0x31)"
           " && !ipv6.dstopts")
    # ignore forwards foreign IOAM (with made-up bodies) as it came: only
    # the egress side is checked there.
    for port in ((0, 1) if policy == "strip" else (0,)):
        pcap = run.workdir / f"OUT{port}.pcap"
        res = subprocess.run(["tshark", "-n", "-r", str(pcap), "-Y", bad],
                             capture_output=True, text=True, timeout=60, check=True)
        assert res.stdout.strip() == "", f"OUT{port}: {res.stdout}"
    pcap = run.workdir / "OUT0.pcap"                # egress side: IOAM never leaves
    res = subprocess.run(["tshark", "-n", "-r", str(pcap), "-T", "fields", "-e",
                          "ipv6.flow", "-e", "ipv6.opt.type", "-E", "occurrence=a",
                          "-E", "aggregator=;"],
                         capture_output=True, text=True, timeout=60, check=True)
    types = {}
    for line in res.stdout.splitlines():
        flow, opts = line.split("\t")
        types[int(flow.split(";")[0], 0)] = opts
    assert types[TAGS["egress_trace_and_ra"]] == "0x01;0x05;0x01"
    assert all("0x31" not in v for v in types.values())
