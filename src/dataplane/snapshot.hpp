#pragma once
// The immutable configuration a worker forwards with. The control plane builds
// a new Snapshot for every change and publishes it through SnapshotSlot;
// workers load the pointer once per loop iteration and never see a half-made
// change. Old snapshots are freed only after every worker has passed a
// quiescent point (DPDK QSBR), so a worker may use its pointer for a whole burst.

#include <rte_ether.h>

#include <array>
#include <atomic>
#include <cstring>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/ioam_hbh_build.hpp"
#include "dataplane/trace_fill.hpp"

struct rte_fib6;
struct rte_hash;
struct rte_rcu_qsbr;

namespace ioamfwd::dp {

inline constexpr unsigned kMaxPorts = RTE_MAX_ETHPORTS;
/// Routes with IOAM insertion; bounded so workers keep their frequency
/// counters in a fixed array.
inline constexpr unsigned kMaxEncapRoutes = 4096;

/// What an edge port does with IOAM arriving from outside the domain.
enum class EdgePolicy : uint8_t { Ignore, Strip, Drop };

struct PortView {
    bool active = false;
    rte_ether_addr mac{};
    uint16_t mtu = 1500;
    bool ioam_enabled = false;
    uint16_t ioam_id = 0xffff;
    uint32_t ioam_id_wide = 0xffffffff;
    bool decap = false;  // terminate ip6ip6 arriving here (Linux: ip6tnl0 up)
    bool edge = false;   // faces the outside of the IOAM domain
    EdgePolicy edge_policy = EdgePolicy::Ignore;
    bool has_addr = false;  // the port's first address: ICMPv6 errors come from it
    uint8_t addr[16] = {};
    /// fe80::/64 + the MAC's modified EUI-64: every port has one (RFC 4291
    /// §2.1), for link-local neighbours and solicitations on links without
    /// a configured address.
    uint8_t link_local[16] = {};
    /// Every address of the port, the link-local one last, for answering
    /// Neighbor Solicitations.
    std::vector<std::array<uint8_t, 16>> addrs;
};

/// What a FIB entry resolves to. Index 0 of Snapshot::nexthops is "no route".
struct NextHop {
    enum class Kind : uint8_t { NoRoute, Forward, Local };
    Kind kind = Kind::NoRoute;
    bool on_link = false;   // resolve the packet's own destination (connected route)
    bool resolved = false;  // gateway's MAC known at build time (static neighbour)
    uint16_t port = 0;
    uint16_t encap = 0;     // 1 + index into Snapshot::encaps; 0 = plain route
    rte_ether_addr dst_mac{};
    uint8_t gateway[16] = {};  // `via`: what neighbour discovery resolves when not `resolved`
    /// Set by Snapshot::add_nexthop: a forward to a known MAC with no IOAM
    /// insertion, which a packet needing nothing else takes on the
    /// worker's plain-burst fast path.
    bool plain = false;
    /// Also set by add_nexthop, from the egress port as it is then (ports
    /// come before next hops; the snapshot never changes afterwards), for
    /// the fast paths: the egress MTU when `plain`, else 0, so that one
    /// compare of the packet's length says both; and the Ethernet header's
    /// first 12 octets (destination, then the port's own MAC) as a plain
    /// forward writes them.
    uint16_t plain_mtu = 0;
    uint8_t eth[12] = {};
};

/// A route's IOAM insertion, ready to apply (reference §3): the Hop-by-Hop
/// header is built once here and copied per packet.
struct EncapProfile {
    enum class Mode : uint8_t { Inline, Encap };
    Mode mode = Mode::Inline;
    // "auto": Encap for forwarded packets, Inline for the appliance's own
    // (Linux: inline when there is no ingress device).
    bool auto_mode = false;
    uint32_t freq_k = 1;
    uint32_t freq_n = 1;
    uint16_t hbh_len = 0;
    uint8_t hbh[kIoamHbhMax];  // next-header octet patched per packet
    uint8_t tunsrc[16];
    uint8_t tundst[16];
    // Where the outer destination routes, found at build time. A tunnel
    // without a route (or routed to the appliance) is counted per packet
    // rather than refused, so a later reload can fix it. The next hop's MAC
    // is known now only from a static neighbour; otherwise each packet
    // resolves `tunnel_nexthop` (tundst on-link, else the gateway) as any
    // next hop is resolved.
    bool tunnel_ok = false;
    bool tunnel_resolved = false;
    uint16_t tunnel_port = 0;
    rte_ether_addr tunnel_mac{};
    uint8_t tunnel_nexthop[16] = {};

    /// Octets added to the IPv6 packet.
    uint16_t overhead() const { return uint16_t(hbh_len + (mode == Mode::Encap ? 40 : 0)); }
};

/// The appliance's own unicast addresses: exactly the destinations the FIB
/// maps to a Local /128. Workers ask this small open-addressed table first,
/// so a packet for the appliance (tunnel end, echo, solicitation) skips the
/// 13-level trie walk a /128 costs; the FIB keeps those routes for the
/// control thread's single lookups. Forwarded traffic misses, so the miss is
/// what must be cheap: a 64-bit filter indexed by the hash's top six bits
/// answers nearly every miss with one multiply and one bit test, before any
/// slot is read. Workers copy the View into locals once per burst.
class OwnAddresses {
public:
    struct Slot {
        uint64_t hi, lo;  // the address's two halves as loaded from memory
    };
    struct View {
        uint64_t filter;
        const Slot* slots;
        uint32_t mask;
        unsigned shift;
        bool has_zero;

        bool contains(const uint8_t* addr) const {
            uint64_t hi, lo;
            std::memcpy(&hi, addr, 8);
            std::memcpy(&lo, addr + 8, 8);
            return contains(hi, lo);
        }
        /// The address's halves as loaded from memory.
        bool contains(uint64_t hi, uint64_t lo) const {
            const uint64_t h = hash(hi, lo);
            if (!((filter >> (h >> 58)) & 1)) return false;
            for (uint32_t i = uint32_t(h >> shift) & mask;; i = (i + 1) & mask) {
                const Slot& s = slots[i];
                // An all-zero slot is empty, unless "::" itself is ours.
                if (s.hi == hi && s.lo == lo) return (hi | lo) != 0 || has_zero;
                if ((s.hi | s.lo) == 0) return false;
            }
        }
    };
    // Both halves: lab and operator addresses share interface ids (::1,
    // ::2) across prefixes, so a hash of the low half alone let most
    // forwarded destinations through the filter. Multiplying moves the
    // mixed bits to the top, where filter and slot index take them.
    static uint64_t hash(uint64_t hi, uint64_t lo) {
        return (lo ^ (hi * 0xff51afd7ed558ccdull)) * 0x9e3779b97f4a7c15ull;
    }

    OwnAddresses() { rebuild(); }
    void add(const uint8_t addr[16]);
    const View& view() const { return view_; }

private:
    void rebuild();
    std::vector<std::array<uint8_t, 16>> list_;
    std::vector<Slot> slots_;
    View view_{};
};

struct NamespaceEntry {
    NamespaceData data;
    std::vector<uint8_t> oss;  // backing store for data.oss
};

class Snapshot {
public:
    Snapshot();
    ~Snapshot();
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;

    /// Create the lookup tables: a FIB for `fib_routes` prefixes with
    /// `num_tbl8` second-level groups (see dataplane/fib_plan.hpp), taking
    /// 2-octet entries when groups and next hops fit them; `err` gets the
    /// reason and the size asked for.
    bool init_tables(unsigned fib_routes, unsigned num_tbl8, unsigned max_neighbors,
                     std::string& err);
    /// Returns the next-hop index to use in add_route.
    /// Call after `ports` are set: the entry takes its egress port's MTU and MAC.
    uint32_t add_nexthop(const NextHop& nh);
    bool add_route(const uint8_t addr[16], uint8_t depth, uint32_t nh_index, std::string& err);
    bool add_neighbor(uint16_t port, const uint8_t addr[16], const rte_ether_addr& mac,
                      std::string& err);
    void set_namespace(uint16_t id, NamespaceEntry entry);

    // Read side, used by workers.
    const NamespaceData* find_namespace(uint16_t id) const {
        const uint16_t idx = ns_index_[id];
        return idx ? &namespaces_[idx - 1].data : nullptr;
    }
    /// Neighbour MAC by (port, address); false when there is no entry.
    bool lookup_neighbor(uint16_t port, const uint8_t addr[16], rte_ether_addr& out) const;

    /// Route lookup for one address (control thread; workers use bulk).
    const NextHop& lookup(const uint8_t addr[16]) const;
    /// Whether the FIB sends `addr` to the appliance through a Local /128
    /// (what lookup() would say, without the trie).
    bool is_own(const uint8_t* addr) const { return own_.view().contains(addr); }
    const OwnAddresses::View& own_addresses() const { return own_.view(); }

    NodeIds node;
    uint32_t icmp_rate = 1000;  // per worker, per second (0: none)
    uint32_t icmp_burst = 50;
    PortView ports[kMaxPorts];
    std::vector<NextHop> nexthops;  // [0] = no route
    std::vector<EncapProfile> encaps;
    rte_fib6* fib = nullptr;
    uint64_t generation = 0;

    /// How the FIB was sized, for the log and telemetry.
    struct FibSize {
        uint32_t prefixes = 0;  // routes, connected prefixes and local /128s
        bool vector_lookup = false;  // rte_fib6's AVX-512 lookup (else scalar)
        uint32_t anchors = 0;
        uint32_t groups = 0;       // tbl8 groups the trie holds
        uint32_t reservation = 0;  // the most rte_fib6 may reserve while it is filled
        uint32_t num_tbl8 = 0;
        unsigned nh_bytes = 0;
        uint64_t table_bytes = 0;  // the trie: first level, groups and group index
        uint64_t rib_bytes = 0;    // the RIB's node pool (estimated)
    };
    FibSize fib_size;

private:
    OwnAddresses own_;
    rte_hash* neighbors_ = nullptr;
    unsigned n_neighbors_ = 0;  // most configurations have none: skip the hash
    std::vector<NamespaceEntry> namespaces_;
    std::unique_ptr<uint16_t[]> ns_index_;  // 65536 entries: namespace id -> index + 1
};

/// The published pointer plus the QSBR state that guards its reclamation.
class SnapshotSlot {
public:
    bool init(unsigned n_readers, std::string& err);
    /// Free the live snapshot and the QSBR state; call once workers have
    /// stopped and before the EAL is torn down (both live in EAL memory).
    void shutdown();
    ~SnapshotSlot() { shutdown(); }

    /// Control thread: install `next`, wait until no worker can still hold the
    /// previous one, and hand the previous one back for freeing.
    std::unique_ptr<Snapshot> publish(std::unique_ptr<Snapshot> next);

    // Worker side.
    const Snapshot* acquire() const { return current_.load(std::memory_order_acquire); }
    void reader_online(unsigned reader);
    void reader_quiescent(unsigned reader);
    void reader_offline(unsigned reader);

    /// The workers' QSBR variable, for other structures they read lock-free
    /// (the neighbour cache's removals wait on it too).
    rte_rcu_qsbr* qsbr() const { return qsv_; }

private:
    std::atomic<const Snapshot*> current_{nullptr};
    rte_rcu_qsbr* qsv_ = nullptr;
};

}  // namespace ioamfwd::dp
