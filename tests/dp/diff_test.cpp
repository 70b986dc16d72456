// The worker's fast paths against its stages. The stages (stage_parse ..
// stage_output) are the reference: every fast path only exists to do what they
// do in fewer instructions. Here a seeded generator builds bursts of every sort
// of packet the roles meet -- plain, IOAM transit, tunnels to decapsulate,
// encap/inline routes with k-of-n sampling, ICMP-worthy drops, malformed and
// chained ones -- and each burst goes through two BurstProcessors with the
// same snapshot and the same clock: one with the fast paths (the default),
// one with WorkerConfig::fast_paths off. Both must transmit the same frames on
// the same ports in the same order, export the same trace records, end with
// the same counters and hold the same number of mbufs after every burst.
// The fast paths take a burst whole or not at all, which random bursts
// seldom allow: where a configuration has fused_forward or
// forward_inserting to test, streaks of focused bursts (Gen::focus_l3) are
// built for it, most qualifying whole and some with one near miss.
//
// A failure names the configuration, seed and burst, and dumps that burst's
// input frames and the first frame that differs.
// IOAMFWD_DIFF_SEED and IOAMFWD_DIFF_BURSTS change the seed and the number of
// bursts per configuration (longer runs by hand).

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../unit/packet_builder.hpp"
#include "dataplane/trace_record.hpp"
#include "dp_fixture.hpp"
#include "role_configs.hpp"

namespace ioamfwd::testenv {
namespace {

using test::Bytes;

constexpr size_t kEth = 14;
constexpr size_t kIp6 = 40;
constexpr uint16_t kBurst = 32;  // BurstProcessor::process takes at most this many

// Both processors read this clock; each burst sets it once, so the traces of
// the two runs carry the same timestamps and still vary from burst to burst.
timespec g_now{};
void fixed_clock(timespec* t) { *t = g_now; }

Bytes addr(const char* text) {
    Bytes a(16);
    if (inet_pton(AF_INET6, text, a.data()) != 1) throw std::runtime_error(text);
    return a;
}

uint16_t icmp6_checksum(const Bytes& src, const Bytes& dst, const uint8_t* msg, size_t len) {
    uint32_t sum = 0;
    auto add = [&](const uint8_t* p, size_t n) {
        for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
        if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    };
    add(src.data(), 16);
    add(dst.data(), 16);
    sum += uint32_t(len >> 16) + uint32_t(len & 0xffff) + 58;
    add(msg, len);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// One configuration of the comparison: a role's YAML and the addresses that
// lead its packets somewhere interesting.
// Which fast path a configuration's focused bursts are built for (see
// Gen::focus_l3): fused_forward's transit or tunnel ends, forward_inserting.
enum class Focus { None, Transit, Decap, Insert };

struct Variant {
    const char* name;
    const char* yaml;
    std::vector<const char*> remote;  // forwarded to (or from), routed or not
    std::vector<const char*> own;     // the appliance's unicast addresses
    std::vector<const char*> plain;   // behind plain routes with a known next hop
    bool export_traces = true;
    uint32_t icmp_rate = 1000;
    Focus focus = Focus::None;
    std::vector<const char*> focus_dst = {};  // Insert: encap and plain routes out of non-edge ports
};

// Athos with the sampling and insertion modes turned around: inline with
// 2 of 3 sampled, encap 1 of 3 with a short trace, a plain route.
constexpr const char* kFreqYaml = R"(# Athos, other modes
node: {id: 7, id_wide: 77777777}
ports:
  - name: eth0
    device: net_null0
    mac: 02:00:00:00:07:00
    addresses: [db01::2/64]
    ioam: {enabled: true, id: 701, id_wide: 701701}
  - name: eth1
    device: net_null1
    mac: 02:00:00:00:07:01
    mtu: 1400
    addresses: [db04::1/64]
    edge: true
    edge_policy: drop
    ioam: {enabled: true, id: 702, id_wide: 702702}
namespaces:
  - {id: 123, data: 0xdeadbee7, wide: 0xcafec0caf77dc0de, schema: 5}
  - {id: 9}
schemas:
  - {id: 5, data: "abcd"}
routes:
  - prefix: db03::/64
    via: db01::1
    port: eth0
    encap:
      mode: inline
      freq: 2/3
      trace: {type: 0xfff002, ns: 123, size: 100}
  - prefix: db05::/64
    via: db01::1
    port: eth0
    encap:
      mode: encap
      freq: 1/3
      tundst: db02::2
      trace: {type: 0x800000, ns: 9, size: 12}
  - prefix: db06::/64
    via: db04::2
    port: eth1
    encap:
      mode: auto
      tundst: db02::2
      trace: {type: 0xf00000, ns: 123, size: 32}
  - {prefix: db02::/64, via: db01::1, port: eth0}
neighbors:
  - {address: db01::1, mac: 02:00:00:00:00:01, port: eth0}
  - {address: db04::2, mac: 02:00:00:00:02:00, port: eth1}
)";

const std::vector<const char*> kRemote = {"db01::1", "db02::2", "db02::9", "db03::2",
                                          "db04::1", "db04::2", "db04::77", "db05::5",
                                          "db06::6", "db09::9", "db03::9", "2001:db8::1"};

// Insertion routes (and plain ones) leaving by ports that are no edge, where
// forward_inserting takes them: Athos db05 inline, db06 auto 1/2, db02
// plain (its db03 encap with 244 octets of trace needs more headroom than an
// mbuf has: the stages shift the payload); Athos-other-modes db03 inline
// 2/3, db05 encap 1/3, db02 plain (its db06 leaves by the edge port).
const std::vector<const char*> kEncapFocus = {"db05::5", "db05::1", "db06::6", "db06::1",
                                              "db02::2", "db02::9"};
const std::vector<const char*> kFreqFocus = {"db03::2", "db03::77", "db05::5", "db05::1",
                                             "db02::2", "db02::9"};

// Each role with trace export on (stage_ioam, which also exports) and off
// (stage_ioam_single takes the bursts it can); ICMP errors off once.
std::vector<Variant> variants() {
    return {
        {"transit", kTransitYaml, kRemote, {"db04::2", "db02::1"}, {"db03::2", "db01::1"}},
        {"transit_noexport", kTransitYaml, kRemote, {"db04::2", "db02::1"},
         {"db03::2", "db01::1"}, false, 1000, Focus::Transit},
        {"encap", kEncapYaml, kRemote, {"db01::2", "db04::1"}, {"db02::2", "db02::9"}, true,
         1000, Focus::Insert, kEncapFocus},
        {"encap_noexport", kEncapYaml, kRemote, {"db01::2", "db04::1"}, {"db02::2", "db02::9"},
         false, 1000, Focus::Insert, kEncapFocus},
        {"decap", kDecapYaml, kRemote, {"db02::2", "db03::1"}, {"db01::1", "db04::1"}, true,
         1000, Focus::Decap},
        {"decap_noicmp", kDecapYaml, kRemote, {"db02::2", "db03::1"}, {"db01::1", "db04::1"},
         false, 0, Focus::Decap},
        {"freq_inline", kFreqYaml, kRemote, {"db01::2", "db04::1"}, {"db02::2", "db02::9"}, true,
         1000, Focus::Insert, kFreqFocus},
        {"freq_inline_noexport", kFreqYaml, kRemote, {"db01::2", "db04::1"},
         {"db02::2", "db02::9"}, false, 1000, Focus::Insert, kFreqFocus},
    };
}

// What a packet is built to exercise. A burst mostly has one theme, so the
// fast paths (which take whole bursts) get their chance, with strays mixed in.
enum class Kind { Plain, Ioam, Tunnel, Encap, Local, Odd, Count };

struct Gen {
    std::mt19937_64 rng;
    const Variant& v;
    const dp::Snapshot& s;

    uint32_t u(uint32_t n) { return n ? uint32_t(rng() % n) : 0; }
    bool pct(unsigned p) { return u(100) < p; }
    // Clean packets are what the fast paths are for: no flaw, valid headers,
    // routed somewhere they can leave. A flaw is only drawn when not clean.
    bool clean = false;
    // Building a focused burst (focus_l3): clean, and with the trace states
    // the fused fill must get right that a clean packet otherwise skips.
    bool focus = false;
    bool flaw(unsigned p) { return !clean && pct(p); }
    template <typename T>
    const T& pick(const std::vector<T>& xs) { return xs[u(uint32_t(xs.size()))]; }
    Bytes random_bytes(size_t n) {
        Bytes b(n);
        for (auto& x : b) x = uint8_t(rng());
        return b;
    }

    Bytes remote() { return addr(pick(v.remote)); }
    Bytes own() { return addr(pick(v.own)); }
    // Destinations for encap routes (Athos db03/db05/db06; others route them plainly).
    Bytes encap_dst() {
        static const std::vector<const char*> d = {"db03::2", "db05::5", "db06::6", "db03::77"};
        return addr(pick(d));
    }
    Bytes odd_addr(uint16_t in_port) {
        switch (u(10)) {
            case 0: return addr("fe80::1");
            case 1: return Bytes(s.ports[in_port].link_local, s.ports[in_port].link_local + 16);
            case 2: return addr("ff02::1");
            case 3: return addr("ff02::1:ff00:2");
            case 4: return addr("ff05::2");
            case 5: return addr("::1");
            case 6: return addr("::");
            case 7: return addr("2001:db8::1");
            case 8: return random_bytes(16);
            default: return own();
        }
    }

    uint8_t hop_limit() {
        switch (u(12)) {
            case 0: return 0;
            case 1: return 1;
            case 2: return 2;
            case 3: return 255;
            default: return uint8_t(3 + u(120));
        }
    }
    // Traffic class with every ECN codepoint, flow label anything.
    Bytes fixed_header(const Bytes& src, const Bytes& dst, uint8_t nh, uint8_t hop, size_t payload,
                       uint8_t tc) {
        const uint32_t flow = uint32_t(rng()) & 0xfffff;
        Bytes b{uint8_t(0x60 | tc >> 4), uint8_t((tc & 0x0f) << 4 | flow >> 16), uint8_t(flow >> 8),
                uint8_t(flow)};
        test::put_be16(b, uint16_t(payload));
        b.push_back(nh);
        b.push_back(hop);
        test::append(b, src);
        test::append(b, dst);
        return b;
    }

    // The upper layer: an echo request with a valid checksum (answered when
    // it is for us), UDP, or nothing. `size` is a hint for the payload.
    Bytes upper(const Bytes& src, const Bytes& dst, uint8_t& nh, size_t size) {
        Bytes b;
        switch (u(4)) {
            case 0:
            case 1: {
                nh = 58;
                b = {128, 0, 0, 0, uint8_t(rng()), uint8_t(rng()), 0, uint8_t(rng())};
                test::append(b, random_bytes(size));
                const uint16_t c = icmp6_checksum(src, dst, b.data(), b.size());
                if (!flaw(5)) {  // else a bad checksum
                    b[2] = uint8_t(c >> 8);
                    b[3] = uint8_t(c);
                }
                break;
            }
            case 2:
                nh = 17;
                b = random_bytes(8 + size);
                break;
            default:
                nh = 59;
                b = random_bytes(size);
                break;
        }
        return b;
    }

    size_t payload_size(uint16_t out_mtu_hint) {
        switch (u(20)) {
            case 0: return 0;
            case 1: return out_mtu_hint - 60 + u(60);        // around the MTU
            case 2: return 1200 + u(300);                    // past 1280
            case 3: return 8900 + u(200);                    // jumbo frames
            default: return u(200);
        }
    }

    // Standard IOAM Hop-by-Hop (PadN(2), one Pre-allocated Trace option,
    // PadN(4) when the area leaves 4 octets over) with a trace in any state;
    // sometimes a layout off the standard one or a different option.
    Bytes ioam_hbh(uint8_t next) {
        static const std::vector<uint32_t> types = {0x800000, 0x800000, 0xfff002, 0xfff002,
                                                    0xc00000, 0xf00000, 0xfff000, 0x000002,
                                                    0x100000, 0x0c0000, 0xff0000, 0x200002};
        static const std::vector<uint16_t> nss = {123, 123, 123, 124, 0, 9, 777};
        uint32_t type = flaw(10) || (focus && pct(25)) ? uint32_t(rng()) & 0xfffffe : pick(types);
        test::TraceHdr h;
        h.ns = pick(nss);
        h.type = type;
        h.nodelen = test::nodelen_for(type) & 0x1f;
        if (flaw(3)) h.nodelen = u(32);
        static const std::vector<unsigned> sizes = {12, 24, 44, 64, 100, 244, 4, 8};
        unsigned size = !flaw(20) ? pick(sizes) : 4 * (1 + u(61));
        // Room for whole nodes, as a sender would allocate it.
        unsigned words = size / 4;
        unsigned remlen_case = u(8);
        if (clean && (remlen_case == 1 || remlen_case == 2)) remlen_case = 7;
        if (focus && u(4) == 0) remlen_case = u(2) ? 0 : 1;  // full, or room for part of a node
        switch (remlen_case) {
            case 0: h.remlen = 0; break;                               // full
            case 1: h.remlen = words > 1 ? u(words) : 0; break;        // odd partial
            case 2: h.remlen = words + 1 + u(4); break;                // beyond the area
            case 3: h.remlen = words; h.overflow = true; break;        // overflow already
            case 4: {  // some nodes filled
                const unsigned used = h.nodelen * (1 + u(3));
                h.remlen = used < words ? words - used : 0;
                break;
            }
            default: h.remlen = words; break;  // empty
        }
        h.remlen &= 0x7f;
        if (flaw(3)) h.octet3_top = true;
        if (flaw(3)) h.octet2_low = uint8_t(u(4));
        if (flaw(3)) h.reserved = uint8_t(rng());
        Bytes area(size, 0);
        const size_t empty = std::min<size_t>(size, size_t(h.remlen) * 4);
        for (size_t i = empty; i < size; ++i) area[i] = uint8_t(rng());
        Bytes opt = test::trace_option(h, area);
        if (flaw(3)) opt[3] = uint8_t(1 + u(3));  // not a Pre-allocated Trace
        if (flaw(2)) opt[2] = uint8_t(rng());     // reserved octet
        Bytes options;
        switch (!flaw(15) ? 0 : u(5)) {
            case 0:  // standard
                options = {0x01, 0x00};
                test::append(options, opt);
                if (size % 8 == 4) test::append(options, {0x01, 0x02, 0x00, 0x00});
                break;
            case 1:  // Pad1s in front
                options = {0x00, 0x00};
                test::append(options, opt);
                test::pad_hbh_options(options);
                break;
            case 2:  // router alert first
                options = {0x05, 0x02, 0x00, 0x00, 0x01, 0x00};
                test::append(options, opt);
                test::pad_hbh_options(options);
                break;
            case 3: {  // two traces
                options = {0x01, 0x00};
                test::append(options, opt);
                test::pad_hbh_options(options);
                test::append(options, {0x01, 0x00});
                test::append(options, opt);
                test::pad_hbh_options(options);
                break;
            }
            default:  // an unknown option: skipped, discarded or answered by its action bits
                options = {uint8_t(0x1e | (u(4) << 6)), 0x02, 0x00, 0x00};
                test::append(options, opt);
                test::pad_hbh_options(options);
                break;
        }
        return test::hbh(next, options);
    }

    // A Neighbor Solicitation for one of our addresses (or a stranger's),
    // to the solicited-node group or the address itself; sometimes from
    // the unspecified address (duplicate address detection) or invalid.
    Bytes solicitation(uint16_t in_port) {
        const Bytes target = pct(85) ? own() : remote();
        const bool dad = pct(15);
        const Bytes src = dad ? addr("::") : pct(30) ? addr("fe80::99") : remote();
        Bytes dst = target;
        if (pct(70)) {
            dst = addr("ff02::1:ff00:0");
            std::memcpy(dst.data() + 13, target.data() + 13, 3);
        }
        if (in_port < dp::kMaxPorts && pct(10))
            dst.assign(s.ports[in_port].link_local, s.ports[in_port].link_local + 16);
        Bytes msg = {135, 0, 0, 0, 0, 0, 0, 0};
        test::append(msg, target);
        if (!dad || pct(10)) test::append(msg, {1, 1, 0x02, 0x00, 0x00, 0x00, 0x09, 0x01});
        const uint16_t c = icmp6_checksum(src, dst, msg.data(), msg.size());
        msg[2] = uint8_t(c >> 8);
        msg[3] = uint8_t(c);
        if (pct(5)) msg[1] = 1;  // code must be 0
        Bytes out = fixed_header(src, dst, 58, pct(90) ? 255 : hop_limit(), msg.size(), 0);
        test::append(out, msg);
        return out;
    }

    // An IPv6 packet (no Ethernet) of the given kind; `depth` bounds tunnels.
    Bytes l3(Kind k, uint16_t in_port, int depth = 0) {
        if (k == Kind::Local && pct(20)) return solicitation(in_port);
        Bytes src = remote(), dst = remote();
        uint8_t hop = !flaw(15) ? uint8_t(2 + u(250)) : hop_limit();
        uint8_t tc = uint8_t(rng());
        bool with_ioam = false;
        Bytes ext;  // extension headers between the fixed header and `inner`
        switch (k) {
            case Kind::Plain:
                // What the plain fast path takes, now and then with a flaw.
                if (!flaw(10)) dst = addr(pick(v.plain));
                if (flaw(5)) hop = hop_limit();
                break;
            case Kind::Ioam:
                with_ioam = true;
                if (clean) dst = addr(pick(v.plain));
                break;
            case Kind::Encap:
                dst = encap_dst();
                with_ioam = flaw(15);
                break;
            case Kind::Local:
                dst = pct(70) ? own() : odd_addr(in_port);
                with_ioam = pct(30);
                break;
            case Kind::Tunnel: {
                dst = !flaw(15) ? own() : remote();
                with_ioam = pct(60);
                break;
            }
            case Kind::Odd:
            default:
                if (pct(50)) dst = odd_addr(in_port);
                if (pct(30)) src = odd_addr(in_port);
                hop = hop_limit();
                with_ioam = pct(30);
                break;
        }
        uint8_t nh;
        Bytes inner;
        if (k == Kind::Tunnel && depth < 2) {
            nh = 41;
            Kind ik = Kind(u(clean ? 2 : 3));  // plain, IOAM or another tunnel inside
            if (ik == Kind::Tunnel && pct(70)) ik = Kind::Plain;
            inner = l3(ik, in_port, depth + 1);
            // Every ECN pairing of RFC 6040: set the inner codepoint too.
            if (inner.size() >= 2) inner[1] = uint8_t((inner[1] & 0xcf) | (u(4) << 4));
            if (flaw(10)) {  // a Destination Options header before the inner packet
                Bytes d = {41, 0, 0x01, 0x04, 0, 0, 0, 0};
                test::append(d, inner);
                inner = d;
                nh = 60;
            }
        } else {
            inner = upper(src, dst, nh,
                          !flaw(20) ? u(300) : payload_size(in_port ? 1400 : 1280));
        }
        if (with_ioam) {
            ext = ioam_hbh(nh);
            nh = 0;
        } else if (clean || (k == Kind::Plain && pct(90))) {
        } else if (pct(4)) {  // a non-IOAM Hop-by-Hop
            ext = test::hbh(nh, {0x05, 0x02, 0x00, 0x00, 0x01, 0x02});
            nh = 0;
        } else if (pct(3)) {  // Destination Options or a Routing header: not ours to read
            const uint8_t type = pct(50) ? 60 : 43;
            ext = {nh, 0, 0x01, 0x04, 0, 0, 0, 0};
            if (type == 43) ext = {nh, 0, 4, 0, 0, 0, 0, 0};
            nh = type;
        }
        Bytes payload = ext;
        test::append(payload, inner);
        Bytes out = fixed_header(src, dst, nh, hop, payload.size(), tc);
        test::append(out, payload);
        return out;
    }

    // A packet of a focused burst: what `v.focus`'s fast path takes whole,
    // plain packets among them. `miss` makes it one that path must refuse
    // (mostly in its header pass, now and then in its route pass, which
    // then rests the fast path for a few bursts); `chain` is set when the
    // packet is to sit in a chain of mbufs, a miss of the fused path.
    Bytes focus_l3(bool miss, bool& chain) {
        chain = false;
        const Bytes src = remote();
        uint8_t hop = u(8) == 0 ? 2 : u(8) == 0 ? 255 : uint8_t(2 + u(254));
        const uint8_t tc = uint8_t(rng());
        Bytes dst;
        bool trace = false, tunnel = false;
        switch (v.focus) {
            case Focus::Transit:
                dst = addr(pick(v.plain));
                trace = pct(70);
                break;
            case Focus::Decap:
                tunnel = pct(60);
                dst = tunnel ? own() : addr(pick(v.plain));
                // With trace export the fused path takes no trace.
                trace = !v.export_traces && pct(50);
                break;
            case Focus::Insert:
            default:
                dst = addr(pick(v.focus_dst));
                break;
        }
        const unsigned how = miss ? u(10) : 99;
        bool ce_miss = false, bad_trace = false;
        // Decap: a tunnel end the fused path takes whose inner packet
        // forward_plain would not (1 + which way), so that all the burst's
        // inner packets go to process_burst after all.
        unsigned inner_miss = 0;
        if (how == 0) {  // no route, or an unresolved next hop (transit's db09)
            dst = addr(pick(std::vector<const char*>{"2001:db8::1", "db0f::1", "db09::9"}));
        } else if (how <= 2) {
            hop = uint8_t(u(2));
        } else if (how <= 4 && v.focus != Focus::Insert) {
            chain = true;
        } else if (how <= 6 && v.focus == Focus::Decap) {
            tunnel = ce_miss = true;  // CE over Not-ECT: RFC 6040 drops it
            dst = own();
        } else if (miss && v.focus == Focus::Decap && pct(75)) {
            tunnel = true;
            dst = own();
            inner_miss = 1 + u(8);
        } else if (miss) {
            trace = bad_trace = true;  // an IOAM option that is not a Pre-allocated Trace
        }
        uint8_t nh;
        Bytes inner;
        if (tunnel) {
            nh = 41;
            clean = true;
            focus = true;
            // Plain to a plain route, or IOAM (a miss).
            inner = l3(inner_miss == 1 ? Kind::Ioam : Kind::Plain, 0, 1);
            spoil_inner(inner, inner_miss);
            uint8_t inner_ecn = uint8_t(u(4));
            const uint8_t outer_ecn = tc & 3;
            if (outer_ecn == 3 && inner_ecn == 0) inner_ecn = uint8_t(1 + u(3));
            if (ce_miss) inner_ecn = 0;
            inner[1] = uint8_t((inner[1] & 0xcf) | inner_ecn << 4);
        } else {
            clean = true;
            inner = upper(src, dst, nh, u(300));
        }
        Bytes ext;
        if (trace) {
            clean = focus = true;
            ext = ioam_hbh(nh);
            if (bad_trace) ext[7] = uint8_t(1 + u(3));
            nh = 0;
        }
        clean = focus = false;
        const uint8_t t = ce_miss ? uint8_t(tc | 3) : tc;
        Bytes payload = ext;
        test::append(payload, inner);
        Bytes out = fixed_header(src, dst, nh, hop, payload.size(), t);
        test::append(out, payload);
        return out;
    }

    // A focused tunnel end's inner packet (plain, to a plain route): as
    // forward_plain takes it, now and then at the edge of what it takes, or
    // for `inner_miss` > 1 one it refuses (mostly) in its header pass or
    // route pass.
    void spoil_inner(Bytes& in, unsigned inner_miss) {
        auto set_addr = [&](size_t at, const char* a) {
            const Bytes b = addr(a);
            std::copy(b.begin(), b.end(), in.begin() + long(at));
        };
        auto set_payload_len = [&](size_t pl) {
            in[4] = uint8_t(pl >> 8);
            in[5] = uint8_t(pl);
        };
        const size_t pl = in.size() - kIp6;
        switch (inner_miss) {
            case 0:
            case 1:
                if (pct(10)) in[7] = 2;  // the last hop it can be forwarded with
                // Octets behind it in the outer packet, trimmed away.
                if (pct(10)) test::append(in, random_bytes(1 + u(16)));
                break;
            case 2:  // Time Exceeded
                in[7] = uint8_t(u(2));
                break;
            case 3:  // a destination or source that is never forwarded
                set_addr(pct(50) ? 24 : 8, pick(std::vector<const char*>{
                                               "ff02::1", "ff0e::1", "fe80::1", "::1"}));
                break;
            case 4:  // for us
                set_addr(24, pick(v.own));
                break;
            case 5:  // longer than what the outer packet holds behind it
                set_payload_len(pl + 1 + u(16));
                break;
            case 6:  // no route, or one that is not plain (on-link, edge)
                set_addr(24, pick(std::vector<const char*>{"2001:db8::1", "db02::9", "db03::2"}));
                break;
            case 7: {  // around the egress MTU (Aramis' eth0: 1500)
                const size_t grow = 1490 + u(20) - std::min<size_t>(in.size(), 1490);
                test::append(in, random_bytes(grow));
                set_payload_len(in.size() - kIp6);
                break;
            }
            default: {  // a Hop-by-Hop header without IOAM: not plain either
                const Bytes hbh = {in[6], 0, 0x01, 0x04, 0, 0, 0, 0};
                in[6] = 0;
                in.insert(in.begin() + long(kIp6), hbh.begin(), hbh.end());
                set_payload_len(in.size() - kIp6);
                break;
            }
        }
    }

    // Breaks a well-formed packet in one of the ways the parser must catch.
    void damage(Bytes& l3) {
        switch (u(6)) {
            case 0:  // truncated anywhere
                l3.resize(u(uint32_t(l3.size())));
                break;
            case 1:  // payload length off
                if (l3.size() >= 6) {
                    const uint16_t pl = uint16_t(l3.size() - kIp6);
                    const uint16_t bad = pct(50) ? uint16_t(pl + 1 + u(64)) : uint16_t(u(pl + 1));
                    l3[4] = uint8_t(bad >> 8);
                    l3[5] = uint8_t(bad);
                }
                break;
            case 2:  // an octet anywhere in the headers
                if (!l3.empty()) l3[u(uint32_t(std::min<size_t>(l3.size(), 120)))] = uint8_t(rng());
                break;
            case 3:  // the Hop-by-Hop length
                if (l3.size() > kIp6 + 1) l3[kIp6 + 1] = uint8_t(rng());
                break;
            case 4:  // version
                if (!l3.empty()) l3[0] = uint8_t((l3[0] & 0x0f) | (u(16) << 4));
                break;
            default:  // jumbogram-style zero payload length
                if (l3.size() >= 6) l3[4] = l3[5] = 0;
                break;
        }
    }

    Bytes frame(Kind k, uint16_t in_port) {
        Bytes l3b = l3(k, in_port);
        if (k == Kind::Odd && pct(40)) damage(l3b);
        if (flaw(2)) damage(l3b);
        return ethernet(k, in_port, l3b);
    }

    Bytes ethernet(Kind k, uint16_t in_port, const Bytes& l3b) {
        Bytes f(kEth);
        const uint8_t* mac = s.ports[in_port].mac.addr_bytes;
        if (!flaw(5)) {
            std::memcpy(f.data(), mac, 6);
        } else if (pct(50)) {
            const uint8_t mc[6] = {0x33, 0x33, 0, 0, 0, 1};
            std::memcpy(f.data(), mc, 6);
        } else {
            const uint8_t other[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
            std::memcpy(f.data(), other, 6);
        }
        const uint8_t peer[6] = {0x02, 0x00, 0x00, 0x00, 0x09, uint8_t(in_port)};
        std::memcpy(f.data() + 6, peer, 6);
        const bool ipv4 = k == Kind::Odd && pct(10);
        f[12] = ipv4 ? 0x08 : 0x86;
        f[13] = ipv4 ? 0x00 : 0xdd;
        test::append(f, l3b);
        if (pct(10)) test::append(f, random_bytes(1 + u(40)));  // link padding
        if (f.size() > kMaxFrame) f.resize(kMaxFrame);
        return f;
    }
};

// How a frame sits in its mbuf(s); both copies get the same.
struct Layout {
    int kind;  // 0 default, 1 no headroom, 2 no tailroom, 3 chained
    size_t split;
};

struct Input {
    Bytes frame;
    Layout layout;
};

rte_mbuf* make_mbuf(DpEnv& env, const Input& in) {
    const Bytes& f = in.frame;
    switch (in.layout.kind) {
        case 1: return env.mbuf(f.data(), f.size(), 0);
        case 2: return env.mbuf(f.data(), f.size(), 0, true);
        case 3: return env.chain(f.data(), f.size(), in.layout.split);
        default: return env.mbuf(f.data(), f.size());
    }
}

std::string hexdump(const Bytes& b) {
    std::string s;
    char tmp[4];
    for (size_t i = 0; i < b.size(); ++i) {
        std::snprintf(tmp, sizeof tmp, "%02x", b[i]);
        if (i && i % 32 == 0) s += "\n    ";
        s += tmp;
    }
    return s;
}

struct Side {
    std::unique_ptr<Forwarder> fw;
    std::vector<TxFrame> tx;
    std::vector<dp::TraceRecord> records;
    // A failed assertion leaves packets in the tx buffers: back to the pool
    // with them, or every later test would count them as leaked.
    ~Side() {
        if (fw) fw->bp->flush();
    }
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class FastVsStages : public ::testing::TestWithParam<Variant> {
protected:
    void SetUp() override {
        ASSERT_TRUE(open_dp_env(env_));
        drain_exports();
    }
    void TearDown() override {
        if (!env_) return;
        drain_exports();
        EXPECT_EQ(env_->mbufs_in_use(), 0u) << "an mbuf did not come back to its pool";
        EXPECT_EQ(env_->tx_error(), "");
    }
    std::vector<dp::TraceRecord> drain_exports() {
        std::vector<dp::TraceRecord> out;
        dp::TraceRecord r[16];
        while (unsigned n = env_->export_ring().pop_burst(r, 16)) out.insert(out.end(), r, r + n);
        return out;
    }

    DpEnv* env_ = nullptr;
};

uint64_t env_number(const char* name, uint64_t dflt) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 0) : dflt;
}

TEST_P(FastVsStages, SameFramesCountersAndMbufs) {
    const Variant& v = GetParam();
    std::unique_ptr<dp::Snapshot> snap;
    try {
        snap = env_->snapshot(v.yaml);
    } catch (const std::exception& e) {
        FAIL() << e.what();
    }
    // The ICMP token bucket runs on the TSC, which the two runs do not share:
    // deep enough that it never empties here (rate 0: never any error).
    snap->icmp_rate = v.icmp_rate;
    snap->icmp_burst = v.icmp_rate ? 1u << 30 : 0;
    const dp::Snapshot& s = *snap;

    const uint64_t base_seed = env_number("IOAMFWD_DIFF_SEED", 0x10a3f00d);
    uint64_t seed = base_seed;  // and the configuration's name (FNV-1a): each its own packets
    for (const char* c = v.name; *c; ++c) seed = (seed ^ uint8_t(*c)) * 0x100000001b3ull;
    const uint64_t bursts = env_number("IOAMFWD_DIFF_BURSTS", 3000);
    Gen gen{std::mt19937_64(seed), v, s};

    Side side[2];  // 0: fast paths on (the default), 1: the stages only
    for (int k = 0; k < 2; ++k) {
        side[k].fw = std::make_unique<Forwarder>(*env_, v.export_traces);
        side[k].fw->cfg.clock = fixed_clock;
        side[k].fw->cfg.fast_paths = k == 0;
    }
    ASSERT_TRUE(side[0].fw->cfg.fast_paths) << "the fast paths are not on by default";

    struct {
        uint64_t packets = 0, frames = 0, records = 0;
    } stats;
    // Mbufs each side keeps in its tx buffers between bursts.
    unsigned hold[2] = {0, 0};
    // Focused bursts come in streaks, each on a worker that starts afresh:
    // a burst the fast path gave up on in its route pass rests it for a few
    // bursts (kPlainBackoff), which the random bursts do all the time, and a
    // qualifying burst the worker never tries would test nothing. Within a
    // streak every fifth burst or so has one near miss at a random place,
    // the rest qualify whole for v.focus's path.
    unsigned streak = 0;
    uint64_t focused = 0, qualifying = 0;
    for (uint64_t b = 0; b < bursts; ++b) {
        const bool restart = !streak && v.focus != Focus::None && gen.pct(4);
        if (restart) streak = 8 + gen.u(33);
        const bool focus = streak != 0;
        if (streak) --streak;
        const uint16_t in_port = uint16_t(focus && v.focus != Focus::Insert ? 0 : gen.u(2));
        const uint16_t n = uint16_t(1 + gen.u(kBurst));
        const int miss_at = focus && gen.pct(20) ? int(gen.u(n)) : -1;
        focused += focus;
        qualifying += focus && miss_at < 0;
        static const Kind themes[10] = {Kind::Plain, Kind::Plain, Kind::Plain, Kind::Ioam,
                                        Kind::Ioam,  Kind::Tunnel, Kind::Encap, Kind::Encap,
                                        Kind::Local, Kind::Odd};
        const Kind theme = themes[gen.u(10)];
        // A clean burst is one a fast path may take whole, or all but for one
        // stray packet anywhere in it; the others mix more freely.
        const bool clean = theme != Kind::Odd && theme != Kind::Local && gen.pct(60);
        const int stray_at = clean && gen.pct(30) ? int(gen.u(n)) : -1;
        const unsigned stray = clean || gen.pct(50) ? 0 : 1 + gen.u(30);  // % of other kinds
        std::vector<Input> inputs(n);
        for (uint16_t i = 0; focus && i < n; ++i) {
            Input& in = inputs[i];
            bool chain = false;
            const Bytes l3b = gen.focus_l3(i == miss_at, chain);
            gen.clean = true;  // for our MAC
            in.frame = gen.ethernet(Kind::Plain, in_port, l3b);
            gen.clean = false;
            const size_t size = in.frame.size();
            const unsigned lk = gen.u(10);
            // One segment for the fused path (headroom or none: it works in
            // place); insertion needs headroom, but the tail may be chained.
            if (v.focus == Focus::Insert)
                in.layout.kind = lk < 7 ? 0 : lk < 8 ? 2 : 3;
            else
                in.layout.kind = chain ? 3 : lk < 7 ? 0 : lk < 8 ? 1 : 2;
            in.layout.split = size - 1 - gen.u(16);
        }
        for (uint16_t i = 0; !focus && i < n; ++i) {
            Input& in = inputs[i];
            gen.clean = clean && i != stray_at;
            const Kind k = i == stray_at || gen.pct(stray) ? Kind(gen.u(unsigned(Kind::Count)))
                                                          : theme;
            in.frame = gen.frame(k, in_port);
            const unsigned lk = gen.u(20);
            in.layout.kind = lk < 14 ? 0 : lk < 16 ? 1 : lk < 18 ? 2 : 3;
            // Chains split in the headers (not contiguous) or in the payload;
            // a clean packet's headers all fit in the first segment.
            const size_t size = in.frame.size();
            if (gen.clean)
                in.layout.split = size - std::min<size_t>(size, gen.u(32));
            else
                in.layout.split = gen.u(uint32_t(gen.pct(50) ? std::min<size_t>(size, 200) : size) + 1);
        }
        gen.clean = false;
        g_now.tv_sec = time_t(1700000000 + b);
        g_now.tv_nsec = long(gen.u(1000000000));
        // Unflushed bursts leave packets queued: the next burst's IOAM queue
        // depth sees them.
        const bool fresh = gen.pct(20);
        const bool flush = fresh || gen.pct(50) || b + 1 == bursts;

        for (int k = 0; k < 2; ++k) {
            rte_mbuf* pkts[kBurst];
            for (uint16_t i = 0; i < n; ++i) {
                pkts[i] = make_mbuf(*env_, inputs[i]);
                ASSERT_NE(pkts[i], nullptr) << "pool exhausted: a leak? burst " << b;
            }
            if (restart) {
                side[k].fw->bp->flush();
                side[k].fw->bp = std::make_unique<dp::BurstProcessor>(side[k].fw->cfg);
            }
            side[k].fw->bp->process(s, in_port, pkts, n);
            if (flush) side[k].fw->bp->flush();
            // Now and then a worker that remembers nothing (the fast path's
            // back-off after a burst it could not take, sampling counters).
            if (fresh) side[k].fw->bp = std::make_unique<dp::BurstProcessor>(side[k].fw->cfg);
            hold[k] = env_->mbufs_in_use() - hold[1 - k];
            side[k].tx = env_->take_tx();
            side[k].records = drain_exports();
        }
        ASSERT_EQ(env_->tx_error(), "") << "burst " << b;

        auto burst_dump = [&] {
            std::string d = std::string("configuration ") + v.name + ", IOAMFWD_DIFF_SEED=" +
                            std::to_string(base_seed) + ", burst " + std::to_string(b) + " on port " +
                            std::to_string(in_port) + ", " + std::to_string(n) + " frames:\n";
            for (uint16_t i = 0; i < n; ++i)
                d += "  [" + std::to_string(i) + "] layout " +
                     std::to_string(inputs[i].layout.kind) + " split " +
                     std::to_string(inputs[i].layout.split) + "\n    " +
                     hexdump(inputs[i].frame) + "\n";
            return d;
        };
        ASSERT_EQ(hold[0], hold[1]) << "the two sides hold different numbers of mbufs\n"
                                    << burst_dump();
        const std::string c = counters_differ(side[0].fw->stats, side[1].fw->stats);
        ASSERT_EQ(c, "") << burst_dump();
        ASSERT_EQ(side[0].tx.size(), side[1].tx.size())
            << "different numbers of frames transmitted\n" << burst_dump();
        for (size_t i = 0; i < side[0].tx.size(); ++i) {
            const TxFrame& a = side[0].tx[i];
            const TxFrame& e = side[1].tx[i];
            ASSERT_TRUE(a.port == e.port && a.bytes == e.bytes && a.nb_segs == e.nb_segs)
                << "transmitted frame " << i << " of the burst differs: fast on port " << a.port
                << " in " << a.nb_segs << " segment(s)\n    " << hexdump(a.bytes)
                << "\nstages on port " << e.port << " in " << e.nb_segs << " segment(s)\n    "
                << hexdump(e.bytes) << "\n"
                << burst_dump();
        }
        ASSERT_EQ(side[0].records.size(), side[1].records.size())
            << "different numbers of trace records exported\n" << burst_dump();
        for (size_t i = 0; i < side[0].records.size(); ++i)
            ASSERT_TRUE(same_record(side[0].records[i], side[1].records[i]))
                << "exported trace record " << i << " differs\n" << burst_dump();
        stats.frames += side[0].tx.size();
        stats.records += side[0].records.size();
        stats.packets += n;
    }
    EXPECT_EQ(env_->mbufs_in_use(), 0u);

    // The generator must keep reaching what the comparison is for.
    const Forwarder& f = *side[1].fw;
    std::string events;
    for (unsigned i = 0; i < dp::kIoamEventCount; ++i)
        if (uint64_t n = f.stats.ioam[i].get())
            events += std::string(" ") + dp::ioam_event_name(dp::IoamEvent(i)) + "=" +
                      std::to_string(n);
    for (unsigned i = 0; i < dp::kIcmpEventCount; ++i)
        if (uint64_t n = f.stats.icmp[i].get())
            events += std::string(" ") + dp::icmp_event_name(dp::IcmpEvent(i)) + "=" +
                      std::to_string(n);
    std::printf("[ %s ] %llu bursts, %llu packets, %llu frames sent, %llu traces exported\n"
                "  drops: %s\n  events:%s\n",
                v.name, (unsigned long long)bursts, (unsigned long long)stats.packets,
                (unsigned long long)stats.frames, (unsigned long long)stats.records,
                f.nonzero_drops().c_str(), events.c_str());
    if (v.focus != Focus::None)
        std::printf("  focused bursts: %llu, wholly qualifying: %llu (%.0f %%)\n",
                    (unsigned long long)focused, (unsigned long long)qualifying,
                    100.0 * double(qualifying) / double(bursts));
    if (bursts < 500) return;
    // The share of bursts built to qualify whole for v.focus's fast path.
    // How many it really took was measured once with a counter in the
    // worker's fast paths (not kept: it would cost them for a test's sake),
    // of 3000 bursts at the default seed: fused_forward 1253 (42 %) in
    // transit_noexport, 1138 (38 %) in decap, 1135 (38 %) in decap_noicmp;
    // forward_inserting 1135 (38 %) in encap, 1081 (36 %) in encap_noexport,
    // 1167 (39 %) in freq_inline, 1096 (37 %) in freq_inline_noexport.
    // Before the focused bursts, the random ones alone gave fused_forward
    // 33, 3 and 47 bursts and forward_inserting 18 to 116: a bug showing
    // only in some trace types, namespaces or ECN pairs had little chance.
    // The tunnel ends' inner packets, decap and decap_noicmp together:
    // fused_forward sent them itself in 2129 bursts, and left them to
    // process_burst in 85 (an inner header pass miss) and 40 (an inner
    // route miss, or one for us).
    if (v.focus != Focus::None) {
        EXPECT_GT(qualifying * 100, bursts * 25);
    }
    EXPECT_GT(stats.frames, stats.packets / 4);
    EXPECT_GT(f.events(dp::IoamEvent::TraceFilled), 100u);
    EXPECT_GT(f.drops(dp::Drop::HopLimitExceeded), 0u);
    EXPECT_GT(f.drops(dp::Drop::NoRoute), 0u);
    EXPECT_GT(f.drops(dp::Drop::HeadersNotContiguous), 0u);
    EXPECT_GT(f.drops(dp::Drop::Multicast) + f.drops(dp::Drop::LinkLocal), 0u);
    if (v.export_traces) {
        EXPECT_GT(stats.records, 0u);
    }
    if (std::string(v.name).find("decap") == 0) {
        EXPECT_GT(f.events(dp::IoamEvent::Decapsulated), 100u);
        EXPECT_GT(f.drops(dp::Drop::DecapEcn), 0u);
    }
    if (s.encaps.size()) {
        EXPECT_GT(f.events(dp::IoamEvent::Inserted), 100u);
        EXPECT_GT(f.events(dp::IoamEvent::SampledOut), 0u);
    }
    if (v.icmp_rate) {
        EXPECT_GT(f.stats.icmp[unsigned(dp::IcmpEvent::EchoReply)].get(), 0u);
        EXPECT_GT(f.stats.icmp[unsigned(dp::IcmpEvent::TimeExceeded)].get(), 0u);
        EXPECT_GT(f.stats.icmp[unsigned(dp::IcmpEvent::NeighborAdvert)].get(), 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Roles, FastVsStages, ::testing::ValuesIn(variants()),
                         [](const ::testing::TestParamInfo<Variant>& i) { return i.param.name; });

}  // namespace
}  // namespace ioamfwd::testenv
