"""Multi-queue, multi-lcore (issue 5, item 3): ports with two rx queues
(two rx_pcap files each) polled by two worker lcores, each worker with its
own tx queue (tx_pcap file) on every port.

A flow's packets all sit in one rx queue's file, as RSS would put them in
one queue; the appliance must forward every packet exactly once, keep each
flow in order (one queue = one worker = one tx queue), fill the IOAM trace
as the Linux model does, and count on both workers. Start-up refusals:
lcores[] naming an lcore the EAL does not run as a worker, and devices with
fewer queues than the configuration needs.
"""

from __future__ import annotations

import re
import subprocess
from typing import Dict, List

import pytest

import ioam_scapy as ioam
import pcaptest as pt

# Three lcores on this two-core machine: the main lcore alone, the two
# workers sharing a core (correctness, not speed, is tested here).
LCORES = ("--lcores", "0@0,1@1,2@1")
# Two workers share CPU 1: on a loaded machine one of them can wait longer
# than the default 300 ms idle exit before it first reads its queue.
SHARED_CPU_IDLE_EXIT_MS = 3000
FLOWS = 8
PER_FLOW = 24


def config(rx_queues: int = 2, lcores: str = "") -> str:
    text = (pt.REPO / "config" / "porthos.yaml").read_text()
    text, n = re.subn(r"(?m)^(    device: net_pcap[01])$", rf"\1\n    rx_queues: {rx_queues}",
                      text)
    assert n == 2, "config/porthos.yaml's ports changed"
    return text + lcores


def flow_of(tag: int) -> int:
    return tag >> 8


def flow_frames(flow: int) -> List[bytes]:
    """A flow: one flow label high byte, sequence in the low byte; half the
    flows carry the minimal trace, half the full one (timestamps, queue depth,
    namespace data, opaque state)."""
    hbh = ioam.linux_hbh() if flow % 2 else ioam.linux_hbh(ioam.NH_ICMPV6, 123, 0xFFF002, 244)
    return [pt.inline_frame(hbh, tag=(flow << 8) | (i + 1)) for i in range(PER_FLOW)]


def interleave(flows: List[List[bytes]]) -> List[bytes]:
    return [f for group in zip(*flows) for f in group]


def queue_inputs() -> Dict[int, List[List[bytes]]]:
    half = FLOWS // 2
    q0 = interleave([flow_frames(f) for f in range(half)])
    q1 = interleave([flow_frames(f) for f in range(half, FLOWS)])
    return {0: [q0, q1], 1: [[], []]}


def check_forwarding(run: pt.RunResult, cfg: str, inputs: Dict[int, List[List[bytes]]]) -> None:
    sent = [f for q in inputs[0] for f in q]
    by_tag = {pt.frame_tag(f): f for f in sent}
    prof = pt.profile(cfg)
    tags_out = []
    flow_queue: Dict[int, int] = {}
    for q, frames in enumerate(run.out_queues[1]):
        last: Dict[int, int] = {}
        for out in frames:
            tag = pt.frame_tag(out)
            assert tag in by_tag, f"unexpected frame {out.hex()}"
            tags_out.append(tag)
            flow = flow_of(tag)
            assert flow_queue.setdefault(flow, q) == q, f"flow {flow} left on two tx queues"
            assert tag > last.get(flow, -1), f"flow {flow} reordered: {tag:#x} after " \
                                             f"{last[flow]:#x}"
            last[flow] = tag
            pt.assert_frame(out, pt.expect(by_tag[tag], prof), run, f"tag {tag:#x}")
    assert sorted(tags_out) == sorted(by_tag), (
        f"{len(tags_out)} frames out for {len(by_tag)} sent (each exactly once)\n{run.describe()}")
    assert run.out[0] == [], "nothing may go back out of eth0"
    assert run.drops == {}, run.describe()
    assert run.port("eth0")["rx"] == len(sent)
    assert run.port("eth1")["tx"] == len(sent)


def test_two_queues_two_workers_default_spread(tmp_path):
    cfg = config()
    inputs = queue_inputs()
    run = pt.run_appliance(tmp_path, cfg, inputs, rx_queues=2, tx_queues=2, eal_lcores=LCORES,
                           extra_args=["--idle-sleep-us", "100"],
                           idle_exit_ms=SHARED_CPU_IDLE_EXIT_MS)
    check_forwarding(run, cfg, inputs)
    lcores = run.stats["lcores"]
    assert sorted(lcores) == ["1", "2"], run.describe()
    # Port by port, round-robin: lcore 1 polls eth0/0 and eth1/0, lcore 2
    # polls eth0/1 and eth1/1.
    assert lcores["1"]["rx_queues"] == {"eth0/0": len(inputs[0][0]), "eth1/0": 0}
    assert lcores["2"]["rx_queues"] == {"eth0/1": len(inputs[0][1]), "eth1/1": 0}
    for l in ("1", "2"):
        assert lcores[l]["rx"] > 0 and lcores[l]["tx"] > 0, run.describe()
    assert lcores["1"]["rx"] + lcores["2"]["rx"] == run.port("eth0")["rx"]
    # Idle workers napped (the queues run dry long before --idle-exit).
    assert lcores["1"]["idle_sleeps"] > 0 and lcores["2"]["idle_sleeps"] > 0
    assert "lcore 1 polls eth0/0 eth1/0" in run.stderr
    assert "lcore 2 polls eth0/1 eth1/1" in run.stderr


def test_lcores_section_decides_who_polls_what(tmp_path):
    cfg = config(lcores="\nlcores:\n"
                        "  - lcore: 2\n"
                        "    rx: [{port: eth0, queue: 0}, {port: eth1, queue: 1}]\n"
                        "  - lcore: 1\n"
                        "    rx: [{port: eth0, queue: 1}, {port: eth1, queue: 0}]\n")
    inputs = queue_inputs()
    run = pt.run_appliance(tmp_path, cfg, inputs, rx_queues=2, tx_queues=2, eal_lcores=LCORES,
                           idle_exit_ms=SHARED_CPU_IDLE_EXIT_MS)
    check_forwarding(run, cfg, inputs)
    lcores = run.stats["lcores"]
    assert lcores["2"]["rx_queues"] == {"eth0/0": len(inputs[0][0]), "eth1/1": 0}
    assert lcores["1"]["rx_queues"] == {"eth0/1": len(inputs[0][1]), "eth1/0": 0}
    assert lcores["1"]["idle_sleeps"] == 0, "no --idle-sleep-us: busy polling"


def test_one_queue_per_port_is_unchanged(tmp_path):
    """Without rx_queues or lcores: one rx queue per port, as before."""
    cfg = (pt.REPO / "config" / "porthos.yaml").read_text()
    frames = flow_frames(1) + flow_frames(2)
    run = pt.run_appliance(tmp_path, cfg, {0: frames})
    assert [pt.frame_tag(f) for f in run.out[1]] == [pt.frame_tag(f) for f in frames]
    assert run.stats["lcores"]["1"]["rx_queues"] == {"eth0/0": len(frames), "eth1/0": 0}


def refused(tmp_path, cfg: str, **kw) -> pt.RunResult:
    frames = flow_frames(1)
    rxq = kw.get("rx_queues", 1)
    inputs = {0: frames} if rxq == 1 else {0: [frames] + [[]] * (rxq - 1)}
    run = pt.run_appliance(tmp_path, cfg, inputs, check=False, **kw)
    assert run.returncode == 1, run.describe()
    for out in tmp_path.glob("OUT*.pcap"):
        assert pt.read_pcap(out) == [], f"{out.name}: a refused start transmitted"
    return run


def test_lcore_not_in_the_eal_is_refused(tmp_path):
    lc = "\nlcores:\n  - {lcore: 1, rx: [{port: eth0, queue: 0}, {port: eth1, queue: 0}]}\n" \
         "  - {lcore: 5, rx: [{port: eth0, queue: 1}, {port: eth1, queue: 1}]}\n"
    cfg = config(lcores=lc)
    line = cfg.splitlines().index("  - {lcore: 5, rx: [{port: eth0, queue: 1}, "
                                  "{port: eth1, queue: 1}]}") + 1
    run = refused(tmp_path, cfg, rx_queues=2, tx_queues=2, eal_lcores=LCORES)
    assert f"CONF.yaml:{line}:5: lcore 5 is not an EAL lcore; add it to the EAL's -l or " \
           f"--lcores (EAL worker lcores: 1, 2)" in run.stderr, run.stderr


def test_main_lcore_is_refused(tmp_path):
    lc = "\nlcores:\n  - {lcore: 0, rx: [{port: eth0, queue: 0}, {port: eth1, queue: 0}]}\n"
    run = refused(tmp_path, config(rx_queues=1, lcores=lc))
    assert "lcore 0 is the EAL main lcore" in run.stderr, run.stderr


def test_device_with_too_few_rx_queues_is_refused(tmp_path):
    run = refused(tmp_path, config(rx_queues=2), rx_queues=1)
    assert "has 1 rx queue(s) but 2 are needed; give the --vdev one rx_pcap= per rx queue" \
        in run.stderr, run.stderr


def test_device_with_too_few_tx_queues_is_refused(tmp_path):
    run = refused(tmp_path, config(rx_queues=2), rx_queues=2, tx_queues=1, eal_lcores=LCORES)
    assert "has 1 tx queue(s) but 2 are needed; every polling worker lcore needs its own tx " \
           "queue on every port; give the --vdev one tx_pcap= per worker lcore" in run.stderr, \
        run.stderr


@pytest.mark.parametrize("args, message", [
    (["--idle-sleep-us", "0"], "--idle-sleep-us: '0' is not a number of microseconds from 1 "
                               "to 100000"),
    (["--idle-sleep-us", "100001"], "--idle-sleep-us: '100001' is not a number"),
    (["--idle-polls", "0"], "--idle-polls: '0' is not a number from 1 to 1000000"),
])
def test_idle_sleep_options_are_checked(args, message):
    proc = subprocess.run([str(pt.binary()), "--", "--config", "x.yaml", *args],
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_rx_config_option_replaces_lcores(tmp_path):
    """--rx-config "(PORT,QUEUE,LCORE),...", l3fwd style, wins over lcores:."""
    cfg = config(lcores="\nlcores:\n"
                        "  - {lcore: 1, rx: [{port: eth0, queue: 0}, {port: eth1, queue: 0}]}\n"
                        "  - {lcore: 2, rx: [{port: eth0, queue: 1}, {port: eth1, queue: 1}]}\n")
    inputs = queue_inputs()
    run = pt.run_appliance(tmp_path, cfg, inputs, rx_queues=2, tx_queues=2, eal_lcores=LCORES,
                           extra_args=["--rx-config",
                                       "(eth0,0,2),(eth1,1,2),(eth0,1,1),(eth1,0,1)"],
                           idle_exit_ms=SHARED_CPU_IDLE_EXIT_MS)
    check_forwarding(run, cfg, inputs)
    lcores = run.stats["lcores"]
    assert lcores["2"]["rx_queues"] == {"eth0/0": len(inputs[0][0]), "eth1/1": 0}
    assert lcores["1"]["rx_queues"] == {"eth0/1": len(inputs[0][1]), "eth1/0": 0}
    assert "--rx-config replaces lcores: of" in run.stderr


def test_rx_config_option_refusals(tmp_path):
    run = refused(tmp_path / "a", config(), rx_queues=2, tx_queues=2, eal_lcores=LCORES,
                  extra_args=["--rx-config", "(eth0,0,1),(eth0,1,2),(eth1,0,1)"])
    assert "--rx-config: rx queue 1 of port eth1 is polled by no lcore" in run.stderr, run.stderr
    run = refused(tmp_path / "b", config(), rx_queues=2, tx_queues=2, eal_lcores=LCORES,
                  extra_args=["--rx-config", "(eth0,0,1),(eth0,1,3),(eth1,0,1),(eth1,1,1)"])
    assert "--rx-config: lcore 3 is not an EAL lcore" in run.stderr, run.stderr


def test_unpolled_device_queues_are_warned_about(tmp_path):
    """net_pcap with two rx_pcap files but rx_queues 1: the second file is
    never read, and the log says so (net_af_packet qpairs=2 loses the flows
    its fanout puts on the second socket the same way)."""
    frames = flow_frames(1)
    run = pt.run_appliance(tmp_path, config(rx_queues=1), {0: [frames, flow_frames(2)]},
                           rx_queues=2)
    assert "port eth0: net_pcap0 has 2 rx queues but rx_queues is 1: what it puts on queue 1 " \
           "is never read (set rx_queues: 2)" in run.stderr, run.stderr
    assert [pt.frame_tag(f) for f in run.out[1]] == [pt.frame_tag(f) for f in frames]


def test_spare_tx_pcap_file_is_closed(tmp_path):
    """net_pcap with two tx_pcap files but one worker lcore: the second file
    is set up as a spare tx queue (so that stopping the port closes it:
    DPDK's net_pcap closes only configured queues) and nothing is sent on
    it; everything leaves by the worker's own queue 0."""
    cfg = (pt.REPO / "config" / "porthos.yaml").read_text()
    frames = flow_frames(1)
    run = pt.run_appliance(tmp_path, cfg, {0: frames}, tx_queues=2)
    assert [pt.frame_tag(f) for f in run.out_queues[1][0]] == [pt.frame_tag(f) for f in frames]
    assert run.out_queues[1][1] == []
    assert run.out_queues[0] == [[], []]
