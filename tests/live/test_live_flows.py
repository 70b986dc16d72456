"""A multi-flow UDP stream from h1 to h2 through ioamfwd: every datagram of
every flow arrives, and in the order it was sent within its flow.

Scapy (inside h1's namespace) sends FLOWS flows (source ports 20000+i,
destination ports 30000+i) of PER_FLOW sequenced datagrams, interleaved; a
raw socket in h2's namespace records the sequence numbers per flow.  The
``queues`` variants run the appliance with one worker on one rx queue per
port, or with two worker lcores polling two rx queues per port (af_packet
``qpairs=2``: the kernel's fanout spreads the flows over the two sockets by
their hash, so packets of one flow always meet the same worker, and the
flows as a whole meet both; worker lcore 1 polls queue 0 of both ports and
lcore 2 queue 1, on different CPUs).
"""

import json
import time
from pathlib import Path

import pytest

import livenet
from livenet import H1, H1_MAC, H2, RTR_ETH0_MAC

NSPROBE = Path(__file__).resolve().parent / "nsprobe.py"
FLOWS, PER_FLOW = 16, 100
# af_packet rings of 2048 frames (default 512) hold the whole stream, so a
# worker descheduled for a while on a loaded machine delays it, not drops it.
RING = ",framecnt=2048"


def run_flows(net: livenet.TwoHosts) -> tuple:
    total = FLOWS * PER_FLOW
    recv = net.h2.popen_python(NSPROBE, "udp-recv", "eth0", str(FLOWS), "30",
                               str(total))
    assert recv.stdout.readline().strip() == "ready", recv.stderr.read()
    sent = net.h1.python(NSPROBE, "udp-send", "eth0", H1_MAC, RTR_ETH0_MAC,
                         H1, H2, str(FLOWS), str(PER_FLOW), timeout=180)
    out, err = recv.communicate(timeout=120)
    assert recv.returncode == 0, err
    got = json.loads(out.strip().splitlines()[-1])
    return sent, got


def check_flows(sent: dict, got: dict, stats: dict) -> None:
    assert sent["sent"] == FLOWS * PER_FLOW, sent
    problems = []
    for fl in range(FLOWS):
        seqs = got["seqs"][str(fl)]
        if seqs != list(range(PER_FLOW)):
            missing = sorted(set(range(PER_FLOW)) - set(seqs))
            swaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b < a]
            problems.append(f"flow {fl}: {len(seqs)} received, missing "
                            f"{missing[:10]}, out of order {swaps[:5]}")
    assert not got["bad"], f"{got['bad']} garbled datagrams"
    assert not problems, (
        "\n".join(problems) + f"\nappliance eth0 received "
        f"{stats['ports']['eth0']['rx']} (fewer than sent: lost on the way "
        f"in, e.g. a full af_packet ring); ports {stats['ports']}, drops "
        f"{livenet.nonzero(stats, 'drops')}, lcores {stats.get('lcores')}")


@pytest.mark.parametrize("queues", [1, 2])
def test_udp_flows_complete_and_in_order(lab, queues):
    vdev = RING + (f",qpairs={queues}" if queues > 1 else "")
    net = livenet.two_hosts(lab, rx_queues=queues if queues > 1 else None,
                            vdev_args=vdev)
    time.sleep(0.2)
    sent, got = run_flows(net)
    stats = net.app.stop()
    check_flows(sent, got, stats)
    assert stats["ports"]["eth1"]["tx"] >= FLOWS * PER_FLOW, stats["ports"]
    if queues > 1:
        # The flows met both workers, through both rx queues of eth0.
        lcores = stats["lcores"]
        rx = {lc: v["rx_queues"] for lc, v in lcores.items()}
        assert sorted(lcores) == [str(w) for w in range(1, queues + 1)], lcores
        for q in range(queues):
            got_q = lcores[str(q + 1)]["rx_queues"].get(f"eth0/{q}", 0)
            assert got_q >= FLOWS, (
                f"eth0 queue {q} (lcore {q + 1}) received {got_q} packets; "
                f"the fanout should give it whole flows: {rx}")
