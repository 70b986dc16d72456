#include "control/stats_report.hpp"

#include <fmt/format.h>

namespace ioamfwd::cp {

uint64_t StatsTotals::total_rx() const {
    uint64_t s = 0;
    for (uint64_t v : rx) s += v;
    return s;
}

uint64_t StatsTotals::total_drops() const {
    uint64_t s = 0;
    for (uint64_t v : drops) s += v;
    return s;
}

StatsTotals sum_stats(const std::vector<const dp::WorkerStats*>& workers) {
    StatsTotals t;
    for (const dp::WorkerStats* w : workers) {
        for (unsigned i = 0; i < dp::kDropCount; ++i) t.drops[i] += w->drops[i].get();
        for (unsigned i = 0; i < dp::kIoamEventCount; ++i) t.ioam[i] += w->ioam[i].get();
        for (unsigned i = 0; i < dp::kIcmpEventCount; ++i) t.icmp[i] += w->icmp[i].get();
        for (unsigned p = 0; p < dp::kMaxPorts; ++p) {
            t.rx[p] += w->rx[p].get();
            t.tx[p] += w->tx[p].get();
        }
        t.rx_bursts += w->rx_bursts.get();
        t.rx_full_bursts += w->rx_full_bursts.get();
    }
    return t;
}

std::string format_summary(const StatsTotals& t, const std::vector<PortLabel>& ports,
                           const RunInfo& run, const std::vector<LcoreStats>& lcores) {
    std::string s = fmt::format("ioamfwd summary after {} ms\n", run.runtime_ms);
    for (const auto& p : ports)
        s += fmt::format("  port {:<10} {:<24} rx {:>12}  tx {:>12}\n", p.name, p.device,
                         t.rx[p.port_id], t.tx[p.port_id]);
    s += "  ioam:";
    bool any = false;
    for (unsigned i = 0; i < dp::kIoamEventCount; ++i)
        if (t.ioam[i]) {
            s += fmt::format(" {} {}", dp::ioam_event_name(dp::IoamEvent(i)), t.ioam[i]);
            any = true;
        }
    s += any ? "\n" : " none\n";
    std::string icmp;
    for (unsigned i = 0; i < dp::kIcmpEventCount; ++i)
        if (t.icmp[i]) icmp += fmt::format(" {} {}", dp::icmp_event_name(dp::IcmpEvent(i)), t.icmp[i]);
    if (!icmp.empty()) s += "  icmp:" + icmp + "\n";
    s += fmt::format("  drops: {}\n", t.total_drops());
    for (unsigned i = 0; i < dp::kDropCount; ++i)
        if (t.drops[i])
            s += fmt::format("    {:<24} {:>12}  ({})\n", dp::drop_name(dp::Drop(i)), t.drops[i],
                             dp::drop_description(dp::Drop(i)));
    if (t.rx_bursts)
        s += fmt::format("  rx bursts {} ({:.1f} pkts/burst, {:.1f}% full)\n", t.rx_bursts,
                         double(t.total_rx()) / double(t.rx_bursts),
                         100.0 * double(t.rx_full_bursts) / double(t.rx_bursts));
    if (lcores.size() > 1)
        for (const LcoreStats& l : lcores) {
            uint64_t tx = 0;
            for (uint64_t v : l.counts.tx) tx += v;
            s += fmt::format("  lcore {:<3} rx {:>12}  tx {:>12}  drops {:>10}  rx by queue:",
                             l.lcore, l.counts.total_rx(), tx, l.counts.total_drops());
            for (const LcoreQueueStats& q : l.queues) s += fmt::format(" {} {}", q.label, q.rx);
            s += "\n";
        }
    if (run.exporting)
        s += fmt::format("  trace export: {} written, {} lost by the writer\n", run.export_written,
                         run.export_lost);
    std::string nd;
    for (const auto& [name, v] : run.nd)
        if (v) nd += fmt::format(" {} {}", name, v);
    if (!nd.empty()) s += "  nd:" + nd + "\n";
    s += fmt::format("  mbufs in use at exit: {}\n", run.mbufs_in_use);
    return s;
}

std::string format_json(const StatsTotals& t, const std::vector<PortLabel>& ports,
                        const RunInfo& run, const std::vector<LcoreStats>& lcores) {
    std::string s = fmt::format("{{\"runtime_ms\": {}, \"mbufs_in_use\": {},\n \"ports\": {{",
                                run.runtime_ms, run.mbufs_in_use);
    // Names come from our validated config ([A-Za-z0-9_.-]) and EAL device
    // names, neither of which needs JSON escaping beyond quotes.
    for (size_t i = 0; i < ports.size(); ++i)
        s += fmt::format("{}\"{}\": {{\"device\": \"{}\", \"rx\": {}, \"tx\": {}}}",
                         i ? ", " : "", ports[i].name, ports[i].device, t.rx[ports[i].port_id],
                         t.tx[ports[i].port_id]);
    s += "},\n \"drops\": {";
    for (unsigned i = 0; i < dp::kDropCount; ++i)
        s += fmt::format("{}\"{}\": {}", i ? ", " : "", dp::drop_name(dp::Drop(i)), t.drops[i]);
    s += "},\n \"ioam\": {";
    for (unsigned i = 0; i < dp::kIoamEventCount; ++i)
        s += fmt::format("{}\"{}\": {}", i ? ", " : "", dp::ioam_event_name(dp::IoamEvent(i)),
                         t.ioam[i]);
    s += "},\n \"icmp\": {";
    for (unsigned i = 0; i < dp::kIcmpEventCount; ++i)
        s += fmt::format("{}\"{}\": {}", i ? ", " : "", dp::icmp_event_name(dp::IcmpEvent(i)),
                         t.icmp[i]);
    s += "},\n \"nd\": {";
    for (size_t i = 0; i < run.nd.size(); ++i)
        s += fmt::format("{}\"{}\": {}", i ? ", " : "", run.nd[i].first, run.nd[i].second);
    s += fmt::format("}},\n \"export\": {{\"written\": {}, \"lost\": {}}},", run.export_written,
                     run.export_lost);
    s += fmt::format("\n \"rx_bursts\": {}, \"rx_full_bursts\": {}", t.rx_bursts,
                     t.rx_full_bursts);
    // Keyed by lcore id; queue labels are "PORT/QUEUE" from validated names.
    s += ",\n \"lcores\": {";
    for (size_t i = 0; i < lcores.size(); ++i) {
        const LcoreStats& l = lcores[i];
        uint64_t tx = 0;
        for (uint64_t v : l.counts.tx) tx += v;
        s += fmt::format("{}\"{}\": {{\"rx\": {}, \"tx\": {}, \"drops\": {}, \"idle_sleeps\": {}, "
                         "\"rx_queues\": {{",
                         i ? ",\n  " : "\n  ", l.lcore, l.counts.total_rx(), tx,
                         l.counts.total_drops(), l.idle_sleeps);
        for (size_t q = 0; q < l.queues.size(); ++q)
            s += fmt::format("{}\"{}\": {}", q ? ", " : "", l.queues[q].label, l.queues[q].rx);
        s += "}}";
    }
    s += "}}\n";
    return s;
}

}  // namespace ioamfwd::cp
