#pragma once
// What kind of IPv6 address 16 octets in a packet are (RFC 4291 §2.4-§2.7):
// the dataplane reads addresses in place, so these take raw octets rather
// than Ipv6Addr. One definition for the parser, the worker, ND and ICMPv6.

#include <cstdint>
#include <cstring>

namespace ioamfwd::addr {

/// ff02::1, every node on the link (RFC 4291 §2.7.1).
inline constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
/// ff02::1:ff00:0/104: a solicited-node group is this and the low 24 bits of
/// the address (RFC 4291 §2.7.1).
inline constexpr uint8_t kSolicitedNodePrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0,
                                                     0,    0,    0, 0, 0x01, 0xff};

inline bool is_multicast(const uint8_t* a) { return a[0] == 0xff; }
inline bool is_link_local(const uint8_t* a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
inline bool is_all_nodes(const uint8_t* a) { return std::memcmp(a, kAllNodes, 16) == 0; }
inline bool is_solicited_node(const uint8_t* a) {
    return std::memcmp(a, kSolicitedNodePrefix, sizeof kSolicitedNodePrefix) == 0;
}
inline bool is_unspecified(const uint8_t* a) {
    for (int i = 0; i < 16; ++i)
        if (a[i]) return false;
    return true;
}
inline bool is_loopback(const uint8_t* a) {
    for (int i = 0; i < 15; ++i)
        if (a[i]) return false;
    return a[15] == 1;
}

}  // namespace ioamfwd::addr
