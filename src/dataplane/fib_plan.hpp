#pragma once
// Sizing DPDK's IPv6 FIB (rte_fib6, TRIE) for a given route table, without
// DPDK, so the unit suite can check every count.
//
// The trie is a 2^24-entry first level plus 256-entry "tbl8" groups, one
// per distinct 8-bit-aligned prefix of /24 or longer that some route
// extends past. Its memory is fixed when the FIB is created (num_tbl8), so
// the table's needs must be known first. Two numbers matter in DPDK 22.11:
//
//  - the groups the finished trie holds: tbl8_groups() counts them exactly
//    (adding a byte-aligned prefix briefly takes one group more);
//  - what rte_fib6_add *reserves*: before each add it refuses (ENOSPC)
//    unless ceil8(depth) - ceil8(longest covering route, at least 24) more
//    octets of groups fit, whether or not the groups are shared. A /64 is
//    byte-aligned, so routes beside it never count as "already there":
//    100 000 /64s reserve 500 000 groups for the ~400 they use.
//
// The second is the binding one, and is what made large tables cost half a
// gigabyte. with_anchors() brings it down to the first: for every half of
// a 256-entry group that two or more routes end in, it adds the covering
// prefix one bit longer than the group ("anchor") with the next hop the
// table already gives there. Routes under an anchor then reserve nothing
// (their depth rounds up to the anchor's), and every lookup answers as
// before: an anchor only ever matches where no route of the table is more
// specific, and it answers what the longest covering route answers.

#include <array>
#include <cstdint>
#include <vector>

namespace ioamfwd::dp {

struct FibRoute {
    std::array<uint8_t, 16> addr{};  // bits past `depth` clear
    uint8_t depth = 0;
    uint32_t nh = 0;  // next-hop index; 0: no route (the FIB's default)

    bool operator==(const FibRoute&) const = default;
};

/// Whether prefix `outer` contains prefix `inner` (or is it).
bool fib_covers(const FibRoute& outer, const FibRoute& inner);

/// tbl8 groups the trie holds once `sorted` is added: for each k in 3..15,
/// the distinct k-octet prefixes of routes longer than 8k bits. `sorted`:
/// by (addr, depth), no duplicates (then every prefix precedes what it
/// covers, which all the passes here rely on).
uint32_t tbl8_groups(const std::vector<FibRoute>& sorted);

/// An upper bound of rte_fib6's reservation after adding `sorted` in that
/// order: each route longer than /24 counts (ceil8(depth) - ceil8(max(24,
/// its longest cover's depth))) / 8. DPDK 22.11 counts less when a route
/// inherits its cover's next hop or a route already lies inside the same
/// group, never more.
uint32_t tbl8_reservation(const std::vector<FibRoute>& sorted);

/// `sorted` plus its anchors (see above), still sorted.
std::vector<FibRoute> with_anchors(const std::vector<FibRoute>& sorted);

struct FibPlan {
    std::vector<FibRoute> routes;  // to add in this order: the table and its anchors
    uint32_t anchors = 0;
    uint32_t groups = 0;       // tbl8_groups(routes)
    uint32_t reservation = 0;  // tbl8_reservation(routes)
    uint32_t num_tbl8 = 0;     // to create the FIB with
};

/// Everything build_snapshot needs to create and fill the FIB.
FibPlan plan_fib(const std::vector<FibRoute>& sorted);

}  // namespace ioamfwd::dp
