#include "dataplane/neighbor_cache.hpp"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <cstring>

namespace ioamfwd::dp {

namespace {

struct Key {
    uint8_t addr[16];
    uint16_t port;
    uint16_t pad;
};
static_assert(sizeof(Key) == 20);

Key make_key(uint16_t port, const uint8_t addr[16]) {
    Key k{};
    std::memcpy(k.addr, addr, 16);
    k.port = port;
    return k;
}

std::atomic<uint64_t> g_serial{0};

}  // namespace

bool NeighborCache::init(unsigned capacity, rte_rcu_qsbr* qsv, std::string& err) {
    capacity_ = capacity < 8 ? 8 : capacity;
    qsv_ = qsv;
    const std::string name = "ndcache_" + std::to_string(g_serial.fetch_add(1));
    rte_hash_parameters hp{};
    hp.name = name.c_str();
    hp.entries = capacity_;
    hp.key_len = sizeof(Key);
    hp.hash_func = rte_jhash;
    hp.socket_id = SOCKET_ID_ANY;
    // Readers never block and never retry on the writer's account; the
    // extendable buckets keep "full" meaning capacity, not a cuckoo dead end.
    hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    hash_ = rte_hash_create(&hp);
    if (!hash_) {
        err = std::string("cannot create the neighbour cache: ") + rte_strerror(rte_errno);
        return false;
    }
    slots_ = static_cast<Slot*>(rte_zmalloc("ndcache_slots", sizeof(Slot) * capacity_, 64));
    if (!slots_) {
        err = "cannot allocate the neighbour cache";
        return false;
    }
    for (unsigned i = 0; i < capacity_; ++i) new (&slots_[i]) Slot;
    free_.clear();
    for (unsigned i = capacity_; i-- > 0;) free_.push_back(i);
    return true;
}

void NeighborCache::shutdown() {
    if (hash_) rte_hash_free(hash_);
    hash_ = nullptr;
    rte_free(slots_);
    slots_ = nullptr;
    free_.clear();
    retired_.clear();
}

bool NeighborCache::lookup(uint16_t port, const uint8_t addr[16], rte_ether_addr& mac) const {
    const Key k = make_key(port, addr);
    void* data;
    if (rte_hash_lookup_data(hash_, &k, &data) < 0) return false;
    Slot& s = slots_[uintptr_t(data)];
    const uint64_t v = s.mac.load(std::memory_order_acquire);
    std::memcpy(mac.addr_bytes, &v, 6);
    const uint64_t e = epoch_.load(std::memory_order_relaxed);
    if (s.used.load(std::memory_order_relaxed) != e) s.used.store(e, std::memory_order_relaxed);
    return true;
}

int32_t NeighborCache::find(uint16_t port, const uint8_t addr[16]) const {
    const Key k = make_key(port, addr);
    void* data;
    if (rte_hash_lookup_data(hash_, &k, &data) < 0) return -1;
    return int32_t(uintptr_t(data));
}

bool NeighborCache::set(uint16_t port, const uint8_t addr[16], const uint8_t mac[6]) {
    uint64_t v = 0;
    std::memcpy(&v, mac, 6);
    const int32_t have = find(port, addr);
    if (have >= 0) {
        slots_[have].mac.store(v, std::memory_order_release);
        return true;
    }
    if (free_.empty()) return false;
    const uint32_t slot = free_.back();
    Slot& s = slots_[slot];
    s.mac.store(v, std::memory_order_release);
    s.used.store(0, std::memory_order_relaxed);
    s.seen = 0;
    const Key k = make_key(port, addr);
    // The slot is complete before the key makes it visible.
    if (rte_hash_add_key_data(hash_, &k, reinterpret_cast<void*>(uintptr_t(slot))) < 0) return false;
    free_.pop_back();
    return true;
}

void NeighborCache::remove(uint16_t port, const uint8_t addr[16]) {
    const int32_t slot = find(port, addr);
    if (slot < 0) return;
    const Key k = make_key(port, addr);
    const int32_t pos = rte_hash_del_key(hash_, &k);
    if (pos < 0) return;
    const uint64_t token = qsv_ ? rte_rcu_qsbr_start(qsv_) : 0;
    retired_.push_back({pos, uint32_t(slot), token});
    if (!qsv_) tick();
}

bool NeighborCache::take_used(uint16_t port, const uint8_t addr[16]) {
    const int32_t slot = find(port, addr);
    if (slot < 0) return false;
    Slot& s = slots_[slot];
    const uint64_t u = s.used.load(std::memory_order_relaxed);
    if (u == 0 || u == s.seen) return false;
    s.seen = u;
    return true;
}

void NeighborCache::tick() {
    epoch_.fetch_add(1, std::memory_order_relaxed);
    size_t keep = 0;
    for (const Retired& r : retired_) {
        if (qsv_ && rte_rcu_qsbr_check(qsv_, r.token, false) != 1) {
            retired_[keep++] = r;
            continue;
        }
        rte_hash_free_key_with_position(hash_, r.position);
        free_.push_back(r.slot);
    }
    retired_.resize(keep);
}

}  // namespace ioamfwd::dp
