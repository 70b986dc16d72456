"""Two Linux hosts ping each other through ioamfwd (net_af_packet on veth).

    h1 db01::1/64 --veth-- [ioamfwd eth0 db01::2 | eth1 db02::2] --veth-- h2 db02::1/64

Both hosts route by default via the appliance.  ``neighbours`` chooses how
the appliance and the hosts learn each other's MACs: ``static`` (the
appliance's ``neighbors:`` and permanent entries on the hosts) or
``discovered`` (Neighbor Discovery both ways).
"""

import pytest

import livenet
from livenet import H1, H2, RTR_ETH0, RTR_ETH1

# Drop reasons a quiet two-host link may show: the hosts' own MLD reports
# and router solicitations go to multicast groups the appliance does not route.
EXPECTED_DROPS = {"multicast"}


@pytest.mark.parametrize("neighbours", ["static"])
def test_hosts_ping_each_other(lab, neighbours):
    net = livenet.two_hosts(lab, static_neighbors=neighbours == "static")
    there = net.h1.ping_until(H2, count=5, interval=0.2)
    back = net.h2.ping_until(H1, count=5, interval=0.2)
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
