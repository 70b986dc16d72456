#pragma once
// DPDK telemetry endpoints (read them with dpdk-telemetry.py, or any client
// of the v2 socket in the EAL runtime directory):
//
//   /ioamfwd/stats       totals of the whole run: rx, tx, every drop reason
//                        and IOAM event (zeros included), generation, forwarding,
//                        neighbour discovery ("nd", as of the last 100 ms refresh)
//   /ioamfwd/ports       per port: device, port id, the forwarder's rx/tx and
//                        the device's rte_eth_stats
//   /ioamfwd/lcores      per worker lcore ("lcore1"): rx, tx, drops, idle
//                        sleeps and rx by queue ("port0_q1": port id 0, queue 1)
//   /ioamfwd/namespaces  the IOAM namespaces by id (data, wide, schema)
//   /ioamfwd/routes      by position: the routes (prefix, via, port, encap),
//                        then the connected prefixes
//   /ioamfwd/neighbors   by position: static neighbours, then the discovered
//                        ones (address, port, lladdr, state, kind)
//
// The list endpoints return at most one page (kTelemetryPage entries; DPDK
// 22.11 limits a reply to 16 KiB); `/ioamfwd/routes,OFFSET` gives the page
// that starts at OFFSET. Callbacks run on EAL's telemetry thread and reach
// the appliance only through TelemetrySource, under a lock that
// telemetry_detach() takes, so no callback runs once it has returned.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "control/config.hpp"
#include "control/stats_report.hpp"

namespace ioamfwd::cp {

inline constexpr unsigned kTelemetryPage = 32;

struct NeighborRow {
    std::string address;
    std::string port;
    std::string lladdr;  // empty while INCOMPLETE
    std::string state;   // PERMANENT for static entries
    bool is_static = false;
};

class TelemetrySource {
public:
    virtual ~TelemetrySource() = default;
    /// Whole-run counters (not reset by clear stats).
    virtual StatsTotals telemetry_totals() = 0;
    virtual bool telemetry_forwarding() = 0;
    virtual uint64_t telemetry_generation() = 0;
    virtual std::vector<PortLabel> telemetry_ports() = 0;
    /// Whole-run counters of each worker lcore.
    virtual std::vector<LcoreStats> telemetry_lcores() = 0;
    /// A copy of the running configuration, taken under its lock.
    virtual Config telemetry_config() = 0;
    virtual std::vector<NeighborRow> telemetry_neighbors() { return {}; }
    virtual std::vector<std::pair<std::string, uint64_t>> telemetry_nd_counters() { return {}; }
};

/// Registers the endpoints (once per process) and makes `source` answer them.
void telemetry_attach(TelemetrySource* source);
/// From now on the endpoints answer with an error; waits for a running callback.
void telemetry_detach();

}  // namespace ioamfwd::cp
