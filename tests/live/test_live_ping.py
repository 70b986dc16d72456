"""Two Linux hosts ping each other through ioamfwd (net_af_packet on veth).

    h1 db01::1/64 --veth-- [ioamfwd eth0 db01::2 | eth1 db02::2] --veth-- h2 db02::1/64

Both hosts route by default via the appliance.  ``neighbours`` chooses how
the appliance and the hosts learn each other's MACs: ``static`` (the
appliance's ``neighbors:`` and permanent entries on the hosts),
``hosts-discover`` (the hosts resolve the appliance with Neighbor
Discovery, the appliance has static entries for them) or ``discovered``
(Neighbor Discovery both ways).  Also: a TCP transfer (real
checksums, full-size segments) and a SIGHUP reload adding a route while
pings run.
"""

import re
import signal
import subprocess
import time

import pytest

import livenet
from livenet import H1, H2, RTR_ETH0, RTR_ETH1

# Drop reasons a quiet two-host link may show: the hosts' own MLD reports
# and router solicitations go to multicast groups the appliance does not route.
EXPECTED_DROPS = {"multicast"}


NEIGHBOUR_MODES = {            # (appliance static, hosts static)
    "static": (True, True),
    "hosts-discover": (True, False),
    "discovered": (False, False),
}


@pytest.mark.parametrize("neighbours", list(NEIGHBOUR_MODES))
def test_hosts_ping_each_other(lab, neighbours):
    appliance_static, hosts_static = NEIGHBOUR_MODES[neighbours]
    net = livenet.two_hosts(lab, static_neighbors=appliance_static,
                            host_neighbors=hosts_static)
    there = net.h1.ping_until(H2, count=5, interval=0.2)
    back = net.h2.ping_until(H1, count=5, interval=0.2)
    table = net.app.ctl("show neighbors")[0]
    stats = net.app.stop()
    assert there.transmitted == 5 and there.received == 5, (
        f"h1 -> h2 lost replies\n{there.describe()}\n{net.app.describe()}")
    assert back.transmitted == 5 and back.received == 5, (
        f"h2 -> h1 lost replies\n{back.describe()}\n{net.app.describe()}")
    assert "ttl=63" in there.out and "ttl=63" in back.out, (
        "the appliance must decrement the hop limit once\n"
        f"{there.out}\n{back.out}")
    ports = stats["ports"]
    # 10 requests and 10 replies crossed the appliance, at least.
    assert ports["eth0"]["tx"] >= 10 and ports["eth1"]["tx"] >= 10, ports
    drops = livenet.nonzero(stats, "drops")
    assert set(drops) <= EXPECTED_DROPS, f"unexpected drops {drops}"
    if appliance_static and not hosts_static:
        # Nothing but the hosts' solicitations can have taught them.
        assert stats["icmp"]["nd_advert"] >= 2, (
            f"both hosts should have solicited the appliance: {stats['icmp']}")
    if not appliance_static:
        # The appliance learnt both hosts: from their solicitations or from
        # the advertisements answering its own.
        icmp = stats["icmp"]
        learnt = icmp["nd_advert_received"] + icmp["nd_solicit_learnt"]
        assert learnt >= 2, f"the appliance did not resolve both hosts: {icmp}"
        for addr, port, mac in ((H1, "eth0", livenet.H1_MAC),
                                (H2, "eth1", livenet.H2_MAC)):
            assert any(ln.startswith(f"{addr} dev {port} lladdr {mac} ")
                       and "dynamic" in ln for ln in table), (
                f"no learnt entry {addr} {mac} on {port}: {table}")
    if not hosts_static:
        for h, gw, mac in ((net.h1, RTR_ETH0, livenet.RTR_ETH0_MAC),
                           (net.h2, RTR_ETH1, livenet.RTR_ETH1_MAC)):
            neigh = h.ip("-6", "neigh", "show", gw).stdout
            assert f"lladdr {mac}" in neigh, f"{h.name}: {neigh!r}"
            if appliance_static:
                # learnt from the appliance's NA, which has the Router flag
                assert re.search(rf"lladdr {mac} router", neigh), (
                    f"{h.name}: {neigh!r}")


def test_ping_appliance_addresses(lab):
    """The appliance answers echo requests for both its addresses, from
    either side (the far one is reached through the appliance itself)."""
    net = livenet.two_hosts(lab)
    near = net.h1.ping_until(RTR_ETH0, count=3, interval=0.2)
    far = net.h1.ping_until(RTR_ETH1, count=3, interval=0.2)
    other = net.h2.ping_until(RTR_ETH1, count=3, interval=0.2)
    stats = net.app.stop()
    for res in (near, far, other):
        assert res.transmitted == 3 and res.received == 3, res.describe()
        assert "ttl=64" in res.out, (
            "an echo reply leaves the appliance with hop limit 64\n" + res.out)
    assert stats["icmp"]["icmp_echo_reply"] >= 9, stats["icmp"]


def test_tcp_transfer(lab):
    """2 MB over TCP from h1 to h2 arrive intact: full-size segments one
    way, ACKs the other, real checksums (the hosts compute them: tx offload
    is off on their veths)."""
    net = livenet.two_hosts(lab)
    res = livenet.tcp_transfer(lab, net.h2, net.h1, H2, 2 << 20)
    stats = net.app.stop()
    assert res.ok, res.describe()
    assert stats["ports"]["eth1"]["tx"] > (2 << 20) // 1500, stats["ports"]
    drops = livenet.nonzero(stats, "drops")
    assert set(drops) <= EXPECTED_DROPS, f"unexpected drops {drops}"


@pytest.mark.parametrize("neighbours", ["static", "discovered"])
def test_sighup_reload_adds_a_route(lab, neighbours):
    """h2 also owns db05::1, which the appliance first has no route to (No
    route); a new configuration file with the route, a SIGHUP, and pings to
    db05::1 get through, while pings to h2 keep working throughout (with
    ``discovered``, across a reload of a neighbour table learnt by ND)."""
    static = neighbours == "static"
    net = livenet.two_hosts(lab, static_neighbors=static)
    net.h2.ip("addr", "add", "db05::1/64", "dev", "eth0", "nodad")
    before = net.h1.ping("db05::1", count=1, wait=3)
    assert before.received == 0 and any(
        "Destination unreachable: No route" in e for e in before.errors), \
        before.describe()
    net.app.conf.write_text(livenet.router_config(
        static, extra="routes:\n  - {prefix: db05::/64, via: db02::1, port: eth1}\n"))
    # Pings to h2 run across the reload: none may be lost to it.
    steady = subprocess.Popen(net.h1.exec_argv(
        ["ping", "-6", "-n", "-c", "20", "-i", "0.1", "-W", "5", H2]),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lab.procs.append(steady)
    time.sleep(0.5)
    net.app.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while "configuration reloaded" not in net.app.log():
        assert time.monotonic() < deadline, net.app.describe()
        time.sleep(0.05)
    after = net.h1.ping_until("db05::1", count=3, interval=0.2)
    steady_out = steady.communicate(timeout=60)[0]
    net.app.stop()
    assert "reload refused" not in net.app.log(), net.app.describe()
    assert after.received == 3, f"{after.describe()}\n{net.app.describe()}"
    assert "20 packets transmitted, 20 received" in steady_out, steady_out
