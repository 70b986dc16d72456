#include "dataplane/icmp_reply.hpp"

#include <algorithm>
#include <cstring>

#include "common/addr_class.hpp"
#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"
#include "dataplane/icmp6.hpp"

namespace ioamfwd::dp {

namespace {
constexpr uint32_t kEth = sizeof(wire::EtherHdr);
constexpr uint32_t kIp6 = sizeof(wire::Ipv6Hdr);
constexpr uint32_t kIcmpHdr = 8;

void write_ipv6(wire::Ipv6Hdr* h, uint32_t tclass, uint32_t payload, const uint8_t* src,
                const uint8_t* dst) {
    store_be32(h->vtc_flow, 6u << 28 | (tclass & 0xff) << 20);
    store_be16(h->payload_len, uint16_t(payload));
    h->next_header = wire::kProtoIcmpv6;
    h->hop_limit = kOwnHopLimit;
    std::memmove(h->src, src, 16);
    std::memmove(h->dst, dst, 16);
}

// Cut the frame to `frame_len` octets; only single-segment mbufs are
// answered, so the cut is always in the one segment.
void cut(rte_mbuf* m, uint32_t frame_len) {
    rte_pktmbuf_trim(m, uint16_t(rte_pktmbuf_pkt_len(m) - frame_len));
}
}  // namespace

bool make_icmp_error(rte_mbuf* m, uint32_t l3_len, uint8_t type, uint8_t code, uint32_t param,
                     const uint8_t src[16]) {
    constexpr uint32_t grow = kIp6 + kIcmpHdr;
    if (m->nb_segs != 1 || rte_pktmbuf_headroom(m) < grow) return false;
    uint8_t* old = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t dst[16];
    std::memcpy(dst, reinterpret_cast<const wire::Ipv6Hdr*>(old + kEth)->src, 16);
    uint8_t* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, grow));
    std::memmove(d, old, kEth);
    const uint32_t quoted = std::min(l3_len, kIcmpErrorMax - grow);
    cut(m, kEth + grow + quoted);
    auto* ip = reinterpret_cast<wire::Ipv6Hdr*>(d + kEth);
    write_ipv6(ip, 0, kIcmpHdr + quoted, src, dst);
    uint8_t* icmp = d + kEth + kIp6;
    icmp[0] = type;
    icmp[1] = code;
    store_be16(icmp + 2, 0);
    store_be32(icmp + 4, param);
    store_be16(icmp + 2, icmp6_checksum(ip->src, ip->dst, icmp, kIcmpHdr + quoted));
    return true;
}

EchoResult make_echo_reply(rte_mbuf* m, uint32_t l3_len) {
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    auto* ip = reinterpret_cast<wire::Ipv6Hdr*>(d + kEth);
    const uint32_t readable = std::min<uint32_t>(l3_len, rte_pktmbuf_data_len(m) - kEth);
    uint8_t proto;
    uint32_t off;
    if (!locate_upper_layer(reinterpret_cast<uint8_t*>(ip), readable, proto, off) ||
        proto != wire::kProtoIcmpv6 || off + kIcmpHdr > l3_len)
        return EchoResult::NotEcho;
    if (m->nb_segs != 1) return EchoResult::NoRoom;
    uint8_t* icmp = reinterpret_cast<uint8_t*>(ip) + off;
    // Requests to a group (the solicited-node groups reach us) get no reply:
    // a reply must come from a unicast address of ours.
    if (icmp[0] != kIcmpEchoRequest || icmp[1] != 0 || ip->dst[0] == 0xff)
        return EchoResult::NotEcho;
    const uint32_t len = l3_len - off;
    // A correct checksum sums to zero over the message as received.
    if (icmp6_checksum(ip->src, ip->dst, icmp, len) != 0) return EchoResult::BadChecksum;

    uint8_t src[16], dst[16];
    std::memcpy(src, ip->dst, 16);
    std::memcpy(dst, ip->src, 16);
    const uint32_t tclass = (load_be32(ip->vtc_flow) >> 20) & 0xff;
    // The reply carries none of the request's extension headers.
    uint8_t* reply = reinterpret_cast<uint8_t*>(ip) + kIp6;
    std::memmove(reply, icmp, len);
    cut(m, kEth + kIp6 + len);
    write_ipv6(ip, tclass, len, src, dst);
    reply[0] = kIcmpEchoReply;
    store_be16(reply + 2, 0);
    store_be16(reply + 2, icmp6_checksum(ip->src, ip->dst, reply, len));
    return EchoResult::Replied;
}

NdResult make_neighbor_advert(rte_mbuf* m, uint32_t l3_len,
                              const std::vector<std::array<uint8_t, 16>>& addrs,
                              const rte_ether_addr& mac, rte_ether_addr& dst_mac) {
    constexpr uint32_t kNsLen = 24;  // type..target, RFC 4861 §4.3
    constexpr uint32_t kNaLen = 32;  // with the Target Link-Layer Address option
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    auto* ip = reinterpret_cast<wire::Ipv6Hdr*>(d + kEth);
    if (m->nb_segs != 1 || rte_pktmbuf_data_len(m) < kEth + l3_len)
        return NdResult::NotSolicitation;
    uint8_t proto;
    uint32_t off;
    if (!locate_upper_layer(reinterpret_cast<uint8_t*>(ip), l3_len, proto, off) ||
        proto != wire::kProtoIcmpv6 || off >= l3_len)
        return NdResult::NotSolicitation;
    uint8_t* icmp = reinterpret_cast<uint8_t*>(ip) + off;
    if (icmp[0] != kIcmpNeighborSolicit) return NdResult::NotSolicitation;
    const uint32_t len = l3_len - off;
    const bool dad = addr::is_unspecified(ip->src);
    // RFC 4861 §7.1.1 validity: on-link sender (hop limit 255), code 0, a
    // good checksum, at least the fixed part, a unicast target, options of
    // non-zero length inside the message; from :: only to the target's
    // solicited-node group and with no source link-layer address.
    if (len < kNsLen || ip->hop_limit != 255 || icmp[1] != 0 ||
        icmp6_checksum(ip->src, ip->dst, icmp, len) != 0 || icmp[8] == 0xff ||
        ip->src[0] == 0xff)  // as check_nd: a multicast source is no sender to answer
        return NdResult::Invalid;
    for (uint32_t o = kNsLen; o < len;) {
        if (o + 2 > len || icmp[o + 1] == 0 || o + icmp[o + 1] * 8u > len) return NdResult::Invalid;
        if (dad && icmp[o] == 1) return NdResult::Invalid;  // Source Link-Layer Address
        o += icmp[o + 1] * 8u;
    }
    // ff02::1:ffXX:XXXX, as check_nd has it (any multicast group is not enough).
    if (dad && !addr::is_solicited_node(ip->dst))
        return NdResult::Invalid;
    const uint8_t* target = icmp + 8;
    bool ours = false;
    for (const auto& a : addrs) ours = ours || std::memcmp(a.data(), target, 16) == 0;
    if (!ours) return NdResult::NotOurs;

    uint8_t dst[16], src[16];
    std::memcpy(dst, dad ? addr::kAllNodes : ip->src, 16);
    std::memcpy(src, target, 16);
    // The advertisement follows the IPv6 header directly, whatever extension
    // headers the solicitation had.
    if (off != kIp6) {
        std::memmove(d + kEth + kIp6, icmp, kNsLen);
        icmp = d + kEth + kIp6;
    }
    const auto* eth = reinterpret_cast<const wire::EtherHdr*>(d);
    if (dad) {
        static const uint8_t kAllNodesMac[6] = {0x33, 0x33, 0, 0, 0, 1};
        std::memcpy(dst_mac.addr_bytes, kAllNodesMac, 6);
    } else {
        std::memcpy(dst_mac.addr_bytes, eth->src, 6);
    }
    // Resize the packet to exactly the advertisement.
    const uint32_t want = kEth + kIp6 + kNaLen;
    const uint32_t have = rte_pktmbuf_pkt_len(m);
    if (have < want) {
        if (m->nb_segs != 1 || !rte_pktmbuf_append(m, uint16_t(want - have))) return NdResult::Invalid;
        d = rte_pktmbuf_mtod(m, uint8_t*);
    } else {
        cut(m, want);
    }
    ip = reinterpret_cast<wire::Ipv6Hdr*>(d + kEth);
    icmp = d + kEth + kIp6;
    std::memmove(icmp + 8, src, 16);  // target stays where it was
    write_ipv6(ip, 0, kNaLen, src, dst);
    ip->hop_limit = 255;
    icmp[0] = kIcmpNeighborAdvert;
    icmp[1] = 0;
    store_be16(icmp + 2, 0);
    // Router, Solicited (not for DAD), Override.
    icmp[4] = uint8_t(0x80 | (dad ? 0 : 0x40) | 0x20);
    icmp[5] = icmp[6] = icmp[7] = 0;
    icmp[24] = 2;  // Target Link-Layer Address
    icmp[25] = 1;  // 8 octets
    std::memcpy(icmp + 26, mac.addr_bytes, 6);
    store_be16(icmp + 2, icmp6_checksum(ip->src, ip->dst, icmp, kNaLen));
    return NdResult::Advertised;
}

}  // namespace ioamfwd::dp
