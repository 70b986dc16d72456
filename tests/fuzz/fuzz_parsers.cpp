// libFuzzer target: the dataplane's pure functions on arbitrary bytes, no
// EAL. The input is an IPv6 packet (from its fixed header on). Every buffer
// handed to the code under test is a heap copy of exactly the length it is
// told about, so AddressSanitizer reports the first octet read or written
// beyond it.
//   parse_ipv6   on the whole packet, IOAM enabled and disabled, and on a
//                prefix (contiguous < frame) whose verdict must be the whole
//                packet's or headers_not_contiguous;
//   fill_trace   on every trace the parser accepted, with and without a
//                schema (its length from the namespace id): only the option's
//                flags/RemainingLen and the node's own words may change, by
//                RFC 9197's rules;
//   strip_ioam_hbh  on every Hop-by-Hop the parser accepted: the rebuilt
//                header must be accepted too, hold no IOAM, keep every other
//                option in order, and be no longer;
//   decapsulate / locate_inner  on the packet in an mbuf built around the
//                exact buffer;
//   check_nd     on the whole packet: what it points to lies inside it;
//   make_neighbor_advert  on the packet in an mbuf with room for the answer,
//                from a port owning the target: it answers only what
//                check_nd accepts, and check_nd accepts its answer.
// Run longer: build-fuzz/tests/fuzz/fuzz_parsers -max_total_time=3600 tests/fuzz/corpus/parsers

#include <rte_mbuf.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/byte_order.hpp"
#include "dataplane/decap.hpp"
#include "dataplane/hbh_parse.hpp"
#include "dataplane/hbh_strip.hpp"
#include "dataplane/icmp6.hpp"
#include "dataplane/icmp_reply.hpp"
#include "dataplane/nd_wire.hpp"
#include "dataplane/trace_fill.hpp"

namespace {

using namespace ioamfwd;
using Buf = std::unique_ptr<uint8_t[]>;
constexpr dp::Drop kOk = dp::Drop::kCount;

Buf copy_of(const uint8_t* p, size_t n) {
    Buf b(new uint8_t[n ? n : 1]);
    if (n) std::memcpy(b.get(), p, n);
    return b;
}

[[noreturn]] void fail(const char* why, const uint8_t* in, size_t n) {
    std::fprintf(stderr, "\n*** ioamfwd fuzz_parsers: %s\ninput (%zu octets):", why, n);
    for (size_t i = 0; i < n; ++i) std::fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", in[i]);
    std::fprintf(stderr, "\n");
    std::abort();
}

dp::Drop parse(const uint8_t* data, size_t contiguous, size_t frame, bool enabled,
               dp::Ipv6Parse& out) {
    Buf b = copy_of(data, contiguous);
    return dp::parse_ipv6(b.get(), uint32_t(contiguous), uint32_t(frame), enabled, out);
}

// Words a node adds for a trace type (RFC 9197 §4.4.2; reference §2.1 step 7),
// written here from the RFC, not from common/trace_type.hpp.
unsigned node_words(uint32_t type) {
    unsigned w = 0;
    for (unsigned bit = 0; bit < 22; ++bit)
        if (type & (0x800000u >> bit)) w += (bit >= 8 && bit <= 10) ? 2 : 1;
    return w;
}

void check_fill(const uint8_t* ip, size_t len, uint16_t off, const uint8_t* in, size_t n) {
    const uint8_t* opt = ip + off;
    const size_t opt_total = size_t(opt[1]) + 2;
    const uint16_t ns_id = load_be16(opt + 4);
    const bool overflow = (opt[6] & 0x04) != 0;
    const unsigned nodelen = opt[6] >> 3;
    const unsigned remlen = opt[7] & 0x7f;
    const uint32_t type = uint32_t(opt[8]) << 16 | uint32_t(opt[9]) << 8 | opt[10];
    if (off + opt_total > len) fail("an accepted option runs past the packet", in, n);
    if (nodelen != node_words(type)) fail("accepted a NodeLen the type disagrees with", in, n);

    // A schema of up to 1020 octets, its length taken from the namespace id.
    const size_t schema_len = ns_id % 1021;
    std::vector<uint8_t> schema(schema_len, 'x');
    for (int with_schema = 0; with_schema < 2; ++with_schema) {
        const std::vector<uint8_t> oss =
            with_schema ? dp::build_opaque_state_snapshot(schema.data(), schema.size(), 0x123456)
                        : dp::build_opaque_state_snapshot(nullptr, 0, 0);
        if (oss.empty() || oss.size() % 4) fail("OSS is not whole words", in, n);
        dp::NamespaceData ns;
        ns.data = 0x11223344;
        ns.wide = 0x5566778899aabbccull;
        ns.oss = oss.data();
        ns.oss_words = uint16_t(oss.size() / 4);
        dp::HopData hop;
        hop.hop_limit = 63;
        hop.ts_sec = 0x5ec05ec0;
        hop.ts_usec = 999999;
        hop.queue_depth = 7;
        // The option alone, in a buffer of exactly its size.
        Buf o = copy_of(opt, opt_total);
        (void)dp::trace_wants_time(o.get());
        const dp::FillOutcome r = dp::fill_trace(o.get(), dp::NodeIds{2, 22222222}, ns, hop);
        const unsigned oss_w = (type & 0x000002u) ? ns.oss_words : 0;  // bit 22
        const unsigned need = nodelen + oss_w;
        size_t lo = 0, hi = 0;  // data octets (after the 12 of headers) that may change
        if (overflow) {
            if (r != dp::FillOutcome::OverflowAlready)
                fail("wrote into an overflowed trace", in, n);
        } else if (remlen == 0 || remlen < need) {
            if (r != dp::FillOutcome::OverflowSet) fail("no room but Overflow not set", in, n);
            if (!(o[6] & 0x04)) fail("Overflow flag not set", in, n);
        } else {
            if (r != dp::FillOutcome::Filled) fail("room but not filled", in, n);
            if ((o[7] & 0x7f) != remlen - need) fail("RemainingLen not reduced by the node", in, n);
            lo = size_t(remlen - need) * 4;
            hi = size_t(remlen) * 4;
        }
        const uint8_t flags_after =
            uint8_t(opt[6] | (r == dp::FillOutcome::OverflowSet ? 0x04 : 0));
        if (o[6] != flags_after)
            fail("fill_trace changed NodeLen or a flag other than Overflow", in, n);
        if (r != dp::FillOutcome::Filled && o[7] != opt[7])
            fail("RemainingLen changed without a fill", in, n);
        for (size_t i = 0; i < opt_total; ++i) {
            if (i == 6 || i == 7) continue;  // flags and RemainingLen
            const bool node_area = i >= 12 && i - 12 >= lo && i - 12 < hi;
            if (!node_area && o[i] != opt[i])
                fail("fill_trace changed an octet outside its node", in, n);
        }
        if ((o[7] & 0x80) != (opt[7] & 0x80))
            fail("fill_trace changed the flag bit above RemainingLen", in, n);
    }
}

struct Tlv {
    uint8_t type;
    std::vector<uint8_t> body;
    bool operator==(const Tlv&) const = default;
};

// Non-padding, non-IOAM options of a (valid) HbH, in order.
std::vector<Tlv> kept_options(const uint8_t* h, size_t len) {
    std::vector<Tlv> v;
    for (size_t off = 2; off < len;) {
        if (h[off] == 0) {
            ++off;
            continue;
        }
        const size_t l = size_t(h[off + 1]) + 2;
        if (h[off] != 0x01 && h[off] != 0x31) v.push_back({h[off], {h + off + 2, h + off + l}});
        off += l;
    }
    return v;
}

void check_strip(const uint8_t* ip, size_t len, const uint8_t* in, size_t n) {
    const size_t hbh_len = (size_t(ip[41]) + 1) * 8;
    Buf h = copy_of(ip + 40, hbh_len);
    Buf out(new uint8_t[dp::kHbhMax]);
    const int r = dp::strip_ioam_hbh(h.get(), hbh_len, out.get());
    dp::Ipv6Parse before;
    dp::parse_ipv6(ip, uint32_t(len), uint32_t(len), false, before);
    if ((r < 0) != (before.n_ioam == 0)) fail("strip and the parser disagree on IOAM", in, n);
    if (r <= 0) {
        if (r == 0 && !kept_options(h.get(), hbh_len).empty())
            fail("strip dropped the whole header but it held other options", in, n);
        return;
    }
    if (r % 8 || size_t(r) > hbh_len) fail("rebuilt HbH is not 8n or is longer", in, n);
    if (out[0] != ip[40] || out[1] != r / 8 - 1) fail("rebuilt HbH header octets wrong", in, n);
    if (kept_options(out.get(), size_t(r)) != kept_options(h.get(), hbh_len))
        fail("strip lost, changed or reordered a non-IOAM option", in, n);
    // The rebuilt header behind the same IPv6 header must still parse.
    std::vector<uint8_t> pkt(ip, ip + 40);
    pkt.insert(pkt.end(), out.get(), out.get() + r);
    store_be16(&pkt[4], uint16_t(r));
    dp::Ipv6Parse after;
    const dp::Drop d = parse(pkt.data(), pkt.size(), pkt.size(), true, after);
    if (d != kOk) {
        std::fprintf(stderr, "reason: %s\n", dp::drop_name(d));
        fail("the parser refuses the HbH strip rebuilt", in, n);
    }
    if (after.n_ioam) fail("IOAM left after strip", in, n);
}

// `ip` (`l3` octets) behind a dummy Ethernet header, in a buffer of
// `room` octets (at least the frame), as a one-segment mbuf with no pool:
// what the mbuf-taking parsers and builders need. Not copyable: `m` points
// into `buf`.
struct FakeFrame {
    Buf buf;
    rte_mbuf m;
    FakeFrame(const uint8_t* ip, size_t l3, size_t room) : buf(new uint8_t[room]) {
        const size_t frame = 14 + l3;
        std::memset(buf.get(), 0xee, 14);
        std::memcpy(buf.get() + 14, ip, l3);
        std::memset(&m, 0, sizeof m);
        m.buf_addr = buf.get();
        m.buf_len = uint16_t(room);
        m.data_len = uint16_t(frame);
        m.pkt_len = uint32_t(frame);
        m.nb_segs = 1;
    }
    FakeFrame(const FakeFrame&) = delete;
    FakeFrame& operator=(const FakeFrame&) = delete;
};

void check_decap(const uint8_t* ip, size_t l3, const uint8_t* in, size_t n) {
    for (int enabled = 0; enabled < 2; ++enabled) {
        const size_t frame = 14 + l3;
        FakeFrame f(ip, l3, frame);
        rte_mbuf& m = f.m;
        uint32_t inner_off = 0;
        const dp::Drop where = dp::locate_inner(&m, uint32_t(l3), inner_off);
        const dp::Drop d = dp::decapsulate(&m, uint32_t(l3), enabled != 0);
        if (where == kOk && (inner_off < 40 || inner_off + 40 > l3))
            fail("locate_inner points outside the packet", in, n);
        if (d != kOk) {
            if (m.data_off != 0 || m.data_len != frame)
                fail("a refused decap changed the mbuf", in, n);
            continue;
        }
        if (!enabled) fail("decapsulated on a port without decap", in, n);
        if (where != kOk) fail("decapsulated what locate_inner refused", in, n);
        if (m.data_off != inner_off || m.data_len != frame - inner_off || m.pkt_len != m.data_len)
            fail("decap left inconsistent mbuf lengths", in, n);
        const uint8_t* d0 = rte_pktmbuf_mtod(&m, const uint8_t*);
        if (std::memcmp(d0, "\xee\xee\xee\xee\xee\xee", 6) != 0 || (d0[14] >> 4) != 6)
            fail("decap lost the Ethernet header or the inner IPv6 header", in, n);
    }
}

void check_nd_input(const uint8_t* ip, size_t l3, const uint8_t* in, size_t n) {
    Buf b = copy_of(ip, l3);
    dp::NdMessage msg;
    const dp::NdCheck c = dp::check_nd(b.get(), uint32_t(l3), msg);
    if (c == dp::NdCheck::Valid) {
        const uint8_t* lo = b.get() + 40;
        const uint8_t* hi = b.get() + l3;
        if (!msg.target || msg.target < lo || msg.target + 16 > hi)
            fail("check_nd's target lies outside the message", in, n);
        if (msg.lladdr && (msg.lladdr < msg.target + 16 || msg.lladdr + 6 > hi))
            fail("check_nd's link-layer address lies outside the options", in, n);
    }
    if (c == dp::NdCheck::NotNd || msg.type != dp::kIcmpNeighborSolicit || l3 < 40) return;
    // The solicitation in an mbuf with room for the 86-octet advertisement
    // behind it (the worker's mbufs have that much), on a port that owns the
    // target, so that a valid one is answered.
    const size_t frame = 14 + l3;
    const size_t room = frame < 14 + 40 + 32 ? 14 + 40 + 32 : frame;
    FakeFrame f(ip, l3, room);
    rte_mbuf& m = f.m;
    std::vector<std::array<uint8_t, 16>> addrs(1);
    if (msg.target) std::memcpy(addrs[0].data(), msg.target, 16);
    rte_ether_addr mac = {{0x02, 0, 0, 0, 0x05, 0x01}}, dst_mac;
    const dp::NdResult r = dp::make_neighbor_advert(&m, uint32_t(l3), addrs, mac, dst_mac);
    if ((r == dp::NdResult::Invalid) != (c == dp::NdCheck::Invalid))
        fail("check_nd and make_neighbor_advert judge a solicitation differently", in, n);
    if (r != dp::NdResult::Advertised) return;
    if (m.pkt_len != m.data_len || m.data_len < 14 + 40)
        fail("the advertisement's mbuf lengths are inconsistent", in, n);
    dp::NdMessage na;
    const uint8_t* out = rte_pktmbuf_mtod(&m, const uint8_t*) + 14;
    if (dp::check_nd(out, m.data_len - 14u, na) != dp::NdCheck::Valid ||
        na.type != dp::kIcmpNeighborAdvert || !na.lladdr ||
        std::memcmp(na.target, addrs[0].data(), 16) != 0)
        fail("check_nd refuses the advertisement make_neighbor_advert built", in, n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 16384) size = 16384;  // what a frame can hold, and then some
    dp::Ipv6Parse full[2];
    dp::Drop verdict[2];
    for (int enabled = 0; enabled < 2; ++enabled) {
        verdict[enabled] = parse(data, size, size, enabled != 0, full[enabled]);
        // The same frame with only a prefix contiguous (a chained mbuf).
        const size_t prefix = size ? size_t(data[size - 1]) * size / 256 : 0;
        dp::Ipv6Parse part;
        const dp::Drop d = parse(data, prefix, size, enabled != 0, part);
        if (d != verdict[enabled] && d != dp::Drop::HeadersNotContiguous)
            fail("a shorter contiguous prefix changed the verdict", data, size);
        if (d == kOk &&
            (part.n_trace != full[enabled].n_trace || part.l3_len != full[enabled].l3_len))
            fail("a shorter contiguous prefix changed the result", data, size);
    }
    // Enabled is stricter than disabled, never the other way round.
    if (verdict[1] == kOk && verdict[0] != kOk)
        fail("accepted when enabled, refused when disabled", data, size);
    if (verdict[1] == kOk) {
        const dp::Ipv6Parse& p = full[1];
        if (p.l3_len > size) fail("l3_len beyond the frame", data, size);
        for (unsigned k = 0; k < p.n_trace; ++k)
            check_fill(data, p.l3_len, p.trace_off[k], data, size);
    }
    check_nd_input(data, size, data, size);
    if (verdict[0] == kOk) {
        const uint32_t l3 = full[0].l3_len;
        if (data[6] == 0) check_strip(data, l3, data, size);
        check_decap(data, l3, data, size);
    }
    return 0;
}
