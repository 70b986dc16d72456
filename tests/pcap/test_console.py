"""The operator console and live reconfiguration (README "Operator console"):
the three front ends (--cmdline-file, the -i console on a pseudo-terminal,
--control-socket and scripts/ioamctl), each change's effect on the forwarded
packets, telemetry, and a soak of thousands of changes under traffic.

Timing. net_pcap reads its rx capture as fast as the worker polls, so a
change made after start would race a capture replayed from a file. The
tests that change things under traffic therefore feed port 0 through a
FIFO: the test writes packets when it wants them to arrive. The worker
receives in bursts of 32 and a read from an empty FIFO waits for data, so
every segment written is a multiple of 32 packets, and a command is always
followed by packets (the change's grace period ends when the worker has
passed a quiescent point, i.e. received its next burst). A test's own
packets thus tell exactly which were sent before a command, after its
reply, and which were in flight while it was applied.

Run with Debian's /usr/bin/python3 (Scapy); the binary is $IOAMFWD_BIN.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

import ioam_scapy as ioam
import pcaptest as pt

REPO = Path(__file__).resolve().parents[2]
IOAMCTL = REPO / "scripts" / "ioamctl"

# Porthos (seed 002) with a second next hop on eth1 (db02::3) for route
# changes. The route back to Alpha carries the ICMPv6 errors of dropped packets.
CONFIG = """\
node: {id: 2, id_wide: 22222222}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: true, id: 201, id_wide: 201201}
  - name: eth1
    device: net_pcap1
    mac: 02:00:00:00:02:01
    addresses: [db02::1/64]
    ioam: {id: 202, id_wide: 202202}
namespaces:
  - {id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}
schemas:
  - {id: 666, data: "Hello there -Obi"}
routes:
  - {prefix: "db03::/64", port: eth1, via: "db02::2"}
  - {prefix: "db01::/64", port: eth0, via: "db04::1"}
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
  - {address: "db02::3", mac: "02:00:00:00:03:33", port: eth1}
  - {address: "db04::1", mac: "02:00:00:00:01:01", port: eth0}
"""
MAC_DB02_2 = "02:00:00:00:03:00"
MAC_DB02_3 = "02:00:00:00:03:33"

# Node id, interface ids, namespace data, their wide forms and the Opaque
# State Snapshot: every value a change can touch, and nothing time-dependent,
# so that an expected frame is exact.
TYPE24 = 0xC4E002
SIZE = 64
BURST = 32
TIMEOUT = 60

_IDS = itertools.count()


# --- frames -----------------------------------------------------------------------

def frame(tag: int) -> bytes:
    """Athos -> Beta echo request with an empty trace; flow label = tag."""
    hbh = ioam.linux_hbh(ns=123, type24=TYPE24, size=SIZE)
    return pt.inline_frame(hbh, tag=tag)


def expected(frame_bytes: bytes, config_text: str, next_hop_mac: str) -> Optional[bytes]:
    """What the appliance sends on eth1 under `config_text`; None: dropped."""
    prof = pt.profile_for(config_text, frame_bytes)
    res = ioam.expected_frame(frame_bytes, prof, ingress_mac=pt.ETH0_MAC,
                              egress_mac=pt.ETH1_MAC, next_hop_mac=next_hop_mac)
    if res.model.verdict != "forward":
        return None
    assert not res.variables, "the test's trace type must be fully predictable"
    return res.frame


def pcap_record(data: bytes) -> bytes:
    return struct.pack("<IIII", 0, 0, len(data), len(data)) + data


PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def read_frames(path: Path) -> List[bytes]:
    """Frames of a little- or big-endian classic pcap, without Scapy (fast)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if len(data) < 24:
        return []
    # Microsecond or nanosecond magic, in either byte order.
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out, off = [], 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack_from(endian + "IIII", data, off)
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


# --- one appliance process -----------------------------------------------------------

class Node:
    """ioamfwd on two net_pcap ports. Port 0 reads `rx0` (a list of frames
    written to a capture file) or, with rx0=None, a FIFO the test feeds;
    port 1 reads an empty capture. Optional control socket, command file,
    console on a pseudo-terminal."""

    def __init__(self, workdir: Path, config_text: str = CONFIG, *,
                 rx0: Optional[Sequence[bytes]] = None, cmdline_file: str = "",
                 socket_: bool = True, console: bool = False, idle_exit_ms: int = 0,
                 extra: Sequence[str] = (), eal_log: str = "lib.eal:error"):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_text = config_text
        self.conf = workdir / "CONF.yaml"
        self.conf.write_text(config_text)
        self.stats_path = workdir / "STATS.json"
        self.sock_path = workdir / "ctl.sock" if socket_ else None
        self.prefix = f"console_{os.getpid()}_{next(_IDS)}"
        self.fifo = rx0 is None
        rx0_path = workdir / ("IN0.fifo" if self.fifo else "IN0.pcap")
        if self.fifo:
            os.mkfifo(rx0_path)
        else:
            pt.write_pcap(rx0_path, rx0)
        pt.write_pcap(workdir / "IN1.pcap", [])
        cmd = [str(pt.binary()), "-l", "0-1", "--no-huge", "-m", "512",
               *pt.eal_memory_args(self.prefix), "--no-pci", f"--log-level={eal_log}",
               "--vdev", f"net_pcap0,rx_pcap={rx0_path},tx_pcap={workdir / 'OUT0.pcap'}",
               "--vdev", f"net_pcap1,rx_pcap={workdir / 'IN1.pcap'},tx_pcap={workdir / 'OUT1.pcap'}",
               "--", "--config", str(self.conf), "--stats-json", str(self.stats_path)]
        if self.sock_path:
            cmd += ["--control-socket", str(self.sock_path)]
        if cmdline_file:
            batch = workdir / "commands.txt"
            batch.write_text(cmdline_file)
            cmd += ["--cmdline-file", str(batch)]
        if idle_exit_ms:
            cmd += ["--idle-exit", str(idle_exit_ms)]
        if console:
            cmd += ["-i"]
        cmd += list(extra)
        (workdir / "cmdline.txt").write_text(" ".join(cmd) + "\n")
        self.stdout_f = open(workdir / "stdout.txt", "wb")
        self.stderr_f = open(workdir / "stderr.txt", "wb")
        self.master = None
        if console:
            self.master, slave = os.openpty()
            self.proc = subprocess.Popen(cmd, cwd=workdir, stdin=slave, stdout=slave,
                                         stderr=self.stderr_f, close_fds=True)
            os.close(slave)
        else:
            self.proc = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL,
                                         stdout=self.stdout_f, stderr=self.stderr_f)
        self.started = time.time()
        self.feed_fd: Optional[int] = None
        self.sent = 0
        self.tty = b""
        self.sock: Optional[socket.socket] = None
        self.stream = None
        self.returncode: Optional[int] = None
        if self.fifo:
            self._open_feed(rx0_path)

    # The EAL opens the FIFO while probing net_pcap0 and waits for its
    # pcap header; open our end as soon as it is there.
    def _open_feed(self, path: Path) -> None:
        deadline = time.time() + TIMEOUT
        while True:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
            if self.proc.poll() is not None or time.time() > deadline:
                self.fail("ioamfwd did not open its rx FIFO")
            time.sleep(0.01)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        os.write(fd, PCAP_HEADER)
        self.feed_fd = fd

    def feed(self, frames: Sequence[bytes]) -> None:
        assert len(frames) % BURST == 0, "the worker receives whole bursts of 32"
        os.write(self.feed_fd, b"".join(pcap_record(f) for f in frames))
        self.sent += len(frames)

    def feed_raw(self, records: bytes, count: int) -> None:
        os.write(self.feed_fd, records)
        self.sent += count

    def close_feed(self) -> None:
        if self.feed_fd is not None:
            os.close(self.feed_fd)
            self.feed_fd = None

    # --- diagnostics ---------------------------------------------------------------
    def logs(self) -> str:
        for f in (self.stdout_f, self.stderr_f):
            if not f.closed:
                f.flush()
        out = (self.workdir / "stdout.txt").read_text(errors="replace")
        err = (self.workdir / "stderr.txt").read_text(errors="replace")
        tty = self.tty.decode(errors="replace")
        return (f"workdir {self.workdir}\n--- stdout ---\n{out[-4000:]}\n"
                f"--- tty ---\n{tty[-4000:]}\n--- stderr ---\n{err[-6000:]}")

    def fail(self, why: str) -> None:
        self.kill()
        pytest.fail(f"{why}\n{self.logs()}", pytrace=False)

    def kill(self) -> None:
        self.close_feed()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(Path("/var/run/dpdk") / self.prefix, ignore_errors=True)

    # --- control socket ------------------------------------------------------------
    def connect(self) -> None:
        deadline = time.time() + TIMEOUT
        while True:
            if self.sock_path.exists():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(str(self.sock_path))
                    break
                except OSError:
                    s.close()
            if self.proc.poll() is not None or time.time() > deadline:
                self.fail("the control socket did not come up")
            time.sleep(0.02)
        s.settimeout(TIMEOUT)
        self.sock = s
        self.stream = s.makefile("rb")

    def send(self, line: str) -> None:
        if self.sock is None:
            self.connect()
        self.sock.sendall(line.encode() + b"\n")

    def reply(self) -> str:
        lines = []
        while True:
            try:
                raw = self.stream.readline()
            except OSError as exc:
                self.fail(f"no reply from the control socket: {exc}")
            if not raw:
                self.fail("the control socket closed")
            line = raw.decode()
            if line == ".\n":
                return "".join(lines)
            lines.append(line[1:] if line.startswith(".") else line)

    def cmd(self, line: str) -> str:
        self.send(line)
        return self.reply()

    def change_in_flight(self, line: str, make_frame) -> List[bytes]:
        """Sends a command and feeds bursts of `make_frame()` until its reply
        is there (a change completes only once the worker has passed a
        quiescent point, i.e. received a burst). Returns the frames fed."""
        self.send(line)
        flight: List[bytes] = []
        deadline = time.time() + TIMEOUT
        while not select.select([self.sock], [], [], 0.002)[0]:
            if time.time() > deadline:
                self.fail(f"no reply to {line!r}")
            burst = [make_frame() for _ in range(BURST)]
            self.feed(burst)
            flight += burst
        r = self.reply()
        if r:
            self.fail(f"{line!r} was answered {r!r}")
        return flight

    def ok(self, line: str) -> None:
        r = self.cmd(line)
        if r:
            self.fail(f"{line!r} was answered {r!r}")

    def rx(self, port: str = "eth0") -> int:
        text = self.cmd("show port stats")
        m = re.search(rf"port {port} .*?\n(?:.*\n)*?  forwarder rx (\d+)", text)
        assert m, text
        return int(m.group(1))

    def wait_rx(self, n: int, port: str = "eth0") -> None:
        deadline = time.time() + TIMEOUT
        while (got := self.rx(port)) < n:
            if time.time() > deadline:
                self.fail(f"the worker received {got} of {n} packets")
            time.sleep(0.005)
        assert got == n, f"received {got}, more than the {n} sent"

    def generation(self) -> int:
        return int(re.search(r"generation (\d+)", self.cmd("show stats")).group(1))

    # --- console on the pseudo-terminal ---------------------------------------------------
    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def expect(self, pattern: str, timeout: float = 20) -> str:
        """Waits until the terminal output (since the last match) matches
        `pattern`; returns that output and consumes it."""
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.tty.decode(errors="replace"))
            if m:
                text = self.tty.decode(errors="replace")
                self.tty = self.tty[len(text[:m.end()].encode()):]
                return text[:m.end()]
            left = deadline - time.time()
            if left <= 0:
                self.fail(f"the console did not print {pattern!r}")
            r, _, _ = select.select([self.master], [], [], min(left, 0.1))
            if r:
                try:
                    self.tty += os.read(self.master, 65536)
                except OSError:
                    pass

    # --- the end -------------------------------------------------------------------------
    def finish(self, quit_: bool = True, expect_rc: int = 0) -> "Finished":
        self.close_feed()
        if quit_ and self.proc.poll() is None:
            if self.sock is not None or self.sock_path:
                r = self.cmd("quit")
                assert r == "bye\n", r
        try:
            self.returncode = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"ioamfwd did not exit within {TIMEOUT} s")
        if self.master is not None:
            try:
                while select.select([self.master], [], [], 0.05)[0]:
                    self.tty += os.read(self.master, 65536)
            except OSError:
                pass
            os.close(self.master)
            self.master = None
        if self.sock is not None:
            self.sock.close()
        shutil.rmtree(Path("/var/run/dpdk") / self.prefix, ignore_errors=True)
        self.stdout_f.close()
        self.stderr_f.close()
        if self.returncode != expect_rc:
            pytest.fail(f"ioamfwd exited with {self.returncode}, expected {expect_rc}\n"
                        f"{self.logs()}", pytrace=False)
        stats = {}
        if expect_rc == 0:
            stats = json.loads(self.stats_path.read_text())
            assert stats["mbufs_in_use"] == 0, f"mbuf leak\n{self.logs()}"
        return Finished(self, stats)


class Finished:
    def __init__(self, node: Node, stats: dict):
        self.node = node
        self.stats = stats
        self.out1 = read_frames(node.workdir / "OUT1.pcap")
        self.stderr = (node.workdir / "stderr.txt").read_text(errors="replace")
        self.stdout = (node.workdir / "stdout.txt").read_text(errors="replace")
        self.run = pt.RunResult({1: self.out1}, stats, node.started, time.time(),
                                node.workdir, self.stdout, self.stderr, node.sent)

    def drops(self) -> Dict[str, int]:
        return {k: v for k, v in self.stats.get("drops", {}).items() if v}


@pytest.fixture
def nodes(tmp_path):
    """Makes Node objects in this test's directory and kills leftovers."""
    made: List[Node] = []

    def _make(name: str = "run", **kw) -> Node:
        n = Node(tmp_path / f"{name}{len(made)}", **kw)
        made.append(n)
        return n
    yield _make
    for n in made:
        n.kill()


def with_values(text: str, **subs: str) -> str:
    """CONFIG with some lines replaced: key -> (old, new) pairs in order."""
    for old, new in subs.values():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# --- --cmdline-file ----------------------------------------------------------------------------

BATCH = """\
# Start-up commands: applied before the first packet is received.
ioam namespace set 123 data 0x11111111 wide 2222222222222222
set node id 77
set node id_wide 0x77777777
set port eth0 ioam id 501 id_wide 501501
ioam schema add 5 "abcdefg"
ioam namespace set 123 schema 5
route replace db03::/64 via db02::3 port eth1
ioam namespace show
"""

BATCH_CONFIG = with_values(
    CONFIG,
    node=("node: {id: 2, id_wide: 22222222}", "node: {id: 77, id_wide: 0x77777777}"),
    port=("ioam: {enabled: true, id: 201, id_wide: 201201}",
          "ioam: {enabled: true, id: 501, id_wide: 501501}"),
    ns=("{id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}",
        "{id: 123, data: 0x11111111, wide: 0x2222222222222222, schema: 5}"),
    schema=('  - {id: 666, data: "Hello there -Obi"}',
            '  - {id: 666, data: "Hello there -Obi"}\n  - {id: 5, data: "abcdefg"}'),
    route=('via: "db02::2"}', 'via: "db02::3"}'),
)


def test_cmdline_file_applies_before_the_first_packet(nodes):
    frames = [frame(i) for i in range(64)]
    node = nodes(rx0=frames, cmdline_file=BATCH, socket_=False, idle_exit_ms=300)
    done = node.finish(quit_=False)
    assert "namespace 123 [schema 5], data 0x11111111, wide 0x2222222222222222" in done.stdout
    assert len(done.out1) == len(frames), done.node.logs()
    for f, out in zip(frames, done.out1):
        want = expected(f, BATCH_CONFIG, MAC_DB02_3)
        pt.assert_frame(out, ioam.FrameResult(None, want, []), done.run, "batch")
    assert done.drops() == {}


def test_cmdline_file_error_stops_before_forwarding(nodes):
    batch = "ioam namespace add 7\n\n# the next line is refused\nroute add db05::/64 port eth9\nset node id 1\n"
    node = nodes(rx0=[frame(i) for i in range(32)], cmdline_file=batch, socket_=False,
                 idle_exit_ms=300)
    done = node.finish(quit_=False, expect_rc=1)
    batch_file = node.workdir / "commands.txt"
    assert f"{batch_file}:4: error: no port named 'eth9' (ports: eth0, eth1)" in done.stderr
    assert done.out1 == [] and read_frames(node.workdir / "OUT0.pcap") == []


def test_cmdline_file_quit_exits_cleanly_without_forwarding(nodes):
    node = nodes(rx0=[frame(i) for i in range(32)], cmdline_file="show stats\nquit\nbogus\n",
                 socket_=False)
    done = node.finish(quit_=False)
    assert "forwarding on, configuration generation 1" in done.stdout
    assert done.stats["ports"]["eth0"]["rx"] == 0 and done.out1 == []


# --- the console on a pseudo-terminal --------------------------------------------------------------

def test_console_on_a_pty(nodes):
    frames = [frame(i) for i in range(64)]
    # Forwarding starts stopped (the batch), so the capture waits for `start`.
    node = nodes(rx0=frames, cmdline_file="stop\n", socket_=False, console=True)
    node.expect(r"ioamfwd> ")
    node.type("sho\t")                                        # TAB completes the first word
    node.expect(r"show ")
    node.type("st\t\n")                                       # ... and the next one
    node.expect(r"forwarding off, configuration generation 1")
    node.expect(r"ioamfwd> ")
    node.type("ioam namespace set 123 data 0x12345678 wide abcdef\n")
    node.expect(r"ioamfwd> ")
    node.type("\x1b[A")                                       # history: the last line back
    node.expect(r"ioam namespace set 123 data 0x12345678 wide abcdef")
    node.type("\n")
    node.expect(r"ioamfwd> ")
    node.type("ioam namespace add 123\n")
    node.expect(r"error: namespace 123 already exists \(EEXIST\)")
    node.type("route add db05::/64 port eth1 encap ioam6 mode encap trace prealloc type 0x800000 ns 1 size 4\n")
    node.expect(r"error: routes\[2\]\.encap\.tundst is required with mode encap")
    node.type("bogus words\n")
    node.expect(r"error: unknown command 'bogus'; type help for the list")
    node.type("help route\n")
    node.expect(r"route del PREFIX \[via ADDR\] \[port PORT\]")
    node.type("show stats\n")
    node.expect(r"forwarding off, configuration generation 3")  # 2 changes, errors none
    node.type("start\n")
    node.expect(r"forwarding started")
    deadline = time.time() + TIMEOUT
    while True:
        node.type("show stats\n")
        text = node.expect(r"lcore \d+ +rx +\d+")
        if re.search(r"lcore \d+ +rx +64\b", text):
            break
        if time.time() > deadline:
            node.fail("the capture was not received after start")
        time.sleep(0.05)
    node.type("quit\n")
    node.expect(r"bye")
    done = node.finish(quit_=False)
    new = with_values(CONFIG, ns=("data: 0xdeadbee1, wide: 0xcafec0caf11dc0de",
                                  "data: 0x12345678, wide: 0xabcdef"))
    assert len(done.out1) == 64, node.logs()
    for f, out in zip(frames, done.out1):
        pt.assert_frame(out, ioam.FrameResult(None, expected(f, new, MAC_DB02_2), []),
                        done.run, "console")


def test_console_end_of_input_stops(nodes):
    node = nodes(rx0=[], socket_=False, console=True)
    node.expect(r"ioamfwd> ")
    node.type("\x04")                                         # Ctrl-D on an empty line
    done = node.finish(quit_=False)
    assert "console closed: stopping" in done.stderr


# --- the control socket: changes land between packets ------------------------------------------------

# Each step: the command(s), the configuration (YAML) that must then be in
# force, and the next hop's MAC. Written independently of the appliance.
STEPS = []


def _steps():
    cfg = CONFIG
    mac = MAC_DB02_2
    out = [("initial", [], cfg, mac)]

    def step(name, cmds, mac_=None, **subs):
        nonlocal cfg, mac
        cfg = with_values(cfg, **subs) if subs else cfg
        mac = mac_ or mac
        out.append((name, cmds, cfg, mac))

    step("namespace data and wide together",
         ["ioam namespace set 123 data 0x11111111 wide 2222222222222222"],
         ns=("data: 0xdeadbee1, wide: 0xcafec0caf11dc0de",
             "data: 0x11111111, wide: 0x2222222222222222"))
    step("node id", ["set node id 77"], node=("{id: 2,", "{id: 77,"))
    step("node id_wide", ["set node id_wide 0x77777777"],
         node=("id_wide: 22222222}", "id_wide: 0x77777777}"))
    step("ingress port ids", ["set port eth0 ioam id 501 id_wide 501501"],
         port=("id: 201, id_wide: 201201", "id: 501, id_wide: 501501"))
    step("egress port id", ["set port eth1 ioam id 502"], port=("{id: 202,", "{id: 502,"))
    step("unused schema", ['ioam schema add 5 "abcdefg"'],
         schema=('{id: 666, data: "Hello there -Obi"}',
                 '{id: 666, data: "Hello there -Obi"}\n  - {id: 5, data: "abcdefg"}'))
    step("schema bound", ["ioam namespace set 123 schema 5"],
         ns=("schema: 666}", "schema: 5}"))
    step("route replaced", ["route replace db03::/64 via db02::3 port eth1"], MAC_DB02_3,
         route=('via: "db02::2"}', 'via: "db02::3"}'))
    step("ioam disabled", ["set port eth0 ioam enabled off"],
         port=("enabled: true, id: 501", "enabled: false, id: 501"))
    step("ioam enabled", ["set port eth0 ioam enabled on"],
         port=("enabled: false, id: 501", "enabled: true, id: 501"))
    step("namespace deleted", ["ioam namespace del 123"],
         ns=("namespaces:\n  - {id: 123, data: 0x11111111, wide: 0x2222222222222222, schema: 5}\n",
             "namespaces: []\n"))
    step("namespace added", ["ioam namespace add 123 data 0x33333333 wide 4444"],
         ns=("namespaces: []\n", "namespaces:\n  - {id: 123, data: 0x33333333, wide: 0x4444}\n"))
    step("route deleted", ["route del db03::/64"],
         route=('  - {prefix: "db03::/64", port: eth1, via: "db02::3"}\n', ""))
    step("route added", ["route add db03::/64 via db02::2 port eth1"], MAC_DB02_2,
         route=("routes:\n", 'routes:\n  - {prefix: "db03::/64", port: eth1, via: "db02::2"}\n'))
    return out


STEPS = _steps()
SEGMENT = 2 * BURST   # packets per stable segment


def _classify(frames_in, outputs: Dict[int, bytes], candidates) -> List[set]:
    """For each input frame, the candidate states (indexes) whose expected
    output (None = dropped) it matches."""
    sets = []
    for f in frames_in:
        tag = pt.frame_tag(f)
        got = outputs.get(tag)
        sets.append({i for i, exp in candidates if exp(f) == got})
    return sets


def test_socket_changes_land_between_packets(nodes):
    """Every command's effect, in forwarded packets: the packets sent before
    a command are forwarded under the old configuration, those sent after
    its reply under the new one, and the ones in flight under one or the
    other, switching once. The appliance's `show config` agrees with the
    independently written expectation at every step."""
    node = nodes(rx0=None, extra=["--stats-interval", "1"])
    tags = itertools.count()
    segments = []   # (kind, step index, frames)
    for i, (name, cmds, cfg, _mac) in enumerate(STEPS):
        if cmds:
            assert len(cmds) == 1
            flight = node.change_in_flight(cmds[0], lambda: frame(next(tags)))
            segments.append(("flight", i, flight))
        shown = pt.load_config(node.cmd("show config"))
        want = pt.load_config(cfg)
        for key in ("node", "namespaces", "schemas", "routes"):
            assert _norm(shown.get(key)) == _norm(want.get(key)), f"{name}: {key}"
        stable = [frame(next(tags)) for _ in range(SEGMENT)]
        node.feed(stable)
        node.wait_rx(node.sent)
        segments.append(("stable", i, stable))
    time.sleep(1.1)   # one --stats-interval line at least
    done = node.finish()

    outputs = {pt.frame_tag(f): f for f in done.out1}
    assert len(outputs) == len(done.out1), "a tag was sent twice"

    def exp_fn(i):
        _n, _c, cfg, mac = STEPS[i]
        return lambda f: expected(f, cfg, mac)

    dropped = 0
    for kind, i, frames_in in segments:
        name = STEPS[i][0]
        if kind == "stable":
            sets = _classify(frames_in, outputs, [(i, exp_fn(i))])
            bad = [pt.frame_tag(f) for f, s in zip(frames_in, sets) if i not in s]
            assert not bad, f"{name}: packets {bad[:5]} not forwarded as configured"
        else:
            sets = _classify(frames_in, outputs, [(i - 1, exp_fn(i - 1)), (i, exp_fn(i))])
            state = i - 1
            for f, s in zip(frames_in, sets):
                assert s, f"{name}: packet {pt.frame_tag(f)} matches neither configuration"
                if state not in s:
                    assert state == i - 1 and i in s, f"{name}: switched back"
                    state = i
        dropped += sum(1 for f in frames_in if pt.frame_tag(f) not in outputs)
    assert done.stats["ports"]["eth0"]["rx"] == node.sent
    assert done.drops() == ({"no_route": dropped} if dropped else {}), done.drops()
    assert dropped >= SEGMENT, "the route-deleted step drops its stable segment"
    assert len(done.out1) + dropped == node.sent
    assert re.search(r"info stats: eth0 rx \d+ pps tx \d+ pps \| eth1 rx", done.stderr)


def _norm(v):
    """YAML values as plain data for comparison (ints stay ints, lists as lists)."""
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return sorted((_norm(x) for x in v), key=repr)
    return [] if v is None else v   # an empty section is left out or written []


# --- the control socket: refusals, round trips, protocol, telemetry, ioamctl ----------------------------

INVALID = [
    ("ioam namespace add 123", "error: namespace 123 already exists (EEXIST)"),
    ("ioam namespace del 9", "error: namespace 9 does not exist (ENOENT)"),
    ("ioam namespace set 123 schema 9", "error: schema 9 does not exist (ENOENT)"),
    ("ioam schema add 666 x", "error: schema 666 already exists (EEXIST)"),
    ("ioam schema del 9", "error: schema 9 does not exist (ENOENT)"),
    ("set node id 0x1000000", "error: node id: 0x1000000 is out of range 0..0xFFFFFF"),
    ("set port eth0 mtu 9000", "error: 'mtu' cannot be set on a running port"),
    ("set port eth7 ioam enabled on", "error: no port named 'eth7' (ports: eth0, eth1)"),
    ("route add db03::/64 via db02::2 port eth1", "error: a route to db03::/64 already exists (EEXIST)"),
    ("route add db05::1/64 port eth1", "error: db05::1/64 has host bits set; the network is db05::/64"),
    ("route add db05::/64 port eth1 encap ioam6 trace prealloc type 0x000800 ns 1 size 4",
     "error: routes[2].encap.trace.type: 0x000800 sets bit 12"),
    ("route add db05::/64 port eth1 encap ioam6 trace prealloc type 0x800000 ns 1 size 246",
     "error: routes[2].encap.trace.size: 246 must be a multiple of 4 from 4 to 244"),
    ("route del db09::/64", "error: no route to db09::/64 (ESRCH)"),
    ("neigh add db02::2 lladdr 02:00:00:00:03:00 port eth1",
     "error: neighbor db02::2 on port eth1 already exists (EEXIST)"),
    ("neigh del db02::9 port eth1", "error: no neighbor db02::9 on port eth1 (ENOENT)"),
    ("show port xstats eth9", "error: no port named 'eth9'"),
    ("frobnicate", "error: unknown command 'frobnicate'; type help for the list"),
    ("ioam schema add 1 \"unterminated", "error: unterminated \" quote"),
]


def test_invalid_commands_change_nothing(nodes):
    node = nodes(rx0=None)
    before = node.cmd("show config")
    gen = node.generation()
    for line, want in INVALID:
        reply = node.cmd(line)
        assert reply.startswith(want) and reply.count("\n") == 1, (line, reply)
    assert node.cmd("show config") == before
    assert node.generation() == gen
    # Still forwarding with the configuration it had.
    frames = [frame(i) for i in range(BURST)]
    node.feed(frames)
    node.wait_rx(BURST)
    done = node.finish()
    for f, out in zip(frames, done.out1):
        pt.assert_frame(out, ioam.FrameResult(None, expected(f, CONFIG, MAC_DB02_2), []),
                        done.run, "after refusals")


def test_save_config_reload_round_trip(nodes):
    node = nodes(rx0=[])
    for c in ["ioam namespace add 7 data 7 wide 7", 'ioam schema add 9 "two words"',
              "ioam namespace set 7 schema 9", "set node id 99",
              "route add db05::/64 via db02::3 port eth1 encap ioam6 freq 1/3 mode encap "
              "tundst db02::3 trace prealloc type 0xfff002 ns 7 size 244",
              "neigh add db02::4 lladdr 02:00:00:00:03:44 port eth1"]:
        node.ok(c)
    changed = node.cmd("show config")
    saved = node.workdir / "saved.yaml"
    assert node.cmd(f"save config {saved}") == f"configuration saved to {saved}\n"
    # Back to the start-up file, then to the saved one: the same state again.
    r = node.cmd(f"reload {node.conf}")
    assert r.startswith(f"configuration reloaded from {node.conf}"), r
    assert node.cmd("show config") != changed
    r = node.cmd(f"reload {saved}")
    assert r.startswith(f"configuration reloaded from {saved}"), r
    assert node.cmd("show config") == changed
    # A reload that is refused keeps the running configuration.
    bad = node.workdir / "bad.yaml"
    bad.write_text(CONFIG.replace("node: {id: 2,", "node: {id: 0x1000000,"))
    r = node.cmd(f"reload {bad}")
    assert r.startswith(f"error: reload refused, running configuration kept: {bad}:1:"), r
    ports = node.workdir / "ports.yaml"
    ports.write_text(CONFIG.replace("mac: 02:00:00:00:02:01", "mac: 02:00:00:00:02:99"))
    r = node.cmd(f"reload {ports}")
    assert "port eth1 changed its name, device, MTU, MAC or rx_queues (restart required)" \
        in r, r
    # Queues and their lcores are handed to the workers once, at start.
    queues = node.workdir / "queues.yaml"
    queues.write_text(CONFIG.replace("    device: net_pcap0\n",
                                     "    device: net_pcap0\n    rx_queues: 2\n"))
    r = node.cmd(f"reload {queues}")
    assert "port eth0 changed its name, device, MTU, MAC or rx_queues (restart required)" \
        in r, r
    lcores = node.workdir / "lcores.yaml"
    lcores.write_text(CONFIG + "lcores:\n  - {lcore: 1, rx: [{port: eth0, queue: 0}, "
                               "{port: eth1, queue: 0}]}\n")
    r = node.cmd(f"reload {lcores}")
    assert "lcores (which lcore polls which rx queue) changed (restart required)" in r, r
    assert node.cmd("show config") == changed
    # SIGHUP reads the file `reload FILE` named last.
    node.ok("set node id 5")
    node.proc.send_signal(1)
    deadline = time.time() + TIMEOUT
    while node.cmd("show config") != changed:
        assert time.time() < deadline, "SIGHUP did not reload the saved file"
        time.sleep(0.02)
    node.finish()


def test_rx_config_option_survives_reload(nodes):
    """--rx-config replaces lcores: in every configuration applied, so a reload
    of the start-up file (which has no lcores:) is not a restart-needing change."""
    node = nodes(rx0=[], extra=["--rx-config", "(eth1,0,1),(eth0,0,1)"])
    assert "lcores:\n  - lcore: 1\n    rx: [{port: eth1, queue: 0}, {port: eth0, queue: 0}]" \
        in node.cmd("show config")
    r = node.cmd(f"reload {node.conf}")
    assert r.startswith(f"configuration reloaded from {node.conf}"), r
    node.finish()


def test_socket_protocol_and_ioamctl(nodes):
    node = nodes(rx0=[])
    node.connect()
    assert oct(node.sock_path.stat().st_mode & 0o777) == "0o600"
    # Several commands in one write: one reply each, in order.
    node.sock.sendall(b"ioam namespace show\r\nfrob\n\nstop\n")
    assert node.reply() == "namespace 123 [schema 666], data 0xdeadbee1, wide 0xcafec0caf11dc0de\n"
    assert node.reply().startswith("error: unknown command 'frob'")
    assert node.reply() == ""
    assert node.reply() == "forwarding stopped\n"
    # Many pipelined commands (the server runs a bounded number per round).
    node.sock.sendall(b"neigh show\n" * 500)
    for _ in range(500):
        assert node.reply().startswith("db02::2 lladdr")
    # A line that never ends is refused and the connection closed.
    s2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s2.settimeout(TIMEOUT)
    s2.connect(str(node.sock_path))
    try:
        s2.sendall(b"x" * (70 * 1024))
    except OSError:
        pass
    got = b""
    try:
        while chunk := s2.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass   # closed with some of our octets unread: the reply may be cut
    s2.close()
    assert b"error: command line longer than 65536 octets\n.\n".startswith(got), got
    assert node.cmd("neigh show").startswith("db02::2"), "the other client is still served"
    # scripts/ioamctl: replies in order, exit status 1 when one was refused.
    ctl = subprocess.run(["/usr/bin/python3", str(IOAMCTL), str(node.sock_path),
                          "start", "neigh show"], capture_output=True, text=True, timeout=TIMEOUT)
    assert ctl.returncode == 0, ctl.stderr
    assert ctl.stdout.startswith("forwarding started\ndb02::2 lladdr 02:00:00:00:03:00 port eth1\n")
    ctl = subprocess.run(["/usr/bin/python3", str(IOAMCTL), str(node.sock_path)],
                         input="route show\nroute del db77::/64\n", capture_output=True,
                         text=True, timeout=TIMEOUT)
    assert ctl.returncode == 1
    assert "db03::/64 via db02::2 port eth1\n" in ctl.stdout
    assert ctl.stdout.endswith("error: no route to db77::/64 (ESRCH)\n")
    ctl = subprocess.run(["/usr/bin/python3", str(IOAMCTL), str(node.workdir / "nothere.sock"),
                          "show stats"], capture_output=True, text=True, timeout=TIMEOUT)
    assert ctl.returncode == 2
    # A second appliance cannot take a live socket.
    other = subprocess.run(
        [str(pt.binary()), "-l", "0-1", "--no-huge", "-m", "512",
         *pt.eal_memory_args(node.prefix + "b"), "--no-pci", "--log-level=lib.eal:error",
         "--vdev", f"net_pcap0,rx_pcap={node.workdir / 'IN1.pcap'}",
         "--vdev", f"net_pcap1,rx_pcap={node.workdir / 'IN1.pcap'}",
         "--", "--config", str(node.conf), "--control-socket", str(node.sock_path)],
        capture_output=True, text=True, timeout=TIMEOUT)
    shutil.rmtree(Path("/var/run/dpdk") / (node.prefix + "b"), ignore_errors=True)
    assert other.returncode == 1 and "another process is serving it" in other.stderr
    node.finish()
    assert not node.sock_path.exists(), "the socket file is removed at exit"


def telemetry(prefix: str, command: str) -> dict:
    tool = shutil.which("dpdk-telemetry.py")
    if not tool:
        pytest.skip("dpdk-telemetry.py is not installed")
    out = subprocess.run([tool, "-f", prefix], input=command + "\n", capture_output=True,
                         text=True, timeout=TIMEOUT)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)[command.split(",")[0]]
    raise AssertionError(f"no reply to {command}: {out.stdout} {out.stderr}")


def test_telemetry_endpoints_and_log_bridge(nodes):
    frames = [frame(i) for i in range(BURST)]
    node = nodes(rx0=frames, cmdline_file="ioam namespace add 7 data 1\n", eal_log="lib.eal:info")
    node.wait_rx(BURST)
    stats = telemetry(node.prefix, "/ioamfwd/stats")
    assert stats["rx"] == BURST and stats["tx"] == BURST and stats["generation"] == 2
    assert stats["drops"]["no_route"] == 0 and stats["ioam"]["ioam_filled"] == BURST
    assert stats["icmp"]["icmp_unreachable"] == 0
    ports = telemetry(node.prefix, "/ioamfwd/ports")
    assert ports["eth0"]["rx"] == BURST and ports["eth0"]["device"] == "net_pcap0"
    assert ports["eth1"]["tx"] == BURST and ports["eth1"]["opackets"] == BURST
    nss = telemetry(node.prefix, "/ioamfwd/namespaces")
    assert nss["123"] == {"id": 123, "data": "0xdeadbee1", "wide": "0xcafec0caf11dc0de",
                          "schema": 666, "schema_octets": 16}
    assert nss["7"]["data"] == "0x00000001"
    routes = telemetry(node.prefix, "/ioamfwd/routes")
    assert routes["0"] == {"prefix": "db03::/64", "port": "eth1", "kind": "static",
                           "via": "db02::2"}
    assert routes["2"]["kind"] == "connected"
    assert list(telemetry(node.prefix, "/ioamfwd/routes,3")) == ["3"]
    lcores = telemetry(node.prefix, "/ioamfwd/lcores")
    assert lcores["lcore1"]["rx"] == BURST and lcores["lcore1"]["tx"] == BURST
    assert lcores["lcore1"]["port0_q0"] == BURST and lcores["lcore1"]["port1_q0"] == 0
    assert f"rx by queue: eth0/0 {BURST} eth1/0 0" in node.cmd("show stats")
    # clear stats restarts the console's view, not the telemetry totals.
    node.cmd("clear stats")
    assert "total     rx            0" in node.cmd("show stats")
    assert telemetry(node.prefix, "/ioamfwd/stats")["rx"] == BURST
    done = node.finish()
    # DPDK's own log comes out through spdlog, in its format.
    assert re.search(r"^\d{4}-\d\d-\d\dT[\d:.]+ \S*info\S* EAL: ", done.stderr, re.M), done.stderr


# --- soak: thousands of changes under traffic ----------------------------------------------------------

SOAK_SECONDS = float(os.environ.get("IOAMFWD_SOAK_SECONDS", "20"))
SOAK_TARGET = int(os.environ.get("IOAMFWD_SOAK_CHANGES", "3000"))
PAIR_A = (0x0A0A0A0A, 0xA0A0A0A0A0A0A0A0)
PAIR_B = (0x0B0B0B0B, 0xB0B0B0B0B0B0B0B0)


def test_soak_changes_under_traffic(nodes):
    """Namespaces and routes change thousands of times through the socket
    while packets stream in. Every packet must leave as one consistent
    configuration wrote it: its namespace data and wide data one pair or
    the other (never one of each), its next hop one of the two routes, every
    other octet exact; and nothing is lost (received = sent, forwarded =
    received, no drop)."""
    base = with_values(CONFIG, ns=("data: 0xdeadbee1, wide: 0xcafec0caf11dc0de",
                                   f"data: {PAIR_A[0]:#x}, wide: {PAIR_A[1]:#x}"))
    node = nodes(config_text=base, rx0=None)
    node.connect()

    # Frames that differ only in the flow label, so that the expected output
    # of each configuration is one template (flow label masked).
    hbh = ioam.linux_hbh(ns=123, type24=TYPE24, size=SIZE)
    proto = ioam.ether(pt.ETH0_MAC, pt.ATHOS_MAC,
                       ioam.icmp_packet(pt.ALPHA, pt.BETA_RX, ext=hbh, seq=1))

    def with_tag(f: bytes, tag: int) -> bytes:
        b = bytearray(f)
        word = struct.unpack_from("!I", b, 14)[0] & ~0xFFFFF | (tag & 0xFFFFF)
        struct.pack_into("!I", b, 14, word)
        return bytes(b)

    templates = {}
    for pair in (PAIR_A, PAIR_B):
        for via, mac in (("db02::2", MAC_DB02_2), ("db02::3", MAC_DB02_3)):
            cfg = with_values(base, ns=(f"data: {PAIR_A[0]:#x}, wide: {PAIR_A[1]:#x}",
                                        f"data: {pair[0]:#x}, wide: {pair[1]:#x}"),
                              route=('via: "db02::2"}', f'via: "{via}"}}'))
            templates[with_tag(expected(proto, cfg, mac), 0)] = (pair, mac)
    assert len(templates) == 4

    stop = threading.Event()
    errors: List[str] = []

    def feeder():
        # 32 packets per write, paced at ~10 k packets/s.
        tag = 0
        try:
            while not stop.is_set():
                chunk = b"".join(pcap_record(with_tag(proto, tag + k)) for k in range(BURST))
                node.feed_raw(chunk, BURST)
                tag += BURST
                time.sleep(0.003)
        except OSError as exc:
            errors.append(f"feeder: {exc}")

    reload_file = node.workdir / "pair_a.yaml"
    reload_file.write_text(base)
    cycle = [
        f"ioam namespace set 123 data {PAIR_B[0]:#x} wide {PAIR_B[1]:x}",
        "route replace db03::/64 via db02::3 port eth1",
        f"ioam namespace set 123 data {PAIR_A[0]:#x} wide {PAIR_A[1]:x}",
        "route replace db03::/64 via db02::2 port eth1",
        "ioam namespace add 124 data 1",
        "ioam namespace del 124",
    ]
    thread = threading.Thread(target=feeder, daemon=True)
    thread.start()
    changes = 0
    started = time.time()
    try:
        while changes < SOAK_TARGET and time.time() - started < SOAK_SECONDS:
            for c in cycle:
                r = node.cmd(c)
                assert r == "", (c, r)
                changes += 1
            if changes % 60 == 0:   # now and then the whole file, in one snapshot
                assert node.cmd(f"reload {reload_file}").startswith("configuration reloaded")
                changes += 1
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    gen = node.generation()
    node.close_feed()
    node.wait_rx(node.sent)
    done = node.finish()
    elapsed = time.time() - started
    print(f"soak: {changes} changes (generation {gen}) and {node.sent} packets in {elapsed:.1f} s")

    assert gen == changes + 1
    assert done.stats["ports"]["eth0"]["rx"] == node.sent
    assert done.drops() == {}, done.drops()
    assert len(done.out1) == node.sent, "lost packets"
    seen: Dict[tuple, int] = {}
    tags = set()
    for out in done.out1:
        tag = pt.frame_tag(out)
        tags.add(tag)
        key = templates.get(with_tag(out, 0))
        assert key is not None, (f"packet {tag} is not one configuration's output:\n"
                                 f"{out.hex()}")
        seen[key] = seen.get(key, 0) + 1
    assert len(tags) == node.sent
    assert changes >= 100, f"only {changes} changes in {SOAK_SECONDS} s"
    assert len(seen) >= 2, f"the changes never showed in the packets: {seen}"
