#pragma once
// The poll-mode worker: one per worker lcore, each owning a set of rx queues
// and one tx queue on every port.

#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>
#include <ctime>
#include <vector>

#include "dataplane/export_ring.hpp"
#include "dataplane/nd_channel.hpp"
#include "dataplane/neighbor_cache.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_stats.hpp"

namespace ioamfwd::dp {

struct RxQueueRef {
    uint16_t port;
    uint16_t queue;
};

struct WorkerConfig {
    unsigned index = 0;  // QSBR reader id and tx queue id on every port
    std::vector<RxQueueRef> rx;  // at most kMaxRxPerWorker
    // After `idle_polls` loop iterations in a row without a packet, sleep
    // idle_sleep_us (0: busy-poll for ever, the lowest latency).
    uint32_t idle_sleep_us = 0;
    uint32_t idle_polls = 0;
    std::vector<uint16_t> tx_ports;  // every started port
    SnapshotSlot* slot = nullptr;
    WorkerStats* stats = nullptr;
    const std::atomic<bool>* stop = nullptr;
    // Console start/stop: while false the worker polls no rx queue but still
    // drains its tx buffers and reports quiescent states. Null: always on.
    const std::atomic<bool>* forwarding = nullptr;
    ExportRing* export_ring = nullptr;  // null: no trace export
    bool export_transit = false;        // also export traces of forwarded packets
    // Neighbour discovery. Without it (fuzzers, some tests) a next hop with
    // no static neighbour is dropped as no_neighbor, as before ND existed.
    const NeighborCache* neighbors = nullptr;
    NdChannel* nd = nullptr;
    // Tests and fuzzers turn it off to compare against the stages: off, every
    // burst takes the exact stages, which define what the fast paths must do.
    bool fast_paths = true;
    // Test-only clock for the traces' timestamps and exported records, so two
    // runs of the same packets agree to the octet. Null: CLOCK_REALTIME.
    void (*clock)(timespec* now) = nullptr;
};

/// lcore entry point (rte_eal_remote_launch); `arg` is a WorkerConfig*.
int worker_main(void* arg);

/// The worker's packet processing without its poll loop: what worker_main
/// does with each received burst, callable from tests and fuzzers on the
/// calling thread with real mbufs. Transmits on tx queue `cfg.index`.
class BurstProcessor {
public:
    explicit BurstProcessor(const WorkerConfig& cfg);
    ~BurstProcessor();
    BurstProcessor(const BurstProcessor&) = delete;
    BurstProcessor& operator=(const BurstProcessor&) = delete;

    /// Takes ownership of the `n` (at most 32) mbufs: each is queued for
    /// transmission or freed and counted.
    void process(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n);
    /// Sends everything still buffered (what the drain timer does).
    void flush();
    /// Takes what the control thread injected for this worker (cfg.nd),
    /// as the poll loop does every iteration.
    void drain_injected(const Snapshot& s);

    struct Impl;

private:
    Impl* impl_;
};

}  // namespace ioamfwd::dp
