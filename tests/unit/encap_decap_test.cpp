// The pure pieces of the encapsulating and decapsulating roles: the inserted
// Hop-by-Hop (reference §1.2), the edge stripper (RFC 9486 §6 with RFC 8200
// §4.2 padding rules) and the RFC 6040 ECN table. Expected bytes are written
// out literally from those documents.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "dataplane/ecn.hpp"
#include "dataplane/hbh_strip.hpp"
#include "dataplane/ioam_hbh_build.hpp"

namespace {

using ioamfwd::dp::build_ioam_hbh;
using ioamfwd::dp::ioam_hbh_len;
using Bytes = std::vector<uint8_t>;

Bytes build(uint8_t nh, uint16_t ns, uint32_t type, unsigned size) {
    uint8_t buf[ioamfwd::dp::kIoamHbhMax];
    std::memset(buf, 0xaa, sizeof buf);
    size_t n = build_ioam_hbh(buf, nh, ns, type, size);
    return Bytes(buf, buf + n);
}

TEST(IoamHbhBuild, SeedAthosSize12) {
    // ip -6 route ... trace prealloc type 0x800000 ns 123 size 12, next header 41.
    const Bytes expect = {
        41,   3,    0x01, 0x00,                          // HbH, PadN(2)
        0x31, 22,   0x00, 0x00,                          // IOAM option, Pre-allocated
        0x00, 0x7b, 0x08, 0x03, 0x80, 0x00, 0x00, 0x00,  // ns 123, NodeLen 1, RemLen 3
        0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0,  // 12 octets
        0x01, 0x02, 0x00, 0x00,                          // PadN(4): 12 % 8 == 4
    };
    EXPECT_EQ(build(41, 123, 0x800000, 12), expect);
}

TEST(IoamHbhBuild, Size8NeedsNoTrailingPad) {
    Bytes got = build(58, 0, 0xc00000, 8);
    ASSERT_EQ(got.size(), 24u);
    EXPECT_EQ(got[1], 2);
    EXPECT_EQ(got[5], 18);    // 2 + 8 + 8
    EXPECT_EQ(got[10], 2 << 3);  // NodeLen 2
    EXPECT_EQ(got[11], 2);       // RemLen 2
    for (size_t i = 16; i < 24; ++i) EXPECT_EQ(got[i], 0) << i;
}

TEST(IoamHbhBuild, EverySizeHasLinuxLengths) {
    for (unsigned size = 4; size <= 244; size += 4) {
        Bytes h = build(58, 7, 0xfff002, size);
        const size_t total = 16 + ((size + 7) & ~7u);
        ASSERT_EQ(h.size(), total) << size;
        EXPECT_EQ(ioam_hbh_len(size), total);
        EXPECT_EQ(h[1], total / 8 - 1) << size;
        EXPECT_EQ(h[5], 10 + size) << size;
        EXPECT_EQ(h[10], 15 << 3) << size;  // 0xfff002: NodeLen 15
        EXPECT_EQ(h[11], size / 4) << size;
        EXPECT_EQ(h[12], 0xff);
        EXPECT_EQ(h[13], 0xf0);
        EXPECT_EQ(h[14], 0x02);
        if (size % 8 == 4) {
            EXPECT_EQ(h[total - 4], 0x01) << size;
            EXPECT_EQ(h[total - 3], 0x02) << size;
        }
    }
}

int strip(const Bytes& in, Bytes& out) {
    uint8_t buf[ioamfwd::dp::kHbhMax];
    int n = ioamfwd::dp::strip_ioam_hbh(in.data(), in.size(), buf);
    out.assign(buf, buf + (n > 0 ? n : 0));
    return n;
}

TEST(HbhStrip, NoIoamLeavesTheHeaderAlone) {
    const Bytes hbh = {58, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00};  // Router Alert + PadN(2)
    Bytes out;
    EXPECT_EQ(strip(hbh, out), -1);
}

TEST(HbhStrip, IoamOnlyRemovesTheWholeHeader) {
    Bytes out;
    EXPECT_EQ(strip(build(58, 123, 0x800000, 12), out), 0);
}

TEST(HbhStrip, RouterAlertSurvivesAtItsAlignment) {
    // Router Alert at offset 2 (2n+0, RFC 2711), then PadN(4), then a Linux
    // IOAM option at offset 8.
    Bytes hbh = {58, 3, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00,
                 0x31, 14, 0x00, 0x00, 0x00, 0x7b, 0x08, 0x01,
                 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00,
                 0x01, 0x02, 0x00, 0x00};
    hbh.resize(32, 0);
    Bytes out;
    ASSERT_EQ(strip(hbh, out), 8);
    const Bytes expect = {58, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00};
    EXPECT_EQ(out, expect);
}

TEST(HbhStrip, OptionAfterIoamKeepsItsOffsetModuloEight) {
    // PadN(2), IOAM (24 octets) at 4, then an unknown skippable option (type
    // 0x1e, 2 octets of data) at 28, PadN(2) to 32.
    Bytes hbh = {0, 3, 0x01, 0x00, 0x31, 22};
    hbh.resize(28, 0);
    hbh[10] = 0x08;  // NodeLen 1
    hbh.insert(hbh.end(), {0x1e, 0x02, 0xab, 0xcd});
    hbh[0] = 17;
    ASSERT_EQ(hbh.size(), 32u);
    Bytes out;
    ASSERT_EQ(strip(hbh, out), 8);
    // 28 % 8 == 4: two octets of padding bring the option from 2 to 4.
    const Bytes expect = {17, 0, 0x01, 0x00, 0x1e, 0x02, 0xab, 0xcd};
    EXPECT_EQ(out, expect);
}

TEST(HbhStrip, PaddingNeverExceedsSevenOctets) {
    // Unknown option at offset 3 (after Pad1) and another at 9 after IOAM.
    Bytes hbh = {6, 2, 0x00, 0x1e, 0x00, 0x31, 0x02, 0x00, 0x01, 0x3e, 0x01, 0x55};
    hbh.resize(24, 0);
    hbh[12] = 0x01;  // PadN covering the rest (12 octets: too long for Linux,
    hbh[13] = 10;    // but the stripper only needs option boundaries)
    Bytes out;
    int n = strip(hbh, out);
    ASSERT_GT(n, 0);
    ASSERT_EQ(n % 8, 0);
    unsigned run = 0;
    for (size_t off = 2; off < out.size();) {
        if (out[off] == 0) {
            ++run;
            ++off;
        } else if (out[off] == 1) {
            run += out[off + 1] + 2u;
            off += out[off + 1] + 2u;
        } else {
            run = 0;
            off += out[off + 1] + 2u;
        }
        EXPECT_LE(run, 7u);
    }
    // The two kept options are still there, in order.
    EXPECT_NE(std::search(out.begin(), out.end(), hbh.begin() + 3, hbh.begin() + 5), out.end());
    EXPECT_NE(std::search(out.begin(), out.end(), hbh.begin() + 9, hbh.begin() + 12), out.end());
}

TEST(Rfc6040, DecapsulationTable) {
    using namespace ioamfwd::dp;
    // RFC 6040 §4.2, Figure 4: rows inner, columns outer; 0xff = drop.
    const uint8_t kDrop = 0xff;
    const uint8_t table[4][4] = {
        // outer: Not-ECT   ECT(1)    ECT(0)    CE
        {kEcnNotEct, kEcnNotEct, kEcnNotEct, kDrop},  // inner Not-ECT
        {kEcnEct1, kEcnEct1, kEcnEct1, kEcnCe},       // inner ECT(1)
        {kEcnEct0, kEcnEct1, kEcnEct0, kEcnCe},       // inner ECT(0)
        {kEcnCe, kEcnCe, kEcnCe, kEcnCe},             // inner CE
    };
    for (uint8_t inner = 0; inner < 4; ++inner)
        for (uint8_t outer = 0; outer < 4; ++outer) {
            uint8_t got = inner;
            const bool ok = rfc6040_decapsulate(outer, got);
            if (table[inner][outer] == kDrop)
                EXPECT_FALSE(ok) << int(inner) << "/" << int(outer);
            else
                EXPECT_TRUE(ok && got == table[inner][outer]) << int(inner) << "/" << int(outer);
        }
}

// The fused path skips RFC 6040 when rfc6040_may_change says the outer
// codepoint leaves every inner one alone: it must say so for exactly the
// outer codepoints of the table's unchanged columns (Not-ECT, ECT(0)).
TEST(Rfc6040, MayChangeIsExact) {
    using namespace ioamfwd::dp;
    for (uint8_t outer = 0; outer < 4; ++outer) {
        bool changes = false;
        for (uint8_t inner = 0; inner < 4; ++inner) {
            uint8_t got = inner;
            if (!rfc6040_decapsulate(outer, got) || got != inner) changes = true;
        }
        EXPECT_EQ(rfc6040_may_change(outer), changes) << int(outer);
    }
    EXPECT_FALSE(rfc6040_may_change(kEcnNotEct));
    EXPECT_FALSE(rfc6040_may_change(kEcnEct0));
}

}  // namespace
