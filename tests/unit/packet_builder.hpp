#pragma once
// Byte-buffer helpers for the dataplane unit tests. Everything here is written
// from the wire layout in the reference document (linux-ioam-behaviour.md §1),
// not from src/common/ioam_wire.hpp or trace_type.hpp, so that the tests stay
// an independent oracle for the code under test.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

namespace ioamfwd::test {

using Bytes = std::vector<uint8_t>;

inline void append(Bytes& b, std::initializer_list<uint8_t> more) {
    b.insert(b.end(), more.begin(), more.end());
}
inline void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

inline void put_be16(Bytes& b, uint16_t v) { append(b, {uint8_t(v >> 8), uint8_t(v)}); }
inline void put_be32(Bytes& b, uint32_t v) {
    append(b, {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
}

// Hex dump with a space every 4 octets: comparing these strings gives a
// readable diff when a byte-exact assertion fails (the IOAM data is in words).
inline std::string hex(const Bytes& b) {
    std::string s;
    char tmp[3];
    for (size_t i = 0; i < b.size(); ++i) {
        if (i != 0 && i % 4 == 0) s += ' ';
        std::snprintf(tmp, sizeof tmp, "%02x", b[i]);
        s += tmp;
    }
    return s;
}

// Words of node data selected by one trace-type bit (reference §2.1 step 7 and
// §2.3): bits 8-10 are the 8-octet wide fields, bits 22 (OSS, not part of
// NodeLen) and 23 (reserved) contribute nothing, every other bit one word.
inline unsigned words_for_bit(unsigned n) {
    if (n >= 8 && n <= 10) return 2;
    if (n == 22 || n == 23) return 0;
    return 1;
}

// Bit n of the 24-bit trace type: bit 0 is the most significant (§1.1).
inline uint32_t type_bit(unsigned n) { return 0x800000u >> n; }

inline unsigned nodelen_for(uint32_t type24) {
    unsigned words = 0;
    for (unsigned n = 0; n < 24; ++n)
        if (type24 & type_bit(n)) words += words_for_bit(n);
    return words;
}

// The 8-octet trace header (§1.1): ns(16) | NodeLen(5) O(1) 2 unused |
// 1 unused RemLen(7) | type(24) | reserved octet. `octet2_low` and
// `octet3_top` let tests set the flag/unused bits the fill must preserve.
struct TraceHdr {
    uint16_t ns = 123;
    unsigned nodelen = 0;
    bool overflow = false;
    uint8_t octet2_low = 0;  // the two bits under the Overflow flag (mask 0x03)
    bool octet3_top = false;  // the unused bit above RemLen (mask 0x80)
    unsigned remlen = 0;
    uint32_t type = 0;  // 24-bit value, 0x800000 = bit 0
    uint8_t reserved = 0;
};

inline void put_trace_hdr(Bytes& b, const TraceHdr& h) {
    put_be16(b, h.ns);
    b.push_back(uint8_t(h.nodelen << 3 | (h.overflow ? 0x04 : 0) | (h.octet2_low & 0x03)));
    b.push_back(uint8_t((h.octet3_top ? 0x80 : 0) | (h.remlen & 0x7f)));
    append(b, {uint8_t(h.type >> 16), uint8_t(h.type >> 8), uint8_t(h.type), h.reserved});
}

// IOAM option (RFC 9486 §4): 0x31, opt_len = 2 + 8 + data, reserved, option-type 0,
// then the trace header and `data` verbatim.
inline Bytes trace_option(const TraceHdr& h, const Bytes& data) {
    Bytes b{0x31, uint8_t(10 + data.size()), 0x00, 0x00};
    put_trace_hdr(b, h);
    append(b, data);
    return b;
}

// Appends the padding RFC 8200 asks for to make a HbH (2-octet header +
// `options`) a multiple of 8: Pad1 for one octet, PadN otherwise.
inline void pad_hbh_options(Bytes& options) {
    const size_t missing = (8 - (2 + options.size()) % 8) % 8;
    if (missing == 1) {
        options.push_back(0x00);
    } else if (missing >= 2) {
        options.push_back(0x01);
        options.push_back(uint8_t(missing - 2));
        options.insert(options.end(), missing - 2, 0x00);
    }
}

// HbH header around already-padded options; hdrlen in 8-octet units minus one.
inline Bytes hbh(uint8_t next_header, const Bytes& options) {
    Bytes b{next_header, uint8_t((2 + options.size()) / 8 - 1)};
    append(b, options);
    return b;
}

// Exactly the HbH a Linux encap node builds (§1.2): PadN(2), IOAM option with
// a zeroed pre-allocated area of `size` octets, PadN(4) when size % 8 == 4.
inline Bytes linux_hbh(uint8_t next_header, uint16_t ns, uint32_t type, unsigned size) {
    const unsigned aligned = (size + 7) / 8 * 8;
    Bytes b{next_header, uint8_t((16 + aligned) / 8 - 1), 0x01, 0x00};
    TraceHdr h;
    h.ns = ns;
    h.type = type;
    h.nodelen = nodelen_for(type);
    h.remlen = size / 4;
    append(b, trace_option(h, Bytes(size, 0)));
    if (size % 8 == 4) append(b, {0x01, 0x02, 0x00, 0x00});
    return b;
}

// Documentation prefix addresses of the selftest topology (§6.1).
inline constexpr uint8_t kSrcAddr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0,
                                         0,    0,    0,    0,    0, 0, 0, 2};  // 2001:db8:1::2
inline constexpr uint8_t kDstAddr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0,
                                         0,    0,    0,    0,    0, 0, 0, 2};  // 2001:db8:2::2

struct Ipv6Fields {
    uint8_t version = 6;
    uint8_t next_header = 58;
    int payload_len = -1;  // -1: the length of what follows the header
    uint8_t hop_limit = 64;
    const uint8_t* src = kSrcAddr;
    const uint8_t* dst = kDstAddr;
};

// IPv6 fixed header (RFC 8200 §3) followed by `rest` (extension headers and
// upper layer). Traffic class and flow label are non-zero so a parser that
// mixes them up with the version nibble gets caught.
inline Bytes ipv6_packet(const Ipv6Fields& f, const Bytes& rest) {
    Bytes b{uint8_t(f.version << 4 | 0x0a), 0xbc, 0xde, 0xf1};
    put_be16(b, uint16_t(f.payload_len < 0 ? rest.size() : unsigned(f.payload_len)));
    b.push_back(f.next_header);
    b.push_back(f.hop_limit);
    b.insert(b.end(), f.src, f.src + 16);
    b.insert(b.end(), f.dst, f.dst + 16);
    append(b, rest);
    return b;
}

// An 8-octet ICMPv6 echo request, the upper layer used by the selftests' ping.
inline Bytes icmp_echo() { return Bytes{0x80, 0x00, 0x12, 0x34, 0x00, 0x01, 0x00, 0x01}; }

}  // namespace ioamfwd::test
