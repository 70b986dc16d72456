#pragma once
// Neighbours learnt by Neighbor Discovery, shared by every worker and written
// only by the control thread. Unlike the snapshot's static entries they
// change every few seconds, so they live outside it: an rte_hash created for
// lock-free concurrent readers maps (port, address) to a slot of a fixed
// array, and each slot's MAC is one 64-bit atomic, so a worker never sees
// half an address however the control thread changes it.
//
// A removed key's hash position and its slot are reused only after every
// worker has reported a quiescent state since the removal (the snapshot's
// QSBR variable), so a worker that found the key just before the removal
// still reads that neighbour's MAC, never the next tenant's.
//
// Workers record use by copying the control thread's coarse epoch into the
// slot when it differs: at most one write per slot per control tick, and
// that is what tells the state machine a STALE neighbour is in use (RFC 4861
// §7.3.3, STALE -> DELAY).

#include <rte_ether.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

struct rte_hash;
struct rte_rcu_qsbr;

namespace ioamfwd::dp {

class NeighborCache {
public:
    NeighborCache() = default;
    NeighborCache(const NeighborCache&) = delete;
    NeighborCache& operator=(const NeighborCache&) = delete;
    ~NeighborCache() { shutdown(); }

    /// `qsv` null: no concurrent readers (tests), removals are reclaimed at once.
    bool init(unsigned capacity, rte_rcu_qsbr* qsv, std::string& err);
    void shutdown();
    unsigned capacity() const { return capacity_; }

    // Worker side: lock-free, no allocation.
    bool lookup(uint16_t port, const uint8_t addr[16], rte_ether_addr& mac) const;

    // Control thread only.
    /// Inserts or changes the MAC; false when the table is full.
    bool set(uint16_t port, const uint8_t addr[16], const uint8_t mac[6]);
    void remove(uint16_t port, const uint8_t addr[16]);
    /// Whether a worker sent through the entry since the last call.
    bool take_used(uint16_t port, const uint8_t addr[16]);
    /// Once per control tick: starts a new use epoch and reuses what removals
    /// freed once no worker can still hold it.
    void tick();
    unsigned size() const { return capacity_ - unsigned(free_.size()) - unsigned(retired_.size()); }

private:
    struct alignas(64) Slot {
        std::atomic<uint64_t> mac{0};  // 6 octets, in memory order
        std::atomic<uint64_t> used{0};  // epoch of the last use seen by a worker
        uint64_t seen = 0;              // control thread: epoch already reported
    };
    struct Retired {
        int32_t position;
        uint32_t slot;
        uint64_t token;
    };
    int32_t find(uint16_t port, const uint8_t addr[16]) const;

    rte_hash* hash_ = nullptr;
    rte_rcu_qsbr* qsv_ = nullptr;
    Slot* slots_ = nullptr;
    unsigned capacity_ = 0;
    std::atomic<uint64_t> epoch_{1};
    std::vector<uint32_t> free_;
    std::vector<Retired> retired_;
};

}  // namespace ioamfwd::dp
