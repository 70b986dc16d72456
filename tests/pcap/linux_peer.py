"""A real Linux IPv6 IOAM transit router, built in network namespaces.

Used by the interop tests to obtain the kernel's own answer for a list of
input frames.  Topology (all names carry the pid and a counter, so parallel
runs never collide):

    sender netns            router netns ("porthos")           receiver netns
    veth-s  <----------->  eth0 [db04::2]   eth1 [db02::1]  <------->  veth-r
    (raw injector)          IOAM ingress      IOAM egress       (raw tap)

* The sender and the receiver are plain layer-2 end points: IPv6 is disabled
  on both, so neither ever answers, solicits or reports anything.  Frames are
  written with an AF_PACKET socket opened inside the sender netns and read
  back with an AF_PACKET socket opened inside the receiver netns.
* The router is configured exactly like the Porthos node of the Linux IOAM
  how-to (``sysctl net.ipv6.ioam6_*`` and ``ip ioam``), with static, permanent
  neighbour entries and ``nodad`` addresses (and accept_dad=0), so it never
  needs Neighbour Discovery and the run is deterministic.

Usage::

    with LinuxIoamRouter(PORTHOS) as router:
        out = router.forward([frame1, frame2])   # list of Ethernet frames

``forward`` returns every IPv6 frame the router forwarded out of eth1 while
the batch was in flight, in arrival order, as ``bytes`` (Ethernet header
included).  Frames the router itself originates (link-local or unspecified
source, or multicast destination, e.g. MLD reports) are not returned: a
router never forwards such packets.

Namespaces are always deleted: on normal exit, on exceptions, on Ctrl-C
(KeyboardInterrupt unwinds through ``__exit__``), on SIGTERM while a router
exists (converted to an exception) and, as a last resort, at interpreter exit.

Requires root, iproute2 with ``ip ioam``, and a kernel with IPv6 IOAM.
``probe()`` returns a human-readable reason when something is missing.
"""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
import errno
import itertools
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional

__all__ = [
    "IoamNamespace",
    "IoamSchema",
    "RouterConfig",
    "PORTHOS",
    "LinuxIoamRouter",
    "LinuxPeerUnavailable",
    "is_router_originated",
    "probe",
    "probe_ioam6_lwtunnel",
    "iproute2_has_tunsrc",
]

ETH_P_ALL = 0x0003
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
CLONE_NEWNET = 0x40000000

# Fixed interface names; each lives in its own netns, so they never clash.
SENDER_IF = "veth-s"
RECEIVER_IF = "veth-r"

_counter = itertools.count()
_live: "set[LinuxIoamRouter]" = set()


class LinuxPeerUnavailable(RuntimeError):
    """The Linux reference router cannot be built on this machine."""


@dataclasses.dataclass(frozen=True)
class IoamNamespace:
    ns_id: int
    data: Optional[int] = None        # 32-bit; None = kernel default (all-ones)
    wide: Optional[int] = None        # 64-bit; None = kernel default (all-ones)
    schema: Optional[int] = None      # schema id bound to this namespace


@dataclasses.dataclass(frozen=True)
class IoamSchema:
    schema_id: int
    data: str


@dataclasses.dataclass(frozen=True)
class RouterConfig:
    """IDs and addressing of the transit router (defaults: none)."""
    node_id: int
    node_id_wide: int
    eth0_id: int
    eth0_id_wide: int
    eth1_id: int
    eth1_id_wide: int
    eth0_enabled: bool = True
    eth1_enabled: bool = False
    namespaces: tuple = ()
    schemas: tuple = ()
    eth0_addr: str = "db04::2/64"
    eth1_addr: str = "db02::1/64"
    eth0_mac: str = "02:00:00:00:02:00"
    eth1_mac: str = "02:00:00:00:02:01"
    sender_mac: str = "02:00:00:00:01:00"
    receiver_mac: str = "02:00:00:00:03:00"
    # (prefix, gateway) routes, all out of eth1.  An optional third element
    # makes it an IOAM encap route: the text after "encap ioam6", e.g.
    # "mode encap tundst db02::2 trace prealloc type 0x800000 ns 123 size 12"
    # (needs CONFIG_IPV6_IOAM6_LWTUNNEL; see probe_ioam6_lwtunnel()).
    routes: tuple = (("db03::/64", "db02::2"),)
    # (address, mac) permanent neighbours on eth1
    eth1_neighbors: tuple = (("db02::2", "02:00:00:00:03:00"),)


# The Porthos profile of the Linux IOAM how-to (shared/seeds/002_*).
PORTHOS = RouterConfig(
    node_id=2,
    node_id_wide=22222222,
    eth0_id=201,
    eth0_id_wide=201201,
    eth1_id=202,
    eth1_id_wide=202202,
    eth0_enabled=True,
    namespaces=(IoamNamespace(123, 0xDEADBEE1, 0xCAFEC0CAF11DC0DE, 666),),
    schemas=(IoamSchema(666, "Hello there -Obi"),),
)


# --------------------------------------------------------------------------
# low-level helpers

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def _inside_netns(name: str) -> Iterator[None]:
    """Run the body with this thread switched into netns ``name``.

    Sockets created in the body stay in that netns after we switch back.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                # If this fails the process is stranded in a test netns:
                # nothing sensible can continue, so let it propagate.
                _setns(home)
        finally:
            os.close(target)
    finally:
        os.close(home)


def _run(argv: list, stdin: Optional[str] = None, check: bool = True,
         timeout: float = 20.0) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n"
            f"stdin:\n{stdin or ''}\nstdout:\n{proc.stdout}\n"
            f"stderr:\n{proc.stderr}")
    return proc


def is_router_originated(frame: bytes) -> bool:
    """True for frames a router sends itself but never forwards."""
    if len(frame) < 14 + 40:
        return True
    src = frame[14 + 8:14 + 24]
    dst = frame[14 + 24:14 + 40]
    if src == bytes(16):
        return True                         # unspecified source
    if src[0] == 0xFE and (src[1] & 0xC0) == 0x80:
        return True                         # link-local source
    if dst[0] == 0xFF:
        return True                         # multicast destination
    return False


def probe() -> Optional[str]:
    """Return None if a router can be built here, else the reason why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, sysctl)"
    for tool in ("ip", "sysctl"):
        if shutil.which(tool) is None:
            return f"'{tool}' not found"
    if not os.path.exists("/proc/sys/net/ipv6/ioam6_id"):
        return "kernel has no IPv6 IOAM (net.ipv6.ioam6_id missing)"
    help_out = _run(["ip", "ioam", "help"], check=False)
    if "namespace" not in (help_out.stdout + help_out.stderr):
        return "iproute2 has no 'ip ioam' support"
    if not hasattr(_libc, "setns"):
        return "libc has no setns()"
    return None


def probe_ioam6_lwtunnel() -> Optional[str]:
    """None if ``ip route ... encap ioam6 ...`` works here, else why not.

    Tries it for real in a throw-away netns (the only reliable test: the
    kernel answers "lwt encapsulation type not supported" without
    CONFIG_IPV6_IOAM6_LWTUNNEL, whatever iproute2 understands).
    """
    why = probe()
    if why:
        return why
    ns = f"ioampeer-lwt-{os.getpid()}-{next(_counter)}"
    created = False
    try:
        proc = _run(["ip", "netns", "add", ns], check=False)
        if proc.returncode != 0:
            return f"cannot create netns {ns}: {proc.stderr.strip()}"
        created = True
        proc = _run(["ip", "-n", ns, "-batch", "-"], check=False, stdin=(
            "link add p0 type veth peer name p1\n"
            "link set p0 up\n"
            "link set p1 up\n"
            "addr add db04::1/64 dev p0 nodad\n"))
        if proc.returncode != 0:
            return f"cannot set up the probe netns: {proc.stderr.strip()}"
        proc = _run(["ip", "-n", ns, "-6", "route", "add", "db03::/64",
                     "encap", "ioam6", "mode", "encap", "tundst", "db02::2",
                     "trace", "prealloc", "type", "0x800000", "ns", "123",
                     "size", "12", "via", "db04::2", "dev", "p0"], check=False)
        if proc.returncode != 0:
            return ("kernel/iproute2 cannot install IOAM encap routes "
                    "(CONFIG_IPV6_IOAM6_LWTUNNEL unset?): "
                    f"'{(proc.stderr or proc.stdout).strip()}'")
        return None
    finally:
        if created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                           timeout=20)


def iproute2_has_tunsrc() -> bool:
    """True if this iproute2 knows ``encap ioam6 ... tunsrc`` (6.12+)."""
    out = _run(["ip", "route", "help"], check=False)
    return "tunsrc" in (out.stdout + out.stderr)


# --------------------------------------------------------------------------

class LinuxIoamRouter:
    """Three network namespaces with a Linux IOAM transit router in the middle."""

    def __init__(self, config: RouterConfig = PORTHOS):
        self.config = config
        tag = f"{os.getpid()}-{next(_counter)}"
        self.ns_sender = f"ioampeer-s-{tag}"
        self.ns_router = f"ioampeer-r-{tag}"
        self.ns_receiver = f"ioampeer-d-{tag}"
        self._created: list = []
        self._tx: Optional[socket.socket] = None
        self._rx: Optional[socket.socket] = None
        self._nonce = itertools.count()

    # -- context manager -------------------------------------------------
    def __enter__(self) -> "LinuxIoamRouter":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- setup -----------------------------------------------------------
    def start(self) -> None:
        reason = probe()
        if reason:
            raise LinuxPeerUnavailable(reason)
        _live.add(self)
        _install_sigterm()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _ip(self, ns: Optional[str], *args: str, check: bool = True):
        argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
        return _run(argv, check=check)

    def _ip_batch(self, ns: str, lines: Iterable[str]) -> None:
        _run(["ip", "-n", ns, "-batch", "-"], stdin="\n".join(lines) + "\n")

    def _sysctl(self, ns: str, settings: Iterable[str]) -> None:
        _run(["ip", "netns", "exec", ns, "sysctl", "-wq"] + list(settings))

    def _build(self) -> None:
        c = self.config
        for ns in (self.ns_sender, self.ns_router, self.ns_receiver):
            self._created.append(ns)        # before: an interrupt may hit
            proc = self._ip(None, "netns", "add", ns, check=False)
            if proc.returncode != 0:
                raise LinuxPeerUnavailable(
                    f"cannot create netns {ns}: {proc.stderr.strip()}")

        # Sender and receiver: pure L2 end points, no IPv6 stack at all, so
        # they never send ND/MLD and never answer what they receive.
        for ns in (self.ns_sender, self.ns_receiver):
            self._sysctl(ns, ["net.ipv6.conf.all.disable_ipv6=1",
                              "net.ipv6.conf.default.disable_ipv6=1"])

        # Router: defaults set before the links exist so they inherit them.
        self._sysctl(self.ns_router, [
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv6.conf.default.forwarding=1",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.accept_ra=0",
            "net.ipv6.conf.default.accept_ra=0",
            "net.ipv6.conf.all.router_solicitations=0",
            "net.ipv6.conf.default.router_solicitations=0",
        ])

        self._ip_batch(self.ns_router, [
            f"link add eth0 address {c.eth0_mac} type veth peer name "
            f"{SENDER_IF} netns {self.ns_sender} address {c.sender_mac}",
            f"link add eth1 address {c.eth1_mac} type veth peer name "
            f"{RECEIVER_IF} netns {self.ns_receiver} address {c.receiver_mac}",
        ])

        on = lambda b: 1 if b else 0  # noqa: E731
        self._sysctl(self.ns_router, [
            f"net.ipv6.ioam6_id={c.node_id}",
            f"net.ipv6.ioam6_id_wide={c.node_id_wide}",
            f"net.ipv6.conf.eth0.ioam6_id={c.eth0_id}",
            f"net.ipv6.conf.eth0.ioam6_id_wide={c.eth0_id_wide}",
            f"net.ipv6.conf.eth0.ioam6_enabled={on(c.eth0_enabled)}",
            f"net.ipv6.conf.eth1.ioam6_id={c.eth1_id}",
            f"net.ipv6.conf.eth1.ioam6_id_wide={c.eth1_id_wide}",
            f"net.ipv6.conf.eth1.ioam6_enabled={on(c.eth1_enabled)}",
            "net.ipv6.conf.eth0.accept_dad=0",
            "net.ipv6.conf.eth1.accept_dad=0",
        ])

        lines = [
            f"addr add {c.eth0_addr} dev eth0 nodad",
            f"addr add {c.eth1_addr} dev eth1 nodad",
            "link set lo up",
            "link set eth0 up",
            "link set eth1 up",
        ]
        for addr, mac in c.eth1_neighbors:
            lines.append(f"neigh replace {addr} lladdr {mac} dev eth1 "
                         f"nud permanent")
        encap_lines = []
        for route in c.routes:
            prefix, via = route[0], route[1]
            if len(route) > 2 and route[2]:
                encap_lines.append(f"route add {prefix} encap ioam6 "
                                   f"{route[2]} via {via} dev eth1")
            else:
                lines.append(f"route add {prefix} via {via} dev eth1")
        self._ip_batch(self.ns_router, lines)
        if encap_lines:
            proc = _run(["ip", "-n", self.ns_router, "-batch", "-"],
                        stdin="\n".join(encap_lines) + "\n", check=False)
            if proc.returncode != 0:
                raise LinuxPeerUnavailable(
                    "cannot add the IOAM encap routes (kernel without "
                    "CONFIG_IPV6_IOAM6_LWTUNNEL, or iproute2 too old?): "
                    f"{(proc.stderr or proc.stdout).strip()}")
        self._ip(self.ns_sender, "link", "set", SENDER_IF, "up")
        self._ip(self.ns_receiver, "link", "set", RECEIVER_IF, "up")

        # IOAM namespaces and schemas, with the iproute2 front end like the
        # how-to does (note: iproute2 parses 'wide' as hex).  A failure here
        # means the kernel lacks the IOAM6 generic-netlink family.
        cmds = []
        for sc in c.schemas:
            cmds.append(["ioam", "schema", "add", str(sc.schema_id), sc.data])
        for ns in c.namespaces:
            args = ["ioam", "namespace", "add", str(ns.ns_id)]
            if ns.data is not None:
                args += ["data", f"0x{ns.data:08x}"]
            if ns.wide is not None:
                args += ["wide", f"0x{ns.wide:016x}"]
            cmds.append(args)
            if ns.schema is not None:
                cmds.append(["ioam", "namespace", "set", str(ns.ns_id),
                             "schema", str(ns.schema)])
        for args in cmds:
            proc = self._ip(self.ns_router, *args, check=False)
            if proc.returncode != 0:
                raise LinuxPeerUnavailable(
                    f"'ip {' '.join(args)}' failed: {proc.stderr.strip()}")

        # Raw sockets, created inside their netns (they stay bound to it).
        with _inside_netns(self.ns_sender):
            self._tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                     socket.htons(ETH_P_ALL))
            self._tx.bind((SENDER_IF, 0))
        with _inside_netns(self.ns_receiver):
            self._rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                     socket.htons(ETH_P_ALL))
            self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            self._rx.bind((RECEIVER_IF, 0))
        self._wait_carrier()

    def _wait_carrier(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            out = self._ip(self.ns_router, "-br", "link", "show").stdout
            states = {ln.split()[0].split("@")[0]: ln.split()[1]
                      for ln in out.splitlines() if ln.strip()}
            if states.get("eth0") == "UP" and states.get("eth1") == "UP":
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"router links not up:\n{out}")
            time.sleep(0.02)

    # -- runtime knobs ---------------------------------------------------
    def set_ingress_enabled(self, enabled: bool) -> None:
        """Flip net.ipv6.conf.eth0.ioam6_enabled on the router."""
        self._sysctl(self.ns_router,
                     [f"net.ipv6.conf.eth0.ioam6_enabled={1 if enabled else 0}"])

    def router_cmd(self, *args: str) -> str:
        """Run ``ip -n <router> ARGS`` and return its stdout (debug aid)."""
        return self._ip(self.ns_router, *args).stdout

    # -- traffic ---------------------------------------------------------
    def _sentinel(self) -> tuple:
        """A plain UDP frame routed like the test traffic; marks the end."""
        c = self.config
        marker = b"linux_peer-sentinel-%d-%d" % (os.getpid(), next(self._nonce))
        dst_mac = bytes.fromhex(c.eth0_mac.replace(":", ""))
        src_mac = bytes.fromhex(c.sender_mac.replace(":", ""))
        src_ip = socket.inet_pton(socket.AF_INET6, "db01::1")
        # any address of the first routed prefix
        prefix = c.routes[0][0].split("/")[0]
        dst_ip = bytearray(socket.inet_pton(socket.AF_INET6, prefix))
        dst_ip[15] |= 0x02
        udp_len = 8 + len(marker)
        udp = struct.pack("!HHHH", 40000, 40001, udp_len, 0) + marker
        # UDP over IPv6 needs a checksum
        pseudo = src_ip + bytes(dst_ip) + struct.pack("!I3xB", udp_len, 17)
        csum = _inet_checksum(pseudo + udp) or 0xFFFF
        udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
        ip6 = struct.pack("!IHBB", 6 << 28, udp_len, 17, 64) + src_ip + bytes(dst_ip)
        return dst_mac + src_mac + struct.pack("!H", ETH_P_IPV6) + ip6 + udp, marker

    def _drain(self) -> None:
        assert self._rx is not None
        while select.select([self._rx], [], [], 0)[0]:
            self._rx.recv(65535)

    def forward(self, frames: Iterable[bytes], timeout: float = 5.0,
                settle: float = 0.2) -> list:
        """Send ``frames`` into the router's eth0, return what left eth1.

        A sentinel frame follows the batch; once it came out (or ``timeout``
        seconds passed) the receiver keeps listening ``settle`` seconds more
        for stragglers.  Returned frames are in arrival order and exclude the
        sentinel and router-originated control traffic.
        """
        assert self._tx is not None and self._rx is not None, "not started"
        frames = [bytes(f) for f in frames]
        self._drain()
        sentinel, marker = self._sentinel()
        rx_before = self._router_rx_packets()
        for i, frame in enumerate(frames):
            self._send(frame)
            if i % 32 == 31:
                time.sleep(0.001)       # never let the veth backlog overflow
        self._send(sentinel)

        out = []
        deadline = time.monotonic() + timeout
        seen_sentinel_at = None
        while True:
            now = time.monotonic()
            end = deadline if seen_sentinel_at is None else min(
                deadline, seen_sentinel_at + settle)
            if now >= end:
                break
            ready = select.select([self._rx], [], [], end - now)[0]
            if not ready:
                continue
            data, addr = self._rx.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            if len(data) < 14 or struct.unpack("!H", data[12:14])[0] != ETH_P_IPV6:
                continue
            if data.endswith(marker):
                seen_sentinel_at = time.monotonic()
                continue
            if is_router_originated(data):
                continue
            out.append(data)
        if seen_sentinel_at is None:
            raise RuntimeError(
                "sentinel frame never came out of the Linux router "
                f"(after {timeout}s); routing/neighbour setup is broken")
        # Every frame must have reached the router, so that a missing output
        # means "the router dropped it", never "the harness lost it".
        received = self._router_rx_packets() - rx_before
        if received != len(frames) + 1:
            raise RuntimeError(
                f"router eth0 received {received} frames, "
                f"{len(frames) + 1} were sent")
        return out

    def _router_rx_packets(self) -> int:
        out = self._ip(self.ns_router, "-s", "-j", "link", "show", "eth0").stdout
        return int(json.loads(out)[0]["stats64"]["rx"]["packets"])

    def _send(self, frame: bytes) -> None:
        assert self._tx is not None
        for _ in range(100):
            try:
                self._tx.send(frame)
                return
            except OSError as e:  # transient: veth backlog full
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                time.sleep(0.001)
        raise RuntimeError("could not send frame (ENOBUFS)")

    # -- teardown --------------------------------------------------------
    def close(self) -> None:
        for s in (self._tx, self._rx):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self._tx = self._rx = None
        # Deleting the router netns destroys both veth pairs.
        while self._created:
            ns = self._created.pop()
            subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                           timeout=20)
        _live.discard(self)
        _restore_sigterm()


_saved_sigterm = None


def _install_sigterm() -> None:
    """While routers exist, SIGTERM unwinds like Ctrl-C (so cleanup runs)."""
    global _saved_sigterm
    if (_saved_sigterm is None and _in_main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
        def _on_term(signum, frame):
            raise KeyboardInterrupt("SIGTERM")
        _saved_sigterm = signal.signal(signal.SIGTERM, _on_term)


def _restore_sigterm() -> None:
    global _saved_sigterm
    if _saved_sigterm is not None and not _live and _in_main_thread():
        signal.signal(signal.SIGTERM, _saved_sigterm)
        _saved_sigterm = None


def _in_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


@atexit.register
def _cleanup_leftovers() -> None:
    for router in list(_live):
        try:
            router.close()
        except Exception:  # pragma: no cover - best effort at exit
            pass


if __name__ == "__main__":
    # Smoke run: one IOAM packet (type 0x800000, ns 123, size 4) through Porthos.
    import sys
    why = probe()
    if why:
        print(f"unavailable: {why}")
        sys.exit(77)
    hbh = bytes([58, 2, 0x01, 0x00, 0x31, 14, 0, 0,
                 0, 123, 1 << 3, 1, 0x80, 0, 0, 0]) + bytes(4) + bytes([1, 2, 0, 0])
    icmp = struct.pack("!BBHHH", 128, 0, 0, 1, 1) + b"smoke"
    src = socket.inet_pton(socket.AF_INET6, "db01::1")
    dst = socket.inet_pton(socket.AF_INET6, "db03::2")
    pseudo = src + dst + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", _inet_checksum(pseudo + icmp)) + icmp[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(hbh) + len(icmp), 0, 64) + src + dst
    frame = (bytes.fromhex("020000000200020000000100") + b"\x86\xdd"
             + ip6 + hbh + icmp)
    with LinuxIoamRouter(PORTHOS) as r:
        for f in r.forward([frame]):
            print(f[14:].hex())
