"""Soak: the seed's three nodes (config/athos.yaml, porthos.yaml, aramis.yaml)
each forward a long stream of mixed valid and malformed traffic, and must end
with flat memory, every drop under a reason the mix predicts, and every mbuf
back in its pool.

net_pcap's ``infinite_rx=1`` never lets ``--idle-exit`` fire, and a capture
long enough for a minute of traffic would be gigabytes, so eth0's rx_pcap is
a FIFO: a writer thread sends the pcap header, then the same 200 000-packet
block (built once from raw bytes) again and again until the time budget is
spent, and closes it; the appliance then sees EOF, goes idle and exits.
Transmitted frames go to /dev/null (their content is the other tests' job;
the counters say how many left).

While the stream runs, VmRSS of the process is sampled from
/proc/PID/status; after the warm-up it may not grow by more than
RSS_GROWTH_LIMIT. The counters are then compared exactly: eth0 received
200 000 x blocks, each drop reason is the mix's count x blocks (nothing
dropped outside them), the ports transmitted the rest.

Budget: IOAMFWD_SOAK_SECONDS per node (default 20, so about a minute for
the three); set it higher for a long soak, e.g. IOAMFWD_SOAK_SECONDS=1800.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import ioam_scapy as ioam
import pcaptest as pt

SECONDS = float(os.environ.get("IOAMFWD_SOAK_SECONDS", "20"))
BLOCK = 200_000                  # packets per replayed block
WARMUP_FRACTION = 0.25           # of the run, before the RSS baseline is taken
RSS_GROWTH_LIMIT = 8 << 20       # bytes of VmRSS growth allowed after the warm-up
SAMPLE_S = 0.2
# The appliance stops this long after the last packet; generous, because on a
# loaded machine the writer thread can stall while the worker waits in read().
IDLE_EXIT_MS = 5000
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

ICMP, HOP, IP6 = ioam.NH_ICMPV6, ioam.NH_HOPOPTS, ioam.NH_IPV6
# Drops the appliance may answer with an ICMPv6 error (RFC 4443; rate
# limited): each can add at most one transmitted frame.
ICMP_ANSWERED = {"no_route", "hop_limit_exceeded", "mtu_exceeded", "ioam_mtu_exceeded",
                 "local_delivery"}


@dataclass
class Mix:
    """One node's traffic: (frame, weight, expected drop or None)."""
    config: str
    items: List[Tuple[str, bytes, int, Optional[str]]] = field(default_factory=list)

    def add(self, name: str, frame: bytes, weight: int, drop: Optional[str] = None) -> None:
        self.items.append((name, frame, weight, drop))

    def block(self) -> Tuple[bytes, Counter, int]:
        """(pcap records of one block, drops per block, forwarded per block):
        the frames interleaved by weight, BLOCK packets in all."""
        total = sum(w for _n, _f, w, _d in self.items)
        assert BLOCK % total == 0, f"weights sum to {total}, which does not divide {BLOCK}"
        # Round robin over the kinds, so every burst is mixed.
        left = [w for _n, _f, w, _d in self.items]
        pattern = []
        while any(left):
            for i, (_n, f, _w, d) in enumerate(self.items):
                if left[i]:
                    pattern.append((f, d))
                    left[i] -= 1
        recs = [struct.pack("<IIII", 1_700_000_000, i, len(f), len(f)) + f
                for i, (f, _d) in enumerate(pattern)]
        reps = BLOCK // total
        drops = Counter()
        fwd = 0
        for _f, d in pattern:
            if d:
                drops[d] += reps
            else:
                fwd += reps
        return b"".join(recs) * reps, drops, fwd


def _ether(dst_mac: str, src_mac: str, pkt: bytes) -> bytes:
    return ioam.ether(dst_mac, src_mac, pkt)


def _porthos() -> Mix:
    m = Mix((pt.REPO / "config" / "porthos.yaml").read_text())
    me, athos = "02:00:00:00:02:00", "02:00:00:00:01:01"
    inner = ioam.icmp_packet("db01::1", "db03::2", hlim=63, fl=1)
    trace = ioam.linux_hbh(IP6, 123, 0x800000, 12, remlen=2, data=bytes(8) + bytes.fromhex("3f000001"))
    seed = ioam.encap_packet("db04::1", "db02::2", inner, hbh=trace)
    m.add("seed_ip6ip6_trace", _ether(me, athos, seed), 6)
    full = ioam.icmp_packet("db01::1", "db03::2", ext=ioam.linux_hbh(ICMP, 123, 0xFFF002, 244))
    m.add("inline_full_trace", _ether(me, athos, full), 2)
    m.add("plain", _ether(me, athos, ioam.icmp_packet("db01::1", "db03::2")), 2)
    m.add("unknown_ns", _ether(me, athos, ioam.icmp_packet(
        "db01::1", "db03::2", ext=ioam.linux_hbh(ICMP, 999, 0x800000, 8))), 1)
    bad = ioam.icmp_packet("db01::1", "db03::2", ext=ioam.linux_hbh(ICMP, 123, 0x800000, 8,
                                                                    nodelen=3))
    m.add("nodelen_mismatch", _ether(me, athos, bad), 1, "ioam_nodelen_mismatch")
    mis = ioam.icmp_packet("db01::1", "db03::2", ext=ioam.ext_header(
        ICMP, ioam.pad1() + ioam.ioam_trace_option(size=4)))
    m.add("misaligned", _ether(me, athos, mis), 1, "ioam_misaligned")
    m.add("truncated", _ether(me, athos, seed)[:60], 1, "ipv6_bad_length")
    m.add("no_route", _ether(me, athos, ioam.icmp_packet("db01::1", "dead::1")), 1, "no_route")
    m.add("hop_limit_1", _ether(me, athos, ioam.set_hop_limit(seed, 1)), 1, "hop_limit_exceeded")
    m.add("other_host", _ether("02:00:00:00:09:09", athos, seed), 2, "l2_other_host")
    m.add("padn_nonzero", _ether(me, athos, ioam.icmp_packet(
        "db01::1", "db03::2", ext=ioam.ext_header(ICMP, ioam.padn(6, fill=1)))), 2,
        "hbh_padn_nonzero")
    return m  # weights: 20


def _athos() -> Mix:
    m = Mix((pt.REPO / "config" / "athos.yaml").read_text())
    me, alpha = "02:00:00:00:01:00", "02:00:00:00:00:01"
    m.add("to_encap_route", _ether(me, alpha, ioam.icmp_packet("db01::1", "db03::2")), 8)
    m.add("to_plain_route", _ether(me, alpha, ioam.icmp_packet("db01::1", "db02::7")), 3)
    # IOAM from outside on the edge port (policy ignore, IOAM disabled): skipped, encapsulated.
    m.add("foreign_ioam", _ether(me, alpha, ioam.icmp_packet(
        "db01::1", "db03::2", ext=ioam.linux_hbh(ICMP, 123, 0x800000, 8))), 2)
    big = ioam.icmp_packet("db01::1", "db03::2", data=bytes(1500 - 40 - 8 - 10))
    m.add("too_big_for_encap", _ether(me, alpha, big), 1, "ioam_mtu_exceeded")
    m.add("to_self", _ether(me, alpha, ioam.ipv6("db01::1", "db01::2", b"x" * 8, nh=59)), 1,
          "local_delivery")
    m.add("no_route", _ether(me, alpha, ioam.icmp_packet("db01::1", "dead::1")), 1, "no_route")
    m.add("bad_version", _ether(me, alpha, b"\x40" + ioam.icmp_packet("db01::1", "db03::2")[1:]),
          1, "ipv6_bad_version")
    m.add("ipv4", ioam.ether(me, alpha, bytes([0x45]) + bytes(39), ethertype=0x0800), 1,
          "not_ipv6")
    m.add("too_many_options", _ether(me, alpha, ioam.icmp_packet(
        "db01::1", "db03::2", ext=ioam.ext_header(ICMP, ioam.tlv(0x1E) * 9))), 1,
        "hbh_too_many_options")
    m.add("runt", _ether(me, alpha, b"")[:10], 1, "ipv6_truncated")
    return m  # weights: 20


def _aramis() -> Mix:
    m = Mix((pt.REPO / "config" / "aramis.yaml").read_text())
    me, porthos = "02:00:00:00:03:00", "02:00:00:00:02:01"
    inner = ioam.icmp_packet("db01::1", "db03::2", hlim=63, fl=1)
    data = bytes(4) + bytes.fromhex("3e000002" "3f000001")
    trace = ioam.linux_hbh(IP6, 123, 0x800000, 12, remlen=1, data=data)
    m.add("seed_tunnel", _ether(me, porthos, ioam.encap_packet("db04::1", "db02::2", inner,
                                                               hbh=trace, hlim=62)), 8)
    inner_ioam = ioam.icmp_packet("db01::1", "db03::2", hlim=63,
                                  ext=ioam.linux_hbh(ICMP, 123, 0x800000, 8))
    m.add("tunnel_inner_ioam", _ether(me, porthos, ioam.encap_packet(
        "db04::1", "db02::2", inner_ioam, hbh=trace, hlim=62)), 3)
    # In transit with IOAM towards Beta: filled here, stripped at the edge eth1.
    m.add("transit_to_edge", _ether(me, porthos, ioam.icmp_packet(
        "db01::1", "db03::2", hlim=62, ext=ioam.linux_hbh(ICMP, 123, 0x800000, 12))), 3)
    m.add("local_not_tunnel", _ether(me, porthos, ioam.ipv6("db04::1", "db02::2", b"x" * 8,
                                                             nh=59)), 1, "local_delivery")
    m.add("bad_inner", _ether(me, porthos, ioam.encap_packet(
        "db04::1", "db02::2", inner[:20], hbh=trace)), 1, "decap_bad_inner")
    nested = ioam.encap_packet("db04::1", "db02::2", inner)
    m.add("nested_to_us", _ether(me, porthos, ioam.encap_packet(
        "db04::1", "db02::2", nested, hbh=trace)), 1, "decap_nested")
    ce = ioam.encap_packet("db04::1", "db02::2", inner, hbh=trace)
    ce = ce[:1] + bytes([ce[1] | 0x30]) + ce[2:]  # outer ECN CE over a Not-ECT inner
    m.add("ecn_ce_over_not_ect", _ether(me, porthos, ce), 1, "decap_ecn")
    m.add("hbh_truncated", _ether(me, porthos, ioam.ipv6(
        "db04::1", "db03::2", b"\x3a\x00\x01\x00", nh=HOP)), 1, "hbh_truncated")
    m.add("jumbogram", _ether(me, porthos, ioam.ipv6(
        "db04::1", "db03::2", b"", nh=HOP)), 1, "jumbogram")
    return m  # weights: 20


MIXES = {"porthos": _porthos, "athos": _athos, "aramis": _aramis}


def _pcap_header() -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _rss(pid: int) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class FifoWriter(threading.Thread):
    """Feeds the header, then whole blocks until the budget is spent."""

    def __init__(self, path: Path, block: bytes, seconds: float):
        super().__init__(daemon=True)
        self.path, self.block, self.seconds = path, block, seconds
        self.blocks = 0
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            with open(self.path, "wb", buffering=0) as f:  # waits for the reader
                try:  # a deeper pipe rides out a moment without CPU for this thread
                    fcntl.fcntl(f.fileno(), F_SETPIPE_SZ, 1 << 20)
                except OSError:
                    pass
                f.write(_pcap_header())
                deadline = time.monotonic() + self.seconds
                while True:
                    f.write(self.block)
                    self.blocks += 1
                    if time.monotonic() >= deadline:
                        break
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            self.error = exc


@pytest.mark.parametrize("node", list(MIXES))
def test_soak(node, tmp_path):
    exe = pt.binary()
    if not exe.exists():
        pytest.fail(f"ioamfwd binary not found at {exe}")
    mix = MIXES[node]()
    block, drops_per_block, fwd_per_block = mix.block()
    fifo = tmp_path / "IN0.fifo"
    os.mkfifo(fifo)
    empty = tmp_path / "IN1.pcap"
    empty.write_bytes(_pcap_header())
    conf = tmp_path / "CONF.yaml"
    conf.write_text(mix.config)
    stats_path = tmp_path / "STATS.json"
    prefix = f"soak_{node}_{os.getpid()}"
    cmd = [str(exe), "-l", "0-1", "--no-huge", "-m", "512", *pt.eal_memory_args(prefix),
           "--no-pci", "--log-level=lib.eal:error",
           "--vdev", f"net_pcap0,rx_pcap={fifo},tx_pcap=/dev/null",
           "--vdev", f"net_pcap1,rx_pcap={empty},tx_pcap=/dev/null",
           "--", "--config", str(conf), "--idle-exit", str(IDLE_EXIT_MS),
           "--stats-json", str(stats_path)]
    (tmp_path / "cmdline.txt").write_text(" ".join(cmd) + "\n")
    writer = FifoWriter(fifo, block, SECONDS)
    writer.start()
    out = open(tmp_path / "stdout.txt", "w")
    err = open(tmp_path / "stderr.txt", "w")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=out, stderr=err)
    samples: List[Tuple[float, int]] = []
    try:
        while proc.poll() is None:
            if time.monotonic() - started > SECONDS + 120:
                proc.kill()
                pytest.fail(f"{node}: no exit {SECONDS + 120:.0f} s after the start "
                            f"(workdir {tmp_path})")
            r = _rss(proc.pid)
            if r is not None and writer.is_alive():
                samples.append((time.monotonic() - started, r))
            time.sleep(SAMPLE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        out.close()
        err.close()
        writer.join(5)
        shutil.rmtree(Path("/var/run/dpdk") / prefix, ignore_errors=True)
    log = (tmp_path / "stdout.txt").read_text()[-3000:] + (tmp_path / "stderr.txt").read_text()[-3000:]
    assert proc.returncode == 0, f"{node}: exit code {proc.returncode} (workdir {tmp_path})\n{log}"
    assert writer.error is None, f"{node}: the FIFO writer failed: {writer.error!r}\n{log}"
    stats = json.loads(stats_path.read_text())
    blocks = writer.blocks
    assert blocks >= 2, f"{node}: only {blocks} block(s) replayed"

    # Every mbuf back, every packet accounted for, only the expected drops.
    assert stats["mbufs_in_use"] == 0, f"{node}: mbuf leak: {stats['mbufs_in_use']}"
    assert stats["ports"]["eth0"]["rx"] == BLOCK * blocks
    got = {k: v for k, v in stats["drops"].items() if v}
    want = {k: v * blocks for k, v in drops_per_block.items()}
    assert got == want, (f"{node}: drops differ from the mix's ({blocks} blocks)\n"
                         f"got  {got}\nwant {want}")
    tx = sum(p["tx"] for p in stats["ports"].values())
    answers = sum(v for k, v in want.items() if k in ICMP_ANSWERED)
    assert fwd_per_block * blocks <= tx <= fwd_per_block * blocks + answers, (
        f"{node}: {tx} transmitted, expected {fwd_per_block * blocks} forwarded "
        f"+ at most {answers} ICMPv6 errors")

    # Flat memory once warmed up.
    assert len(samples) >= 10, f"{node}: only {len(samples)} RSS samples"
    base_i = int(len(samples) * WARMUP_FRACTION)
    base = samples[base_i][1]
    peak_t, peak = max(samples[base_i:], key=lambda s: s[1])
    series = " ".join(f"{t:.1f}s:{r >> 20}M" for t, r in samples[::max(1, len(samples) // 20)])
    (tmp_path / "rss.txt").write_text("\n".join(f"{t:.2f} {r}" for t, r in samples) + "\n")
    assert peak - base <= RSS_GROWTH_LIMIT, (
        f"{node}: VmRSS grew by {(peak - base) >> 10} KiB after the warm-up "
        f"(baseline {base >> 10} KiB at {samples[base_i][0]:.1f} s, peak at {peak_t:.1f} s; "
        f"limit {RSS_GROWTH_LIMIT >> 10} KiB)\n{series}")
    print(f"{node}: {blocks} x {BLOCK} packets in {samples[-1][0]:.1f} s, "
          f"VmRSS {base >> 20} -> {peak >> 20} MiB")
