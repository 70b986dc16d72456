// The fused IOAM fast path (forward_plain's extension to standard one-trace
// transit packets and tunnel ends) on crafted bursts: whole bursts it takes,
// mixed with plain packets, and bursts with one near miss at different
// places, which the stages must take whole. Each burst runs through two
// BurstProcessors, fast paths on and off, with the same clock: same frames
// in the same order, same counters, no mbuf held. Some results are also
// checked against octets worked out here.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../unit/packet_builder.hpp"
#include "dp_fixture.hpp"
#include "role_configs.hpp"

namespace ioamfwd::testenv {
namespace {

using test::Bytes;

constexpr size_t kEth = 14;
constexpr size_t kIp6 = 40;

timespec g_now{1700000123, 456789000};
void fixed_clock(timespec* t) { *t = g_now; }

Bytes addr(const char* text) {
    Bytes a(16);
    if (inet_pton(AF_INET6, text, a.data()) != 1) throw std::runtime_error(text);
    return a;
}

// IPv6 header with the given traffic class (ECN in its low bits).
Bytes ipv6(const char* src, const char* dst, uint8_t nh, uint8_t hop, const Bytes& rest,
           uint8_t tc = 0) {
    const Bytes s = addr(src), d = addr(dst);
    test::Ipv6Fields f;
    f.next_header = nh;
    f.hop_limit = hop;
    f.src = s.data();
    f.dst = d.data();
    Bytes b = test::ipv6_packet(f, rest);
    b[0] = uint8_t(0x60 | tc >> 4);
    b[1] = uint8_t((tc & 0x0f) << 4 | (b[1] & 0x0f));
    return b;
}

Bytes udp(size_t n = 18) {
    Bytes b{0x04, 0x00, 0x13, 0x89, 0, uint8_t(8 + n), 0, 0};
    for (size_t i = 0; i < n; ++i) b.push_back(uint8_t(i));
    return b;
}

// Where RemainingLen sits in linux_hbh's header: PadN(2), option header (4),
// then trace header octet 3.
constexpr size_t kStdRemlenAt = 2 + 2 + 4 + 3;

// A standard Hop-by-Hop with one trace whose area of `size` octets has
// `remlen` words left; earlier nodes' data (0xa5) fills the rest.
Bytes std_hbh(uint8_t next, uint32_t type, unsigned size, unsigned remlen, uint16_t ns = 123,
              bool overflow = false) {
    Bytes b = test::linux_hbh(next, ns, type, size);
    b[kStdRemlenAt] = uint8_t(remlen);
    if (overflow) b[kStdRemlenAt - 1] |= 0x04;
    for (size_t i = 16 + size_t(remlen) * 4; i < 16 + size; ++i) b[i] = 0xa5;
    return b;
}

Bytes frame(const dp::Snapshot& s, uint16_t port, const Bytes& l3) {
    Bytes f(kEth);
    std::memcpy(f.data(), s.ports[port].mac.addr_bytes, 6);
    const uint8_t peer[6] = {0x02, 0, 0, 0, 0x09, 0x09};
    std::memcpy(f.data() + 6, peer, 6);
    f[12] = 0x86;
    f[13] = 0xdd;
    test::append(f, l3);
    return f;
}

struct Input {
    Bytes frame;
    size_t split = 0;  // > 0: a two-segment chain split there
};

struct Outcome {
    std::vector<TxFrame> tx;
    dp::WorkerStats stats;
};

// Three bursts of 8 packets to two routes, `a` and `b`: all to a; to a and
// b in turns; to b first, then to a.
std::vector<std::vector<Input>> two_route_bursts(
    const std::function<Input(const char* dst, uint8_t hop)>& pkt, const char* a, const char* b) {
    std::vector<std::vector<Input>> bursts(3);
    for (unsigned i = 0; i < 8; ++i) bursts[0].push_back(pkt(a, uint8_t(30 + i)));
    for (unsigned i = 0; i < 8; ++i) bursts[1].push_back(pkt(i % 2 ? b : a, uint8_t(40 + i)));
    bursts[2].push_back(pkt(b, 50));
    for (unsigned i = 0; i < 7; ++i) bursts[2].push_back(pkt(a, uint8_t(51 + i)));
    return bursts;
}

struct RouteOut {
    uint16_t port;
    uint8_t gateway_mac[6];
};

// Each frame left by route b's port with its gateway's MAC if its
// destination's second octet is `b_octet`, else by route a's; `want_b` by b.
void expect_routes(const Outcome& out, const dp::Snapshot& s, const RouteOut& a, const RouteOut& b,
                   uint8_t b_octet, unsigned want_b) {
    unsigned by_b = 0;
    for (const TxFrame& f : out.tx) {
        const bool is_b = f.bytes[kEth + 24 + 1] == b_octet;
        const RouteOut& r = is_b ? b : a;
        EXPECT_EQ(f.port, r.port);
        EXPECT_EQ(std::memcmp(f.bytes.data(), r.gateway_mac, 6), 0);
        EXPECT_EQ(std::memcmp(f.bytes.data() + 6, s.ports[f.port].mac.addr_bytes, 6), 0);
        by_b += is_b;
    }
    EXPECT_EQ(by_b, want_b);
}

class FusedPath : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(open_dp_env(env_));
        dp::TraceRecord r[16];
        while (env_->export_ring().pop_burst(r, 16)) {
        }
    }
    void TearDown() override {
        if (!env_) return;
        dp::TraceRecord r[16];
        while (env_->export_ring().pop_burst(r, 16)) {
        }
        EXPECT_EQ(env_->mbufs_in_use(), 0u);
        EXPECT_EQ(env_->tx_error(), "");
    }

    std::unique_ptr<dp::Snapshot> snap(const char* yaml) {
        auto s = env_->snapshot(yaml);
        s->icmp_burst = 1u << 30;  // the two sides do not share the TSC
        return s;
    }

    // The bursts in order through fast paths and stages; `flush_each`
    // false keeps packets buffered between bursts (queue depth).
    void compare(const dp::Snapshot& s, uint16_t in_port, const std::vector<std::vector<Input>>& bursts,
                 bool export_traces, Outcome* fast_out = nullptr, bool flush_each = true) {
        compare_each(std::vector<const dp::Snapshot*>(bursts.size(), &s), in_port, bursts,
                     export_traces, fast_out, flush_each);
    }
    // compare with burst b processed under snaps[b], `before(b)` called
    // before it on either side.
    void compare_each(const std::vector<const dp::Snapshot*>& snaps, uint16_t in_port,
                      const std::vector<std::vector<Input>>& bursts, bool export_traces,
                      Outcome* fast_out = nullptr, bool flush_each = true,
                      const std::function<void(size_t)>& before = {}) {
        compare_each(snaps, std::vector<uint16_t>(bursts.size(), in_port), bursts, export_traces,
                     fast_out, flush_each, before);
    }
    // The same with each burst's own receiving port.
    void compare_each(const std::vector<const dp::Snapshot*>& snaps,
                      const std::vector<uint16_t>& in_ports,
                      const std::vector<std::vector<Input>>& bursts, bool export_traces,
                      Outcome* fast_out = nullptr, bool flush_each = true,
                      const std::function<void(size_t)>& before = {}) {
        ASSERT_EQ(snaps.size(), bursts.size());
        ASSERT_EQ(in_ports.size(), bursts.size());
        std::vector<TxFrame> tx[2];
        std::unique_ptr<Forwarder> fw[2];
        for (int k = 0; k < 2; ++k) {
            fw[k] = std::make_unique<Forwarder>(*env_, export_traces);
            fw[k]->cfg.clock = fixed_clock;
            fw[k]->cfg.fast_paths = k == 0;
            for (size_t b = 0; b < bursts.size(); ++b) {
                const auto& burst = bursts[b];
                if (before) before(b);
                std::vector<rte_mbuf*> pkts;
                for (const Input& in : burst) {
                    rte_mbuf* m = in.split ? env_->chain(in.frame.data(), in.frame.size(), in.split)
                                           : env_->mbuf(in.frame.data(), in.frame.size());
                    ASSERT_NE(m, nullptr);
                    pkts.push_back(m);
                }
                fw[k]->bp->process(*snaps[b], in_ports[b], pkts.data(), uint16_t(pkts.size()));
                if (flush_each) fw[k]->bp->flush();
            }
            fw[k]->bp->flush();
            tx[k] = env_->take_tx();
            dp::TraceRecord r[16];
            while (env_->export_ring().pop_burst(r, 16)) {
            }
            ASSERT_EQ(env_->mbufs_in_use(), 0u);
        }
        for (unsigned i = 0; i < dp::kDropCount; ++i)
            EXPECT_EQ(fw[0]->stats.drops[i].get(), fw[1]->stats.drops[i].get())
                << dp::drop_name(dp::Drop(i));
        for (unsigned i = 0; i < dp::kIoamEventCount; ++i)
            EXPECT_EQ(fw[0]->stats.ioam[i].get(), fw[1]->stats.ioam[i].get())
                << dp::ioam_event_name(dp::IoamEvent(i));
        for (unsigned i = 0; i < dp::kIcmpEventCount; ++i)
            EXPECT_EQ(fw[0]->stats.icmp[i].get(), fw[1]->stats.icmp[i].get())
                << dp::icmp_event_name(dp::IcmpEvent(i));
        ASSERT_EQ(tx[0].size(), tx[1].size());
        for (size_t i = 0; i < tx[0].size(); ++i) {
            EXPECT_EQ(tx[0][i].port, tx[1][i].port) << "frame " << i;
            EXPECT_EQ(tx[0][i].nb_segs, tx[1][i].nb_segs) << "frame " << i;
            EXPECT_EQ(test::hex(tx[0][i].bytes), test::hex(tx[1][i].bytes)) << "frame " << i;
        }
        if (fast_out) {
            fast_out->tx = tx[0];
            for (unsigned i = 0; i < dp::kDropCount; ++i)
                fast_out->stats.drops[i].add(fw[0]->stats.drops[i].get());
            for (unsigned i = 0; i < dp::kIoamEventCount; ++i)
                fast_out->stats.ioam[i].add(fw[0]->stats.ioam[i].get());
        }
    }

    DpEnv* env_ = nullptr;
};

// Porthos (kTransitYaml): eth0 IOAM-enabled (id 201), db03::/64 via db02::2 on
// eth1 with a static neighbour: a plain route.
TEST_F(FusedPath, TransitBurstsMixedWithPlain) {
    auto sp = snap(kTransitYaml);
    const dp::Snapshot& s = *sp;
    std::vector<std::vector<Input>> bursts(3);
    for (unsigned i = 0; i < 32; ++i) {
        Bytes l3;
        switch (i % 8) {
            case 0: l3 = ipv6("db04::9", "db03::2", 17, 64, udp()); break;  // plain
            case 5:  // the template changes: queue depth (bit 6) and an OSS (bit 22)
                l3 = ipv6("db04::9", "db03::2", 0, 64, [] {
                    Bytes b = std_hbh(17, 0x820002, 64, 16);
                    test::append(b, udp());
                    return b;
                }());
                break;
            case 6:  // full: Overflow set
                l3 = ipv6("db04::9", "db03::7", 0, 9, [] {
                    Bytes b = std_hbh(17, 0x800000, 12, 0);
                    test::append(b, udp());
                    return b;
                }());
                break;
            default:
                l3 = ipv6("db04::9", "db03::2", 0, uint8_t(20 + i), [] {
                    Bytes b = std_hbh(17, 0x800000, 12, 2);
                    test::append(b, udp());
                    return b;
                }());
        }
        bursts[0].push_back({frame(s, 0, l3)});
    }
    // Every packet alike (the bench's burst), then the long-snapshot
    // namespace, an unknown one and a trace whose Overflow flag is set.
    for (unsigned i = 0; i < 20; ++i) {
        Bytes h = std_hbh(17, 0xfff002, 100, 25, i < 10 ? 123 : i < 13 ? 124 : i < 16 ? 999 : 123,
                          i >= 18);
        test::append(h, udp(30));
        bursts[1].push_back({frame(s, 0, ipv6("db04::9", "db03::2", 0, 64, h))});
    }
    for (unsigned i = 0; i < 5; ++i) {
        Bytes h = std_hbh(6, 0xf00000, 16, 4);
        test::append(h, udp());
        bursts[2].push_back({frame(s, 0, ipv6("db04::9", "db03::8", 0, 3, h))});
    }
    Outcome out;
    // Not flushed between bursts: the queue depth counts what waits.
    compare(s, 0, bursts, false, &out, false);
    ASSERT_EQ(out.tx.size(), 57u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::SkipUnknownNamespace)].get(), 3u);
    EXPECT_GE(out.stats.ioam[unsigned(dp::IoamEvent::TraceOverflowSet)].get(), 4u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::SkipOverflowFlag)].get(), 2u);

    // Packet 1: 0x800000, hop limit 21: RemainingLen 2 -> 1, node data
    // (hop limit 20, node id 2) in the area's second word, hop limit 20.
    const Bytes& f = out.tx[1].bytes;
    EXPECT_EQ(out.tx[1].port, 1);
    EXPECT_EQ(f[kEth + 7], 20);
    EXPECT_EQ(f[kEth + kIp6 + kStdRemlenAt], 1);
    const size_t word = kEth + kIp6 + 16 + 4;
    EXPECT_EQ(test::hex(Bytes(f.begin() + long(word), f.begin() + long(word) + 4)), "14000002");
    EXPECT_EQ(f[word + 4], 0xa5);  // the previous node's data is untouched
    const uint8_t gw[6] = {0x02, 0, 0, 0, 0x03, 0x00};
    EXPECT_EQ(std::memcmp(f.data(), gw, 6), 0);
}

// Bursts of like traces of every node data length fused_send writes from
// registers (16 to 96 octets in pieces of 16, the last overlapping) and
// either side of it, with each patched field (hop limit, wide hop limit,
// queue depth): the same octets as the stages, and the previous node's
// data untouched.
TEST_F(FusedPath, LikeTracesOfEveryNodeDataLength) {
    auto sp = snap(kTransitYaml);
    const dp::Snapshot& s = *sp;
    struct Type {
        uint32_t type;
        uint16_t ns;
        unsigned len;  // this node's octets: node data and snapshot
    };
    // Namespace 123's snapshot is 20 octets, 124's 64.
    const std::vector<Type> types = {
        {0x800000, 123, 4},   {0xc00000, 123, 8},   {0x008000, 123, 8},
        {0xf00000, 123, 16},  {0xfe0000, 123, 28},  {0xff0000, 123, 32},
        {0xff8000, 123, 40},  {0xffc000, 123, 48},  {0xffe000, 123, 56},
        {0xfff000, 123, 60},  {0x820002, 123, 28},  {0xfff002, 123, 80},
        {0xf80002, 124, 84},  {0xff0002, 124, 96},  {0xff8002, 124, 104},
        {0xfff002, 124, 124},
    };
    for (const Type& t : types) {
        SCOPED_TRACE(testing::Message() << std::hex << "type 0x" << t.type << std::dec << ", "
                                        << t.len << " octets");
        // Room for us and 4 octets more, then a previous node's 4 octets.
        const unsigned size = t.len + 8;
        std::vector<std::vector<Input>> bursts(2);
        for (unsigned b = 0; b < 2; ++b)
            for (unsigned i = 0; i < 12; ++i) {
                Bytes h = std_hbh(17, t.type, size, t.len / 4 + 1, t.ns);
                test::append(h, udp());
                bursts[b].push_back(
                    {frame(s, 0, ipv6("db04::9", "db03::2", 0, uint8_t(20 + i + b), h))});
            }
        Outcome out;
        compare(s, 0, bursts, false, &out, false);
        ASSERT_EQ(out.tx.size(), 24u);
        EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::TraceFilled)].get(), 24u);
        // Our data between the room left (zeros) and the previous node's.
        const Bytes& f = out.tx[23].bytes;
        const size_t data = kEth + kIp6 + 16 + 4;
        EXPECT_EQ(f[data - 1], 0);
        EXPECT_EQ(f[data + t.len], 0xa5);
        EXPECT_EQ(f[data + t.len + 3], 0xa5);
    }
}

// Plain bursts: all to one next hop (sent with that hop's port and octets
// kept for the burst) and to two on two ports in turns, or with the first
// packet the odd one out. Each packet leaves by its own route's port with
// its gateway's MAC.
TEST_F(FusedPath, PlainBurstsToOneAndToSeveralNextHops) {
    auto sp = snap(kTransitYaml);
    const dp::Snapshot& s = *sp;
    auto pkt = [&](const char* dst, uint8_t hop) {
        return Input{frame(s, 0, ipv6("db04::9", dst, 17, hop, udp()))};
    };
    Outcome out;
    compare(s, 0, two_route_bursts(pkt, "db03::2", "db01::5"), false, &out, false);
    ASSERT_EQ(out.tx.size(), 24u);
    expect_routes(out, s, {1, {0x02, 0, 0, 0, 0x03, 0x00}}, {0, {0x02, 0, 0, 0, 0x01, 0x01}}, 0x01,
                  5);
}

// Like traces (the claim kept) to two next hops on two ports, in turns or
// with the first the odd one out: each leaves by its own route's port with
// its gateway's MAC, its node data written as the stages write it.
TEST_F(FusedPath, TracesToSeveralNextHops) {
    auto sp = snap(kTransitYaml);
    const dp::Snapshot& s = *sp;
    auto pkt = [&](const char* dst, uint8_t hop) {
        Bytes h = std_hbh(17, 0x800000, 12, 2);
        test::append(h, udp());
        return Input{frame(s, 0, ipv6("db04::9", dst, 0, hop, h))};
    };
    Outcome out;
    compare(s, 0, two_route_bursts(pkt, "db03::2", "db01::5"), false, &out, false);
    ASSERT_EQ(out.tx.size(), 24u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::TraceFilled)].get(), 24u);
    expect_routes(out, s, {1, {0x02, 0, 0, 0, 0x03, 0x00}}, {0, {0x02, 0, 0, 0, 0x01, 0x01}}, 0x01,
                  5);
}

// The fused path keeps its node-data templates and claims from burst to
// burst. Another snapshot (namespace data, port IOAM ids, node id) or a
// new clock reading between bursts of the very same packets must show in
// the data written, as the stages write it.
TEST_F(FusedPath, KeptTemplatesFollowSnapshotAndClock) {
    auto a = snap(kTransitYaml);
    std::string other = kTransitYaml;
    auto swap = [&](const std::string& from, const std::string& to) {
        const size_t at = other.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        other.replace(at, from.size(), to);
    };
    swap("data: 0xdeadbee1", "data: 0x0badf00d");
    swap("id: 201, id_wide: 201201", "id: 251, id_wide: 251251");
    swap("id: 202, id_wide: 202202", "id: 252, id_wide: 252252");
    swap("node: {id: 2,", "node: {id: 7,");
    auto b = snap(other.c_str());
    // Hop limit and node id, ingress and egress ids, namespace data
    // (0xc40000); the same with both timestamps (0xf40000).
    auto burst = [&](uint32_t type, unsigned n) {
        std::vector<Input> v;
        for (unsigned i = 0; i < n; ++i) {
            Bytes h = std_hbh(17, type, 48, 9);
            test::append(h, udp());
            v.push_back({frame(*a, 0, ipv6("db04::9", "db03::2", 0, uint8_t(40 + i), h))});
        }
        return v;
    };
    const std::vector<std::vector<Input>> bursts = {
        burst(0xc40000, 8), burst(0xc40000, 8), burst(0xc40000, 8), burst(0xc40000, 8),
        burst(0xf40000, 8), burst(0xf40000, 8), burst(0xf40000, 8)};
    const std::vector<const dp::Snapshot*> snaps = {a.get(), a.get(), b.get(), a.get(),
                                                    b.get(), b.get(), b.get()};
    // Each burst has its own instant; 4 and 5 even their own second.
    const timespec saved = g_now;
    auto clock_of = [](size_t k) { g_now = {1700000000 + time_t(k), long(k) * 1234567}; };
    Outcome out;
    compare_each(snaps, 0, bursts, false, &out, true, clock_of);
    g_now = saved;
    ASSERT_EQ(out.tx.size(), 56u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::TraceFilled)].get(), 56u);
    // This node's data goes in front of the 9 free words' end: RemainingLen
    // 9 -> 6 (3 words) or 4 (5 words), after the PadN, option and trace
    // headers (16 octets). Hop limit 40 leaves as 39.
    auto node_data = [&](size_t frame, size_t words) {
        const size_t at = kEth + kIp6 + 16 + (9 - words) * 4;
        const Bytes& f = out.tx[frame].bytes;
        return test::hex(Bytes(f.begin() + long(at), f.begin() + long(at + 4 * words)));
    };
    // Burst 1 (snapshot a), burst 2 (b), burst 3 (a again).
    EXPECT_EQ(node_data(8, 3), "27000002 00c900ca deadbee1");
    EXPECT_EQ(node_data(16, 3), "27000007 00fb00fc 0badf00d");
    EXPECT_EQ(node_data(24, 3), "27000002 00c900ca deadbee1");
    // Bursts 4 and 5: the timestamps of their own clock readings.
    EXPECT_EQ(node_data(32, 5), "27000007 00fb00fc 6553f104 0000134a 0badf00d");
    EXPECT_EQ(node_data(40, 5), "27000007 00fb00fc 6553f105 0000181c 0badf00d");
}

// The kept templates hold the ingress port's ids: bursts from two
// IOAM-enabled ports in turn must each get their own port's (201 or 202).
TEST_F(FusedPath, KeptTemplatesFollowTheIngressPort) {
    std::string yaml = kTransitYaml;
    const std::string off = "ioam: {enabled: false, id: 202";
    const size_t at = yaml.find(off);
    ASSERT_NE(at, std::string::npos);
    yaml.replace(at, off.size(), "ioam: {enabled: true, id: 202");
    auto sp = snap(yaml.c_str());
    // Hop limit and node id, ingress and egress ids, namespace data; to
    // db03::/64 out of eth1, whichever port it came in by.
    auto burst = [&](uint16_t port) {
        std::vector<Input> v;
        for (unsigned i = 0; i < 6; ++i) {
            Bytes h = std_hbh(17, 0xc40000, 48, 9);
            test::append(h, udp());
            v.push_back({frame(*sp, port, ipv6("db04::9", "db03::2", 0, uint8_t(50 + i), h))});
        }
        return v;
    };
    const std::vector<uint16_t> ports = {0, 0, 1, 1, 0};
    std::vector<std::vector<Input>> bursts;
    for (uint16_t p : ports) bursts.push_back(burst(p));
    Outcome out;
    compare_each(std::vector<const dp::Snapshot*>(ports.size(), sp.get()), ports, bursts, false,
                 &out);
    ASSERT_EQ(out.tx.size(), 30u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::TraceFilled)].get(), 30u);
    // Ingress and egress ids are this node's second word.
    auto ids = [&](size_t frame) {
        const size_t at = kEth + kIp6 + 16 + (9 - 3) * 4 + 4;
        const Bytes& f = out.tx[frame].bytes;
        return test::hex(Bytes(f.begin() + long(at), f.begin() + long(at + 4)));
    };
    EXPECT_EQ(ids(6), "00c900ca");
    EXPECT_EQ(ids(12), "00ca00ca");
    EXPECT_EQ(ids(18), "00ca00ca");
    EXPECT_EQ(ids(24), "00c900ca");
}

// Aramis (kDecapYaml): eth0 decap, IOAM-enabled (id 301), own db02::2; the
// inner packets go to db04::/64 via db02::1 (plain).
TEST_F(FusedPath, TunnelEndsWithAndWithoutTrace) {
    auto sp = snap(kDecapYaml);
    const dp::Snapshot& s = *sp;
    std::vector<Input> burst;
    for (unsigned i = 0; i < 32; ++i) {
        // Every ECN pairing RFC 6040 lets through (CE over not-ECT is not).
        const uint8_t outer_ecn = uint8_t(i % 4), inner_ecn = uint8_t(1 + i / 4 % 3);
        const Bytes inner = ipv6("db01::1", "db04::5", 17, uint8_t(30 + i), udp(), inner_ecn);
        Bytes rest;
        if (i % 5 == 4) {
            rest = inner;  // plain ip6ip6
        } else {
            rest = std_hbh(41, 0x800000, 12, 2);
            test::append(rest, inner);
        }
        const Bytes outer = ipv6("db01::2", "db02::2", i % 5 == 4 ? 41 : 0, 61, rest, outer_ecn);
        burst.push_back({frame(s, 0, outer)});
    }
    // A plain packet among them.
    burst[7] = {frame(s, 0, ipv6("db02::9", "db04::6", 17, 9, udp()))};
    Outcome out;
    compare(s, 0, {burst}, false, &out);
    ASSERT_EQ(out.tx.size(), 32u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::Decapsulated)].get(), 31u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::TraceFilled)].get(), 25u);
    // The plain packet leaves first, then the inner packets in order.
    EXPECT_EQ(out.tx[0].bytes.size(), kEth + kIp6 + 26);
    const Bytes& f = out.tx[1].bytes;  // burst[0]: outer ECN 0, inner ECT(1)
    const Bytes inner = ipv6("db01::1", "db04::5", 17, 30, udp(), 1);
    ASSERT_EQ(f.size(), kEth + inner.size());
    Bytes want = inner;
    want[7] = 29;
    EXPECT_EQ(test::hex(Bytes(f.begin() + kEth, f.end())), test::hex(want));
    // burst[2]: outer ECT(0) over ECT(1) stays ECT(1); burst[3]: outer CE
    // over ECT(1) leaves CE.
    EXPECT_EQ((out.tx[3].bytes[kEth + 1] >> 4) & 3, 1);
    EXPECT_EQ((out.tx[4].bytes[kEth + 1] >> 4) & 3, 3);
}

// Tunnel ends whose inner packets forward_plain would take are forwarded
// by the fused path itself, after the burst's other packets; one inner
// packet it would not take (header or route) leaves all of them to
// process_burst. Either way as the stages do it.
TEST_F(FusedPath, InnerPacketsForwardedInPlaceUnlessOneIsNotPlain) {
    auto sp = snap(kDecapYaml);
    const dp::Snapshot& s = *sp;
    auto tunnel_of = [&](const Bytes& inner, size_t trailing = 0) {
        Bytes h = std_hbh(41, 0x800000, 12, 2);
        test::append(h, inner);
        h.resize(h.size() + trailing, 0xee);  // behind the inner packet
        return ipv6("db01::2", "db02::2", 0, 61, h);
    };
    auto good = [&](uint8_t hop) { return ipv6("db01::1", "db04::5", 17, hop, udp()); };
    struct Miss {
        const char* name;
        std::function<Bytes()> inner;
    };
    const std::vector<Miss> misses = {
        {"hop limit 1", [&] { return good(1); }},
        {"not IPv6",
         [&] {
             Bytes b = good(40);
             b[0] = uint8_t(0x40 | (b[0] & 0x0f));
             return b;
         }},
        {"multicast destination", [&] { return ipv6("db01::1", "ff0e::1", 17, 40, udp()); }},
        {"link-local source", [&] { return ipv6("fe80::1", "db04::5", 17, 40, udp()); }},
        {"for us", [&] { return ipv6("db01::1", "db02::2", 17, 40, udp()); }},
        {"payload length past the outer packet",
         [&] {
             Bytes b = good(40);
             b[5] = uint8_t(b[5] + 1);
             return b;
         }},
        {"Hop-by-Hop header",
         [&] {
             Bytes h = {17, 0, 0x01, 0x04, 0, 0, 0, 0};
             test::append(h, udp());
             return ipv6("db01::1", "db04::5", 0, 40, h);
         }},
        {"on-link route", [&] { return ipv6("db01::1", "db02::9", 17, 40, udp()); }},
        {"no route", [&] { return ipv6("db01::1", "2001:db8::1", 17, 40, udp()); }},
        {"bigger than the egress MTU",
         [&] { return ipv6("db01::1", "db04::5", 17, 40, udp(1500 - 40 - 8 + 1)); }},
    };
    auto burst_with = [&](int miss_at, const Miss* miss) {
        std::vector<Input> burst;
        for (int i = 0; i < 12; ++i) {
            if (i == 3) {  // forwarded as it is, ahead of every inner packet
                burst.push_back({frame(s, 0, ipv6("db02::9", "db01::6", 17, 9, udp()))});
                continue;
            }
            const Bytes inner = i == miss_at ? miss->inner() : good(uint8_t(2 + i));
            burst.push_back({frame(s, 0, tunnel_of(inner, i % 4 == 1 ? size_t(i) : 0))});
        }
        return burst;
    };
    Outcome out;
    compare(s, 0, {burst_with(-1, nullptr)}, false, &out);
    ASSERT_EQ(out.tx.size(), 12u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::Decapsulated)].get(), 11u);
    EXPECT_EQ(out.tx[0].bytes.size(), kEth + kIp6 + 26);  // the plain packet
    // burst[1] (after burst[0]): hop limit 3 leaves as 2, the octet
    // behind it cut off.
    EXPECT_EQ(test::hex(Bytes(out.tx[2].bytes.begin() + kEth, out.tx[2].bytes.end())),
              test::hex(good(2)));
    // The largest inner packet eth0 takes.
    compare(s, 0, {{{frame(s, 0, tunnel_of(ipv6("db01::1", "db04::5", 17, 40, udp(1452))))}}},
            false, &out);
    EXPECT_EQ(out.tx.size(), 1u);
    // After a burst of tunnel ends, as the next one: forward_fused then
    // expects tunnel ends (its fast header pass for them).
    for (const Miss& miss : misses)
        for (int at : {0, 5, 11}) {
            SCOPED_TRACE(std::string(miss.name) + " at " + std::to_string(at));
            compare(s, 0, {burst_with(at, &miss)}, false);
            compare(s, 0, {burst_with(-1, nullptr), burst_with(at, &miss)}, false);
        }
}

// Inner packets to two next hops on two ports, in turns or with the first
// the odd one out, from bursts of tunnel ends alone and with a plain packet
// among them: each leaves by its own route's port with its gateway's MAC
// (bursts whose inner packets share one next hop are sent as one).
TEST_F(FusedPath, InnerPacketsToSeveralNextHops) {
    std::string yaml = kDecapYaml;
    const std::string routes = "routes:\n";
    yaml.replace(yaml.find(routes), routes.size(),
                 routes + "  - {prefix: db05::/64, via: db03::2, port: eth1}\n");
    auto sp = snap(yaml.c_str());
    const dp::Snapshot& s = *sp;
    auto tunnel_to = [&](const char* inner_dst, uint8_t hop) {
        Bytes h = std_hbh(41, 0x800000, 12, 2);
        test::append(h, ipv6("db01::1", inner_dst, 17, hop, udp()));
        return Input{frame(s, 0, ipv6("db01::2", "db02::2", 0, 61, h))};
    };
    auto bursts = two_route_bursts(tunnel_to, "db04::5", "db05::5");
    // A plain packet for db01::/64, routed as db04::/64 is.
    bursts[1][2] = {frame(s, 0, ipv6("db02::9", "db01::6", 17, 9, udp()))};
    Outcome out;
    compare(s, 0, bursts, false, &out, false);
    ASSERT_EQ(out.tx.size(), 24u);
    EXPECT_EQ(out.stats.ioam[unsigned(dp::IoamEvent::Decapsulated)].get(), 23u);
    expect_routes(out, s, {0, {0x02, 0, 0, 0, 0x02, 0x01}}, {1, {0x02, 0, 0, 0, 0x00, 0x04}}, 0x05,
                  5);
}

// One packet the fused path must not take, at the front, middle or end of a
// burst of packets it would: the stages take the whole burst.
TEST_F(FusedPath, NearMissesLeaveTheBurstToTheStages) {
    auto transit = snap(kTransitYaml);
    auto decap = snap(kDecapYaml);
    auto good_transit = [&](uint8_t hop) {
        Bytes h = std_hbh(17, 0x800000, 12, 3);
        test::append(h, udp());
        return ipv6("db04::9", "db03::2", 0, hop, h);
    };
    auto good_tunnel = [&](uint8_t outer_ecn, uint8_t inner_ecn) {
        Bytes h = std_hbh(41, 0x800000, 12, 2);
        test::append(h, ipv6("db01::1", "db04::5", 17, 40, udp(), inner_ecn));
        return ipv6("db01::2", "db02::2", 0, 61, h, outer_ecn);
    };
    struct Miss {
        const char* name;
        bool tunnel;
        std::function<Bytes()> l3;
        size_t split = 0;
    };
    const std::vector<Miss> misses = {
        {"RemainingLen past the option", false,
         [&] {
             Bytes b = good_transit(64);
             b[kIp6 + kStdRemlenAt] = 4;
             return b;
         }},
        {"trailing PadN not zero", false,
         [&] {
             Bytes b = good_transit(64);
             b[kIp6 + 31] = 1;
             return b;
         }},
        {"NodeLen not the type's", false,
         [&] {
             Bytes b = good_transit(64);
             b[kIp6 + kStdRemlenAt - 1] = 2 << 3;
             return b;
         }},
        {"not a Pre-allocated Trace", false,
         [&] {
             Bytes b = good_transit(64);
             b[kIp6 + 7] = 1;
             return b;
         }},
        {"Pad1 padding", false,
         [&] {
             Bytes b = good_transit(64);
             b[kIp6 + 2] = 0;
             b[kIp6 + 3] = 0;
             return b;
         }},
        // Both HbhTruncated checks, against a header like the one before
        // (the reference's length stands for them then).
        {"payload ending inside the Hop-by-Hop header", false,
         [&] {
             Bytes b = good_transit(64);
             const size_t payload = (b[kIp6 + 1] + 1u) * 8 - 8;
             b[4] = uint8_t(payload >> 8);
             b[5] = uint8_t(payload);
             return b;
         }},
        {"payload length 0", false,
         [&] {
             Bytes b = good_transit(64);
             b[4] = b[5] = 0;
             return b;
         }},
        {"hop limit 1", false, [&] { return good_transit(1); }},
        {"no route", false,
         [&] {
             Bytes b = good_transit(64);
             b[24] = 0x0e;
             return b;
         }},
        {"headers split over two segments", false, [&] { return good_transit(64); }, kEth + 50},
        {"CE over not-ECT", true, [&] { return good_tunnel(3, 0); }},
        {"tunnel limit option before the inner packet", true,
         [&] {
             Bytes inner = ipv6("db01::1", "db04::5", 17, 40, udp());
             Bytes d = {41, 0, 0x04, 0x01, 0x04, 0x01, 0x00, 0x00};
             test::append(d, inner);
             Bytes h = std_hbh(60, 0x800000, 12, 2);
             test::append(h, d);
             return ipv6("db01::2", "db02::2", 0, 61, h);
         }},
        {"nested tunnel", true,
         [&] {
             Bytes h = std_hbh(41, 0x800000, 12, 2);
             test::append(h, ipv6("db01::1", "db02::2", 41, 40,
                                  ipv6("db01::1", "db04::5", 17, 40, udp())));
             return ipv6("db01::2", "db02::2", 0, 61, h);
         }},
        {"echo request to us", true,
         [&] {
             Bytes h = std_hbh(58, 0x800000, 12, 2);
             test::append(h, test::icmp_echo());
             return ipv6("db01::2", "db02::2", 0, 61, h);
         }},
    };
    for (const Miss& miss : misses) {
        const dp::Snapshot& s = miss.tunnel ? *decap : *transit;
        for (size_t at : {size_t(0), size_t(5), size_t(11)}) {
            SCOPED_TRACE(std::string(miss.name) + " at " + std::to_string(at));
            std::vector<Input> burst;
            for (size_t i = 0; i < 12; ++i) {
                const Bytes l3 = i == at ? miss.l3()
                                 : miss.tunnel ? good_tunnel(uint8_t(i % 3), 2)
                                               : good_transit(uint8_t(10 + i));
                burst.push_back({frame(s, 0, l3), i == at ? miss.split : 0});
            }
            compare(s, 0, {burst}, false);
            // The same after a burst of good ones, which sets forward_fused
            // expecting tunnel ends or traces alone.
            std::vector<Input> good;
            for (size_t i = 0; i < 12; ++i)
                good.push_back({frame(s, 0,
                                      miss.tunnel ? good_tunnel(uint8_t(i % 3), 2)
                                                  : good_transit(uint8_t(10 + i)))});
            compare(s, 0, {good, burst}, false);
        }
    }
    // A configuration that rules the path out: trace export, IOAM off on the
    // port (eth1), an edge port (Aramis' eth1).
    std::vector<Input> burst;
    for (size_t i = 0; i < 8; ++i) burst.push_back({frame(*transit, 0, good_transit(64))});
    compare(*transit, 0, {burst}, true);
    burst.clear();
    for (size_t i = 0; i < 8; ++i) {
        Bytes h = std_hbh(17, 0x800000, 12, 3);
        test::append(h, udp());
        burst.push_back({frame(*transit, 1, ipv6("db03::9", "db01::5", 0, 64, h))});
    }
    compare(*transit, 1, {burst}, false);
    burst.clear();
    for (size_t i = 0; i < 8; ++i) {
        Bytes h = std_hbh(17, 0x800000, 12, 3);
        test::append(h, udp());
        burst.push_back({frame(*decap, 1, ipv6("db03::9", "db01::5", 0, 64, h))});
    }
    compare(*decap, 1, {burst}, false);

    // What the last burst left, its reference header and the address of
    // ours its tunnel ends went to, holds only where it is still true: not
    // on a port that takes no traces, not in a snapshot where that address
    // is no longer ours.
    std::vector<Input> prime;
    for (size_t i = 0; i < 8; ++i) prime.push_back({frame(*transit, 0, good_transit(64))});
    burst.clear();
    for (size_t i = 0; i < 8; ++i) {
        Bytes h = std_hbh(17, 0x800000, 12, 3);  // good_transit's header
        test::append(h, udp());
        burst.push_back({frame(*transit, 1, ipv6("db03::9", "db01::5", 0, 64, h))});
    }
    compare_each({transit.get(), transit.get()}, {0, 1}, {prime, burst}, false);
    std::string moved = kDecapYaml;
    const std::string from = "addresses: [db02::2/64]";
    moved.replace(moved.find(from), from.size(), "addresses: [db02::3/64]");
    auto decap_moved = snap(moved.c_str());
    std::vector<Input> tunnels;
    for (size_t i = 0; i < 8; ++i) tunnels.push_back({frame(*decap, 0, good_tunnel(0, 2))});
    compare_each({decap.get(), decap_moved.get()}, 0, {tunnels, tunnels}, false);
}

}  // namespace
}  // namespace ioamfwd::testenv
