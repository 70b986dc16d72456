#pragma once
// RFC 9197 §4.4.2 IOAM-Trace-Type bits and the sizes of the node data they
// select. Bit n of the 24-bit type is (1 << (23 - n)) in the value operators
// write (0x800000 = bit 0), as in iproute2 and the seed documents.

#include <cstdint>

namespace ioamfwd::trace {

constexpr uint32_t bit(unsigned n) { return 1u << (23 - n); }

// Words (4 octets) of node data per bit. Bits 0-7, 11 and the undefined 12-21
// take one word, the wide fields 8-10 take two; the Opaque State Snapshot
// (bit 22) is variable and not part of NodeLen; bit 23 is reserved and selects
// nothing. The masks match Linux's NodeLen recomputation, whose 2026 fix made
// bits 12-21 count (they are filled with 0xFFFFFFFF by transit nodes).
inline constexpr uint32_t kShortMask = 0xff1ffc;  // bits 0-7, 11, 12-21
inline constexpr uint32_t kWideMask = 0x00e000;   // bits 8-10
inline constexpr uint32_t kOssBit = bit(22);
inline constexpr uint32_t kReservedBit = bit(23);
inline constexpr uint32_t kUndefinedMask = 0x000ffc;  // bits 12-21

constexpr unsigned nodelen_words(uint32_t type) {
    return unsigned(__builtin_popcount(type & kShortMask)) +
           2u * unsigned(__builtin_popcount(type & kWideMask));
}

// Bits an encapsulating node may request (Linux ioam6_iptunnel validation).
constexpr bool valid_for_insertion(uint32_t type) {
    return type != 0 && type <= 0xffffff && (type & (kUndefinedMask | kReservedBit)) == 0;
}

enum Bit : unsigned {
    kHopLimNodeId = 0,
    kIfIds = 1,
    kTimestampSec = 2,
    kTimestampSub = 3,
    kTransitDelay = 4,
    kNamespaceData = 5,
    kQueueDepth = 6,
    kChecksumComplement = 7,
    kHopLimNodeIdWide = 8,
    kIfIdsWide = 9,
    kNamespaceDataWide = 10,
    kBufferOccupancy = 11,
    kOpaqueStateSnapshot = 22,
};

// Bits 2 and 3 need the clock: the dataplane reads it only for them.
constexpr bool wants_time(uint32_t type) {
    return (type & (bit(kTimestampSec) | bit(kTimestampSub))) != 0;
}

}  // namespace ioamfwd::trace
