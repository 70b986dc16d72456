#pragma once
// Removing IOAM options from a Hop-by-Hop header at the edge of the IOAM
// domain (RFC 9486 §6, RFC 9197 §4: IOAM data must not leak out of, or be
// injected into, the domain). Pure function: no DPDK.

#include <cstddef>
#include <cstdint>

namespace ioamfwd::dp {

/// Largest Hop-by-Hop header: (255 + 1) * 8 octets.
inline constexpr size_t kHbhMax = 2048;

/// Rebuilds the Hop-by-Hop header `h` (`len` octets, already validated)
/// without its IOAM options into `out` (kHbhMax octets). Returns -1 when `h`
/// has no IOAM option, 0 when nothing but IOAM and padding was in it (the
/// whole header should go), else the new length. The options kept stay at
/// their offset modulo 8, so any alignment they relied on survives, and the
/// padding written between them never runs past 7 octets (Linux's limit).
int strip_ioam_hbh(const uint8_t* h, size_t len, uint8_t* out);

}  // namespace ioamfwd::dp
