#include "dataplane/ioam_hbh_build.hpp"

#include <cstring>

#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"
#include "common/trace_type.hpp"

namespace ioamfwd::dp {

size_t build_ioam_hbh(uint8_t* out, uint8_t next_header, uint16_t ns_id, uint32_t type,
                      unsigned size) {
    const size_t len = ioam_hbh_len(size);
    std::memset(out, 0, len);
    out[0] = next_header;
    out[1] = uint8_t(len / 8 - 1);
    // PadN(2) puts the IOAM option at offset 4 of the header, 44 of the IPv6
    // packet: the 4n alignment RFC 9486 §4 requires.
    out[2] = wire::kOptPadN;
    out[3] = 0;
    uint8_t* opt = out + kIoamHbhOptOffset;
    opt[0] = wire::kOptIoam;
    opt[1] = uint8_t(2 + sizeof(wire::IoamTraceHdr) + size);
    opt[2] = 0;
    opt[3] = wire::kIoamPreallocTrace;
    uint8_t* trace = opt + sizeof(wire::IoamOptHdr);
    store_be16(trace, ns_id);
    trace[2] = uint8_t(trace::nodelen_words(type) << 3);
    trace[3] = uint8_t(size / 4);
    trace[4] = uint8_t(type >> 16);
    trace[5] = uint8_t(type >> 8);
    trace[6] = uint8_t(type);
    trace[7] = 0;
    // The data area stays zero. A size of 4 mod 8 leaves 4 octets to the
    // 8-octet boundary, filled with one PadN carrying 2 zero octets.
    if (size % 8 == 4) {
        uint8_t* pad = out + len - 4;
        pad[0] = wire::kOptPadN;
        pad[1] = 2;
    }
    return len;
}

}  // namespace ioamfwd::dp
