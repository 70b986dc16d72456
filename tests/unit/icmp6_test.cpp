// ICMPv6 helpers (RFC 4443): checksum, the walk to the upper layer, the
// §2.4(e) rules for when no error may be sent, and the §2.4(f) token bucket.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "dataplane/icmp6.hpp"

namespace {

using namespace ioamfwd::dp;
using Bytes = std::vector<uint8_t>;

Bytes ipv6(uint8_t nh, const Bytes& payload, uint8_t src0 = 0xdb, uint8_t dst0 = 0xdb) {
    Bytes p(40, 0);
    p[0] = 0x60;
    p[4] = uint8_t(payload.size() >> 8);
    p[5] = uint8_t(payload.size());
    p[6] = nh;
    p[7] = 64;
    p[8] = src0;
    p[23] = 1;
    p[24] = dst0;
    p[39] = 2;
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

TEST(Icmp6Checksum, MessageWithItsChecksumSumsToZero) {
    // db01::1 -> db04::2, echo request id 1 seq 1, data "hello".
    uint8_t src[16] = {0xdb, 0x01};
    src[15] = 1;
    uint8_t dst[16] = {0xdb, 0x04};
    dst[15] = 2;
    Bytes msg = {128, 0, 0, 0, 0, 1, 0, 1, 'h', 'e', 'l', 'l', 'o'};
    const uint16_t c = icmp6_checksum(src, dst, msg.data(), uint32_t(msg.size()));
    msg[2] = uint8_t(c >> 8);
    msg[3] = uint8_t(c);
    // A message carrying its own checksum sums to zero (RFC 1071), which is
    // what receivers check.
    EXPECT_EQ(icmp6_checksum(src, dst, msg.data(), uint32_t(msg.size())), 0);
    // One flipped bit anywhere breaks it.
    msg[9] ^= 1;
    EXPECT_NE(icmp6_checksum(src, dst, msg.data(), uint32_t(msg.size())), 0);
}

TEST(Icmp6Checksum, KnownValue) {
    // All-zero addresses and an 8-octet echo request {128,0,0,0,0,0,0,0}:
    // sum = 8 (length) + 58 (next header) + 0x8000 = 0x8042 -> ~ = 0x7fbd.
    uint8_t zero[16] = {};
    const Bytes msg = {128, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(icmp6_checksum(zero, zero, msg.data(), 8), 0x7fbd);
}

TEST(UpperLayer, WalksOptionsRoutingAndFirstFragment) {
    Bytes hbh = {60, 0, 1, 4, 0, 0, 0, 0};            // HbH -> DestOpts
    Bytes dst = {43, 0, 1, 4, 0, 0, 0, 0};            // DestOpts -> Routing
    Bytes rt = {44, 0, 0, 0, 0, 0, 0, 0};             // Routing -> Fragment
    Bytes frag = {58, 0, 0x00, 0x01, 0, 0, 0, 1};     // offset 0, M=1 -> ICMPv6
    Bytes icmp = {129, 0, 0, 0, 0, 0, 0, 0};
    Bytes chain;
    for (const Bytes* b : {&hbh, &dst, &rt, &frag, &icmp}) chain.insert(chain.end(), b->begin(), b->end());
    Bytes p = ipv6(0, chain);
    uint8_t proto = 0;
    uint32_t off = 0;
    ASSERT_TRUE(locate_upper_layer(p.data(), uint32_t(p.size()), proto, off));
    EXPECT_EQ(proto, 58);
    EXPECT_EQ(off, 40u + 32u);
}

TEST(UpperLayer, LaterFragmentsAndCutChainsHaveNone) {
    Bytes frag = {58, 0, 0x00, 0x08, 0, 0, 0, 1};  // offset 1 (8 octets)
    Bytes p = ipv6(44, frag);
    uint8_t proto;
    uint32_t off;
    EXPECT_FALSE(locate_upper_layer(p.data(), uint32_t(p.size()), proto, off));
    Bytes cut = ipv6(0, {58, 0, 1, 0});  // HbH shorter than 8 octets
    EXPECT_FALSE(locate_upper_layer(cut.data(), uint32_t(cut.size()), proto, off));
}

TEST(IcmpErrorAllowed, Rfc4443Section24e) {
    const Bytes udp = {0, 1, 0, 2, 0, 8, 0, 0};
    Bytes ok = ipv6(17, udp);
    EXPECT_TRUE(icmp_error_allowed(ok.data(), uint32_t(ok.size()), false, kIcmpTimeExceeded));
    // Not about an error message...
    Bytes err = ipv6(58, {kIcmpDestUnreachable, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_FALSE(icmp_error_allowed(err.data(), uint32_t(err.size()), false, kIcmpTimeExceeded));
    // ...nor a redirect, but informational messages are fine.
    Bytes redirect = ipv6(58, {kIcmpRedirect, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_FALSE(icmp_error_allowed(redirect.data(), uint32_t(redirect.size()), false,
                                    kIcmpTimeExceeded));
    Bytes echo = ipv6(58, {kIcmpEchoRequest, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_TRUE(icmp_error_allowed(echo.data(), uint32_t(echo.size()), false, kIcmpTimeExceeded));
    // Multicast destination or link-layer multicast: only Packet Too Big.
    Bytes mcast = ipv6(17, udp, 0xdb, 0xff);
    EXPECT_FALSE(icmp_error_allowed(mcast.data(), uint32_t(mcast.size()), false, kIcmpTimeExceeded));
    EXPECT_TRUE(icmp_error_allowed(mcast.data(), uint32_t(mcast.size()), false, kIcmpPacketTooBig));
    EXPECT_FALSE(icmp_error_allowed(ok.data(), uint32_t(ok.size()), true, kIcmpDestUnreachable));
    EXPECT_TRUE(icmp_error_allowed(ok.data(), uint32_t(ok.size()), true, kIcmpPacketTooBig));
    // A source that names no single node.
    Bytes msrc = ipv6(17, udp, 0xff, 0xdb);
    EXPECT_FALSE(icmp_error_allowed(msrc.data(), uint32_t(msrc.size()), false, kIcmpPacketTooBig));
    Bytes unspec = ok;
    unspec[8] = 0;
    unspec[23] = 0;
    EXPECT_FALSE(icmp_error_allowed(unspec.data(), uint32_t(unspec.size()), false, kIcmpPacketTooBig));
}

TEST(TokenBucket, BurstThenRate) {
    const uint64_t hz = 1000000;  // a 1 MHz "TSC" keeps the arithmetic readable
    TokenBucket b;
    uint64_t t = 10 * hz;  // long after start: the bucket is full
    int sent = 0;
    for (int i = 0; i < 20; ++i) sent += b.take(t, hz, 100, 5);
    EXPECT_EQ(sent, 5);  // the burst
    t += hz / 100;       // 10 ms at 100/s: one more token
    EXPECT_TRUE(b.take(t, hz, 100, 5));
    EXPECT_FALSE(b.take(t, hz, 100, 5));
    t += hz / 200;  // 5 ms: half a token is not enough
    EXPECT_FALSE(b.take(t, hz, 100, 5));
    t += hz / 200;  // the other half
    EXPECT_TRUE(b.take(t, hz, 100, 5));
    EXPECT_FALSE(b.take(t + 100 * hz, hz, 0, 5));  // rate 0 sends nothing
}

}  // namespace
