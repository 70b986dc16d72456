#pragma once
// On-wire layouts of the headers ioamfwd reads and writes, as plain packed
// structs. Multi-octet fields are kept as octet arrays and read with the
// byte_order.hpp helpers so that no field can be used in host order by mistake.

#include <cstddef>
#include <cstdint>

namespace ioamfwd::wire {

// IEEE 802.3 Ethernet II header.
struct [[gnu::packed]] EtherHdr {
    uint8_t dst[6];
    uint8_t src[6];
    uint8_t ether_type[2];
};
static_assert(sizeof(EtherHdr) == 14);
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

// RFC 8200 §3: IPv6 fixed header.
struct [[gnu::packed]] Ipv6Hdr {
    uint8_t vtc_flow[4];  // version(4) traffic class(8) flow label(20)
    uint8_t payload_len[2];
    uint8_t next_header;
    uint8_t hop_limit;
    uint8_t src[16];
    uint8_t dst[16];
};
static_assert(sizeof(Ipv6Hdr) == 40);

// RFC 8200 §4.3: Hop-by-Hop Options header (options follow, total (len+1)*8).
struct [[gnu::packed]] HbhHdr {
    uint8_t next_header;
    uint8_t hdr_ext_len;
};
static_assert(sizeof(HbhHdr) == 2);

// RFC 8200 §4: next-header values ioamfwd knows.
inline constexpr uint8_t kProtoHopByHop = 0;
inline constexpr uint8_t kProtoIpv6 = 41;  // ip6ip6 (RFC 2473)
inline constexpr uint8_t kProtoRouting = 43;
inline constexpr uint8_t kProtoFragment = 44;
inline constexpr uint8_t kProtoAh = 51;
inline constexpr uint8_t kProtoIcmpv6 = 58;
inline constexpr uint8_t kProtoNone = 59;
inline constexpr uint8_t kProtoDestOpts = 60;

// RFC 8200 §4.2 option types.
inline constexpr uint8_t kOptPad1 = 0x00;
inline constexpr uint8_t kOptPadN = 0x01;
inline constexpr uint8_t kOptRouterAlert = 0x05;  // RFC 2711
inline constexpr uint8_t kOptCalipso = 0x07;      // RFC 5570
inline constexpr uint8_t kOptJumbo = 0xc2;        // RFC 2675
// RFC 9486 §4: IOAM option in Hop-by-Hop / Destination options (IANA 0x31).
inline constexpr uint8_t kOptIoam = 0x31;

// RFC 9486 §4: the 4-octet IOAM option header inside the HbH.
struct [[gnu::packed]] IoamOptHdr {
    uint8_t opt_type;  // 0x31
    uint8_t opt_len;   // octets after this field: 2 + option-type data
    uint8_t reserved;
    uint8_t ioam_type;  // RFC 9197 §4.2 IOAM Option-Type
};
static_assert(sizeof(IoamOptHdr) == 4);

// RFC 9197 §4.2 IOAM Option-Types.
inline constexpr uint8_t kIoamPreallocTrace = 0;

// RFC 9197 §4.4.1: Pre-allocated / Incremental Trace Option-Type header.
//   ns_id(16) | NodeLen(5) Flags(4) RemainingLen(7) | Trace-Type(24) Reserved(8)
struct [[gnu::packed]] IoamTraceHdr {
    uint8_t namespace_id[2];
    uint8_t nodelen_flags;  // NodeLen in the top 5 bits, then Overflow, Loopback, Active
    uint8_t flags_remlen;   // last flag bit, then RemainingLen in the low 7 bits
    uint8_t type[3];        // IOAM-Trace-Type, bit 0 = MSB of type[0]
    uint8_t reserved;
};
static_assert(sizeof(IoamTraceHdr) == 8);

inline constexpr uint8_t kTraceOverflowBit = 0x04;  // RFC 9197 §4.4.1 flag bit 0 (O)
inline constexpr size_t kTraceDataMax = 244;          // Linux IOAM6_TRACE_DATA_SIZE_MAX

inline unsigned trace_nodelen(const IoamTraceHdr& h) { return h.nodelen_flags >> 3; }
inline bool trace_overflow(const IoamTraceHdr& h) { return (h.nodelen_flags & kTraceOverflowBit) != 0; }
inline unsigned trace_remlen(const IoamTraceHdr& h) { return h.flags_remlen & 0x7f; }
inline uint32_t trace_type(const IoamTraceHdr& h) {
    return uint32_t(h.type[0]) << 16 | uint32_t(h.type[1]) << 8 | h.type[2];
}

}  // namespace ioamfwd::wire
