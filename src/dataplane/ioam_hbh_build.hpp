#pragma once
// The Hop-by-Hop header an encapsulating node inserts, laid out exactly as
// Linux's ioam6_iptunnel builds it (reference §1.2, §3.2):
//   [nh][hdrlen] PadN(2) | 0x31 optlen 0 0 | trace header | size zero octets | PadN(4)?
// Built once per route at configuration time; per packet it is copied and
// only the next-header octet changes. Pure function: no DPDK.

#include <cstddef>
#include <cstdint>

namespace ioamfwd::dp {

/// Largest header: 16 octets of framing + 244 of data rounded up to 8.
inline constexpr size_t kIoamHbhMax = 264;
/// Offset of the IOAM option (type octet) inside the built header.
inline constexpr size_t kIoamHbhOptOffset = 4;

/// Total size of the header for `size` octets of pre-allocated data.
constexpr size_t ioam_hbh_len(unsigned size) { return 16 + ((size + 7u) & ~7u); }

/// Writes the header into `out` (kIoamHbhMax bytes available) and returns its
/// length. `type` is the 24-bit trace type, `size` a multiple of 4 in 4..244
/// (validated by the configuration); NodeLen is computed from `type`.
size_t build_ioam_hbh(uint8_t* out, uint8_t next_header, uint16_t ns_id, uint32_t type,
                      unsigned size);

}  // namespace ioamfwd::dp
