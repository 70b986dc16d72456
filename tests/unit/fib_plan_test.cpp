// FIB sizing (dataplane/fib_plan): exact tbl8 group counts, rte_fib6's
// reservation bound, and anchors that leave every lookup as it was. The dp
// suite (tests/dp/fib_plan_dp_test.cpp) checks the same plans against DPDK.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/ipv6_addr.hpp"
#include "dataplane/fib_plan.hpp"
#include "fib_routes.hpp"

namespace ioamfwd::dp {
namespace {

using namespace fibtest;


TEST(FibPlan, Covers) {
    EXPECT_TRUE(fib_covers(R("2001:db8::/32"), R("2001:db8:1::/48")));
    EXPECT_TRUE(fib_covers(R("2001:db8::/32"), R("2001:db8::/32")));
    EXPECT_FALSE(fib_covers(R("2001:db8:1::/48"), R("2001:db8::/32")));
    EXPECT_TRUE(fib_covers(R("2001:db8::/33"), R("2001:db8:7fff::/48")));
    EXPECT_FALSE(fib_covers(R("2001:db8::/33"), R("2001:db8:8000::/48")));
    EXPECT_TRUE(fib_covers(R("::/0"), R("ff02::1/128")));
}

TEST(FibPlan, GroupsOfSingleRoutes) {
    EXPECT_EQ(tbl8_groups({}), 0u);
    EXPECT_EQ(tbl8_groups({R("2001:db8::/24")}), 0u);  // the first level alone
    EXPECT_EQ(tbl8_groups({R("::/0")}), 0u);
    EXPECT_EQ(tbl8_groups({R("2001:db8::/25")}), 1u);
    EXPECT_EQ(tbl8_groups({R("2001:db8::/32")}), 1u);
    EXPECT_EQ(tbl8_groups({R("2001:db8::/33")}), 2u);
    EXPECT_EQ(tbl8_groups({R("2001:db8::/64")}), 5u);
    EXPECT_EQ(tbl8_groups({R("2001:db8::/65")}), 6u);
    EXPECT_EQ(tbl8_groups({R("2001:db8::1/128")}), 13u);
}

TEST(FibPlan, GroupsAreShared) {
    // Siblings in one /56 share all five groups.
    EXPECT_EQ(tbl8_groups(sorted({R("2001:db8::/64"), R("2001:db8:0:ff::/64")})), 5u);
    // Different /56s of one /48: a second last-level group.
    EXPECT_EQ(tbl8_groups(sorted({R("2001:db8::/64"), R("2001:db8:0:100::/64")})), 6u);
    // Different /48s: the /48 and /56 levels twice.
    EXPECT_EQ(tbl8_groups(sorted({R("2001:db8::/64"), R("2001:db8:1::/64")})), 7u);
    // A covering route adds no group of its own when it ends on a level
    // the others already pass.
    EXPECT_EQ(tbl8_groups(sorted({R("2001:db8::/48"), R("2001:db8::/64"),
                                  R("2001:db8:0:1::/64")})),
              5u);
    // Host routes: ::1 and ::2 share fifteen octets, ::1:0:0:1 only nine.
    EXPECT_EQ(tbl8_groups(sorted({R("2001:db8::1/128"), R("2001:db8::2/128")})), 13u);
    EXPECT_EQ(tbl8_groups(sorted({R("2001:db8::1/128"), R("2001:db8::1:0:0:1/128")})),
              13u + 6u);
    // Unaligned lengths: a /25 and a /31 of one /24 share its one group; a
    // /60 under the /56 of a /64 shares all five.
    EXPECT_EQ(tbl8_groups(sorted({R("2001:d80::/25"), R("2001:db8::/31")})), 1u);
    EXPECT_EQ(tbl8_groups(sorted({R("2001:db8::/60"), R("2001:db8:0:1::/64")})), 5u);
    // Nothing under /24 counts, however many.
    EXPECT_EQ(tbl8_groups(sorted({R("2001::/16"), R("2001:db8::/24"), R("3000::/8")})), 0u);
}

TEST(FibPlan, GroupsOfTheBigTable) {
    // One /24, /32 and /40 group; two /48s (X = 0, 1); 391 /56s
    // (i >> 8 = 0..390).
    EXPECT_EQ(tbl8_groups(slash64s(100000)), 1u + 1u + 1u + 2u + 391u);
}

TEST(FibPlan, Reservation) {
    EXPECT_EQ(tbl8_reservation({R("2001:db8::/24")}), 0u);
    EXPECT_EQ(tbl8_reservation({R("2001:db8::/25")}), 1u);
    EXPECT_EQ(tbl8_reservation({R("2001:db8::/64")}), 5u);
    EXPECT_EQ(tbl8_reservation({R("2001:db8::1/128")}), 13u);
    // Byte-aligned siblings each reserve the whole path.
    EXPECT_EQ(tbl8_reservation(sorted({R("2001:db8::/64"), R("2001:db8:0:1::/64")})), 10u);
    EXPECT_EQ(tbl8_reservation(slash64s(100000)), 500000u);
    // From the covering route's length, rounded up to whole octets.
    EXPECT_EQ(tbl8_reservation(sorted({R("2001:db8::/56"), R("2001:db8::/64")})), 4u + 1u);
    EXPECT_EQ(tbl8_reservation(sorted({R("2001:db8::/48"), R("2001:db8::/64")})), 3u + 2u);
    EXPECT_EQ(tbl8_reservation(sorted({R("2001:db8::/57"), R("2001:db8::/64")})), 5u + 0u);
    EXPECT_EQ(tbl8_reservation(sorted({R("2001::/16"), R("2001:db8::/64")})), 5u);
}

TEST(FibPlan, AnchorsTwoRoutesInAHalf) {
    const auto t = sorted({R("2001:db8::/64", 3), R("2001:db8:0:1::/64", 4)});
    const auto a = with_anchors(t);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a[0], R("2001:db8::/57", 0));  // no route covers it: the default
    EXPECT_EQ(a[1], t[0]);
    EXPECT_EQ(a[2], t[1]);
    EXPECT_EQ(tbl8_reservation(a), 5u);
    EXPECT_EQ(tbl8_groups(a), 5u);
}

TEST(FibPlan, AnchorTakesTheCoveringNextHop) {
    const auto t = sorted({R("2001:db8::/32", 7), R("2001:db8:0:80::/64", 3),
                           R("2001:db8:0:81::/64", 4), R("2001:db8::/40", 9)});
    const auto a = with_anchors(t);
    ASSERT_EQ(a.size(), 5u);
    EXPECT_EQ(a[2], R("2001:db8:0:80::/57", 9));  // the /40 is the longest cover
}

TEST(FibPlan, NoAnchorWhereItGainsNothingOrIsARoute) {
    // Alone in its half.
    EXPECT_EQ(with_anchors({R("2001:db8::/64")}).size(), 1u);
    // Different halves of one /56.
    EXPECT_EQ(with_anchors(sorted({R("2001:db8::/64"), R("2001:db8:0:80::/64")})).size(), 2u);
    // The half is itself a route.
    const auto t = sorted({R("2001:db8::/57", 2), R("2001:db8::/64"), R("2001:db8:0:1::/64")});
    EXPECT_EQ(with_anchors(t), t);
    // Nothing under /24 needs one.
    const auto s = sorted({R("2001::/16"), R("2001:db8::/24"), R("2001:db9::/24")});
    EXPECT_EQ(with_anchors(s), s);
}

TEST(FibPlan, AnchorsOfTheBigTable) {
    // Every /56 has routes in both halves: 782 anchors of 5 each, and the
    // routes under them reserve nothing.
    const FibPlan p = plan_fib(slash64s(100000));
    EXPECT_EQ(p.anchors, 782u);
    EXPECT_EQ(p.routes.size(), 100782u);
    EXPECT_EQ(p.groups, 396u);
    EXPECT_EQ(p.reservation, 782u * 5u);
    EXPECT_EQ(p.num_tbl8, 782u * 5u + 32u);
    EXPECT_LE(p.num_tbl8, 32767u);  // 2-octet entries
}

TEST(FibPlan, HostRoutesShareOneAnchor) {
    std::vector<FibRoute> t;
    for (unsigned i = 1; i <= 100; ++i) {
        FibRoute r = R("2001:db8::/128", i);
        r.addr[15] = uint8_t(i);
        t.push_back(r);
    }
    EXPECT_EQ(tbl8_reservation(t), 1300u);
    const FibPlan p = plan_fib(t);
    EXPECT_EQ(p.anchors, 1u);  // 2001:db8::/121
    EXPECT_EQ(p.groups, 13u);
    EXPECT_EQ(p.reservation, 13u);
    EXPECT_EQ(p.num_tbl8, 13u + 1u + 32u);  // the groups, one passing, the slack
}

TEST(FibPlan, ByteAlignedAddTakesOneGroupMore) {
    // Adding a /64 builds a group for its ninth octet before finding it
    // uniform and freeing it again.
    const FibPlan p = plan_fib({R("2001:db8::/64")});
    EXPECT_EQ(p.groups, 5u);
    EXPECT_EQ(p.reservation, 5u);
    EXPECT_EQ(p.num_tbl8, 6u + 32u);  // a byte-aligned add briefly takes one more
}

// Random tables in a small corner of the address space (so prefixes nest
// and share groups): every lookup answers the same with the anchors.
TEST(FibPlan, AnchorsChangeNoLookup) {
    std::mt19937 rng(7);
    for (int round = 0; round < 40; ++round) {
        const std::vector<FibRoute> t = random_nested_table(rng, 60);
        const FibPlan p = plan_fib(t);
        ASSERT_TRUE(std::is_sorted(p.routes.begin(), p.routes.end(), route_less));
        EXPECT_LE(p.reservation, tbl8_reservation(t)) << "round " << round;
        EXPECT_EQ(p.groups, tbl8_groups(t)) << "round " << round;
        // Probe each prefix's first and last address and their neighbours,
        // plus random addresses in the corner.
        std::vector<std::array<uint8_t, 16>> probes;
        for (const auto& r : p.routes) {
            auto lo = r.addr;
            auto hi = r.addr;
            for (unsigned bit = r.depth; bit < 128; ++bit) hi[bit / 8] |= uint8_t(0x80 >> (bit % 8));
            probes.push_back(lo);
            probes.push_back(hi);
            for (int k = 15; k >= 0 && ++hi[k] == 0; --k) {}
            probes.push_back(hi);
            for (int k = 15; k >= 0 && lo[k]-- == 0; --k) {}
            probes.push_back(lo);
        }
        for (int i = 0; i < 200; ++i) {
            std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
            for (int k = 4; k < 16; ++k) a[k] = uint8_t(rng());
            probes.push_back(a);
        }
        for (const auto& a : probes)
            ASSERT_EQ(lpm(p.routes, a), lpm(t, a))
                << "round " << round << " probe " << Ipv6Addr{a}.to_string();
    }
}

}  // namespace
}  // namespace ioamfwd::dp
