// RFC 4861 §7.3 neighbour states driven with a fake clock: every transition,
// retransmissions, queue bounds, failure, aging, the cache bound, and what
// advertisements and solicitations may and may not change (§7.2.3, §7.2.5).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "control/nd_machine.hpp"

namespace {

using namespace ioamfwd::cp;

NdAddr A(uint8_t last) {
    NdAddr a{0xdb, 0x02};
    a[15] = last;
    return a;
}
const NdMac kMac1{0x02, 0, 0, 0, 0, 1};
const NdMac kMac2{0x02, 0, 0, 0, 0, 2};

// Records every action as a line, and the packets by their fate.
struct Recorder : NdActions {
    std::vector<std::string> log;
    std::vector<int> released, unreachable_pkts, discarded;
    std::vector<NdMac> released_to;
    bool refuse_publish = false;
    void solicit(uint16_t port, const NdAddr& t, const NdMac* u) override {
        log.push_back("ns " + std::to_string(port) + " " + std::to_string(t[15]) +
                      (u ? " unicast " + std::to_string((*u)[5]) : " multicast"));
    }
    bool publish(uint16_t port, const NdAddr& a, const NdMac& m) override {
        log.push_back("publish " + std::to_string(port) + " " + std::to_string(a[15]) + " " +
                      std::to_string(m[5]));
        return !refuse_publish;
    }
    void withdraw(uint16_t port, const NdAddr& a) override {
        log.push_back("withdraw " + std::to_string(port) + " " + std::to_string(a[15]));
    }
    void release(void* p, const NdMac& m) override {
        released.push_back(int(reinterpret_cast<intptr_t>(p)));
        released_to.push_back(m);
    }
    void unreachable(void* p) override {
        unreachable_pkts.push_back(int(reinterpret_cast<intptr_t>(p)));
    }
    void discard(void* p) override { discarded.push_back(int(reinterpret_cast<intptr_t>(p))); }
    int count(const std::string& prefix) const {
        int n = 0;
        for (const auto& l : log) n += l.rfind(prefix, 0) == 0;
        return n;
    }
};

void* P(int n) { return reinterpret_cast<void*>(intptr_t(n)); }

NdState state_of(const NdMachine& m, uint16_t port, const NdAddr& a) {
    for (const auto& e : m.entries(0))
        if (e.port == port && e.addr == a) return e.state;
    ADD_FAILURE() << "no entry";
    return NdState::Incomplete;
}

bool has(const NdMachine& m, uint16_t port, const NdAddr& a) {
    for (const auto& e : m.entries(0))
        if (e.port == port && e.addr == a) return true;
    return false;
}

class NdMachineTest : public ::testing::Test {
protected:
    Recorder act;
    NdParams p;  // RFC defaults: 30 s, 1 s, 3, 3, 5 s, queue 3
    NdMachine m{p, act};
};

TEST_F(NdMachineTest, HoldSolicitsAtOnceAndRetransmitsEveryRetransTimer) {
    m.hold(1, A(1), P(10), 0);
    EXPECT_EQ(act.log, std::vector<std::string>{"ns 1 1 multicast"});
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Incomplete);
    m.tick(999);
    EXPECT_EQ(act.count("ns"), 1);
    m.tick(1000);
    EXPECT_EQ(act.count("ns"), 2);
    m.tick(1500);
    EXPECT_EQ(act.count("ns"), 2);
    m.tick(2000);
    EXPECT_EQ(act.count("ns"), 3);
    EXPECT_EQ(m.counters().ns_multicast, 3u);
    EXPECT_EQ(act.count("publish"), 0);  // nothing for workers while INCOMPLETE
}

TEST_F(NdMachineTest, SolicitedAdvertResolvesToReachableAndReleasesInOrder) {
    m.hold(1, A(1), P(10), 0);
    m.hold(1, A(1), P(11), 1);
    m.advert(1, A(1), &kMac1, true, true, 5);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Reachable);
    EXPECT_EQ(act.released, (std::vector<int>{10, 11}));
    EXPECT_EQ(act.released_to[0], kMac1);
    EXPECT_EQ(act.count("publish 1 1 1"), 1);
    EXPECT_EQ(m.counters().resolved, 1u);
    EXPECT_EQ(m.held(), 0u);
}

TEST_F(NdMachineTest, UnsolicitedAdvertWhileIncompleteGivesStale) {
    m.hold(1, A(1), P(10), 0);
    m.advert(1, A(1), &kMac1, false, true, 5);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Stale);
    EXPECT_EQ(act.released, std::vector<int>{10});
}

TEST_F(NdMachineTest, AdvertWithoutTllaWhileIncompleteIsIgnored) {
    m.hold(1, A(1), P(10), 0);
    m.advert(1, A(1), nullptr, true, true, 5);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Incomplete);
    EXPECT_EQ(m.counters().na_ignored, 1u);
}

TEST_F(NdMachineTest, AdvertForUnknownNeighbourCreatesNothing) {
    m.advert(1, A(9), &kMac1, false, true, 0);
    m.advert(1, A(9), &kMac1, true, true, 0);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(act.count("publish"), 0);
    EXPECT_EQ(m.counters().na_ignored, 2u);
}

TEST_F(NdMachineTest, FailureAfterMaxMulticastSolicitsAnswersEveryHeldPacket) {
    m.hold(1, A(1), P(10), 0);
    m.hold(1, A(1), P(11), 0);
    m.tick(1000);
    m.tick(2000);
    EXPECT_TRUE(act.unreachable_pkts.empty());
    m.tick(2999);
    EXPECT_TRUE(act.unreachable_pkts.empty());
    m.tick(3000);  // third solicitation unanswered for RetransTimer
    EXPECT_EQ(act.unreachable_pkts, (std::vector<int>{10, 11}));
    EXPECT_EQ(act.count("ns"), 3);
    EXPECT_FALSE(has(m, 1, A(1)));
    EXPECT_EQ(m.counters().failed, 1u);
    EXPECT_EQ(m.counters().unreachable, 2u);
    EXPECT_EQ(act.count("withdraw"), 0);  // never published
    // A new packet starts over.
    m.hold(1, A(1), P(12), 4000);
    EXPECT_EQ(act.count("ns"), 4);
}

TEST_F(NdMachineTest, PerNeighbourQueueDropsTheOldest) {
    for (int i = 0; i < 5; ++i) m.hold(1, A(1), P(10 + i), 0);
    EXPECT_EQ(act.discarded, (std::vector<int>{10, 11}));
    EXPECT_EQ(m.counters().held_dropped, 2u);
    EXPECT_EQ(m.held(), 3u);
    m.advert(1, A(1), &kMac1, true, false, 1);
    EXPECT_EQ(act.released, (std::vector<int>{12, 13, 14}));
}

TEST_F(NdMachineTest, GlobalHeldBound) {
    p.max_held = 4;
    m.set_params(p);
    for (int i = 0; i < 6; ++i) m.hold(1, A(uint8_t(i)), P(i), 0);
    EXPECT_EQ(m.held(), 4u);
    EXPECT_EQ(act.discarded, (std::vector<int>{4, 5}));
}

TEST_F(NdMachineTest, CacheBoundRefusesNewNeighbours) {
    p.max_entries = 2;
    m.set_params(p);
    m.hold(1, A(1), P(1), 0);
    m.hold(1, A(2), P(2), 0);
    m.hold(1, A(3), P(3), 0);
    m.solicitation(1, A(4), kMac1, 0);
    EXPECT_EQ(m.size(), 2u);
    EXPECT_EQ(act.discarded, std::vector<int>{3});
    EXPECT_EQ(m.counters().cache_full, 2u);
}

TEST_F(NdMachineTest, ReachableAgesToStaleThenUseGivesDelayThenProbe) {
    m.hold(1, A(1), P(1), 0);
    m.advert(1, A(1), &kMac1, true, true, 100);
    m.tick(100 + 29999);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Reachable);
    m.tick(100 + 30000);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Stale);
    m.used(1, A(1), 40000);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Delay);
    m.tick(44999);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Delay);
    const int before = act.count("ns");
    m.tick(45000);  // DELAY_FIRST_PROBE_TIME: first unicast probe
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Probe);
    EXPECT_EQ(act.count("ns 1 1 unicast 1"), 1);
    EXPECT_EQ(act.count("ns"), before + 1);
    // A solicited advertisement confirms: back to REACHABLE, no more probes.
    m.advert(1, A(1), &kMac1, true, false, 45500);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Reachable);
    m.tick(47000);
    EXPECT_EQ(act.count("ns 1 1 unicast"), 1);
}

TEST_F(NdMachineTest, UnansweredProbesRemoveTheEntry) {
    m.solicitation(1, A(1), kMac1, 0);  // STALE
    m.used(1, A(1), 10);                // DELAY
    m.tick(5010);                       // PROBE, probe 1
    m.tick(6010);                       // probe 2
    m.tick(7010);                       // probe 3
    EXPECT_EQ(act.count("ns 1 1 unicast 1"), 3);
    EXPECT_TRUE(has(m, 1, A(1)));
    m.tick(8010);
    EXPECT_FALSE(has(m, 1, A(1)));
    EXPECT_EQ(act.count("withdraw 1 1"), 1);
    EXPECT_EQ(m.counters().failed, 1u);
    EXPECT_EQ(m.counters().ns_unicast, 3u);
}

TEST_F(NdMachineTest, StaleUnusedIsCollected) {
    m.solicitation(1, A(1), kMac1, 0);
    m.tick(59999);
    EXPECT_TRUE(has(m, 1, A(1)));
    m.tick(60000);
    EXPECT_FALSE(has(m, 1, A(1)));
    EXPECT_EQ(act.count("withdraw 1 1"), 1);
    EXPECT_EQ(m.counters().gc_removed, 1u);
}

TEST_F(NdMachineTest, SolicitationCreatesStaleAndUpdatesOnlyOnChange) {
    m.solicitation(1, A(1), kMac1, 0);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Stale);
    EXPECT_EQ(act.count("publish 1 1 1"), 1);
    m.advert(1, A(1), &kMac1, true, true, 1);  // not really; but it is in the table now
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Reachable);
    m.solicitation(1, A(1), kMac1, 2);  // same address: no change
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Reachable);
    m.solicitation(1, A(1), kMac2, 3);  // new address: STALE with it
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Stale);
    EXPECT_EQ(act.count("publish 1 1 2"), 1);
}

TEST_F(NdMachineTest, SolicitationResolvesIncomplete) {
    m.hold(2, A(1), P(7), 0);
    m.solicitation(2, A(1), kMac2, 10);
    EXPECT_EQ(state_of(m, 2, A(1)), NdState::Stale);
    EXPECT_EQ(act.released, std::vector<int>{7});
    EXPECT_EQ(act.released_to[0], kMac2);
}

TEST_F(NdMachineTest, AdvertWithoutOverrideDoesNotChangeTheAddress) {
    m.hold(1, A(1), P(1), 0);
    m.advert(1, A(1), &kMac1, true, true, 1);
    m.advert(1, A(1), &kMac2, true, false, 2);  // differs, no O: REACHABLE -> STALE only
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Stale);
    EXPECT_EQ(act.count("publish 1 1 2"), 0);
    m.advert(1, A(1), &kMac2, false, true, 3);  // O, unsolicited: new address, STALE
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Stale);
    EXPECT_EQ(act.count("publish 1 1 2"), 1);
    m.advert(1, A(1), &kMac2, true, true, 4);
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Reachable);
}

TEST_F(NdMachineTest, PortsAreSeparateNeighbours) {
    m.hold(1, A(1), P(1), 0);
    m.advert(2, A(1), &kMac1, true, true, 1);  // same address, other link
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Incomplete);
    EXPECT_TRUE(act.released.empty());
}

TEST_F(NdMachineTest, HoldForAResolvedNeighbourReleasesAtOnce) {
    m.solicitation(1, A(1), kMac1, 0);
    m.hold(1, A(1), P(5), 1);
    EXPECT_EQ(act.released, std::vector<int>{5});
    EXPECT_EQ(state_of(m, 1, A(1)), NdState::Delay);  // it was used while STALE
}

TEST_F(NdMachineTest, ClearDiscardsHeldAndWithdrawsPublished) {
    m.hold(1, A(1), P(1), 0);
    m.solicitation(1, A(2), kMac1, 0);
    m.clear();
    EXPECT_EQ(act.discarded, std::vector<int>{1});
    EXPECT_EQ(act.count("withdraw 1 2"), 1);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.held(), 0u);
}

}  // namespace
