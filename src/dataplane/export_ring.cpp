#include "dataplane/export_ring.hpp"

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

namespace ioamfwd::dp {

bool ExportRing::init(unsigned capacity, std::string& err) {
    ring_ = rte_ring_create_elem("ioamfwd_export", sizeof(TraceRecord), capacity,
                                 int(rte_socket_id()), RING_F_SC_DEQ | RING_F_EXACT_SZ);
    if (!ring_) err = std::string("cannot create the export ring: ") + rte_strerror(rte_errno);
    return ring_ != nullptr;
}

ExportRing::~ExportRing() { shutdown(); }

void ExportRing::shutdown() {
    rte_ring_free(ring_);
    ring_ = nullptr;
}

bool ExportRing::push(const TraceRecord& r) {
    return rte_ring_mp_enqueue_elem(ring_, const_cast<TraceRecord*>(&r), sizeof r) == 0;
}

unsigned ExportRing::pop_burst(TraceRecord* out, unsigned max) {
    return rte_ring_sc_dequeue_burst_elem(ring_, out, sizeof(TraceRecord), max, nullptr);
}

}  // namespace ioamfwd::dp
