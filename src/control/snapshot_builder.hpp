#pragma once
// Compiles a validated Config into the dataplane's immutable Snapshot:
// FIB with connected, static and local (/128) routes, resolved next hops,
// the neighbor table, and the IOAM namespaces with their ready-made OSS words.

#include <rte_ether.h>

#include <memory>
#include <string>
#include <vector>

#include "control/config.hpp"
#include "dataplane/snapshot.hpp"

namespace ioamfwd::cp {

/// A configured port as it was brought up.
struct PortBinding {
    std::string name;
    uint16_t port_id = 0;
    rte_ether_addr mac{};
};

/// nullptr and `err` set when the tables cannot be built (memory, limits).
std::unique_ptr<dp::Snapshot> build_snapshot(const Config& cfg,
                                             const std::vector<PortBinding>& ports,
                                             uint64_t generation, std::string& err);

}  // namespace ioamfwd::cp
