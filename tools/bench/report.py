"""Turning the runs into the results table (markdown), the plot (PNG) and the
memory section."""

from __future__ import annotations

import statistics

import scenarios as sc

MiB = 1 << 20


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def summarize(runs: dict, tsc_hz: float) -> dict:
    """runs[scenario] = {"ioamfwd": [rep...], "testpmd": [rep...]}, each rep a
    dict with "pps", "pps_wall", "share". Returns per-scenario figures."""
    out = {}
    fwd = runs.get("fwd", {}).get("ioamfwd", [])
    for name, r in runs.items():
        io = [x["pps"] for x in r.get("ioamfwd", [])]
        tp = [x["pps"] for x in r.get("testpmd", [])]
        s = {
            "ioamfwd_mpps": med(io) / 1e6, "ioamfwd_min": min(io, default=0) / 1e6,
            "ioamfwd_max": max(io, default=0) / 1e6,
            "testpmd_mpps": med(tp) / 1e6, "testpmd_min": min(tp, default=0) / 1e6,
            "testpmd_max": max(tp, default=0) / 1e6,
            "reps": len(io),
            "share_min": min([x["share"] for x in r.get("ioamfwd", []) + r.get("testpmd", [])],
                             default=float("nan")),
        }
        s["neighbours_busy"] = med([x.get("others_busy", 0.0) for x in r.get("ioamfwd", [])])
        s["ioamfwd_cycles"] = tsc_hz / (s["ioamfwd_mpps"] * 1e6) if io else float("nan")
        s["testpmd_cycles"] = tsc_hz / (s["testpmd_mpps"] * 1e6) if tp else float("nan")
        s["extra_cycles"] = s["ioamfwd_cycles"] - s["testpmd_cycles"]
        s["vs_testpmd"] = s["ioamfwd_mpps"] / s["testpmd_mpps"] if tp and io else float("nan")
        # Paired per repetition (adjacent in time): the spread of the ratios.
        pairs = [a["pps"] / b["pps"] for a, b in zip(r.get("ioamfwd", []), r.get("testpmd", []))]
        s["vs_testpmd_range"] = (min(pairs), max(pairs)) if pairs else None
        if fwd and io:
            s["vs_plain"] = s["ioamfwd_mpps"] * 1e6 / med([x["pps"] for x in fwd])
            p = [a["pps"] / b["pps"] for a, b in zip(r["ioamfwd"], fwd)]
            s["vs_plain_range"] = (min(p), max(p))
        out[name] = s
    return out


def _target(name: str) -> tuple[str, float | None]:
    """(what the target compares against, required ratio)."""
    if name == "fwd":
        return "testpmd", 0.60
    return "plain", sc.BY_NAME[name].target


def verdict(name: str, s: dict) -> str:
    what, t = _target(name)
    if t is None:
        return "—"
    v = s["vs_testpmd"] if what == "testpmd" else s.get("vs_plain")
    if v is None or v != v:
        return "n/a"
    return ("**yes**" if v >= t else "**no**") + f" (≥ {t:.2f} of {what})"


def table_md(summary: dict, order: list[str]) -> str:
    head = ("| Scenario | Frame in → out (B) | testpmd io Mpps | ioamfwd Mpps (min–max) "
            "| ioamfwd cycles/pkt | cycles over testpmd | ioamfwd / testpmd | ioamfwd / plain fwd "
            "| Target holds | other CPU busy |\n|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for name in order:
        if name not in summary:
            continue
        s = summary[name]
        scn = sc.BY_NAME[name]
        i, o = sc.frame_sizes(scn)
        plain = "1.00" if name == "fwd" else (
            f"{s['vs_plain']:.2f} ({s['vs_plain_range'][0]:.2f}–{s['vs_plain_range'][1]:.2f})"
            if s.get("vs_plain") else "—")
        rng = s["vs_testpmd_range"]
        rows.append(
            f"| {name}: {scn.title} | {i} → {o} | {s['testpmd_mpps']:.1f} "
            f"| **{s['ioamfwd_mpps']:.1f}** ({s['ioamfwd_min']:.1f}–{s['ioamfwd_max']:.1f}) "
            f"| {s['ioamfwd_cycles']:.0f} | +{s['extra_cycles']:.0f} "
            f"| {s['vs_testpmd']:.2f}" + (f" ({rng[0]:.2f}–{rng[1]:.2f})" if rng else "") +
            f" | {plain} | {verdict(name, s)} | {100 * s['neighbours_busy']:.0f} % |")
    out = head + "\n".join(rows) + "\n"
    busy = [summary[n]["neighbours_busy"] for n in order if n in summary]
    if busy and max(busy) > 0.5:
        out += (f"\n**Measured while the other CPUs were up to {100 * max(busy):.0f} % busy** "
                "(other jobs on this machine). Absolute rates are depressed and the ratios are "
                "noisy: compare only runs made under similar load, and prefer a quiet machine for "
                "verdicts (tools/bench/README.md, \"Shared machines\").\n")
    return out


def plot(summary: dict, order: list[str], path: str, subtitle: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in order if n in summary]
    x = list(range(len(names)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    w = 0.38
    for off, key, label, color in ((-w / 2, "testpmd", "dpdk-testpmd io (same vdevs, ceiling)",
                                    "#b0b0b0"),
                                   (w / 2, "ioamfwd", "ioamfwd", "#1f5fa8")):
        vals = [summary[n][f"{key}_mpps"] for n in names]
        if all(v != v for v in vals):
            continue  # --no-testpmd
        lo = [summary[n][f"{key}_mpps"] - summary[n][f"{key}_min"] for n in names]
        hi = [summary[n][f"{key}_max"] - summary[n][f"{key}_mpps"] for n in names]
        bars = ax1.bar([i + off for i in x], vals, w, yerr=[lo, hi], capsize=3, label=label,
                       color=color)
        if key == "ioamfwd":
            for b, n in zip(bars, names):
                ax1.annotate(f"{summary[n]['ioamfwd_cycles']:.0f} cyc",
                             (b.get_x() + b.get_width() / 2, b.get_height()),
                             ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                             textcoords="offset points")
    ax1.set_xticks(x, names, rotation=25, ha="right")
    ax1.set_ylabel("Mpps, one forwarding core (median, min–max)")
    ax1.set_title("Throughput: net_pcap (infinite_rx) → net_null")
    ax1.legend(fontsize=8)
    ax1.grid(axis="y", alpha=0.3)

    ratios, targets, labels = [], [], []
    for n in names:
        what, t = _target(n)
        s = summary[n]
        ratios.append(s["vs_testpmd"] if what == "testpmd" else s.get("vs_plain", 0))
        targets.append(t)
        labels.append(f"{n}\n/ {what}")
    ratios = [0.0 if v is None or v != v else v for v in ratios]
    colors = ["#909090" if t is None else "#2e8b57" if r >= t else "#c0392b"
              for r, t in zip(ratios, targets)]
    ax2.bar(x, ratios, 0.6, color=colors)
    for i, t in zip(x, targets):
        if t is not None:
            ax2.plot([i - 0.35, i + 0.35], [t, t], color="black", lw=2)
    ax2.set_xticks(x, labels, rotation=25, ha="right", fontsize=8)
    ax2.set_ylim(0, 1.1)
    ax2.set_ylabel("ratio (black bar = target)")
    ax2.set_title("fwd / testpmd io; IOAM scenarios / plain forwarding")
    ax2.grid(axis="y", alpha=0.3)
    fig.suptitle(subtitle, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def memory_md(mem: dict) -> str:
    """Two tables: where the memory goes, then how long the table takes."""
    ok = [c for c in mem.get("cases", []) if "error" not in c]
    lines = ["| Configuration | FIB prefixes (+ anchors) | heap allocated | mbuf pool "
             "| FIB trie (rte_malloc) | FIB RIB nodes (mempool) | rings | other | RSS "
             "| min `-m` (start / + reload) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in mem.get("cases", []):
        if "error" in c:
            t = c.get("start_to_error_s")
            when = f" after {t:.1f} s" if t is not None else ""
            lines.append(f"| {c['title']} | {c['table_entries']} | **fails**{when}: "
                         f"`{c['error']}` (with `--no-huge -m {c['mem_mb']}`) "
                         "| — | — | — | — | — | — | — |")
            continue
        g = c["groups"]
        t = c.get("route_table", {})
        rss = c["telemetry"]["rss_kb"].get("VmRSS", 0) / 1024
        trie = g["rte_malloc outside memzones (FIB trie, hashes, ...)"]
        known = g["mbuf pool"] + g["FIB RIB nodes (mempool)"] + g["rings"] + trie
        other = g["heap allocated (total)"] - known
        entries = f"{t['prefixes']} (+ {t['anchors']})" if t else str(c["table_entries"])
        lines.append(
            f"| {c['title']} | {entries} | {g['heap allocated (total)'] / MiB:.1f} MiB "
            f"| {g['mbuf pool'] / MiB:.1f} MiB | {trie / MiB:.1f} MiB "
            f"| {g['FIB RIB nodes (mempool)'] / MiB:.1f} MiB | {g['rings'] / MiB:.2f} MiB "
            f"| {other / MiB:.1f} MiB | {rss:.0f} MiB "
            f"| {c.get('min_mem_mb_start')} / {c.get('min_mem_mb_reload')} MiB |")
    out = "\n".join(lines) + "\n"
    if ok:
        out += ("\n| Configuration | YAML | read the config (launch → EAL) | start → forwarding "
                "| FIB build | SIGHUP reload (read + build + swap) "
                "| tbl8 groups used / reserved / allocated | FIB entry |\n"
                "|---|---|---|---|---|---|---|---|\n")
        for c in ok:
            t = c.get("route_table", {})
            rl = f"{c['reload_s']:.2f} s" if "reload_s" in c else c.get("reload_error", "?")
            grp = (f"{t['groups_used']} / {t['groups_reserved']} / {t['groups_allocated']}"
                   if t else "?")
            build = f"{t['build_s'] * 1000:.0f} ms" if t else "?"
            cl = f"{c['config_load_s']:.2f} s" if "config_load_s" in c else "?"
            out += (f"| {c['title']} | {c['config_bytes'] / 1e6:.1f} MB | {cl} "
                    f"| {c['start_to_forwarding_s']:.2f} s | {build} | {rl} | {grp} "
                    f"| {t.get('entry_bytes', '?')} B |\n")
    return out


def scaling_summary(scaling: dict, names: list[str]) -> dict:
    """scaling[workers] = {"runs": runs, ...} -> per (workers, scenario): the
    median total rate (per core-time, as in the single-worker table), per
    worker, the efficiency against workers x the 1-worker rate, the same for
    testpmd, and what the CPUs looked like."""
    out: dict = {}
    base = {}
    for w in sorted(scaling, key=int):
        for n in names:
            r = scaling[w]["runs"].get(n, {})
            io, tp = r.get("ioamfwd", []), r.get("testpmd", [])
            s = {
                "lcores": scaling[w]["lcores"], "note": scaling[w]["note"],
                "ioamfwd_mpps": med([x["pps"] for x in io]) / 1e6 if io else float("nan"),
                "ioamfwd_wall_mpps": med([x["pps_wall"] for x in io]) / 1e6 if io else float("nan"),
                "testpmd_mpps": med([x["pps"] for x in tp]) / 1e6 if tp else float("nan"),
                "testpmd_wall_mpps": med([x["pps_wall"] for x in tp]) / 1e6 if tp else float("nan"),
                "share": med([x["share"] for x in io]) if io else float("nan"),
                "thread_shares": [med([x["per_thread"][i] for x in io if len(x.get("per_thread", [])) > i])
                                  for i in range(int(w))] if io else [],
                "main_share": med([x.get("main_share", 0.0) for x in io]) if io else float("nan"),
                "worker_rx_split": _rx_split(io),
                "busy_before": med([x["busy_before"] for x in io + tp
                                    if x.get("busy_before") is not None]),
                "steal": med([x.get("steal", 0.0) for x in io]) if io else float("nan"),
                "reps": len(io),
            }
            if int(w) == 1:
                base[n] = s
            b = base.get(n)
            for k in ("ioamfwd", "testpmd"):
                s[f"{k}_per_worker"] = s[f"{k}_mpps"] / int(w)
                s[f"{k}_eff"] = (s[f"{k}_mpps"] / (int(w) * b[f"{k}_mpps"])
                                 if b and b[f"{k}_mpps"] > 0 else float("nan"))
            out.setdefault(str(w), {})[n] = s
    return out


def _rx_split(io: list[dict]) -> list[float]:
    """Median share of the packets each worker lcore received, by lcore id."""
    per: dict = {}
    for x in io:
        lc = x.get("lcores") or {}
        total = sum(v["rx"] for v in lc.values())
        for k, v in lc.items():
            if total:
                per.setdefault(int(k), []).append(v["rx"] / total)
    return [med(per[k]) for k in sorted(per)]


def scaling_md(summary: dict, names: list[str], info: dict, cpus: int) -> str:
    lines = ["| workers | EAL lcores | scenario | ioamfwd Mpps | per worker | efficiency "
             "| testpmd Mpps | per core | efficiency | ioamfwd / testpmd | worker CPU share "
             "| main lcore CPU | packets by worker |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for w in sorted(summary, key=int):
        for n in names:
            s = summary[w].get(n)
            if not s:
                continue
            shares = " / ".join(f"{x:.2f}" for x in s["thread_shares"])
            split = " / ".join(f"{100 * x:.0f} %" for x in s["worker_rx_split"]) or "—"
            ratio = (s["ioamfwd_mpps"] / s["testpmd_mpps"] if s["testpmd_mpps"] > 0
                     else float("nan"))
            lines.append(
                f"| {w} | `{s['lcores']}` | {n} | {s['ioamfwd_mpps']:.2f} "
                f"| {s['ioamfwd_per_worker']:.2f} | {100 * s['ioamfwd_eff']:.0f} % "
                f"| {s['testpmd_mpps']:.2f} | {s['testpmd_per_worker']:.2f} "
                f"| {100 * s['testpmd_eff']:.0f} % | {ratio:.2f} | {shares} "
                f"| {100 * s['main_share']:.1f} % | {split} |")
    out = "\n".join(lines) + "\n"
    notes = sorted({s["note"] for w in summary.values() for s in w.values() if s["note"]})
    busy = [s["busy_before"] for w in summary.values() for s in w.values()
            if s["busy_before"] == s["busy_before"]]
    out += (f"\nMpps are per second of forwarding-core time (wall rate / the forwarding "
            f"threads' on-CPU share), medians over the repetitions; efficiency = rate with N "
            f"workers / (N × the 1-worker rate). {cpus} CPUs"
            + (f"; {'; '.join(notes)}" if notes else "")
            + (f". Before each run the machine was {100 * min(busy):.0f}-{100 * max(busy):.0f} % "
               f"busy with other work (median {100 * med(busy):.0f} %)" if busy else "")
            + f"; load average at the start {' '.join(info.get('loadavg', []))}.\n")
    return out
