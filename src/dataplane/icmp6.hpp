#pragma once
// ICMPv6 (RFC 4443) pieces the dataplane needs to answer from the offending
// packet's own mbuf: the checksum, the upper-layer lookup through extension
// headers, the §2.4(e) rules on when an error must not be sent, and a token
// bucket for §2.4(f) rate limiting. Pure: no DPDK.

#include <cstdint>

namespace ioamfwd::dp {

// RFC 4443 §2.1, §3, §4 message types.
inline constexpr uint8_t kIcmpDestUnreachable = 1;
inline constexpr uint8_t kIcmpPacketTooBig = 2;
inline constexpr uint8_t kIcmpTimeExceeded = 3;
inline constexpr uint8_t kIcmpParamProblem = 4;
inline constexpr uint8_t kIcmpEchoRequest = 128;
inline constexpr uint8_t kIcmpEchoReply = 129;
inline constexpr uint8_t kIcmpNeighborSolicit = 135;  // RFC 4861 §4.3
inline constexpr uint8_t kIcmpNeighborAdvert = 136;   // RFC 4861 §4.4
inline constexpr uint8_t kIcmpRedirect = 137;         // RFC 4861 §4.5

/// RFC 4443 §2.4(c): an error message's IPv6 packet stays within the minimum MTU.
inline constexpr uint32_t kIcmpErrorMax = 1280;
/// Hop limit of the messages the appliance originates (Linux's default).
inline constexpr uint8_t kOwnHopLimit = 64;

/// RFC 4443 §2.3 checksum over the IPv6 pseudo-header and `len` octets of
/// the message at `msg` (whose checksum field must be zero or is included as is).
uint16_t icmp6_checksum(const uint8_t src[16], const uint8_t dst[16], const uint8_t* msg,
                        uint32_t len);

/// Walks the extension headers of the IPv6 packet at `ip` (`len` octets
/// readable) to the upper-layer header. Returns false when the chain is cut
/// short or ends in a fragment that is not the first; otherwise `proto` and
/// `off` (from `ip`) name the upper layer.
bool locate_upper_layer(const uint8_t* ip, uint32_t len, uint8_t& proto, uint32_t& off);

/// RFC 4443 §2.4(e): may an error be sent about this packet? Not about an
/// ICMPv6 error or redirect, a packet to a multicast address or sent as a
/// link-layer multicast (except Packet Too Big), or from an address that
/// does not identify a single node.
bool icmp_error_allowed(const uint8_t* ip, uint32_t len, bool l2_multicast, uint8_t type);

/// RFC 4443 §2.4(f) token bucket, refilled from the TSC; one per worker so
/// nothing is shared on the fast path.
struct TokenBucket {
    uint64_t tokens_milli = 0;  // thousandths of a token
    uint64_t last_tsc = 0;

    /// `rate` messages per second, `burst` at most; `hz` the TSC frequency.
    bool take(uint64_t now_tsc, uint64_t hz, uint32_t rate, uint32_t burst) {
        if (rate == 0) return false;
        const uint64_t cap = uint64_t(burst) * 1000;
        if (now_tsc > last_tsc) {
            const uint64_t elapsed = now_tsc - last_tsc;
            // Elapsed time beyond a full refill only needs to saturate.
            const uint64_t refill = elapsed >= hz ? cap + uint64_t(rate) * 1000
                                                  : elapsed * rate * 1000 / hz;
            tokens_milli = tokens_milli + refill > cap ? cap : tokens_milli + refill;
            last_tsc = now_tsc;
        }
        if (tokens_milli < 1000) return false;
        tokens_milli -= 1000;
        return true;
    }
};

}  // namespace ioamfwd::dp
