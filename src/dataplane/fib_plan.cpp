#include "dataplane/fib_plan.hpp"

#include <algorithm>
#include <cstring>

namespace ioamfwd::dp {

namespace {

// The trie's first level resolves 24 bits; every further octet is a group.
constexpr unsigned kFirstLevelBits = 24;

// Headroom over the computed need. None should be used (the dp suite
// fills FIBs of exactly the computed size), but a FIB one group short
// fails a whole reload, and 32 groups of 2-octet entries cost 16 KiB.
constexpr uint32_t kSlack = 32;

unsigned ceil8(unsigned bits) { return (bits + 7u) / 8u * 8u; }

std::array<uint8_t, 16> masked(const std::array<uint8_t, 16>& a, unsigned depth) {
    std::array<uint8_t, 16> out{};
    const unsigned full = depth / 8;
    std::memcpy(out.data(), a.data(), full);
    if (depth % 8) out[full] = uint8_t(a[full] & (0xff00u >> (depth % 8)));
    return out;
}

bool before(const FibRoute& x, const FibRoute& y) {
    const int c = std::memcmp(x.addr.data(), y.addr.data(), 16);
    return c < 0 || (c == 0 && x.depth < y.depth);
}

// Walks `sorted` keeping the chain of prefixes that cover the current one.
class CoverStack {
public:
    /// The longest earlier prefix covering `r` (r itself excluded), or null.
    const FibRoute* enter(const FibRoute& r) {
        while (!chain_.empty() && !fib_covers(*chain_.back(), r)) chain_.pop_back();
        const FibRoute* cover = chain_.empty() ? nullptr : chain_.back();
        chain_.push_back(&r);
        return cover;
    }

private:
    std::vector<const FibRoute*> chain_;
};

}  // namespace

bool fib_covers(const FibRoute& outer, const FibRoute& inner) {
    if (outer.depth > inner.depth) return false;
    const unsigned full = outer.depth / 8;
    if (std::memcmp(outer.addr.data(), inner.addr.data(), full) != 0) return false;
    const unsigned rest = outer.depth % 8;
    if (rest == 0) return true;
    const uint8_t mask = uint8_t(0xff00u >> rest);
    return (outer.addr[full] & mask) == (inner.addr[full] & mask);
}

uint32_t tbl8_groups(const std::vector<FibRoute>& sorted) {
    // In address order every k-octet prefix's routes are contiguous, so a
    // prefix is new exactly when it differs from the last one counted at
    // its level.
    std::array<uint8_t, 16> last[16];
    bool have[16] = {};
    uint32_t groups = 0;
    for (const FibRoute& r : sorted) {
        for (unsigned k = kFirstLevelBits / 8; 8 * k < r.depth; ++k) {
            if (have[k] && std::memcmp(last[k].data(), r.addr.data(), k) == 0) continue;
            std::memcpy(last[k].data(), r.addr.data(), k);
            have[k] = true;
            ++groups;
        }
    }
    return groups;
}

uint32_t tbl8_reservation(const std::vector<FibRoute>& sorted) {
    CoverStack covers;
    uint32_t total = 0;
    for (const FibRoute& r : sorted) {
        const FibRoute* c = covers.enter(r);
        if (r.depth <= kFirstLevelBits) continue;
        const unsigned from = std::max(kFirstLevelBits, c ? unsigned(c->depth) : 0u);
        total += (ceil8(r.depth) - ceil8(from)) / 8;
    }
    return total;
}

std::vector<FibRoute> with_anchors(const std::vector<FibRoute>& sorted) {
    // The half-group each route past /24 ends in: its prefix one bit longer
    // than the last whole octet before its last bit.
    std::vector<FibRoute> halves;
    for (const FibRoute& r : sorted) {
        if (r.depth <= kFirstLevelBits) continue;
        const unsigned depth = (r.depth - 1u) / 8u * 8u + 1u;
        halves.push_back(FibRoute{masked(r.addr, depth), uint8_t(depth), 0});
    }
    std::sort(halves.begin(), halves.end(), before);

    // One route alone in its half gains nothing from an anchor; a route that
    // is the half itself already is one.
    std::vector<FibRoute> anchors;
    for (size_t i = 0; i < halves.size();) {
        size_t j = i + 1;
        while (j < halves.size() && halves[j] == halves[i]) ++j;
        if (j - i >= 2 && !std::binary_search(sorted.begin(), sorted.end(), halves[i], before))
            anchors.push_back(halves[i]);
        i = j;
    }

    // Merge, giving each anchor the next hop of its longest cover among the
    // table's own routes (never another anchor's): what the table answers
    // for the anchor's addresses that no longer route covers.
    std::vector<FibRoute> out;
    out.reserve(sorted.size() + anchors.size());
    std::vector<const FibRoute*> chain;  // the table's routes covering the current entry
    size_t a = 0;
    for (size_t i = 0; i < sorted.size() || a < anchors.size();) {
        const bool anchor = a < anchors.size() && (i == sorted.size() ||
                                                   before(anchors[a], sorted[i]));
        const FibRoute& r = anchor ? anchors[a++] : sorted[i++];
        while (!chain.empty() && !fib_covers(*chain.back(), r)) chain.pop_back();
        out.push_back(r);
        if (anchor)
            out.back().nh = chain.empty() ? 0 : chain.back()->nh;
        else
            chain.push_back(&r);
    }
    return out;
}

FibPlan plan_fib(const std::vector<FibRoute>& sorted) {
    FibPlan p;
    p.routes = with_anchors(sorted);
    p.anchors = uint32_t(p.routes.size() - sorted.size());
    p.groups = tbl8_groups(p.routes);
    p.reservation = tbl8_reservation(p.routes);
    p.num_tbl8 = std::max(p.groups + 1, p.reservation) + kSlack;
    return p;
}

}  // namespace ioamfwd::dp
