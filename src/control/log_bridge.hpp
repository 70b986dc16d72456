#pragma once
// DPDK's own log (rte_log: EAL, PMDs, telemetry) into spdlog, so the
// appliance writes one stream with one format and one level setting.

namespace ioamfwd::cp {

/// Points rte_log at a stdio stream whose writes become spdlog records of
/// the matching level (ERR and worse: error, WARNING: warn, NOTICE/INFO:
/// info, DEBUG: debug). Call before rte_eal_init so EAL's start-up messages
/// go the same way. Returns false if the stream cannot be created (DPDK then
/// keeps its default, stderr).
bool install_dpdk_log_bridge();

}  // namespace ioamfwd::cp
