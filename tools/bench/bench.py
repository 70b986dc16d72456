"""scripts/bench: ioamfwd against dpdk-testpmd on the same virtual devices.

Run by scripts/bench (which installs what is missing and builds build-bench);
`scripts/bench --help` lists the options. tools/bench/README.md describes
the method and how to read the results.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

import memory as mem
import hotspots as prof
import report as rp
import runner as rn
import scenarios as sc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark ioamfwd against dpdk-testpmd --forward-mode=io on the same "
                    "vdevs (net_pcap infinite_rx source, net_null sink), one worker lcore. "
                    "Writes results/bench-<date>/ and copies the table and plot to docs/bench/.")
    p.add_argument("--reps", type=int, default=3, help="repetitions per scenario (default 3)")
    p.add_argument("--duration", type=float, default=5.0,
                   help="measured seconds per run (default 5)")
    p.add_argument("--scenarios", default=",".join(s.name for s in sc.SCENARIOS),
                   help="comma-separated subset of: " + ", ".join(s.name for s in sc.SCENARIOS))
    p.add_argument("--extra-routes", type=int, default=1000,
                   help="additional /64 routes in the FIB (default 1000)")
    p.add_argument("--hugepages", choices=["auto", "yes", "no"], default="auto",
                   help="auto: hugepages (--in-memory) when >= --mem-mb are free, else --no-huge")
    p.add_argument("--mem-mb", type=int, default=1024, help="-m for --no-huge runs (default 1024)")
    p.add_argument("--method", choices=["log", "diff"], default="log",
                   help="ioamfwd rate: log = one run, packets between its 'forwarding' and "
                        "'signal received' log stamps (default); diff = two runs (duration/2 "
                        "and duration), differences of tx and runtime_ms")
    p.add_argument("--min-share", type=float, default=0.90,
                   help="repeat a run whose forwarding thread got less of its CPU (default 0.90)")
    p.add_argument("--nice", type=int, default=-20, help="nice level of the runs (default -20)")
    p.add_argument("--quiet-busy", type=float, default=0.35,
                   help="before each run wait until the machine is at most this busy "
                        "(fraction of all CPUs, default 0.35)")
    p.add_argument("--quiet-wait", type=float, default=10.0,
                   help="... but at most this many seconds per run (default 10; 0 = never)")
    p.add_argument("--quiet-budget", type=float, default=90.0,
                   help="... and at most this many seconds in the whole benchmark (default 90)")
    p.add_argument("--no-testpmd", action="store_true", help="skip the testpmd ceiling")
    p.add_argument("--no-memory", action="store_true", help="skip the memory/route-table section")
    p.add_argument("--memory-only", action="store_true",
                   help="only the memory/route-table section (writes memory.md)")
    p.add_argument("--big-routes", type=int, default=100000,
                   help="routes of the large-table memory test (default 100000)")
    p.add_argument("--profile", action="store_true",
                   help="also perf-record the worker per scenario (stage breakdown)")
    p.add_argument("--callgrind", action="store_true",
                   help="also count instructions per packet with callgrind (slow: ~1 min/scenario)")
    p.add_argument("--workers", default="1",
                   help="worker lcores: N, or a list such as 1,2,4 for the scaling table "
                        "(scaling.md; no table.md, plot or memory then). N workers poll N rx "
                        "queues of the one source port and send on N tx queues of the sink; "
                        "testpmd gets --rxq/--txq/--nb-cores N. Without N+1 CPUs the main "
                        "lcore shares worker 1's CPU (see tools/bench/README.md)")
    p.add_argument("--out", default=None, help="results folder (default results/bench-<date>)")
    p.add_argument("--no-docs", action="store_true", help="do not copy the table/plot (and profile) to docs/bench")
    p.add_argument("--binary", default=os.path.join(REPO, "build-bench", "ioamfwd"),
                   help="ioamfwd to measure (default build-bench/ioamfwd, built by scripts/bench)")
    p.add_argument("--label", default=None,
                   help="what the binary is, for the table (default: the tree's git revision)")
    return p.parse_args(argv)


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        # What the binary is built from: results copied to docs/ meanwhile
        # do not make it a local build.
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no",
                                "--", "src", "meson.build", "meson_options.txt"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+local changes" if dirty else "")
    except OSError:
        return "?"


def machine_info(env: rn.Env, tsc_src: str, label: str | None = None) -> dict:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    try:
        dpdk = subprocess.run(["pkg-config", "--modversion", "libdpdk"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        dpdk = "?"
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            "tsc_hz": env.tsc_hz, "tsc_source": tsc_src, "dpdk": dpdk,
            "memory": "hugepages (--in-memory)" if env.hugepages else f"--no-huge -m {env.mem_mb}",
            "ioamfwd": label or git_rev() + (f" (STALE binary of {os.environ['BENCH_STALE_BINARY']}:"
                                    " the build failed)" if os.environ.get("BENCH_STALE_BINARY")
                                    else ""),
            "binary": env.ioamfwd, "nice": env.nice,
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def one(run, min_share: float, log, what: str, tries: int = 3):
    """Run `run()` until its forwarding thread had at least min_share of a
    CPU; keep the best attempt."""
    best = None
    for t in range(tries):
        r = run(t)
        if best is None or r.cpu.share > best.cpu.share:
            best = r
        if r.cpu.share >= min_share:
            break
        log(f"    {what}: forwarding thread had {r.cpu.share:.2f} of its CPU "
            f"(run-queue wait {r.cpu.wait_s:.2f} s); repeating")
    return best


def measure(a, env: rn.Env, names: list[str], pcaps: dict, configs: dict, workers: int,
            raw: str, log, problems: list[str], quiet: dict, hz: float,
            tag: str = "") -> dict:
    """`a.reps` repetitions of every scenario, testpmd then ioamfwd, with
    `workers` forwarding lcores; returns runs[scenario][program] = [rep...]."""
    runs: dict = {n: {"ioamfwd": [], "testpmd": []} for n in names}
    for rep in range(a.reps):
        # Rotate the order every repetition so that no scenario (the fwd
        # baseline above all) always meets the same moment of a neighbour's load.
        k = rep % len(names)
        for n in names[k:] + names[:k]:
            scn = sc.BY_NAME[n]
            busy = None
            if a.quiet_wait > 0 and quiet["left"] > 0:
                t_q = time.monotonic()
                busy = rn.wait_quiet(a.quiet_busy, min(a.quiet_wait, quiet["left"]))
                quiet["left"] -= time.monotonic() - t_q
                if busy > a.quiet_busy:
                    log(f"    machine still {100 * busy:.0f} % busy after waiting for it to calm "
                        f"down: measuring anyway ({max(quiet['left'], 0):.0f} s of waiting left)")
            if not a.no_testpmd:
                try:
                    t = one(lambda k: rn.run_testpmd(env, pcaps[n], a.duration, raw,
                                                     f"testpmd{tag}-{n}-{rep}-{k}", cores=workers),
                            a.min_share, log, f"testpmd {n}")
                    runs[n]["testpmd"].append({"pps": t.pps, "pps_wall": t.pps_wall,
                                               "share": t.cpu.share, "wait_s": t.cpu.wait_s,
                                               "others_busy": t.cpu.others_busy,
                                               "steal": t.cpu.steal, "periods": t.periods_pps,
                                               "per_thread": t.cpu.per_thread,
                                               "main_share": t.cpu.main_share,
                                               "busy_before": busy})
                except rn.RunError as e:
                    problems.append(f"testpmd{tag} {n} rep {rep}: {e}")
                    log(f"  testpmd {n}: FAILED: {e}")
            try:
                if a.method == "diff":
                    pps = rn.run_ioamfwd_diff(env, configs[n], pcaps[n], a.duration / 2,
                                              a.duration, raw, f"ioamfwd{tag}-{n}-{rep}")
                    runs[n]["ioamfwd"].append({"pps": pps, "pps_wall": pps, "share": 1.0,
                                               "wait_s": 0.0})
                else:
                    r = one(lambda k: rn.run_ioamfwd(env, configs[n], pcaps[n], a.duration, raw,
                                                     f"ioamfwd{tag}-{n}-{rep}-{k}",
                                                     workers=workers),
                            a.min_share, log, f"ioamfwd {n}")
                    bad = check_counters(scn, r, workers)
                    if bad:
                        problems.append(f"ioamfwd{tag} {n} rep {rep}: {bad}")
                        log(f"  ioamfwd {n}: counters not as expected: {bad}")
                    runs[n]["ioamfwd"].append({"pps": r.pps, "pps_wall": r.pps_wall,
                                               "share": r.cpu.share, "wait_s": r.cpu.wait_s,
                                               "others_busy": r.cpu.others_busy,
                                               "steal": r.cpu.steal, "tx": r.tx, "rx": r.rx,
                                               "window_s": r.window_s,
                                               "startup_s": r.startup_s,
                                               "per_thread": r.cpu.per_thread,
                                               "main_share": r.cpu.main_share,
                                               "lcores": r.stats.get("lcores", {}),
                                               "busy_before": busy})
            except rn.RunError as e:
                problems.append(f"ioamfwd{tag} {n} rep {rep}: {e}")
                log(f"  ioamfwd {n}: FAILED: {e}")
                continue
            tp = runs[n]["testpmd"][-1]["pps"] / 1e6 if runs[n]["testpmd"] else float("nan")
            io = runs[n]["ioamfwd"][-1]
            log(f"  rep {rep + 1}/{a.reps} {n:15s} testpmd {tp:6.1f} Mpps   ioamfwd "
                f"{io['pps'] / 1e6:6.1f} Mpps ({hz * workers / io['pps']:5.0f} cycles/pkt, "
                f"CPU share {io['share']:.2f}, other CPUs {100 * io.get('others_busy', 0):.0f} % busy)")
    return runs


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    names = [n.strip() for n in a.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in sc.BY_NAME]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    try:
        worker_counts = [int(w) for w in str(a.workers).split(",") if w.strip()]
    except ValueError:
        worker_counts = []
    if not worker_counts or min(worker_counts) < 1:
        print(f"--workers: expected N or a list of N (got {a.workers!r})", file=sys.stderr)
        return 2
    scaling = len(worker_counts) > 1
    if "fwd" not in names:
        names.insert(0, "fwd")  # every ratio needs the plain-forwarding baseline
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = a.out or os.path.join(REPO, "results", f"bench-{stamp}")
    os.makedirs(out, exist_ok=True)
    logf = open(os.path.join(out, "bench.log"), "w")

    def log(msg: str) -> None:
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    hz, tsc_src = rn.tsc_hz()
    free = rn.hugepages_free_mb()
    huge = a.hugepages == "yes" or (a.hugepages == "auto" and free >= a.mem_mb)
    cpus = os.cpu_count() or 1
    lcores, note = rn.lcore_map(worker_counts[0], cpus)
    env = rn.Env(ioamfwd=a.binary, tsc_hz=hz, hugepages=huge, mem_mb=a.mem_mb,
                 lcores=lcores, nice=a.nice)
    info = machine_info(env, tsc_src, a.label)
    log(f"bench: {info['cpu']}, {info['cpus']} CPUs, TSC {hz / 1e9:.3f} GHz ({tsc_src}), "
        f"DPDK {info['dpdk']}, memory: {info['memory']}, ioamfwd {info['ioamfwd']}")
    if not huge:
        log(f"  ({free} MiB of hugepages free; --no-huge halves DPDK rates here, see "
            "tools/bench/README.md to reserve hugepages)")
    result = {"machine": info, "args": vars(a)}
    problems: list[str] = []
    t_start = time.monotonic()
    raw = os.path.join(out, "runs")
    quiet = {"left": a.quiet_budget}
    subtitle = (f"{info['cpu']} ({info['cpus']} vCPU KVM), TSC {hz / 1e9:.2f} GHz, DPDK "
                f"{info['dpdk']}, {info['memory']}, ioamfwd {info['ioamfwd']}, "
                f"{a.reps} reps × {a.duration:.0f} s, {stamp}")
    plotted = False
    table = ""

    if a.memory_only:
        pass
    elif scaling:
        log(f"  scaling: {a.reps} repetition(s) x {len(names)} scenario(s) x workers "
            f"{', '.join(map(str, worker_counts))}, {a.duration:.0f} s each, results in {out}")
        result["scaling"] = {}
        for w in worker_counts:
            lc, note = rn.lcore_map(w, cpus)
            wenv = dataclasses.replace(env, lcores=lc)
            log(f"  {w} worker(s): EAL lcores {lc}" + (f" ({note})" if note else ""))
            inputs = os.path.join(out, "inputs")
            pcaps = sc.write_queue_inputs(inputs, [sc.BY_NAME[n] for n in names], w)
            configs = {}
            for n in names:
                configs[n] = os.path.join(inputs, f"{n}-{w}w.yaml")
                with open(configs[n], "w") as f:
                    f.write(sc.config_yaml(sc.BY_NAME[n], queues=w, extra_routes=a.extra_routes))
            runs = measure(a, wenv, names, pcaps, configs, w, raw, log, problems, quiet, hz,
                           tag=f"-{w}w")
            result["scaling"][w] = {"lcores": lc, "note": note, "runs": runs,
                                    "loadavg": open("/proc/loadavg").read().split()[:3]}
        result["scaling_summary"] = rp.scaling_summary(result["scaling"], names)
        table = rp.scaling_md(result["scaling_summary"], names, info, cpus)
        with open(os.path.join(out, "scaling.md"), "w") as f:
            f.write(f"<!-- scripts/bench {' '.join(argv)} -->\n")
            f.write(f"{subtitle}\n\n{table}")
    else:
        w = worker_counts[0]
        if note:
            log(f"  EAL lcores {lcores}: {note}")
        log(f"  {a.reps} repetition(s) x {len(names)} scenario(s), {a.duration:.0f} s each, "
            f"results in {out}")
        inputs = os.path.join(out, "inputs")
        pcaps = sc.write_queue_inputs(inputs, [sc.BY_NAME[n] for n in names], w)
        configs = {}
        for n in names:
            configs[n] = os.path.join(inputs, f"{n}.yaml")
            with open(configs[n], "w") as f:
                f.write(sc.config_yaml(sc.BY_NAME[n], queues=w, extra_routes=a.extra_routes))
        runs = measure(a, env, names, pcaps, configs, w, raw, log, problems, quiet, hz)
        summary = rp.summarize(runs, hz)
        result.update({"scenarios": {
            n: {"title": sc.BY_NAME[n].title, "frame_in_out": sc.frame_sizes(sc.BY_NAME[n]),
                "target": sc.BY_NAME[n].target} for n in names},
            "runs": runs, "summary": summary})
        table = rp.table_md(summary, names)
        with open(os.path.join(out, "table.md"), "w") as f:
            f.write(f"<!-- scripts/bench {' '.join(argv)} -->\n")
            f.write(f"{subtitle}\n\n{table}")
        try:
            rp.plot(summary, names, os.path.join(out, "plot.png"), subtitle)
            plotted = True
        except ImportError as e:
            log(f"no plot: {e} (install python3-matplotlib)")

        if a.profile or a.callgrind:
            result["profiles"] = {}
            md = []
            for n in names:
                entry = {}
                pcap = pcaps[n][0]
                if a.profile:
                    log(f"  profiling {n} (perf, cpu-clock sampling)")
                    try:
                        entry["perf"] = prof.perf_profile(env, configs[n], pcap,
                                                          max(3.0, a.duration), raw, f"perf-{n}")
                        md.append(prof.profile_md(n, entry["perf"]))
                    except (rn.RunError, subprocess.CalledProcessError, IndexError) as e:
                        log(f"  perf {n}: FAILED: {e}")
                if a.callgrind:
                    log(f"  callgrind {n}")
                    try:
                        entry["callgrind"] = prof.callgrind_profile(env, configs[n], pcap, 20, raw,
                                                                    f"callgrind-{n}")
                        md.append(prof.callgrind_md(n, entry["callgrind"]))
                    except (rn.RunError, subprocess.SubprocessError, OSError, KeyError) as e:
                        log(f"  callgrind {n}: FAILED: {e}")
                    log(f"  callgrind testpmd {n}")
                    try:
                        entry["callgrind_testpmd"] = prof.callgrind_testpmd(
                            env, pcap, raw, f"callgrind-testpmd-{n}")
                    except (rn.RunError, subprocess.SubprocessError, OSError, KeyError) as e:
                        log(f"  callgrind testpmd {n}: FAILED: {e}")
                result["profiles"][n] = entry
            head = ""
            if a.callgrind:
                head = ("### Instructions per packet (callgrind), ioamfwd and testpmd io\n\n" +
                        prof.callgrind_summary_md(
                            names, result["profiles"],
                            {n: sc.BY_NAME[n].target for n in names}) + "\n")
            with open(os.path.join(out, "profile.md"), "w") as f:
                # The same first line as table.md: which machine and binary.
                f.write(f"{subtitle}\n\n" + head + "\n".join(md))

    memory = a.memory_only or not (a.no_memory or scaling)
    if memory:
        log("memory and route table")
        result["memory"] = mem.run_memory(env, os.path.join(out, "memory"), a.big_routes, log)
        msub = (f"{info['cpu']} ({info['cpus']} vCPU KVM), DPDK {info['dpdk']}, ioamfwd "
                f"{info['ioamfwd']} (release), --no-huge, load average {' '.join(info['loadavg'])}, "
                f"{stamp}")
        with open(os.path.join(out, "memory.md"), "w") as f:
            f.write(f"{msub}\n\n{rp.memory_md(result['memory'])}")

    result["problems"] = problems
    result["total_seconds"] = time.monotonic() - t_start
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(result, f, indent=1, default=str)

    if not a.no_docs:
        docs = os.path.join(REPO, "docs", "bench")
        os.makedirs(docs, exist_ok=True)
        if scaling and not a.memory_only:
            shutil.copy(os.path.join(out, "scaling.md"), os.path.join(docs, "scaling.md"))
        elif not a.memory_only:
            shutil.copy(os.path.join(out, "table.md"), os.path.join(docs, "table.md"))
            if plotted:
                shutil.copy(os.path.join(out, "plot.png"), os.path.join(docs, "plot.png"))
            # The profile is the evidence behind the findings in tools/bench/README.md.
            if (a.profile or a.callgrind) and os.path.exists(os.path.join(out, "profile.md")):
                shutil.copy(os.path.join(out, "profile.md"), os.path.join(docs, "profile.md"))
        if memory:
            shutil.copy(os.path.join(out, "memory.md"), os.path.join(docs, "memory.md"))

    log("")
    log(subtitle)
    log("")
    if table:
        log(table)
    if memory:
        log(rp.memory_md(result["memory"]))
    if problems:
        log(f"{len(problems)} problem(s):")
        for p in problems:
            log(f"  - {p.splitlines()[0]}")
    log(f"done in {result['total_seconds']:.0f} s: {out}")
    return 1 if problems else 0


def check_counters(scn: sc.Scenario, r: rn.IoamfwdRun, workers: int = 1) -> str:
    """A run counts only if the work happened: nothing dropped, every packet
    forwarded, the scenario's IOAM counters match the packets, and with
    several workers every one of them forwarded its share."""
    drops = {k: v for k, v in r.stats["drops"].items() if v}
    if drops:
        return f"drops {drops}"
    if r.stats.get("mbufs_in_use", 0):
        return f"mbufs_in_use {r.stats['mbufs_in_use']}"
    if r.tx < 0.999 * r.rx:
        return f"tx {r.tx} < rx {r.rx}"
    for k, frac in scn.expect.items():
        got = r.stats["ioam"].get(k, r.stats["drops"].get(k, 0))
        if abs(got - frac * r.tx) > 0.001 * r.tx + 64:
            return f"{k} = {got}, expected {frac:g} x {r.tx}"
    if workers > 1:
        lc = r.stats.get("lcores", {})
        if len(lc) != workers:
            return f"{len(lc)} worker lcores reported, {workers} expected"
        total = sum(v["rx"] for v in lc.values()) or 1
        for k, v in lc.items():
            # A worker starved by its CPU's neighbours still gets a fair
            # share of a second; one with (almost) nothing did not work.
            if v["rx"] < 0.25 * total / workers or v["tx"] < 0.999 * v["rx"]:
                return f"lcore {k}: rx {v['rx']} tx {v['tx']} of {total} in all"
    return ""


def _exit_on_signal(signum, _frame):
    # SystemExit unwinds through the runners' finally blocks, which stop the
    # DPDK process being measured (it runs in its own session).
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    sys.exit(main(sys.argv[1:]))
