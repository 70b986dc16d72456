#pragma once
// Validation of the IPv6 fixed header and of the Hop-by-Hop header that
// directly follows it, with Linux's rules and in Linux's order
// (ip6_rcv_core, ip6_parse_tlv, ipv6_hop_ioam; reference §2.1 and §4).
// Pure function over contiguous bytes: no DPDK, no allocation, no throw.

#include <cstdint>

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

}  // namespace ioamfwd::dp
