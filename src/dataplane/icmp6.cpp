#include "dataplane/icmp6.hpp"

#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"

namespace ioamfwd::dp {

namespace {
uint32_t sum16(const uint8_t* p, uint32_t len, uint32_t acc) {
    for (uint32_t i = 0; i + 1 < len; i += 2) acc += load_be16(p + i);
    if (len & 1) acc += uint32_t(p[len - 1]) << 8;
    return acc;
}
bool unspecified(const uint8_t* a) {
    for (int i = 0; i < 16; ++i)
        if (a[i]) return false;
    return true;
}
}  // namespace

uint16_t icmp6_checksum(const uint8_t src[16], const uint8_t dst[16], const uint8_t* msg,
                        uint32_t len) {
    uint32_t acc = sum16(src, 16, 0);
    acc = sum16(dst, 16, acc);
    acc += len >> 16;
    acc += len & 0xffff;
    acc += wire::kProtoIcmpv6;
    acc = sum16(msg, len, acc);
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return uint16_t(~acc);
}

bool locate_upper_layer(const uint8_t* ip, uint32_t len, uint8_t& proto, uint32_t& off) {
    if (len < sizeof(wire::Ipv6Hdr)) return false;
    uint8_t nh = ip[6];
    off = sizeof(wire::Ipv6Hdr);
    for (int k = 0; k < 16; ++k) {
        switch (nh) {
            case wire::kProtoHopByHop:
            case wire::kProtoRouting:
            case wire::kProtoDestOpts: {
                if (off + 8 > len) return false;
                const uint32_t hl = (uint32_t(ip[off + 1]) + 1) * 8;
                nh = ip[off];
                off += hl;
                break;
            }
            case wire::kProtoFragment:
                if (off + 8 > len) return false;
                // Only the first fragment carries the upper-layer header.
                if ((load_be16(ip + off + 2) & 0xfff8) != 0) return false;
                nh = ip[off];
                off += 8;
                break;
            case wire::kProtoAh:
                if (off + 8 > len) return false;
                nh = ip[off];
                off += (uint32_t(ip[off + 1]) + 2) * 4;
                break;
            default:
                proto = nh;
                return off <= len;
        }
    }
    return false;
}

bool icmp_error_allowed(const uint8_t* ip, uint32_t len, bool l2_multicast, uint8_t type) {
    const auto* h = reinterpret_cast<const wire::Ipv6Hdr*>(ip);
    const bool ptb = type == kIcmpPacketTooBig;
    if (h->src[0] == 0xff || unspecified(h->src)) return false;
    if (!ptb && (h->dst[0] == 0xff || l2_multicast)) return false;
    uint8_t proto;
    uint32_t off;
    if (locate_upper_layer(ip, len, proto, off) && proto == wire::kProtoIcmpv6) {
        // Unknown: the type octet is cut off; err on the side of silence.
        if (off >= len) return false;
        const uint8_t t = ip[off];
        if (t < 128 || t == kIcmpRedirect) return false;
    }
    return true;
}

}  // namespace ioamfwd::dp
