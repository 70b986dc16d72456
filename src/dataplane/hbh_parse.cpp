#include "dataplane/hbh_parse.hpp"

#include "common/addr_class.hpp"
#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"
#include "common/trace_type.hpp"

namespace ioamfwd::dp {

namespace {

constexpr Drop kOk = Drop::kCount;

using addr::is_loopback;
using addr::is_multicast;

// One IOAM option (RFC 9486 §4) at `off` from the IPv6 header; `opt` points at
// its type octet and the caller has checked that the option length octet lies
// inside the header. Order of checks as in Linux's ipv6_hop_ioam.
Drop check_ioam_option(const uint8_t* opt, uint32_t off, bool enabled, Ipv6Parse& out) {
    // Alignment first: Linux drops a misaligned option even on a port where
    // IOAM is disabled, so we must too or a Linux peer and we would disagree.
    if (off & 3) return Drop::IoamMisaligned;
    ++out.n_ioam;
    if (!enabled) {
        ++out.skip_disabled;
        return kOk;
    }
    const uint8_t opt_len = opt[1];
    if (opt_len < 2) return Drop::IoamShort;
    if (opt[3] != wire::kIoamPreallocTrace) {
        ++out.skip_option_type;
        return kOk;
    }
    const Drop bad = check_trace_option(opt);
    if (bad != kOk) return bad;
    out.trace_off[out.n_trace++] = uint16_t(off);
    return kOk;
}

// RFC 8200 §4.2 TLV walk with Linux's extra rules (ip6_parse_tlv).
Drop parse_hbh_options(const uint8_t* ip, uint32_t hbh_len, bool enabled, Ipv6Parse& out) {
    const uint8_t* h = ip + sizeof(wire::Ipv6Hdr);
    uint32_t off = sizeof(wire::HbhHdr);
    unsigned padlen = 0;
    unsigned n_options = 0;
    while (off < hbh_len) {
        const uint8_t type = h[off];
        if (type == wire::kOptPad1) {
            // RFC 8200 only needs up to 7 octets of padding to reach 8n; more
            // is a covert channel, and Linux refuses it.
            if (++padlen > 7) return Drop::HbhPadding;
            ++off;
            continue;
        }
        if (off + 2 > hbh_len) return Drop::HbhBadOption;
        const uint32_t optlen = uint32_t(h[off + 1]) + 2;
        if (off + optlen > hbh_len) return Drop::HbhBadOption;
        if (type == wire::kOptPadN) {
            padlen += optlen;
            if (padlen > 7) return Drop::HbhPadding;
            for (uint32_t i = 2; i < optlen; ++i)
                if (h[off + i] != 0) return Drop::HbhPadnNonzero;
            off += optlen;
            continue;
        }
        padlen = 0;
        if (++n_options > kMaxHbhOptions) return Drop::HbhTooManyOptions;
        switch (type) {
            case wire::kOptIoam: {
                Drop d = check_ioam_option(h + off, uint32_t(sizeof(wire::Ipv6Hdr)) + off,
                                           enabled, out);
                if (d != kOk) return d;
                break;
            }
            case wire::kOptJumbo:
                // Only valid with payload length 0, which parse_ipv6 already refused.
                return Drop::Jumbogram;
            case wire::kOptRouterAlert:
            case wire::kOptCalipso:
                break;  // known, nothing for a forwarder to do
            default:
                // RFC 8200 §4.2: the two high-order bits say what to do with
                // an unrecognised option; 00 = skip, anything else = discard.
                if ((type >> 6) != 0) return Drop::HbhUnknownOption;
                break;
        }
        off += optlen;
    }
    return kOk;
}

}  // namespace

Drop parse_ipv6(const uint8_t* ip, uint32_t contiguous, uint32_t frame_l3, bool ioam_enabled,
                Ipv6Parse& out) {
    out.n_ioam = 0;
    out.n_trace = 0;
    out.skip_disabled = 0;
    out.skip_option_type = 0;
    if (frame_l3 < sizeof(wire::Ipv6Hdr)) return Drop::Ipv6Truncated;
    if (contiguous < sizeof(wire::Ipv6Hdr)) return Drop::HeadersNotContiguous;
    const auto* hdr = reinterpret_cast<const wire::Ipv6Hdr*>(ip);
    if ((hdr->vtc_flow[0] >> 4) != 6) return Drop::Ipv6BadVersion;
    if (is_multicast(hdr->src) || is_loopback(hdr->src) || is_loopback(hdr->dst))
        return Drop::Ipv6BadAddress;

    const uint32_t payload_len = load_be16(hdr->payload_len);
    if (payload_len == 0 && hdr->next_header == wire::kProtoHopByHop) return Drop::Jumbogram;
    out.l3_len = uint32_t(sizeof(wire::Ipv6Hdr)) + payload_len;
    if (out.l3_len > frame_l3) return Drop::Ipv6BadLength;

    if (hdr->next_header != wire::kProtoHopByHop) return kOk;
    // The HbH length octet itself must be inside the packet before it is read.
    if (out.l3_len < sizeof(wire::Ipv6Hdr) + 8) return Drop::HbhTruncated;
    if (contiguous < sizeof(wire::Ipv6Hdr) + 8) return Drop::HeadersNotContiguous;
    const uint32_t hbh_len = (uint32_t(ip[sizeof(wire::Ipv6Hdr) + 1]) + 1) * 8;
    if (sizeof(wire::Ipv6Hdr) + hbh_len > out.l3_len) return Drop::HbhTruncated;
    if (sizeof(wire::Ipv6Hdr) + hbh_len > contiguous) return Drop::HeadersNotContiguous;
    // The common layout: the TLV walk would accept its padding, count one
    // option and call check_ioam_option at offset 4, so calling that
    // directly gives the same verdict.
    if (standard_ioam_layout(ip + sizeof(wire::Ipv6Hdr), hbh_len))
        return check_ioam_option(ip + sizeof(wire::Ipv6Hdr) + kStdIoamOptOff,
                                 uint32_t(sizeof(wire::Ipv6Hdr)) + kStdIoamOptOff, ioam_enabled,
                                 out);
    return parse_hbh_options(ip, hbh_len, ioam_enabled, out);
}

}  // namespace ioamfwd::dp
