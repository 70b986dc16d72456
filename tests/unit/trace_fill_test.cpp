// Unit tests for fill_trace (reference §2.2 fill algorithm, §2.3 per-bit
// values) and for the trace-type helpers (§2.1 step 7, §3.1). Every expected
// buffer is built by hand from the reference, then compared byte for byte with
// the whole buffer the code wrote into, so a stray write anywhere is caught.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/ioam_wire.hpp"
#include "common/trace_type.hpp"
#include "dataplane/trace_fill.hpp"
#include "packet_builder.hpp"

namespace ioamfwd::test {
namespace {

using dp::FillOutcome;
using dp::HopData;
using dp::NamespaceData;
using dp::NodeIds;

// Layout of the buffer handed to fill_trace: 4 guard octets standing for the
// HbH header and its PadN(2), the IOAM option, then a PadN(4) as guard behind.
// Offsets below are into that buffer.
constexpr size_t kOpt = 4;               // option type octet 0x31
constexpr size_t kOctet2 = kOpt + 4 + 2;  // NodeLen | O | 2 unused
constexpr size_t kOctet3 = kOpt + 4 + 3;  // unused | RemLen
constexpr size_t kData = kOpt + 4 + 8;    // first octet of the pre-allocated data

struct TraceBuf {
    Bytes bytes;
    uint8_t* opt() { return bytes.data() + kOpt; }
};

TraceBuf make_trace(const TraceHdr& h, const Bytes& data) {
    TraceBuf t;
    t.bytes = {0x3a, 0x03, 0x01, 0x00};
    append(t.bytes, trace_option(h, data));
    append(t.bytes, {0x01, 0x02, 0x00, 0x00});
    return t;
}

void overwrite(Bytes& b, size_t at, const Bytes& v) {
    ASSERT_LE(at + v.size(), b.size());
    std::memcpy(b.data() + at, v.data(), v.size());
}

// Data area of `words` words whose last `used` words already hold an upstream
// node's data (a recognisable 0xa5 pattern), the rest zero as the encap node
// left it.
Bytes data_area(unsigned words, unsigned used) {
    Bytes d(size_t(words) * 4, 0x00);
    for (size_t i = size_t(words - used) * 4; i < d.size(); ++i) d[i] = 0xa5;
    return d;
}

// Profile values chosen so that every field has distinct, non-trivial octets
// (selftest Beta ids where they fit, §6.1).
NodeIds node_ids() {
    NodeIds n;
    n.id = 0x123456;
    n.id_wide = 0x0011223344556677ull;
    return n;
}

NamespaceData ns_data() {
    NamespaceData ns;
    ns.data = 0xdeadbeef;
    ns.wide = 0xcafec0caf00dc0deull;
    return ns;
}

HopData hop_data() {
    HopData h;
    h.hop_limit = 63;
    h.ingress_id = 201;
    h.egress_id = 202;
    h.ingress_wide = 201201;
    h.egress_wide = 202202;
    h.ts_sec = 0x6a0b0c0d;
    h.ts_usec = 999999;
    h.queue_depth = 0x00001234;
    return h;
}

// §2.3, written out literally for the profile above.
const Bytes kBit0 = {0x3f, 0x12, 0x34, 0x56};  // hop limit 63, node id 0x123456
const Bytes kBit1 = {0x00, 0xc9, 0x00, 0xca};  // ingress 201, egress 202
const Bytes kBit2 = {0x6a, 0x0b, 0x0c, 0x0d};
const Bytes kBit3 = {0x00, 0x0f, 0x42, 0x3f};  // 999999 us
const Bytes kFfff = {0xff, 0xff, 0xff, 0xff};  // bits 4, 7, 11, 12-21
const Bytes kBit5 = {0xde, 0xad, 0xbe, 0xef};
const Bytes kBit6 = {0x00, 0x00, 0x12, 0x34};
const Bytes kBit8 = {0x3f, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
const Bytes kBit9 = {0x00, 0x03, 0x11, 0xf1, 0x00, 0x03, 0x15, 0xda};  // 201201 / 202202
const Bytes kBit10 = {0xca, 0xfe, 0xc0, 0xca, 0xf0, 0x0d, 0xc0, 0xde};
const Bytes kOssNoSchema = {0x00, 0xff, 0xff, 0xff};  // length 0, schema id 0xFFFFFF

// The selftest schema (§6.1): id 777, 33 ASCII octets padded to 36, so the
// header word is (36/4) << 24 | 777 = 0x09000309.
constexpr char kSchemaText[] = "something that will be 4n-aligned";
static_assert(sizeof kSchemaText - 1 == 33);

Bytes schema_oss() {
    // Sized up front and copied into: GCC 12 at -O2 reports a false
    // -Warray-bounds for vector::insert from a char range here.
    Bytes b(40, 0x00);  // header + 33 octets + 3 zero octets of padding
    b[0] = 0x09;
    b[1] = 0x00;
    b[2] = 0x03;
    b[3] = 0x09;
    std::memcpy(b.data() + 4, kSchemaText, 33);
    return b;
}

NamespaceData with_oss(NamespaceData ns, const Bytes& oss) {
    ns.oss = oss.data();
    ns.oss_words = uint16_t(oss.size() / 4);
    return ns;
}

// ---------------------------------------------------------------------------
// One bit at a time (§2.3), written in front of an upstream node's data.

struct SingleBit {
    unsigned bit;
    Bytes expected;
};

class FillSingleBit : public ::testing::TestWithParam<SingleBit> {};

TEST_P(FillSingleBit, WritesFieldInFrontOfPreviousNodeAndNothingElse) {
    const SingleBit& p = GetParam();
    const unsigned nodelen = unsigned(p.expected.size() / 4);
    // RemLen 3 of 3 + nodelen words: the upstream node used the last nodelen
    // words, so we must write at (3 - nodelen) * 4 and leave RemLen 3 - nodelen.
    TraceHdr h;
    h.nodelen = nodelen;
    h.remlen = 3;
    h.type = type_bit(p.bit);
    TraceBuf t = make_trace(h, data_area(3 + nodelen, nodelen));
    Bytes expected = t.bytes;
    overwrite(expected, kData + (3 - nodelen) * 4, p.expected);
    expected[kOctet3] = uint8_t(3 - nodelen);

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

std::vector<SingleBit> single_bits() {
    std::vector<SingleBit> v = {
        {0, kBit0}, {1, kBit1}, {2, kBit2}, {3, kBit3}, {4, kFfff},   {5, kBit5},
        {6, kBit6}, {7, kFfff}, {8, kBit8}, {9, kBit9}, {10, kBit10}, {11, kFfff},
    };
    for (unsigned bit = 12; bit <= 21; ++bit) v.push_back({bit, kFfff});
    return v;
}

INSTANTIATE_TEST_SUITE_P(Bits, FillSingleBit, ::testing::ValuesIn(single_bits()),
                         [](const ::testing::TestParamInfo<SingleBit>& info) {
                             return "bit" + std::to_string(info.param.bit);
                         });

// The selftest shape (size 4 or 8, nothing upstream): data at offset 0,
// header (0, NodeLen, 0) afterwards.
TEST(FillTrace, Bit0InSmallestTraceEndsWithRemLenZero) {
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 1;
    h.type = 0x800000;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    Bytes expected = t.bytes;
    overwrite(expected, kData, kBit0);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, Bit8InEightOctetTrace) {
    TraceHdr h;
    h.nodelen = 2;
    h.remlen = 2;
    h.type = 0x008000;
    TraceBuf t = make_trace(h, Bytes(8, 0));
    Bytes expected = t.bytes;
    overwrite(expected, kData, kBit8);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, AllUndefinedBitsWriteOnesEach) {
    TraceHdr h;
    h.nodelen = 10;
    h.remlen = 11;
    h.type = 0x000ffc;  // bits 12-21
    TraceBuf t = make_trace(h, Bytes(44, 0));
    Bytes expected = t.bytes;
    overwrite(expected, kData + 4, Bytes(40, 0xff));
    expected[kOctet3] = 1;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, MixedBitsAscendingOrder) {
    // bits 1, 5, 8, 12 and 21: short, short, wide, undefined, undefined.
    TraceHdr h;
    h.type = type_bit(1) | type_bit(5) | type_bit(8) | type_bit(12) | type_bit(21);
    h.nodelen = 6;
    h.remlen = 6;
    TraceBuf t = make_trace(h, Bytes(24, 0));
    Bytes expected = t.bytes;
    Bytes node = kBit1;
    append(node, kBit5);
    append(node, kBit8);
    append(node, kFfff);
    append(node, kFfff);
    overwrite(expected, kData, node);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

// ---------------------------------------------------------------------------
// Bit 22, Opaque State Snapshot (§2.2 step 2, §2.3 row 22).

TEST(FillTrace, OssWithoutSchemaIsOneWord) {
    // Selftest input_bit22 / input_no_room_oss: size 4, header (0, 0, 0) after.
    TraceHdr h;
    h.nodelen = 0;
    h.remlen = 1;
    h.type = 0x000002;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    Bytes expected = t.bytes;
    overwrite(expected, kData, kOssNoSchema);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), kOssNoSchema), hop_data()),
              FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, OssWithSchemaExactFit) {
    // Selftest output_bit22: size 40, header (0, 0, 0), header word 0x09000309.
    const Bytes oss = schema_oss();
    ASSERT_EQ(oss.size(), 40u);
    TraceHdr h;
    h.nodelen = 0;
    h.remlen = 10;
    h.type = 0x000002;
    TraceBuf t = make_trace(h, Bytes(40, 0));
    Bytes expected = t.bytes;
    overwrite(expected, kData, oss);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), oss), hop_data()),
              FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, OssWithSchemaInFrontOfPreviousNode) {
    const Bytes oss = schema_oss();
    TraceHdr h;
    h.nodelen = 0;
    h.remlen = 12;
    h.type = 0x000002;
    TraceBuf t = make_trace(h, data_area(13, 1));
    Bytes expected = t.bytes;
    overwrite(expected, kData + 8, oss);  // (12 - 0 - 10) * 4
    expected[kOctet3] = 2;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), oss), hop_data()),
              FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, OssFollowsNodeDataAndIsNotPartOfNodeLen) {
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 3;
    h.type = 0x800002;  // bit 0 + bit 22
    TraceBuf t = make_trace(h, Bytes(12, 0));
    Bytes expected = t.bytes;
    Bytes node = kBit0;
    append(node, kOssNoSchema);
    overwrite(expected, kData + 4, node);  // (3 - 1 - 1) * 4
    expected[kOctet3] = 1;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), kOssNoSchema), hop_data()),
              FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, SchemaIgnoredWhenBit22Clear) {
    // A schema bound to the namespace costs nothing unless the type asks for
    // the OSS: a size-4 bit-0 trace must still fit.
    const Bytes oss = schema_oss();
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 1;
    h.type = 0x800000;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    Bytes expected = t.bytes;
    overwrite(expected, kData, kBit0);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), oss), hop_data()),
              FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, NoRoomForOssSetsOverflow) {
    // Selftest output_no_room_oss: size 4, schema needs 10 words → (1, 0, 1).
    const Bytes oss = schema_oss();
    TraceHdr h;
    h.nodelen = 0;
    h.remlen = 1;
    h.type = 0x000002;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    Bytes expected = t.bytes;
    expected[kOctet2] = 0x04;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), oss), hop_data()),
              FillOutcome::OverflowSet);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, NoRoomForNodeDataPlusOss) {
    // NodeLen alone fits (1 <= 1) but NodeLen + OSS (2) does not.
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 1;
    h.type = 0x800002;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    Bytes expected = t.bytes;
    expected[kOctet2] = uint8_t(1 << 3 | 0x04);

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), kOssNoSchema), hop_data()),
              FillOutcome::OverflowSet);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

// ---------------------------------------------------------------------------
// Full supported trace 0xfff002 (selftest *_full_supp_trace, §11.2/§11.3).

Bytes full_node_data() {
    Bytes b;
    for (const Bytes* f : {&kBit0, &kBit1, &kBit2, &kBit3, &kFfff, &kBit5, &kBit6, &kFfff,
                           &kBit8, &kBit9, &kBit10, &kFfff})
        append(b, *f);
    return b;
}

TEST(FillTrace, FullTraceWithSchemaSize100) {
    const Bytes oss = schema_oss();
    TraceHdr h;
    h.nodelen = 15;
    h.remlen = 25;
    h.type = 0xfff002;
    TraceBuf t = make_trace(h, Bytes(100, 0));
    Bytes node = full_node_data();
    ASSERT_EQ(node.size(), 60u);
    append(node, oss);
    Bytes expected = t.bytes;
    overwrite(expected, kData, node);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), oss), hop_data()),
              FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, FullTraceWithoutSchemaSize64) {
    TraceHdr h;
    h.nodelen = 15;
    h.remlen = 16;
    h.type = 0xfff002;
    TraceBuf t = make_trace(h, Bytes(64, 0));
    Bytes node = full_node_data();
    append(node, kOssNoSchema);
    Bytes expected = t.bytes;
    overwrite(expected, kData, node);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), with_oss(ns_data(), kOssNoSchema), hop_data()),
              FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

// ---------------------------------------------------------------------------
// Bit 23 (§2.1 last paragraph, §2.3 row 23): ignored, selects nothing.

TEST(FillTrace, Bit23AloneWritesNothingAndKeepsRemLen) {
    TraceHdr h;
    h.nodelen = 0;
    h.remlen = 1;
    h.type = 0x000001;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    const Bytes expected = t.bytes;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, Bit23WithBit0WritesOnlyBit0) {
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 2;
    h.type = 0x800001;
    TraceBuf t = make_trace(h, Bytes(8, 0));
    Bytes expected = t.bytes;
    overwrite(expected, kData + 4, kBit0);
    expected[kOctet3] = 1;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

// ---------------------------------------------------------------------------
// Overflow rules (§2.2 steps 1 and 3).

TEST(FillTrace, OverflowAlreadySetLeavesBufferUntouched) {
    // Plenty of room: only the flag stops the write (selftest input_oflag).
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 4;
    h.overflow = true;
    h.type = 0x800000;
    TraceBuf t = make_trace(h, Bytes(16, 0));
    const Bytes expected = t.bytes;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()),
              FillOutcome::OverflowAlready);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, RemLenZeroSetsOverflow) {
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 0;
    h.type = 0x800000;
    TraceBuf t = make_trace(h, data_area(1, 1));
    Bytes expected = t.bytes;
    expected[kOctet2] = uint8_t(1 << 3 | 0x04);

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()),
              FillOutcome::OverflowSet);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, RemLenZeroSetsOverflowEvenWhenNodeNeedsNoWords) {
    // §2.2 step 3 tests RemLen == 0 on its own, before comparing with the
    // node's size, so a type selecting nothing (bit 23) still overflows.
    TraceHdr h;
    h.nodelen = 0;
    h.remlen = 0;
    h.type = 0x000001;
    TraceBuf t = make_trace(h, Bytes());
    Bytes expected = t.bytes;
    expected[kOctet2] = 0x04;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()),
              FillOutcome::OverflowSet);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, RemLenBelowNodeLenSetsOverflow) {
    // Selftest output_no_room / input_no_room: 0xc00000, size 4 → (1, 2, 1).
    TraceHdr h;
    h.nodelen = 2;
    h.remlen = 1;
    h.type = 0xc00000;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    Bytes expected = t.bytes;
    expected[kOctet2] = uint8_t(2 << 3 | 0x04);

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()),
              FillOutcome::OverflowSet);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, ExactFitEndsWithRemLenZero) {
    TraceHdr h;
    h.nodelen = 2;
    h.remlen = 2;
    h.type = 0xc00000;
    TraceBuf t = make_trace(h, Bytes(8, 0));
    Bytes expected = t.bytes;
    Bytes node = kBit0;
    append(node, kBit1);
    overwrite(expected, kData, node);
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, SuccessiveNodesFillTowardTheHeader) {
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 2;
    h.type = 0x800000;
    TraceBuf t = make_trace(h, Bytes(8, 0));

    NodeIds first;
    first.id = 1;
    HopData first_hop;
    first_hop.hop_limit = 64;
    NodeIds second;
    second.id = 2;
    HopData second_hop;
    second_hop.hop_limit = 63;

    Bytes expected = t.bytes;
    overwrite(expected, kData + 4, {0x40, 0x00, 0x00, 0x01});
    expected[kOctet3] = 1;
    EXPECT_EQ(dp::fill_trace(t.opt(), first, ns_data(), first_hop), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));

    // The second node goes in front of the first: a reader starting at
    // RemLen*4 sees the newest node first.
    overwrite(expected, kData, {0x3f, 0x00, 0x00, 0x02});
    expected[kOctet3] = 0;
    EXPECT_EQ(dp::fill_trace(t.opt(), second, ns_data(), second_hop), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));

    // A third node finds no room: Overflow, data unchanged.
    expected[kOctet2] = uint8_t(1 << 3 | 0x04);
    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()),
              FillOutcome::OverflowSet);
    EXPECT_EQ(hex(t.bytes), hex(expected));

    // And a fourth one sees the flag and does nothing at all.
    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()),
              FillOutcome::OverflowAlready);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

// ---------------------------------------------------------------------------
// Bits the fill must not touch (§1.1: two unused bits after O, one before RemLen).

TEST(FillTrace, OtherFlagBitsAndUnusedBitPreservedOnFill) {
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 2;
    h.octet2_low = 0x03;
    h.octet3_top = true;
    h.type = 0x800000;
    h.reserved = 0x5a;
    TraceBuf t = make_trace(h, Bytes(8, 0));
    Bytes expected = t.bytes;
    ASSERT_EQ(expected[kOctet2], 0x0b);
    ASSERT_EQ(expected[kOctet3], 0x82);
    overwrite(expected, kData + 4, kBit0);
    expected[kOctet3] = 0x81;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, OtherFlagBitsAndUnusedBitPreservedOnOverflow) {
    TraceHdr h;
    h.nodelen = 2;
    h.remlen = 1;
    h.octet2_low = 0x03;
    h.octet3_top = true;
    h.type = 0xc00000;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    Bytes expected = t.bytes;
    expected[kOctet2] = 0x17;  // NodeLen 2, O, both unused bits
    ASSERT_EQ(expected[kOctet3], 0x81);

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()),
              FillOutcome::OverflowSet);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, RemLenWithTopBitSetStillReadAsSevenBits) {
    // The unused bit above RemLen must not be taken as part of it, or the
    // write offset would be 512 octets off.
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 1;
    h.octet3_top = true;
    h.type = 0x800000;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    Bytes expected = t.bytes;
    overwrite(expected, kData, kBit0);
    expected[kOctet3] = 0x80;

    EXPECT_EQ(dp::fill_trace(t.opt(), node_ids(), ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

// ---------------------------------------------------------------------------
// Field widths (§2.3 rows 0 and 8, §2.8 id ranges).

TEST(FillTrace, NodeIdMaskedTo24Bits) {
    TraceHdr h;
    h.nodelen = 1;
    h.remlen = 1;
    h.type = 0x800000;
    TraceBuf t = make_trace(h, Bytes(4, 0));
    NodeIds n = node_ids();
    n.id = 0xab123456;
    Bytes expected = t.bytes;
    overwrite(expected, kData, {0x3f, 0x12, 0x34, 0x56});
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), n, ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, WideNodeIdMaskedTo56Bits) {
    TraceHdr h;
    h.nodelen = 2;
    h.remlen = 2;
    h.type = 0x008000;
    TraceBuf t = make_trace(h, Bytes(8, 0));
    NodeIds n = node_ids();
    n.id_wide = 0xff11223344556677ull;
    Bytes expected = t.bytes;
    overwrite(expected, kData, {0x3f, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77});
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), n, ns_data(), hop_data()), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

TEST(FillTrace, HopLimitExtremes) {
    // 0 is written as is (§2.4: data is written even when the hop limit then
    // expires); 255 must not spill into the node id.
    for (uint8_t hl : {uint8_t(0), uint8_t(255)}) {
        SCOPED_TRACE(int(hl));
        TraceHdr h;
        h.nodelen = 3;
        h.remlen = 3;
        h.type = 0x808000;  // bits 0 and 8
        TraceBuf t = make_trace(h, Bytes(12, 0));
        NodeIds n;
        n.id = 0;
        n.id_wide = 0;
        HopData hop;
        hop.hop_limit = hl;
        Bytes expected = t.bytes;
        overwrite(expected, kData, {hl, 0, 0, 0, hl, 0, 0, 0, 0, 0, 0, 0});
        expected[kOctet3] = 0;

        EXPECT_EQ(dp::fill_trace(t.opt(), n, ns_data(), hop), FillOutcome::Filled);
        EXPECT_EQ(hex(t.bytes), hex(expected));
    }
}

TEST(FillTrace, DefaultsAreTheLinuxSentinels) {
    // Default-constructed ids and namespace give Linux's unconfigured values
    // (§1.1 constants, §2.8 defaults): node id 0xFFFFFF, wide 0x00FF..FF,
    // interface ids 0xFFFF / 0xFFFFFFFF, namespace data all ones.
    TraceHdr h;
    h.type = type_bit(0) | type_bit(1) | type_bit(5) | type_bit(8) | type_bit(9) | type_bit(10);
    h.nodelen = 9;
    h.remlen = 9;
    TraceBuf t = make_trace(h, Bytes(36, 0));
    HopData hop;
    hop.hop_limit = 64;
    Bytes expected = t.bytes;
    overwrite(expected, kData,
              {0x40, 0xff, 0xff, 0xff,                           // bit 0
               0xff, 0xff, 0xff, 0xff,                           // bit 1
               0xff, 0xff, 0xff, 0xff,                           // bit 5
               0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,   // bit 8
               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,   // bit 9
               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); // bit 10
    expected[kOctet3] = 0;

    EXPECT_EQ(dp::fill_trace(t.opt(), NodeIds{}, NamespaceData{}, hop), FillOutcome::Filled);
    EXPECT_EQ(hex(t.bytes), hex(expected));
}

// ---------------------------------------------------------------------------
// trace_wants_time: the clock is needed only for bits 2 and 3.

// ---------------------------------------------------------------------------
// fill_trace_from (the worker's template path) must write exactly what
// fill_trace writes, for every shape of trace: the worker builds a template
// with the first packet's hop limit and queue depth and patches both for the
// packets that follow.

Bytes filled_with_walk(const TraceHdr& h, const Bytes& data, const NamespaceData& ns,
                       const HopData& hop, FillOutcome& outcome) {
    TraceBuf t = make_trace(h, data);
    outcome = dp::fill_trace(t.opt(), node_ids(), ns, hop);
    return t.bytes;
}

Bytes filled_with_template(const TraceHdr& h, const Bytes& data, const NamespaceData& ns,
                           const HopData& hop, bool has_egress, FillOutcome& outcome) {
    // Placeholders that differ from the packet's own values.
    HopData first = hop;
    first.hop_limit = uint8_t(hop.hop_limit ^ 0x5a);
    if (has_egress) first.queue_depth = hop.queue_depth ^ 0x00abcdefu;
    dp::NodeDataTemplate tp;
    dp::build_node_template(h.type, node_ids(), ns, first, tp);
    TraceBuf t = make_trace(h, data);
    outcome = dp::fill_trace_from(t.opt(), tp, hop.hop_limit, has_egress, hop.queue_depth);
    return t.bytes;
}

void expect_same_fill(const TraceHdr& h, const Bytes& data, const NamespaceData& ns,
                      const HopData& hop, bool has_egress) {
    FillOutcome walk, from_template;
    const Bytes a = filled_with_walk(h, data, ns, hop, walk);
    const Bytes b = filled_with_template(h, data, ns, hop, has_egress, from_template);
    EXPECT_EQ(walk, from_template) << std::hex << "type 0x" << h.type << " remlen " << h.remlen;
    EXPECT_EQ(hex(a), hex(b)) << std::hex << "type 0x" << h.type << " remlen " << h.remlen;
}

TEST(FillTraceFromTemplate, SameOctetsAsTheBitWalkForManyTypes) {
    const Bytes oss = schema_oss();  // 10 words
    const NamespaceData plain = ns_data();
    const NamespaceData schema = with_oss(ns_data(), oss);
    const NamespaceData no_schema = with_oss(ns_data(), kOssNoSchema);
    std::vector<uint32_t> types = {0x800000, 0xfff002, 0xf00000, 0x00e000, 0xffffff,
                                   0x000002, 0x000001, 0x020000, 0x808002, 0x0ffffe};
    // A deterministic spread of the rest of the 24-bit space.
    uint32_t x = 0x9e3779b9;
    for (int i = 0; i < 200; ++i) {
        x = x * 1664525u + 1013904223u;
        types.push_back(x >> 8);
    }
    for (uint32_t type : types) {
        const unsigned nodelen = trace::nodelen_words(type);
        for (const NamespaceData* ns : {&plain, &schema, &no_schema}) {
            const unsigned sclen = (type & trace::kOssBit) ? ns->oss_words : 0;
            // Exact fit, room for one more node, one word short, RemLen 0.
            for (unsigned extra : {0u, nodelen + sclen, 1000u}) {
                for (unsigned used : {0u, 2u}) {
                    TraceHdr h;
                    h.nodelen = nodelen;
                    h.type = type;
                    unsigned remlen = extra == 1000u ? (nodelen + sclen ? nodelen + sclen - 1 : 0)
                                                     : nodelen + sclen + extra;
                    if (remlen > 127) remlen = 127;
                    h.remlen = remlen;
                    const Bytes data = data_area(remlen + used, used);
                    for (bool has_egress : {true, false}) {
                        HopData hop = hop_data();
                        if (!has_egress) hop.queue_depth = 0xffffffff;
                        expect_same_fill(h, data, *ns, hop, has_egress);
                    }
                }
            }
        }
    }
}

TEST(FillTraceFromTemplate, OverflowAlreadySetAndSnapshotTooLong) {
    TraceHdr h;
    h.type = 0xfff002;
    h.nodelen = trace::nodelen_words(h.type);
    h.remlen = 40;
    h.overflow = true;
    expect_same_fill(h, data_area(40, 0), ns_data(), hop_data(), true);
    // A snapshot of 120 words cannot fit beside 15 words of node data.
    Bytes big(480, 0x77);
    h.overflow = false;
    h.remlen = 127;
    expect_same_fill(h, data_area(127, 0), with_oss(ns_data(), big), hop_data(), true);
}

TEST(TraceWantsTime, OnlyTimestampBits) {
    auto wants = [](uint32_t type) {
        TraceHdr h;
        h.type = type;
        h.nodelen = nodelen_for(type);
        TraceBuf t = make_trace(h, Bytes());
        return dp::trace_wants_time(t.opt());
    };
    EXPECT_TRUE(wants(type_bit(2)));
    EXPECT_TRUE(wants(type_bit(3)));
    EXPECT_TRUE(wants(0xfff002));
    EXPECT_FALSE(wants(0xcfffff));  // everything except bits 2 and 3
    EXPECT_FALSE(wants(0));
}

// ---------------------------------------------------------------------------
// trace_type.hpp: NodeLen words per bit (§2.1 step 7) and insertion validity (§3.1).

TEST(TraceType, NodeLenWordsPerBit) {
    // Bits 0-7 and 11: 1; 8-10: 2; 12-21: 1 (2026 rule); 22 (OSS), 23: 0.
    constexpr unsigned kWords[24] = {1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 1,
                                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    for (unsigned bit = 0; bit < 24; ++bit) {
        SCOPED_TRACE("bit " + std::to_string(bit));
        EXPECT_EQ(trace::nodelen_words(0x800000u >> bit), kWords[bit]);
    }
}

TEST(TraceType, NodeLenWordsCombined) {
    EXPECT_EQ(trace::nodelen_words(0), 0u);
    EXPECT_EQ(trace::nodelen_words(0xfff002), 15u);
    EXPECT_EQ(trace::nodelen_words(0xc00000), 2u);
    EXPECT_EQ(trace::nodelen_words(0x00e000), 6u);
    EXPECT_EQ(trace::nodelen_words(0xffffff), 25u);  // 9 + 6 + 10
}

TEST(TraceType, BitHelperMatchesOperatorNotation) {
    EXPECT_EQ(trace::bit(0), 0x800000u);
    EXPECT_EQ(trace::bit(11), 0x001000u);
    EXPECT_EQ(trace::bit(22), 0x000002u);
    EXPECT_EQ(trace::bit(23), 0x000001u);
}

TEST(TraceType, ValidForInsertionSingleBits) {
    for (unsigned bit = 0; bit < 24; ++bit) {
        SCOPED_TRACE("bit " + std::to_string(bit));
        const bool allowed = bit <= 11 || bit == 22;
        EXPECT_EQ(trace::valid_for_insertion(0x800000u >> bit), allowed);
    }
}

TEST(TraceType, ValidForInsertionCombinations) {
    EXPECT_FALSE(trace::valid_for_insertion(0));         // type 0 refused
    EXPECT_TRUE(trace::valid_for_insertion(0xfff002));   // full supported trace
    EXPECT_TRUE(trace::valid_for_insertion(0xc00002));
    EXPECT_FALSE(trace::valid_for_insertion(0xfff003));  // + bit 23
    EXPECT_FALSE(trace::valid_for_insertion(0xfff802));  // + bit 12
    EXPECT_FALSE(trace::valid_for_insertion(0x800400));  // + bit 13
    EXPECT_FALSE(trace::valid_for_insertion(0x800004));  // + bit 21
    EXPECT_FALSE(trace::valid_for_insertion(0x1000000));  // not a 24-bit value
}

// ---------------------------------------------------------------------------
// ioam_wire.hpp accessors read the header fields where §1.1 puts them.

TEST(IoamWire, TraceHeaderAccessors) {
    TraceHdr h;
    h.ns = 0xbeef;
    h.nodelen = 31;
    h.overflow = false;
    h.octet2_low = 0x03;
    h.octet3_top = true;
    h.remlen = 0x7f;
    h.type = 0xfff002;
    h.reserved = 0xff;
    Bytes b;
    put_trace_hdr(b, h);
    ASSERT_EQ(b.size(), sizeof(wire::IoamTraceHdr));
    wire::IoamTraceHdr w;
    std::memcpy(&w, b.data(), sizeof w);
    EXPECT_EQ(wire::trace_nodelen(w), 31u);
    EXPECT_FALSE(wire::trace_overflow(w));
    EXPECT_EQ(wire::trace_remlen(w), 0x7fu);
    EXPECT_EQ(wire::trace_type(w), 0xfff002u);

    h.nodelen = 0;
    h.overflow = true;
    h.octet2_low = 0;
    h.octet3_top = false;
    h.remlen = 0;
    b.clear();
    put_trace_hdr(b, h);
    std::memcpy(&w, b.data(), sizeof w);
    EXPECT_EQ(wire::trace_nodelen(w), 0u);
    EXPECT_TRUE(wire::trace_overflow(w));
    EXPECT_EQ(wire::trace_remlen(w), 0u);
}

TEST(IoamWire, StructSizes) {
    EXPECT_EQ(sizeof(wire::Ipv6Hdr), 40u);
    EXPECT_EQ(sizeof(wire::HbhHdr), 2u);
    EXPECT_EQ(sizeof(wire::IoamOptHdr), 4u);
    EXPECT_EQ(sizeof(wire::IoamTraceHdr), 8u);
    EXPECT_EQ(wire::kOptIoam, 0x31);
    EXPECT_EQ(wire::kTraceDataMax, 244u);
}

}  // namespace
}  // namespace ioamfwd::test

// The OSS words come from the configuration; bit 22 must always find at least
// the header word, or a trace would lose its snapshot silently.
TEST(OpaqueStateSnapshot, NoSchemaIsTheSingleUnavailableWord) {
    const std::vector<uint8_t> expect{0x00, 0xff, 0xff, 0xff};
    EXPECT_EQ(ioamfwd::dp::build_opaque_state_snapshot(nullptr, 0, 0), expect);
}

TEST(OpaqueStateSnapshot, SchemaIsPaddedAndCountedInWords) {
    const std::string s = "something that will be 4n-aligned";  // 33 octets
    auto oss = ioamfwd::dp::build_opaque_state_snapshot(
        reinterpret_cast<const uint8_t*>(s.data()), s.size(), 777);
    std::vector<uint8_t> expect{0x09, 0x00, 0x03, 0x09};
    expect.insert(expect.end(), s.begin(), s.end());
    expect.insert(expect.end(), 3, 0x00);
    EXPECT_EQ(oss, expect);
}

TEST(OpaqueStateSnapshot, ExactMultipleOfFourGetsNoPadding) {
    const std::string s = "Hello there -Obi";  // 16 octets
    auto oss = ioamfwd::dp::build_opaque_state_snapshot(
        reinterpret_cast<const uint8_t*>(s.data()), s.size(), 666);
    ASSERT_EQ(oss.size(), 20u);
    EXPECT_EQ(oss[0], 4);
    EXPECT_EQ(oss[1], 0x00);
    EXPECT_EQ(oss[2], 0x02);
    EXPECT_EQ(oss[3], 0x9a);
    EXPECT_EQ(std::string(oss.begin() + 4, oss.end()), s);
}
