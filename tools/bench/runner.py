"""Running ioamfwd and dpdk-testpmd on the benchmark's vdevs and turning their
output into rates.

How a rate is measured (neither program is changed for it):

* ioamfwd has no periodic statistics. It runs for a fixed time and is
  stopped with SIGINT; `--stats-json` gives the packets handed to the sink
  (`ports.eth1.tx`). The packets flowed between two log lines, "forwarding
  with N worker lcore(s)" (printed right after the workers are launched) and
  "signal received: stopping" (printed just before they are told to stop),
  both stamped to the millisecond by the process itself, so start-up and
  shutdown are excluded without a second run. `method="diff"` instead runs
  twice (short and long) and divides the differences of tx and runtime_ms,
  the way the issue first suggested; both agree within noise.
* testpmd prints per-port Tx-pps every second (`--stats-period 1`); the
  rate is the mean over the periods after the first full one.
* This machine is shared (2 vCPUs, other jobs compile on them), so wall-clock
  rates alone would measure the neighbours. Both programs run under
  `nice -n -20` in their own session whose autogroup also gets nice -20
  (see spawn()), and the forwarding thread's own on-CPU time and run-queue
  wait are read from /proc/PID/task/TID/schedstat over the measurement
  window. `share` = on-CPU time / wall time; the reported rate is
  rate_wall / share: packets per second of forwarding-core time, which is
  what "Mpps on one core" means. Runs with a share under `min_share` are
  repeated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import signal
import subprocess
import time

LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) ")


class RunError(RuntimeError):
    pass


@dataclasses.dataclass
class Env:
    """Machine-wide settings for every run."""
    ioamfwd: str
    testpmd: str = "dpdk-testpmd"
    tsc_hz: float = 0.0
    hugepages: bool = True       # --in-memory on hugepages, else --no-huge -m mem_mb
    mem_mb: int = 1024
    lcores: str = "0-1"
    nice: int = -20
    prefix: str = f"bench{os.getpid()}"

    def eal(self, vdevs: list[str], tag: str, mem_mb: int | None = None) -> list[str]:
        lc = ["--lcores", self.lcores] if "@" in self.lcores else ["-l", self.lcores]
        args = lc + ["--no-pci", "--file-prefix", f"{self.prefix}-{tag}"]
        if self.hugepages:
            args += ["--in-memory"]
            if mem_mb:
                args += ["-m", str(mem_mb)]
        else:
            args += ["--no-huge", "-m", str(mem_mb or self.mem_mb), "--no-shconf"]
        for v in vdevs:
            args += ["--vdev", v]
        return args

    def prio(self) -> list[str]:
        return ["nice", "-n", str(self.nice)] if self.nice else []


def spawn(env: Env, cmd: list[str], **kw) -> subprocess.Popen:
    """Start a benchmarked process. With autogroup scheduling (the default
    in Debian's kernel) every session is a scheduling group of equal weight
    and nice only ranks threads inside a group, so the process gets its own
    session and that group gets the nice level too (/proc/PID/autogroup)."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kw)
    if env.nice:
        try:
            with open(f"/proc/{proc.pid}/autogroup", "w") as f:
                f.write(str(env.nice))
        except OSError:
            pass  # no autogroups (or not root): nice alone applies
    return proc


def tsc_hz() -> tuple[float, str]:
    """The TSC frequency and where it was read: the kernel's refined
    calibration, else its boot-time detection, else /proc/cpuinfo."""
    try:
        log = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        log = ""
    for pat, what in ((r"tsc: Refined TSC clocksource calibration: ([\d.]+) MHz", "dmesg (refined)"),
                      (r"tsc: Detected ([\d.]+) MHz processor", "dmesg (detected)")):
        m = re.findall(pat, log)
        if m:
            return float(m[-1]) * 1e6, what
    with open("/proc/cpuinfo") as f:
        m = re.search(r"cpu MHz\s*:\s*([\d.]+)", f.read())
    if m:
        return float(m.group(1)) * 1e6, "/proc/cpuinfo cpu MHz"
    raise RunError("cannot determine the TSC frequency")


def hugepages_free_mb() -> int:
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            info[k] = int(v.split()[0])
    return info.get("HugePages_Free", 0) * info.get("Hugepagesize", 0) // 1024


def lcore_map(workers: int, cpus: int) -> tuple[str, str]:
    """EAL lcores for `workers` worker lcores on `cpus` CPUs, and a note.
    With a CPU per thread: -l 0-N. Otherwise the main lcore (the control
    thread, asleep but for a few microseconds every 5 ms) shares CPU 0
    with worker 1, so N workers can use N CPUs: '0@0,1@0,2@1' for two on
    two. More workers than CPUs share CPUs and their rates mean nothing."""
    if workers + 1 <= cpus:
        return f"0-{workers}", ""
    m = ["0@0"] + [f"{w}@{(w - 1) % cpus}" for w in range(1, workers + 1)]
    if workers <= cpus:
        return ",".join(m), "main lcore on worker 1's CPU"
    return ",".join(m), (f"{workers} workers on {cpus} CPUs: workers share CPUs, rates are not "
                         "meaningful (functional check only)")


# --- threads -----------------------------------------------------------------

def worker_tids(pid: int) -> dict[int, int]:
    """lcore id -> thread id of the EAL worker threads (rte-worker-N in 22.11,
    lcore-worker-N in later releases)."""
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            m = re.match(r"(?:rte|lcore)-worker-(\d+)$", comm)
            if m:
                out[int(m.group(1))] = int(tid)
    except OSError:
        pass
    return out


def schedstat(pid: int, tid: int) -> tuple[int, int]:
    """(ns on CPU, ns runnable but waiting) of one thread."""
    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
        run_ns, wait_ns, _ = f.read().split()
    return int(run_ns), int(wait_ns)


def cpu_times() -> dict[int, list[int]]:
    """/proc/stat per-CPU jiffies: user nice system idle iowait irq softirq steal."""
    out = {}
    with open("/proc/stat") as f:
        for ln in f:
            m = re.match(r"cpu(\d+) (.*)", ln)
            if m:
                out[int(m.group(1))] = [int(x) for x in m.group(2).split()[:8]]
    return out


def wait_quiet(max_busy: float, max_wait: float, sample_s: float = 0.5) -> float:
    """Wait (at most max_wait seconds) until the machine's CPUs are on average
    at most max_busy busy over sample_s; returns the last busy fraction.
    Nothing of ours runs between benchmark runs, so whatever is busy then is
    the neighbours."""
    deadline = time.monotonic() + max_wait
    while True:
        c0 = cpu_times()
        time.sleep(sample_s)
        c1 = cpu_times()
        tot = sum(sum(c1[c]) - sum(c0[c]) for c in c1 if c in c0)
        busy = sum(sum(c1[c][k] - c0[c][k] for k in (0, 1, 2, 5, 6, 7)) for c in c1 if c in c0)
        frac = busy / tot if tot else 0.0
        if frac <= max_busy or time.monotonic() >= deadline:
            return frac


def thread_cpu(pid: int, tid: int) -> int:
    """The CPU a thread last ran on (field 39 of its stat)."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[36])


@dataclasses.dataclass
class CpuWindow:
    wall_s: float
    cpu_s: float
    wait_s: float
    others_busy: float = 0.0   # busy fraction of the CPUs not running a forwarding thread
    steal: float = 0.0         # hypervisor steal on the forwarding CPUs (fraction)
    per_thread: list = dataclasses.field(default_factory=list)  # share of each forwarding thread
    main_share: float = 0.0    # the process's main thread (control / stats), of one CPU

    @property
    def share(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


def measure_window(pid: int, tids: list[int], seconds: float, proc: subprocess.Popen) -> CpuWindow:
    """Sleep `seconds` and return the forwarding threads' summed CPU and wait
    over that time (per thread averaged: share is per forwarding core)."""
    t0 = time.monotonic()
    s0 = [schedstat(pid, t) for t in tids]
    m0 = schedstat(pid, pid)
    c0 = cpu_times()
    deadline = t0 + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunError(f"process exited early with code {proc.returncode}")
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    s1 = [schedstat(pid, t) for t in tids]
    m1 = schedstat(pid, pid)
    c1 = cpu_times()
    wall = time.monotonic() - t0
    n = len(tids)
    mine = set()
    for t in tids:
        try:
            mine.add(thread_cpu(pid, t))
        except (OSError, IndexError, ValueError):
            pass

    def frac(cpus, cols):
        tot = sum(sum(c1[c]) - sum(c0[c]) for c in cpus)
        part = sum(sum(c1[c][k] - c0[c][k] for k in cols) for c in cpus)
        return part / tot if tot else 0.0
    others = [c for c in c1 if c not in mine and c in c0]
    return CpuWindow(wall, sum(b[0] - a[0] for a, b in zip(s0, s1)) / 1e9 / n,
                     sum(b[1] - a[1] for a, b in zip(s0, s1)) / 1e9 / n,
                     frac(others, (0, 1, 2, 5, 6, 7)) if others else 0.0,
                     frac(sorted(mine), (7,)) if mine else 0.0,
                     [(b[0] - a[0]) / 1e9 / wall for a, b in zip(s0, s1)],
                     (m1[0] - m0[0]) / 1e9 / wall)


def _wait_for(path: str, pattern: str, proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if rx.search(line):
                        return line
        except OSError:
            pass
        if proc.poll() is not None:
            raise RunError(f"exited with code {proc.returncode} before '{pattern}':\n"
                           + tail(path))
        time.sleep(0.02)
    raise RunError(f"no '{pattern}' within {timeout:.0f} s:\n" + tail(path))


def tail(path: str, n: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no output)"


def _stop(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RunError("did not stop within %.0f s of SIGINT; killed" % timeout)


def log_time(line: str) -> dt.datetime:
    m = LOG_TS.match(line)
    if not m:
        raise RunError(f"no timestamp in log line: {line!r}")
    return dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")


# --- ioamfwd -----------------------------------------------------------------

@dataclasses.dataclass
class IoamfwdRun:
    tx: int                 # packets handed to the sink port
    rx: int
    window_s: float         # from "forwarding" to "signal received"
    cpu: CpuWindow
    stats: dict
    startup_s: float        # process start to "forwarding" (config load, EAL, ports, FIB)

    @property
    def pps_wall(self) -> float:
        return self.tx / self.window_s

    @property
    def pps(self) -> float:
        """Packets per second of worker-core time."""
        return self.pps_wall / max(self.cpu.share, 1e-9)


def ioamfwd_vdevs(pcaps: str | list[str]) -> list[str]:
    """The net_pcap source (infinite replay, one rx queue per capture) and
    the net_null sink. net_pcap has as many tx queues as captures (with no
    tx_pcap they drop), which covers one per worker; net_null has plenty."""
    if isinstance(pcaps, str):
        pcaps = [pcaps]
    rx = ",".join(f"rx_pcap={p}" for p in pcaps)
    return [f"net_pcap0,{rx},infinite_rx=1", "net_null0,no-rx=1"]


def run_ioamfwd(env: Env, config: str, pcap: str | list[str], seconds: float, workdir: str,
                tag: str, workers: int = 1, extra_app: list[str] | None = None,
                mem_mb: int | None = None) -> IoamfwdRun:
    """`pcap`: one capture per rx queue of the source port; `workers`
    worker lcores (the config says which polls which queue)."""
    os.makedirs(workdir, exist_ok=True)
    out, err, js = (os.path.join(workdir, f"{tag}.{x}") for x in ("out", "err", "json"))
    cmd = env.prio() + [env.ioamfwd] + env.eal(ioamfwd_vdevs(pcap), tag, mem_mb) + \
        ["--", "--config", config, "--stats-json", js] + (extra_app or [])
    with open(os.path.join(workdir, f"{tag}.cmd"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    t_launch = dt.datetime.now()
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = spawn(env, cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL)
    try:
        fwd_line = _wait_for(err, r" forwarding with \d+ worker", proc, 300)
        tids = []
        for _ in range(100):
            tids = list(worker_tids(proc.pid).values())
            if len(tids) >= workers:
                break
            time.sleep(0.01)
        if not tids:
            raise RunError("no EAL worker thread found")
        time.sleep(0.3)  # let the worker warm its caches before the window
        cpu = measure_window(proc.pid, tids, seconds, proc)
    finally:
        _stop(proc)
    if proc.returncode != 0:
        raise RunError(f"ioamfwd exited with {proc.returncode}:\n" + tail(err))
    with open(err, errors="replace") as f:
        stop_lines = [ln for ln in f if "signal received: stopping" in ln]
    if not stop_lines:
        raise RunError("no 'signal received' line:\n" + tail(err))
    window = (log_time(stop_lines[-1]) - log_time(fwd_line)).total_seconds()
    with open(js) as f:
        stats = json.load(f)
    ports = stats["ports"]
    tx = ports["eth1"]["tx"]
    rx = sum(p["rx"] for name, p in ports.items() if name != "eth1")
    return IoamfwdRun(tx, rx, window, cpu, stats,
                      (log_time(fwd_line) - t_launch).total_seconds())


def run_ioamfwd_diff(env: Env, config: str, pcap: str, short_s: float, long_s: float,
                     workdir: str, tag: str) -> float:
    """The two-run method: packets per wall second from the differences of
    tx and runtime_ms between a short and a long run."""
    a = run_ioamfwd(env, config, pcap, short_s, workdir, tag + "-short")
    b = run_ioamfwd(env, config, pcap, long_s, workdir, tag + "-long")
    dt_ms = b.stats["runtime_ms"] - a.stats["runtime_ms"]
    return (b.tx - a.tx) / (dt_ms / 1000.0)


# --- testpmd -----------------------------------------------------------------

@dataclasses.dataclass
class TestpmdRun:
    periods_pps: list[float]   # sink port Tx-pps per stats period
    cpu: CpuWindow

    @property
    def pps_wall(self) -> float:
        use = self.periods_pps[1:] or self.periods_pps
        return sum(use) / len(use)

    @property
    def pps(self) -> float:
        return self.pps_wall / max(self.cpu.share, 1e-9)


def parse_testpmd_periods(text: str, port: int) -> list[float]:
    """Tx-pps of `port` from each --stats-period block."""
    out, cur = [], None
    for line in text.splitlines():
        m = re.search(r"NIC statistics for port (\d+)", line)
        if m:
            cur = int(m.group(1))
            continue
        m = re.search(r"Tx-pps:\s+(\d+)", line)
        if m and cur == port:
            out.append(float(m.group(1)))
    return out


def run_testpmd(env: Env, pcap: str | list[str], seconds: float, workdir: str, tag: str,
                cores: int = 1) -> TestpmdRun:
    """io forwarding from net_pcap (infinite replay, one rx queue per
    capture) to net_null (no-rx), `cores` forwarding lcores with as many rx
    and tx queues per port: lcore k gets queue k of both ports (testpmd's
    RSS stream layout), as ioamfwd's scaling configuration does."""
    os.makedirs(workdir, exist_ok=True)
    vdevs = ioamfwd_vdevs(pcap)
    out = os.path.join(workdir, f"{tag}.out")
    # Line-buffered stdout, so the start line is seen when it is printed.
    cmd = env.prio() + ["stdbuf", "-oL", env.testpmd] + env.eal(vdevs, tag) + \
        ["--", "--forward-mode=io", f"--nb-cores={cores}", "--stats-period", "1",
         "--burst=32", f"--rxq={cores}", f"--txq={cores}"]
    with open(os.path.join(workdir, f"{tag}.cmd"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    with open(out, "w") as fo:
        proc = spawn(env, cmd, stdout=fo, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_for(out, r"Start automatic packet forwarding|io packet forwarding - ports", proc, 60)
        tids = []
        for _ in range(100):
            tids = list(worker_tids(proc.pid).values())
            if len(tids) >= cores:
                break
            time.sleep(0.01)
        if not tids:
            raise RunError("no testpmd forwarding thread found")
        time.sleep(1.0)
        cpu = measure_window(proc.pid, tids, seconds, proc)
    finally:
        _stop(proc)
    with open(out, errors="replace") as f:
        text = f.read()
    periods = parse_testpmd_periods(text, 1)
    # The first period is the start, possibly partial; keep whole ones.
    periods = [p for p in periods if p > 0]
    if len(periods) < 3:
        raise RunError("testpmd printed fewer than 3 statistics periods:\n" + tail(out))
    return TestpmdRun(periods, cpu)
