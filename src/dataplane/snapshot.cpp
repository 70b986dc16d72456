#include "dataplane/snapshot.hpp"

#include <rte_errno.h>
#include <rte_fib6.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace ioamfwd::dp {

namespace {

struct NeighborKey {
    uint8_t addr[16];
    uint16_t port;
    uint16_t pad;
};
static_assert(sizeof(NeighborKey) == 20);

uint64_t mac_to_u64(const rte_ether_addr& m) {
    uint64_t v = 0;
    std::memcpy(&v, m.addr_bytes, RTE_ETHER_ADDR_LEN);
    return v;
}

std::string mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1 << 20));
    return buf;
}

// rte_fib6_create's clean-up after a failed allocation overwrites rte_errno
// with EINVAL (DPDK 22.11), and the parameters are valid by construction,
// so the heap itself says whether memory was the reason.
std::string fib_create_failure(uint64_t need, uint64_t largest_block) {
    uint64_t free_total = 0, free_block = 0;
    for (unsigned i = 0; i < rte_socket_count(); ++i) {
        rte_malloc_socket_stats st{};
        if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) != 0) continue;
        free_total += st.heap_freesz_bytes;
        free_block = std::max<uint64_t>(free_block, st.greatest_free_size);
    }
    if (need <= free_total && largest_block <= free_block)
        return std::string("rte_fib6_create failed: ") + rte_strerror(rte_errno);
    // A reload builds the new table while the old one still serves.
    return "not enough memory: it needs " + mib(need) + ", " + mib(largest_block) +
           " of it in one block, and the EAL heap has " + mib(free_total) + " free, " +
           mib(free_block) + " in its largest block; give the EAL more memory (-m), with room "
           "for a second table to reload";
}

// DPDK objects are named globally inside a process, so every snapshot's tables
// need their own names.
std::atomic<uint64_t> g_table_serial{0};

}  // namespace

Snapshot::Snapshot() : ns_index_(new uint16_t[65536]()) {
    nexthops.push_back(NextHop{});  // index 0: no route
}

Snapshot::~Snapshot() {
    if (fib) rte_fib6_free(fib);
    if (neighbors_) rte_hash_free(neighbors_);
}

bool Snapshot::init_tables(unsigned fib_routes, unsigned num_tbl8, unsigned max_neighbors,
                           std::string& err) {
    const uint64_t serial = g_table_serial.fetch_add(1);
    std::string fib_name = "fib6_" + std::to_string(serial);
    rte_fib6_conf conf{};
    conf.type = RTE_FIB6_TRIE;
    conf.default_nh = 0;
    conf.max_routes = int(fib_routes < 64 ? 64 : fib_routes);
    conf.rib_ext_sz = 0;
    // 2-octet entries halve the 16 M-entry first level (32 MiB instead of
    // 64) and every group; DPDK caps both next hops and groups at 32 767
    // with them.
    const bool small = num_tbl8 <= 32767 && nexthops.size() <= 32767;
    conf.trie.nh_sz = small ? RTE_FIB6_TRIE_2B : RTE_FIB6_TRIE_4B;
    conf.trie.num_tbl8 = num_tbl8;
    fib_size.num_tbl8 = num_tbl8;
    fib_size.nh_bytes = small ? 2 : 4;
    fib_size.table_bytes = (uint64_t(1) << 24) * fib_size.nh_bytes +
                           256ull * fib_size.nh_bytes * (num_tbl8 + 1ull) + 4ull * num_tbl8;
    // The RIB beside the trie: a mempool of two nodes per route (rte_fib6
    // sizes it so), each three pointers, a next hop, an address, depth and
    // flag (56 octets in DPDK 22.11) plus the mempool's own header.
    fib_size.rib_bytes = uint64_t(2) * uint32_t(conf.max_routes) *
                         rte_mempool_calc_obj_size(56, 0, nullptr);
    fib = rte_fib6_create(fib_name.c_str(), SOCKET_ID_ANY, &conf);
    if (!fib) {
        err = "cannot create the route table (" + std::to_string(fib_routes) + " entries, " +
              std::to_string(num_tbl8) + " second-level groups): " +
              fib_create_failure(fib_size.table_bytes + fib_size.rib_bytes,
                                 (uint64_t(1) << 24) * fib_size.nh_bytes);
        return false;
    }

    // rte_fib6 takes its AVX-512 lookup only when asked, and grants it only
    // where the CPU has it and the EAL allows 512-bit vectors
    // (--force-max-simd-bitwidth=512; DPDK's x86 default is 256, for CPUs
    // that slow down on AVX-512). Otherwise the scalar lookup stays.
    fib_size.vector_lookup = rte_fib6_select_lookup(fib, RTE_FIB6_LOOKUP_TRIE_VECTOR_AVX512) == 0;

    std::string hash_name = "neigh_" + std::to_string(serial);
    rte_hash_parameters hp{};
    hp.name = hash_name.c_str();
    hp.entries = max_neighbors < 64 ? 64 : max_neighbors;
    hp.key_len = sizeof(NeighborKey);
    hp.hash_func = rte_jhash;
    hp.socket_id = SOCKET_ID_ANY;
    neighbors_ = rte_hash_create(&hp);
    if (!neighbors_) {
        err = std::string("cannot create the neighbor table: ") + rte_strerror(rte_errno);
        return false;
    }
    return true;
}

uint32_t Snapshot::add_nexthop(const NextHop& nh) {
    nexthops.push_back(nh);
    NextHop& added = nexthops.back();
    // on_link resolves each packet's own destination, so its MAC is never
    // known here even when `resolved` were set.
    added.plain = nh.kind == NextHop::Kind::Forward && nh.encap == 0 && nh.resolved &&
                  !nh.on_link;
    if (nh.port < kMaxPorts) {
        const PortView& out = ports[nh.port];
        added.plain_mtu = added.plain ? out.mtu : 0;
        std::memcpy(added.eth, nh.dst_mac.addr_bytes, 6);
        std::memcpy(added.eth + 6, out.mac.addr_bytes, 6);
    }
    return uint32_t(nexthops.size() - 1);
}

bool Snapshot::add_route(const uint8_t addr[16], uint8_t depth, uint32_t nh_index,
                         std::string& err) {
    uint8_t a[16];
    std::memcpy(a, addr, 16);
    int rc = rte_fib6_add(fib, a, depth, nh_index);
    if (rc < 0) {
        err = std::string("cannot add route: ") + rte_strerror(-rc);
        return false;
    }
    // Only a /128 can be matched by an exact-address table, and nothing is
    // more specific than a /128, so a hit there is what the FIB would say.
    // The builder adds each prefix once; a /128 re-added as something else
    // would have to leave the table, which no caller does.
    if (depth == 128 && nh_index < nexthops.size() &&
        nexthops[nh_index].kind == NextHop::Kind::Local)
        own_.add(addr);
    return true;
}

void OwnAddresses::add(const uint8_t addr[16]) {
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), addr, 16);
    for (const auto& have : list_)
        if (have == a) return;
    list_.push_back(a);
    rebuild();
}

// At most a quarter full, so a probe past the filter usually ends on the
// first slot.
void OwnAddresses::rebuild() {
    uint32_t size = 16;
    unsigned bits = 4;
    while (size < 4 * list_.size()) {
        size *= 2;
        ++bits;
    }
    slots_.assign(size, Slot{0, 0});
    view_ = View{0, nullptr, size - 1, 64 - bits, false};
    for (const auto& a : list_) {
        Slot s;
        std::memcpy(&s.hi, a.data(), 8);
        std::memcpy(&s.lo, a.data() + 8, 8);
        const uint64_t h = hash(s.hi, s.lo);
        view_.filter |= uint64_t(1) << (h >> 58);
        if ((s.hi | s.lo) == 0) {
            view_.has_zero = true;  // "::" matches any empty slot: no slot needed
            continue;
        }
        uint32_t i = uint32_t(h >> view_.shift) & view_.mask;
        while (slots_[i].hi | slots_[i].lo) i = (i + 1) & view_.mask;
        slots_[i] = s;
    }
    view_.slots = slots_.data();
}

bool Snapshot::add_neighbor(uint16_t port, const uint8_t addr[16], const rte_ether_addr& mac,
                            std::string& err) {
    NeighborKey key{};
    std::memcpy(key.addr, addr, 16);
    key.port = port;
    int rc = rte_hash_add_key_data(neighbors_, &key,
                                   reinterpret_cast<void*>(uintptr_t(mac_to_u64(mac))));
    if (rc < 0) {
        err = std::string("cannot add neighbor: ") + rte_strerror(-rc);
        return false;
    }
    ++n_neighbors_;
    return true;
}

const NextHop& Snapshot::lookup(const uint8_t addr[16]) const {
    uint8_t ip[1][16];
    std::memcpy(ip[0], addr, 16);
    uint64_t nh = 0;
    rte_fib6_lookup_bulk(fib, ip, &nh, 1);
    return nexthops[nh < nexthops.size() ? nh : 0];
}

bool Snapshot::lookup_neighbor(uint16_t port, const uint8_t addr[16], rte_ether_addr& out) const {
    if (n_neighbors_ == 0) return false;
    NeighborKey key{};
    std::memcpy(key.addr, addr, 16);
    key.port = port;
    void* data = nullptr;
    if (rte_hash_lookup_data(neighbors_, &key, &data) < 0) return false;
    const uint64_t v = uint64_t(uintptr_t(data));
    std::memcpy(out.addr_bytes, &v, RTE_ETHER_ADDR_LEN);
    return true;
}

void Snapshot::set_namespace(uint16_t id, NamespaceEntry entry) {
    uint16_t idx = ns_index_[id];
    if (idx == 0) {
        namespaces_.push_back(std::move(entry));
        idx = uint16_t(namespaces_.size());
        ns_index_[id] = idx;
    } else {
        namespaces_[idx - 1] = std::move(entry);
    }
    // The vector may have moved every entry: re-point each at its own bytes.
    for (auto& e : namespaces_) e.data.oss = e.oss.data();
}

bool SnapshotSlot::init(unsigned n_readers, std::string& err) {
    const size_t sz = rte_rcu_qsbr_get_memsize(n_readers);
    qsv_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("ioamfwd_qsbr", sz, RTE_CACHE_LINE_SIZE));
    if (!qsv_) {
        err = "cannot allocate the QSBR variable";
        return false;
    }
    if (rte_rcu_qsbr_init(qsv_, n_readers) != 0) {
        err = "cannot initialise the QSBR variable";
        return false;
    }
    return true;
}

void SnapshotSlot::shutdown() {
    delete current_.exchange(nullptr);
    rte_free(qsv_);
    qsv_ = nullptr;
}

std::unique_ptr<Snapshot> SnapshotSlot::publish(std::unique_ptr<Snapshot> next) {
    const Snapshot* prev = current_.exchange(next.release(), std::memory_order_acq_rel);
    // Every online worker must report a quiescent state after the exchange
    // before `prev` can be freed; offline workers hold no reference.
    if (qsv_) rte_rcu_qsbr_synchronize(qsv_, RTE_QSBR_THRID_INVALID);
    return std::unique_ptr<Snapshot>(const_cast<Snapshot*>(prev));
}

void SnapshotSlot::reader_online(unsigned reader) {
    rte_rcu_qsbr_thread_register(qsv_, reader);
    rte_rcu_qsbr_thread_online(qsv_, reader);
}

void SnapshotSlot::reader_quiescent(unsigned reader) { rte_rcu_qsbr_quiescent(qsv_, reader); }

void SnapshotSlot::reader_offline(unsigned reader) {
    rte_rcu_qsbr_thread_offline(qsv_, reader);
    rte_rcu_qsbr_thread_unregister(qsv_, reader);
}

}  // namespace ioamfwd::dp
