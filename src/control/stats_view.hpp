#pragma once
// The console's and the periodic log's views of the counters: per worker
// lcore, per port rate, since `clear stats`. The exit summary and
// --stats-json (stats_report) always count the whole run.

#include <cstdint>
#include <string>
#include <vector>

#include "control/stats_report.hpp"

namespace ioamfwd::cp {

/// a - b, field by field (counters only grow, so b <= a).
StatsTotals stats_minus(const StatsTotals& a, const StatsTotals& b);
uint64_t stats_total_tx(const StatsTotals& t);

/// `show stats`.
std::string format_lcore_stats(const std::vector<LcoreStats>& lcores, bool forwarding,
                               uint64_t generation);

/// The --stats-interval line: rx/tx packets per second per port over
/// `seconds`, drops per second and in total.
std::string format_interval_line(const StatsTotals& now, const StatsTotals& before,
                                 double seconds, const std::vector<PortLabel>& ports,
                                 bool forwarding);

}  // namespace ioamfwd::cp
