#include "dataplane/nd_channel.hpp"

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <atomic>

namespace ioamfwd::dp {

namespace {
constexpr unsigned kRecordRing = 1024;
constexpr unsigned kInjectRing = 1024;
std::atomic<uint64_t> g_serial{0};

void free_ring(rte_ring*& r) {
    if (!r) return;
    rte_mbuf* m;
    while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(r);
    r = nullptr;
}
}  // namespace

bool NdChannel::init(unsigned n_workers, unsigned held_capacity, std::string& err) {
    static const rte_mbuf_dynfield desc = {"ioamfwd_nd_meta", sizeof(NdMbufMeta),
                                           alignof(NdMbufMeta), 0};
    dynfield_offset_ = rte_mbuf_dynfield_register(&desc);
    if (dynfield_offset_ < 0) {
        err = std::string("cannot register the ND mbuf field: ") + rte_strerror(rte_errno);
        return false;
    }
    const std::string tag = std::to_string(g_serial.fetch_add(1));
    const int socket = int(rte_socket_id());
    held_ = rte_ring_create(("nd_held_" + tag).c_str(), held_capacity, socket,
                            RING_F_SC_DEQ | RING_F_EXACT_SZ);
    records_ = rte_ring_create_elem(("nd_rec_" + tag).c_str(), sizeof(NdRecord), kRecordRing,
                                    socket, RING_F_SC_DEQ | RING_F_EXACT_SZ);
    if (!held_ || !records_) {
        err = std::string("cannot create the ND rings: ") + rte_strerror(rte_errno);
        return false;
    }
    for (unsigned w = 0; w < n_workers; ++w) {
        rte_ring* r = rte_ring_create(("nd_inj_" + tag + "_" + std::to_string(w)).c_str(),
                                      kInjectRing, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!r) {
            err = std::string("cannot create an ND inject ring: ") + rte_strerror(rte_errno);
            return false;
        }
        inject_.push_back(r);
    }
    return true;
}

void NdChannel::shutdown() {
    free_ring(held_);
    for (rte_ring*& r : inject_) free_ring(r);
    inject_.clear();
    rte_ring_free(records_);
    records_ = nullptr;
}

bool NdChannel::hold(rte_mbuf* m) { return rte_ring_mp_enqueue(held_, m) == 0; }

bool NdChannel::report(const NdRecord& r) {
    return rte_ring_mp_enqueue_elem(records_, const_cast<NdRecord*>(&r), sizeof r) == 0;
}

unsigned NdChannel::take_injected(unsigned worker, rte_mbuf** out, unsigned max) {
    return rte_ring_sc_dequeue_burst(inject_[worker], reinterpret_cast<void**>(out), max, nullptr);
}

bool NdChannel::has_injected(unsigned worker) const { return !rte_ring_empty(inject_[worker]); }

unsigned NdChannel::take_held(rte_mbuf** out, unsigned max) {
    return rte_ring_sc_dequeue_burst(held_, reinterpret_cast<void**>(out), max, nullptr);
}

unsigned NdChannel::take_records(NdRecord* out, unsigned max) {
    return rte_ring_sc_dequeue_burst_elem(records_, out, sizeof(NdRecord), max, nullptr);
}

bool NdChannel::inject(unsigned worker, rte_mbuf* m) {
    return rte_ring_sp_enqueue(inject_[worker], m) == 0;
}

}  // namespace ioamfwd::dp
