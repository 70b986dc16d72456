"""The same two-host router on DPDK's net_tap instead of net_af_packet.

net_tap creates a kernel tap interface per port in the router namespace
(``--vdev net_tap0,iface=t0``); what ioamfwd sends comes out of it, and what
the kernel sends into it reaches ioamfwd.  Each tap is bridged with the veth
end towards its host (livenet.Lab.tap_bridge), after its kernel-side MAC is
changed away from the port's own.  af_packet needs neither step and is what
the other live tests use; this test keeps the README's net_tap recipe honest.
"""

import os

import pytest

import livenet
from livenet import H1, H2


@pytest.mark.parametrize("neighbours", ["static", "discovered"])
def test_ping_through_net_tap(lab, neighbours):
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("net_tap needs /dev/net/tun (the tun module)")
    net = livenet.two_hosts(lab, static_neighbors=neighbours == "static",
                            pmd="net_tap")
    there = net.h1.ping_until(H2, count=5, interval=0.2)
    back = net.h2.ping_until(H1, count=5, interval=0.2)
    stats = net.app.stop()
    for res in (there, back):
        assert res.transmitted == 5 and res.received == 5, (
            f"{res.describe()}\n{net.app.describe()}")
        assert "ttl=63" in res.out, res.out
    assert stats["ports"]["eth0"]["device"] == "net_tap0", stats["ports"]
    assert stats["ports"]["eth1"]["tx"] >= 10, stats["ports"]
