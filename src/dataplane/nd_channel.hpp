#pragma once
// The paths between the workers and the control thread's Neighbor Discovery
// service. Workers never wait for a neighbour and the control thread never
// touches a worker's tx queue:
//
//  - held: packets fully processed for a next hop nobody has resolved yet,
//    with the egress port and next-hop address in an mbuf dynamic field
//    (multi-producer, single consumer; full = dropped, nd_queue_full);
//  - records: what received advertisements and solicitations teach, as
//    fixed-size elements (multi-producer, single consumer);
//  - inject, one per worker: frames from the control thread (solicitations,
//    released packets, unreachable errors) that the worker puts on its own
//    tx queue or routes like its own packets (single producer, single consumer).

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <cstdint>
#include <string>
#include <vector>

struct rte_ring;

namespace ioamfwd::dp {

/// Mbuf dynamic field of a packet on the held or inject path.
struct NdMbufMeta {
    enum Kind : uint8_t {
        Held,      // waiting for `nexthop` on `out_port`
        Transmit,  // complete frame: send out of `out_port`
        Route,     // the appliance's own IPv6 packet: route it (received on `in_port`)
    };
    uint8_t nexthop[16];
    uint16_t out_port;
    uint16_t in_port;
    uint8_t kind;
};

/// What a valid Neighbor Advertisement or Solicitation received by a worker
/// tells the control thread (RFC 4861 §7.2.3, §7.2.5).
struct NdRecord {
    uint8_t addr[16];  // advertisement: target; solicitation: source
    uint8_t mac[6];    // TLLA / SLLA when has_mac
    uint16_t port;     // where it arrived
    uint8_t type;      // kIcmpNeighborAdvert or kIcmpNeighborSolicit
    uint8_t flags;     // advertisement R/S/O octet
    uint8_t has_mac;
    uint8_t reserved[5];
};
static_assert(sizeof(NdRecord) == 32);

class NdChannel {
public:
    NdChannel() = default;
    NdChannel(const NdChannel&) = delete;
    NdChannel& operator=(const NdChannel&) = delete;
    ~NdChannel() { shutdown(); }

    bool init(unsigned n_workers, unsigned held_capacity, std::string& err);
    /// Frees every mbuf still in a ring.
    void shutdown();

    NdMbufMeta* meta(rte_mbuf* m) const {
        return RTE_MBUF_DYNFIELD(m, dynfield_offset_, NdMbufMeta*);
    }

    // Workers.
    bool hold(rte_mbuf* m);
    bool report(const NdRecord& r);
    unsigned take_injected(unsigned worker, rte_mbuf** out, unsigned max);
    bool has_injected(unsigned worker) const;

    // Control thread.
    unsigned take_held(rte_mbuf** out, unsigned max);
    unsigned take_records(NdRecord* out, unsigned max);
    bool inject(unsigned worker, rte_mbuf* m);
    unsigned workers() const { return unsigned(inject_.size()); }

private:
    int dynfield_offset_ = -1;
    rte_ring* held_ = nullptr;
    rte_ring* records_ = nullptr;
    std::vector<rte_ring*> inject_;
};

}  // namespace ioamfwd::dp
