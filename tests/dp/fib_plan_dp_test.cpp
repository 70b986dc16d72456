// dataplane/fib_plan against DPDK's own rte_fib6: a FIB created with no
// more second-level groups than the plan counts (its slack left out) takes
// every route of the plan, answers every lookup as the table without
// anchors would, and the same table without anchors does not fit.

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_fib6.h>
#include <rte_memory.h>

#include <algorithm>
#include <random>
#include <string>

#include "common/ipv6_addr.hpp"
#include "dataplane/fib_plan.hpp"
#include "../unit/fib_routes.hpp"
#include "dp_env.hpp"

namespace ioamfwd::dp {
namespace {

using testenv::DpEnv;

class FibPlanDpTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string err;
        ASSERT_NE(DpEnv::init("dp_tests", err), nullptr) << err;
    }
    void TearDown() override {
        if (fib_) rte_fib6_free(fib_);
    }

    /// Creates a TRIE FIB with `num_tbl8` groups and adds `routes` in
    /// order; the index of the first add refused, or -1.
    long fill(const std::vector<FibRoute>& routes, uint32_t num_tbl8, int* rc_out = nullptr) {
        if (fib_) rte_fib6_free(fib_);
        static int serial;
        const std::string name = "fibplan" + std::to_string(serial++);
        rte_fib6_conf conf{};
        conf.type = RTE_FIB6_TRIE;
        conf.default_nh = 0;
        conf.max_routes = int(std::max<size_t>(routes.size(), 64));
        conf.trie.nh_sz = RTE_FIB6_TRIE_2B;
        conf.trie.num_tbl8 = num_tbl8;
        fib_ = rte_fib6_create(name.c_str(), SOCKET_ID_ANY, &conf);
        EXPECT_NE(fib_, nullptr) << rte_strerror(rte_errno);
        if (!fib_) return 0;
        for (size_t i = 0; i < routes.size(); ++i) {
            uint8_t a[16];
            std::memcpy(a, routes[i].addr.data(), 16);
            const int rc = rte_fib6_add(fib_, a, routes[i].depth, routes[i].nh);
            if (rc < 0) {
                if (rc_out) *rc_out = rc;
                return long(i);
            }
        }
        return -1;
    }

    uint32_t lookup(const std::array<uint8_t, 16>& a) {
        uint8_t ip[1][16];
        std::memcpy(ip[0], a.data(), 16);
        uint64_t nh = ~0ull;
        rte_fib6_lookup_bulk(fib_, ip, &nh, 1);
        return uint32_t(nh);
    }

    /// The plan fits exactly: no slack.
    void expect_fits(const std::vector<FibRoute>& table) {
        const FibPlan p = plan_fib(table);
        const uint32_t tight = std::max(p.groups + 1, p.reservation);
        int rc = 0;
        EXPECT_EQ(fill(p.routes, tight, &rc), -1) << "refused with " << rc << " at " << tight
                                                  << " groups (" << p.groups << " used, "
                                                  << p.reservation << " reserved)";
    }

    rte_fib6* fib_ = nullptr;
};

using namespace fibtest;


TEST_F(FibPlanDpTest, LoneByteAlignedRouteNeedsOneGroupMore) {
    const std::vector<FibRoute> t{R("2001:db8::/64")};
    EXPECT_EQ(tbl8_groups(t), 5u);
    EXPECT_EQ(fill(t, 5), 0);
    EXPECT_EQ(fill(t, 6), -1);
    expect_fits(t);
}

TEST_F(FibPlanDpTest, BigTableFitsWithAnchorsOnly) {
    const auto t = slash64s(100000);
    const FibPlan p = plan_fib(t);
    ASSERT_LE(p.num_tbl8, 32767u);
    int rc = 0;
    // Without anchors every /64 reserves five groups: refused after ~800.
    EXPECT_EQ(fill(t, p.num_tbl8, &rc), long(p.num_tbl8 / 5));
    EXPECT_EQ(rc, -ENOSPC);
    expect_fits(t);
    // The first, last and a middle /64, an address past the table and one
    // beside it.
    auto a = [](unsigned i, uint8_t low) {
        return std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0, uint8_t(i >> 16),
                                       uint8_t(i >> 8), uint8_t(i), 0, 0, 0, 0, 0, 0, 0, low};
    };
    EXPECT_EQ(lookup(a(0, 1)), 1u);
    EXPECT_EQ(lookup(a(54321, 7)), 1u);
    EXPECT_EQ(lookup(a(99999, 0xff)), 1u);
    EXPECT_EQ(lookup(a(100000, 1)), 0u);
    EXPECT_EQ(lookup(a(0x10000 + 0xffff, 1)), 0u);
}

TEST_F(FibPlanDpTest, HostRoutesAndShortPrefixes) {
    std::vector<FibRoute> t{R("2001::/16", 2), R("2001:d80::/25", 3), R("2001:db8::/31", 4),
                            R("2001:db8::/57", 5), R("2001:db8::/64", 6)};
    for (unsigned i = 1; i <= 300; ++i) {
        FibRoute r = R("2001:db8::/128", 10 + i);
        r.addr[14] = uint8_t(i >> 8);
        r.addr[15] = uint8_t(i);
        t.push_back(r);
    }
    t = sorted(std::move(t));
    expect_fits(t);
    for (unsigned i = 0; i <= 301; ++i) {
        auto a = R("2001:db8::/128").addr;
        a[14] = uint8_t(i >> 8);
        a[15] = uint8_t(i);
        EXPECT_EQ(lookup(a), lpm(t, a)) << i;
    }
}

// Random nested tables, as in the unit suite: the tight FIB takes them and
// answers as the plain table does.
TEST_F(FibPlanDpTest, RandomTablesFitAndAnswerTheSame) {
    std::mt19937 rng(11);
    for (int round = 0; round < 30; ++round) {
        const std::vector<FibRoute> t = random_nested_table(rng, 200);
        SCOPED_TRACE("round " + std::to_string(round));
        expect_fits(t);
        for (const auto& r : t) {
            auto hi = r.addr;
            for (unsigned bit = r.depth; bit < 128; ++bit) hi[bit / 8] |= uint8_t(0x80 >> (bit % 8));
            ASSERT_EQ(lookup(r.addr), lpm(t, r.addr)) << Ipv6Addr{r.addr}.to_string();
            ASSERT_EQ(lookup(hi), lpm(t, hi)) << Ipv6Addr{hi}.to_string();
            for (int k = 15; k >= 0 && ++hi[k] == 0; --k) {}
            ASSERT_EQ(lookup(hi), lpm(t, hi)) << Ipv6Addr{hi}.to_string();
        }
    }
}

}  // namespace
}  // namespace ioamfwd::dp
