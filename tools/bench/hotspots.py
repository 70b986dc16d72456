"""Where the worker's cycles go, per scenario.

* perf (software clock sampling: this KVM guest has no PMU, so `perf stat -e
  instructions` says <not supported> but `perf record -e cpu-clock` works):
  samples of the worker thread only, each ioamfwd address resolved with
  `addr2line -f -i` and charged to the stage it was inlined into (the
  stages are inlined into Worker::process_burst), DPDK libraries by DSO.
  The shares are turned into cycles per packet with the same run's rate.
* callgrind (instruction counts, deterministic, immune to the neighbours):
  only worker_main and what it calls is collected; instructions per packet
  by function, and by source line for ioamfwd's own code. testpmd (stripped:
  no function to collect from) is counted whole over a short and a long run
  of the same vdevs; the difference over the difference in packets is its
  cost per forwarded packet, start-up and exit cancelling out. That makes
  ioamfwd/testpmd a deterministic ratio too, beside the wall-clock one.

Needs a binary with debug info (scripts/bench builds build-bench as release
with -g, which does not change the generated code).
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import time

import runner as rn

# Outermost ioamfwd function in an inline chain -> stage. process_burst and
# worker_main are the containers the stages are inlined into.
STAGES = [
    ("stage_parse", "parse (Ethernet, IPv6, HbH walk)"),
    ("strip_ioam", "edge strip"),
    ("parse_ipv6", "parse (Ethernet, IPv6, HbH walk)"),
    ("parse_hbh", "parse (Ethernet, IPv6, HbH walk)"),
    ("check_ioam_option", "parse (Ethernet, IPv6, HbH walk)"),
    ("stage_route", "route (checks, next hop, neighbour)"),
    ("lookup_neighbor", "route (checks, next hop, neighbour)"),
    ("choose_encap", "encap (insert HbH / outer header)"),
    ("stage_encap", "encap (insert HbH / outer header)"),
    ("stage_ioam", "ioam (fill node data)"),
    ("fill_trace", "ioam (fill node data)"),
    ("trace_wants_time", "ioam (fill node data)"),
    ("export_trace", "ioam export"),
    ("stage_output", "output (L2 rewrite, tx buffer)"),
    ("decapsulate", "decap (locate inner, strip outer)"),
    ("locate_inner", "decap (locate inner, strip outer)"),
    ("flush", "tx burst call (TxBuffer::flush)"),
    ("drain", "tx burst call (TxBuffer::flush)"),
    ("reader_quiescent", "loop (rx call, QSBR, drain timer)"),
    ("acquire", "loop (rx call, QSBR, drain timer)"),
]
DSO_LABELS = [
    ("librte_net_pcap", "framework: net_pcap rx (alloc + copy)"),
    ("librte_net_null", "framework: net_null tx (mbuf free)"),
    ("librte_mempool", "framework: mempool"),
    ("librte_ring", "framework: mempool"),
    ("librte_mbuf", "framework: mempool"),
    ("librte_fib", "route: rte_fib6_lookup_bulk"),
    ("librte_hash", "route: neighbour hash"),
    ("librte_rcu", "loop (rx call, QSBR, drain timer)"),
    ("ld-linux", "__tls_get_addr (per-lcore TLS from PIC code)"),
    ("libc.so", "libc (memcpy/memmove/clock_gettime)"),
    ("vdso", "vdso clock_gettime"),
    ("kernel", "kernel (timer ticks, scheduling)"),
]


def _stage_of(chain: list[str]) -> str:
    for fn in reversed(chain):  # outermost first
        if fn.startswith("ioamfwd::dp::worker_main") or "process_burst" in fn:
            continue
        for key, label in STAGES:
            if key in fn:
                return label
    if any("worker_main" in f for f in chain):
        return "loop (rx call, QSBR, drain timer)"
    return "process_burst glue (stage calls, meta setup)"


def _addr2line(binary: str, addrs: list[int]) -> dict[int, tuple[list[str], str]]:
    """addr -> (inline chain of function names innermost first, innermost file:line)."""
    out: dict[int, tuple[list[str], str]] = {}
    if not addrs:
        return out
    # -a prints each address before its (function, file:line) pairs.
    p = subprocess.run(["addr2line", "-a", "-f", "-i", "-C", "-e", binary],
                       input="".join(f"{a:#x}\n" for a in addrs),
                       capture_output=True, text=True, check=True)
    cur, chain, where = None, [], None
    lines = p.stdout.splitlines()
    i = 0
    while i < len(lines):
        if re.fullmatch(r"0x[0-9a-f]+", lines[i]):
            if cur is not None:
                out[cur] = (chain, where or "?")
            cur, chain, where = int(lines[i], 16), [], None
            i += 1
            continue
        fn = lines[i]
        loc = lines[i + 1] if i + 1 < len(lines) else "??:0"
        i += 2
        if fn != "??":
            chain.append(fn)
        if where is None:
            where = loc.split(" (discriminator")[0].rsplit("/", 1)[-1]
    if cur is not None:
        out[cur] = (chain, where or "?")
    return out


def perf_attribution(data: str, binary: str) -> tuple[dict, dict, int]:
    """(stage -> samples, source line -> samples, total samples) of a perf.data
    recorded on the worker thread."""
    mm = subprocess.run(["perf", "script", "-i", data, "--show-mmap-events"],
                        capture_output=True, text=True).stdout
    base = None
    rb = os.path.realpath(binary)
    for ln in mm.splitlines():
        m = re.search(r"\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+) .*\]: r-xp (\S+)", ln)
        if m and os.path.realpath(m.group(4)) == rb:
            base = int(m.group(1), 16) - int(m.group(3), 16)
    samples = subprocess.run(["perf", "script", "-i", data, "-F", "ip,dso"],
                             capture_output=True, text=True).stdout
    own = collections.Counter()
    dsos = collections.Counter()
    total = 0
    for ln in samples.splitlines():
        m = re.match(r"\s*([0-9a-f]+) \((.*)\)", ln)
        if not m:
            continue
        total += 1
        ip, dso = int(m.group(1), 16), m.group(2)
        if base is not None and os.path.realpath(dso) == rb:
            own[ip - base] += 1
        else:
            dsos[dso] += 1
    stages = collections.Counter()
    srclines = collections.Counter()
    resolved = _addr2line(binary, sorted(own))
    for a, n in own.items():
        chain, where = resolved.get(a, ([], "?"))
        stages[_stage_of(chain)] += n
        srclines[f"{where} ({chain[0] if chain else '?'})"] += n
    for dso, n in dsos.items():
        label = next((lab for key, lab in DSO_LABELS if key in dso), f"other: {os.path.basename(dso)}")
        stages[label] += n
    return dict(stages), dict(srclines), total


def perf_profile(env: rn.Env, config: str, pcap: str, seconds: float, workdir: str,
                 tag: str, freq: int = 10000) -> dict:
    """Run ioamfwd, sample its worker for `seconds`, stop it, attribute."""
    os.makedirs(workdir, exist_ok=True)
    err = os.path.join(workdir, f"{tag}.err")
    js = os.path.join(workdir, f"{tag}.json")
    data = os.path.join(workdir, f"{tag}.perf.data")
    cmd = env.prio() + [env.ioamfwd] + env.eal(rn.ioamfwd_vdevs(pcap), tag) + \
        ["--", "--config", config, "--stats-json", js]
    with open(err, "w") as fe:
        proc = rn.spawn(env, cmd, stdout=subprocess.DEVNULL, stderr=fe, stdin=subprocess.DEVNULL)
    try:
        fwd = rn._wait_for(err, r" forwarding with \d+ worker", proc, 300)
        time.sleep(0.3)
        tid = list(rn.worker_tids(proc.pid).values())[0]
        s0 = rn.schedstat(proc.pid, tid)
        t0 = time.monotonic()
        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(freq), "-t", str(tid),
                        "-o", data, "--", "sleep", str(seconds)],
                       capture_output=True, check=True)
        s1 = rn.schedstat(proc.pid, tid)
        share = (s1[0] - s0[0]) / 1e9 / (time.monotonic() - t0)
    finally:
        rn._stop(proc)
    import json
    with open(js) as f:
        stats = json.load(f)
    with open(err) as f:
        stop = [ln for ln in f if "signal received" in ln][-1]
    window = (rn.log_time(stop) - rn.log_time(fwd)).total_seconds()
    pps = stats["ports"]["eth1"]["tx"] / window / max(share, 1e-9)
    stages, srclines, total = perf_attribution(data, env.ioamfwd)
    cyc = env.tsc_hz / pps
    return {"pps": pps, "cycles_per_pkt": cyc, "samples": total, "share": share,
            "stages": {k: {"share": v / total, "cycles": cyc * v / total}
                       for k, v in sorted(stages.items(), key=lambda kv: -kv[1])},
            "top_lines": {k: {"share": v / total, "cycles": cyc * v / total}
                          for k, v in sorted(srclines.items(), key=lambda kv: -kv[1])[:25]}}


def callgrind_profile(env: rn.Env, config: str, pcap: str, seconds: float, workdir: str,
                      tag: str) -> dict:
    """Instructions per packet of worker_main and everything it calls."""
    os.makedirs(workdir, exist_ok=True)
    out = os.path.join(workdir, f"{tag}.callgrind")
    js = os.path.join(workdir, f"{tag}.json")
    err = os.path.join(workdir, f"{tag}.err")
    # --fair-sched: without it the main lcore waits minutes for valgrind's
    # lock while the worker polls, and SIGINT is seen that late.
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
           "--toggle-collect=ioamfwd::dp::worker_main(void*)", "--dump-instr=no",
           "--fair-sched=yes",
           env.ioamfwd, "-l", env.lcores, "--no-huge", "-m", "512", "--no-shconf", "--no-pci",
           "--file-prefix", f"{env.prefix}-{tag}"]
    for v in rn.ioamfwd_vdevs(pcap):
        cmd += ["--vdev", v]
    cmd += ["--", "--config", config, "--stats-json", js]
    with open(err, "w") as fe:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fe, stdin=subprocess.DEVNULL)
    try:
        rn._wait_for(err, r" forwarding with \d+ worker", proc, 600)
        time.sleep(seconds)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=600)
    import json
    with open(js) as f:
        pkts = json.load(f)["ports"]["eth1"]["tx"]
    funcs, total = callgrind_functions(out)
    agg = collections.Counter()
    for name, n in funcs:
        agg[name] += n
    return {"packets": pkts, "instr_per_pkt": total / max(pkts, 1),
            "functions": {k: v / max(pkts, 1) for k, v in agg.most_common(20)}}


def callgrind_testpmd(env: rn.Env, pcap: str, workdir: str, tag: str,
                      seconds: tuple[float, float] = (3.0, 9.0)) -> dict:
    """Instructions per packet of `dpdk-testpmd --forward-mode=io` on the
    benchmark's vdevs: two runs under callgrind, everything collected, and
    (Ir_long - Ir_short) / (packets_long - packets_short)."""
    os.makedirs(workdir, exist_ok=True)
    points = []
    for secs in seconds:
        t = f"{tag}-{secs:g}s"
        out = os.path.join(workdir, f"{t}.callgrind")
        log = os.path.join(workdir, f"{t}.out")
        # stdbuf (line-buffered output, for the start line) execs testpmd.
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
               "--fair-sched=yes", "--trace-children=yes", "stdbuf", "-oL", env.testpmd]
        # As ioamfwd's run above: valgrind and hugepages do not mix. testpmd's
        # default mbuf pool needs more than ioamfwd's 512 MiB.
        cmd += ["-l", "0-1", "--no-huge", "-m", "2048", "--no-shconf", "--no-pci",
                "--file-prefix", f"{env.prefix}-{t}"]
        for v in rn.ioamfwd_vdevs(pcap):
            cmd += ["--vdev", v]
        cmd += ["--", "--forward-mode=io", "--nb-cores=1", "--burst=32", "--stats-period", "1"]
        with open(log, "w") as fo:
            proc = subprocess.Popen(cmd, stdout=fo, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        try:
            rn._wait_for(log, r"Start automatic packet forwarding|io packet forwarding - ports",
                         proc, 600)
            time.sleep(secs)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            proc.wait(timeout=600)
        with open(log, errors="replace") as f:
            text = f.read()
        m = re.findall(r"Forward statistics for port 1\s+-+\s*\n\s*RX-packets:.*\n\s*TX-packets:\s*(\d+)",
                       text)
        if not m:
            raise rn.RunError(f"no testpmd packet count in {log}")
        _, total = callgrind_functions(out)
        points.append((total, int(m[-1])))
    (i0, p0), (i1, p1) = points
    if p1 <= p0:
        raise rn.RunError(f"testpmd forwarded no more in the long run ({p0} -> {p1} packets)")
    return {"packets": p1 - p0, "instr_per_pkt": (i1 - i0) / (p1 - p0)}


def callgrind_summary_md(names: list[str], profiles: dict, targets: dict) -> str:
    """Instructions per packet of ioamfwd and testpmd per scenario, and the
    ratios the targets are stated in, by instructions."""
    fwd = profiles.get("fwd", {}).get("callgrind", {}).get("instr_per_pkt")
    s = ["| Scenario | ioamfwd instr/pkt | testpmd io instr/pkt | ioamfwd / testpmd | "
         "ioamfwd / plain fwd | target |", "|---|---|---|---|---|---|"]
    for n in names:
        c = profiles.get(n, {})
        ours = c.get("callgrind", {}).get("instr_per_pkt")
        tp = c.get("callgrind_testpmd", {}).get("instr_per_pkt")
        if ours is None:
            continue
        vs_tp = f"{tp / ours:.2f}" if tp else "—"
        vs_fwd = f"{fwd / ours:.2f}" if fwd else "—"
        t = targets.get(n)
        target = f"≥ {t:.2f} of plain" if t else ("≥ 0.60 of testpmd" if n == "fwd" else "—")
        tp_text = f"{tp:.0f}" if tp else "—"
        s.append(f"| {n} | {ours:.0f} | {tp_text} | {vs_tp} | {vs_fwd} | {target} |")
    return "\n".join(s) + "\n"


def _short_name(fn: str) -> str:
    fn = fn.replace("(anonymous namespace)::", "").replace("ioamfwd::dp::", "")
    depth, out = 0, []
    for ch in fn:  # drop the argument list
        if ch == "(" and depth == 0 and out and out[-1] not in ":":
            break
        out.append(ch)
    return "".join(out).strip()


def callgrind_functions(path: str) -> tuple[list[tuple[str, int]], int]:
    """(function, self instructions) from callgrind_annotate's summary, the
    same function's rows (one per source file of inlined code) merged by the
    caller; and the program total."""
    ann = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no",
                          "--threshold=100", path], capture_output=True, text=True).stdout
    funcs, total, in_table = [], 0, False
    for ln in ann.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", ln)
        if not m:
            if in_table and ln.startswith("----"):
                break
            continue
        n = int(m.group(1).replace(",", ""))
        rest = m.group(2)
        if "PROGRAM TOTALS" in rest:
            total = n
            continue
        in_table = True
        obj = re.search(r" \[([^\]]*)\]$", rest)
        where = rest[:obj.start()] if obj else rest
        file_, _, fn = where.partition(":")
        if file_ == "???" or not fn or fn.startswith("0x"):
            name = "[" + os.path.basename(obj.group(1) if obj else file_) + "]"
        else:
            name = _short_name(fn)
        funcs.append((name, n))
    return funcs, total


def profile_md(name: str, p: dict) -> str:
    s = [f"#### {name}: {p['pps'] / 1e6:.1f} Mpps, {p['cycles_per_pkt']:.0f} cycles/pkt "
         f"(profiled run, {p['samples']} samples, worker on-CPU share {p['share']:.2f})\n",
         "| Where | share | cycles/pkt |", "|---|---|---|"]
    for k, v in p["stages"].items():
        if v["share"] >= 0.005:
            s.append(f"| {k} | {100 * v['share']:.1f} % | {v['cycles']:.1f} |")
    s += ["", "Hottest ioamfwd source lines (innermost inlined frame):", "",
          "| Line (function) | share | cycles/pkt |", "|---|---|---|"]
    for k, v in list(p["top_lines"].items())[:12]:
        s.append(f"| `{k}` | {100 * v['share']:.1f} % | {v['cycles']:.1f} |")
    return "\n".join(s) + "\n"


def callgrind_md(name: str, c: dict) -> str:
    s = [f"#### {name}: {c['instr_per_pkt']:.0f} instructions/packet (callgrind, "
         f"{c['packets']} packets)\n", "| Function | instructions/pkt |", "|---|---|"]
    for k, v in c["functions"].items():
        if v >= 1:
            s.append(f"| `{k[:100]}` | {v:.1f} |")
    return "\n".join(s) + "\n"

