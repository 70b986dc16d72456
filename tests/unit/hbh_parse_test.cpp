// Unit tests for parse_ipv6: IPv6 fixed-header checks, the RFC 8200 TLV walk
// with Linux's extra rules (reference §4) and the IOAM option checks in
// Linux's order (§2.1). Each malformed packet is minimal: it breaks exactly
// one rule, so the expected drop reason is unambiguous.

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "dataplane/counters.hpp"
#include "dataplane/hbh_parse.hpp"
#include "packet_builder.hpp"

namespace ioamfwd::dp {
// Print drop reasons by name in assertion failures (kCount means "accepted").
void PrintTo(Drop d, std::ostream* os) {
    if (d == Drop::kCount)
        *os << "accepted";
    else
        *os << drop_name(d);
}
}  // namespace ioamfwd::dp

namespace ioamfwd::test {
namespace {

using dp::Drop;
using dp::Ipv6Parse;
constexpr Drop kAccepted = Drop::kCount;

struct Result {
    Drop drop;
    Ipv6Parse parse;
};

Result run(const Bytes& pkt, bool enabled = true) {
    Result r{};
    r.drop = dp::parse_ipv6(pkt.data(), uint32_t(pkt.size()), uint32_t(pkt.size()), enabled,
                            r.parse);
    return r;
}

Result run_split(const Bytes& pkt, uint32_t contiguous, uint32_t frame, bool enabled = true) {
    Result r{};
    r.drop = dp::parse_ipv6(pkt.data(), contiguous, frame, enabled, r.parse);
    return r;
}

// IPv6 packet whose HbH carries `options` (padded here to 8n) and then ICMPv6.
Bytes with_hbh(Bytes options) {
    pad_hbh_options(options);
    Bytes rest = hbh(58, options);
    append(rest, icmp_echo());
    return ipv6_packet(Ipv6Fields{.next_header = 0}, rest);
}

// Same, but `hbh_bytes` is the complete HbH (header included) as given.
Bytes with_raw_hbh(const Bytes& hbh_bytes) {
    Bytes rest = hbh_bytes;
    append(rest, icmp_echo());
    return ipv6_packet(Ipv6Fields{.next_header = 0}, rest);
}

Bytes linux_packet(uint32_t type, unsigned size, uint16_t ns = 123) {
    Bytes rest = linux_hbh(58, ns, type, size);
    append(rest, icmp_echo());
    return ipv6_packet(Ipv6Fields{.next_header = 0}, rest);
}

// A consistent size-4 bit-0 trace option (16 octets).
Bytes small_trace() {
    TraceHdr h;
    h.type = 0x800000;
    h.nodelen = 1;
    h.remlen = 1;
    return trace_option(h, Bytes(4, 0));
}

// An IOAM option with a freely chosen length: `opt_len` octets follow the
// length octet, the first two being the reserved octet and the IOAM
// option-type (as far as opt_len reaches), then `trace_part` truncated or
// zero-extended to fit.
Bytes raw_ioam(uint8_t opt_len, uint8_t ioam_type, const Bytes& trace_part = {}) {
    Bytes b{0x31, opt_len};
    if (opt_len >= 1) b.push_back(0x00);
    if (opt_len >= 2) b.push_back(ioam_type);
    for (size_t i = 0; i + 2 < opt_len; ++i) b.push_back(i < trace_part.size() ? trace_part[i] : 0);
    return b;
}

Bytes trace_part(const TraceHdr& h, unsigned data_octets) {
    Bytes b;
    put_trace_hdr(b, h);
    b.insert(b.end(), data_octets, 0x00);
    return b;
}

const Bytes kPadN2 = {0x01, 0x00};
const Bytes kRouterAlert = {0x05, 0x02, 0x00, 0x00};

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes b;
    for (const Bytes& p : parts) append(b, p);
    return b;
}

// ---------------------------------------------------------------------------
// Builder self-checks: the oracle's layout matches §1.2 literally.

TEST(PacketBuilder, LinuxHbhMatchesReferenceLayout) {
    const Bytes h = linux_hbh(58, 123, 0x800000, 4);
    const Bytes expected = {0x3a, 0x02, 0x01, 0x00,                          // hdr, PadN(2)
                            0x31, 0x0e, 0x00, 0x00,                          // opt_len 14
                            0x00, 0x7b, 0x08, 0x01, 0x80, 0x00, 0x00, 0x00,  // (0,1,1)
                            0x00, 0x00, 0x00, 0x00,                          // data
                            0x01, 0x02, 0x00, 0x00};                         // PadN(4)
    EXPECT_EQ(hex(h), hex(expected));
    for (unsigned size = 4; size <= 244; size += 4) {
        SCOPED_TRACE(size);
        const Bytes b = linux_hbh(0, 0, 0x800000, size);
        const unsigned aligned = (size + 7) / 8 * 8;
        EXPECT_EQ(b.size(), 16u + aligned);
        EXPECT_EQ(b[1], (16 + aligned) / 8 - 1);
        EXPECT_EQ(b[5], 10 + size);
    }
    EXPECT_EQ(linux_hbh(0, 0, 0x800000, 244).size(), 264u);
}

// ---------------------------------------------------------------------------
// Packets that pass.

TEST(ParseIpv6, NoHopByHop) {
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 58}, icmp_echo());
    Result r = run(pkt);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.l3_len, 48u);
    EXPECT_EQ(r.parse.n_trace, 0u);
}

TEST(ParseIpv6, EmptyPayloadWithoutHopByHop) {
    // Payload length 0 is only a jumbogram when a HbH follows (RFC 2675).
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 59}, {});
    Result r = run(pkt);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.l3_len, 40u);
}

TEST(ParseIpv6, LinkPaddingBeyondPayloadIgnored) {
    // A 64-octet Ethernet minimum pads short packets: l3_len must come from
    // the payload length, not from the frame.
    Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 58}, icmp_echo());
    pkt.insert(pkt.end(), 12, 0xee);
    Result r = run(pkt);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.l3_len, 48u);
}

TEST(ParseIpv6, LinkPaddingAfterHbh) {
    Bytes pkt = linux_packet(0x800000, 4);
    const size_t l3 = pkt.size();
    pkt.insert(pkt.end(), 6, 0x00);
    Result r = run(pkt);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.l3_len, l3);
    EXPECT_EQ(r.parse.n_trace, 1u);
}

TEST(ParseIpv6, MulticastDestinationIsNotAParseError) {
    constexpr uint8_t kMcast[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 58, .dst = kMcast}, icmp_echo());
    EXPECT_EQ(run(pkt).drop, kAccepted);
}

TEST(ParseIpv6, LinuxLayoutEverySize) {
    // §1.2: the IOAM option sits at IPv6 offset 44 for every size 4..244, and
    // the reported offset is that of the option type octet 0x31.
    for (unsigned size = 4; size <= 244; size += 4) {
        SCOPED_TRACE("size " + std::to_string(size));
        const Bytes pkt = linux_packet(0x800000, size);
        Result r = run(pkt);
        ASSERT_EQ(r.drop, kAccepted);
        EXPECT_EQ(r.parse.l3_len, pkt.size());
        ASSERT_EQ(r.parse.n_trace, 1u);
        EXPECT_EQ(r.parse.trace_off[0], 44u);
        EXPECT_EQ(pkt[r.parse.trace_off[0]], 0x31);
        EXPECT_EQ(r.parse.skip_disabled, 0u);
        EXPECT_EQ(r.parse.skip_option_type, 0u);
    }
}

TEST(ParseIpv6, FullSupportedTraceSize244) {
    const Bytes pkt = linux_packet(0xfff002, 244);
    Result r = run(pkt);
    ASSERT_EQ(r.drop, kAccepted);
    ASSERT_EQ(r.parse.n_trace, 1u);
    EXPECT_EQ(r.parse.trace_off[0], 44u);
}

TEST(ParseIpv6, PartlyFilledTraceAccepted) {
    // opt_len larger than 10 + RemLen*4 is fine: upstream nodes' data follows
    // (§2.1 step 6).
    TraceHdr h;
    h.type = 0x800000;
    h.nodelen = 1;
    h.remlen = 1;
    Result r = run(with_hbh(cat({kPadN2, trace_option(h, Bytes(12, 0xa5))})));
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_trace, 1u);
}

TEST(ParseIpv6, FullyFilledTraceAccepted) {
    // RemLen 0 is a valid trace (the fill will set Overflow), even with no
    // data octets left at all: opt_len exactly 10.
    TraceHdr h;
    h.type = 0x800000;
    h.nodelen = 1;
    h.remlen = 0;
    Result r = run(with_hbh(cat({kPadN2, trace_option(h, {})})));
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_trace, 1u);
}

TEST(ParseIpv6, ReceiveDoesNotValidateTypeBits) {
    // §2.1 last paragraph: bits 12-21, bit 23, type 0 and the reserved octet
    // are not checked on receive (only NodeLen consistency is).
    struct Case {
        uint32_t type;
        unsigned nodelen;
        uint8_t reserved;
    };
    for (const Case& c : {Case{0x000000, 0, 0}, Case{0x000001, 0, 0}, Case{0x000ffc, 10, 0},
                          Case{0x800000, 1, 0xff}, Case{0xffffff, 25, 0}}) {
        SCOPED_TRACE(c.type);
        TraceHdr h;
        h.type = c.type;
        h.nodelen = c.nodelen;
        h.remlen = 1;
        h.reserved = c.reserved;
        Result r = run(with_hbh(cat({kPadN2, trace_option(h, Bytes(4, 0))})));
        EXPECT_EQ(r.drop, kAccepted);
        EXPECT_EQ(r.parse.n_trace, 1u);
    }
}

TEST(ParseIpv6, TwoTracesReportedInOrder) {
    // PadN(2) | trace @44 (16 octets) | trace @60 (16 octets) | PadN(4).
    const Bytes pkt = with_hbh(cat({kPadN2, small_trace(), small_trace()}));
    ASSERT_EQ(pkt[41], 4);  // 40-octet HbH
    Result r = run(pkt);
    ASSERT_EQ(r.drop, kAccepted);
    ASSERT_EQ(r.parse.n_trace, 2u);
    EXPECT_EQ(r.parse.trace_off[0], 44u);
    EXPECT_EQ(r.parse.trace_off[1], 60u);
    EXPECT_EQ(pkt[60], 0x31);
}

TEST(ParseIpv6, TraceAfterRouterAlert) {
    // Router Alert @42, PadN(2) @46, trace @48.
    const Bytes pkt = with_hbh(cat({kRouterAlert, kPadN2, small_trace()}));
    Result r = run(pkt);
    ASSERT_EQ(r.drop, kAccepted);
    ASSERT_EQ(r.parse.n_trace, 1u);
    EXPECT_EQ(r.parse.trace_off[0], 48u);
    EXPECT_EQ(pkt[48], 0x31);
}

TEST(ParseIpv6, TraceAlignedWithPad1s) {
    // Pad1 Pad1 @42,43 then the trace @44: Pad1 is a valid way to align too.
    const Bytes pkt = with_hbh(cat({{0x00, 0x00}, small_trace()}));
    Result r = run(pkt);
    ASSERT_EQ(r.drop, kAccepted);
    ASSERT_EQ(r.parse.n_trace, 1u);
    EXPECT_EQ(r.parse.trace_off[0], 44u);
}

TEST(ParseIpv6, OutputResetBetweenPackets) {
    Ipv6Parse out;
    const Bytes with_trace = linux_packet(0x800000, 4);
    const Bytes without = ipv6_packet(Ipv6Fields{.next_header = 58}, icmp_echo());
    ASSERT_EQ(dp::parse_ipv6(with_trace.data(), uint32_t(with_trace.size()),
                             uint32_t(with_trace.size()), true, out),
              kAccepted);
    ASSERT_EQ(out.n_trace, 1u);
    ASSERT_EQ(dp::parse_ipv6(with_trace.data(), uint32_t(with_trace.size()),
                             uint32_t(with_trace.size()), false, out),
              kAccepted);
    EXPECT_EQ(out.n_trace, 0u);
    EXPECT_EQ(out.skip_disabled, 1u);
    ASSERT_EQ(dp::parse_ipv6(without.data(), uint32_t(without.size()), uint32_t(without.size()),
                             true, out),
              kAccepted);
    EXPECT_EQ(out.n_trace, 0u);
    EXPECT_EQ(out.skip_disabled, 0u);
    EXPECT_EQ(out.skip_option_type, 0u);
    EXPECT_EQ(out.l3_len, 48u);
}

TEST(ParseIpv6, IoamInDestinationOptionsNotRecognised) {
    // §4 / §10 #1, #39: only the HbH right after the IPv6 header is parsed;
    // even a misaligned IOAM option in a Destination Options header is left
    // alone.
    Bytes opts = cat({raw_ioam(0, 0)});
    pad_hbh_options(opts);
    Bytes rest = hbh(58, opts);  // same TLV layout, carried as next header 60
    append(rest, icmp_echo());
    Result r = run(ipv6_packet(Ipv6Fields{.next_header = 60}, rest));
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_trace, 0u);
    EXPECT_EQ(r.parse.skip_disabled + r.parse.skip_option_type, 0u);
}

// ---------------------------------------------------------------------------
// IPv6 fixed header drops.

TEST(ParseIpv6Drop, FrameShorterThanHeader) {
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 59}, {});
    EXPECT_EQ(run_split(pkt, 39, 39).drop, Drop::Ipv6Truncated);
    EXPECT_EQ(run_split(pkt, 0, 0).drop, Drop::Ipv6Truncated);
}

TEST(ParseIpv6Drop, HeaderNotContiguous) {
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 58}, icmp_echo());
    EXPECT_EQ(run_split(pkt, 39, uint32_t(pkt.size())).drop, Drop::HeadersNotContiguous);
    EXPECT_EQ(run_split(pkt, 40, uint32_t(pkt.size())).drop, kAccepted);
}

TEST(ParseIpv6Drop, VersionNotSix) {
    for (uint8_t v : {0, 4, 5, 7, 15}) {
        SCOPED_TRACE(int(v));
        const Bytes pkt = ipv6_packet(Ipv6Fields{.version = v, .next_header = 58}, icmp_echo());
        EXPECT_EQ(run(pkt).drop, Drop::Ipv6BadVersion);
    }
}

TEST(ParseIpv6Drop, MulticastSource) {
    constexpr uint8_t kMcast[16] = {0xff, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 58, .src = kMcast}, icmp_echo());
    EXPECT_EQ(run(pkt).drop, Drop::Ipv6BadAddress);
}

TEST(ParseIpv6Drop, LoopbackSource) {
    constexpr uint8_t kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 58, .src = kLoop}, icmp_echo());
    EXPECT_EQ(run(pkt).drop, Drop::Ipv6BadAddress);
}

TEST(ParseIpv6Drop, LoopbackDestination) {
    constexpr uint8_t kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 58, .dst = kLoop}, icmp_echo());
    EXPECT_EQ(run(pkt).drop, Drop::Ipv6BadAddress);
}

TEST(ParseIpv6Drop, NearLoopbackAddressesAreFine) {
    // ::2 and 1::1 only resemble ::1; a byte-range slip would catch them.
    constexpr uint8_t kTwo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    constexpr uint8_t kOneOne[16] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_EQ(run(ipv6_packet(Ipv6Fields{.next_header = 58, .src = kTwo}, icmp_echo())).drop,
              kAccepted);
    EXPECT_EQ(run(ipv6_packet(Ipv6Fields{.next_header = 58, .dst = kOneOne}, icmp_echo())).drop,
              kAccepted);
}

TEST(ParseIpv6Drop, JumbogramPayloadLengthZeroWithHbh) {
    // A well-formed Jumbo Payload HbH, but payload length 0 (RFC 2675).
    Bytes rest = hbh(58, {0xc2, 0x04, 0x00, 0x01, 0x00, 0x10});
    append(rest, icmp_echo());
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 0, .payload_len = 0}, rest);
    EXPECT_EQ(run(pkt).drop, Drop::Jumbogram);
}

TEST(ParseIpv6Drop, PayloadLengthBeyondFrame) {
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 58, .payload_len = 9}, icmp_echo());
    EXPECT_EQ(run(pkt).drop, Drop::Ipv6BadLength);
    // Equal to the frame is fine; the frame must hold all of it.
    const Bytes exact = ipv6_packet(Ipv6Fields{.next_header = 58, .payload_len = 8}, icmp_echo());
    EXPECT_EQ(run(exact).drop, kAccepted);
    EXPECT_EQ(run_split(exact, 47, 47).drop, Drop::Ipv6BadLength);
}

TEST(ParseIpv6Drop, HbhShorterThanEightOctets) {
    // Payload length 7 with next header HbH: the 8-octet minimum HbH is not
    // inside the packet, even though the frame has more bytes (link padding).
    Bytes rest = {0x3b, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
    Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 0, .payload_len = 7}, rest);
    EXPECT_EQ(run(pkt).drop, Drop::HbhTruncated);
    pkt = ipv6_packet(Ipv6Fields{.next_header = 0, .payload_len = 1}, rest);
    EXPECT_EQ(run(pkt).drop, Drop::HbhTruncated);
    // With payload length 8 the same bytes are a valid empty HbH.
    pkt = ipv6_packet(Ipv6Fields{.next_header = 0, .payload_len = 8}, rest);
    EXPECT_EQ(run(pkt).drop, kAccepted);
}

TEST(ParseIpv6Drop, HbhLengthBeyondPacket) {
    // hdrlen 1 = 16 octets, but the payload is only 8 (frame has 16: padding).
    Bytes rest = {0x3b, 0x01, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
    rest.insert(rest.end(), 8, 0x00);
    const Bytes pkt = ipv6_packet(Ipv6Fields{.next_header = 0, .payload_len = 8}, rest);
    EXPECT_EQ(run(pkt).drop, Drop::HbhTruncated);
}

TEST(ParseIpv6Drop, HbhNotContiguous) {
    const Bytes pkt = linux_packet(0x800000, 4);  // 24-octet HbH: needs 64 contiguous
    const uint32_t frame = uint32_t(pkt.size());
    EXPECT_EQ(run_split(pkt, 44, frame).drop, Drop::HeadersNotContiguous);  // hdrlen unread
    EXPECT_EQ(run_split(pkt, 48, frame).drop, Drop::HeadersNotContiguous);
    EXPECT_EQ(run_split(pkt, 63, frame).drop, Drop::HeadersNotContiguous);
    Result ok = run_split(pkt, 64, frame);
    EXPECT_EQ(ok.drop, kAccepted);
    EXPECT_EQ(ok.parse.n_trace, 1u);
}

// ---------------------------------------------------------------------------
// §4 generic TLV rules.

TEST(HbhTlv, SevenPad1Accepted) {
    const Bytes pkt = with_raw_hbh(cat({{0x3a, 0x01}, Bytes(7, 0x00), kRouterAlert,
                                        Bytes(3, 0x00)}));
    EXPECT_EQ(run(pkt).drop, kAccepted);
}

TEST(HbhTlv, EightPad1Dropped) {
    const Bytes pkt = with_raw_hbh(cat({{0x3a, 0x01}, Bytes(8, 0x00), kRouterAlert, kPadN2}));
    EXPECT_EQ(run(pkt).drop, Drop::HbhPadding);
}

TEST(HbhTlv, PaddingRunResetByOption) {
    // 7 + option + 7: neither run exceeds 7.
    const Bytes pkt = with_raw_hbh(cat({{0x3a, 0x02}, Bytes(7, 0x00), kRouterAlert,
                                        Bytes(7, 0x00), kRouterAlert}));
    EXPECT_EQ(run(pkt).drop, kAccepted);
}

TEST(HbhTlv, PadNOnlyHeader) {
    // The smallest HbH: 2 + PadN(6).
    const Bytes pkt = with_raw_hbh({0x3a, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00});
    EXPECT_EQ(run(pkt).drop, kAccepted);
}

TEST(HbhTlv, PadNOfSevenAccepted) {
    // PadN counts its whole size (type + length + payload): 7 octets is the limit.
    const Bytes padn7 = {0x01, 0x05, 0, 0, 0, 0, 0};
    const Bytes pkt = with_raw_hbh(cat({{0x3a, 0x01}, padn7, kRouterAlert, Bytes(3, 0x00)}));
    EXPECT_EQ(run(pkt).drop, kAccepted);
}

TEST(HbhTlv, PadNOfEightDropped) {
    const Bytes padn8 = {0x01, 0x06, 0, 0, 0, 0, 0, 0};
    const Bytes pkt = with_raw_hbh(cat({{0x3a, 0x01}, padn8, kRouterAlert, kPadN2}));
    EXPECT_EQ(run(pkt).drop, Drop::HbhPadding);
}

TEST(HbhTlv, Pad1FollowedByPadNCountsAsOneRun) {
    // Pad1 + PadN(7) = 8 consecutive padding octets.
    const Bytes padn7 = {0x01, 0x05, 0, 0, 0, 0, 0};
    const Bytes pkt = with_raw_hbh(cat({{0x3a, 0x01, 0x00}, padn7, kRouterAlert, kPadN2}));
    EXPECT_EQ(run(pkt).drop, Drop::HbhPadding);
}

TEST(HbhTlv, PadNFollowedByPad1CountsAsOneRun) {
    // PadN(6) + Pad1 Pad1 = 8.
    const Bytes padn6 = {0x01, 0x04, 0, 0, 0, 0};
    const Bytes pkt = with_raw_hbh(cat({{0x3a, 0x01}, padn6, {0x00, 0x00}, kRouterAlert,
                                        kPadN2}));
    EXPECT_EQ(run(pkt).drop, Drop::HbhPadding);
}

TEST(HbhTlv, PadNPayloadNonZeroDropped) {
    // The Linux layout with the trailing PadN(4) payload tampered.
    Bytes pkt = linux_packet(0x800000, 4);
    ASSERT_EQ(pkt[60], 0x01);
    ASSERT_EQ(pkt[61], 0x02);
    pkt[63] = 0x01;
    EXPECT_EQ(run(pkt).drop, Drop::HbhPadnNonzero);
    // Also when IOAM is disabled: this is a generic TLV rule.
    EXPECT_EQ(run(pkt, false).drop, Drop::HbhPadnNonzero);
}

// parse_ipv6 recognises the Linux layout without the TLV walk; these are
// near misses of it, which must get the walk's verdict.
TEST(HbhTlv, LinuxLayoutWithPad1sInsteadOfTrailingPadN) {
    Bytes pkt = linux_packet(0x800000, 4);
    ASSERT_EQ(pkt[60], 0x01);
    pkt[60] = pkt[61] = 0x00;  // four Pad1 where PadN(4) was
    const Result r = run(pkt);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_trace, 1);
}

TEST(HbhTlv, LinuxLayoutPrefixFollowedByAnotherOption) {
    // PadN(2), trace, then a Router Alert where the trailing PadN would be.
    const Bytes pkt = with_raw_hbh(hbh(58, cat({kPadN2, small_trace(), kRouterAlert})));
    const Result r = run(pkt);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_ioam, 1);
    EXPECT_EQ(r.parse.n_trace, 1);
    EXPECT_EQ(r.parse.trace_off[0], 44);
}

TEST(HbhTlv, LinuxLayoutWithTrailingPadNOfWrongLength) {
    Bytes pkt = linux_packet(0x800000, 4);
    ASSERT_EQ(pkt[61], 0x02);
    pkt[61] = 0x03;  // PadN(5) running one octet past the header
    EXPECT_EQ(run(pkt).drop, Drop::HbhBadOption);
}

TEST(HbhTlv, OptionRunsPastHeader) {
    // Router Alert claiming 16 octets of data in an 8-octet HbH.
    const Bytes pkt = with_raw_hbh({0x3a, 0x00, 0x05, 0x10, 0x00, 0x00, 0x01, 0x00});
    EXPECT_EQ(run(pkt).drop, Drop::HbhBadOption);
}

TEST(HbhTlv, OptionLengthOctetMissing) {
    // The last octet of the HbH is an option type with no room for its length.
    const Bytes pkt = with_raw_hbh({0x3a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05});
    EXPECT_EQ(run(pkt).drop, Drop::HbhBadOption);
}

TEST(HbhTlv, PadNRunsPastHeader) {
    const Bytes pkt = with_raw_hbh({0x3a, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00});
    EXPECT_EQ(run(pkt).drop, Drop::HbhBadOption);
}

TEST(HbhTlv, IoamOptionRunsPastHeaderEvenWhenDisabled) {
    // The generic length check comes before the IOAM handler is called.
    Bytes opts = cat({kPadN2, small_trace()});
    Bytes h = hbh(58, cat({opts, {0x01, 0x02, 0x00, 0x00}}));
    h[5] = 0x20;  // IOAM opt_len 32 in a 24-octet HbH
    EXPECT_EQ(run(with_raw_hbh(h)).drop, Drop::HbhBadOption);
    EXPECT_EQ(run(with_raw_hbh(h), false).drop, Drop::HbhBadOption);
}

TEST(HbhTlv, UnknownOptionSkipAction) {
    // 0x1e: action bits 00 → skip; also 0x3e.
    for (uint8_t type : {0x1e, 0x3e}) {
        SCOPED_TRACE(int(type));
        const Bytes pkt = with_hbh(cat({{type, 0x02, 0xaa, 0xbb}, kPadN2, small_trace()}));
        Result r = run(pkt);
        EXPECT_EQ(r.drop, kAccepted);
        ASSERT_EQ(r.parse.n_trace, 1u);
        EXPECT_EQ(r.parse.trace_off[0], 48u);
    }
}

TEST(HbhTlv, UnknownOptionDiscardActions) {
    // 01 discard, 10 discard + ICMP, 11 discard + ICMP unless multicast: all drops.
    for (uint8_t type : {0x5e, 0x9e, 0xde, 0x7f, 0xbf, 0xff, 0x41}) {
        SCOPED_TRACE(int(type));
        const Bytes pkt = with_hbh({type, 0x02, 0x00, 0x00});
        EXPECT_EQ(run(pkt).drop, Drop::HbhUnknownOption);
        EXPECT_EQ(run(pkt, false).drop, Drop::HbhUnknownOption);
    }
}

TEST(HbhTlv, JumboOptionDropped) {
    // 0xC2 with a non-zero payload length (the jumbogram case is above).
    const Bytes pkt = with_raw_hbh({0x3a, 0x00, 0xc2, 0x04, 0x00, 0x01, 0x00, 0x10});
    EXPECT_EQ(run(pkt).drop, Drop::Jumbogram);
}

Bytes skip_options(unsigned n) {
    Bytes b;
    for (unsigned i = 0; i < n; ++i) append(b, {0x1e, 0x00});
    return b;
}

TEST(HbhTlv, EightOptionsAccepted) {
    EXPECT_EQ(run(with_hbh(skip_options(8))).drop, kAccepted);
}

TEST(HbhTlv, NineOptionsDropped) {
    EXPECT_EQ(run(with_hbh(skip_options(9))).drop, Drop::HbhTooManyOptions);
}

TEST(HbhTlv, PaddingNotCountedAsOptions) {
    // 8 options each followed by Pad1: 16 TLVs, 8 of them non-padding.
    Bytes opts;
    for (int i = 0; i < 8; ++i) append(opts, {0x1e, 0x00, 0x00});
    EXPECT_EQ(run(with_hbh(opts)).drop, kAccepted);
}

TEST(HbhTlv, IoamCountsTowardTheOptionLimit) {
    // PadN(2) + 7 skip options (14 octets) + Pad1 Pad1 → IOAM at 2+2+14+2 = 20 → @60.
    Bytes seven = cat({kPadN2, skip_options(7), {0x00, 0x00}, small_trace()});
    Result r = run(with_hbh(seven));
    EXPECT_EQ(r.drop, kAccepted);
    ASSERT_EQ(r.parse.n_trace, 1u);
    EXPECT_EQ(r.parse.trace_off[0], 60u);

    Bytes eight = cat({skip_options(8), {0x00, 0x00}, small_trace()});
    EXPECT_EQ(run(with_hbh(eight)).drop, Drop::HbhTooManyOptions);
}

TEST(HbhTlv, RouterAlertIsNotIoam) {
    Result r = run(with_hbh(kRouterAlert));
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_trace, 0u);
    EXPECT_EQ(r.parse.skip_disabled + r.parse.skip_option_type, 0u);
}

// ---------------------------------------------------------------------------
// §2.1 IOAM option checks and their order.

TEST(IoamOption, MisalignedDropped) {
    // Trace directly after the HbH header: offset 42 from the IPv6 header.
    const Bytes pkt = with_hbh(small_trace());
    EXPECT_EQ(run(pkt).drop, Drop::IoamMisaligned);
}

TEST(IoamOption, MisalignedDroppedAtEveryNon4nOffset) {
    // Pad1 x k moves the option to 42 + k; only 44 is aligned.
    for (unsigned k = 0; k <= 5; ++k) {
        SCOPED_TRACE("offset " + std::to_string(42 + k));
        const Bytes pkt = with_hbh(cat({Bytes(k, 0x00), small_trace()}));
        EXPECT_EQ(run(pkt).drop, (42 + k) % 4 == 0 ? kAccepted : Drop::IoamMisaligned);
    }
}

TEST(IoamOption, MisalignedDroppedEvenWhenDisabled) {
    // Check 1 precedes the enabled check (§2.1 step 1).
    const Bytes pkt = with_hbh(cat({kRouterAlert, small_trace()}));  // @46
    EXPECT_EQ(run(pkt, false).drop, Drop::IoamMisaligned);
}

TEST(IoamOption, MisalignedWithBadLengthDroppedAsMisalignedWhenDisabled) {
    const Bytes pkt = with_hbh(raw_ioam(0, 0));  // @42, opt_len 0
    EXPECT_EQ(run(pkt, false).drop, Drop::IoamMisaligned);
    EXPECT_EQ(run(pkt, true).drop, Drop::IoamMisaligned);
}

TEST(IoamOption, DisabledSkipsValidTrace) {
    Result r = run(linux_packet(0x800000, 4), false);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_trace, 0u);
    EXPECT_EQ(r.parse.skip_disabled, 1u);
    EXPECT_EQ(r.parse.skip_option_type, 0u);
}

TEST(IoamOption, DisabledSkipsOptLenZero) {
    // Step 2 (disabled → ignore) comes before step 3 (opt_len < 2 → drop).
    Result r = run(with_hbh(cat({kPadN2, raw_ioam(0, 0)})), false);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_trace, 0u);
    EXPECT_EQ(r.parse.skip_disabled, 1u);
}

TEST(IoamOption, DisabledSkipsMalformedTraces) {
    // RemLen beyond the option, and NodeLen inconsistent: both only matter
    // where IOAM is enabled.
    TraceHdr beyond;
    beyond.type = 0x800000;
    beyond.nodelen = 1;
    beyond.remlen = 5;
    TraceHdr bad_nodelen;
    bad_nodelen.type = 0x800000;
    bad_nodelen.nodelen = 3;
    bad_nodelen.remlen = 1;
    for (const TraceHdr& h : {beyond, bad_nodelen}) {
        Result r = run(with_hbh(cat({kPadN2, trace_option(h, Bytes(4, 0))})), false);
        EXPECT_EQ(r.drop, kAccepted);
        EXPECT_EQ(r.parse.skip_disabled, 1u);
        EXPECT_EQ(r.parse.n_trace, 0u);
    }
}

TEST(IoamOption, DisabledCountsEveryOption) {
    Result r = run(with_hbh(cat({kPadN2, small_trace(), small_trace()})), false);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.skip_disabled, 2u);
    EXPECT_EQ(r.parse.n_trace, 0u);
}

TEST(IoamOption, OptLenBelowTwoDropped) {
    for (uint8_t len : {0, 1}) {
        SCOPED_TRACE(int(len));
        EXPECT_EQ(run(with_hbh(cat({kPadN2, raw_ioam(len, 0)}))).drop, Drop::IoamShort);
    }
}

TEST(IoamOption, OptLenBelowTwoDroppedBeforeOptionTypeCheck) {
    // opt_len 1: the option-type octet is not part of the option; the octet
    // that follows (0x01) must not be read as option-type 1 and skipped.
    const Bytes opts = cat({kPadN2, {0x31, 0x01, 0x00}, {0x01, 0x00}, kRouterAlert});
    EXPECT_EQ(run(with_hbh(opts)).drop, Drop::IoamShort);
}

TEST(IoamOption, OtherOptionTypesSkipped) {
    // Incremental (1), POT (2), E2E (3), DEX (4) and an unassigned value.
    for (uint8_t t : {1, 2, 3, 4, 255}) {
        SCOPED_TRACE(int(t));
        Result r = run(with_hbh(cat({kPadN2, raw_ioam(2, t)})));
        EXPECT_EQ(r.drop, kAccepted);
        EXPECT_EQ(r.parse.n_trace, 0u);
        EXPECT_EQ(r.parse.skip_option_type, 1u);
        EXPECT_EQ(r.parse.skip_disabled, 0u);
    }
}

TEST(IoamOption, OtherOptionTypeSkippedWhateverItsContent) {
    // Step 4 precedes steps 5-7: an Incremental trace with a header that would
    // fail every Pre-allocated check is still only ignored.
    TraceHdr h;
    h.type = 0x800000;
    h.nodelen = 7;
    h.remlen = 100;
    Result r = run(with_hbh(cat({kPadN2, raw_ioam(14, 1, trace_part(h, 4))})));
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.skip_option_type, 1u);
    EXPECT_EQ(r.parse.n_trace, 0u);
    r = run(with_hbh(cat({kPadN2, raw_ioam(4, 1)})));
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.skip_option_type, 1u);
}

TEST(IoamOption, SkippedOptionTypeAndTraceTogether) {
    // PadN(2) | POT-like option (opt_len 2) @44..47 | trace @48.
    const Bytes pkt = with_hbh(cat({kPadN2, raw_ioam(2, 2), small_trace()}));
    Result r = run(pkt);
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.skip_option_type, 1u);
    ASSERT_EQ(r.parse.n_trace, 1u);
    EXPECT_EQ(r.parse.trace_off[0], 48u);
}

TEST(IoamOption, TraceHeaderTruncated) {
    // Pre-allocated with 2 <= opt_len < 10.
    for (uint8_t len = 2; len < 10; ++len) {
        SCOPED_TRACE(int(len));
        TraceHdr h;
        h.type = 0x800000;
        h.nodelen = 1;
        h.remlen = 0;
        EXPECT_EQ(run(with_hbh(cat({kPadN2, raw_ioam(len, 0, trace_part(h, 0))}))).drop,
                  Drop::IoamTraceTruncated);
    }
}

TEST(IoamOption, RemLenBeyondOption) {
    // opt_len 14 (4 data octets) but RemLen 2 claims 8.
    TraceHdr h;
    h.type = 0x800000;
    h.nodelen = 1;
    h.remlen = 2;
    EXPECT_EQ(run(with_hbh(cat({kPadN2, trace_option(h, Bytes(4, 0))}))).drop,
              Drop::IoamTraceMalformed);
    // opt_len 10 with RemLen 1.
    h.remlen = 1;
    EXPECT_EQ(run(with_hbh(cat({kPadN2, trace_option(h, {})}))).drop,
              Drop::IoamTraceMalformed);
    // RemLen 127 (the 7-bit maximum) in the largest Linux trace.
    h.remlen = 127;
    EXPECT_EQ(run(with_hbh(cat({kPadN2, trace_option(h, Bytes(244, 0))}))).drop,
              Drop::IoamTraceMalformed);
}

TEST(IoamOption, RemLenCheckedBeforeNodeLen) {
    // Step 6 before step 7: both wrong → malformed, not mismatch.
    TraceHdr h;
    h.type = 0x800000;
    h.nodelen = 2;
    h.remlen = 2;
    EXPECT_EQ(run(with_hbh(cat({kPadN2, trace_option(h, Bytes(4, 0))}))).drop,
              Drop::IoamTraceMalformed);
}

TEST(IoamOption, NodeLenMustMatchTypeForEveryBit) {
    // For each single bit: the right NodeLen is accepted, one more or one less
    // (where representable) is dropped. Trace area large enough for either.
    constexpr unsigned kWords[24] = {1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 1,
                                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    for (unsigned bit = 0; bit < 24; ++bit) {
        SCOPED_TRACE("bit " + std::to_string(bit));
        TraceHdr h;
        h.type = 0x800000u >> bit;
        h.remlen = 4;
        h.nodelen = kWords[bit];
        Result r = run(with_hbh(cat({kPadN2, trace_option(h, Bytes(16, 0))})));
        EXPECT_EQ(r.drop, kAccepted);
        EXPECT_EQ(r.parse.n_trace, 1u);
        h.nodelen = kWords[bit] + 1;
        EXPECT_EQ(run(with_hbh(cat({kPadN2, trace_option(h, Bytes(16, 0))}))).drop,
                  Drop::IoamNodelenMismatch);
        if (kWords[bit] > 0) {
            h.nodelen = kWords[bit] - 1;
            EXPECT_EQ(run(with_hbh(cat({kPadN2, trace_option(h, Bytes(16, 0))}))).drop,
                      Drop::IoamNodelenMismatch);
        }
    }
}

TEST(IoamOption, NodeLenMismatchCombined) {
    struct Case {
        uint32_t type;
        unsigned nodelen;
        bool ok;
    };
    for (const Case& c : {Case{0xfff002, 15, true}, Case{0xfff002, 14, false},
                          Case{0xfff002, 16, false}, Case{0xc00000, 2, true},
                          Case{0xc00000, 1, false}, Case{0x00e000, 6, true},
                          Case{0x00e000, 3, false},  // wide bits counted once: the 2026 bug
                          Case{0x000ffc, 10, true},
                          Case{0x000ffc, 0, false},  // undefined bits not counted: pre-2026
                          Case{0x000002, 0, true}, Case{0x000002, 1, false},
                          Case{0x000000, 31, false}}) {
        SCOPED_TRACE(std::to_string(c.type) + "/" + std::to_string(c.nodelen));
        TraceHdr h;
        h.type = c.type;
        h.nodelen = c.nodelen;
        h.remlen = 1;
        EXPECT_EQ(run(with_hbh(cat({kPadN2, trace_option(h, Bytes(4, 0))}))).drop,
                  c.ok ? kAccepted : Drop::IoamNodelenMismatch);
    }
}

TEST(IoamOption, NodeLenReadDespiteFlagBits) {
    // Overflow and the unused flag bits must not leak into NodeLen.
    TraceHdr h;
    h.type = 0x800000;
    h.nodelen = 1;
    h.remlen = 1;
    h.overflow = true;
    h.octet2_low = 0x03;
    h.octet3_top = true;
    Result r = run(with_hbh(cat({kPadN2, trace_option(h, Bytes(4, 0))})));
    EXPECT_EQ(r.drop, kAccepted);
    EXPECT_EQ(r.parse.n_trace, 1u);
}

TEST(IoamOption, SecondTraceBadDropsPacket) {
    TraceHdr bad;
    bad.type = 0xc00000;
    bad.nodelen = 1;
    bad.remlen = 1;
    const Bytes pkt = with_hbh(cat({kPadN2, small_trace(), trace_option(bad, Bytes(4, 0))}));
    EXPECT_EQ(run(pkt).drop, Drop::IoamNodelenMismatch);
}

}  // namespace
}  // namespace ioamfwd::test
