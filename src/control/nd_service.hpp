#pragma once
// The control thread's half of Neighbor Discovery: drains what workers hold
// and learn, runs NdMachine, and carries out its decisions with mbufs
// (solicitations from the main pool, held packets released or turned into
// Destination Unreachable) sent through the workers' inject rings. Polled
// from the control loop; never touches a worker's tx queue.

#include <rte_mempool.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "control/config.hpp"
#include "control/nd_machine.hpp"
#include "dataplane/icmp6.hpp"
#include "dataplane/nd_channel.hpp"
#include "dataplane/neighbor_cache.hpp"
#include "dataplane/snapshot.hpp"

namespace ioamfwd::cp {

/// What the ND service counts besides the machine's counters.
struct NdServiceCounters {
    uint64_t unreachable_sent = 0;     // Destination Unreachable code 3 sent
    uint64_t unreachable_limited = 0;  // not sent: rate limit
    uint64_t unreachable_suppressed = 0;  // not sent: RFC 4443 §2.4(e), no source, no room
    uint64_t no_mbuf = 0;              // solicitation not built: pool empty
    uint64_t inject_full = 0;          // a worker's inject ring refused a frame
};

NdParams nd_params(const NdConfig& c);
std::string nd_addr_text(const uint8_t* a);
std::string nd_mac_text(const NdMac& m);

class NdService final : private NdActions {
public:
    NdService() : machine_(NdParams{}, *this) {}
    ~NdService() override { shutdown(); }

    bool init(unsigned n_workers, const NdConfig& cfg, rte_mempool* pool, rte_rcu_qsbr* qsv,
              std::string& err);
    /// A reload's timers and bounds; max_entries cannot grow past the cache
    /// created at start.
    void set_config(const NdConfig& cfg);
    /// Control thread, every tick: `s` is the snapshot in force.
    void poll(const dp::Snapshot& s, uint64_t now_ms);
    /// Workers must have stopped: every held or queued mbuf is freed.
    void shutdown();

    dp::NeighborCache& cache() { return cache_; }
    dp::NdChannel& channel() { return channel_; }
    const NdCounters& counters() const { return machine_.counters(); }
    /// Packets queued behind unresolved neighbours now (each one an mbuf).
    size_t held() const { return machine_.held(); }
    const NdServiceCounters& service_counters() const { return sc_; }
    /// All counters as (name, value), the stats JSON's "nd" group.
    std::vector<std::pair<std::string, uint64_t>> counter_list() const;

    /// `ip -6 neigh show` style listing (control thread), static entries of
    /// `cfg` first.
    std::string show(const Config& cfg, uint64_t now_ms) const;
    /// The discovered entries as of the last refresh (every 100 ms), for
    /// the telemetry thread.
    std::vector<NdEntryView> view() const;
    /// counter_list() as of the same refresh, for the telemetry thread.
    std::vector<std::pair<std::string, uint64_t>> counter_view() const;
    std::string port_name(uint16_t id) const;
    void set_port_names(std::vector<std::pair<uint16_t, std::string>> names) {
        port_names_ = std::move(names);
    }

private:
    void solicit(uint16_t port, const NdAddr& target, const NdMac* unicast) override;
    bool publish(uint16_t port, const NdAddr& addr, const NdMac& mac) override;
    void withdraw(uint16_t port, const NdAddr& addr) override;
    void release(void* pkt, const NdMac& mac) override;
    void unreachable(void* pkt) override;
    void discard(void* pkt) override;
    void send(rte_mbuf* m, uint16_t port);

    NdMachine machine_;
    dp::NeighborCache cache_;
    dp::NdChannel channel_;
    rte_mempool* pool_ = nullptr;
    const dp::Snapshot* snap_ = nullptr;  // during poll()
    dp::TokenBucket unreachable_bucket_;
    NdServiceCounters sc_;
    bool up_ = false;
    unsigned ticks_ = 0;
    std::vector<std::pair<uint16_t, std::string>> port_names_;
    mutable std::mutex view_mutex_;
    std::vector<NdEntryView> view_;
    std::vector<std::pair<std::string, uint64_t>> counter_view_;
};

}  // namespace ioamfwd::cp
