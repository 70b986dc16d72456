"""The benchmark's scenarios: for each, the input capture (64 flows) and the
ioamfwd configuration, plus what the run's counters must show for its
figure to count (a scenario that silently dropped or skipped its work would
otherwise look fast).

Topology (one process, one worker lcore):

    net_pcap0 (rx_pcap=<scenario>.pcap, infinite_rx=1)      net_null0 (no-rx=1)
         |                                                        |
    eth0 db04::2/64, IOAM on, decap on  --[ioamfwd]--  eth1 db02::1/64 -> gateway db02::2

Every flow goes to db03:0:0:<flow>::2, behind the gateway db02::2 on eth1
(route db03::/48, with `encap` for the insertion scenarios). `extra_routes`
more /64 routes (default 1000, db05::/32) keep the FIB from being trivially
small, as in the perf-anchors harness (§6.4).
"""

from __future__ import annotations

import dataclasses
import os

import pcapgen as pg

FLOWS = 64
PORT0_MAC = "02:00:00:00:b0:00"
PORT1_MAC = "02:00:00:00:b0:01"
UPSTREAM_MAC = "02:00:00:00:a0:01"   # the sender's MAC (Athos's eth1)
GATEWAY_MAC = "02:00:00:00:c0:00"    # db02::2
SCHEMA = b"Hello there -Obi"          # the seed's Porthos schema 666 (16 octets)
NS_ID = 123
PAYLOAD = bytes(range(12))            # 74-octet frames for plain UDP (78 B on the wire)


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    target: float | None           # required ratio to plain forwarding (None: no target)
    encap: dict | None = None      # routes[].encap of db03::/48
    # Counters the run must show, each as a fraction of the packets sent:
    # e.g. {"ioam_filled": 1.0} = every forwarded packet had node data written.
    expect: dict = dataclasses.field(default_factory=dict)

    def frames(self) -> list[bytes]:
        return [_frame(self.name, f) for f in range(FLOWS)]


SCENARIOS = [
    Scenario("fwd", "plain IPv6 forwarding", None),
    Scenario("transit-800000", "transit, trace 0x800000 (12 B)", 0.90,
             expect={"ioam_filled": 1.0}),
    Scenario("transit-fff002", "transit, trace 0xfff002 + OSS (240 B)", 0.80,
             expect={"ioam_filled": 1.0}),
    Scenario("inline-12", "inline insertion, 0x800000 size 12", 0.80,
             encap={"mode": "inline", "type": 0x800000, "size": 12},
             expect={"ioam_inserted": 1.0, "ioam_filled": 1.0}),
    Scenario("encap-12", "ip6ip6 encap, 0x800000 size 12", 0.80,
             encap={"mode": "encap", "type": 0x800000, "size": 12},
             expect={"ioam_inserted": 1.0, "ioam_filled": 1.0}),
    Scenario("encap-244", "ip6ip6 encap, 0x800000 size 244", None,
             encap={"mode": "encap", "type": 0x800000, "size": 244},
             expect={"ioam_inserted": 1.0, "ioam_filled": 1.0}),
    Scenario("decap", "decap (tunnel end, trace 0x800000)", 0.90,
             expect={"decapsulated": 1.0, "ioam_filled": 1.0}),
]
BY_NAME = {s.name: s for s in SCENARIOS}


def _flow_addrs(flow: int) -> tuple[bytes, bytes]:
    return pg.ip6(f"db01::{flow + 1:x}"), pg.ip6(f"db03:0:0:{flow:x}::2")


def _udp(flow: int, hop_limit: int = 64, hbh: bytes | None = None) -> bytes:
    src, dst = _flow_addrs(flow)
    return pg.udp_packet(src, dst, 1024 + flow, 5001, PAYLOAD, hop_limit=hop_limit,
                         flow_label=flow, hbh=hbh)


def _frame(name: str, flow: int) -> bytes:
    dst, src = pg.mac(PORT0_MAC), pg.mac(UPSTREAM_MAC)
    if name in ("fwd", "inline-12", "encap-12", "encap-244"):
        return pg.frame(dst, src, _udp(flow))
    if name == "transit-800000":
        # As Athos sends it inline: a 3-node trace with Athos's word filled.
        t = 0x800000
        hbh = pg.ioam_hbh(pg.NH_UDP, NS_ID, t, 12, pg.earlier_node_data(t, None, 64, 1))
        return pg.frame(dst, src, _udp(flow, hbh=hbh))
    if name == "transit-fff002":
        # Every field a node can fill (bits 0-11, 22), three nodes' worth of
        # room with this node's schema, the first node's data present.
        t = 0xFFF002
        per_node = pg.node_octets(t, SCHEMA)
        hbh = pg.ioam_hbh(pg.NH_UDP, NS_ID, t, 3 * per_node,
                          pg.earlier_node_data(t, SCHEMA, 64, 1))
        return pg.frame(dst, src, _udp(flow, hbh=hbh))
    if name == "decap":
        # Athos's ip6ip6 to this node (db04::2), Porthos-style trace with two
        # nodes filled and room for this one; the inner packet's hop limit
        # was decremented by Athos.
        t = 0x800000
        filled = pg.earlier_node_data(t, None, 62, 2) + pg.earlier_node_data(t, None, 63, 1)
        hbh = pg.ioam_hbh(pg.NH_IPV6, NS_ID, t, 12, filled)
        inner = _udp(flow, hop_limit=63)
        return pg.frame(dst, src, pg.ip6ip6(pg.ip6("db04::1"), pg.ip6("db04::2"), inner,
                                            hbh=hbh, hop_limit=63))
    raise KeyError(name)


def write_inputs(directory: str, scenarios: list[Scenario]) -> dict[str, str]:
    """One pcap per scenario; returns name -> path."""
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for s in scenarios:
        p = os.path.join(directory, f"{s.name}.pcap")
        pg.write_pcap(p, s.frames())
        paths[s.name] = p
    return paths


def write_queue_inputs(directory: str, scenarios: list[Scenario],
                       queues: int) -> dict[str, list[str]]:
    """One pcap per rx queue (net_pcap reads one file per queue and has no
    RSS): queue q gets the flows f with f mod queues == q, as a hash would
    keep each flow on one queue. Returns name -> the files, by queue."""
    if queues == 1:
        return {n: [p] for n, p in write_inputs(directory, scenarios).items()}
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for s in scenarios:
        frames = s.frames()
        paths[s.name] = []
        for q in range(queues):
            p = os.path.join(directory, f"{s.name}-q{q}of{queues}.pcap")
            pg.write_pcap(p, frames[q::queues])
            paths[s.name].append(p)
    return paths


def frame_sizes(s: Scenario) -> tuple[int, int]:
    """(input, output) frame octets without FCS, as the worker sees them."""
    inp = len(s.frames()[0])
    if s.encap:
        grow = (16 + s.encap["size"] + 7) // 8 * 8 + (40 if s.encap["mode"] == "encap" else 0)
        return inp, inp + grow
    if s.name == "decap":
        return inp, len(pg.frame(b"\0" * 6, b"\0" * 6, _udp(0)))
    return inp, inp


def config_yaml(s: Scenario | None, queues: int = 1, extra_routes: int = 1000,
                gateway_routes: int = 0) -> str:
    """The ioamfwd configuration for scenario `s` (None: no encap route).

    `queues` > 1 (the scaling runs) gives both ports that many rx queues and
    worker lcore q+1 queue q of each, the layout testpmd's io mode uses with
    --rxq/--txq N --nb-cores N. `gateway_routes` replaces the extra routes
    by that many /64s via the gateway (the 100 000-route memory test)."""
    rxq = [f"    rx_queues: {queues}"] if queues > 1 else []
    lines = [
        "# Generated by scripts/bench (tools/bench/scenarios.py); do not edit.",
        "node: {id: 2, id_wide: 22222222}",
        "ports:",
        "  - name: eth0",
        "    device: net_pcap0",
        f"    mac: {PORT0_MAC}",
        "    addresses: [db04::2/64]",
        "    decap: true",
        "    ioam: {enabled: true, id: 201, id_wide: 201201}",
    ] + rxq
    lines += [
        "  - name: eth1",
        "    device: net_null0",
        f"    mac: {PORT1_MAC}",
        "    addresses: [db02::1/64]",
        "    ioam: {enabled: false, id: 202, id_wide: 202202}",
    ] + rxq
    if queues > 1:
        lines.append("lcores:")
        for q in range(queues):
            lines.append(f"  - {{lcore: {q + 1}, rx: [{{port: eth0, queue: {q}}}, "
                         f"{{port: eth1, queue: {q}}}]}}")
    lines += [
        "namespaces:",
        f"  - {{id: {NS_ID}, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}}",
        "schemas:",
        f"  - {{id: 666, data: \"{SCHEMA.decode()}\"}}",
        "routes:",
        "  - prefix: db03::/48",
        "    via: db02::2",
        "    port: eth1",
    ]
    if s is not None and s.encap:
        e = s.encap
        lines.append("    encap:")
        lines.append(f"      mode: {e['mode']}")
        if e["mode"] != "inline":
            lines.append("      tundst: db02::2")
        lines.append(f"      trace: {{type: {e['type']:#08x}, ns: {NS_ID}, size: {e['size']}}}")
    if gateway_routes:
        # 2001:db8:XXXX:YYYY::/64 for i = 0..n-1: distinct /64s under one /32.
        for i in range(gateway_routes):
            lines.append(f"  - {{prefix: '2001:db8:{i >> 16:x}:{i & 0xffff:x}::/64', "
                         "via: db02::2, port: eth1}")
    else:
        for i in range(extra_routes):
            lines.append(f"  - {{prefix: 'db05:0:{i >> 16:x}:{i & 0xffff:x}::/64', "
                         "via: db02::2, port: eth1}")
    lines += [
        "neighbors:",
        f"  - {{address: db02::2, mac: {GATEWAY_MAC}, port: eth1}}",
    ]
    return "\n".join(lines) + "\n"
