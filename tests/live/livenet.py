"""Harness for the live tests: ioamfwd forwarding between network namespaces.

A ``Lab`` owns everything one test (or one module) builds: network
namespaces, veth pairs between them, Linux hosts with addresses and routes,
and ioamfwd processes.  Every ioamfwd runs inside its own "router" namespace
(``ip netns exec <ns> build/ioamfwd ...``) on ``net_af_packet`` ports bound
to the veth ends that live there:

    host netns "h1"                 router netns "rtr"               host netns "h2"
    eth0 db01::1/64  <-- veth -->  p0  [ioamfwd eth0 | eth1]  p1  <-- veth -->  eth0 db02::1/64
    default via db01::2            (net_af_packet0)  (net_af_packet1)          default via db02::2

* The appliance-side veth ends have IPv6 disabled, so the kernel of the
  router namespace never answers, solicits or forwards anything on them:
  whatever comes back is ioamfwd's.
* Host veths have tx checksum offload turned off (``ethtool -K eth0 tx
  off``): af_packet hands ioamfwd the frame as the kernel built it, and with
  offload on TCP/UDP checksums would still be partial.
* Hosts use ``nodad`` addresses and accept_dad=0, so addresses are usable at
  once; ``static_neighbors`` adds permanent neighbour entries on both sides
  (the appliance's ``neighbors:`` and ``ip -6 neigh ... nud permanent`` on
  the hosts), the alternative being Neighbor Discovery.

Names carry the pid and a counter, so concurrent runs never collide.  The
lab is torn down on every exit path: ``with`` exit, exceptions, Ctrl-C,
SIGTERM (turned into KeyboardInterrupt while a lab exists) and interpreter
exit.  ioamfwd processes are stopped before their namespaces are deleted (a
running process would keep a deleted namespace and its veths alive).

Requires root, iproute2, network namespaces, veth and DPDK's net_af_packet
PMD; ``probe()`` says why not when something is missing.
"""

from __future__ import annotations

import atexit
import dataclasses
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
PY = "/usr/bin/python3"          # Debian's python, the one with Scapy
HERE = Path(__file__).resolve().parent

_counter = itertools.count()
_live: "set[Lab]" = set()
_lock = threading.Lock()


class LiveUnavailable(RuntimeError):
    """This machine cannot run live tests (reason in the message)."""


def binary() -> Path:
    return Path(os.environ.get("IOAMFWD_BIN", REPO / "build" / "ioamfwd"))


def run(argv: Sequence[str], check: bool = True, timeout: float = 30.0,
        stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), input=stdin, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): "
                           f"{' '.join(argv)}\nstdout:\n{proc.stdout}\n"
                           f"stderr:\n{proc.stderr}")
    return proc


# ---------------------------------------------------------------------------
# what the machine must have

_probe_result: Optional[str] = None
_probed = False


def probe() -> Optional[str]:
    """None if live tests can run here, else the reason why not (cached)."""
    global _probe_result, _probed
    if not _probed:
        _probe_result = _probe()
        _probed = True
    return _probe_result


def _probe() -> Optional[str]:
    if os.geteuid() != 0:
        return "not root (network namespaces, veth and af_packet need root)"
    for tool in ("ip", "sysctl", "ethtool", "ping"):
        if shutil.which(tool) is None:
            return (f"'{tool}' not found (scripts/setup.sh installs iproute2, "
                    "procps, ethtool and iputils-ping)")
    if not binary().exists():
        return (f"ioamfwd binary not found at {binary()} (build it or set "
                "IOAMFWD_BIN)")
    ns = f"iolive-probe-{os.getpid()}"
    try:
        proc = run(["ip", "netns", "add", ns], check=False)
        if proc.returncode != 0:
            return f"cannot create a network namespace: {proc.stderr.strip()}"
        proc = run(["ip", "-n", ns, "link", "add", "name", "va", "type",
                    "veth", "peer", "name", "vb"], check=False)
        if proc.returncode != 0:
            return f"cannot create a veth pair: {proc.stderr.strip()}"
        try:
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
        except OSError as e:
            return f"AF_PACKET sockets unavailable: {e}"
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                       timeout=30)
    return None


def cpus() -> List[int]:
    return sorted(os.sched_getaffinity(0))


def lcore_map(index: int, workers: int = 1) -> str:
    """EAL ``--lcores`` for the index-th appliance of a lab: the control
    lcore 0 and worker lcores 1..workers, spread over the CPUs so that the
    first worker is not on the control lcore's CPU and the workers of
    consecutive appliances sit on different CPUs (they poll)."""
    c = cpus()
    ctl = c[index % len(c)]
    parts = [f"0@{ctl}"]
    for w in range(1, workers + 1):
        parts.append(f"{w}@{c[(index + w) % len(c)]}")
    return ",".join(parts)


# Workers nap this long after 64 empty polls (--idle-sleep-us): the live
# tests share a small machine, and several appliances share its CPUs.
IDLE_SLEEP_US = 100


# ---------------------------------------------------------------------------
# ping

@dataclasses.dataclass
class PingResult:
    argv: List[str]
    rc: int
    out: str
    transmitted: int
    received: int
    errors: List[str]          # "From ADDR icmp_seq=N <message>" lines

    def describe(self) -> str:
        return f"$ {' '.join(self.argv)}  (exit {self.rc})\n{self.out}"


_STATS_RE = re.compile(r"(\d+) packets transmitted, (\d+) received")


def parse_ping(argv: List[str], proc: subprocess.CompletedProcess) -> PingResult:
    out = proc.stdout + proc.stderr
    m = _STATS_RE.search(out)
    tx, rx = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    errors = [ln.strip() for ln in out.splitlines()
              if ln.startswith("From ")]
    return PingResult(argv, proc.returncode, out, tx, rx, errors)


# ---------------------------------------------------------------------------

class Netns:
    """One network namespace of a lab."""

    def __init__(self, lab: "Lab", role: str):
        self.lab = lab
        self.role = role
        self.name = f"iolive-{lab.tag}-{role}"

    def __repr__(self) -> str:
        return f"Netns({self.name})"

    def exec_argv(self, argv: Sequence[str]) -> List[str]:
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv: Sequence[str], check: bool = True,
            timeout: float = 30.0, stdin: Optional[str] = None):
        return run(self.exec_argv(argv), check=check, timeout=timeout,
                   stdin=stdin)

    def ip(self, *args: str, check: bool = True):
        return run(["ip", "-n", self.name] + list(args), check=check)

    def batch(self, lines: Iterable[str]) -> None:
        run(["ip", "-n", self.name, "-batch", "-"],
            stdin="\n".join(lines) + "\n")

    def sysctl(self, *settings: str) -> None:
        self.run(["sysctl", "-wq"] + list(settings))

    def ping(self, dst: str, count: int = 5, interval: float = 0.2,
             wait: float = 5.0, size: Optional[int] = None,
             hlim: Optional[int] = None, pmtudisc: Optional[str] = None,
             timeout: float = 60.0) -> PingResult:
        argv = ["ping", "-6", "-n", "-c", str(count), "-i", str(interval),
                "-W", str(wait)]
        if size is not None:
            argv += ["-s", str(size)]
        if hlim is not None:
            argv += ["-t", str(hlim)]
        if pmtudisc is not None:
            argv += ["-M", pmtudisc]
        argv.append(dst)
        full = self.exec_argv(argv)
        proc = subprocess.run(full, capture_output=True, text=True,
                              timeout=timeout)
        return parse_ping(full, proc)

    def ping_until(self, dst: str, attempts: int = 3, **kw) -> PingResult:
        """ping, repeated while replies are missing (a loaded machine can
        lose the odd reply to a timeout); returns the last result."""
        res = self.ping(dst, **kw)
        for _ in range(attempts - 1):
            if res.transmitted and res.received == res.transmitted:
                break
            res = self.ping(dst, **kw)
        return res

    def python(self, script: Path, *args: str, timeout: float = 120.0) -> dict:
        """Run a Python script (Debian's python3, Scapy) inside this netns;
        it prints one JSON object on its last stdout line."""
        proc = self.run([PY, str(script)] + list(args), check=False,
                        timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{script.name} {' '.join(args)} failed in "
                               f"{self.name} ({proc.returncode}):\n"
                               f"{proc.stdout}\n{proc.stderr}")
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        return json.loads(lines[-1])

    def popen_python(self, script: Path, *args: str) -> subprocess.Popen:
        p = subprocess.Popen(self.exec_argv([PY, str(script)] + list(args)),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.lab.procs.append(p)
        return p


# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Port:
    """One appliance port: its config name, the veth end it drives."""
    name: str            # ports[].name in the YAML (eth0, eth1)
    iface: str           # the veth end in the router netns
    mac: str


class Appliance:
    """ioamfwd running inside a router netns on net_af_packet ports."""

    READY = "forwarding with"

    def __init__(self, lab: "Lab", ns: Netns, name: str, config_text: str,
                 ports: Sequence[Port], index: int = 0,
                 trace_export: bool = False, vdev_args: str = "",
                 lcores: Optional[str] = None, workers: int = 1,
                 pmd: str = "net_af_packet", extra_args: Sequence[str] = ()):
        self.lab, self.ns, self.name = lab, ns, name
        self.ports = list(ports)
        self.dir = lab.workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "conf.yaml"
        self.conf.write_text(config_text)
        self.stats_path = self.dir / "stats.json"
        self.log_path = self.dir / "ioamfwd.log"
        self.export_path = self.dir / "export.jsonl" if trace_export else None
        self.sock = Path(f"/tmp/iolive-{lab.tag}-{name}.sock")
        self.prefix = f"iolive-{lab.tag}-{name}"
        argv = [str(binary()), "--lcores", lcores or lcore_map(index, workers),
                "--no-huge", "-m", "512", "--no-shconf", "--no-pci",
                f"--file-prefix={self.prefix}"]
        for i, p in enumerate(self.ports):
            argv += ["--vdev", f"{pmd}{i},iface={p.iface}{vdev_args}"]
        argv += ["--", "--config", str(self.conf), "--stats-json",
                 str(self.stats_path), "--control-socket", str(self.sock),
                 "--idle-sleep-us", str(IDLE_SLEEP_US)]
        if self.export_path:
            argv += ["--trace-export", str(self.export_path)]
        argv += list(extra_args)
        self.argv = ns.exec_argv(argv)
        self.proc: Optional[subprocess.Popen] = None
        self.stats: Optional[dict] = None
        self.returncode: Optional[int] = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def describe(self) -> str:
        return (f"{self.name}: $ {' '.join(self.argv)}\n--- log "
                f"({self.log_path}) ---\n{self.log()[-5000:]}")

    def start(self, timeout: float = 60.0) -> "Appliance":
        (self.dir / "cmdline.txt").write_text(" ".join(self.argv) + "\n")
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(self.argv, stdout=log,
                                         stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()
        self.lab.appliances.append(self)
        deadline = time.monotonic() + timeout
        while self.READY not in self.log():
            if self.proc.poll() is not None:
                raise RuntimeError(f"ioamfwd {self.name} exited with "
                                   f"{self.proc.returncode} at start\n"
                                   f"{self.describe()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ioamfwd {self.name} not forwarding after "
                                   f"{timeout} s\n{self.describe()}")
            time.sleep(0.05)
        return self

    def ctl(self, *commands: str, timeout: float = 30.0) -> List[List[str]]:
        """Command lines through the control socket; one reply per command."""
        replies = []
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.sock))
            stream = s.makefile("rb")
            for cmd in commands:
                s.sendall(cmd.encode() + b"\n")
                lines = []
                while True:
                    raw = stream.readline()
                    if not raw:
                        raise RuntimeError(f"{self.name}: control socket "
                                           f"closed during {cmd!r}")
                    line = raw.decode().rstrip("\n")
                    if line == ".":
                        break
                    lines.append(line[1:] if line.startswith(".") else line)
                replies.append(lines)
        return replies

    def stop(self, timeout: float = 30.0) -> dict:
        """SIGTERM, wait, read --stats-json; fails on a bad exit or a leak."""
        if self.proc is None:
            raise RuntimeError(f"{self.name} was never started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"ioamfwd {self.name} ignored SIGTERM for "
                                   f"{timeout} s\n{self.describe()}")
        self.returncode = self.proc.returncode
        shutil.rmtree(Path("/var/run/dpdk") / self.prefix, ignore_errors=True)
        if self.returncode != 0:
            raise RuntimeError(f"ioamfwd {self.name} exited with "
                               f"{self.returncode}\n{self.describe()}")
        try:
            self.stats = json.loads(self.stats_path.read_text())
        except (OSError, ValueError) as e:
            raise RuntimeError(f"{self.name}: cannot read {self.stats_path}: "
                               f"{e}\n{self.describe()}") from e
        if self.stats.get("mbufs_in_use") != 0:
            raise AssertionError(f"{self.name}: mbufs_in_use "
                                 f"{self.stats.get('mbufs_in_use')} at exit\n"
                                 f"{self.describe()}")
        return self.stats

    def export(self) -> list:
        """The --trace-export records (read after stop())."""
        assert self.export_path is not None, "started without trace_export"
        out = []
        text = self.export_path.read_text() if self.export_path.exists() else ""
        for line in text.splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def kill(self) -> None:
        """Last-resort teardown (no checks)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(Path("/var/run/dpdk") / self.prefix, ignore_errors=True)
        try:
            self.sock.unlink()
        except OSError:
            pass


def nonzero(stats: dict, section: str) -> dict:
    return {k: v for k, v in stats.get(section, {}).items() if v}


# ---------------------------------------------------------------------------

class Lab:
    """Namespaces, links, hosts and appliances of one test; all removed on close."""

    def __init__(self, workdir: Path):
        self.tag = f"{os.getpid()}-{next(_counter)}"
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.namespaces: List[Netns] = []
        self.appliances: List[Appliance] = []
        self.procs: List[subprocess.Popen] = []
        self._app_index = 0          # lcore placement of the next appliance

    def __enter__(self) -> "Lab":
        why = probe()
        if why:
            raise LiveUnavailable(why)
        with _lock:
            _live.add(self)
        _install_sigterm()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- building blocks ---------------------------------------------------
    def netns(self, role: str) -> Netns:
        ns = Netns(self, role)
        self.namespaces.append(ns)          # first: an interrupt may follow
        run(["ip", "netns", "add", ns.name])
        ns.ip("link", "set", "lo", "up")
        return ns

    def router_netns(self, role: str) -> Netns:
        """A namespace for an appliance: its kernel keeps out of IPv6."""
        ns = self.netns(role)
        ns.sysctl("net.ipv6.conf.default.disable_ipv6=1")
        return ns

    def host_netns(self, role: str) -> Netns:
        ns = self.netns(role)
        ns.sysctl("net.ipv6.conf.all.accept_dad=0",
                  "net.ipv6.conf.default.accept_dad=0",
                  "net.ipv6.conf.default.accept_ra=0",
                  "net.ipv6.conf.default.router_solicitations=0")
        return ns

    def link(self, a: Netns, a_if: str, b: Netns, b_if: str,
             a_mac: Optional[str] = None, b_mac: Optional[str] = None) -> None:
        """A veth pair a:a_if <-> b:b_if (created inside a, so no name in
        the root namespace is ever used)."""
        cmd = ["link", "add", "name", a_if]
        if a_mac:
            cmd += ["address", a_mac]
        cmd += ["type", "veth", "peer", "name", b_if, "netns", b.name]
        if b_mac:
            cmd += ["address", b_mac]
        a.ip(*cmd)

    def appliance_port(self, ns: Netns, iface: str) -> None:
        """Prepare a veth end for ioamfwd: no IPv6 in the kernel, up."""
        ns.sysctl(f"net.ipv6.conf.{iface}.disable_ipv6=1")
        ns.ip("link", "set", iface, "up")

    def host_iface(self, ns: Netns, iface: str, addr: str,
                   gateway: Optional[str] = None,
                   neighbors: Sequence[tuple] = (),
                   routes: Sequence[tuple] = ()) -> None:
        """Address, default route (via ``gateway``), permanent neighbours
        [(addr, mac)], extra routes [(prefix, via)], tx checksum offload off."""
        ns.sysctl(f"net.ipv6.conf.{iface}.accept_dad=0",
                  f"net.ipv6.conf.{iface}.accept_ra=0")
        ns.run(["ethtool", "-K", iface, "tx", "off"])
        lines = [f"addr add {addr} dev {iface} nodad",
                 f"link set {iface} up"]
        for a, mac in neighbors:
            lines.append(f"neigh replace {a} lladdr {mac} dev {iface} "
                         "nud permanent")
        if gateway:
            lines.append(f"route add default via {gateway} dev {iface}")
        for prefix, via in routes:
            lines.append(f"route add {prefix} via {via} dev {iface}")
        ns.batch(lines)

    def tap_bridge(self, ns: Netns, tap: str, veth: str, bridge: str,
                   kernel_mac: str) -> None:
        """Join a net_tap port's kernel interface to a veth end with a
        bridge.  The tap's kernel side carries the port's own MAC, which
        would make the bridge take frames for the appliance as its own:
        it gets ``kernel_mac`` first."""
        ns.batch([f"link set {tap} address {kernel_mac}",
                  f"link add name {bridge} type bridge",
                  f"link set {tap} master {bridge}",
                  f"link set {veth} master {bridge}",
                  f"link set {bridge} up", f"link set {tap} up",
                  f"link set {veth} up"])

    def wait_up(self, ns: Netns, ifaces: Sequence[str],
                timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            out = ns.ip("-br", "link", "show").stdout
            states = {ln.split()[0].split("@")[0]: ln.split()[1]
                      for ln in out.splitlines() if ln.strip()}
            if all(states.get(i) in ("UP", "UNKNOWN") for i in ifaces):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ns.name}: links not up:\n{out}")
            time.sleep(0.05)

    def appliance(self, ns: Netns, name: str, config_text: str,
                  ports: Sequence[Port], **kw) -> Appliance:
        app = Appliance(self, ns, name, config_text, ports,
                        index=self._app_index, **kw)
        self._app_index += 1
        return app

    # -- teardown --------------------------------------------------------
    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()
        while self.appliances:
            try:
                self.appliances.pop().kill()
            except Exception:  # pragma: no cover - best effort
                pass
        while self.namespaces:
            ns = self.namespaces.pop()
            subprocess.run(["ip", "netns", "del", ns.name],
                           capture_output=True, timeout=30)
        with _lock:
            _live.discard(self)
        _restore_sigterm()


# ---------------------------------------------------------------------------
# signals and interpreter exit

_saved_sigterm = None


def _install_sigterm() -> None:
    """While a lab exists, SIGTERM unwinds like Ctrl-C so teardown runs."""
    global _saved_sigterm
    if (_saved_sigterm is None
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
        def _on_term(signum, frame):
            raise KeyboardInterrupt("SIGTERM")
        _saved_sigterm = signal.signal(signal.SIGTERM, _on_term)


def _restore_sigterm() -> None:
    global _saved_sigterm
    if (_saved_sigterm is not None and not _live
            and threading.current_thread() is threading.main_thread()):
        signal.signal(signal.SIGTERM, _saved_sigterm)
        _saved_sigterm = None


@atexit.register
def _cleanup_leftovers() -> None:
    for lab in list(_live):
        try:
            lab.close()
        except Exception:  # pragma: no cover - best effort at exit
            pass


# ---------------------------------------------------------------------------
# TCP: a server that reads until EOF and answers with the length and SHA-256
# of what it got; a client that sends random octets and prints its own.

_TCP_SERVER = r"""
import hashlib, socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 5001)); s.listen(1); s.settimeout(90)
print("ready", flush=True)
c, _ = s.accept(); c.settimeout(90)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b); n += len(b)
c.sendall(f"{n} {h.hexdigest()}".encode()); c.close()
"""

_TCP_CLIENT = r"""
import hashlib, os, socket, sys
data = os.urandom(int(sys.argv[2]))
c = socket.create_connection((sys.argv[1], 5001), timeout=90)
c.sendall(data); c.shutdown(socket.SHUT_WR)
reply = b""
while True:
    b = c.recv(4096)
    if not b:
        break
    reply += b
print(f"{len(data)} {hashlib.sha256(data).hexdigest()}")
print(reply.decode())
"""


@dataclasses.dataclass
class TcpResult:
    sent: str            # "LENGTH SHA256" of what the client sent
    received: str        # the same, as the server counted it
    detail: str

    @property
    def ok(self) -> bool:
        return bool(self.sent) and self.sent == self.received

    def describe(self) -> str:
        return (f"client sent {self.sent!r}, server received "
                f"{self.received!r}\n{self.detail}")


def tcp_transfer(lab: Lab, server: Netns, client: Netns, addr: str,
                 nbytes: int, timeout: float = 120.0) -> TcpResult:
    """``nbytes`` random octets from ``client`` to ``server`` (at ``addr``,
    port 5001) over one TCP connection."""
    srv = subprocess.Popen(server.exec_argv([PY, "-c", _TCP_SERVER]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    lab.procs.append(srv)
    if srv.stdout.readline().strip() != "ready":
        return TcpResult("", "", f"server did not start: {srv.stderr.read()}")
    cli = client.run([PY, "-c", _TCP_CLIENT, addr, str(nbytes)], check=False,
                     timeout=timeout)
    try:
        out, err = srv.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        srv.kill()
        out, err = srv.communicate()
    lines = cli.stdout.splitlines()
    sent = lines[0] if lines else ""
    received = lines[1] if len(lines) > 1 else out.strip()
    return TcpResult(sent, received,
                     f"client exit {cli.returncode}: {cli.stderr[-2000:]}\n"
                     f"server exit {srv.returncode}: {out} {err[-2000:]}")


# ---------------------------------------------------------------------------
# the two-host router of most tests

H1_MAC, H2_MAC = "02:00:00:00:00:01", "02:00:00:00:00:04"
RTR_ETH0_MAC, RTR_ETH1_MAC = "02:00:00:00:0a:00", "02:00:00:00:0a:01"
H1, H2 = "db01::1", "db02::1"
RTR_ETH0, RTR_ETH1 = "db01::2", "db02::2"


def router_config(static_neighbors: bool, eth1_mtu: Optional[int] = None,
                  icmp: Optional[tuple] = None, rx_queues: Optional[int] = None,
                  extra: str = "", pmd: str = "net_af_packet") -> str:
    """The two-port router between h1 (db01::/64) and h2 (db02::/64).
    With ``rx_queues`` N > 1, worker lcore q+1 polls queue q of both ports
    (an explicit ``lcores:`` section)."""
    lines = ["node: {id: 10, id_wide: 10101010}"]
    if icmp is not None:
        lines.append(f"icmp: {{rate: {icmp[0]}, burst: {icmp[1]}}}")
    lines.append("ports:")
    for i, (mac, addr, mtu) in enumerate(((RTR_ETH0_MAC, RTR_ETH0, None),
                                          (RTR_ETH1_MAC, RTR_ETH1, eth1_mtu))):
        lines += [f"  - name: eth{i}",
                  f"    device: {pmd}{i}",
                  f"    mac: {mac}",
                  f"    addresses: [{addr}/64]"]
        if mtu:
            lines.append(f"    mtu: {mtu}")
        if rx_queues:
            lines.append(f"    rx_queues: {rx_queues}")
    if rx_queues and rx_queues > 1:
        lines.append("lcores:")
        for q in range(rx_queues):
            lines.append(f"  - {{lcore: {q + 1}, rx: [{{port: eth0, queue: {q}}}, "
                         f"{{port: eth1, queue: {q}}}]}}")
    if static_neighbors:
        lines += ["neighbors:",
                  f"  - {{address: {H1}, mac: {H1_MAC}, port: eth0}}",
                  f"  - {{address: {H2}, mac: {H2_MAC}, port: eth1}}"]
    return "\n".join(lines) + "\n" + extra


@dataclasses.dataclass
class TwoHosts:
    lab: Lab
    h1: Netns
    h2: Netns
    rtr: Netns
    app: Appliance


def two_hosts(lab: Lab, static_neighbors: bool = True,
              host_neighbors: Optional[bool] = None, pmd: str = "net_af_packet",
              **config_kw) -> TwoHosts:
    """h1 -- ioamfwd -- h2, ioamfwd started (config: router_config()).
    ``static_neighbors``: the appliance's neighbors: entries for h1 and h2;
    ``host_neighbors`` (default: the same): permanent entries for the
    appliance on the hosts.  Without them, Neighbor Discovery resolves.
    ``pmd`` ``net_tap``: ioamfwd's ports are tap devices t0/t1, each bridged
    with the router's veth end towards its host (see tap_bridge())."""
    if host_neighbors is None:
        host_neighbors = static_neighbors
    vdev_args = config_kw.pop("vdev_args", "")
    lcores = config_kw.pop("lcores", None)
    workers = max(1, config_kw.get("rx_queues") or 1)
    extra_args = config_kw.pop("extra_args", ())
    rtr = lab.router_netns("rtr")
    h1 = lab.host_netns("h1")
    h2 = lab.host_netns("h2")
    lab.link(rtr, "p0", h1, "eth0", b_mac=H1_MAC)
    lab.link(rtr, "p1", h2, "eth0", b_mac=H2_MAC)
    for p in ("p0", "p1"):
        lab.appliance_port(rtr, p)
    nb1 = [(RTR_ETH0, RTR_ETH0_MAC)] if host_neighbors else []
    nb2 = [(RTR_ETH1, RTR_ETH1_MAC)] if host_neighbors else []
    lab.host_iface(h1, "eth0", f"{H1}/64", RTR_ETH0, nb1)
    lab.host_iface(h2, "eth0", f"{H2}/64", RTR_ETH1, nb2)
    tap = pmd == "net_tap"
    ifs = ("t0", "t1") if tap else ("p0", "p1")
    app = lab.appliance(rtr, "rtr",
                        router_config(static_neighbors, pmd=pmd, **config_kw),
                        [Port("eth0", ifs[0], RTR_ETH0_MAC),
                         Port("eth1", ifs[1], RTR_ETH1_MAC)],
                        vdev_args=vdev_args, lcores=lcores, workers=workers,
                        pmd=pmd, extra_args=extra_args)
    app.start()
    if tap:
        for i in (0, 1):
            lab.tap_bridge(rtr, f"t{i}", f"p{i}", f"br{i}",
                           f"02:00:00:00:ff:0{i}")
    lab.wait_up(rtr, ["p0", "p1"])
    lab.wait_up(h1, ["eth0"])
    lab.wait_up(h2, ["eth0"])
    return TwoHosts(lab, h1, h2, rtr, app)
