#pragma once
// RFC 4861 §7.3 neighbour reachability, as a plain state machine: no DPDK,
// no clock of its own (every call says what time it is, in milliseconds), no
// packets of its own (held packets are opaque handles). What it decides is
// carried out through NdActions, which the ND service implements with mbufs
// and the unit tests with a recorder.

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ioamfwd::cp {

using NdAddr = std::array<uint8_t, 16>;
using NdMac = std::array<uint8_t, 6>;

struct NdParams {
    uint64_t reachable_ms = 30000;  // REACHABLE_TIME
    uint64_t retrans_ms = 1000;     // RETRANS_TIMER
    uint32_t max_multicast_solicit = 3;
    uint32_t max_unicast_solicit = 3;
    uint64_t delay_ms = 5000;       // DELAY_FIRST_PROBE_TIME
    uint32_t queue_per_neighbor = 3;
    uint32_t max_held = 1024;       // packets held over all neighbours
    uint32_t max_entries = 1024;
    uint64_t gc_stale_ms = 60000;   // unused STALE entries go after this
};

enum class NdState : uint8_t { Incomplete, Reachable, Stale, Delay, Probe };
const char* nd_state_name(NdState s);

class NdActions {
public:
    virtual ~NdActions() = default;
    /// Send a Neighbor Solicitation for `target` out of `port`: to its
    /// solicited-node group when `unicast` is null, else to that MAC.
    virtual void solicit(uint16_t port, const NdAddr& target, const NdMac* unicast) = 0;
    /// Make `mac` the address workers use for (port, addr); false: cache full.
    virtual bool publish(uint16_t port, const NdAddr& addr, const NdMac& mac) = 0;
    virtual void withdraw(uint16_t port, const NdAddr& addr) = 0;
    /// Send a held packet to `mac`.
    virtual void release(void* pkt, const NdMac& mac) = 0;
    /// The neighbour did not answer: drop the packet and tell its source
    /// (Destination Unreachable, address unreachable).
    virtual void unreachable(void* pkt) = 0;
    /// Drop a held packet (a queue bound).
    virtual void discard(void* pkt) = 0;
};

struct NdCounters {
    uint64_t ns_multicast = 0;  // address resolution solicitations sent
    uint64_t ns_unicast = 0;    // reachability probes sent
    uint64_t na_received = 0;
    uint64_t na_ignored = 0;    // for no entry, or no address while INCOMPLETE
    uint64_t ns_learnt = 0;     // solicitations that created or changed an entry
    uint64_t resolved = 0;      // INCOMPLETE entries that got an address
    uint64_t failed = 0;        // entries removed for not answering
    uint64_t held = 0;          // packets queued behind an INCOMPLETE entry
    uint64_t released = 0;
    uint64_t held_dropped = 0;  // queue bounds (per neighbour, global, cache full)
    uint64_t unreachable = 0;   // held packets dropped because resolution failed
    uint64_t cache_full = 0;    // entries not created: max_entries reached or publish refused
    uint64_t gc_removed = 0;
};

struct NdEntryView {
    uint16_t port;
    NdAddr addr;
    bool has_mac;
    NdMac mac;
    NdState state;
    uint32_t queued;
    uint64_t age_ms;  // since the last state change
};

class NdMachine {
public:
    NdMachine(const NdParams& p, NdActions& act) : p_(p), act_(act) {}
    void set_params(const NdParams& p) { p_ = p; }
    const NdParams& params() const { return p_; }

    /// A worker found no address for (port, addr): queue `pkt` behind it.
    void hold(uint16_t port, const NdAddr& addr, void* pkt, uint64_t now);
    /// A valid advertisement arrived on `port` (RFC 4861 §7.2.5).
    void advert(uint16_t port, const NdAddr& target, const NdMac* tlla, bool solicited,
                bool override_flag, uint64_t now);
    /// A valid solicitation for us with a source link-layer address (§7.2.3).
    void solicitation(uint16_t port, const NdAddr& src, const NdMac& slla, uint64_t now);
    /// A worker sent through the entry (§7.3.3: STALE -> DELAY).
    void used(uint16_t port, const NdAddr& addr, uint64_t now);
    /// Timers: retransmissions, state aging, failure, garbage collection.
    void tick(uint64_t now);
    /// Shutdown: every held packet is discarded, every entry withdrawn.
    void clear();

    std::vector<NdEntryView> entries(uint64_t now) const;
    /// Entries published to workers (everything but INCOMPLETE), for use polling.
    template <typename F>
    void for_each_published(F f) const {
        for (const auto& [k, e] : table_)
            if (e.state != NdState::Incomplete) f(k.first, k.second);
    }
    const NdCounters& counters() const { return c_; }
    size_t size() const { return table_.size(); }
    size_t held() const { return held_; }

private:
    struct Entry {
        NdState state = NdState::Incomplete;
        NdMac mac{};
        uint64_t since = 0;     // last state change
        uint64_t timer = 0;     // next retransmission / DELAY end
        uint64_t last_used = 0;
        uint32_t probes = 0;    // solicitations sent in this state
        std::deque<void*> queue;
    };
    using Key = std::pair<uint16_t, NdAddr>;

    void enter(const Key& k, Entry& e, NdState s, uint64_t now);
    void set_mac(const Key& k, Entry& e, const NdMac& mac);
    void flush_queue(Entry& e);
    void fail(std::map<Key, Entry>::iterator it);

    NdParams p_;
    NdActions& act_;
    std::map<Key, Entry> table_;
    size_t held_ = 0;
    NdCounters c_;
};

}  // namespace ioamfwd::cp
