#pragma once
// Route tables for the FIB sizing tests: the unit suite (fib_plan_test.cpp)
// and the dp suite (tests/dp/fib_plan_dp_test.cpp, against rte_fib6) build
// the same tables and check lookups against the same reference.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <random>
#include <vector>

#include "common/ipv6_addr.hpp"
#include "dataplane/fib_plan.hpp"

namespace ioamfwd::dp::fibtest {

inline FibRoute R(const char* prefix, uint32_t nh = 1) {
    auto p = Ipv6Prefix::parse(prefix);
    EXPECT_TRUE(p) << prefix;
    return FibRoute{p->network().bytes, p->length, nh};
}

/// The order fib_plan wants its tables in: by address, then depth.
inline bool route_less(const FibRoute& a, const FibRoute& b) {
    return a.addr != b.addr ? a.addr < b.addr : a.depth < b.depth;
}

inline std::vector<FibRoute> sorted(std::vector<FibRoute> v) {
    std::sort(v.begin(), v.end(), route_less);
    return v;
}

// 2001:db8:X:Y::/64 for i < n, X = i >> 16, Y = i & 0xffff (the benchmark's
// and test_route_scale's big table).
inline std::vector<FibRoute> slash64s(unsigned n, uint32_t nh = 1) {
    std::vector<FibRoute> v;
    for (unsigned i = 0; i < n; ++i) {
        FibRoute r{{0x20, 0x01, 0x0d, 0xb8, 0, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)},
                   64, nh};
        v.push_back(r);
    }
    return v;
}

inline uint32_t lpm(const std::vector<FibRoute>& table, const std::array<uint8_t, 16>& a) {
    const FibRoute* best = nullptr;
    const FibRoute host{a, 128, 0};
    for (const auto& r : table)
        if (fib_covers(r, host) && (!best || r.depth > best->depth)) best = &r;
    return best ? best->nh : 0;
}

/// `n` random routes in a small corner of the address space (few distinct
/// octets, so prefixes collide, nest and share groups), sorted and without
/// duplicate prefixes, next hops 1-5.
inline std::vector<FibRoute> random_nested_table(std::mt19937& rng, int n) {
    static constexpr uint8_t kDepths[] = {16, 24, 25, 31, 32, 40, 47, 48, 56, 57,
                                          60, 63, 64, 65, 72, 96, 120, 121, 127, 128};
    std::vector<FibRoute> t;
    for (int i = 0; i < n; ++i) {
        std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
        for (int k = 4; k < 16; ++k) a[k] = uint8_t((rng() % 3) * 0x40 + (rng() % 2));
        const uint8_t d = kDepths[rng() % std::size(kDepths)];
        t.push_back({Ipv6Prefix{Ipv6Addr{a}, d}.network().bytes, d, 1 + uint32_t(rng() % 5)});
    }
    t = sorted(std::move(t));
    t.erase(std::unique(t.begin(), t.end(),
                        [](const FibRoute& x, const FibRoute& y) {
                            return x.addr == y.addr && x.depth == y.depth;
                        }),
            t.end());
    return t;
}

}  // namespace ioamfwd::dp::fibtest
