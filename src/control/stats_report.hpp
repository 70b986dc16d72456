#pragma once
// Sums the per-worker counters and renders them for people (the exit summary)
// and for scripts (--stats-json).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/worker_stats.hpp"

namespace ioamfwd::cp {

struct PortLabel {
    std::string name;
    std::string device;
    uint16_t port_id = 0;
};

struct StatsTotals {
    uint64_t drops[dp::kDropCount] = {};
    uint64_t ioam[dp::kIoamEventCount] = {};
    uint64_t icmp[dp::kIcmpEventCount] = {};
    uint64_t rx[dp::kMaxPorts] = {};
    uint64_t tx[dp::kMaxPorts] = {};
    uint64_t rx_bursts = 0;
    uint64_t rx_full_bursts = 0;

    uint64_t total_rx() const;
    uint64_t total_drops() const;
};

StatsTotals sum_stats(const std::vector<const dp::WorkerStats*>& workers);

struct LcoreQueueStats {
    std::string label;  // "eth0/1" = port eth0, queue 1
    uint16_t port_id = 0;
    uint16_t queue = 0;
    uint64_t rx = 0;
};

/// One worker lcore's share: its counters and what it received on each of
/// its rx queues.
struct LcoreStats {
    unsigned lcore = 0;
    StatsTotals counts;
    std::vector<LcoreQueueStats> queues;
    uint64_t idle_sleeps = 0;
};

struct RunInfo {
    uint64_t runtime_ms = 0;
    uint64_t mbufs_in_use = 0;
    bool exporting = false;
    uint64_t export_written = 0;  // JSON lines written by the exporter
    uint64_t export_lost = 0;     // lines no reader got (write failure, slow socket client)
    std::vector<std::pair<std::string, uint64_t>> nd;  // the control thread's ND counters
};

/// `lcores`: one line per worker lcore when there is more than one.
std::string format_summary(const StatsTotals& t, const std::vector<PortLabel>& ports,
                           const RunInfo& run, const std::vector<LcoreStats>& lcores = {});
/// `lcores` adds a per-lcore section (rx, tx, drops, rx by queue).
std::string format_json(const StatsTotals& t, const std::vector<PortLabel>& ports,
                        const RunInfo& run, const std::vector<LcoreStats>& lcores = {});

}  // namespace ioamfwd::cp
