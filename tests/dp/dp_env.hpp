#pragma once
// A real DPDK dataplane on the calling thread, for the dataplane tests
// (tests/dp) and the packet fuzzers (tests/fuzz): the EAL on two net_null
// ports (their tx frees what it is given), an mbuf pool whose in-use count
// must return to 0 after every packet, snapshots compiled from inline YAML by
// the control plane's own loader and builder, and a tx callback that copies
// every transmitted frame so tests can look at what left.
//
// Under AddressSanitizer the pool's mbufs get poisoned guards just before
// and after their buffers: DPDK's mempool memory is not malloc'd, so without
// them ASan would not see an access beyond an mbuf's buffer.
//
// No hugepages: the EAL runs with --no-huge and its own --file-prefix.

#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/export_ring.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/trace_record.hpp"
#include "dataplane/worker.hpp"
#include "dataplane/worker_stats.hpp"

namespace ioamfwd::testenv {

/// Largest frame the pool's single segments hold (MTU 9000 + Ethernet + slack).
inline constexpr uint16_t kMaxFrame = 9300;
/// Both net_null ports: port ids 0 and 1, device names net_null0 / net_null1.
inline constexpr uint16_t kPorts = 2;

/// One frame as it reached rte_eth_tx_burst.
struct TxFrame {
    uint16_t port = 0;
    uint16_t nb_segs = 0;
    std::vector<uint8_t> bytes;  // every segment, in order
};

class DpEnv {
public:
    /// Initialises the EAL (once per process), the pool and both ports.
    /// `tag` names the run in --file-prefix (with the pid). Returns null and
    /// sets `err` on failure; later calls return the same environment.
    static DpEnv* init(const std::string& tag, std::string& err);

    rte_mempool* pool() const { return pool_; }
    unsigned mbufs_in_use() const;

    /// Compiles `yaml` with load_config_text + build_snapshot, with ports[i]
    /// bound to the net_null port of the same device name. Throws
    /// std::runtime_error with the loader's or builder's message.
    std::unique_ptr<dp::Snapshot> snapshot(const std::string& yaml);

    /// A single-segment mbuf holding `frame`. `headroom` is the data offset;
    /// `no_tailroom` puts the frame at the very end of the buffer. Null when
    /// the bytes do not fit or the pool is empty.
    rte_mbuf* mbuf(const uint8_t* frame, size_t len, uint16_t headroom = RTE_PKTMBUF_HEADROOM,
                   bool no_tailroom = false);
    /// A two-segment chain: octets [0, split) in the first, the rest in the second
    /// (either may be empty). The first buffer also holds the rest past its
    /// data_len, when it fits.
    rte_mbuf* chain(const uint8_t* frame, size_t len, size_t split);

    /// Frames transmitted since the last take_tx(), in order.
    std::vector<TxFrame> take_tx();
    /// Set when a transmitted mbuf was not a sane chain (rte_mbuf_check) or
    /// its pkt_len disagreed with its segments: what, or empty.
    const std::string& tx_error() const { return tx_error_; }

    dp::ExportRing& export_ring() { return export_ring_; }

    // Used by the tx callback.
    void on_tx(uint16_t port, rte_mbuf* const* pkts, uint16_t n);

private:
    DpEnv() = default;
    bool start(const std::string& tag, std::string& err);

    rte_mempool* pool_ = nullptr;
    dp::ExportRing export_ring_;
    std::vector<TxFrame> tx_;
    std::string tx_error_;
    uint64_t generation_ = 0;
};

/// The worker's burst processing with its own counters, transmitting on tx
/// queue 0 of both ports, exporting every processed trace into the
/// environment's ring (as --trace-export with --trace-export-transit).
struct Forwarder {
    explicit Forwarder(DpEnv& env, bool export_traces = true);
    Forwarder(const Forwarder&) = delete;
    Forwarder& operator=(const Forwarder&) = delete;

    /// process() then flush(): every mbuf is sent or freed when this returns.
    void run(const dp::Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n);

    uint64_t drops(dp::Drop d) const { return stats.drops[unsigned(d)].get(); }
    uint64_t events(dp::IoamEvent e) const { return stats.ioam[unsigned(e)].get(); }
    uint64_t tx(uint16_t port) const { return stats.tx[port].get(); }
    /// "reason=n ..." of every non-zero drop counter (for messages).
    std::string nonzero_drops() const;

    dp::WorkerStats stats;
    dp::WorkerConfig cfg;
    std::unique_ptr<dp::BurstProcessor> bp;
};

/// Whether two exported trace records are the same in every field the
/// exporter formats.
bool same_record(const dp::TraceRecord& a, const dp::TraceRecord& b);

/// The first counter on which two workers disagree, as "what name: x with
/// the fast paths, y with the stages" (`a` is the fast side), or empty.
std::string counters_differ(const dp::WorkerStats& a, const dp::WorkerStats& b);

}  // namespace ioamfwd::testenv
