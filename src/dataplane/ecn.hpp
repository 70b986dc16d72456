#pragma once
// RFC 6040 §4.2: the ECN field of a packet leaving an IP-in-IP tunnel,
// from the outer and inner ECN codepoints. Pure, header-only.

#include <cstdint>

namespace ioamfwd::dp {

inline constexpr uint8_t kEcnNotEct = 0;
inline constexpr uint8_t kEcnEct1 = 1;
inline constexpr uint8_t kEcnEct0 = 2;
inline constexpr uint8_t kEcnCe = 3;

/// Returns false when the packet must be dropped (outer CE over a not-ECT
/// inner: the congestion mark cannot be passed on); otherwise sets `inner` to
/// the codepoint the decapsulated packet carries.
constexpr bool rfc6040_decapsulate(uint8_t outer, uint8_t& inner) {
    if (outer == kEcnCe) {
        if (inner == kEcnNotEct) return false;
        inner = kEcnCe;
    } else if (outer == kEcnEct1 && inner == kEcnEct0) {
        inner = kEcnEct1;
    }
    return true;
}

/// Whether rfc6040_decapsulate can do anything but leave `inner` as it is:
/// only under an outer ECT(1) or CE, the two codepoints with the low bit
/// set. Under Not-ECT and ECT(0) every inner codepoint passes unchanged.
constexpr bool rfc6040_may_change(uint8_t outer) { return (outer & 1) != 0; }

/// The ECN codepoint of the IPv6 header at `ip` (the low two bits of the
/// traffic class) and its replacement.
inline uint8_t ipv6_ecn(const uint8_t* ip) { return (ip[1] >> 4) & 3; }
inline void set_ipv6_ecn(uint8_t* ip, uint8_t ecn) {
    ip[1] = uint8_t((ip[1] & 0xcf) | (ecn << 4));
}

}  // namespace ioamfwd::dp
