"""ICMPv6 from ioamfwd seen by real Linux hosts (h1 -- ioamfwd -- h2).

The appliance's eth1 (towards h2) has MTU 1400, so a 1500-octet packet from
h1 to h2 needs a Packet Too Big.  One lab serves the module; the rate-limit
test builds its own with a small token bucket.
"""

import re
import shutil
import time
from pathlib import Path

import pytest

import livenet
from livenet import H1, H1_MAC, H2, RTR_ETH0, RTR_ETH0_MAC, RTR_ETH1

NSPROBE = Path(__file__).resolve().parent / "nsprobe.py"
EGRESS_MTU = 1400


@pytest.fixture(scope="module")
def net(module_lab):
    return livenet.two_hosts(module_lab, static_neighbors=True,
                             eth1_mtu=EGRESS_MTU)


def test_tracepath_sees_the_appliance(net):
    """tracepath (UDP probes with rising hop limits): hop 1 answers with Time
    Exceeded from the appliance's eth0 address, hop 2 is h2 itself, and the
    path MTU it discovers is the appliance's egress MTU.  Runs first in the
    module, before any test has taught h1 the path MTU."""
    if shutil.which("tracepath") is None:
        pytest.skip("tracepath not installed (iputils-tracepath)")
    proc = net.h1.run(["tracepath", "-6", "-n", "-m", "5", H2], check=False,
                      timeout=90)
    out = proc.stdout + proc.stderr
    hop1 = [ln for ln in out.splitlines() if re.match(r"\s*1:\s", ln)]
    assert any(RTR_ETH0 in ln for ln in hop1), (
        f"hop 1 should be the appliance ({RTR_ETH0}):\n{out}")
    assert re.search(r"Resume: pmtu 1400 hops 2 back 2", out), (
        f"tracepath should reach h2 in 2 hops with pmtu {EGRESS_MTU}:\n{out}")


def test_ping_the_appliance(net):
    for addr in (RTR_ETH0, RTR_ETH1):
        res = net.h1.ping_until(addr, count=3, interval=0.2)
        assert res.received == res.transmitted == 3, res.describe()


def test_time_exceeded(net):
    """Hop limit 1 towards h2: Time Exceeded (hop limit) from db01::2;
    hop limit 2 is enough to reach h2."""
    res = net.h1.ping(H2, count=1, hlim=1, wait=3)
    assert res.received == 0, res.describe()
    assert res.errors and all(
        e.startswith(f"From {RTR_ETH0} ") and "Time exceeded: Hop limit" in e
        for e in res.errors), res.describe()
    ok = net.h1.ping_until(H2, count=1, hlim=2, wait=3)
    assert ok.received == 1, ok.describe()


def test_destination_unreachable_no_route(net):
    """No route to db09::/64: Destination Unreachable code 0 (no route)."""
    res = net.h1.ping("db09::1", count=1, wait=3)
    assert res.received == 0, res.describe()
    assert res.errors and all(
        e.startswith(f"From {RTR_ETH0} ")
        and "Destination unreachable: No route" in e
        for e in res.errors), res.describe()


def test_destination_unreachable_address(net):
    """db02::99 is on-link behind eth1 but nobody owns it: the appliance
    solicits it (Neighbor Discovery: 3 solicitations 1 s apart), gives up
    and answers the held packet with Destination Unreachable code 3
    (address unreachable)."""
    res = net.h1.ping("db02::99", count=1, wait=8)
    assert res.received == 0, res.describe()
    assert res.errors and all(
        e.startswith(f"From {RTR_ETH0} ")
        and "Destination unreachable: Address unreachable" in e
        for e in res.errors), res.describe()


def test_packet_too_big(net):
    """1452 octets of echo data (a 1500-octet packet) with DF semantics
    (-M do): Packet Too Big with mtu=1400 from db01::2, h1's route cache
    learns mtu 1400, and a 1400-octet packet then gets through."""
    # Forget what tracepath taught h1 so that the appliance has to say it.
    net.h1.ip("-6", "route", "flush", "cache")
    before = net.h1.ip("-6", "route", "get", H2).stdout
    assert not re.search(r"\bmtu \d+", before), before
    res = net.h1.ping(H2, count=1, size=1452, pmtudisc="do", wait=3)
    assert res.received == 0, res.describe()
    assert any(e.startswith(f"From {RTR_ETH0} ")
               and f"Packet too big: mtu={EGRESS_MTU}" in e
               for e in res.errors), res.describe()
    route = net.h1.ip("-6", "route", "get", H2).stdout
    assert re.search(rf"\bmtu {EGRESS_MTU}\b", route), (
        f"h1 did not learn the path MTU: {route}")
    fits = net.h1.ping_until(H2, count=2, size=EGRESS_MTU - 48,
                             pmtudisc="do", wait=3)
    assert fits.received == 2, fits.describe()


RATE, BURST, FLOOD, SPREAD = 20, 10, 500, 1.5


@pytest.mark.parametrize("spread", [0.0, SPREAD], ids=["burst", "spread"])
def test_rate_limit_under_flood(lab, spread):
    """500 echo requests to unroutable addresses, all at once (``burst``) or
    spread over 1.5 s (``spread``), with icmp {rate: 20, burst: 10}: h1
    receives at least the burst and at most burst + rate * (time of the last
    error - first send) + 2 errors; spread out, the bucket visibly refills
    (at least burst + rate * window / 2); the appliance counts every other
    unroutable packet as rate limited."""
    net = livenet.two_hosts(lab, static_neighbors=True, icmp=(RATE, BURST))
    time.sleep(BURST / RATE + 0.2)           # a full bucket
    out = net.h1.python(NSPROBE, "flood", "eth0", H1_MAC, RTR_ETH0_MAC, H1,
                        "db09::/64", str(FLOOD), str(spread), timeout=180)
    stats = net.app.stop()
    errors = out["errors"]
    kinds = {(e["type"], e["code"], e["src"]) for e in errors}
    assert kinds <= {(1, 0, RTR_ETH0)}, (
        f"only Destination Unreachable code 0 from {RTR_ETH0} expected: {kinds}")
    n = len(errors)
    last = max((e["time"] for e in errors), default=out["t_send_start"])
    window = max(0.0, last - out["t_send_start"])
    send_window = out["t_send_end"] - out["t_send_start"]
    upper = BURST + RATE * window + 2
    icmp, drops = stats["icmp"], stats["drops"]
    detail = (f"{n} errors for {FLOOD} packets; send window "
              f"{send_window:.3f} s, last error after {window:.3f} s; icmp "
              f"{livenet.nonzero(stats, 'icmp')}, drops "
              f"{livenet.nonzero(stats, 'drops')}")
    assert n >= BURST, detail
    assert n <= upper, f"more than {upper:.1f} errors: {detail}"
    if spread:
        lower = BURST + RATE * send_window / 2
        assert n >= lower, f"fewer than {lower:.1f} errors: {detail}"
    # Every unroutable packet the appliance saw was answered or limited,
    # and every answer it sent reached h1.
    assert drops["no_route"] == icmp["icmp_unreachable"] + icmp["icmp_rate_limited"], detail
    assert icmp["icmp_unreachable"] == n, detail
    assert drops["no_route"] >= FLOOD * 0.9, (
        f"the flood mostly did not reach the appliance: {detail}")
