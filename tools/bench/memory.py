"""Memory and route-table figures (issue 7, item 4).

For each configuration ioamfwd is started idle (net_pcap ports on an empty
capture) with --no-huge, and the running process is read through DPDK
telemetry: heap totals, memzones (mempools, rings) and mempools. What is
allocated with rte_malloc outside memzones is, in ioamfwd, mostly the route
table (rte_fib6 TRIE: tbl24, tbl8 groups, tbl8 index pool). Timings come
from the process's own log stamps: start -> last "port" line (config load,
EAL init, ports), "port" -> "forwarding" (snapshot and FIB build), and a
SIGHUP -> "configuration reloaded" (a whole rebuild while the old snapshot
is still alive).

The 100 000-route table is also built with DPDK's own dpdk-test-fib, to give
the FIB's real requirement independently of ioamfwd's sizing formula.
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


def fib_formula(table_entries: int, nh_bytes: int = 2) -> dict:
    """ioamfwd's rte_fib6 sizing (src/dataplane/snapshot.cpp) and what DPDK
    22.11's trie_create allocates for it (lib/fib/trie.c)."""
    max_routes = max(64, table_entries)
    num_tbl8 = 256 + 14 * max_routes
    return {
        "max_routes": max_routes,
        "num_tbl8": num_tbl8,
        "num_tbl8_limit": (1 << (8 * nh_bytes - 1)) - 1,
        "tbl24": (1 << 24) * nh_bytes,
        "tbl8": 256 * nh_bytes * (num_tbl8 + 1),
        "tbl8_pool": 4 * num_tbl8,
    }


def exact_tbl8_reservation(prefixes: list[tuple[bytes, int]]) -> int:
    """tbl8 groups rte_fib6 TRIE reserves for these routes when each is added
    without a covering route (trie_modify's depth_diff): (ceil(d/8) - 3)
    for every depth d > 24. An upper bound when some routes cover others."""
    return sum((d + 7) // 8 - 3 for _, d in prefixes if d > 24)


class Idle:
    """ioamfwd started on idle net_pcap ports, for telemetry and reloads."""

    def __init__(self, env: rn.Env, config: str, workdir: str, tag: str, mem_mb: int,
                 devices: list[str], empty_pcap: str):
        self.tag = tag
        self.prefix = f"{env.prefix}-{tag}"
        self.err = os.path.join(workdir, f"{tag}.err")
        vdevs = [f"{d},rx_pcap={empty_pcap}" if d.startswith("net_pcap") else f"{d},no-rx=1"
                 for d in devices]
        cmd = [env.ioamfwd, "-l", env.lcores, "--no-pci", "--file-prefix", self.prefix,
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
        if ports:
            out["start_to_ports_s"] = (rn.log_time(ports[-1]) - self.t_launch).total_seconds()
        if fwd:
            out["start_to_forwarding_s"] = (rn.log_time(fwd[0]) - self.t_launch).total_seconds()
            if ports:
                out["fib_build_s"] = (rn.log_time(fwd[0]) - rn.log_time(ports[-1])).total_seconds()
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
    groups["rte_malloc outside memzones (FIB tables, hashes, ...)"] = alloc - sum(zones.values())
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


def test_fib(workdir: str, routes: list[tuple[str, int]], nh_bytes: int, num_tbl8: int,
             mem_mb: int) -> dict:
    """Build the table with dpdk-test-fib (TRIE, --no-huge); returns whether
    it fitted and the average add cost in TSC cycles."""
    rf = os.path.join(workdir, "routes.txt")
    if not os.path.exists(rf):
        with open(rf, "w") as f:
            for p, d in routes:
                f.write(f"{p}/{d} 1\n")
    cmd = ["dpdk-test-fib", "--no-huge", "-m", str(mem_mb), "--no-pci", "--no-shconf",
           "--file-prefix", f"testfib{os.getpid()}", "--", "-6", "-b", "trie", "-e", str(nh_bytes),
           "-g", str(num_tbl8), "-f", rf, "-l", "1000"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    adds = [float(x) for x in re.findall(r"AVG FIB add ([\d.]+)", out)]
    ok = "AVG FIB lookup" in out
    r = {"ok": ok, "cmd": " ".join(cmd)}
    if adds:
        r["add_cycles"] = sorted(adds)[len(adds) // 2]
    if not ok:
        errs = [ln for ln in out.splitlines() if "Can not" in ln or "failed" in ln]
        r["error"] = errs[-1] if errs else out[-300:]
    return r


def run_memory(env: rn.Env, workdir: str, big_routes: int = 100_000,
               log=print) -> dict:
    """All memory and table-build measurements; returns a JSON-able dict."""
    os.makedirs(workdir, exist_ok=True)
    empty = os.path.join(workdir, "empty.pcap")
    pg.write_pcap(empty, [])
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    results: dict = {"cases": []}
    max_ok = (32767 - 256) // 14  # largest table ioamfwd's formula allows with 2-octet next hops

    cases = [
        ("seed Porthos (config/porthos.yaml)", os.path.join(repo, "config", "porthos.yaml"),
         ["net_pcap0", "net_pcap1"], None, 512),
        ("benchmark config (1 000 extra routes)", None, ["net_pcap0", "net_null0"],
         dict(extra_routes=1000), 512),
        (f"largest table that loads ({max_ok} entries)", None, ["net_pcap0", "net_null0"],
         dict(gateway_routes=max_ok - 5), 512),
        (f"{big_routes} routes via one gateway", None, ["net_pcap0", "net_null0"],
         dict(gateway_routes=big_routes), 2048),
    ]
    for i, (title, cfg, devices, gen, mem_mb) in enumerate(cases):
        if cfg is None:
            cfg = os.path.join(workdir, f"mem{i}.yaml")
            with open(cfg, "w") as f:
                f.write(sc.config_yaml(None, **gen))
        entries = _table_entries(cfg)
        log(f"  memory: {title}: table of {entries} entries, --no-huge -m {mem_mb}")
        case = {"title": title, "config": cfg, "table_entries": entries, "mem_mb": mem_mb,
                "fib_formula": fib_formula(entries)}
        d = Idle(env, cfg, workdir, f"mem{i}", mem_mb, devices, empty)
        try:
            case.update(d.wait_forwarding())
            if "error" not in case:
                case["telemetry"] = d.telemetry()
                case["groups"] = summarize(case["telemetry"])
                case.update(d.reload())
                case["rss_after_reload_kb"] = process_rss_kb(d.proc.pid)
        finally:
            d.stop()
        if "error" not in case and i < 3:
            cands = [32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]
            case["min_mem_mb_start"] = min_mem(env, cfg, workdir, f"min{i}", devices, empty,
                                               cands, reload=False)
            case["min_mem_mb_reload"] = min_mem(
                env, cfg, workdir, f"minr{i}", devices, empty,
                [c for c in cands if c >= (case["min_mem_mb_start"] or 0)], reload=True)
        results["cases"].append(case)

    # The 100 000-route table with DPDK's own tool: what the FIB really needs.
    routes = [(f"2001:db8:{i >> 16:x}:{i & 0xffff:x}::", 64) for i in range(big_routes)]
    need = exact_tbl8_reservation([(b"", d) for _, d in routes])
    log(f"  memory: dpdk-test-fib, {big_routes} /64 routes, num_tbl8 {need}")
    fib = {"routes": big_routes, "num_tbl8_needed": need, "runs": []}
    for nh, g, m in ((2, 32767, 1024), (4, need - 1, 1536), (4, need, 1536),
                     (4, need, 640), (4, need, 700), (4, 256 + 14 * (big_routes + 5), 2048),
                     (8, need, 1400)):
        r = test_fib(workdir, routes, nh, g, m)
        r.update({"nh_bytes": nh, "num_tbl8": g, "mem_mb": m})
        fib["runs"].append(r)
    results["test_fib"] = fib
    return results


def _table_entries(config: str) -> int:
    """FIB entries ioamfwd builds: routes + connected prefixes + local /128s."""
    text = _read(config)
    routes = len(re.findall(r"^\s*- (?:\{\s*)?prefix:", text, re.M))
    addrs = re.findall(r"addresses:\s*\[([^\]]*)\]", text)
    n_addr = sum(len([a for a in a_.split(",") if a.strip()]) for a_ in addrs)
    return routes + 2 * n_addr  # each address: a connected prefix and a local /128
