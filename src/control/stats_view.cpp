#include "control/stats_view.hpp"

#include <fmt/format.h>

namespace ioamfwd::cp {

StatsTotals stats_minus(const StatsTotals& a, const StatsTotals& b) {
    StatsTotals d;
    for (unsigned i = 0; i < dp::kDropCount; ++i) d.drops[i] = a.drops[i] - b.drops[i];
    for (unsigned i = 0; i < dp::kIoamEventCount; ++i) d.ioam[i] = a.ioam[i] - b.ioam[i];
    for (unsigned i = 0; i < dp::kIcmpEventCount; ++i) d.icmp[i] = a.icmp[i] - b.icmp[i];
    for (unsigned p = 0; p < dp::kMaxPorts; ++p) {
        d.rx[p] = a.rx[p] - b.rx[p];
        d.tx[p] = a.tx[p] - b.tx[p];
    }
    d.rx_bursts = a.rx_bursts - b.rx_bursts;
    d.rx_full_bursts = a.rx_full_bursts - b.rx_full_bursts;
    return d;
}

uint64_t stats_total_tx(const StatsTotals& t) {
    uint64_t s = 0;
    for (uint64_t v : t.tx) s += v;
    return s;
}

std::string format_lcore_stats(const std::vector<LcoreStats>& lcores, bool forwarding,
                               uint64_t generation) {
    StatsTotals all;
    for (const LcoreStats& l : lcores) {
        const StatsTotals& c = l.counts;
        for (unsigned i = 0; i < dp::kDropCount; ++i) all.drops[i] += c.drops[i];
        for (unsigned i = 0; i < dp::kIoamEventCount; ++i) all.ioam[i] += c.ioam[i];
        for (unsigned i = 0; i < dp::kIcmpEventCount; ++i) all.icmp[i] += c.icmp[i];
        for (unsigned p = 0; p < dp::kMaxPorts; ++p) {
            all.rx[p] += c.rx[p];
            all.tx[p] += c.tx[p];
        }
        all.rx_bursts += c.rx_bursts;
        all.rx_full_bursts += c.rx_full_bursts;
    }
    std::string s = fmt::format("forwarding {}, configuration generation {}, {} worker lcore(s)\n",
                                forwarding ? "on" : "off", generation, lcores.size());
    s += fmt::format("total     rx {:>12}  tx {:>12}  drops {:>10}\n", all.total_rx(),
                     stats_total_tx(all), all.total_drops());
    for (const LcoreStats& l : lcores) {
        const StatsTotals& t = l.counts;
        s += fmt::format("lcore {:<3} rx {:>12}  tx {:>12}  drops {:>10}", l.lcore, t.total_rx(),
                         stats_total_tx(t), t.total_drops());
        if (t.rx_bursts)
            s += fmt::format("  bursts {} ({:.1f} pkts/burst, {:.1f}% full)", t.rx_bursts,
                             double(t.total_rx()) / double(t.rx_bursts),
                             100.0 * double(t.rx_full_bursts) / double(t.rx_bursts));
        s += "\n";
        if (!l.queues.empty()) {
            s += "          rx by queue:";
            for (const LcoreQueueStats& q : l.queues) s += fmt::format(" {} {}", q.label, q.rx);
            if (l.idle_sleeps) s += fmt::format("  idle sleeps {}", l.idle_sleeps);
            s += "\n";
        }
    }
    bool header = false;
    for (unsigned i = 0; i < dp::kIoamEventCount; ++i) {
        if (!all.ioam[i]) continue;
        if (!header) s += "ioam:\n";
        header = true;
        s += fmt::format("  {:<24} {:>12}  ({})\n", dp::ioam_event_name(dp::IoamEvent(i)),
                         all.ioam[i], dp::ioam_event_description(dp::IoamEvent(i)));
    }
    header = false;
    for (unsigned i = 0; i < dp::kIcmpEventCount; ++i) {
        if (!all.icmp[i]) continue;
        if (!header) s += "icmp:\n";
        header = true;
        s += fmt::format("  {:<24} {:>12}  ({})\n", dp::icmp_event_name(dp::IcmpEvent(i)),
                         all.icmp[i], dp::icmp_event_description(dp::IcmpEvent(i)));
    }
    header = false;
    for (unsigned i = 0; i < dp::kDropCount; ++i) {
        if (!all.drops[i]) continue;
        if (!header) s += "drops:\n";
        header = true;
        s += fmt::format("  {:<24} {:>12}  ({})\n", dp::drop_name(dp::Drop(i)), all.drops[i],
                         dp::drop_description(dp::Drop(i)));
    }
    return s;
}

std::string format_interval_line(const StatsTotals& now, const StatsTotals& before,
                                 double seconds, const std::vector<PortLabel>& ports,
                                 bool forwarding) {
    const StatsTotals d = stats_minus(now, before);
    auto rate = [&](uint64_t n) { return seconds > 0 ? uint64_t(double(n) / seconds + 0.5) : 0; };
    std::string s = "stats:";
    for (const PortLabel& p : ports)
        s += fmt::format(" {} rx {} pps tx {} pps |", p.name, rate(d.rx[p.port_id]),
                         rate(d.tx[p.port_id]));
    s += fmt::format(" drops {}/s (total {})", rate(d.total_drops()), now.total_drops());
    if (!forwarding) s += " | forwarding stopped";
    return s;
}

}  // namespace ioamfwd::cp
