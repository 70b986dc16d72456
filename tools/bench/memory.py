"""Memory and route-table figures (issue 7, item 4).

For each configuration ioamfwd is started idle (net_pcap ports on an empty
capture) with --no-huge, and the running process is read through DPDK
telemetry: heap totals, memzones (mempools, rings) and mempools. What is
allocated with rte_malloc outside memzones is, in ioamfwd, mostly the route
table's trie (rte_fib6 TRIE: tbl24, tbl8 groups, tbl8 index pool); its RIB
is a mempool (MP_fib6_*). Timings come from the process's own log stamps:
launch -> first EAL line (reading and checking the YAML, which happens
before rte_eal_init), launch -> "forwarding", the "route table: ... built in
N ms" line (snapshot and FIB build), and SIGHUP -> "configuration reloaded"
(read the file again and rebuild everything while the old snapshot still
serves). The smallest --no-huge -m that starts, and that also reloads, is
searched among a few sizes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import time

import pcapgen as pg
import runner as rn
import scenarios as sc
from telemetry import Telemetry, process_rss_kb

MiB = 1 << 20


ROUTE_TABLE = re.compile(
    r" route table: (\d+) prefixes \(\+(\d+) anchors\); second-level groups: (\d+) used, at "
    r"most (\d+) reserved, (\d+) allocated; (\d)-octet entries, ([\d.]+) MiB \+ ([\d.]+) MiB "
    r"of RIB nodes; (?:\S+) lookup; built in (\d+) ms")


def route_table(text: str) -> dict:
    """ioamfwd's own account of its FIB (logged once at start)."""
    m = ROUTE_TABLE.search(text)
    if not m:
        return {}
    keys = ("prefixes", "anchors", "groups_used", "groups_reserved", "groups_allocated",
            "entry_bytes")
    out = {k: int(v) for k, v in zip(keys, m.groups()[:6])}
    out["trie_mib"] = float(m.group(7))
    out["rib_mib"] = float(m.group(8))
    out["build_s"] = int(m.group(9)) / 1000.0
    return out


class Idle:
    """ioamfwd started on idle net_pcap ports, for telemetry and reloads."""

    def __init__(self, env: rn.Env, config: str, workdir: str, tag: str, mem_mb: int,
                 devices: list[str], empty_pcap: str):
        self.tag = tag
        self.prefix = f"{env.prefix}-{tag}"
        self.err = os.path.join(workdir, f"{tag}.err")
        vdevs = [f"{d},rx_pcap={empty_pcap}" if d.startswith("net_pcap") else f"{d},no-rx=1"
                 for d in devices]
        lc = ["--lcores", env.lcores] if "@" in env.lcores else ["-l", env.lcores]
        cmd = [env.ioamfwd, *lc, "--no-pci", "--file-prefix", self.prefix,
               "--no-huge", "-m", str(mem_mb), "--no-shconf"]
        for v in vdevs:
            cmd += ["--vdev", v]
        cmd += ["--", "--config", config]
        with open(os.path.join(workdir, f"{tag}.cmd"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        self.t_launch = dt.datetime.now()
        with open(self.err, "w") as fe:
            self.proc = rn.spawn(env, env.prio() + cmd, stdout=subprocess.DEVNULL, stderr=fe,
                                 stdin=subprocess.DEVNULL)

    def wait_forwarding(self, timeout: float = 600) -> dict:
        """Timings of start-up, or {"error": ...} if it gave up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = _read(self.err)
            if " forwarding with " in text or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        text = _read(self.err)
        ports = [ln for ln in text.splitlines() if re.search(r" info port \S+ = ", ln)]
        fwd = [ln for ln in text.splitlines() if " forwarding with " in ln]
        out = {}
        stamped = [ln for ln in text.splitlines() if LOG_OK(ln)]
        if stamped:
            # ioamfwd reads and checks its YAML before rte_eal_init logs a line.
            out["config_load_s"] = (rn.log_time(stamped[0]) - self.t_launch).total_seconds()
        if ports:
            out["start_to_ports_s"] = (rn.log_time(ports[-1]) - self.t_launch).total_seconds()
        table = route_table(text)
        if table:
            out["route_table"] = table
        if fwd:
            out["start_to_forwarding_s"] = (rn.log_time(fwd[0]) - self.t_launch).total_seconds()
        else:
            errs = [ln for ln in text.splitlines() if " error " in ln or "failed" in ln]
            out["error"] = (errs[-1].split(" error ", 1)[-1] if errs else
                            f"no 'forwarding' line (exit code {self.proc.poll()})")
            fail = [ln for ln in text.splitlines() if " error " in ln]
            if fail and LOG_OK(fail[-1]):
                out["start_to_error_s"] = (rn.log_time(fail[-1]) - self.t_launch).total_seconds()
        return out

    def reload(self, timeout: float = 600) -> dict:
        before = _read(self.err).count("configuration reloaded")
        sent = dt.datetime.now()
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = _read(self.err)
            lines = [ln for ln in text.splitlines() if "configuration reloaded" in ln]
            if len(lines) > before:
                return {"reload_s": (rn.log_time(lines[-1]) - sent).total_seconds()}
            refused = [ln for ln in text.splitlines() if "reload refused" in ln]
            if refused:
                return {"reload_error": refused[-1].split(" error ", 1)[-1]}
            if self.proc.poll() is not None:
                return {"reload_error": f"exited with {self.proc.returncode}"}
            time.sleep(0.02)
        return {"reload_error": "timeout"}

    def telemetry(self) -> dict:
        t = Telemetry(self.prefix)
        try:
            m = t.memory()
        finally:
            t.close()
        m["rss_kb"] = process_rss_kb(self.proc.pid)
        return m

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def LOG_OK(line: str) -> bool:
    return bool(rn.LOG_TS.match(line))


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def summarize(mem: dict) -> dict:
    """Group a telemetry memory dump into the report's rows (octets)."""
    alloc = sum(int(h["Alloc_size"]) for h in mem["heaps"].values() if h)
    zones = mem["memzones"]
    groups = {"mbuf pool": 0, "rings": 0, "FIB RIB nodes (mempool)": 0, "other memzones": 0}
    for name, size in zones.items():
        if name.startswith("MP_ioamfwd_mbufs"):
            groups["mbuf pool"] += size
        elif name.startswith("MP_fib6") or name.startswith("MP_") and "fib" in name:
            groups["FIB RIB nodes (mempool)"] += size
        elif name.startswith("RG_") or "RING" in name.upper():
            groups["rings"] += size
        else:
            groups["other memzones"] += size
    groups["rte_malloc outside memzones (FIB trie, hashes, ...)"] = alloc - sum(zones.values())
    groups["heap allocated (total)"] = alloc
    return groups


def min_mem(env: rn.Env, config: str, workdir: str, tag: str, devices: list[str],
            empty_pcap: str, candidates: list[int], reload: bool) -> int | None:
    """Smallest --no-huge -m (MiB) from `candidates` with which ioamfwd
    starts (and, with `reload`, also rebuilds on SIGHUP)."""
    for m in candidates:
        d = Idle(env, config, workdir, f"{tag}-m{m}", m, devices, empty_pcap)
        try:
            ok = "error" not in d.wait_forwarding(120)
            if ok and reload:
                ok = "reload_error" not in d.reload(120)
        finally:
            d.stop()
        if ok:
            return m
    return None


def run_memory(env: rn.Env, workdir: str, big_routes: int = 100_000,
               log=print) -> dict:
    """All memory and table-build measurements; returns a JSON-able dict."""
    os.makedirs(workdir, exist_ok=True)
    empty = os.path.join(workdir, "empty.pcap")
    pg.write_pcap(empty, [])
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    results: dict = {"cases": []}

    cases = [
        ("seed Porthos (config/porthos.yaml)", os.path.join(repo, "config", "porthos.yaml"),
         ["net_pcap0", "net_pcap1"], None, 512),
        ("benchmark config (1 000 extra routes)", None, ["net_pcap0", "net_null0"],
         dict(extra_routes=1000), 512),
        (f"{big_routes:,} routes via one gateway".replace(",", " "), None,
         ["net_pcap0", "net_null0"], dict(gateway_routes=big_routes), 512),
    ]
    cands = [32, 48, 64, 96, 128, 160, 192, 256, 384, 512, 768, 1024]
    for i, (title, cfg, devices, gen, mem_mb) in enumerate(cases):
        if cfg is None:
            cfg = os.path.join(workdir, f"mem{i}.yaml")
            with open(cfg, "w") as f:
                f.write(sc.config_yaml(None, **gen))
        entries = _table_entries(cfg)
        log(f"  memory: {title}: table of {entries} entries, --no-huge -m {mem_mb}")
        case = {"title": title, "config": cfg, "table_entries": entries, "mem_mb": mem_mb,
                "config_bytes": os.path.getsize(cfg)}
        d = Idle(env, cfg, workdir, f"mem{i}", mem_mb, devices, empty)
        try:
            case.update(d.wait_forwarding())
            if "error" not in case:
                case["telemetry"] = d.telemetry()
                case["groups"] = summarize(case["telemetry"])
                # Twice: the first reload also faults in the heap pages the
                # second table takes.
                case.update(d.reload())
                if "reload_s" in case:
                    first = case.pop("reload_s")
                    case.update(d.reload())
                    case["first_reload_s"] = first
                case["rss_after_reload_kb"] = process_rss_kb(d.proc.pid)
        finally:
            d.stop()
        if "error" not in case:
            case["min_mem_mb_start"] = min_mem(env, cfg, workdir, f"min{i}", devices, empty,
                                               cands, reload=False)
            case["min_mem_mb_reload"] = min_mem(
                env, cfg, workdir, f"minr{i}", devices, empty,
                [c for c in cands if c >= (case["min_mem_mb_start"] or 0)], reload=True)
        results["cases"].append(case)
    return results


def _table_entries(config: str) -> int:
    """FIB entries ioamfwd builds: routes + connected prefixes + local /128s."""
    text = _read(config)
    routes = len(re.findall(r"^\s*- (?:\{\s*)?prefix:", text, re.M))
    addrs = re.findall(r"addresses:\s*\[([^\]]*)\]", text)
    n_addr = sum(len([a for a in a_.split(",") if a.strip()]) for a_ in addrs)
    return routes + 2 * n_addr  # each address: a connected prefix and a local /128
