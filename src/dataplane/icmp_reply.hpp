#pragma once
// ICMPv6 messages built in the mbuf of the packet they answer, so answering
// never allocates: an error prepends its headers in the headroom and keeps
// as much of the offending packet as RFC 4443 §2.4(c) allows; an echo reply
// turns the request around. The result is Ethernet + an IPv6 packet the
// caller routes like any packet the appliance originates.

#include <rte_mbuf.h>

#include <rte_ether.h>

#include <array>
#include <cstdint>
#include <vector>

namespace ioamfwd::dp {

/// `m`: Ethernet + the offending IPv6 packet (`l3_len` octets). `src`: the
/// address to send from. `param`: the 32-bit field after the checksum (MTU
/// for Packet Too Big, 0 otherwise). False when the mbuf cannot hold it.
bool make_icmp_error(rte_mbuf* m, uint32_t l3_len, uint8_t type, uint8_t code, uint32_t param,
                     const uint8_t src[16]);

enum class EchoResult : uint8_t { NotEcho, Replied, BadChecksum, NoRoom };

/// If `m` (Ethernet + IPv6, `l3_len` octets, addressed to the appliance)
/// carries an Echo Request, rewrite it into the Echo Reply (RFC 4443 §4.2).
EchoResult make_echo_reply(rte_mbuf* m, uint32_t l3_len);

enum class NdResult : uint8_t { NotSolicitation, Advertised, Invalid, NotOurs };

/// If `m` (Ethernet + IPv6, `l3_len` octets, received on a port with the
/// addresses `addrs` and the MAC `mac`) carries a Neighbor Solicitation for
/// one of those addresses, rewrite it into the Neighbor Advertisement
/// (RFC 4861 §7.2.4: Router, Solicited unless it was duplicate address
/// detection, Override, with our link-layer address) and set `dst_mac` to
/// the frame's destination: the solicitor, or all-nodes for DAD. The answer
/// goes straight back out of the receiving port; it needs no route.
NdResult make_neighbor_advert(rte_mbuf* m, uint32_t l3_len,
                              const std::vector<std::array<uint8_t, 16>>& addrs,
                              const rte_ether_addr& mac, rte_ether_addr& dst_mac);

}  // namespace ioamfwd::dp
