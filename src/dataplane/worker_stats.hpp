#pragma once
// Per-worker counters: one cache-aligned block per worker, written only by
// that worker and read by the control thread. Relaxed atomics compile to plain
// loads and stores on x86 (no lock prefix) while keeping the cross-thread
// reads well defined.

#include <atomic>
#include <cstdint>

#include "dataplane/counters.hpp"
#include "dataplane/snapshot.hpp"

namespace ioamfwd::dp {

class Counter {
public:
    void add(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

/// How many rx queues one worker can poll (and count separately).
inline constexpr unsigned kMaxRxPerWorker = 256;

struct alignas(64) WorkerStats {
    Counter drops[kDropCount];
    Counter ioam[kIoamEventCount];
    Counter icmp[kIcmpEventCount];
    Counter rx[kMaxPorts];
    Counter tx[kMaxPorts];
    Counter rx_bursts;       // non-empty rx bursts
    Counter rx_full_bursts;  // bursts that came back full: the saturation signal
    Counter rx_queue[kMaxRxPerWorker];  // by position in WorkerConfig::rx
    Counter idle_sleeps;                // --idle-sleep-us naps taken
};

}  // namespace ioamfwd::dp
