#pragma once
// Neighbor Discovery (RFC 4861) on the wire, as pure functions over bytes:
// the router's link-local address, the solicited-node group, the
// validation of received solicitations and advertisements, and the
// solicitation the appliance sends to resolve a next hop. No DPDK, so the
// unit suite checks every octet without an EAL.

#include <cstddef>
#include <cstdint>

namespace ioamfwd::dp {

/// RFC 4861 §4.3 + §4.6.1: Ethernet, IPv6, the 24-octet solicitation and
/// one 8-octet Source Link-Layer Address option.
inline constexpr size_t kNsFrameLen = 14 + 40 + 24 + 8;

/// fe80::/64 with the modified EUI-64 interface identifier of `mac`
/// (RFC 4291 §2.5.1 and Appendix A, RFC 4862 §5.3): the universal/local bit
/// inverted and ff:fe in the middle.
void link_local_from_mac(const uint8_t mac[6], uint8_t out[16]);

/// ff02::1:ffXX:XXXX for `target` (RFC 4291 §2.7.1).
void solicited_node_group(const uint8_t target[16], uint8_t out[16]);

/// Writes the kNsFrameLen octets of a Neighbor Solicitation for `target`
/// from `src` (hop limit 255, our link-layer address `mac` as SLLA). With
/// `unicast_mac` null it goes to the target's solicited-node group and the
/// matching 33:33:ff:XX:XX:XX frame address (address resolution, §7.2.2);
/// otherwise to the target itself at that MAC (reachability probe, §7.3.3).
void build_neighbor_solicit(uint8_t* out, const uint8_t src[16], const uint8_t target[16],
                            const uint8_t mac[6], const uint8_t* unicast_mac);

// Flags octet of a Neighbor Advertisement (RFC 4861 §4.4).
inline constexpr uint8_t kNaRouter = 0x80;
inline constexpr uint8_t kNaSolicited = 0x40;
inline constexpr uint8_t kNaOverride = 0x20;

struct NdMessage {
    uint8_t type = 0;                 // kIcmpNeighborSolicit or kIcmpNeighborAdvert
    uint8_t flags = 0;                // advertisements: R, S, O as on the wire
    const uint8_t* target = nullptr;  // inside the packet
    const uint8_t* lladdr = nullptr;  // SLLA (solicitation) / TLLA (advertisement), or null
};

enum class NdCheck : uint8_t { NotNd, Valid, Invalid };

/// If the IPv6 packet at `ip` (`len` octets) carries a Neighbor
/// Solicitation or Advertisement, checks it as RFC 4861 §7.1.1 / §7.1.2
/// ask: hop limit 255, code 0, checksum, at least 24 octets, a target that
/// is not multicast, options of non-zero length inside the message; a
/// solicitation from :: only to a solicited-node group and without SLLA;
/// an advertisement to a multicast address without the Solicited flag. A
/// link-layer address option that is not Ethernet's 8 octets is skipped;
/// of several Ethernet ones the first is taken.
NdCheck check_nd(const uint8_t* ip, uint32_t len, NdMessage& out);

}  // namespace ioamfwd::dp
