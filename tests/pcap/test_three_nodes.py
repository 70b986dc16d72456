"""Seed 002 end to end: Alpha -> Athos -> Porthos -> Aramis -> Beta with the
seed configuration files (config/athos.yaml, porthos.yaml, aramis.yaml,
unchanged) and a variant whose encap route carries type 0xfff002, size 244
(reference 11.4: "3-node full trace ... ordering, destination-node
sentinels, hop limits").

Alpha's echo requests (db01::1 -> db03::2, hop limit 64) go through Athos;
Athos's eth1 output is replayed into Porthos's eth0, Porthos's eth1 output
into Aramis's eth0. Each hop's output is compared byte for byte with a model
(Athos: encap_model.EncapNode, Porthos: ioam_scapy's transit model, Aramis:
Alpha's own packet with hop limit 62 and new MACs), and the traces are also
checked field by field with the seed's values written out here. Aramis's
export records are compared with the trace decoded from the packets Aramis
received plus Aramis's destination-node data.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List

import pytest

import encap_model as em
import ioam_scapy as ioam
import pcaptest as pt
from test_export import assert_record, run_ext

CONF = pt.REPO / "config"
ALPHA_MAC, ATHOS0_MAC, ATHOS1_MAC = "02:00:00:00:00:01", "02:00:00:00:01:00", "02:00:00:00:01:01"
PORTHOS0_MAC, PORTHOS1_MAC = "02:00:00:00:02:00", "02:00:00:00:02:01"
ARAMIS0_MAC, ARAMIS1_MAC, BETA_MAC = "02:00:00:00:03:00", "02:00:00:00:03:01", "02:00:00:00:00:04"
ALPHA, BETA = "db01::1", "db03::2"

SCHEMA_777 = b"something that will be 4n-aligned"
SCHEMA_666 = b"Hello there -Obi"
N_PINGS = 4

def configs(variant: str) -> Dict[str, str]:
    athos = (CONF / "athos.yaml").read_text()
    if variant == "full":
        # the derived Athos: only the encap trace's type and size change
        athos, n_type = re.subn(r"(?m)^(\s+type:\s*)0x800000\b", r"\g<1>0xfff002", athos)
        athos, n_size = re.subn(r"(?m)^(\s+size:\s*)12\b", r"\g<1>244", athos)
        assert (n_type, n_size) == (1, 1), "config/athos.yaml's encap trace changed"
        assert pt.load_config(athos)["routes"][0]["encap"]["trace"] == {
            "type": 0xFFF002, "ns": 123, "size": 244}
    return {"athos": athos, "porthos": (CONF / "porthos.yaml").read_text(),
            "aramis": (CONF / "aramis.yaml").read_text()}


VARIANTS = {"seed": (0x800000, 12), "full": (0xFFF002, 244)}


def alpha_frames() -> List[bytes]:
    """Alpha's pings: hop limit 64, distinct flow labels, growing payloads."""
    out = []
    for i in range(N_PINGS):
        pkt = ioam.icmp_packet(ALPHA, BETA, hlim=64, fl=0x5EED0 + i, ident=0x0A1F, seq=i + 1,
                               data=(bytes(x & 0xFF for x in range(i * 16, i * 16 + 24 + 100 * i))
                                     if i else b"ioamfwd three nodes"))
        out.append(ioam.ether(ATHOS0_MAC, ALPHA_MAC, pkt))
    return out


@dataclass
class Chain:
    variant: str
    cfg: Dict[str, str]
    alpha: List[bytes]
    athos: object
    porthos: object
    aramis: object       # ExtRun


_chains: Dict[str, Chain] = {}


@pytest.fixture(scope="module")
def chain(batch_dir):
    def get(variant: str) -> Chain:
        if variant not in _chains:
            cfg = configs(variant)
            alpha = alpha_frames()
            athos = pt.run_appliance(batch_dir(f"{variant}_athos"), cfg["athos"], {0: alpha})
            porthos = pt.run_appliance(batch_dir(f"{variant}_porthos"), cfg["porthos"],
                                       {0: athos.out[1]})
            aramis = run_ext(batch_dir(f"{variant}_aramis"), cfg["aramis"],
                             {0: porthos.out[1]})
            _chains[variant] = Chain(variant, cfg, alpha, athos, porthos, aramis)
        return _chains[variant]
    yield get
    _chains.clear()


PARAMS = list(VARIANTS)


def _traces(frames: List[bytes]) -> List[ioam.IoamTrace]:
    return [ioam.ioam_trace(f[14:]) for f in frames]


def _hops(trace: ioam.IoamTrace) -> List[dict]:
    return ioam.export_record(trace)["hops"]


@pytest.mark.parametrize("variant", PARAMS)
def test_athos_output(variant, chain):
    """Athos forwards (64 -> 63), then encapsulates towards db02::2 and
    writes its own node (encap node: hop limit as is, 63)."""
    c = chain(variant)
    node = em.EncapNode(c.cfg["athos"])
    assert len(c.athos.out[1]) == N_PINGS and c.athos.out[0] == [], c.athos.describe()
    events: Counter = Counter()
    for frame, actual in zip(c.alpha, c.athos.out[1]):
        o = node.process(frame, "eth0")
        events.update(o.events)
        assert o.verdict == "forward" and o.port == "eth1"
        pt.assert_frame(actual, ioam.FrameResult(ioam.ModelResult("forward"), o.frame,
                                                 o.variables), c.athos, "athos")
    type24, size = VARIANTS[variant]
    for actual, alpha in zip(c.athos.out[1], c.alpha):
        pkt = actual[14:]
        assert actual[:12] == ioam.mac_bytes(PORTHOS0_MAC) + ioam.mac_bytes(ATHOS1_MAC)
        assert pkt[8:24] == ipaddress.IPv6Address("db04::1").packed
        assert pkt[24:40] == ipaddress.IPv6Address("db02::2").packed
        assert pkt[7] == 63
        hl = (pkt[41] + 1) * 8
        assert pkt[40 + hl:] == ioam.set_hop_limit(alpha[14:], 63)
        t = ioam.ioam_trace(pkt)
        assert (t.ns, t.type24, t.nodelen, len(t.data)) == (123, type24,
                                                            ioam.nodelen_for(type24), size)
    assert events["ioam_inserted"] == events["ioam_filled"] == N_PINGS
    assert c.athos.ioam == dict(events), c.athos.describe()
    assert c.athos.drops == {}


@pytest.mark.parametrize("variant", PARAMS)
def test_porthos_output(variant, chain):
    c = chain(variant)
    assert len(c.porthos.out[1]) == N_PINGS and c.porthos.out[0] == []
    prof = pt.profile(c.cfg["porthos"], "eth0", "eth1")
    for frame, actual in zip(c.athos.out[1], c.porthos.out[1]):
        exp = ioam.expected_frame(frame, prof, ingress_mac=PORTHOS0_MAC,
                                  egress_mac=PORTHOS1_MAC, next_hop_mac=ARAMIS0_MAC)
        pt.assert_frame(actual, exp, c.porthos, "porthos")
    assert c.porthos.ioam == {"ioam_filled": N_PINGS} and c.porthos.drops == {}


@pytest.mark.parametrize("variant", PARAMS)
def test_beta_receives_alphas_packet(variant, chain):
    """The packet leaving Aramis to Beta is Alpha's packet, byte for byte,
    except the hop limit (64 - 2 forwarding hops = 62) and the MACs."""
    c = chain(variant)
    run = c.aramis.run
    assert run.out[0] == [] and len(run.out[1]) == N_PINGS, run.describe()
    for alpha, actual in zip(c.alpha, run.out[1]):
        exp = ioam.ether(BETA_MAC, ARAMIS1_MAC, ioam.set_hop_limit(alpha[14:], 62))
        assert actual == exp, f"{ioam.hexdiff(exp, actual)}"
    assert run.drops == {}
    assert run.ioam == {"ioam_filled": N_PINGS, "decapsulated": N_PINGS,
                        "ioam_exported": N_PINGS}, run.describe()


def _check_node(node: dict, want: dict, run) -> None:
    """``want`` literally; timestamps / queue depth for plausibility."""
    got = dict(node)
    for k in ("timestamp_sec", "timestamp_frac", "queue_depth"):
        if k in got and want.get(k) is None and k in want:
            v = got.pop(k)
            want = {x: y for x, y in want.items() if x != k}
            if k == "timestamp_sec":
                assert run.started - 5 <= v <= run.ended + 5, f"timestamp {v}"
            elif k == "timestamp_frac":
                assert 0 <= v < 1_000_000, f"sub-seconds {v}"
            else:
                assert v != 0xFFFFFFFF and v <= N_PINGS * 1600, f"queue depth {v}"
    assert got == want, f"\nexpected {want}\nactual   {got}"


def _full_node(hlim, node_id, node_wide, ing, egr, ing_w, egr_w, data, wide, oss,
               qdepth=None):
    return {"hop_limit": hlim, "node_id": node_id, "ingress_if_id": ing, "egress_if_id": egr,
            "timestamp_sec": None, "timestamp_frac": None, "transit_delay": 0xFFFFFFFF,
            "namespace_data": f"0x{data:08x}", "queue_depth": qdepth,
            "checksum_complement": "0xffffffff", "hop_limit_wide": hlim,
            "node_id_wide": node_wide, "ingress_if_id_wide": ing_w, "egress_if_id_wide": egr_w,
            "namespace_data_wide": f"0x{wide:016x}", "buffer_occupancy": 0xFFFFFFFF,
            "opaque_state_snapshot": oss}


def _oss(schema_id, data: bytes):
    data = data + bytes(-len(data) % 4)
    return {"schema_id": schema_id, "length": len(data), "data": data.hex()}


def expected_path(variant: str) -> List[dict]:
    """The three nodes in path order, from the seed's tables (None = only
    plausibility)."""
    if variant == "seed":
        return [{"hop_limit": 63, "node_id": 1}, {"hop_limit": 62, "node_id": 2},
                {"hop_limit": 61, "node_id": 3}]
    return [
        _full_node(63, 1, 11111111, 101, 102, 101101, 102102, 0xDEADBEE0, 0xCAFEC0CAF00DC0DE,
                   _oss(777, SCHEMA_777)),
        _full_node(62, 2, 22222222, 201, 202, 201201, 202202, 0xDEADBEE1, 0xCAFEC0CAF11DC0DE,
                   _oss(666, SCHEMA_666)),
        _full_node(61, 3, 33333333, 301, 0xFFFF, 301301, 0xFFFFFFFF, 0xDEADBEE2,
                   0xCAFEC0CAF22DC0DE, {"schema_id": 0xFFFFFF, "length": 0, "data": ""},
                   qdepth=0xFFFFFFFF),
    ]


@pytest.mark.parametrize("variant", PARAMS)
def test_trace_fields_in_path_order(variant, chain):
    """Hop limits 63/62/61, node ids 1/2/3, interface ids, namespace data,
    wide data, OSS 777 / 666 / 0x00FFFFFF, destination sentinels: Athos and
    Porthos read from the packet Aramis received, Aramis from its export."""
    c = chain(variant)
    path = expected_path(variant)
    runs = [c.athos, c.porthos, c.aramis.run]
    for trace in _traces(c.porthos.out[1]):
        hops = _hops(trace)
        assert len(hops) == 2
        for i in range(2):
            _check_node(hops[i], path[i], runs[i])
        assert not trace.overflow
    assert len(c.aramis.records) == N_PINGS, c.aramis.lines
    for rec in c.aramis.records:
        assert len(rec["hops"]) == 3 and rec["remaining_len"] == 0
        for i in range(3):
            _check_node(rec["hops"][i], path[i], runs[i])


@pytest.mark.parametrize("variant", PARAMS)
def test_export_equals_received_trace(variant, chain):
    """Each Aramis record is the trace of the packet it received (decoded
    here from the bytes) plus Aramis's own node (model fill, destination)."""
    c = chain(variant)
    prof = pt.profile(c.cfg["aramis"], "eth0", None)
    assert len(c.aramis.records) == len(c.porthos.out[1]) == N_PINGS
    type24, _size = VARIANTS[variant]
    for frame, rec in zip(c.porthos.out[1], c.aramis.records):
        m = ioam.linux_transit(frame[14:], prof)
        (trace,) = ioam.prealloc_traces(m.packet)
        exp = {"event": "decap", "port": "eth0", "src": "db04::1", "dst": "db02::2",
               **ioam.export_record(trace)}
        assert exp["trace_type"] == f"0x{type24:06x}" and len(exp["hops"]) == 3
        # what arrived is untouched in the record
        assert exp["hops"][:2] == _hops(ioam.ioam_trace(frame[14:]))
        assert_record(rec, exp, c.aramis.run, f"{variant} record")


@pytest.mark.parametrize("variant", PARAMS)
def test_aramis_export_file_is_json_lines(variant, chain):
    c = chain(variant)
    text = (c.aramis.run.workdir / "EXPORT.jsonl").read_text()
    assert text.count("\n") == N_PINGS and text.endswith("}\n")
    assert c.aramis.run.stats["export"] == {"written": N_PINGS, "lost": 0}
    assert [json.loads(x)["event"] for x in text.splitlines()] == ["decap"] * N_PINGS
