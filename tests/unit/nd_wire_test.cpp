// Neighbor Discovery wire formats: the link-local address, the solicitation
// the appliance sends (expected frames generated with Scapy 2.x on
// 2026-11-22: Ether/IPv6(hlim=255)/ICMPv6ND_NS/ICMPv6NDOptSrcLLAddr, and
// in6_mactoifaceid for the interface identifiers) and the RFC 4861 §7.1
// validity checks of received messages.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dataplane/icmp6.hpp"
#include "dataplane/nd_wire.hpp"

namespace {

using namespace ioamfwd::dp;
using Bytes = std::vector<uint8_t>;

Bytes unhex(const std::string& h) {
    Bytes b;
    for (size_t i = 0; i + 1 < h.size(); i += 2) b.push_back(uint8_t(std::stoul(h.substr(i, 2), nullptr, 16)));
    return b;
}

Bytes addr(const char* t) {
    Bytes a(16);
    EXPECT_EQ(inet_pton(AF_INET6, t, a.data()), 1) << t;
    return a;
}

TEST(LinkLocal, ModifiedEui64AsScapyComputesIt) {
    struct Case {
        uint8_t mac[6];
        const char* ll;
    } cases[] = {{{0x02, 0, 0, 0, 0x02, 0x01}, "fe80::ff:fe00:201"},
                 {{0x52, 0x54, 0, 0x12, 0x34, 0x56}, "fe80::5054:ff:fe12:3456"},
                 {{0xfc, 0xff, 0xff, 0xff, 0xff, 0xff}, "fe80::feff:ffff:feff:ffff"}};
    for (const Case& c : cases) {
        uint8_t out[16];
        link_local_from_mac(c.mac, out);
        EXPECT_EQ(Bytes(out, out + 16), addr(c.ll)) << c.ll;
    }
}

TEST(SolicitedNode, LastThreeOctets) {
    uint8_t g[16];
    const Bytes t = addr("db02::1:2:3");
    solicited_node_group(t.data(), g);
    EXPECT_EQ(Bytes(g, g + 16), addr("ff02::1:ff02:3"));
}

TEST(NeighborSolicit, MulticastBytesMatchScapy) {
    const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    const Bytes src = addr("db02::fffe"), tgt = addr("db02::1:2:3");
    uint8_t out[kNsFrameLen];
    build_neighbor_solicit(out, src.data(), tgt.data(), mac, nullptr);
    EXPECT_EQ(Bytes(out, out + kNsFrameLen),
              unhex("3333ff02000352540012345686dd6000000000203affdb020000000000000000000000"
                    "00fffeff0200000000000000000001ff02000387003cd300000000db020000000000000000"
                    "0001000200030101525400123456"));
}

TEST(NeighborSolicit, UnicastProbeBytesMatchScapy) {
    const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    const uint8_t dst[6] = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    const Bytes src = addr("fe80::5054:ff:fe12:3456"), tgt = addr("fe80::1");
    uint8_t out[kNsFrameLen];
    build_neighbor_solicit(out, src.data(), tgt.data(), mac, dst);
    EXPECT_EQ(Bytes(out, out + kNsFrameLen),
              unhex("0a0b0c0d0e0f52540012345686dd6000000000203afffe80000000000000505400fffe12"
                    "3456fe800000000000000000000000000001870071a600000000fe80000000000000000000"
                    "00000000010101525400123456"));
}

// An IPv6 packet carrying `icmp` (checksum filled in) from src to dst.
Bytes nd_packet(const char* src, const char* dst, Bytes icmp, uint8_t hlim = 255) {
    const Bytes s = addr(src), d = addr(dst);
    icmp[2] = icmp[3] = 0;
    const uint16_t c = icmp6_checksum(s.data(), d.data(), icmp.data(), uint32_t(icmp.size()));
    icmp[2] = uint8_t(c >> 8);
    icmp[3] = uint8_t(c);
    Bytes p = {0x60, 0, 0, 0, uint8_t(icmp.size() >> 8), uint8_t(icmp.size()), 58, hlim};
    p.insert(p.end(), s.begin(), s.end());
    p.insert(p.end(), d.begin(), d.end());
    p.insert(p.end(), icmp.begin(), icmp.end());
    return p;
}

Bytes advert(const char* target, uint8_t flags, bool tlla) {
    Bytes m = {136, 0, 0, 0, flags, 0, 0, 0};
    const Bytes t = addr(target);
    m.insert(m.end(), t.begin(), t.end());
    if (tlla) m.insert(m.end(), {2, 1, 0x02, 0, 0, 0, 0x03, 0x01});
    return m;
}

TEST(CheckNd, ValidAdvertGivesTargetFlagsAndTlla) {
    const Bytes p = nd_packet("db02::1", "db02::fffe", advert("db02::1", 0x60, true));
    NdMessage msg;
    ASSERT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Valid);
    EXPECT_EQ(msg.type, kIcmpNeighborAdvert);
    EXPECT_EQ(msg.flags, kNaSolicited | kNaOverride);
    EXPECT_EQ(Bytes(msg.target, msg.target + 16), addr("db02::1"));
    ASSERT_NE(msg.lladdr, nullptr);
    EXPECT_EQ(Bytes(msg.lladdr, msg.lladdr + 6), (Bytes{0x02, 0, 0, 0, 0x03, 0x01}));
}

TEST(CheckNd, Rfc4861Section712Refusals) {
    NdMessage msg;
    Bytes p = nd_packet("db02::1", "db02::fffe", advert("db02::1", 0x60, true), 254);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "hop limit";
    p = nd_packet("db02::1", "db02::fffe", advert("ff02::1", 0x60, true));
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "multicast target";
    p = nd_packet("db02::1", "ff02::1", advert("db02::1", 0x60, true));
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "S to a group";
    p = nd_packet("db02::1", "ff02::1", advert("db02::1", 0x20, true));
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Valid) << "unsolicited";
    p = nd_packet("db02::1", "db02::fffe", advert("db02::1", 0x60, true));
    p.back() ^= 1;
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "checksum";
    Bytes a = advert("db02::1", 0x60, false);
    a[1] = 1;
    p = nd_packet("db02::1", "db02::fffe", a);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "code";
    a = advert("db02::1", 0x60, false);
    a.resize(20);
    p = nd_packet("db02::1", "db02::fffe", a);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "length";
    a = advert("db02::1", 0x60, false);
    a.insert(a.end(), {2, 0, 0, 0, 0, 0, 0, 0});
    p = nd_packet("db02::1", "db02::fffe", a);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "zero option";
}

TEST(CheckNd, SolicitationSllaAndDadRules) {
    const Bytes t = addr("db02::fffe");
    Bytes ns = {135, 0, 0, 0, 0, 0, 0, 0};
    ns.insert(ns.end(), t.begin(), t.end());
    Bytes with = ns;
    with.insert(with.end(), {1, 1, 0x02, 0, 0, 0, 0x03, 0x01});
    NdMessage msg;
    Bytes p = nd_packet("db02::1", "ff02::1:ff00:fffe", with);
    ASSERT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Valid);
    ASSERT_NE(msg.lladdr, nullptr);
    EXPECT_EQ(msg.lladdr[5], 0x01);
    p = nd_packet("::", "ff02::1:ff00:fffe", with);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "DAD with SLLA";
    p = nd_packet("::", "db02::fffe", ns);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "DAD unicast";
    p = nd_packet("::", "ff02::1:ff00:fffe", ns);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Valid);
    EXPECT_EQ(msg.lladdr, nullptr);
    // A group is never a sender (RFC 4291 §2.7): an answer to it would be a
    // solicited advertisement to a group, itself invalid (found by fuzz_parsers).
    p = nd_packet("ffff:ffff:ffff:ffff:ff00::", "ff02::1:ff00:fffe", with);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "group source";
    p = nd_packet("ff02::1", "db02::fffe", advert("db02::1", 0x20, true));
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "NA from a group";
}

// Options are walked by their length octets (RFC 4861 §4.6): one that says
// 0, or runs past the message, or leaves a lone type octet invalidates the
// message; link-layer options of other sizes are skipped, and of two
// Ethernet ones the first counts.
TEST(CheckNd, MalformedAndRepeatedOptions) {
    NdMessage msg;
    Bytes a = advert("db02::1", 0x60, false);
    a.insert(a.end(), {2, 2, 0x02, 0, 0, 0, 0x03, 0x01});  // says 16 octets, has 8
    Bytes p = nd_packet("db02::1", "db02::fffe", a);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "past the end";
    a = advert("db02::1", 0x60, true);
    a.insert(a.end(), {2, 0, 0, 0, 0, 0, 0, 0});
    p = nd_packet("db02::1", "db02::fffe", a);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid)
        << "zero-length option after a good one";
    a = advert("db02::1", 0x60, true);
    a.push_back(2);
    p = nd_packet("db02::1", "db02::fffe", a);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid) << "lone type octet";
    // The checksum covers the options; the same message cut short inside
    // its option (a lying payload length upstream) is refused, not read on.
    p = nd_packet("db02::1", "db02::fffe", advert("db02::1", 0x60, true));
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size() - 3), msg), NdCheck::Invalid) << "cut";

    a = advert("db02::1", 0x60, false);
    a.insert(a.end(), {2, 2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0});
    a.insert(a.end(), {2, 1, 0x02, 0, 0, 0, 0x03, 0x01});
    a.insert(a.end(), {2, 1, 0x02, 0, 0, 0, 0x03, 0x02});
    p = nd_packet("db02::1", "db02::fffe", a);
    ASSERT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Valid);
    ASSERT_NE(msg.lladdr, nullptr);
    EXPECT_EQ(Bytes(msg.lladdr, msg.lladdr + 6), (Bytes{0x02, 0, 0, 0, 0x03, 0x01}))
        << "the 16-octet option is skipped and the first Ethernet one counts";

    const Bytes t = addr("db02::fffe");
    Bytes ns = {135, 0, 0, 0, 0, 0, 0, 0};
    ns.insert(ns.end(), t.begin(), t.end());
    Bytes two = ns;
    two.insert(two.end(), {1, 1, 0x02, 0, 0, 0, 0x03, 0x01, 1, 1, 0x02, 0, 0, 0, 0x03, 0x09});
    p = nd_packet("db02::1", "ff02::1:ff00:fffe", two);
    ASSERT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Valid);
    ASSERT_NE(msg.lladdr, nullptr);
    EXPECT_EQ(msg.lladdr[5], 0x01) << "duplicate SLLA: the first";
    // §7.1.1 forbids any source link-layer address option from ::, also one
    // of a size that carries no Ethernet address.
    Bytes wide = ns;
    wide.insert(wide.end(), {1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    p = nd_packet("::", "ff02::1:ff00:fffe", wide);
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::Invalid)
        << "DAD, 16-octet SLLA";
}

TEST(CheckNd, OtherIcmpIsNotNd) {
    const Bytes p = nd_packet("db02::1", "db02::fffe", Bytes{128, 0, 0, 0, 0, 1, 0, 1});
    NdMessage msg;
    EXPECT_EQ(check_nd(p.data(), uint32_t(p.size()), msg), NdCheck::NotNd);
}

}  // namespace
