#pragma once
// Which worker lcore polls which (port, rx queue): lcores[] from the
// configuration checked against the EAL's lcores, or the default spread.
// Pure (no DPDK), so every rule is unit-tested without an EAL.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/config.hpp"

namespace ioamfwd::cp {

struct RxAssignment {
    size_t port = 0;  // index into Config::ports
    uint16_t queue = 0;
    bool operator==(const RxAssignment&) const = default;
};

struct WorkerPlan {
    unsigned lcore = 0;
    std::vector<RxAssignment> rx;  // polled in this order
};

struct RxPlan {
    // Only lcores with at least one queue: an lcore without one is not
    // launched (it would spin for nothing), and each worker needs a tx queue
    // on every port, so fewer workers also means fewer tx queues.
    std::vector<WorkerPlan> workers;
    std::vector<unsigned> idle_lcores;  // EAL worker lcores left without a queue
};

/// `eal_workers`: the EAL's worker lcores in order; `main_lcore` runs the
/// control thread. Without lcores[] the (port, queue) pairs, port by port,
/// are dealt round-robin over `eal_workers` (one queue per port gives
/// port i to worker i mod n). Returns nullopt and a FILE:LINE:COLUMN message
/// in `err` when lcores[] names an lcore that is not an EAL worker, or when
/// an lcore would poll more than `max_rx_per_lcore` queues.
std::optional<RxPlan> plan_rx(const Config& cfg, const std::vector<unsigned>& eal_workers,
                              unsigned main_lcore, size_t max_rx_per_lcore, std::string& err);

/// --rx-config "(PORT,QUEUE,LCORE),...": the command-line form of lcores[]
/// (as l3fwd's --config, with port names). Checked against `cfg` by the
/// loader's rules (known port, queue below rx_queues, each pair once, every
/// queue polled); entries of one lcore keep their order. Returns nullopt and
/// a message naming the offending entry in `err`.
std::optional<std::vector<LcoreConfig>> parse_rx_config(const std::string& text,
                                                        const Config& cfg, std::string& err);

/// "eth0/0 eth1/0" for log lines.
std::string describe_rx(const Config& cfg, const std::vector<RxAssignment>& rx);

}  // namespace ioamfwd::cp
