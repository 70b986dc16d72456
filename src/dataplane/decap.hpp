#pragma once
// Termination of ip6ip6 tunnels (RFC 2473) addressed to the appliance: the
// outer IPv6 header and its extension headers are removed and the inner
// packet is handed back for forwarding, as Linux's ip6tnl does.

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/counters.hpp"

namespace ioamfwd::dp {

/// Finds the inner packet of an ip6ip6 packet (Ethernet + `l3_len` octets of
/// IPv6 in `m`): Drop::kCount with `inner_off` set (from the outer IPv6
/// header), Drop::LocalDelivery when it is not a tunnel, or Drop::DecapBadInner.
Drop locate_inner(const rte_mbuf* m, uint32_t l3_len, uint32_t& inner_off);

/// `m` holds Ethernet + an IPv6 packet of `l3_len` octets addressed to us.
/// Returns Drop::kCount when `m` now holds Ethernet + the inner packet,
/// Drop::LocalDelivery when it is not a tunnel, or why it was refused.
Drop decapsulate(rte_mbuf* m, uint32_t l3_len, bool enabled);

}  // namespace ioamfwd::dp
