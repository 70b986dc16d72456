#include "dataplane/decap.hpp"

#include <cstring>

#include "common/ioam_wire.hpp"
#include "dataplane/ecn.hpp"

namespace ioamfwd::dp {

namespace {
constexpr uint32_t kEth = sizeof(wire::EtherHdr);
constexpr uint32_t kIp6 = sizeof(wire::Ipv6Hdr);
// Option headers that may sit between the outer header and the inner packet
// (a tunnel encapsulation limit lives in Destination Options, RFC 2473 §5.1).
constexpr int kMaxOuterExtHeaders = 4;
}  // namespace

Drop locate_inner(const rte_mbuf* m, uint32_t l3_len, uint32_t& inner_off) {
    const uint8_t* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEth);
    const uint32_t contiguous = rte_pktmbuf_data_len(m) - kEth;
    uint8_t nh = ip[6];
    uint32_t off = kIp6;
    for (int k = 0; k < kMaxOuterExtHeaders &&
                    (nh == wire::kProtoHopByHop || nh == wire::kProtoDestOpts);
         ++k) {
        // Past the packet is malformed; past the first segment is only how
        // the packet was received, and counted as such.
        if (off + 8 > l3_len) return Drop::DecapBadInner;
        if (off + 8 > contiguous) return Drop::HeadersNotContiguous;
        const uint32_t len = (uint32_t(ip[off + 1]) + 1) * 8;
        if (off + len > l3_len) return Drop::DecapBadInner;
        if (off + len > contiguous) return Drop::HeadersNotContiguous;
        nh = ip[off];
        off += len;
    }
    if (nh != wire::kProtoIpv6) return Drop::LocalDelivery;
    if (off + kIp6 > l3_len) return Drop::DecapBadInner;
    if (off + kIp6 > contiguous) return Drop::HeadersNotContiguous;
    if ((ip[off] >> 4) != 6) return Drop::DecapBadInner;
    inner_off = off;
    return Drop::kCount;
}

Drop decapsulate(rte_mbuf* m, uint32_t l3_len, bool enabled) {
    uint32_t off = 0;
    const Drop found = locate_inner(m, l3_len, off);
    if (found != Drop::kCount) return found;
    if (!enabled) return Drop::DecapDisabled;
    const uint8_t* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEth);
    uint8_t ecn = ipv6_ecn(ip + off);
    if (!rfc6040_decapsulate(ipv6_ecn(ip), ecn)) return Drop::DecapEcn;
    remove_outer(m, off, ecn);
    return Drop::kCount;
}

}  // namespace ioamfwd::dp
