"""The seed's IOAM domain (shared/seeds/002) live, with a Linux kernel inside:

  alpha        ioamfwd Athos          Linux Porthos          ioamfwd Aramis          beta
  db01::1 --- a0 db01::2 | a1 db04::1 --- eth0 db04::2 | eth1 db02::1 --- r0 db02::2 | r1 db03::1 --- db03::2
  (netns)     (netns athos, af_packet)    (netns porthos, sysctl +    (netns aramis, af_packet,  (netns)
              encap route db03::/64       ip ioam, IOAM on eth0)      decap, --trace-export)

Athos runs config/athos.yaml and Aramis config/aramis.yaml with the net_pcap
devices replaced by net_af_packet ones and Athos's trace type 0xc00000 size
24 instead of the seed's 0x800000 size 12 (bit 1 adds each node's ingress
and egress ids; three nodes of two words fill the 24 octets exactly).
Porthos is the Linux kernel configured with the seed's own commands.  Real
pings go both ways: alpha -> beta through the IOAM tunnel (Athos encap,
Porthos transit, Aramis decap), beta -> alpha on the plain return path; the
echo replies of beta's pings cross the domain again.

Two ioamfwd processes share the machine, each with its worker on another
CPU (polling, napping when idle), so pings may be slow: waits are generous.
The domain runs twice: with the config files' static neighbours (and
permanent entries on Porthos and the hosts), and with none anywhere, every
link resolved by Neighbor Discovery.
"""

import dataclasses
import json
import re
import socket
from pathlib import Path

import pytest

import livenet
from livenet import Port

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "config"
NSPROBE = Path(__file__).resolve().parent / "nsprobe.py"

ALPHA, BETA = "db01::1", "db03::2"
ALPHA_MAC, BETA_MAC = "02:00:00:00:00:01", "02:00:00:00:00:04"
ATHOS_MACS = ("02:00:00:00:01:00", "02:00:00:00:01:01")
PORTHOS_MACS = ("02:00:00:00:02:00", "02:00:00:00:02:01")
ARAMIS_MACS = ("02:00:00:00:03:00", "02:00:00:00:03:01")
TRACE_TYPE, TRACE_SIZE = 0xC00000, 24
PINGS = 5
TUNNEL_OVERHEAD = 40 + 40       # outer IPv6 + Hop-by-Hop with 24 octets of trace
MTU_INSIDE = 1500 - TUNNEL_OVERHEAD

# What each node writes for bits 0 and 1 (seed 002), in path order, for a
# packet that left alpha with hop limit 64.
EXPECTED_HOPS = [
    {"hop_limit": 63, "node_id": 1, "ingress_if_id": 101, "egress_if_id": 102},
    {"hop_limit": 62, "node_id": 2, "ingress_if_id": 201, "egress_if_id": 202},
    # Aramis is the destination of the tunnel: loopback egress 0xFFFF.
    {"hop_limit": 61, "node_id": 3, "ingress_if_id": 301, "egress_if_id": 0xFFFF},
]


def live_config(name: str, static_neighbors: bool, inline: bool = False) -> str:
    """config/<name>.yaml on net_af_packet devices (Athos: trace 0xc00000/24,
    ``inline``: mode inline instead of encap); without static neighbours,
    its neighbors: section removed."""
    text = (CONFIG_DIR / f"{name}.yaml").read_text()
    text, n = re.subn(r"device: net_pcap(\d)", r"device: net_af_packet\1", text)
    assert n == 2, f"config/{name}.yaml: expected two net_pcap devices"
    if name == "athos":
        text, n1 = re.subn(r"(?m)^(\s+type:\s*)0x800000\b",
                           lambda m: f"{m.group(1)}0x{TRACE_TYPE:06x}", text)
        text, n2 = re.subn(r"(?m)^(\s+size:\s*)12\b",
                           lambda m: f"{m.group(1)}{TRACE_SIZE}", text)
        assert (n1, n2) == (1, 1), "config/athos.yaml: trace type/size not found"
        if inline:
            text, n1 = re.subn(r"(?m)^(\s+mode:\s*)encap\b",
                               lambda m: f"{m.group(1)}inline", text)
            text, n2 = re.subn(r"(?m)^\s+tundst:.*\n", "", text)
            assert (n1, n2) == (1, 1), "config/athos.yaml: mode/tundst not found"
    if not static_neighbors:
        text, n = re.subn(r"(?ms)^neighbors:.*\Z", "", text)
        assert n == 1, f"config/{name}.yaml: no neighbors: section at the end"
    return text


def probe_linux_ioam():
    if not Path("/proc/sys/net/ipv6/ioam6_id").exists():
        return "the kernel has no IPv6 IOAM (net.ipv6.ioam6_id missing)"
    out = livenet.run(["ip", "ioam", "help"], check=False)
    if "namespace" not in out.stdout + out.stderr:
        return "iproute2 has no 'ip ioam'"
    return None


@dataclasses.dataclass
class DomainRun:
    there: livenet.PingResult       # alpha -> beta
    back: livenet.PingResult        # beta -> alpha
    static: bool                    # static neighbours (else ND)
    too_big: livenet.PingResult     # alpha -> beta, 1500 octets
    learned: str                    # alpha's ip -6 route get db03::2 then
    fits: livenet.PingResult        # alpha -> beta, 1420 octets
    tcp: livenet.TcpResult          # 1 MB alpha -> beta
    athos: dict                     # stats
    aramis: dict
    export: list
    athos_app: livenet.Appliance
    aramis_app: livenet.Appliance

    def describe(self) -> str:
        return f"{self.athos_app.describe()}\n{self.aramis_app.describe()}"


@dataclasses.dataclass
class Domain:
    alpha: livenet.Netns
    beta: livenet.Netns
    porthos: livenet.Netns
    athos_app: livenet.Appliance
    aramis_app: livenet.Appliance


def build_domain(lab: livenet.Lab, static: bool, inline: bool = False) -> Domain:
    """The five namespaces, Linux Porthos configured, both appliances
    forwarding (Aramis exports traces; with ``inline`` also transit ones)."""
    alpha, beta = lab.host_netns("alpha"), lab.host_netns("beta")
    athos, aramis = lab.router_netns("athos"), lab.router_netns("aramis")
    porthos = lab.netns("porthos")
    # Linux Porthos: a router, no DAD, no RA, IOAM as in the seed.
    porthos.sysctl("net.ipv6.conf.all.forwarding=1",
                   "net.ipv6.conf.default.forwarding=1",
                   "net.ipv6.conf.all.accept_dad=0",
                   "net.ipv6.conf.default.accept_dad=0",
                   "net.ipv6.conf.default.accept_ra=0")
    lab.link(athos, "a0", alpha, "eth0", b_mac=ALPHA_MAC)
    lab.link(athos, "a1", porthos, "eth0", b_mac=PORTHOS_MACS[0])
    lab.link(aramis, "r0", porthos, "eth1", b_mac=PORTHOS_MACS[1])
    lab.link(aramis, "r1", beta, "eth0", b_mac=BETA_MAC)
    for ns, ifs in ((athos, ("a0", "a1")), (aramis, ("r0", "r1"))):
        for i in ifs:
            lab.appliance_port(ns, i)
    porthos.sysctl("net.ipv6.ioam6_id=2", "net.ipv6.ioam6_id_wide=22222222",
                   "net.ipv6.conf.eth0.ioam6_id=201",
                   "net.ipv6.conf.eth0.ioam6_id_wide=201201",
                   "net.ipv6.conf.eth1.ioam6_id=202",
                   "net.ipv6.conf.eth1.ioam6_id_wide=202202",
                   "net.ipv6.conf.eth0.ioam6_enabled=1")
    porthos.ip("ioam", "namespace", "add", "123", "data", "0xdeadbee1",
               "wide", "0xcafec0caf11dc0de")
    porthos.ip("ioam", "schema", "add", "666", "Hello there -Obi")
    porthos.ip("ioam", "namespace", "set", "123", "schema", "666")
    lines = ["addr add db04::2/64 dev eth0 nodad",
             "addr add db02::1/64 dev eth1 nodad",
             "link set eth0 up", "link set eth1 up",
             "route add db03::/64 via db02::2 dev eth1",
             "route add db01::/64 via db04::1 dev eth0"]
    if static:
        lines += [f"neigh replace db04::1 lladdr {ATHOS_MACS[1]} dev eth0 nud permanent",
                  f"neigh replace db02::2 lladdr {ARAMIS_MACS[0]} dev eth1 nud permanent"]
    porthos.batch(lines)
    lab.host_iface(alpha, "eth0", f"{ALPHA}/64", "db01::2",
                   [("db01::2", ATHOS_MACS[0])] if static else [])
    lab.host_iface(beta, "eth0", f"{BETA}/64", "db03::1",
                   [("db03::1", ARAMIS_MACS[1])] if static else [])

    athos_app = lab.appliance(athos, "athos",
                              live_config("athos", static, inline),
                              [Port("eth0", "a0", ATHOS_MACS[0]),
                               Port("eth1", "a1", ATHOS_MACS[1])])
    aramis_app = lab.appliance(aramis, "aramis", live_config("aramis", static),
                               [Port("eth0", "r0", ARAMIS_MACS[0]),
                                Port("eth1", "r1", ARAMIS_MACS[1])],
                               trace_export=True,
                               extra_args=["--trace-export-transit"] if inline else [])
    athos_app.start()
    aramis_app.start()
    for ns, ifs in ((athos, ["a0", "a1"]), (aramis, ["r0", "r1"]),
                    (porthos, ["eth0", "eth1"]), (alpha, ["eth0"]),
                    (beta, ["eth0"])):
        lab.wait_up(ns, ifs)
    return Domain(alpha, beta, porthos, athos_app, aramis_app)


def build_and_run(lab: livenet.Lab, static: bool) -> DomainRun:
    d = build_domain(lab, static)
    alpha, beta = d.alpha, d.beta
    athos_app, aramis_app = d.athos_app, d.aramis_app
    there = alpha.ping_until(BETA, count=PINGS, interval=0.2, wait=10)
    back = beta.ping_until(ALPHA, count=PINGS, interval=0.2, wait=10)
    # A 1500-octet packet has no room for the tunnel (80 octets: outer
    # header 40, Hop-by-Hop 40): Athos answers Packet Too Big with 1420,
    # alpha learns it, and packets of 1420 octets then cross the domain.
    alpha.ip("-6", "route", "flush", "cache")
    too_big = alpha.ping(BETA, count=1, size=1452, pmtudisc="do", wait=5)
    learned = alpha.ip("-6", "route", "get", BETA).stdout
    fits = alpha.ping_until(BETA, count=2, size=MTU_INSIDE - 48,
                            pmtudisc="do", wait=10)
    # TCP through the tunnel: alpha's segments get the IOAM trace and must
    # fit in 1420 octets (alpha learnt it above), beta's ACKs come back on
    # the plain path.
    alpha.ip("-6", "route", "flush", "cache")
    tcp = livenet.tcp_transfer(lab, beta, alpha, BETA, 1 << 20)
    athos_stats = athos_app.stop()
    aramis_stats = aramis_app.stop()
    return DomainRun(there, back, static, too_big, learned, fits, tcp, athos_stats,
                     aramis_stats, aramis_app.export(), athos_app, aramis_app)


@pytest.fixture(scope="module", params=["static", "discovered"])
def domain(tmp_path_factory, request):
    """The domain, run once per neighbour mode: ``static`` (every node and
    host has permanent entries for its neighbours, as the config files do)
    or ``discovered`` (no entry anywhere: Neighbor Discovery on every link,
    ioamfwd resolving its next hops itself)."""
    why = livenet.probe()
    if why:
        pytest.skip(f"live tests skipped: {why}")
    why = probe_linux_ioam()
    if why:
        pytest.skip(f"Linux Porthos unavailable: {why}")
    with livenet.Lab(tmp_path_factory.mktemp(f"domain-{request.param}")) as lab:
        yield build_and_run(lab, request.param == "static")


def test_pings_cross_the_domain_both_ways(domain):
    for res in (domain.there, domain.back):
        assert res.transmitted == PINGS and res.received == PINGS, (
            f"{res.describe()}\n{domain.describe()}")
    # alpha's requests reach beta with 62 (Athos, then Aramis for the inner
    # packet; Porthos only decrements the outer header), replies come back
    # on the plain path Aramis, Porthos, Athos: 61.
    assert re.search(r"ttl=61 ", domain.there.out), domain.there.out
    assert re.search(r"ttl=62 ", domain.back.out), domain.back.out


def test_tunnel_overhead_packet_too_big(domain):
    """Athos's MTU policy seen from a real host: Packet Too Big with the
    egress MTU minus the tunnel's 80 octets, learned by alpha's kernel, and
    then full 1420-octet packets cross all three nodes."""
    res = domain.too_big
    assert res.received == 0 and any(
        e.startswith("From db01::2 ") and f"Packet too big: mtu={MTU_INSIDE}" in e
        for e in res.errors), f"{res.describe()}\n{domain.describe()}"
    assert re.search(rf"\bmtu {MTU_INSIDE}\b", domain.learned), domain.learned
    assert domain.fits.received == domain.fits.transmitted == 2, (
        f"{domain.fits.describe()}\n{domain.describe()}")
    assert domain.athos["drops"]["ioam_mtu_exceeded"] >= 1, domain.athos["drops"]


def test_tcp_crosses_the_tunnel(domain):
    """1 MB over TCP from alpha to beta arrives intact: alpha's kernel
    starts with 1500-octet segments (its route cache was flushed), Athos
    answers Packet Too Big for the tunnel overhead, TCP shrinks its
    segments and every one then crosses Athos, Porthos and Aramis."""
    assert domain.tcp.ok, f"{domain.tcp.describe()}\n{domain.describe()}"
    assert domain.athos["icmp"]["icmp_packet_too_big"] >= 2, (
        "Packet Too Big for the 1452-octet ping and for TCP's first full "
        f"segments expected: {domain.athos['icmp']}")


def test_aramis_exports_all_three_nodes(domain):
    """One "decap" record per packet alpha sent towards beta (its echo
    requests, its echo replies, the full-size echo requests and its TCP
    segments), each with Athos's, Linux Porthos's and
    Aramis's node data in path order, hop limits descending."""
    recs = domain.export
    want = (domain.there.received + domain.back.received
            + domain.fits.received)
    inserted = domain.athos.get("ioam", {}).get("ioam_inserted")
    assert len(recs) >= want and len(recs) == inserted, (
        f"{len(recs)} records, {want} packets alpha -> beta answered/sent, "
        f"Athos inserted {inserted}\n{domain.describe()}")
    errs = []
    for i, rec in enumerate(recs):
        head = {k: rec.get(k) for k in ("event", "port", "src", "dst",
                                          "namespace", "trace_type",
                                          "remaining_len")}
        want_head = {"event": "decap", "port": "eth0", "src": "db04::1",
                     "dst": "db02::2", "namespace": 123,
                     "trace_type": f"0x{TRACE_TYPE:06x}", "remaining_len": 0}
        if head != want_head:
            errs.append(f"record {i}: {head} != {want_head}")
        if rec.get("flags", {}).get("overflow") is not False:
            errs.append(f"record {i}: flags {rec.get('flags')}")
        if rec.get("hops") != EXPECTED_HOPS:
            errs.append(f"record {i}: hops {rec.get('hops')}")
    assert not errs, "\n".join(errs[:10]) + f"\n{len(errs)} problems"


def test_appliances_counted_the_tunnel(domain):
    """Athos encapsulated what Aramis decapsulated and exported; neither
    dropped anything but link-local multicast (and Athos the packet too big
    for the tunnel), no mbuf left behind (checked at stop)."""
    a_ioam, r_ioam = domain.athos["ioam"], domain.aramis["ioam"]
    assert a_ioam["ioam_inserted"] == r_ioam["decapsulated"] == \
        r_ioam["ioam_exported"], (a_ioam, r_ioam)
    assert domain.aramis["export"] == {"written": r_ioam["ioam_exported"],
                                       "lost": 0}, domain.aramis["export"]
    for name, st in (("athos", domain.athos), ("aramis", domain.aramis)):
        drops = livenet.nonzero(st, "drops")
        allowed = {"multicast"} | ({"ioam_mtu_exceeded"} if name == "athos" else set())
        assert set(drops) <= allowed, f"{name} drops {drops}"
        if not domain.static:
            # Each resolved both its neighbours (alpha and Linux Porthos,
            # Linux Porthos and beta) by Neighbor Discovery.
            icmp = st["icmp"]
            learnt = icmp["nd_advert_received"] + icmp["nd_solicit_learnt"]
            assert learnt >= 2, f"{name} did not resolve its neighbours: {icmp}"


# ---------------------------------------------------------------------------
# inline variant: Athos inserts the trace into alpha's packets themselves

INLINE_HOPS = EXPECTED_HOPS[:2] + [
    # Aramis forwards to beta: a transit node, egress eth1 (302).
    {"hop_limit": 61, "node_id": 3, "ingress_if_id": 301, "egress_if_id": 302}]


def test_inline_trace_stripped_at_the_edge(tmp_path):
    """Athos with ``mode: inline``: alpha's echo requests carry the
    Hop-by-Hop trace themselves through Linux Porthos and Aramis, whose
    transit export shows the three nodes; Aramis's eth1 is an edge port, so
    beta receives them without any Hop-by-Hop header."""
    why = livenet.probe() or probe_linux_ioam()
    if why:
        pytest.skip(f"live domain unavailable: {why}")
    with livenet.Lab(tmp_path) as lab:
        d = build_domain(lab, static=True, inline=True)
        cap = d.beta.popen_python(NSPROBE, "capture", "eth0", "30", str(PINGS))
        assert cap.stdout.readline().strip() == "ready", cap.stderr.read()
        there = d.alpha.ping_until(BETA, count=PINGS, interval=0.2, wait=10)
        out, err = cap.communicate(timeout=60)
        athos, aramis = d.athos_app.stop(), d.aramis_app.stop()
        recs = d.aramis_app.export()
    assert there.received == there.transmitted == PINGS, there.describe()
    frames = [bytes.fromhex(h) for h in json.loads(out.splitlines()[-1])["frames"]]
    requests = [f for f in frames if f[14 + 24:14 + 40] == socket.inet_pton(
        socket.AF_INET6, BETA) and len(f) > 14 + 40]
    assert len(requests) >= PINGS, f"beta captured {len(frames)} frames: {err}"
    with_hbh = [f[14:14 + 48].hex() for f in requests if f[14 + 6] != 58]
    assert not with_hbh, f"IOAM leaked out of the domain edge: {with_hbh}"
    assert athos["ioam"]["ioam_inserted"] >= PINGS, athos["ioam"]
    assert aramis["ioam"]["edge_egress_stripped"] == athos["ioam"]["ioam_inserted"], (
        aramis["ioam"], athos["ioam"])
    transit = [r for r in recs if r.get("event") == "transit"]
    assert len(transit) == athos["ioam"]["ioam_inserted"], recs
    bad = [r for r in transit
           if r.get("hops") != INLINE_HOPS or r.get("src") != ALPHA
           or r.get("dst") != BETA or r.get("remaining_len") != 0]
    assert not bad, f"{len(bad)} records differ, e.g. {bad[0]}"
