// Neighbour discovery of next hops through the real dataplane and the
// control thread's ND service, on net_null ports: a packet for an unknown
// neighbour is held and solicited, an advertisement releases it with the
// right MAC, silence ends in Destination Unreachable (address unreachable),
// a full hold ring is counted, static neighbours win over learnt ones, and
// every mbuf comes back to the pool. Expected solicitation and
// advertisement frames were generated with Scapy on 2026-11-22.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../unit/packet_builder.hpp"
#include "control/nd_service.hpp"
#include "dataplane/icmp6.hpp"
#include "dp_fixture.hpp"

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

namespace ioamfwd::testenv {
namespace {

using dp::Drop;
using dp::IcmpEvent;
using test::Bytes;

constexpr const char* kYaml = R"(
ports:
  - {name: a, device: net_null0, mac: 02:00:00:00:0a:01, addresses: [db01::fffe/64]}
  - {name: b, device: net_null1, mac: 02:00:00:00:0b:01, addresses: [db02::fffe/64, db06::fffe/64]}
routes:
  - {prefix: db03::/64, via: db02::3, port: b}
neighbors:
  - {address: db01::1, mac: 02:00:00:00:0c:00, port: a}
  - {address: db02::5, mac: 02:00:00:00:0c:05, port: b}
nd: {retrans_ms: 1000, max_solicit: 3}
)";

Bytes unhex(const std::string& h) {
    Bytes b;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        b.push_back(uint8_t(std::stoul(h.substr(i, 2), nullptr, 16)));
    return b;
}

Bytes addr(const char* t) {
    Bytes a(16);
    if (inet_pton(AF_INET6, t, a.data()) != 1) throw std::runtime_error(t);
    return a;
}

// Host db01::1 (behind port a) pinging `dst`.
Bytes echo(const char* dst, uint8_t hlim = 64) {
    Bytes f = unhex("020000000a01" "020000000c00" "86dd");
    const Bytes s = addr("db01::1"), d = addr(dst);
    Bytes icmp = {128, 0, 0, 0, 0x12, 0x34, 0, 1};
    icmp.insert(icmp.end(), 16, 0x5a);
    const uint16_t c = dp::icmp6_checksum(s.data(), d.data(), icmp.data(), uint32_t(icmp.size()));
    icmp[2] = uint8_t(c >> 8);
    icmp[3] = uint8_t(c);
    Bytes ip = {0x60, 0, 0, 0, 0, uint8_t(icmp.size()), 58, hlim};
    ip.insert(ip.end(), s.begin(), s.end());
    ip.insert(ip.end(), d.begin(), d.end());
    f.insert(f.end(), ip.begin(), ip.end());
    f.insert(f.end(), icmp.begin(), icmp.end());
    return f;
}

// Scapy: Ether(dst=33:33:ff:00:00:01, src=02:00:00:00:0b:01)/IPv6(src=db02::fffe,
// dst=ff02::1:ff00:1, hlim=255)/ICMPv6ND_NS(tgt=db02::1)/ICMPv6NDOptSrcLLAddr.
const char* kNsForDb02_1 =
    "3333ff000001020000000b0186dd6000000000203affdb02000000000000000000000000fffeff02000000"
    "00000000000001ff0000018700b69700000000db0200000000000000000000000000010101020000000b01";
// Scapy: db02::1 (02:00:00:00:0c:01) -> db02::fffe, ICMPv6ND_NA(S=1, O=1) with TLLA.
const char* kNaFromDb02_1 =
    "020000000b01020000000c0186dd6000000000203affdb020000000000000000000000000001db0200000000"
    "0000000000000000fffe8800769960000000db0200000000000000000000000000010201020000000c01";

class NdDpTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(open_dp_env(env_));
        s_ = env_->snapshot(kYaml);
        cp::NdConfig nc;
        std::string err;
        ASSERT_TRUE(nd_.init(1, nc, env_->pool(), nullptr, err)) << err;
        fw_ = std::make_unique<Forwarder>(*env_, false);
        fw_->cfg.neighbors = &nd_.cache();
        fw_->cfg.nd = &nd_.channel();
    }
    void TearDown() override {
        if (!env_) return;
        fw_.reset();
        nd_.shutdown();
        EXPECT_EQ(env_->mbufs_in_use(), 0u) << "an mbuf did not come back to its pool";
        EXPECT_EQ(env_->tx_error(), "");
    }
    void in(uint16_t port, const Bytes& f) {
        rte_mbuf* m = env_->mbuf(f.data(), f.size());
        ASSERT_NE(m, nullptr);
        fw_->run(*s_, port, &m, 1);
    }
    // One control tick at `now`, then what the worker sends of it.
    std::vector<TxFrame> tick(uint64_t now) {
        nd_.poll(*s_, now);
        fw_->bp->drain_injected(*s_);
        fw_->bp->flush();
        return env_->take_tx();
    }
    uint64_t icmp(IcmpEvent e) const { return fw_->stats.icmp[unsigned(e)].get(); }
    uint64_t counter(const char* name) const {
        for (const auto& [n, v] : nd_.counter_list())
            if (n == name) return v;
        ADD_FAILURE() << name;
        return 0;
    }

    DpEnv* env_ = nullptr;
    std::unique_ptr<dp::Snapshot> s_;
    cp::NdService nd_;
    std::unique_ptr<Forwarder> fw_;
};

TEST_F(NdDpTest, HeldSolicitedResolvedReleased) {
    const Bytes ping = echo("db02::1");
    in(0, ping);
    EXPECT_TRUE(env_->take_tx().empty()) << "sent before resolution";
    EXPECT_EQ(icmp(IcmpEvent::NdHeld), 1u);
    EXPECT_EQ(fw_->nonzero_drops(), "none");

    std::vector<TxFrame> out = tick(0);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].port, 1);
    EXPECT_EQ(test::hex(out[0].bytes), test::hex(unhex(kNsForDb02_1)));

    in(1, unhex(kNaFromDb02_1));
    EXPECT_EQ(icmp(IcmpEvent::NdAdvertReceived), 1u);
    EXPECT_TRUE(env_->take_tx().empty());
    out = tick(5);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].port, 1);
    Bytes want = ping;
    std::memcpy(want.data(), unhex("020000000c01").data(), 6);
    std::memcpy(want.data() + 6, unhex("020000000b01").data(), 6);
    want[14 + 7] = 63;
    EXPECT_EQ(test::hex(out[0].bytes), test::hex(want));
    EXPECT_EQ(counter("resolved"), 1u);
    EXPECT_EQ(counter("released"), 1u);

    // Resolved: the next packet goes straight out, through the cache.
    in(0, ping);
    out = env_->take_tx();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(test::hex(out[0].bytes), test::hex(want));
    EXPECT_EQ(icmp(IcmpEvent::NdHeld), 1u);
    EXPECT_NE(nd_.show(cp::Config{}, 10).find("db02::1 dev 1 lladdr 02:00:00:00:0c:01 REACHABLE"),
              std::string::npos)
        << nd_.show(cp::Config{}, 10);
}

TEST_F(NdDpTest, GatewayIsWhatIsSolicited) {
    in(0, echo("db03::7"));
    std::vector<TxFrame> out = tick(0);
    ASSERT_EQ(out.size(), 1u);
    // Target db02::3: the route's via, not the packet's destination.
    EXPECT_EQ(test::hex(Bytes(out[0].bytes.begin() + 14 + 40 + 8, out[0].bytes.begin() + 14 + 40 + 24)),
              test::hex(addr("db02::3")));
    EXPECT_EQ(test::hex(Bytes(out[0].bytes.begin() + 14 + 24, out[0].bytes.begin() + 14 + 40)),
              test::hex(addr("ff02::1:ff00:3")));
}

TEST_F(NdDpTest, SolicitationComesFromTheAddressInTheTargetsPrefix) {
    in(0, echo("db06::4"));
    std::vector<TxFrame> out = tick(0);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(test::hex(Bytes(out[0].bytes.begin() + 22, out[0].bytes.begin() + 38)),
              test::hex(addr("db06::fffe")));
}

TEST_F(NdDpTest, SilenceEndsInAddressUnreachable) {
    const Bytes ping = echo("db02::99");
    in(0, ping);
    EXPECT_EQ(tick(0).size(), 1u);     // solicitation 1
    EXPECT_EQ(tick(1000).size(), 1u);  // 2
    EXPECT_EQ(tick(2000).size(), 1u);  // 3
    std::vector<TxFrame> out = tick(3000);
    ASSERT_EQ(out.size(), 1u);
    const Bytes& du = out[0].bytes;
    EXPECT_EQ(out[0].port, 0);
    EXPECT_EQ(test::hex(Bytes(du.begin(), du.begin() + 12)), test::hex(unhex("020000000c00020000000a01")));
    EXPECT_EQ(test::hex(Bytes(du.begin() + 22, du.begin() + 38)), test::hex(addr("db01::fffe")));
    EXPECT_EQ(test::hex(Bytes(du.begin() + 38, du.begin() + 54)), test::hex(addr("db01::1")));
    EXPECT_EQ(du[54], 1);  // Destination Unreachable
    EXPECT_EQ(du[55], 3);  // address unreachable
    EXPECT_EQ(dp::icmp6_checksum(du.data() + 22, du.data() + 38, du.data() + 54,
                                 uint32_t(du.size() - 54)),
              0);
    // It quotes the packet as it was to leave (hop limit already decremented).
    ASSERT_EQ(du.size(), 54 + 8 + ping.size() - 14);
    Bytes quoted(ping.begin() + 14, ping.end());
    quoted[7] = 63;
    EXPECT_EQ(test::hex(Bytes(du.begin() + 62, du.end())), test::hex(quoted));
    EXPECT_EQ(counter("failed"), 1u);
    EXPECT_EQ(counter("unreachable_sent"), 1u);
    EXPECT_EQ(counter("ns_sent"), 3u);
}

TEST_F(NdDpTest, StaticNeighbourWinsOverALearntOne) {
    const Bytes mac = unhex("0e0000000001");
    const Bytes a = addr("db02::5");
    ASSERT_TRUE(nd_.cache().set(1, a.data(), mac.data()));
    in(0, echo("db02::5"));
    std::vector<TxFrame> out = env_->take_tx();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(test::hex(Bytes(out[0].bytes.begin(), out[0].bytes.begin() + 6)), test::hex(unhex("020000000c05")));
}

TEST_F(NdDpTest, LearntNeighbourIsUsedWithoutHolding) {
    const Bytes mac = unhex("0e0000000002");
    const Bytes a = addr("db02::6");
    ASSERT_TRUE(nd_.cache().set(1, a.data(), mac.data()));
    in(0, echo("db02::6"));
    std::vector<TxFrame> out = env_->take_tx();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(test::hex(Bytes(out[0].bytes.begin(), out[0].bytes.begin() + 6)), test::hex(mac));
    EXPECT_TRUE(nd_.cache().take_used(1, a.data()));
    nd_.cache().remove(1, a.data());
    in(0, echo("db02::6"));
    EXPECT_TRUE(env_->take_tx().empty());
    EXPECT_EQ(icmp(IcmpEvent::NdHeld), 1u);
}

TEST_F(NdDpTest, UnsolicitedAdvertCreatesNoEntry) {
    Bytes na = unhex(kNaFromDb02_1);
    in(1, na);
    tick(0);
    EXPECT_EQ(counter("na_ignored"), 1u);
    EXPECT_EQ(counter("entries"), 0u);
    EXPECT_TRUE(env_->take_tx().empty());
}

TEST_F(NdDpTest, FullHoldRingIsCounted) {
    // A separate channel with room for two held packets.
    dp::NdChannel small;
    std::string err;
    ASSERT_TRUE(small.init(1, 2, err)) << err;
    fw_->cfg.nd = &small;
    for (int i = 0; i < 3; ++i) in(0, echo("db02::1"));
    EXPECT_EQ(icmp(IcmpEvent::NdHeld), 2u);
    EXPECT_EQ(fw_->drops(Drop::NdQueueFull), 1u);
    EXPECT_TRUE(env_->take_tx().empty());
    small.shutdown();  // frees the two held packets
    fw_->cfg.nd = &nd_.channel();
}

TEST_F(NdDpTest, EchoToTheLinkLocalAddressIsAnswered) {
    // fe80::ff:fe00:a01 is port a's EUI-64 address (02:00:00:00:0a:01);
    // the sender fe80::1 is unknown, so the reply is held and solicited.
    Bytes f = echo("fe80::ff:fe00:a01", 255);
    const Bytes src = addr("fe80::1");
    std::memcpy(f.data() + 14 + 8, src.data(), 16);
    const Bytes d = addr("fe80::ff:fe00:a01");
    f[14 + 40 + 2] = f[14 + 40 + 3] = 0;
    const uint16_t c = dp::icmp6_checksum(src.data(), d.data(), f.data() + 54, uint32_t(f.size() - 54));
    f[56] = uint8_t(c >> 8);
    f[57] = uint8_t(c);
    in(0, f);
    EXPECT_EQ(fw_->stats.icmp[unsigned(IcmpEvent::EchoReply)].get(), 1u);
    std::vector<TxFrame> out = tick(0);
    ASSERT_EQ(out.size(), 1u);
    // The solicitation for fe80::1 comes from the link-local address.
    EXPECT_EQ(test::hex(Bytes(out[0].bytes.begin() + 22, out[0].bytes.begin() + 38)),
              test::hex(d));
    // Another link-local destination is not ours: dropped.
    Bytes other = echo("fe80::2");
    in(0, other);
    EXPECT_EQ(fw_->drops(Drop::LinkLocal), 1u);
}

TEST_F(NdDpTest, SolicitationTeachesItsSenderAsStale) {
    // Scapy: db02::8 (02:00:00:00:0c:08) solicits db02::fffe with its SLLA.
    in(1, unhex("3333ff00fffe020000000c0886dd6000000000203affdb02000000000000000000000000"
                "0008ff0200000000000000000001ff00fffe8700b58b00000000db02000000000000000000"
                "000000fffe0101020000000c08"));
    std::vector<TxFrame> out = env_->take_tx();
    ASSERT_EQ(out.size(), 1u);  // the advertisement
    EXPECT_EQ(out[0].bytes[54], 136);
    EXPECT_EQ(icmp(IcmpEvent::NdSolicitLearnt), 1u);
    EXPECT_TRUE(tick(0).empty());
    EXPECT_EQ(counter("ns_learnt"), 1u);
    // Known now: a packet to it leaves at once, and using the STALE entry
    // starts DELAY (RFC 4861 7.3.3).
    in(0, echo("db02::8"));
    out = env_->take_tx();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(test::hex(Bytes(out[0].bytes.begin(), out[0].bytes.begin() + 6)),
              test::hex(unhex("020000000c08")));
    tick(5);
    EXPECT_NE(nd_.show(cp::Config{}, 5).find("db02::8 dev 1 lladdr 02:00:00:00:0c:08 DELAY"),
              std::string::npos)
        << nd_.show(cp::Config{}, 5);
}

TEST_F(NdDpTest, OwnEchoReplyToAnUnresolvedHostIsNotAnswered) {
    // db01::50 has no neighbour entry: the Echo Reply is held, and when
    // resolution fails no Destination Unreachable goes to ourselves.
    Bytes f = echo("db01::fffe");
    const Bytes src = addr("db01::50"), dst = addr("db01::fffe");
    std::memcpy(f.data() + 22, src.data(), 16);
    f[56] = f[57] = 0;
    const uint16_t c = dp::icmp6_checksum(src.data(), dst.data(), f.data() + 54, uint32_t(f.size() - 54));
    f[56] = uint8_t(c >> 8);
    f[57] = uint8_t(c);
    in(0, f);
    EXPECT_EQ(icmp(IcmpEvent::EchoReply), 1u);
    EXPECT_EQ(icmp(IcmpEvent::NdHeld), 1u);
    EXPECT_EQ(tick(0).size(), 1u);
    tick(1000);
    tick(2000);
    EXPECT_TRUE(tick(3000).empty());
    EXPECT_EQ(counter("failed"), 1u);
    EXPECT_EQ(counter("unreachable_suppressed"), 1u);
    EXPECT_EQ(counter("unreachable_sent"), 0u);
}

// A removed entry's slot is reused only once every reader has passed a
// quiescent state: a worker that found the key just before the removal
// must still read that neighbour's MAC.
TEST(NeighborCacheRcu, RemovedSlotWaitsForEveryReader) {
    std::string err;
    ASSERT_NE(DpEnv::init("dp_tests", err), nullptr) << err;
    const size_t sz = rte_rcu_qsbr_get_memsize(1);
    auto* qsv = static_cast<rte_rcu_qsbr*>(rte_zmalloc("nd_test_qsbr", sz, RTE_CACHE_LINE_SIZE));
    ASSERT_NE(qsv, nullptr);
    ASSERT_EQ(rte_rcu_qsbr_init(qsv, 1), 0);
    ASSERT_EQ(rte_rcu_qsbr_thread_register(qsv, 0), 0);
    rte_rcu_qsbr_thread_online(qsv, 0);
    {
        dp::NeighborCache cache;
        ASSERT_TRUE(cache.init(8, qsv, err)) << err;
        uint8_t a[16] = {0xdb, 0x02};
        uint8_t mac[6] = {2, 0, 0, 0, 0, 0};
        for (uint8_t i = 0; i < 8; ++i) {
            a[15] = i;
            mac[5] = i;
            ASSERT_TRUE(cache.set(1, a, mac)) << int(i);
        }
        a[15] = 8;
        EXPECT_FALSE(cache.set(1, a, mac)) << "full";
        a[15] = 3;
        cache.remove(1, a);
        rte_ether_addr got;
        EXPECT_FALSE(cache.lookup(1, a, got)) << "removed keys are not found";
        a[15] = 9;
        cache.tick();
        EXPECT_FALSE(cache.set(1, a, mac)) << "slot reused before the reader was quiescent";
        rte_rcu_qsbr_quiescent(qsv, 0);
        cache.tick();
        mac[5] = 9;
        EXPECT_TRUE(cache.set(1, a, mac)) << "slot not reclaimed after the grace period";
        ASSERT_TRUE(cache.lookup(1, a, got));
        EXPECT_EQ(got.addr_bytes[5], 9);
        a[15] = 4;
        ASSERT_TRUE(cache.lookup(1, a, got));
        EXPECT_EQ(got.addr_bytes[5], 4);
    }
    rte_rcu_qsbr_thread_offline(qsv, 0);
    rte_rcu_qsbr_thread_unregister(qsv, 0);
    rte_free(qsv);
}

}  // namespace
}  // namespace ioamfwd::testenv
