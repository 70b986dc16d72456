#pragma once
// Validation of the IPv6 fixed header and of the Hop-by-Hop header that
// directly follows it, with Linux's rules and in Linux's order
// (ip6_rcv_core, ip6_parse_tlv, ipv6_hop_ioam; reference §2.1 and §4).
// Pure function over contiguous bytes: no DPDK, no allocation, no throw.

#include <cstdint>

#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"
#include "common/trace_type.hpp"
#include "dataplane/counters.hpp"

namespace ioamfwd::dp {

/// Linux net.ipv6.max_hbh_opts_number default: non-padding options allowed.
inline constexpr unsigned kMaxHbhOptions = 8;

struct Ipv6Parse {
    uint32_t l3_len = 0;   // 40 + payload length: bytes past it are link padding
    uint8_t n_ioam = 0;    // IOAM options of any kind in the Hop-by-Hop header
    uint8_t n_trace = 0;   // Pre-allocated Trace options to process
    uint16_t trace_off[kMaxHbhOptions];  // offsets of their option headers from the IPv6 header
    uint8_t skip_disabled = 0;     // IOAM options ignored: ingress not enabled
    uint8_t skip_option_type = 0;  // IOAM options ignored: not a Pre-allocated Trace
};

/// Returns Drop::kCount when the packet may go on, else the drop reason.
/// `ip` is the IPv6 header, `contiguous` the bytes readable from it, `frame_l3`
/// the bytes the frame carries from the IPv6 header on (may exceed `contiguous`
/// for multi-segment packets). `ioam_enabled` is the ingress port's switch.
Drop parse_ipv6(const uint8_t* ip, uint32_t contiguous, uint32_t frame_l3, bool ioam_enabled,
                Ipv6Parse& out);

/// Where the IOAM option sits, from the start of the Hop-by-Hop header, in
/// the layout Linux and ioam_hbh_build write.
inline constexpr uint32_t kStdIoamOptOff = 4;

/// The layout nearly every IOAM packet carries (Linux's and ours): PadN(2),
/// one IOAM option filling the header, and at most a trailing PadN(4). `h`
/// is the Hop-by-Hop header, all `hbh_len` octets readable. parse_ipv6 checks
/// the option of such a header directly instead of walking the TLVs.
inline bool standard_ioam_layout(const uint8_t* h, uint32_t hbh_len) {
    if (h[2] != wire::kOptPadN || h[3] != 0 || h[kStdIoamOptOff] != wire::kOptIoam) return false;
    const uint32_t end = kStdIoamOptOff + 2 + uint32_t(h[kStdIoamOptOff + 1]);
    if (end == hbh_len) return true;
    // PadN carrying two zero octets: 01 02 00 00.
    return end + 4 == hbh_len && load_be32(h + end) == 0x01020000u;
}

/// The checks parse_ipv6 makes of a Pre-allocated Trace option once it knows
/// the option is one (`opt` at its type octet, option length octet readable):
/// Drop::kCount, or why the packet is dropped.
inline Drop check_trace_option(const uint8_t* opt) {
    const uint8_t opt_len = opt[1];
    if (opt_len < 2 + sizeof(wire::IoamTraceHdr)) return Drop::IoamTraceTruncated;
    const auto* trace = reinterpret_cast<const wire::IoamTraceHdr*>(opt + 4);
    if (opt_len < 2 + sizeof(wire::IoamTraceHdr) + wire::trace_remlen(*trace) * 4u)
        return Drop::IoamTraceMalformed;
    // A NodeLen that disagrees with the type lets a writer run past the option
    // (the 2026 Linux heap overflow): refuse it before anything is written.
    if (wire::trace_nodelen(*trace) != trace::nodelen_words(wire::trace_type(*trace)))
        return Drop::IoamNodelenMismatch;
    return Drop::kCount;
}

/// True when the Hop-by-Hop header `h` (`hbh_len` octets, all readable) is
/// the standard layout with one Pre-allocated Trace option that parse_ipv6,
/// on an IOAM-enabled port, accepts and hands on for filling, at
/// kStdIoamOptOff, without counting any skip. The worker's fused fast path
/// takes such packets without the parse. False says nothing more: the full
/// parse decides. (The option is 4n-aligned wherever this layout sits
/// right behind the fixed IPv6 header.)
inline bool standard_one_trace(const uint8_t* h, uint32_t hbh_len) {
    return standard_ioam_layout(h, hbh_len) &&
           h[kStdIoamOptOff + 3] == wire::kIoamPreallocTrace &&
           check_trace_option(h + kStdIoamOptOff) == Drop::kCount;
}

}  // namespace ioamfwd::dp
