#include "dataplane/nd_wire.hpp"

#include <cstring>

#include "common/addr_class.hpp"
#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"
#include "dataplane/icmp6.hpp"

namespace ioamfwd::dp {

namespace {
constexpr uint32_t kEth = sizeof(wire::EtherHdr);
constexpr uint32_t kIp6 = sizeof(wire::Ipv6Hdr);
constexpr uint32_t kNdFixed = 24;  // type..target, §4.3 and §4.4
constexpr uint8_t kOptSlla = 1;    // §4.6.1
constexpr uint8_t kOptTlla = 2;
}  // namespace

void link_local_from_mac(const uint8_t mac[6], uint8_t out[16]) {
    std::memset(out, 0, 16);
    out[0] = 0xfe;
    out[1] = 0x80;
    out[8] = mac[0] ^ 0x02;
    out[9] = mac[1];
    out[10] = mac[2];
    out[11] = 0xff;
    out[12] = 0xfe;
    out[13] = mac[3];
    out[14] = mac[4];
    out[15] = mac[5];
}

void solicited_node_group(const uint8_t target[16], uint8_t out[16]) {
    std::memcpy(out, addr::kSolicitedNodePrefix, sizeof addr::kSolicitedNodePrefix);
    std::memcpy(out + 13, target + 13, 3);
}

void build_neighbor_solicit(uint8_t* out, const uint8_t src[16], const uint8_t target[16],
                            const uint8_t mac[6], const uint8_t* unicast_mac) {
    auto* eth = reinterpret_cast<wire::EtherHdr*>(out);
    auto* ip = reinterpret_cast<wire::Ipv6Hdr*>(out + kEth);
    uint8_t* icmp = out + kEth + kIp6;
    constexpr uint32_t kLen = kNdFixed + 8;
    if (unicast_mac) {
        std::memcpy(eth->dst, unicast_mac, 6);
        std::memcpy(ip->dst, target, 16);
    } else {
        solicited_node_group(target, ip->dst);
        // RFC 2464 §7: 33:33 and the group's last four octets.
        eth->dst[0] = eth->dst[1] = 0x33;
        std::memcpy(eth->dst + 2, ip->dst + 12, 4);
    }
    std::memcpy(eth->src, mac, 6);
    store_be16(eth->ether_type, wire::kEtherTypeIpv6);
    store_be32(ip->vtc_flow, 6u << 28);
    store_be16(ip->payload_len, uint16_t(kLen));
    ip->next_header = wire::kProtoIcmpv6;
    ip->hop_limit = 255;  // §7.1.1: receivers insist on it
    std::memcpy(ip->src, src, 16);
    icmp[0] = kIcmpNeighborSolicit;
    icmp[1] = 0;
    store_be16(icmp + 2, 0);
    store_be32(icmp + 4, 0);
    std::memcpy(icmp + 8, target, 16);
    icmp[24] = kOptSlla;
    icmp[25] = 1;
    std::memcpy(icmp + 26, mac, 6);
    store_be16(icmp + 2, icmp6_checksum(ip->src, ip->dst, icmp, kLen));
}

NdCheck check_nd(const uint8_t* ip, uint32_t len, NdMessage& out) {
    uint8_t proto;
    uint32_t off;
    if (!locate_upper_layer(ip, len, proto, off) || proto != wire::kProtoIcmpv6 || off >= len)
        return NdCheck::NotNd;
    const uint8_t* icmp = ip + off;
    if (icmp[0] != kIcmpNeighborSolicit && icmp[0] != kIcmpNeighborAdvert) return NdCheck::NotNd;
    const auto* h = reinterpret_cast<const wire::Ipv6Hdr*>(ip);
    const uint32_t n = len - off;
    out = NdMessage{};
    out.type = icmp[0];
    if (n < kNdFixed || h->hop_limit != 255 || icmp[1] != 0 ||
        icmp6_checksum(h->src, h->dst, icmp, n) != 0 || icmp[8] == 0xff ||
        h->src[0] == 0xff)  // a group never sends (RFC 4291 §2.7): no one to answer
        return NdCheck::Invalid;
    const bool from_unspecified = addr::is_unspecified(h->src);
    const uint8_t want = out.type == kIcmpNeighborSolicit ? kOptSlla : kOptTlla;
    bool has_slla = false;  // of any length: what §7.1.1 forbids from ::
    for (uint32_t o = kNdFixed; o < n;) {
        if (o + 2 > n || icmp[o + 1] == 0 || o + icmp[o + 1] * 8u > n) return NdCheck::Invalid;
        has_slla |= icmp[o] == kOptSlla;
        // Only Ethernet's 8-octet form carries an address we can use; of
        // several, the first counts (as Linux's ndisc_parse_options does).
        if (icmp[o] == want && icmp[o + 1] == 1 && !out.lladdr) out.lladdr = icmp + o + 2;
        o += icmp[o + 1] * 8u;
    }
    out.target = icmp + 8;
    if (out.type == kIcmpNeighborSolicit) {
        if (from_unspecified && (!addr::is_solicited_node(h->dst) || has_slla))
            return NdCheck::Invalid;
    } else {
        out.flags = icmp[4] & (kNaRouter | kNaSolicited | kNaOverride);
        if (h->dst[0] == 0xff && (out.flags & kNaSolicited)) return NdCheck::Invalid;
    }
    return NdCheck::Valid;
}

}  // namespace ioamfwd::dp
