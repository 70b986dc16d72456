"""Harness for the pcap tests: run build/ioamfwd over pcap vdevs, read back
what it sent and its STATS.json, and compare frames with the reference model.

Topology used by every test (the seed's Porthos position):

    Alpha db01::2 .. Athos db04::1 --eth0-- [ioamfwd] --eth1-- db02::2 Aramis .. db03::2
                     02:00:00:00:01:01      eth0 db04::2/64     02:00:00:00:03:00
                                            eth1 db02::1/64
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import shutil
import struct
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from scapy.utils import RawPcapReader, RawPcapWriter

import ioam_scapy as ioam

REPO = Path(__file__).resolve().parents[2]

# --- topology -----------------------------------------------------------------
ETH0_MAC = "02:00:00:00:02:00"
ETH1_MAC = "02:00:00:00:02:01"
ATHOS_MAC = "02:00:00:00:01:01"      # upstream neighbour on eth0
ARAMIS_MAC = "02:00:00:00:03:00"     # next hop on eth1 (db02::2)
ALPHA = "db01::2"                    # original sender, beyond Athos
ATHOS = "db04::1"                    # encap node (tunnel source)
OWN_ETH0 = "db04::2"
OWN_ETH1 = "db02::1"
ARAMIS = "db02::2"                   # tunnel destination, on-link on eth1
BETA_RX = "db03::2"                  # final receiver, via Aramis

TIMEOUT_S = 60
IDLE_EXIT_MS = 300
TS_TOLERANCE_S = 5


_RUN_IDS = itertools.count()


def eal_memory_args(prefix: str) -> List[str]:
    """EAL memory options. "--no-huge --in-memory" together is refused by
    DPDK 22.11 (--no-huge implies --legacy-mem, which --in-memory rejects:
    "Option --legacy-mem is not compatible with --in-memory"), so by default
    each run gets its own --file-prefix and no shared config instead, which
    also keeps concurrent runs by other people on this machine apart.
    IOAMFWD_EAL_IN_MEMORY=1 uses "--in-memory" instead (for a DPDK that
    accepts it)."""
    if os.environ.get("IOAMFWD_EAL_IN_MEMORY") == "1":
        return ["--in-memory"]
    return ["--no-shconf", f"--file-prefix={prefix}"]


def binary() -> Path:
    return Path(os.environ.get("IOAMFWD_BIN", REPO / "build" / "ioamfwd"))


# --- pcap I/O -------------------------------------------------------------------

def write_pcap(path: Path, frames: Iterable[bytes]) -> None:
    """Ethernet pcap with ``frames`` (an empty list gives a header-only file)."""
    w = RawPcapWriter(str(path), linktype=1, sync=True)
    frames = list(frames)
    if not frames:
        w._write_header(None)  # pylint: disable=protected-access
    for f in frames:
        w.write(bytes(f))
    w.close()


def read_pcap(path: Path) -> List[bytes]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    return [bytes(data) for data, _meta in RawPcapReader(str(path))]


# --- running the appliance ------------------------------------------------------

@dataclass
class RunResult:
    out: Dict[int, List[bytes]]
    stats: dict
    started: float
    ended: float
    workdir: Path
    stdout: str
    stderr: str
    sent: int = 0
    returncode: int = 0
    # Per port, what each tx queue sent (one entry per tx_pcap file); out
    # holds the same frames, queue after queue.
    out_queues: Optional[Dict[int, List[List[bytes]]]] = None

    def nonzero(self, section: str) -> Dict[str, int]:
        return {k: v for k, v in self.stats.get(section, {}).items() if v}

    @property
    def drops(self) -> Dict[str, int]:
        return self.nonzero("drops")

    @property
    def ioam(self) -> Dict[str, int]:
        return self.nonzero("ioam")

    @property
    def icmp(self) -> Dict[str, int]:
        return self.nonzero("icmp")

    def port(self, name: str) -> dict:
        return self.stats["ports"][name]

    def describe(self) -> str:
        return (f"workdir {self.workdir}\nstats {json.dumps(self.stats)}\n"
                f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}")


def run_appliance(workdir: Path, config_text: str, inputs: Dict[int, Sequence],
                  nports: int = 2, *, rx_queues: int = 1, tx_queues: int = 1,
                  eal_lcores: Sequence[str] = ("-l", "0-1"), extra_args: Sequence[str] = (),
                  check: bool = True, idle_exit_ms: int = IDLE_EXIT_MS,
                  mem_mb: int = 512) -> RunResult:
    """Run ioamfwd once: port i receives ``inputs[i]``; returns what each port
    sent and the stats. Asserts a clean exit and ``mbufs_in_use == 0``.

    With ``rx_queues`` > 1, ``inputs[i]`` is a list of per-queue frame lists
    (one rx_pcap file each); ``tx_queues`` tx_pcap files per port (one per
    worker lcore). ``check=False`` returns a failed run (returncode, stderr)
    instead of failing the test. ``idle_exit_ms``: longer when workers share a
    CPU, so one that is not scheduled for a while still reads its queue.
    ``mem_mb``: the EAL's --no-huge -m."""
    import pytest  # local: keep this module importable outside pytest

    exe = binary()
    if not exe.exists():
        pytest.fail(f"ioamfwd binary not found at {exe} (build it with "
                    f"'meson setup build && ninja -C build' or set IOAMFWD_BIN)")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "CONF.yaml"
    conf.write_text(config_text)
    stats_path = workdir / "STATS.json"
    prefix = f"pcaptest_{os.getpid()}_{next(_RUN_IDS)}"
    cmd = [str(exe), *eal_lcores, "--no-huge", "-m", str(mem_mb), *eal_memory_args(prefix),
           "--no-pci", "--log-level=lib.eal:error"]

    def name(kind: str, port: int, queue: int, count: int) -> Path:
        # single-queue names stay as they always were
        return workdir / (f"{kind}{port}.pcap" if count == 1 else f"{kind}{port}_{queue}.pcap")

    tx_files: Dict[int, List[Path]] = {}
    for i in range(nports):
        per_queue = [inputs.get(i, [])] if rx_queues == 1 else \
            list(inputs.get(i, [[] for _ in range(rx_queues)]))
        assert len(per_queue) == rx_queues, f"port {i}: give {rx_queues} frame lists"
        vdev = f"net_pcap{i}"
        for q, frames in enumerate(per_queue):
            rx = name("IN", i, q, rx_queues)
            write_pcap(rx, frames)
            vdev += f",rx_pcap={rx}"
        tx_files[i] = [name("OUT", i, q, tx_queues) for q in range(tx_queues)]
        for tx in tx_files[i]:
            vdev += f",tx_pcap={tx}"
        cmd += ["--vdev", vdev]
    cmd += ["--", "--config", str(conf), "--idle-exit", str(idle_exit_ms),
            "--stats-json", str(stats_path), *extra_args]
    (workdir / "cmdline.txt").write_text(" ".join(cmd) + "\n")
    started = time.time()
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"ioamfwd did not exit within {TIMEOUT_S} s (workdir {workdir})\n"
                    f"--- stdout ---\n{exc.stdout}\n--- stderr ---\n{exc.stderr}")
    ended = time.time()
    # --file-prefix leaves an empty runtime directory behind: remove ours.
    shutil.rmtree(Path("/var/run/dpdk") / prefix, ignore_errors=True)
    (workdir / "stdout.txt").write_text(proc.stdout)
    (workdir / "stderr.txt").write_text(proc.stderr)
    sent = sum(len(v) if rx_queues == 1 else sum(len(q) for q in v) for v in inputs.values())
    if not check and proc.returncode != 0:
        return RunResult({}, {}, started, ended, workdir, proc.stdout, proc.stderr, sent,
                         proc.returncode)
    if proc.returncode != 0:
        pytest.fail(f"ioamfwd exited with {proc.returncode} (workdir {workdir})\n"
                    f"cmd: {' '.join(cmd)}\n--- stdout ---\n{proc.stdout[-6000:]}\n"
                    f"--- stderr ---\n{proc.stderr[-6000:]}")
    try:
        stats = json.loads(stats_path.read_text())
    except (OSError, ValueError) as exc:
        pytest.fail(f"cannot read {stats_path}: {exc}\n--- stdout ---\n{proc.stdout}\n"
                    f"--- stderr ---\n{proc.stderr}")
    out_queues = {i: [read_pcap(f) for f in files] for i, files in tx_files.items()}
    res = RunResult({i: [f for q in qs for f in q] for i, qs in out_queues.items()},
                    stats, started, ended, workdir, proc.stdout, proc.stderr, sent,
                    proc.returncode, out_queues)
    assert stats.get("mbufs_in_use") == 0, f"mbuf leak\n{res.describe()}"
    return res


# --- configuration -> model profile ----------------------------------------------

def _scalar(text: str):
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    if t in ("true", "false"):
        return t == "true"
    try:
        return int(t, 0)
    except ValueError:
        return t


def _split_top(text: str, sep: str = ",") -> List[str]:
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _flow(text: str):
    t = text.strip()
    if t.startswith("{"):
        out = {}
        for item in _split_top(t[1:-1]):
            k, v = item.split(":", 1) if ": " not in item else item.split(": ", 1)
            out[k.strip()] = _flow(v)
        return out
    if t.startswith("["):
        return [_flow(x) for x in _split_top(t[1:-1])]
    return _scalar(t)


def _mini_yaml(text: str) -> dict:
    """The YAML subset the test configs use (block mappings, block sequences
    of mappings, flow collections, scalars). Used when PyYAML is missing."""
    lines = [ln.split(" #", 1)[0].rstrip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]

    def block(i: int, indent: int):
        first = lines[i].lstrip()
        if first.startswith("- "):
            seq = []
            while i < len(lines) and len(lines[i]) - len(lines[i].lstrip()) == indent \
                    and lines[i].lstrip().startswith("- "):
                body = lines[i].lstrip()[2:]
                if body.startswith("{") or ": " not in body and not body.endswith(":"):
                    seq.append(_flow(body))
                    i += 1
                    continue
                # "- key: value" opens a mapping indented by indent + 2
                lines[i] = " " * (indent + 2) + body
                item, i = mapping(i, indent + 2)
                seq.append(item)
            return seq, i
        return mapping(i, indent)

    def mapping(i: int, indent: int):
        out = {}
        while i < len(lines) and len(lines[i]) - len(lines[i].lstrip()) == indent:
            key, _, rest = lines[i].strip().partition(":")
            i += 1
            if rest.strip():
                out[key] = _flow(rest)
            elif i < len(lines):
                child = len(lines[i]) - len(lines[i].lstrip())
                out[key], i = block(i, child)
        return out, i

    return block(0, 0)[0]


def load_config(text: str) -> dict:
    try:
        import yaml  # Debian python3-yaml, when installed
    except ImportError:
        return _mini_yaml(text)
    return yaml.safe_load(text)


def _node_profile(cfg: dict, ingress: str, egress: Optional[str]) -> ioam.NodeProfile:
    ports = {p["name"]: p for p in cfg["ports"]}
    schemas = {s["id"]: s["data"] for s in cfg.get("schemas", [])}
    nss = {}
    for n in cfg.get("namespaces", []):
        sid = n.get("schema")
        nss[n["id"]] = ioam.Namespace(
            data=n.get("data", ioam.U32_NA), wide=n.get("wide", ioam.U64_NA),
            schema_id=sid,
            schema=None if sid is None else schemas[sid].encode())
    node = cfg.get("node", {})
    ing = ports[ingress].get("ioam", {})
    egr = ports[egress].get("ioam", {}) if egress else {}
    return ioam.NodeProfile(
        node_id=node.get("id", ioam.NODE_ID_DEFAULT),
        node_id_wide=node.get("id_wide", ioam.NODE_ID_WIDE_DEFAULT),
        namespaces=nss, enabled=bool(ing.get("enabled", False)),
        ingress_id=ing.get("id", ioam.U16_NA), ingress_id_wide=ing.get("id_wide", ioam.U32_NA),
        egress_id=egr.get("id", ioam.U16_NA), egress_id_wide=egr.get("id_wide", ioam.U32_NA),
        local=egress is None)


def profile(config_text: str, ingress: str = "eth0", egress: Optional[str] = "eth1"
            ) -> ioam.NodeProfile:
    """Model profile of the appliance as configured by ``config_text`` for
    packets arriving on ``ingress`` and routed to ``egress`` (None = local)."""
    return _node_profile(load_config(config_text), ingress, egress)


def route(cfg: dict, dst: str) -> Optional[str]:
    """Longest-prefix match over connected prefixes and routes[]:
    a port name, "local" for one of the node's own addresses, None = no route."""
    addr = ipaddress.IPv6Address(dst)
    best: Optional[tuple] = None
    for p in cfg["ports"]:
        for a in p.get("addresses", []):
            iface = ipaddress.IPv6Interface(a)
            if iface.ip == addr:
                return "local"
            if addr in iface.network and (best is None or iface.network.prefixlen > best[0]):
                best = (iface.network.prefixlen, p["name"])
    for r in cfg.get("routes", []):
        net = ipaddress.IPv6Network(r["prefix"])
        if addr in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, r["port"])
    return best[1] if best else None


def profile_for(config_text: str, frame: bytes, ingress: str = "eth0") -> ioam.NodeProfile:
    """Model profile for one frame: the egress follows its IPv6 destination."""
    cfg = load_config(config_text)
    if len(frame) < 54:
        return _node_profile(cfg, ingress, "eth1")
    dst = str(ipaddress.IPv6Address(frame[14 + 24:14 + 40]))
    where = route(cfg, dst)
    if where == "local":
        return _node_profile(cfg, ingress, None)
    if where is None:
        prof = _node_profile(cfg, ingress, None)
        prof.local, prof.no_route = False, True
        return prof
    return _node_profile(cfg, ingress, where)


# --- packet construction for the standard topology ------------------------------

def inline_frame(hbh: bytes = b"", *, tag: int, hlim: int = 64, src: str = ALPHA,
                 dst: str = BETA_RX, dst_mac: str = ETH0_MAC, ext_nh: int = ioam.NH_HOPOPTS,
                 data: bytes = b"ioamfwd-pcap-test") -> bytes:
    """Frame from Athos: IPv6 [hbh] ICMPv6 echo, flow label = ``tag``."""
    pkt = ioam.icmp_packet(src, dst, ext=hbh, ext_nh=ext_nh, hlim=hlim, fl=tag,
                           seq=tag & 0xFFFF, data=data)
    return ioam.ether(dst_mac, ATHOS_MAC, pkt)


def encap_frame(hbh: bytes, *, tag: int, hlim: int = 64, inner_hlim: int = 64,
                dst: str = ARAMIS) -> bytes:
    """ip6ip6 frame from Athos (tunnel Athos -> Aramis) carrying ``hbh``;
    the outer flow label is ``tag``."""
    inner = ioam.icmp_packet(ALPHA, BETA_RX, hlim=inner_hlim, fl=tag, seq=tag & 0xFFFF)
    pkt = ioam.encap_packet(ATHOS, dst, inner, hbh=hbh, hlim=hlim, fl=tag)
    return ioam.ether(ETH0_MAC, ATHOS_MAC, pkt)


def frame_tag(frame: bytes) -> Optional[int]:
    """Outer IPv6 flow label of an Ethernet frame (None if not IPv6)."""
    if len(frame) < 18 or frame[12:14] != b"\x86\xdd":
        return None
    return struct.unpack_from("!I", frame, 14)[0] & 0xFFFFF


def by_tag(frames: Sequence[bytes]) -> Dict[int, List[bytes]]:
    out: Dict[int, List[bytes]] = {}
    for f in frames:
        out.setdefault(frame_tag(f), []).append(f)
    return out


# --- assertions -----------------------------------------------------------------

def check_variables(seen: Dict[str, List[int]], run: RunResult, *, forwarded: bool = True
                    ) -> None:
    """Plausibility of the words the model cannot predict."""
    for v in seen.get(ioam.VAR_TS_SEC, []):
        assert run.started - TS_TOLERANCE_S <= v <= run.ended + TS_TOLERANCE_S, (
            f"timestamp seconds {v} not within {TS_TOLERANCE_S} s of the run "
            f"[{run.started:.0f}, {run.ended:.0f}]")
    for v in seen.get(ioam.VAR_TS_FRAC, []):
        assert v < 1_000_000, f"timestamp sub-seconds {v:#x} is not microseconds"
    for v in seen.get(ioam.VAR_QDEPTH, []):
        if forwarded:
            assert v != ioam.U32_NA, "queue depth 0xFFFFFFFF on a forwarded packet"
            assert v <= run.sent, f"queue depth {v} larger than the packets of the run"


def assert_frame(actual: bytes, expected: ioam.FrameResult, run: RunResult,
                 label: str = "") -> None:
    """Byte-for-byte comparison with the model (unpredictable words checked
    for plausibility, then copied over)."""
    exp, seen = ioam.apply_variables(expected.frame, actual, expected.variables)
    check_variables(seen, run)
    assert actual == exp, (f"{label}: output frame differs from the Linux model\n"
                           f"{ioam.hexdiff(exp, actual)}\nexpected {exp.hex()}\n"
                           f"actual   {actual.hex()}")


def expect(frame: bytes, prof: ioam.NodeProfile) -> ioam.FrameResult:
    """Model result for a frame received on eth0 and routed to eth1."""
    return ioam.expected_frame(frame, prof, ingress_mac=ETH0_MAC, egress_mac=ETH1_MAC,
                               next_hop_mac=ARAMIS_MAC)


@dataclass
class Case:
    """One packet of a batched run."""
    name: str
    frame: bytes
    tag: int
    model: ioam.FrameResult
    port: int = 0
    expected_drop: Optional[str] = None   # what the brief / reference names


@dataclass
class Batch:
    run: RunResult
    cases: Dict[str, Case]

    def output_of(self, name: str, port: int = 1) -> List[bytes]:
        c = self.cases[name]
        return by_tag(self.run.out[port]).get(c.tag, [])


def run_batch(workdir: Path, config_text: str, cases: Sequence[Case]) -> Batch:
    """Send every case's frame (in order) and run the appliance once."""
    tags = Counter(c.tag for c in cases)
    dup = [t for t, n in tags.items() if n > 1]
    assert not dup, f"duplicate tags {dup}"
    inputs: Dict[int, List[bytes]] = {}
    for c in cases:
        inputs.setdefault(c.port, []).append(c.frame)
    run = run_appliance(workdir, config_text, inputs)
    return Batch(run, {c.name: c for c in cases})


class LazyBatches:
    """Module-level cache of batched runs: each key runs at most once, and a
    failed run fails every later test of that key at once instead of
    re-running (and possibly re-timing-out) the appliance for each."""

    def __init__(self, make):
        self._make = make      # (key, workdir) -> Batch
        self._done: Dict[str, tuple] = {}

    def get(self, key: str, workdir: Path) -> "Batch":
        import pytest
        if key not in self._done:
            try:
                self._done[key] = (True, self._make(key, workdir))
            except (Exception, pytest.fail.Exception) as exc:  # noqa: BLE001
                self._done[key] = (False, exc)
                raise
        ok, val = self._done[key]
        if not ok:
            pytest.fail(f"the batched run '{key}' failed earlier: {str(val)[:3000]}",
                        pytrace=False)
        return val

    def clear(self) -> None:
        self._done.clear()


def expected_counters(cases: Iterable[Case]) -> tuple:
    """(drops, ioam events) the model predicts for a set of cases."""
    drops: Counter = Counter()
    events: Counter = Counter()
    for c in cases:
        if c.model.model.drop:
            drops[c.model.model.drop] += 1
        events.update(c.model.model.events)
    return dict(drops), dict(events)


# --- ICMPv6 the appliance originates --------------------------------------------

# The ICMPv6 error (stats group "icmp") a drop reason provokes: RFC 4443 3.3
# (hop limit), 3.1 (code 0 no route, code 3 no neighbour), 3.2 (MTU).
ICMP_ERROR_OF_DROP = {
    "hop_limit_exceeded": "icmp_time_exceeded",
    "no_route": "icmp_unreachable",
    "no_neighbor": "icmp_unreachable",
    "mtu_exceeded": "icmp_packet_too_big",
    "ioam_mtu_exceeded": "icmp_packet_too_big",
}


def icmp_errors_unroutable(drops: Dict[str, int]) -> tuple:
    """For a configuration without a route back to the senders: the ICMPv6
    errors the ``drops`` provoke (stats group "icmp") and the drops after
    adding one ``no_route`` per error (each error is routed like any packet
    and finds no route; it is never answered itself)."""
    errors: Counter = Counter()
    for reason, n in drops.items():
        if reason in ICMP_ERROR_OF_DROP:
            errors[ICMP_ERROR_OF_DROP[reason]] += n
    total = dict(Counter(drops) + Counter({"no_route": sum(errors.values())}))
    return dict(errors), total


def icmp_message(pkt: bytes) -> Optional[tuple]:
    """(type, offset) of the ICMPv6 message an IPv6 packet carries, looking
    through an ip6ip6 tunnel; None if it carries none."""
    nh, off = ioam.upper_layer(pkt)
    if nh == ioam.NH_IPV6:
        inner = icmp_message(pkt[off:])
        return None if inner is None else (inner[0], inner[1] + off)
    if nh != ioam.NH_ICMPV6 or off >= len(pkt):
        return None
    return pkt[off], off


def answer_tag(frame: bytes) -> Optional[int]:
    """The tag of the packet an ICMPv6 message sent by the appliance answers:
    for an error, the flow label of the invoking packet it quotes; for an
    Echo Reply, its sequence number (the tests' requests carry seq = tag)."""
    if frame_tag(frame) is None:
        return None
    m = icmp_message(frame[14:])
    if m is None:
        return None
    kind, off = m
    pkt = frame[14:]
    if kind < 128 and off + 12 <= len(pkt):
        return struct.unpack_from("!I", pkt, off + 8)[0] & 0xFFFFF
    if kind == ioam.ICMP6_ECHO_REPLY and off + 8 <= len(pkt):
        return struct.unpack_from("!H", pkt, off + 6)[0]
    return None


def answers(frames: Sequence[bytes]) -> Dict[Optional[int], List[bytes]]:
    """ICMPv6 errors and Echo Replies among ``frames``, by answer_tag."""
    out: Dict[Optional[int], List[bytes]] = {}
    for f in frames:
        if icmp_message(f[14:]) is not None:
            out.setdefault(answer_tag(f), []).append(f)
    return out


def tshark_icmp6(pcap: Path) -> List[dict]:
    """Per frame of ``pcap``, what tshark says of its (outermost) ICMPv6
    message: {"type": int, "checksum": "Good" | "Bad" | ..., "malformed": bool}."""
    proc = subprocess.run(["tshark", "-r", str(pcap), "-V"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    frames: List[dict] = []
    cur: Optional[dict] = None
    in_icmp = False
    for line in proc.stdout.splitlines():
        if line.startswith("Frame "):
            cur = {"type": None, "checksum": None, "malformed": False}
            frames.append(cur)
            in_icmp = False
            continue
        if cur is None:
            continue
        if "Malformed Packet" in line:
            cur["malformed"] = True
        if line.startswith("Internet Control Message Protocol v6"):
            in_icmp = cur["type"] is None
            continue
        if not line.startswith(" "):
            in_icmp = False
        if in_icmp and line.startswith("    Type: ") and cur["type"] is None:
            cur["type"] = int(line.split("(")[-1].rstrip(")"))
        if in_icmp and line.startswith("    [Checksum Status: ") and cur["checksum"] is None:
            cur["checksum"] = line.split(": ", 1)[1].rstrip("]")
    return frames
