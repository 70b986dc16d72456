"""Trace export (``--trace-export FILE|-|unix:PATH``, ``--trace-export-transit``,
``--export-ring-size N``).

Every record is compared, key by key, with a record decoded here from the
packet bytes (``ioam_scapy.export_record``) after the reference model's fill
(``ioam_scapy.linux_transit``): this node's timestamps and queue depth are
only checked for plausibility, everything else must be equal. Cases are told
apart by their IPv6 source address (``db01::<tag>``), which the record
carries.

This module also holds the runner the other export-aware modules use
(``run_ext``): ``pcaptest.run_appliance`` plus extra options and the records.

Unix socket sink, made deterministic: eth0's rx pcap is a named pipe. The
pcap PMD opens it while the EAL probes the device and reads the pcap file
header, so the test writes only that header first; the worker then blocks
reading the pipe. The test waits for the socket file, connects its clients,
waits a few exporter ticks (the appliance accepts clients on its 5 ms tick),
and only then writes the frames and closes the pipe. No record can be
produced before the clients are in, whatever the machine's speed. The run is
ended with SIGTERM once both clients have every line (``--idle-exit`` is
only a safety net).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

import ioam_scapy as ioam
import pcaptest as pt

# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------

RECORD_KEYS = ["time", "event", "port", "src", "dst", "namespace", "trace_type", "nodelen",
               "flags", "remaining_len", "hops"]
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


@dataclass
class ExtRun:
    run: pt.RunResult
    records: List[dict]
    lines: List[str]

    def by_src(self, src: str) -> List[dict]:
        return [r for r in self.records if r["src"] == src]


def _cmd(workdir: Path, config_text: str, inputs: Dict[int, Sequence[bytes]], nports: int,
         args: Sequence[str], idle_ms: int, fifo_port: Optional[int] = None):
    exe = pt.binary()
    if not exe.exists():
        pytest.fail(f"ioamfwd binary not found at {exe}")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "CONF.yaml"
    conf.write_text(config_text)
    prefix = f"exptest_{os.getpid()}_{next(pt._RUN_IDS)}"  # pylint: disable=protected-access
    cmd = [str(exe), "-l", "0-1", "--no-huge", "-m", "512", *pt.eal_memory_args(prefix),
           "--no-pci", "--log-level=lib.eal:error"]
    for i in range(nports):
        rx, tx = workdir / f"IN{i}.pcap", workdir / f"OUT{i}.pcap"
        if i == fifo_port:
            if rx.exists():
                rx.unlink()
            os.mkfifo(rx)
        else:
            pt.write_pcap(rx, inputs.get(i, []))
        cmd += ["--vdev", f"net_pcap{i},rx_pcap={rx},tx_pcap={tx}"]
    cmd += ["--", "--config", str(conf), "--idle-exit", str(idle_ms),
            "--stats-json", str(workdir / "STATS.json"), *args]
    (workdir / "cmdline.txt").write_text(" ".join(cmd) + "\n")
    return cmd, prefix


def _finish(workdir: Path, prefix: str, cmd, rc: int, stdout: str, stderr: str,
            started: float, ended: float, nports: int, sent: int) -> pt.RunResult:
    shutil.rmtree(Path("/var/run/dpdk") / prefix, ignore_errors=True)
    (workdir / "stdout.txt").write_text(stdout)
    (workdir / "stderr.txt").write_text(stderr)
    if rc != 0:
        pytest.fail(f"ioamfwd exited with {rc} (workdir {workdir})\ncmd: {' '.join(cmd)}\n"
                    f"--- stdout ---\n{stdout[-6000:]}\n--- stderr ---\n{stderr[-6000:]}")
    try:
        stats = json.loads((workdir / "STATS.json").read_text())
    except (OSError, ValueError) as exc:
        pytest.fail(f"cannot read STATS.json: {exc}\n{stderr[-3000:]}")
    res = pt.RunResult({i: pt.read_pcap(workdir / f"OUT{i}.pcap") for i in range(nports)},
                       stats, started, ended, workdir, stdout, stderr, sent)
    assert stats.get("mbufs_in_use") == 0, f"mbuf leak\n{res.describe()}"
    return res


def parse_lines(text: str, where: str) -> List[dict]:
    """JSON Lines: every line one JSON object (an unterminated last line is
    an error: the writer must only emit whole lines)."""
    if text and not text.endswith("\n"):
        raise AssertionError(f"{where}: output does not end with a newline: {text[-200:]!r}")
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"{where}:{n}: not JSON ({exc}): {line[:300]!r}") from None
        assert isinstance(rec, dict), f"{where}:{n}: not an object: {line[:300]!r}"
        out.append(rec)
    return out


def run_ext(workdir: Path, config_text: str, inputs: Dict[int, Sequence[bytes]], *,
            args: Sequence[str] = (), sink: Optional[str] = "file", nports: int = 2,
            idle_ms: int = pt.IDLE_EXIT_MS) -> ExtRun:
    """Run the appliance once with extra options. ``sink``: "file" (records
    from EXPORT.jsonl), "-" (records from stdout: the lines that start with
    '{'; the exit summary follows them), or None (no --trace-export)."""
    args = list(args)
    export_file = workdir / "EXPORT.jsonl"
    if sink == "file":
        args += ["--trace-export", str(export_file)]
    elif sink == "-":
        args += ["--trace-export", "-"]
    cmd, prefix = _cmd(workdir, config_text, inputs, nports, args, idle_ms)
    started = time.time()
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                              timeout=pt.TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"ioamfwd did not exit within {pt.TIMEOUT_S} s (workdir {workdir})\n"
                    f"{exc.stderr}")
    ended = time.time()
    run = _finish(workdir, prefix, cmd, proc.returncode, proc.stdout, proc.stderr, started,
                  ended, nports, sum(len(v) for v in inputs.values()))
    lines: List[str] = []
    records: List[dict] = []
    if sink == "file":
        text = export_file.read_text() if export_file.exists() else ""
        lines = text.splitlines()
        records = parse_lines(text, str(export_file))
    elif sink == "-":
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        records = parse_lines("".join(ln + "\n" for ln in lines), "stdout")
    return ExtRun(run, records, lines)


# --------------------------------------------------------------------------
# Record comparison
# --------------------------------------------------------------------------

# Words the models cannot predict (ioam_scapy.PLACEHOLDER, encap_model.PH).
_TS_SEC = {0x5EC05EC0, 0x7E570001}
_TS_FRAC = {0x000F423F}
_QDEPTH = {0x0DE90DE9, 0x7E570006}


def check_time(rec: dict, run: pt.RunResult) -> None:
    t = rec.get("time", "")
    assert TIME_RE.match(t), f"time {t!r} is not RFC 3339 UTC with nanoseconds"
    sec = datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    ts = sec.timestamp() + int(t[20:29]) / 1e9
    assert run.started - 1 <= ts <= run.ended + 1, (
        f"record time {t} outside the run [{run.started:.3f}, {run.ended:.3f}]")


def expected_record(pkt: bytes, ns: int, *, event: str, port: str, src: str, dst: str
                    ) -> dict:
    """The record for the trace of namespace ``ns`` in ``pkt`` (an IPv6
    packet as the model left it after this node's fill)."""
    traces = [t for t in ioam.prealloc_traces(pkt) if t.ns == ns]
    assert len(traces) == 1, f"model packet has {len(traces)} traces of namespace {ns}"
    return {"event": event, "port": port, "src": src, "dst": dst,
            **ioam.export_record(traces[0])}


def assert_record(actual: dict, expected: dict, run: pt.RunResult, label: str = "",
                  forwarded: bool = False) -> None:
    """``actual`` (a JSON record) equals ``expected`` except the time, and the
    words a model cannot predict, which are checked for plausibility."""
    check_time(actual, run)
    assert list(actual)[:len(RECORD_KEYS)] == RECORD_KEYS, (
        f"{label}: record keys {list(actual)} (expected the order {RECORD_KEYS})")
    act = {k: v for k, v in actual.items() if k != "time"}
    if "decode_error" in act:
        assert isinstance(act["decode_error"], str) and act["decode_error"], act
        act["decode_error"] = True
    exp = json.loads(json.dumps(expected))
    for eh, ah in zip(exp.get("hops", []), act.get("hops", [])):
        if not isinstance(ah, dict):
            continue
        if eh.get("timestamp_sec") in _TS_SEC and "timestamp_sec" in ah:
            v = ah["timestamp_sec"]
            assert run.started - pt.TS_TOLERANCE_S <= v <= run.ended + pt.TS_TOLERANCE_S, (
                f"{label}: timestamp_sec {v} not within the run")
            eh["timestamp_sec"] = v
        if eh.get("timestamp_frac") in _TS_FRAC and "timestamp_frac" in ah:
            v = ah["timestamp_frac"]
            assert isinstance(v, int) and 0 <= v < 1_000_000, (
                f"{label}: timestamp_frac {v} is not microseconds")
            eh["timestamp_frac"] = v
        if eh.get("queue_depth") in _QDEPTH and "queue_depth" in ah:
            v = ah["queue_depth"]
            assert isinstance(v, int) and v != ioam.U32_NA and v <= max(run.sent, 1) * 1600, (
                f"{label}: queue depth {v} implausible for a forwarded packet")
            eh["queue_depth"] = v
    assert act == exp, (f"{label}: export record differs\nexpected {json.dumps(exp)}\n"
                        f"actual   {json.dumps(act)}")


# --------------------------------------------------------------------------
# Configuration and cases
# --------------------------------------------------------------------------

ME = "db04::2"                 # eth0's address: local delivery
ETH0_MAC, ETH1_MAC = pt.ETH0_MAC, pt.ETH1_MAC
SCHEMA = b"something that will be 4n-aligned"     # 33 octets -> 36 padded

CONFIG = """\
node: {id: 7, id_wide: 77777777}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: true, id: 701, id_wide: 701701}
  - name: eth1
    device: net_pcap1
    mac: 02:00:00:00:02:01
    addresses: [db02::1/64]
    ioam: {enabled: false, id: 702, id_wide: 702702}
namespaces:
  - {id: 123, data: 0xdeadbee7, wide: 0xcafec0caf77dc0de, schema: 777}
  - {id: 124}
  - {id: 0, data: 0x01020304}
schemas:
  - {id: 777, data: "something that will be 4n-aligned"}
routes:
  - {prefix: "db03::/64", port: eth1, via: "db02::2"}
  - {prefix: "db01::/64", port: eth0, via: "db04::1"}
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
  - {address: "db04::1", mac: "02:00:00:00:01:01", port: eth0}
"""

# An upstream node (Athos-like) whose data is synthesised into traces.
UPSTREAM = ioam.NodeProfile(
    node_id=1, node_id_wide=11111111, ingress_id=101, ingress_id_wide=101101,
    egress_id=102, egress_id_wide=102102,
    namespaces={123: ioam.Namespace(0xDEADBEE0, 0xCAFEC0CAF00DC0DE, 777, SCHEMA),
                124: ioam.Namespace(),
                0: ioam.Namespace(0xA0A0A0A0)})
UP_VALUES = {ioam.VAR_TS_SEC: 1_700_000_123, ioam.VAR_TS_FRAC: 654_321, ioam.VAR_QDEPTH: 1500}


def upstream_filled(opt: bytes, hlim: int = 64, nodes: int = 1, nh: int = ioam.NH_ICMPV6
                    ) -> bytes:
    """An HbH (PadN(2) + ``opt`` + padding) in which ``nodes`` upstream
    nodes have already written their data (encap-node fill, hop limit as
    given, decreasing)."""
    hbh = ioam.ext_header(nh, ioam.padn(2) + opt)
    pkt = ioam.icmp_packet("db01::99", ME, ext=hbh, hlim=hlim)
    for i in range(nodes):
        prof = ioam.NodeProfile(**{**UPSTREAM.__dict__, "node_id": UPSTREAM.node_id + 10 * i})
        pkt = ioam.encap_node_fill(ioam.set_hop_limit(pkt, hlim - i - 1), prof, UP_VALUES)
    return pkt[40:40 + (pkt[41] + 1) * 8]


@dataclass
class XCase:
    name: str
    hbh: bytes                      # raw HbH (next header ICMPv6)
    namespaces: List[int]           # traces expected in the export, in order
    port: int = 0
    dst: str = ME
    hlim: int = 64
    event: str = "local"

    def frame(self, tag: int) -> bytes:
        mac = ETH0_MAC if self.port == 0 else ETH1_MAC
        src_mac = pt.ATHOS_MAC if self.port == 0 else pt.ARAMIS_MAC
        pkt = ioam.icmp_packet(src_of(tag), self.dst, ext=self.hbh, hlim=self.hlim, fl=tag,
                               seq=tag)
        return ioam.ether(mac, src_mac, pkt)


def src_of(tag: int) -> str:
    return f"db01::{tag:x}"


def _trace(**kw) -> bytes:
    return ioam.ioam_trace_option(**kw)


def _cases() -> List[XCase]:
    return [
        XCase("bit0_two_upstream", upstream_filled(_trace(type24=0x800000, size=12), nodes=2),
              [123]),
        XCase("full_fff002_oss_schema",
              upstream_filled(_trace(type24=0xFFF002, size=244), nodes=1), [123]),
        XCase("oss_only_no_schema", ioam.linux_hbh(ns=124, type24=0x000002, size=4), [124]),
        XCase("oss_with_schema", ioam.linux_hbh(ns=123, type24=0x800002, size=44), [123]),
        XCase("bits12_21",
              ioam.linux_hbh(ns=0, type24=0x800FFC, size=88, remlen=11,
                             data=bytes(44) + bytes.fromhex("3f000001") + b"".join(
                                 struct.pack("!I", 0x12120000 + i) for i in range(1, 11))),
              [0]),
        XCase("overflow_set_here", upstream_filled(_trace(type24=0xFFF002, size=8), nodes=0),
              [123]),
        XCase("overflow_already_set",
              upstream_filled(_trace(type24=0x800000, size=8, overflow=True,
                                     remlen=1, data=bytes(4) + bytes.fromhex("3f000009")),
                              nodes=0), [123]),
        XCase("loopback_active_flags",
              ioam.linux_hbh(ns=123, type24=0x800000, size=8,
                             flags=ioam.FLAG_LOOPBACK | ioam.FLAG_ACTIVE), [123]),
        XCase("decode_error_leftover",
              ioam.linux_hbh(ns=124, type24=0xC00000, size=12, remlen=0,
                             data=bytes.fromhex("3f000005" "00650066" "3e000004")), [124]),
        XCase("bit23_reserved", ioam.linux_hbh(ns=123, type24=0x800001, size=4), [123]),
        XCase("size244_empty", ioam.linux_hbh(ns=123, type24=0x800000, size=244), [123]),
        XCase("two_traces",
              ioam.ext_header(ioam.NH_ICMPV6, ioam.padn(2) + _trace(ns=123, size=4)
                              + _trace(ns=124, type24=0x400000, size=8)), [123, 124]),
        XCase("unknown_namespace", ioam.linux_hbh(ns=999, size=8), []),
        XCase("incremental_option_type",
              ioam.ext_header(ioam.NH_ICMPV6, ioam.padn(2) + ioam.ioam_other_option(
                  ioam.IOAM_INCREMENTAL, ioam.trace_header(123, 1, 0, 0, 0x800000)
                  + bytes(4))), []),
        XCase("port_not_enabled", ioam.linux_hbh(ns=123, size=8), [], port=1, dst="db02::1"),
        XCase("forwarded_transit", ioam.linux_hbh(ns=123, size=8), [], dst=pt.BETA_RX),
        XCase("hop_limit_1_local", ioam.linux_hbh(ns=123, size=8), [123], hlim=1),
    ]


CASES = _cases()
TAGS = {c.name: i + 1 for i, c in enumerate(CASES)}


def _model(case: XCase, tag: int) -> ioam.ModelResult:
    frame = case.frame(tag)
    prof = pt.profile_for(CONFIG, frame, ingress="eth0" if case.port == 0 else "eth1")
    return ioam.linux_transit(frame[14:], prof)


@pytest.fixture(scope="module")
def file_run(batch_dir):
    inputs: Dict[int, List[bytes]] = {}
    for c in CASES:
        inputs.setdefault(c.port, []).append(c.frame(TAGS[c.name]))
    return run_ext(batch_dir("file"), CONFIG, inputs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_record_equals_trace(case, file_run):
    """Each exported record equals the packet's trace after this node's fill
    (reference 2.10 / 11.4: "content equals the filled area")."""
    tag = TAGS[case.name]
    m = _model(case, tag)
    recs = file_run.by_src(src_of(tag))
    assert [r["namespace"] for r in recs] == case.namespaces, (
        f"{case.name}: records {json.dumps(recs)}\n{file_run.run.describe()}")
    port = "eth0" if case.port == 0 else "eth1"
    for rec, ns in zip(recs, case.namespaces):
        exp = expected_record(m.packet, ns, event=case.event, port=port, src=src_of(tag),
                              dst=case.dst)
        assert_record(rec, exp, file_run.run, case.name)


def test_records_spot_values(file_run):
    """A few values written out literally (independent of the decoder)."""
    def one(name):
        (r,) = file_run.by_src(src_of(TAGS[name]))
        return r
    r = one("bit0_two_upstream")
    assert [(h["hop_limit"], h["node_id"]) for h in r["hops"]] == [(63, 1), (62, 11), (63, 7)]
    assert r["remaining_len"] == 0 and r["trace_type"] == "0x800000" and r["nodelen"] == 1
    r = one("full_fff002_oss_schema")
    me = r["hops"][-1]
    assert len(r["hops"]) == 2 and r["nodelen"] == 15 and r["trace_type"] == "0xfff002"
    assert r["remaining_len"] == (244 - 100 - 100) // 4
    assert me["opaque_state_snapshot"] == {"schema_id": 777, "length": 36,
                                           "data": (SCHEMA + b"\0\0\0").hex()}
    assert me["namespace_data"] == "0xdeadbee7"
    assert me["namespace_data_wide"] == "0xcafec0caf77dc0de"
    assert me["checksum_complement"] == "0xffffffff"
    assert (me["ingress_if_id"], me["egress_if_id"]) == (701, 0xFFFF)
    assert (me["ingress_if_id_wide"], me["egress_if_id_wide"]) == (701701, 0xFFFFFFFF)
    assert me["queue_depth"] == 0xFFFFFFFF and me["transit_delay"] == 0xFFFFFFFF
    assert (me["hop_limit"], me["hop_limit_wide"], me["node_id_wide"]) == (63, 63, 77777777)
    assert r["hops"][0]["timestamp_sec"] == 1_700_000_123
    assert one("oss_only_no_schema")["hops"] == [
        {"opaque_state_snapshot": {"schema_id": 0xFFFFFF, "length": 0, "data": ""}}]
    r = one("bits12_21")
    assert r["hops"][0]["bit12"] == "0x12120001" and r["hops"][0]["bit21"] == "0x1212000a"
    assert r["hops"][1]["bit17"] == "0xffffffff"
    r = one("overflow_set_here")
    assert r["flags"]["overflow"] is True and r["hops"] == [] and r["remaining_len"] == 2
    r = one("overflow_already_set")
    assert r["flags"]["overflow"] is True and r["hops"] == [{"hop_limit": 63, "node_id": 9}]
    r = one("loopback_active_flags")
    assert r["flags"] == {"overflow": False, "loopback": True, "active": True}
    r = one("decode_error_leftover")
    assert "decode_error" in r and r["hops"] == [
        {"hop_limit": 63, "node_id": 5, "ingress_if_id": 101, "egress_if_id": 102}]
    assert one("hop_limit_1_local")["hops"] == [{"hop_limit": 0, "node_id": 7}]


def test_file_counters(file_run):
    run = file_run.run
    n_records = sum(len(c.namespaces) for c in CASES)
    assert len(file_run.records) == n_records, file_run.lines
    assert run.stats["export"] == {"written": n_records, "lost": 0}, run.describe()
    assert run.ioam.get("ioam_exported") == n_records, run.describe()
    assert run.ioam.get("ioam_export_dropped", 0) == 0
    # Every case for the node is an Echo Request: none is left for
    # local_delivery, each is answered (RFC 4443 4.2) back to db01::<tag>
    # out of eth0, from the address it was sent to, without its HbH.
    local = [c for c in CASES if c.dst != pt.BETA_RX]
    assert run.drops == {}, run.describe()
    assert run.icmp == {"icmp_echo_reply": len(local)}, run.describe()
    replies = pt.answers(run.out[0])
    for c in local:
        tag = TAGS[c.name]
        want = ioam.ether(pt.ATHOS_MAC, ETH0_MAC, ioam.echo_reply_for(c.frame(tag)[14:]))
        assert replies.get(tag) == [want], f"{c.name}: Echo Reply\n{run.describe()}"
    assert len(run.out[1]) == 1 and len(run.out[0]) == len(local)


def test_file_records_in_arrival_order(file_run):
    srcs = [r["src"] for r in file_run.records]
    order = [src_of(TAGS[c.name]) for c in CASES for _ in c.namespaces]
    assert srcs == order


# --------------------------------------------------------------------------
# stdout sink
# --------------------------------------------------------------------------

def test_stdout_sink(batch_dir):
    """``--trace-export -``: the same records as JSON lines on stdout."""
    sel = [c for c in CASES if c.name in ("bit0_two_upstream", "oss_only_no_schema",
                                          "two_traces", "unknown_namespace")]
    frames = [c.frame(TAGS[c.name]) for c in sel]
    x = run_ext(batch_dir("stdout"), CONFIG, {0: frames}, sink="-")
    assert [r["src"] for r in x.records] == [src_of(TAGS[c.name]) for c in sel
                                             for _ in c.namespaces], x.run.stdout
    for c in sel:
        m = _model(c, TAGS[c.name])
        for rec, ns in zip(x.by_src(src_of(TAGS[c.name])), c.namespaces):
            assert_record(rec, expected_record(m.packet, ns, event="local", port="eth0",
                                               src=src_of(TAGS[c.name]), dst=ME),
                          x.run, c.name)
    assert x.run.stats["export"] == {"written": 4, "lost": 0}


# --------------------------------------------------------------------------
# Unix socket sink
# --------------------------------------------------------------------------

def _pcap_header() -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _pcap_record(frame: bytes, n: int) -> bytes:
    return struct.pack("<IIII", 1_700_000_000 + n, 0, len(frame), len(frame)) + frame


def test_unix_socket_sink(batch_dir):
    """``--trace-export unix:PATH``: a listening stream socket, mode 0600;
    every connected client gets every line."""
    wd = batch_dir("unix")
    sock_path = wd / "export.sock"
    sel = [c for c in CASES if c.name in ("bit0_two_upstream", "full_fff002_oss_schema",
                                          "two_traces", "overflow_set_here")]
    frames = [c.frame(TAGS[c.name]) for c in sel]
    n_lines = sum(len(c.namespaces) for c in sel)
    cmd, prefix = _cmd(wd, CONFIG, {}, 2, ["--trace-export", f"unix:{sock_path}"], 3000,
                       fifo_port=0)
    fifo = wd / "IN0.pcap"
    started = time.time()
    proc = subprocess.Popen(cmd, cwd=wd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    clients: List[socket.socket] = []
    wfd = -1
    try:
        deadline = time.time() + 20
        while wfd < 0:                          # the PMD opens the pipe at probe time
            try:
                wfd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert proc.poll() is None, "ioamfwd exited before opening its rx pipe"
                assert time.time() < deadline, "ioamfwd never opened its rx pipe"
                time.sleep(0.005)
        os.set_blocking(wfd, True)
        os.write(wfd, _pcap_header())
        while not sock_path.exists():
            assert proc.poll() is None, "ioamfwd exited before creating the socket"
            assert time.time() < deadline, "no export socket appeared"
            time.sleep(0.005)
        for _ in range(2):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            clients.append(s)
            while True:       # the file exists from bind(); listen() may follow
                try:
                    s.connect(str(sock_path))
                    break
                except ConnectionRefusedError:
                    assert time.time() < deadline, "the export socket refuses clients"
                    time.sleep(0.005)
        time.sleep(0.1)                          # >= several 5 ms exporter ticks
        os.write(wfd, b"".join(_pcap_record(f, i) for i, f in enumerate(frames)))
        os.close(wfd)
        wfd = -1
        got = [b"", b""]
        deadline = time.time() + 20
        while any(g.count(b"\n") < n_lines for g in got) and time.time() < deadline:
            r, _, _ = select.select(clients, [], [], 0.5)
            for s in r:
                i = clients.index(s)
                data = s.recv(65536)
                if data:
                    got[i] += data
                elif got[i].count(b"\n") < n_lines:
                    pytest.fail(f"client {i} disconnected after {got[i]!r}")
        # The mode is read once the appliance is surely past its setup (it
        # binds, listens, then chmods: a check at first sight would race).
        st = os.stat(sock_path)
        assert stat.S_ISSOCK(st.st_mode)
        mode = stat.S_IMODE(st.st_mode)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if wfd >= 0:
            os.close(wfd)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    ended = time.time()
    run = _finish(wd, prefix, cmd, proc.returncode, stdout, stderr, started, ended, 2,
                  len(frames))
    for s in clients:                            # nothing more after the exit
        s.settimeout(2)
        rest = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            rest += d
        s.close()
        assert rest == b"", rest
    assert mode == 0o600, f"socket mode {mode:o}, expected 600"
    assert got[0] == got[1], "the two clients got different streams"
    recs = parse_lines(got[0].decode(), "socket")
    assert len(recs) == n_lines, got[0]
    assert [r["src"] for r in recs] == [src_of(TAGS[c.name]) for c in sel
                                        for _ in c.namespaces]
    for c in sel:
        m = _model(c, TAGS[c.name])
        for rec, ns in zip([r for r in recs if r["src"] == src_of(TAGS[c.name])],
                           c.namespaces):
            assert_record(rec, expected_record(m.packet, ns, event="local", port="eth0",
                                               src=src_of(TAGS[c.name]), dst=ME), run, c.name)
    assert run.stats["export"] == {"written": n_lines, "lost": 0}, run.describe()
    assert run.ioam.get("ioam_exported") == n_lines


# --------------------------------------------------------------------------
# Transit export
# --------------------------------------------------------------------------

TRANSIT_CONFIG = CONFIG.replace(
    '  - {prefix: "db01::/64", port: eth0, via: "db04::1"}\n',
    '  - {prefix: "db01::/64", port: eth0, via: "db04::1"}\n'
    '  - prefix: "db05::/64"\n    port: eth1\n    via: "db02::2"\n'
    '    encap: {mode: encap, tundst: "db02::2", trace: {type: 0xc00000, ns: 123, size: 16}}\n'
    '  - prefix: "db06::/64"\n    port: eth1\n    via: "db02::2"\n'
    '    encap: {mode: inline, trace: {type: 0x800000, ns: 124, size: 8}}\n')


def test_transit_export(batch_dir):
    """``--trace-export-transit``: forwarded packets' traces are exported as
    "transit" (after this node's fill, egress = the forwarding port); the
    trace this node inserts on an encap route never is."""
    assert TRANSIT_CONFIG != CONFIG
    hbh = upstream_filled(_trace(type24=0xFFF002, size=244), nodes=1)
    hbh0 = ioam.linux_hbh(ns=123, type24=0x800000, size=8)

    def fr(tag, dst, ext=b"", port=0, ns_hbh=None):
        pkt = ioam.icmp_packet(src_of(tag), dst, ext=ext, hlim=64, fl=tag, seq=tag)
        return ioam.ether(ETH0_MAC if port == 0 else ETH1_MAC,
                          pt.ATHOS_MAC if port == 0 else pt.ARAMIS_MAC, pkt)

    encap_in = ioam.ether(ETH0_MAC, pt.ATHOS_MAC, ioam.encap_packet(
        src_of(5), "db03::2", ioam.icmp_packet("db01::1", "db03::9", fl=5, seq=5),
        hbh=ioam.linux_hbh(nh=ioam.NH_IPV6, ns=123, type24=0x800000, size=12), hlim=64, fl=5))
    frames = {
        1: fr(1, pt.BETA_RX, hbh),            # transit, full trace, egress eth1
        2: fr(2, "db05::1"),                   # encap route inserts: nothing exported
        3: fr(3, "db05::1", hbh0),             # transit fill, then encapsulated
        4: fr(4, "db06::1"),                   # inline route inserts: nothing exported
        5: encap_in,                           # tunnel of others: outer trace is transit
        6: fr(6, ME, hbh0),                    # local
        7: fr(7, pt.BETA_RX, ioam.linux_hbh(ns=999, size=8)),   # unknown ns: nothing
    }
    x = run_ext(batch_dir("transit"), TRANSIT_CONFIG, {0: list(frames.values())},
                args=["--trace-export-transit"])
    run = x.run
    assert [r["src"] for r in x.records] == [src_of(t) for t in (1, 3, 5, 6)], (
        json.dumps(x.records, indent=1) + run.describe())
    for tag, event, dst in ((1, "transit", pt.BETA_RX), (3, "transit", "db05::1"),
                            (5, "transit", "db03::2"), (6, "local", ME)):
        f = frames[tag]
        prof = pt.profile_for(TRANSIT_CONFIG, f)
        m = ioam.linux_transit(f[14:], prof)
        (rec,) = x.by_src(src_of(tag))
        assert_record(rec, expected_record(m.packet, 123, event=event, port="eth0",
                                           src=src_of(tag), dst=dst), run, f"tag {tag}")
    me = x.by_src(src_of(1))[0]["hops"][-1]
    assert (me["ingress_if_id"], me["egress_if_id"]) == (701, 702)
    assert me["queue_depth"] != 0xFFFFFFFF
    assert run.ioam.get("ioam_exported") == 4 and run.stats["export"]["written"] == 4
    assert run.ioam.get("ioam_inserted") == 3, run.describe()
    assert len(run.out[1]) == 6, run.describe()


def test_no_transit_export_without_option(file_run):
    """Without --trace-export-transit a forwarded packet is not exported."""
    assert file_run.by_src(src_of(TAGS["forwarded_transit"])) == []
    assert len(file_run.run.out[1]) == 1


# --------------------------------------------------------------------------
# Ring overflow and option limits
# --------------------------------------------------------------------------

N_FLOOD = 2000


def test_ring_overflow(batch_dir):
    """``--export-ring-size 16`` with 2000 traces in one burst: records are
    dropped and counted, never waited for; the counters add up."""
    base = XCase("flood", ioam.linux_hbh(ns=123, size=4), [123]).frame(1)
    frames = [base[:15] + bytes([base[15] & 0xF0 | (i >> 16) & 0x0F]) +
              struct.pack("!H", i & 0xFFFF) + base[18:] for i in range(N_FLOOD)]
    x = run_ext(batch_dir("flood"), CONFIG, {0: frames},
                args=["--export-ring-size", "16"])
    ev = x.run.ioam
    exported, dropped = ev.get("ioam_exported", 0), ev.get("ioam_export_dropped", 0)
    assert dropped > 0, x.run.describe()
    assert exported + dropped == N_FLOOD, x.run.describe()
    assert x.run.stats["export"] == {"written": exported, "lost": 0}, x.run.describe()
    assert len(x.records) == exported
    # Echo Requests to the node: each is answered (not rate limited), and
    # the replies are all alike (flow label 0, the same id/seq/data).
    assert x.run.drops == {}, x.run.describe()
    assert x.run.icmp == {"icmp_echo_reply": N_FLOOD}, x.run.describe()
    want = ioam.ether(pt.ATHOS_MAC, ETH0_MAC, ioam.echo_reply_for(base[14:]))
    assert x.run.out[0] == [want] * N_FLOOD and x.run.out[1] == []
    assert all(r["hops"] == [{"hop_limit": 63, "node_id": 7}] for r in x.records)


@pytest.mark.parametrize("size", ["15", "16777217", "0"])
def test_ring_size_out_of_range_refused(size, tmp_path):
    cmd, prefix = _cmd(tmp_path, CONFIG, {}, 2, ["--trace-export", str(tmp_path / "x"),
                                                 "--export-ring-size", size], 100)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=pt.TIMEOUT_S,
                          check=False)
    shutil.rmtree(Path("/var/run/dpdk") / prefix, ignore_errors=True)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "export-ring-size" in proc.stdout + proc.stderr
