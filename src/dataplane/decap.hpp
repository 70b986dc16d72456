#pragma once
// Termination of ip6ip6 tunnels (RFC 2473) addressed to the appliance: the
// outer IPv6 header and its extension headers are removed and the inner
// packet is handed back for forwarding, as Linux's ip6tnl does.

#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "common/ioam_wire.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/ecn.hpp"

namespace ioamfwd::dp {

/// Finds the inner packet of an ip6ip6 packet (Ethernet + `l3_len` octets of
/// IPv6 in `m`): Drop::kCount with `inner_off` set (from the outer IPv6
/// header), Drop::LocalDelivery when it is not a tunnel, or Drop::DecapBadInner.
Drop locate_inner(const rte_mbuf* m, uint32_t l3_len, uint32_t& inner_off);

/// `m` holds Ethernet + an IPv6 packet of `l3_len` octets addressed to us.
/// Returns Drop::kCount when `m` now holds Ethernet + the inner packet,
/// Drop::LocalDelivery when it is not a tunnel, or why it was refused.
Drop decapsulate(rte_mbuf* m, uint32_t l3_len, bool enabled);

/// decapsulate()'s last step but the ECN: `m` then holds Ethernet + the
/// inner packet (`inner_off` from the outer IPv6 header) as it was.
inline void cut_outer(rte_mbuf* m, uint32_t inner_off) {
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    // Keep the Ethernet header in front of the inner packet; the outer bytes
    // go back to the headroom. The inner packet starts at least a whole IPv6
    // header in: the two copies of the Ethernet header cannot overlap.
    std::memcpy(d + inner_off, d, sizeof(wire::EtherHdr));
    rte_pktmbuf_adj(m, uint16_t(inner_off));
}

/// decapsulate()'s last step, for a caller that has located the inner
/// packet itself and decided the ECN codepoint it leaves with (RFC 6040).
inline void remove_outer(rte_mbuf* m, uint32_t inner_off, uint8_t inner_ecn) {
    set_ipv6_ecn(rte_pktmbuf_mtod_offset(m, uint8_t*, sizeof(wire::EtherHdr) + inner_off),
                 inner_ecn);
    cut_outer(m, inner_off);
}

/// cut_outer for a single-segment `m` whose first octet is at `d` and whose
/// inner packet is `inner_l3` octets (no more than the outer packet holds
/// behind `inner_off`): what followed the inner packet goes too, as
/// trim_frame would cut it. Inline: the worker's fused path runs it per
/// packet. The lengths are set outright, as rte_pktmbuf_adj's check cannot
/// fail with the inner packet inside the segment.
inline void cut_outer_to(rte_mbuf* m, uint8_t* d, uint32_t inner_off, uint32_t inner_l3) {
    std::memcpy(d + inner_off, d, sizeof(wire::EtherHdr));
    m->data_off = uint16_t(m->data_off + inner_off);
    m->data_len = uint16_t(sizeof(wire::EtherHdr) + inner_l3);
    m->pkt_len = uint32_t(sizeof(wire::EtherHdr)) + inner_l3;
}

}  // namespace ioamfwd::dp
