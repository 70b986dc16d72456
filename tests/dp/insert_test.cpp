// IOAM insertion on the worker's fast path (forward_inserting): bursts of
// plain received packets whose routes insert a trace, inline or in an
// ip6ip6 tunnel, with k/n sampling, must leave exactly as the stages would
// send them: same bytes, same order, same counters, and the same frequency
// counters from one burst to the next.
//
// The stages are the reference. A burst runs through them whole when one of
// its packets fails forward_plain's header pass; a frame for another host at
// the end of a burst ("poison") does that and is dropped as l2_other_host
// without touching anything else. So each test runs its bursts twice, on two
// fresh forwarders: as they are (fast path) and each with the poison frame
// appended (stages), and compares. Bursts with a packet the fast path must
// refuse (near misses) check that it refused it without a side effect: the
// stages must then produce exactly what they produce on their own.

#include <algorithm>
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../unit/packet_builder.hpp"
#include "dp_fixture.hpp"

namespace ioamfwd::testenv {
namespace {

using dp::Drop;
using dp::IoamEvent;
using test::Bytes;

constexpr size_t kEth = 14;
constexpr size_t kIp6 = 40;

// eth0 receives; eth1 leads to the domain (tunnel end db02::2 behind
// db04::2). Encap routes, by destination prefix:
//   db03  encap, every non-time field incl. queue depth and the OSS, 64 octets
//   db05  inline, same trace, freq 2/3
//   db06  encap, 0x800000 size 12, freq 1/2, tunsrc given
//   db07  inline, a trace too small for this node's data (overflow set)
//   db08  inline, a namespace this node does not know, 24 octets
//   db0a  inline 0x800000 size 12 (exact bytes)
//   db0b  inline, route's next hop unresolved (no static neighbour)
//   db0c  encap to a tunnel end whose next hop is unresolved
//   db0d  inline out of eth0, an edge port
//   db0e  encap with a 244-octet trace: more than the default headroom
// and db09 plain.
constexpr const char* kYaml = R"(
node: {id: 7, id_wide: 77777777}
ports:
  - name: eth0
    device: net_null0
    mac: 02:00:00:00:07:00
    addresses: [db01::7/64]
    edge: true
    ioam: {enabled: false, id: 701, id_wide: 701701}
  - name: eth1
    device: net_null1
    mac: 02:00:00:00:07:01
    mtu: 1400
    addresses: [db04::7/64]
    ioam: {enabled: true, id: 702, id_wide: 702702}
namespaces:
  - {id: 123, data: 0xdeadbee7, wide: 0xcafec0caf77dc0de, schema: 777}
schemas:
  - {id: 777, data: "abcdefgh"}
routes:
  - prefix: db03::/64
    via: db04::2
    port: eth1
    encap: {mode: encap, tundst: db02::2, trace: {type: 0xc6c002, ns: 123, size: 64}}
  - prefix: db05::/64
    via: db04::2
    port: eth1
    encap: {freq: 2/3, trace: {type: 0xc6c002, ns: 123, size: 64}}
  - prefix: db06::/64
    via: db04::2
    port: eth1
    encap: {mode: encap, freq: 1/2, tundst: db02::2, tunsrc: db01::7,
            trace: {type: 0x800000, ns: 123, size: 12}}
  - prefix: db07::/64
    via: db04::2
    port: eth1
    encap: {trace: {type: 0xc6c002, ns: 123, size: 8}}
  - prefix: db08::/64
    via: db04::2
    port: eth1
    encap: {trace: {type: 0x800000, ns: 999, size: 24}}
  - prefix: db0a::/64
    via: db04::2
    port: eth1
    encap: {trace: {type: 0x800000, ns: 123, size: 12}}
  - prefix: db0b::/64
    via: db04::3
    port: eth1
    encap: {trace: {type: 0x800000, ns: 123, size: 12}}
  - prefix: db0c::/64
    via: db04::2
    port: eth1
    encap: {mode: encap, tundst: db0f::2, trace: {type: 0x800000, ns: 123, size: 12}}
  - prefix: db0d::/64
    via: db01::1
    port: eth0
    encap: {trace: {type: 0x800000, ns: 123, size: 12}}
  - prefix: db0e::/64
    via: db04::2
    port: eth1
    encap: {mode: encap, tundst: db02::2, trace: {type: 0x800000, ns: 123, size: 244}}
  - {prefix: db02::/64, via: db04::2, port: eth1}
  - {prefix: db0f::/64, via: db04::3, port: eth1}
  - {prefix: db09::/64, via: db04::2, port: eth1}
neighbors:
  - {address: db01::1, mac: 02:00:00:00:00:01, port: eth0}
  - {address: db04::2, mac: 02:00:00:00:02:00, port: eth1}
)";

Bytes addr(const std::string& text) {
    Bytes a(16);
    if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1) throw std::runtime_error(text);
    return a;
}

// One received frame: db01::1 -> `dst`, an echo request with `payload`
// octets after it, `hop_limit`, and a flow label that differs per `seq` (the
// encap copies it to the outer header).
struct In {
    Bytes bytes;
    uint16_t headroom = RTE_PKTMBUF_HEADROOM;
    size_t split = 0;  // non-zero: two segments, the second from this octet
};

In frame(const std::string& dst, unsigned seq, size_t payload = 24, uint8_t hop_limit = 64) {
    const Bytes s = addr("db01::1"), d = addr(dst);
    test::Ipv6Fields f;
    f.src = s.data();
    f.dst = d.data();
    f.hop_limit = hop_limit;
    f.next_header = 58;
    Bytes rest = test::icmp_echo();
    for (size_t k = 0; k < payload; ++k) rest.push_back(uint8_t(seq + k));
    Bytes l3 = test::ipv6_packet(f, rest);
    l3[2] = uint8_t(seq);
    l3[3] = uint8_t(seq * 7);
    Bytes out{0x02, 0x00, 0x00, 0x00, 0x07, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd};
    test::append(out, l3);
    return In{out};
}

// Fails forward_plain's header pass (not our MAC), dropped by stage_parse.
In poison() {
    In p = frame("db09::1", 0);
    p.bytes[5] = 0x99;
    return p;
}

using Burst = std::vector<In>;

struct Outcome {
    std::vector<TxFrame> tx;
    std::unique_ptr<Forwarder> fw;
};

class InsertTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(open_dp_env(env_));
        try {
            snap_ = env_->snapshot(kYaml);
        } catch (const std::exception& e) {
            FAIL() << e.what();
        }
    }

    void TearDown() override {
        if (!env_) return;
        dp::TraceRecord r[16];
        while (env_->export_ring().pop_burst(r, 16)) {
        }
        EXPECT_EQ(env_->mbufs_in_use(), 0u) << "an mbuf did not come back to its pool";
        EXPECT_EQ(env_->tx_error(), "");
    }

    // The bursts through one fresh forwarder, flushed only at the end, so
    // the transmit buffers carry queue depth from one burst into the next.
    Outcome run(const std::vector<Burst>& bursts, bool with_poison) {
        Outcome r;
        r.fw = std::make_unique<Forwarder>(*env_);
        for (const Burst& b : bursts) {
            std::vector<rte_mbuf*> pkts;
            for (const In& f : b)
                pkts.push_back(f.split ? env_->chain(f.bytes.data(), f.bytes.size(), f.split)
                                       : env_->mbuf(f.bytes.data(), f.bytes.size(), f.headroom));
            if (with_poison) {
                const In p = poison();
                pkts.push_back(env_->mbuf(p.bytes.data(), p.bytes.size()));
            }
            for (rte_mbuf* m : pkts) EXPECT_NE(m, nullptr) << "mbuf allocation failed";
            r.fw->bp->process(*snap_, 0, pkts.data(), uint16_t(pkts.size()));
        }
        r.fw->bp->flush();
        r.tx = env_->take_tx();
        return r;
    }

    // Fast path against stages: frames, order and every counter.
    Outcome compare(const std::vector<Burst>& bursts) {
        for (const Burst& b : bursts) EXPECT_LE(b.size(), 31u) << "room for the poison frame in a burst of 32";
        Outcome fast = run(bursts, false);
        Outcome stages = run(bursts, true);
        EXPECT_EQ(fast.tx.size(), stages.tx.size());
        for (size_t i = 0; i < fast.tx.size() && i < stages.tx.size(); ++i) {
            SCOPED_TRACE("frame " + std::to_string(i));
            EXPECT_EQ(fast.tx[i].port, stages.tx[i].port);
            EXPECT_EQ(fast.tx[i].nb_segs, stages.tx[i].nb_segs);
            EXPECT_EQ(test::hex(fast.tx[i].bytes), test::hex(stages.tx[i].bytes));
        }
        const dp::WorkerStats& f = fast.fw->stats;
        const dp::WorkerStats& s = stages.fw->stats;
        for (unsigned d = 0; d < dp::kDropCount; ++d) {
            const uint64_t poisoned = Drop(d) == Drop::L2OtherHost ? bursts.size() : 0;
            EXPECT_EQ(f.drops[d].get() + poisoned, s.drops[d].get()) << dp::drop_name(Drop(d));
        }
        for (unsigned e = 0; e < dp::kIoamEventCount; ++e)
            EXPECT_EQ(f.ioam[e].get(), s.ioam[e].get()) << dp::ioam_event_name(IoamEvent(e));
        for (unsigned e = 0; e < dp::kIcmpEventCount; ++e)
            EXPECT_EQ(f.icmp[e].get(), s.icmp[e].get())
                << dp::icmp_event_name(dp::IcmpEvent(e));
        for (uint16_t p = 0; p < kPorts; ++p) EXPECT_EQ(f.tx[p].get(), s.tx[p].get());
        return fast;
    }

    DpEnv* env_ = nullptr;
    std::unique_ptr<dp::Snapshot> snap_;
};

// Bursts of `size` packets cycling through `dsts`, numbered on from `seq`.
std::vector<Burst> bursts_of(const std::vector<unsigned>& sizes,
                             const std::vector<std::string>& dsts, unsigned& seq) {
    std::vector<Burst> out;
    for (unsigned size : sizes) {
        Burst b;
        for (unsigned k = 0; k < size; ++k, ++seq) b.push_back(frame(dsts[seq % dsts.size()], seq));
        out.push_back(b);
    }
    return out;
}

TEST_F(InsertTest, EncapInlineAndSampledBurstsLeaveAsFromTheStages) {
    ASSERT_TRUE(snap_);
    unsigned seq = 1;
    // At most four encap routes per burst (the fast path's plans).
    auto bursts = bursts_of({5, 31, 7, 1, 13, 2, 31}, {"db03::1", "db05::2", "db09::3", "db06::4"}, seq);
    for (auto& b : bursts_of({3, 17, 9, 31}, {"db07::1", "db05::2", "db08::3", "db0a::4", "db09::5"}, seq))
        bursts.push_back(b);
    // Headers of every length class the fast path copies, with headroom to
    // spare for the 304 octets of db0e, and two-segment packets (queue
    // depth counts segments).
    Burst big;
    for (unsigned k = 0; k < 12; ++k, ++seq) {
        In f = frame(k % 3 ? "db0e::1" : "db03::1", seq);
        f.headroom = 400;
        big.push_back(f);
        In c = frame(k % 2 ? "db05::2" : "db06::3", seq);
        c.split = kEth + kIp6 + 4;
        big.push_back(c);
    }
    bursts.push_back(big);
    Outcome fast = compare(bursts);
    // What the comparison covered: insertion of every kind, and sampling.
    EXPECT_GT(fast.fw->events(IoamEvent::Inserted), 80u);
    EXPECT_GT(fast.fw->events(IoamEvent::SampledOut), 20u);
    EXPECT_GT(fast.fw->events(IoamEvent::TraceFilled), 50u);
    EXPECT_GT(fast.fw->events(IoamEvent::TraceOverflowSet), 5u);
    EXPECT_GT(fast.fw->events(IoamEvent::SkipUnknownNamespace), 5u);
    EXPECT_EQ(fast.fw->nonzero_drops(), "none");
}

TEST_F(InsertTest, SamplingAcrossBurstsOfOneRoute) {
    ASSERT_TRUE(snap_);
    unsigned seq = 1;
    // freq 2/3 and 1/2 routes, burst sizes prime to both periods.
    Outcome fast = compare(bursts_of({1, 1, 2, 5, 7, 11, 13, 31, 4}, {"db05::1"}, seq));
    EXPECT_EQ(fast.fw->events(IoamEvent::Inserted) + fast.fw->events(IoamEvent::SampledOut), 75u);
    EXPECT_EQ(fast.fw->events(IoamEvent::Inserted), 50u);  // 2 of every 3
    Outcome fast2 = compare(bursts_of({3, 1, 1, 9, 30}, {"db06::1"}, seq));
    EXPECT_EQ(fast2.fw->events(IoamEvent::Inserted), 22u);  // 1 of every 2 of 44
}

// The inserting fast path keeps a route's prepared header (this node's
// data) from one burst to the next when no timestamp is in it. A burst
// under another snapshot (other node and namespace data) or from another
// ingress port (another ingress id) must get its own: each burst's frames
// must be what the stages make, and the three must differ.
TEST_F(InsertTest, PreparedHeaderFollowsSnapshotAndIngressPort) {
    ASSERT_TRUE(snap_);
    std::string yaml2 = kYaml;
    for (auto [from, to] : {std::pair{"node: {id: 7,", "node: {id: 9,"},
                            std::pair{"data: 0xdeadbee7", "data: 0xdeadbee9"}}) {
        const size_t at = yaml2.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        yaml2.replace(at, std::strlen(from), to);
    }
    std::unique_ptr<dp::Snapshot> snap2;
    try {
        snap2 = env_->snapshot(yaml2);
    } catch (const std::exception& e) {
        FAIL() << e.what();
    }
    // db03: encap, 0xc6c002 (node id, ingress and egress ids, namespace
    // data, no timestamps); the same two packets every time.
    Burst from_eth0{frame("db03::1", 1), frame("db03::2", 2)};
    Burst from_eth1 = from_eth0;
    for (In& f : from_eth1) f.bytes[5] = 0x01;  // eth1's MAC
    struct Step {
        const dp::Snapshot* snap;
        uint16_t in_port;
        const Burst* burst;
    };
    const std::vector<Step> steps{{snap_.get(), 0, &from_eth0}, {snap_.get(), 0, &from_eth0},
                                  {snap2.get(), 0, &from_eth0}, {snap_.get(), 1, &from_eth1},
                                  {snap_.get(), 0, &from_eth0}};
    auto run_steps = [&](bool with_poison) {
        Outcome r;
        r.fw = std::make_unique<Forwarder>(*env_);
        for (const Step& st : steps) {
            std::vector<rte_mbuf*> pkts;
            for (const In& f : *st.burst) pkts.push_back(env_->mbuf(f.bytes.data(), f.bytes.size()));
            if (with_poison) {
                const In p = poison();
                pkts.push_back(env_->mbuf(p.bytes.data(), p.bytes.size()));
            }
            for (rte_mbuf* m : pkts) EXPECT_NE(m, nullptr) << "mbuf allocation failed";
            r.fw->bp->process(*st.snap, st.in_port, pkts.data(), uint16_t(pkts.size()));
            r.fw->bp->flush();
        }
        r.tx = env_->take_tx();
        return r;
    };
    Outcome fast = run_steps(false);
    Outcome stages = run_steps(true);
    ASSERT_EQ(fast.tx.size(), 2 * steps.size()) << fast.fw->nonzero_drops();
    ASSERT_EQ(stages.tx.size(), fast.tx.size());
    EXPECT_EQ(fast.fw->events(IoamEvent::Inserted), 2 * steps.size());
    for (size_t i = 0; i < fast.tx.size(); ++i) {
        SCOPED_TRACE("frame " + std::to_string(i));
        EXPECT_EQ(test::hex(fast.tx[i].bytes), test::hex(stages.tx[i].bytes));
    }
    // Same packets, same header: only this node's data tells them apart.
    EXPECT_EQ(test::hex(fast.tx[0].bytes), test::hex(fast.tx[2].bytes));
    EXPECT_EQ(test::hex(fast.tx[0].bytes), test::hex(fast.tx[8].bytes));
    EXPECT_NE(test::hex(fast.tx[0].bytes), test::hex(fast.tx[4].bytes)) << "new snapshot";
    EXPECT_NE(test::hex(fast.tx[0].bytes), test::hex(fast.tx[6].bytes)) << "ingress port";
}

// A burst with one packet the fast path must refuse, between bursts it
// takes: the refusal may change nothing (packets, freq counters) before the
// stages take the burst, and the bursts after it see the same counters.
TEST_F(InsertTest, NearMissesGoToTheStagesUntouched) {
    ASSERT_TRUE(snap_);
    const std::vector<std::string> good = {"db05::1", "db06::2", "db03::3", "db09::4"};
    struct Case {
        const char* what;
        In miss;
    };
    In low_headroom = frame("db03::9", 90);
    low_headroom.headroom = 100;  // encap of 64 octets needs 120
    In low_headroom_inline = frame("db05::9", 91);
    low_headroom_inline.headroom = 60;  // needs 80
    std::vector<Case> cases = {
        {"headroom below the encap's growth (payload shift)", low_headroom},
        {"headroom below the inline growth", low_headroom_inline},
        {"trace of 244 octets: more than any headroom", frame("db0e::9", 92)},
        {"insertion beyond the MTU", frame("db03::9", 93, 1400 - 48 - 120 + 1)},
        {"plain packet beyond the MTU", frame("db09::9", 94, 1400 - 48 + 1)},
        {"inline route with an unresolved next hop", frame("db0b::9", 95)},
        {"tunnel end with an unresolved next hop", frame("db0c::9", 96)},
        {"inline insertion out of an edge port", frame("db0d::9", 97)},
        {"a fifth encap route in the burst", frame("db0a::9", 98)},
        {"no route", frame("dbff::9", 99)},
        {"hop limit 1", frame("db03::9", 100, 24, 1)},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        unsigned seq = 1;
        std::vector<Burst> bursts = bursts_of({4, 6}, good, seq);
        Burst b = bursts_of({9}, good, seq)[0];
        if (std::string(c.what).find("fifth") != std::string::npos) b.push_back(frame("db07::8", 97));
        b.push_back(c.miss);
        bursts.push_back(b);
        // Enough bursts after it to outlast the fast path's rest.
        for (auto& more : bursts_of(std::vector<unsigned>(20, 3), good, seq)) bursts.push_back(more);
        Outcome fast = compare(bursts);
        EXPECT_GT(fast.fw->events(IoamEvent::Inserted), 40u);
    }
    // The misses on a route of their own burst's: every other packet of it
    // takes that route (the whole-burst route test).
    const std::vector<std::pair<const char*, std::string>> alone = {
        {"headroom below the encap's growth (payload shift)", "db03::3"},
        {"headroom below the inline growth", "db05::1"},
        {"insertion beyond the MTU", "db03::3"},
        {"hop limit 1", "db03::3"},
    };
    for (const auto& [what, route] : alone) {
        SCOPED_TRACE(std::string(what) + ", the burst all to its route");
        const Case& c = *std::find_if(cases.begin(), cases.end(),
                                      [&](const Case& k) { return std::string(k.what) == what; });
        unsigned seq = 1;
        std::vector<Burst> bursts = bursts_of({4, 6}, {route}, seq);
        Burst b = bursts_of({9}, {route}, seq)[0];
        b.insert(b.begin() + 4, c.miss);
        bursts.push_back(b);
        for (auto& more : bursts_of(std::vector<unsigned>(20, 3), {route}, seq))
            bursts.push_back(more);
        Outcome fast = compare(bursts);
        EXPECT_GT(fast.fw->events(IoamEvent::Inserted), 40u);
    }
}

// The bytes themselves, written out: inline 0x800000 with 12 octets.
TEST_F(InsertTest, InlineTraceBytes) {
    ASSERT_TRUE(snap_);
    const In in = frame("db0a::1", 5);
    Outcome r = run({{in, frame("db0a::2", 6)}}, false);
    ASSERT_EQ(r.tx.size(), 2u) << r.fw->nonzero_drops();
    EXPECT_EQ(r.fw->events(IoamEvent::Inserted), 2u);
    EXPECT_EQ(r.fw->events(IoamEvent::TraceFilled), 2u);
    Bytes want{0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07, 0x01, 0x86, 0xdd};
    Bytes ip(in.bytes.begin() + long(kEth), in.bytes.begin() + long(kEth + kIp6));
    const unsigned plen = unsigned(ip[4]) << 8 | ip[5];
    ip[4] = uint8_t((plen + 32) >> 8);
    ip[5] = uint8_t(plen + 32);
    ip[6] = 0;   // Hop-by-Hop
    ip[7] = 63;  // decremented
    test::append(want, ip);
    // HbH: next header 58, length 3 (32 octets), PadN(2), IOAM option 0x31
    // of 22 octets (pre-allocated trace), namespace 123, NodeLen 1, RemainingLen 3 -> 2, type
    // 0x800000, 8 octets of room, this node (hop limit 63, id 7), PadN(4).
    test::append(want, {58, 3, 1, 0, 0x31, 22, 0, 0, 0x00, 0x7b, 0x08, 0x02, 0x80, 0x00,
                        0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 63, 0, 0, 7, 1, 2, 0, 0});
    test::append(want, Bytes(in.bytes.begin() + long(kEth + kIp6), in.bytes.end()));
    EXPECT_EQ(test::hex(r.tx[0].bytes), test::hex(want));
}

}  // namespace
}  // namespace ioamfwd::testenv
