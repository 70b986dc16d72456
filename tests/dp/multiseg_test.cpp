// Multi-segment (chained) mbufs through the real dataplane: net_pcap only
// ever delivers single segments, so this is where chains are covered. The
// parser reads headers in place, so a packet whose headers (Ethernet, IPv6,
// Hop-by-Hop; after decapsulation the inner ones too) span two segments must
// be dropped as headers_not_contiguous, and one whose headers all sit in the
// first segment must leave exactly as the same packet in one segment does.
// Every test ends with every mbuf back in the pool.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../unit/packet_builder.hpp"
#include "dp_fixture.hpp"
#include "role_configs.hpp"

namespace ioamfwd::testenv {
namespace {

using dp::Drop;
using dp::IoamEvent;
using test::Bytes;

constexpr size_t kEth = 14;
constexpr size_t kIp6 = 40;

Bytes addr(const char* text) {
    Bytes a(16);
    if (inet_pton(AF_INET6, text, a.data()) != 1) throw std::runtime_error(text);
    return a;
}

Bytes mac(const char* text) {
    unsigned v[6];
    if (std::sscanf(text, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        throw std::runtime_error(text);
    return Bytes{uint8_t(v[0]), uint8_t(v[1]), uint8_t(v[2]),
                 uint8_t(v[3]), uint8_t(v[4]), uint8_t(v[5])};
}

Bytes ether(const char* dst, const char* src, const Bytes& l3) {
    Bytes f = mac(dst);
    test::append(f, mac(src));
    test::append(f, {0x86, 0xdd});
    test::append(f, l3);
    return f;
}

// IPv6 + optional extension headers (`ext`, first one's type `first_nh`) +
// an ICMPv6 echo with some payload.
Bytes ipv6(const char* src, const char* dst, const Bytes& ext, uint8_t first_nh,
           uint8_t hop_limit = 64) {
    const Bytes s = addr(src), d = addr(dst);
    test::Ipv6Fields f;
    f.src = s.data();
    f.dst = d.data();
    f.hop_limit = hop_limit;
    f.next_header = ext.empty() ? 58 : first_nh;
    Bytes rest = ext;
    test::append(rest, test::icmp_echo());
    test::append(rest, Bytes(24, 0x5a));
    return test::ipv6_packet(f, rest);
}

// Porthos's input: Athos -> Porthos eth0, a Linux-layout trace (0x800000,
// room for 3 nodes) in the HbH, Beta as destination.
Bytes transit_frame(Bytes* hbh_out = nullptr) {
    Bytes hbh = test::linux_hbh(58, 123, 0x800000, 12);
    if (hbh_out) *hbh_out = hbh;
    return ether("02:00:00:00:02:00", "02:00:00:00:01:01", ipv6("db01::1", "db03::2", hbh, 0));
}

class DpTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(open_dp_env(env_));
    }

    void TearDown() override {
        if (!env_) return;
        dp::TraceRecord r[16];
        while (env_->export_ring().pop_burst(r, 16)) {
        }
        EXPECT_EQ(env_->mbufs_in_use(), 0u) << "an mbuf did not come back to its pool";
        EXPECT_EQ(env_->tx_error(), "");
    }

    std::unique_ptr<dp::Snapshot> snap(const char* yaml) {
        try {
            return env_->snapshot(yaml);
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
            return nullptr;
        }
    }

    // One packet through a fresh forwarder: what left and the counters.
    struct Outcome {
        std::vector<TxFrame> tx;
        std::unique_ptr<Forwarder> fw;
    };
    Outcome forward(const dp::Snapshot& s, uint16_t in_port, rte_mbuf* m) {
        Outcome o;
        o.fw = std::make_unique<Forwarder>(*env_);
        EXPECT_NE(m, nullptr) << "mbuf allocation failed";
        if (m) o.fw->run(s, in_port, &m, 1);
        o.tx = env_->take_tx();
        return o;
    }
    Outcome single(const dp::Snapshot& s, uint16_t in_port, const Bytes& f) {
        return forward(s, in_port, env_->mbuf(f.data(), f.size()));
    }
    Outcome chained(const dp::Snapshot& s, uint16_t in_port, const Bytes& f, size_t split) {
        return forward(s, in_port, env_->chain(f.data(), f.size(), split));
    }

    DpEnv* env_ = nullptr;
};

TEST_F(DpTest, SingleSegmentTransitIsFilledAndForwarded) {
    auto s = snap(kTransitYaml);
    ASSERT_TRUE(s);
    const Bytes f = transit_frame();
    Outcome o = single(*s, 0, f);
    ASSERT_EQ(o.tx.size(), 1u) << o.fw->nonzero_drops();
    EXPECT_EQ(o.tx[0].port, 1);
    EXPECT_EQ(o.fw->events(IoamEvent::TraceFilled), 1u);
    // Porthos's node (hop limit 63, id 2) is the last word of the 12-octet area.
    const Bytes& out = o.tx[0].bytes;
    ASSERT_EQ(out.size(), f.size());
    const size_t area_end = kEth + kIp6 + 4 + 4 + 8 + 12;
    EXPECT_EQ(test::hex(Bytes(out.begin() + long(area_end) - 4, out.begin() + long(area_end))),
              "3f000002");
    EXPECT_EQ(out[kEth + 7], 63) << "hop limit";
}

TEST_F(DpTest, ChainSplitAfterTheHeadersIsForwardedLikeOneSegment) {
    auto s = snap(kTransitYaml);
    ASSERT_TRUE(s);
    Bytes hbh;
    const Bytes f = transit_frame(&hbh);
    Outcome ref = single(*s, 0, f);
    ASSERT_EQ(ref.tx.size(), 1u) << ref.fw->nonzero_drops();
    const size_t headers = kEth + kIp6 + hbh.size();
    for (size_t split = headers; split <= f.size(); ++split) {
        SCOPED_TRACE("split at " + std::to_string(split) + " of " + std::to_string(f.size()));
        Outcome o = chained(*s, 0, f, split);
        ASSERT_EQ(o.tx.size(), 1u) << o.fw->nonzero_drops();
        EXPECT_EQ(o.tx[0].nb_segs, 2);
        EXPECT_EQ(test::hex(o.tx[0].bytes), test::hex(ref.tx[0].bytes));
        EXPECT_EQ(o.fw->events(IoamEvent::TraceFilled), 1u);
    }
}

TEST_F(DpTest, ChainSplitInsideTheHeadersIsHeadersNotContiguous) {
    auto s = snap(kTransitYaml);
    ASSERT_TRUE(s);
    Bytes hbh;
    const Bytes f = transit_frame(&hbh);
    const size_t headers = kEth + kIp6 + hbh.size();
    for (size_t split = 0; split < headers; ++split) {
        SCOPED_TRACE("split at " + std::to_string(split));
        Outcome o = chained(*s, 0, f, split);
        EXPECT_TRUE(o.tx.empty());
        EXPECT_EQ(o.fw->drops(Drop::HeadersNotContiguous), 1u) << o.fw->nonzero_drops();
        EXPECT_EQ(o.fw->events(IoamEvent::TraceFilled), 0u) << "nothing written into a drop";
    }
}

TEST_F(DpTest, ChainWithoutHopByHopNeedsOnlyTheIpv6Header) {
    auto s = snap(kTransitYaml);
    ASSERT_TRUE(s);
    const Bytes f =
        ether("02:00:00:00:02:00", "02:00:00:00:01:01", ipv6("db01::1", "db03::2", {}, 0));
    Outcome ref = single(*s, 0, f);
    ASSERT_EQ(ref.tx.size(), 1u);
    for (size_t split = 0; split <= f.size(); ++split) {
        SCOPED_TRACE("split at " + std::to_string(split));
        Outcome o = chained(*s, 0, f, split);
        if (split < kEth + kIp6) {
            EXPECT_TRUE(o.tx.empty());
            EXPECT_EQ(o.fw->drops(Drop::HeadersNotContiguous), 1u) << o.fw->nonzero_drops();
        } else {
            ASSERT_EQ(o.tx.size(), 1u) << o.fw->nonzero_drops();
            EXPECT_EQ(test::hex(o.tx[0].bytes), test::hex(ref.tx[0].bytes));
        }
    }
}

TEST_F(DpTest, ChainWithLinkPaddingAcrossBothSegmentsIsTrimmedAndForwarded) {
    // A minimum-size Ethernet frame: 54 octets of headers, 2 of upper layer
    // (payload length 2), 4 of link padding. The headers are all in the
    // first segment; the padding straddles the split.
    auto s = snap(kTransitYaml);
    ASSERT_TRUE(s);
    test::Ipv6Fields ipf;
    const Bytes src = addr("db01::1"), dst = addr("db03::2");
    ipf.src = src.data();
    ipf.dst = dst.data();
    ipf.next_header = 59;  // no next header
    Bytes f = ether("02:00:00:00:02:00", "02:00:00:00:01:01", test::ipv6_packet(ipf, {0xab, 0xcd}));
    test::append(f, {0, 0, 0, 0});
    ASSERT_EQ(f.size(), 60u);
    Outcome ref = single(*s, 0, f);
    ASSERT_EQ(ref.tx.size(), 1u);
    ASSERT_EQ(ref.tx[0].bytes.size(), 56u) << "padding trimmed";
    for (size_t split = kEth + kIp6; split <= f.size(); ++split) {
        SCOPED_TRACE("split at " + std::to_string(split));
        Outcome o = chained(*s, 0, f, split);
        ASSERT_EQ(o.tx.size(), 1u) << o.fw->nonzero_drops();
        EXPECT_EQ(test::hex(o.tx[0].bytes), test::hex(ref.tx[0].bytes));
    }
}

TEST_F(DpTest, EncapNodeInsertsIntoAChainWhileHeadroomLasts) {
    auto s = snap(kEncapYaml);
    ASSERT_TRUE(s);
    // db05::/64 is the inline route (12-octet trace, 32 octets of HbH):
    // headroom is enough, the chain is forwarded as one segment would be.
    const Bytes f =
        ether("02:00:00:00:01:00", "02:00:00:00:00:01", ipv6("db01::1", "db05::7", {}, 0));
    Outcome ref = single(*s, 0, f);
    ASSERT_EQ(ref.tx.size(), 1u) << ref.fw->nonzero_drops();
    ASSERT_EQ(ref.tx[0].bytes.size(), f.size() + 32);
    for (size_t split : {kEth + kIp6, kEth + kIp6 + 1, f.size() - 1, f.size()}) {
        SCOPED_TRACE("split at " + std::to_string(split));
        Outcome o = chained(*s, 0, f, split);
        ASSERT_EQ(o.tx.size(), 1u) << o.fw->nonzero_drops();
        EXPECT_EQ(o.fw->events(IoamEvent::Inserted), 1u);
        EXPECT_EQ(test::hex(o.tx[0].bytes), test::hex(ref.tx[0].bytes));
    }
}

TEST_F(DpTest, EncapNodeRefusesAChainWhenTheHeaderNeedsTheShift) {
    auto s = snap(kEncapYaml);
    ASSERT_TRUE(s);
    // db03::/64 is the encap route with a 244-octet trace: 40 + 256 octets
    // do not fit the 128 octets of headroom. One segment is shifted into its
    // tailroom; a chain cannot be, and is counted, never sent half-built.
    const Bytes f =
        ether("02:00:00:00:01:00", "02:00:00:00:00:01", ipv6("db01::1", "db03::2", {}, 0));
    Outcome ref = single(*s, 0, f);
    ASSERT_EQ(ref.tx.size(), 1u) << ref.fw->nonzero_drops();
    EXPECT_EQ(ref.fw->events(IoamEvent::InsertShift), 1u);
    Outcome o = chained(*s, 0, f, kEth + kIp6 + 4);
    EXPECT_TRUE(o.tx.empty());
    EXPECT_EQ(o.fw->drops(Drop::IoamNoRoom), 1u) << o.fw->nonzero_drops();
}

// Aramis's input: the ip6ip6 packet Athos builds (outer HbH with the trace,
// addressed to Aramis), carrying Alpha's packet to Beta.
Bytes decap_frame(const Bytes& inner_ext, uint8_t inner_nh, size_t* outer_headers,
                  size_t* inner_headers) {
    const Bytes inner = ipv6("db01::1", "db03::2", inner_ext, inner_nh);
    Bytes hbh = test::linux_hbh(41, 123, 0x800000, 12);
    const Bytes s = addr("db04::1"), d = addr("db02::2");
    test::Ipv6Fields of;
    of.src = s.data();
    of.dst = d.data();
    of.next_header = 0;
    Bytes rest = hbh;
    test::append(rest, inner);
    *outer_headers = kEth + kIp6 + hbh.size();
    *inner_headers = *outer_headers + kIp6 + inner_ext.size();
    return ether("02:00:00:00:03:00", "02:00:00:00:02:01", test::ipv6_packet(of, rest));
}

TEST_F(DpTest, DecapOfAChainWithEveryHeaderInTheFirstSegment) {
    auto s = snap(kDecapYaml);
    ASSERT_TRUE(s);
    size_t outer = 0, inner = 0;
    const Bytes f = decap_frame({}, 0, &outer, &inner);
    Outcome ref = single(*s, 0, f);
    ASSERT_EQ(ref.tx.size(), 1u) << ref.fw->nonzero_drops();
    EXPECT_EQ(ref.fw->events(IoamEvent::Decapsulated), 1u);
    EXPECT_EQ(ref.tx[0].bytes.size(), f.size() - (outer - kEth));
    for (size_t split = inner; split <= f.size(); ++split) {
        SCOPED_TRACE("split at " + std::to_string(split));
        Outcome o = chained(*s, 0, f, split);
        ASSERT_EQ(o.tx.size(), 1u) << o.fw->nonzero_drops();
        EXPECT_EQ(test::hex(o.tx[0].bytes), test::hex(ref.tx[0].bytes));
    }
}

TEST_F(DpTest, DecapOfAChainSplitInsideTheInnerHeadersIsHeadersNotContiguous) {
    auto s = snap(kDecapYaml);
    ASSERT_TRUE(s);
    // The inner packet carries a Hop-by-Hop too (IOAM from inside, which the
    // edge strips on egress): its headers count as well.
    size_t outer = 0, inner = 0;
    const Bytes f = decap_frame(test::linux_hbh(58, 123, 0x800000, 8), 0, &outer, &inner);
    Outcome ref = single(*s, 0, f);
    ASSERT_EQ(ref.tx.size(), 1u) << ref.fw->nonzero_drops();
    for (size_t split = outer; split < inner; ++split) {
        SCOPED_TRACE("split at " + std::to_string(split) + " (inner headers " +
                     std::to_string(outer) + ".." + std::to_string(inner) + ")");
        Outcome o = chained(*s, 0, f, split);
        EXPECT_TRUE(o.tx.empty());
        EXPECT_EQ(o.fw->drops(Drop::HeadersNotContiguous), 1u) << o.fw->nonzero_drops();
    }
}

TEST_F(DpTest, MixedBurstOfChainsAndSegmentsLeavesNothingBehind) {
    auto s = snap(kTransitYaml);
    ASSERT_TRUE(s);
    Bytes hbh;
    const Bytes f = transit_frame(&hbh);
    const size_t headers = kEth + kIp6 + hbh.size();
    Forwarder fw(*env_);
    for (int round = 0; round < 20; ++round) {
        rte_mbuf* burst[32];
        unsigned expect_fwd = 0, expect_drop = 0;
        for (unsigned i = 0; i < 32; ++i) {
            const unsigned kind = (i + unsigned(round)) % 3;
            if (kind == 0) {
                burst[i] = env_->mbuf(f.data(), f.size());
                ++expect_fwd;
            } else if (kind == 1) {
                burst[i] = env_->chain(f.data(), f.size(), headers + i % 8);
                ++expect_fwd;
            } else {
                burst[i] = env_->chain(f.data(), f.size(), 20 + i);
                ++expect_drop;
            }
            ASSERT_NE(burst[i], nullptr);
        }
        const uint64_t tx_before = fw.tx(1);
        const uint64_t drop_before = fw.drops(Drop::HeadersNotContiguous);
        fw.run(*s, 0, burst, 32);
        EXPECT_EQ(fw.tx(1) - tx_before, expect_fwd);
        EXPECT_EQ(fw.drops(Drop::HeadersNotContiguous) - drop_before, expect_drop);
        EXPECT_EQ(env_->take_tx().size(), expect_fwd);
        EXPECT_EQ(env_->mbufs_in_use(), 0u) << "round " << round;
    }
}

}  // namespace
}  // namespace ioamfwd::testenv
