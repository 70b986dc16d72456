#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_fib6.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef __SSE4_1__
#include <smmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <ctime>
#include <cstring>

#include "common/addr_class.hpp"
#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"
#include "common/trace_type.hpp"
#include "dataplane/burst_scan.hpp"
#include "dataplane/decap.hpp"
#include "dataplane/hbh_parse.hpp"
#include "dataplane/hbh_strip.hpp"
#include "dataplane/icmp6.hpp"
#include "dataplane/icmp_reply.hpp"
#include "dataplane/nd_wire.hpp"
#include "dataplane/trace_fill.hpp"
#include "dataplane/trace_record.hpp"
#include "dataplane/tx_buffer.hpp"

namespace ioamfwd::dp {

namespace {

constexpr Drop kOk = Drop::kCount;
constexpr unsigned kPrefetchAhead = 4;
constexpr uint64_t kDrainUs = 100;

// Hold: processed as Forward but handed to neighbour discovery instead of
// transmitted, because nobody knows the next hop's MAC yet.
enum class Action : uint8_t { Drop, Forward, Local, Hold };

inline bool leaves(Action a) { return a == Action::Forward || a == Action::Hold; }

// Where the packets of a burst come from.
enum class Origin : uint8_t {
    Wire,    // received on a port
    Tunnel,  // just decapsulated: as received on a tunnel interface, where IOAM
             // is not enabled and tunnels do not nest
    Local,   // originated by the appliance (ICMPv6): routed, never answered,
             // hop limit not decremented, no ingress port for IOAM
};

// What the stages learn about one packet of the burst.
struct PacketMeta {
    Action action;
    Drop drop;
    // Linux processes the Hop-by-Hop header before deciding the packet's fate,
    // so node data is written even into packets dropped later (hop limit, no
    // route): hbh_ok marks those, has_egress says whether a route chose a port.
    bool hbh_ok;
    bool has_egress;
    bool hop_limit_done;  // already decremented (encap copies it to the outer header)
    uint32_t ptb_mtu;     // for Packet Too Big: the MTU the sender must use
    uint8_t hop_in;       // hop limit as received
    uint16_t encap;       // 1 + encap profile index when IOAM is inserted, else 0
    bool encap_inline;    // insert after the IPv6 header (else an outer header)
    uint16_t inner_off;   // from the (outer) IPv6 header to the one parse_ipv6 read
    uint16_t out_port;
    rte_ether_addr dst_mac;
    uint8_t nexthop[16];  // Hold: the address to resolve on out_port
    Ipv6Parse parse;
};

enum class NdOutcome : uint8_t { Answered, Consumed, Other };

// What forward_plain's header pass learns about the packets of a burst that
// are not plain but may take the fused IOAM path (Worker::fused_admit).
struct FusedBurst {
    // The header's first 16 octets (standard_one_trace makes sure there are
    // that many) but the next header, the option's reserved octet and the
    // trace header's.
    static constexpr uint64_t kSigMask[2] = {
        std::bit_cast<uint64_t>(std::array<uint8_t, 8>{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0xff}),
        std::bit_cast<uint64_t>(
            std::array<uint8_t, 8>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0})};
    static constexpr uint32_t kPadN4 =
        std::bit_cast<uint32_t>(std::array<uint8_t, 4>{wire::kOptPadN, 2, 0, 0});

    // What one_trace compares a header with: the last kTrace header.
    struct TraceRef {
        // The first 16 octets, masked (kSigMask). The header's length is
        // among them. Aligned for one vector compare.
        alignas(16) uint64_t sig[2] = {0, 0};
        // The header's last 4 octets as they are in memory, masked: a
        // PadN(4) there, or nothing to compare (mask 0) if the option
        // fills the header. The first tail is none a header can have: no
        // header is like the first reference.
        uint32_t tail_mask = 0;
        uint32_t tail = 1;
        bool queue_depth = false;  // its trace type has the queue depth field
        // The header's end from the IPv6 header's start (FusedBurst::
        // same_l3 once kTrace is allowed); more than any length until the
        // first reference.
        uint32_t end_l3 = ~0u;
    };

    // `ref`: the last kTrace header of the last burst that took this path,
    // whose claim the worker still holds (see Worker::fused_fc); `kinds`:
    // what the burst's port and origin allow (Worker::fused_allowed).
    FusedBurst(const TraceRef& r, uint8_t kinds)
        : allowed(kinds),
          same_l3(kinds & kTrace ? r.end_l3 : ~0u),
          trace_min_l3(kinds & kTrace ? uint32_t(sizeof(wire::Ipv6Hdr)) + 8 : ~0u),
          ref(r),
          queue_depth(r.queue_depth) {}

    static constexpr uint8_t kTrace = 1;   // a standard one-trace HbH to fill
    static constexpr uint8_t kTunnel = 2;  // ip6ip6 to us, to decapsulate
    // kTrace: the trace header is the previous kTrace packet's in every
    // octet a fill reads, so that packet's claim (outcome, RemainingLen,
    // where the data goes) is this one's too.
    static constexpr uint8_t kSame = 4;
    // kTunnel: RFC 6040 gives the inner packet another ECN codepoint,
    // inner_ecn[i]. Nearly every tunnel end keeps its own (see
    // rfc6040_may_change), and then nothing is written.
    static constexpr uint8_t kEcn = 8;
    uint8_t kind[kBurst] = {};  // 0: plain
    // The last destination own_dst found to be ours, as in memory (all
    // ones, a multicast address forward_plain never asks about, until then).
    uint64_t own_last[2] = {~0ull, ~0ull};
    // The packets with a kind, and the kTunnel ones among them: counted
    // by tally once the header pass is over.
    uint8_t n_special = 0;
    uint8_t n_tunnel = 0;
    // The kinds the burst's port and origin allow.
    uint8_t allowed;
    // The reference header's end, from the IPv6 header, where kTrace is
    // allowed (fused_admit notes each new reference's); else more than any
    // length: same_trace's first compare.
    uint32_t same_l3;
    // The least length a kTrace packet can have, its IPv6 header and a
    // Hop-by-Hop header's 8 octets, where kTrace is allowed, else more than
    // any: one compare for both.
    uint32_t trace_min_l3;
    TraceRef ref;
    // Some kTrace packet's type may have the queue depth field: only then
    // does the burst need QueueAhead. Each kTrace header is the reference
    // when it passes, so the reference's flag is its own; the flag of the
    // reference the burst began with is taken whether any packet matched
    // it or not (one test less per packet; QueueAhead unused changes no
    // octet).
    bool queue_depth;
    uint16_t inner_off[kBurst];  // kTunnel: from the outer IPv6 header
    uint8_t inner_ecn[kBurst];   // kEcn: the inner packet's ECN after RFC 6040
    // Every kTunnel packet's inner one passes forward_plain's header pass
    // as decapsulated (Origin::Tunnel), but for the test whether it is for
    // us, which its route covers: fused_forward may then forward them
    // itself if their routes are plain too. inner_l3 is its length then
    // (at most the outer payload: it fits).
    bool inner_plain = true;
    uint16_t inner_l3[kBurst];

    // fused_admit's RFC 6040 for tunnel end i (outer header `ip`, inner
    // `in`) when it may change the inner codepoint: false for a drop, else
    // kEcn in `kind` when it does. Out of line: the rare case.
    [[gnu::noinline]] bool inner_ecn_of(const uint8_t* ip, const uint8_t* in, uint16_t i,
                                        uint8_t& kind) {
        uint8_t ecn = ipv6_ecn(in);
        if (!rfc6040_decapsulate(ipv6_ecn(ip), ecn)) return false;
        if (ecn != ipv6_ecn(in)) {
            kind |= kEcn;
            inner_ecn[i] = ecn;
        }
        return true;
    }

#ifdef __SSE2__
    // Bit i set where `test` (a byte-wise compare of 16 kinds) is true for
    // kind[i], for the whole burst.
    template <class Test>
    uint32_t kinds_where(Test test) const {
        static_assert(kBurst == 32);
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kind));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kind + 16));
        return uint32_t(_mm_movemask_epi8(test(lo))) |
               uint32_t(_mm_movemask_epi8(test(hi))) << 16;
    }
#endif

    // n_special and n_tunnel for the burst's `n` packets: one pass over
    // kind, rather than two counters in memory for fused_admit to add to.
    // (kind is 0 past the n packets: no mask needed.)
    void tally([[maybe_unused]] uint16_t n) {
#ifdef __SSE2__
        const __m128i zero = _mm_setzero_si128();
        const __m128i tunnel = _mm_set1_epi8(char(kTunnel));
        const uint32_t plain = kinds_where([&](__m128i k) { return _mm_cmpeq_epi8(k, zero); });
        const uint32_t ends = kinds_where(
            [&](__m128i k) { return _mm_cmpeq_epi8(_mm_and_si128(k, tunnel), tunnel); });
        n_special = uint8_t(std::popcount(~plain));
        n_tunnel = uint8_t(std::popcount(ends));
#else
        n_special = n_tunnel = 0;
        for (uint16_t i = 0; i < n; ++i) {
            n_special += kind[i] != 0;
            n_tunnel += (kind[i] & kTunnel) != 0;
        }
#endif
    }

    // Every one of the burst's `n` packets is of kind `k`.
    bool all_kind(uint16_t n, uint8_t k) const {
#ifdef __SSE2__
        const __m128i want = _mm_set1_epi8(char(k));
        const uint32_t eq = kinds_where([&](__m128i x) { return _mm_cmpeq_epi8(x, want); });
        const uint32_t all = n < 32 ? (1u << n) - 1 : ~0u;
        return (eq & all) == all;
#else
        for (uint16_t i = 0; i < n; ++i)
            if (kind[i] != k) return false;
        return true;
#endif
    }

    // OwnAddresses::View::contains, for a burst whose tunnel packets
    // nearly all go to one address of ours: the last one found is compared
    // first, all 16 octets at once.
    bool own_dst(const OwnAddresses::View& own, const uint8_t* dst) {
        if (std::memcmp(dst, own_last, 16) == 0) return true;
        if (!own.contains(dst)) return false;
        std::memcpy(own_last, dst, 16);
        return true;
    }

    // standard_one_trace for a burst's headers, which are nearly always
    // alike. 0 when it fails; kTrace, or kTrace | kSame when the header
    // equals the last one that passed in every octet the checks or a fill
    // read (all but the next header and the reserved ones): then only the
    // trailing PadN's content is left to check, its place being fixed by
    // the octets compared. The last one that passed is the previous kTrace
    // packet, whose header became the reference if it was not equal to it.
    uint8_t one_trace(const uint8_t* h, uint32_t hbh_len) {
        uint32_t tail;
        std::memcpy(&tail, h + hbh_len - 4, 4);
        if (same_sig(h) && (tail & ref.tail_mask) == ref.tail) [[likely]]
            return kTrace | kSame;
        // A header like the reference but for its PadN's content fails
        // standard_one_trace there too.
        return new_reference(h, hbh_len);
    }

    // one_trace's kTrace | kSame for the IPv6 packet at `ip` of length
    // `l3_len`, once a packet of the burst has passed as kTrace: a header
    // equal to the reference in its first 16 octets has its length, so
    // the one compare with same_l3 stands for both of fused_admit's
    // HbhTruncated checks and where the tail is.
    bool same_trace(const uint8_t* ip, uint32_t l3_len) const {
        if (l3_len < same_l3) return false;
        uint32_t tail;
        std::memcpy(&tail, ip + same_l3 - 4, 4);
        return same_sig(ip + sizeof(wire::Ipv6Hdr)) && (tail & ref.tail_mask) == ref.tail;
    }

    // The first 16 octets of `h` under kSigMask are the reference's.
    bool same_sig(const uint8_t* h) const {
#ifdef __SSE4_1__
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));
        const __m128i r = _mm_load_si128(reinterpret_cast<const __m128i*>(ref.sig));
        const __m128i m = _mm_set_epi64x(int64_t(kSigMask[1]), int64_t(kSigMask[0]));
        return _mm_testz_si128(_mm_xor_si128(x, r), m);
#else
        uint64_t a, b;
        std::memcpy(&a, h, 8);
        std::memcpy(&b, h + 8, 8);
        return (a & kSigMask[0]) == ref.sig[0] && (b & kSigMask[1]) == ref.sig[1];
#endif
    }

    // one_trace for a header unlike the reference. Out of line: it is the
    // rare case, and it keeps the header pass's registers for plain packets.
    [[gnu::noinline]] uint8_t new_reference(const uint8_t* h, uint32_t hbh_len) {
        if (!standard_one_trace(h, hbh_len)) return 0;
        uint64_t a, b;
        std::memcpy(&a, h, 8);
        std::memcpy(&b, h + 8, 8);
        ref.sig[0] = a & kSigMask[0];
        ref.sig[1] = b & kSigMask[1];
        const bool pad = kStdIoamOptOff + 2 + h[kStdIoamOptOff + 1] != hbh_len;
        ref.tail_mask = pad ? ~0u : 0u;
        ref.tail = pad ? kPadN4 : 0u;
        ref.end_l3 = uint32_t(sizeof(wire::Ipv6Hdr)) + hbh_len;
        // Type octet 0 (trace header octet 4) holds bits 0-7; bit 6 is 0x02.
        ref.queue_depth = (h[kStdIoamOptOff + sizeof(wire::IoamOptHdr) + 4] & 0x02) != 0;
        queue_depth |= ref.queue_depth;
        return kTrace;
    }
};

// forward_plain's route test for tunnel ends' inner packets (Origin::
// Tunnel: never an insertion) that may be forwarded by the fused path:
// each next hop goes in its tunnel end's place in `hops`, and `ok` holds
// while every inner packet fits. Nearly every one has the previous one's.
struct InnerRoutes {
    const Snapshot& s;
    const NextHop** hops;
    bool ok = true;
    uint64_t idx = ~0ull;
    const NextHop* hop = nullptr;
    uint32_t mtu = 0;
    bool one = true;  // every packet so far has `hop` (send_plain_one)
    // Packet i, `k` its lookup's result, `l3` its inner packet's length.
    void route(uint16_t i, uint64_t k, uint32_t l3) {
        if (k != idx) {
            one = hop == nullptr;
            idx = k;
            hop = &s.nexthops[k < s.nexthops.size() ? k : 0];
            mtu = hop->plain_mtu;
        }
        hops[i] = hop;
        if (l3 > mtu) ok = false;
    }
};

// The slot for a new entry of a small cache of `cap` entries, `used` of
// them taken: the next free one, or once all are, each in turn from
// `next`.
inline unsigned take_slot(unsigned& used, unsigned& next, unsigned cap) {
    if (used < cap) return used++;
    const unsigned k = next;
    next = (next + 1) % cap;
    return k;
}

// stage_ioam's queue depth for the fast paths, which enqueue as they go:
// what a port's buffer held when the burst began plus the segments of the
// burst's packets sent there before this one. A flush on the way would
// empty the buffer, so each port's start is read at the burst's first
// packet to it (nothing of the burst has gone there before).
struct QueueAhead {
    static_assert(kMaxPorts <= 64, "one bit per port");
    uint32_t ahead[kMaxPorts];
    uint64_t seen = 0;

    /// The depth `port` reports for the packet about to be sent there.
    uint32_t depth(const TxBuffer* tx, uint16_t port) {
        if (!((seen >> port) & 1)) {
            ahead[port] = tx[port].segs;
            seen |= uint64_t(1) << port;
        }
        return ahead[port];
    }
    /// That packet, of `segs` segments, is now ahead of the next ones.
    void sent(uint16_t port, uint16_t segs) { ahead[port] += segs; }
};

struct OwnMac;  // below, beside forward_plain

struct Worker {
    const WorkerConfig& cfg;
    WorkerStats& st;
    TxBuffer tx[kMaxPorts]{};
    // Per encap route "k out of n" counters. They live in the worker so the
    // fast path shares nothing; a new snapshot generation restarts them, as
    // Linux restarts its counter when a route is replaced.
    uint32_t freq_counter[kMaxEncapRoutes]{};
    uint64_t freq_generation = ~0ull;
    TokenBucket icmp_bucket{};
    uint64_t tsc_hz = rte_get_tsc_hz();
    // Node-data templates of the burst in stage_ioam (see node_template).
    static constexpr unsigned kTemplates = 4;
    struct TemplateKey {
        const NamespaceData* ns;
        uint64_t rest;  // trace type, egress port, has_egress: one compare
    };
    static uint64_t template_key(uint32_t type, bool has_egress, uint16_t out_port) {
        return uint64_t(type) | uint64_t(has_egress ? out_port : 0) << 24 |
               uint64_t(has_egress) << 40;
    }
    static uint64_t template_key(uint32_t type, const PacketMeta& pm) {
        return template_key(type, pm.has_egress, pm.out_port);
    }
    TemplateKey tmpl_key[kTemplates]{};
    NodeDataTemplate tmpl[kTemplates]{};
    unsigned n_tmpl = 0;
    unsigned tmpl_next = 0;  // slot replaced when all are taken
    // Bursts left that skip forward_plain. A burst that qualifies packet by
    // packet but then meets a non-plain route (encap, unresolved, no route)
    // wasted the header pass; traffic like that tends to keep coming, so
    // the fast path rests for a while instead of paying it every burst.
    static constexpr unsigned kPlainBackoff = 16;
    unsigned plain_rest = 0;
    // A route refused the burst. A packet for the appliance (echo, a
    // solicitation to one of its addresses) says nothing about the traffic
    // to come: only the others send the fast path to rest.
    void rest_unless_local(const NextHop& nh) {
        if (nh.kind != NextHop::Kind::Local) plain_rest = kPlainBackoff;
    }
    // IOAM insertion on the fast path (forward_inserting): one plan per encap
    // route a burst meets. Built while the burst qualifies, so it holds
    // nothing a bail would have to undo; the header it copies is prepared
    // only once every packet has qualified.
    static constexpr unsigned kInsertPlans = 4;
    struct InsertPlan {
        const NextHop* nh;
        uint16_t encap;       // index into Snapshot::encaps
        bool inline_mode;
        uint16_t grow;        // octets prepended in front of the packet's headers
        uint16_t out_port;
        const rte_ether_addr* mac;
        // Largest packet (l3 octets) that may get the header: the egress MTU
        // less the growth, or 0 when none may (next hop MAC unknown, edge
        // egress), so one compare per packet says both.
        uint32_t max_l3;
        uint32_t freq_k, freq_n;
        uint32_t counter;     // the route's freq counter as this burst leaves it
        uint32_t inserted;    // packets of the burst that get the header
        IoamEvent outcome;    // TraceFilled, TraceOverflowSet or SkipUnknownNamespace
        // Where this node's per-packet fields sit, from where `hdr` goes in
        // the packet. A hop limit the type lacks points at the IPv6 header's
        // own (which gets the same value) so that the packet needs no
        // branch; qd_off is -1 without queue depth.
        int16_t hl_off, hl_wide_off, qd_off;
        uint16_t hdr_len;
        // What prepare_insert made last, for the same slot: the header and
        // everything below is the same again for a burst of the same
        // snapshot generation and ingress port to the same route, unless
        // the trace carries timestamps (read per burst). ~0: not reusable.
        uint64_t ready_gen = ~0ull;
        uint16_t ready_in_port = 0;
        bool reuse = false;  // insert_plan found this burst may take it
        // The Ethernet header as send would write it (both MACs).
        uint8_t eth[sizeof(wire::EtherHdr)];
        // What goes after the Ethernet header (encap: outer IPv6 header, then
        // the Hop-by-Hop header) or after the IPv6 header (inline: the HbH).
        alignas(16) uint8_t hdr[sizeof(wire::Ipv6Hdr) + kIoamHbhMax];
    };
    InsertPlan plans[kInsertPlans]{};

    void count(Drop d, uint64_t n = 1) { st.drops[unsigned(d)].add(n); }
    void count(IoamEvent e, uint64_t n = 1) { st.ioam[unsigned(e)].add(n); }
    void count(IcmpEvent e, uint64_t n = 1) { st.icmp[unsigned(e)].add(n); }

    void process_burst(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                       Origin origin);

    // The stages, each one pass over the burst. stage_parse returns the
    // most traces to fill that any one packet carries.
    unsigned stage_parse(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                     PacketMeta* meta, Origin origin);
    void stage_route(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                     PacketMeta* meta, Origin origin, const uint64_t* fib_nhs);
    // The plain-burst fast path: true when it forwarded the whole burst;
    // false when the stages must run, with `fib_nhs` filled (and `have_nhs`
    // set) if it got as far as the route lookup.
    bool forward_plain(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                       Origin origin, uint64_t* fib_nhs, bool& have_nhs);
    enum HeaderVerdict { kNext, kRefuse, kSwitch };
    template <bool kFused>
    HeaderVerdict plain_header(const OwnMac& own_mac, rte_mbuf* m, unsigned i, uint8_t* dst,
                               uint32_t* l3_len, const OwnAddresses::View* own = nullptr,
                               FusedBurst* fb = nullptr);
    template <bool kTunnels>
    bool fused_header_fast(const OwnMac& own_mac, rte_mbuf* m, unsigned i, uint8_t* dst,
                           uint32_t* l3_len, FusedBurst& fb);
    HeaderVerdict fused_header_slow(const OwnMac& own_mac, rte_mbuf* m, unsigned i, uint8_t* dst,
                                    uint32_t* l3_len, const OwnAddresses::View& own,
                                    FusedBurst& fb);
    bool forward_fused(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                       Origin origin, uint64_t* fib_nhs, bool& have_nhs) {
        return fused_tunnels ? forward_fused<true>(s, in_port, pkts, n, origin, fib_nhs, have_nhs)
                             : forward_fused<false>(s, in_port, pkts, n, origin, fib_nhs, have_nhs);
    }
    template <bool kTunnels>
    bool forward_fused(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                       Origin origin, uint64_t* fib_nhs, bool& have_nhs);
    bool route_plain(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                     Origin origin, uint64_t* fib_nhs, bool& have_nhs, uint8_t (*dsts)[16],
                     const uint32_t* l3_len);
    void send(const Snapshot& s, rte_mbuf* m, uint16_t out_port, const rte_ether_addr& dst_mac,
              bool hop_limit_done);
    void stage_encap(const Snapshot& s, rte_mbuf** pkts, uint16_t n, PacketMeta* meta);
    bool choose_encap(const Snapshot& s, const NextHop& nh, const wire::Ipv6Hdr* ip,
                      PacketMeta& pm, Origin origin);
    void stage_ioam(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                    PacketMeta* meta, Origin origin);
    void stage_ioam_single(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                           PacketMeta* meta, Origin origin);
    void export_trace(const uint8_t* ip, const uint8_t* opt, uint16_t in_port, TraceEvent ev,
                      const timespec& now);
    // The node data every trace of a burst shares.
    struct BurstHop {
        const Snapshot& s;
        bool own;
        HopData base;  // ingress and timestamps; egress and hop limit per template
        timespec now;
        bool have_time;
    };
    BurstHop burst_hop(const Snapshot& s, uint16_t in_port, Origin origin);
    // A template's per-hop values: the burst's, the hop limit the packet
    // leaves with, and the egress port's ids and queue depth if it has one
    // (else "unavailable", as Linux's loopback device: local delivery, no
    // route, a tunnel end).
    static HopData hop_data(const BurstHop& bh, uint8_t hop_in, bool has_egress,
                            uint16_t out_port, uint32_t queue_depth) {
        HopData hop = bh.base;
        hop.hop_limit = uint8_t(bh.own ? hop_in : hop_in - 1);
        if (has_egress) {
            const PortView& out = bh.s.ports[out_port];
            hop.egress_id = out.ioam_id;
            hop.egress_wide = out.ioam_id_wide;
            hop.queue_depth = queue_depth;
        }
        return hop;
    }
    void read_clock(BurstHop& bh);
    const NodeDataTemplate& node_template(const BurstHop& bh, const NamespaceData* ns,
                                          uint32_t type, uint8_t hop_in, bool has_egress,
                                          uint16_t out_port, uint32_t queue_depth);
    const NodeDataTemplate& node_template(const BurstHop& bh, const NamespaceData* ns,
                                          uint32_t type, const PacketMeta& pm,
                                          uint32_t queue_depth) {
        return node_template(bh, ns, type, pm.hop_in, pm.has_egress, pm.out_port, queue_depth);
    }
    void count_fill_outcomes(const uint32_t* outcomes, uint32_t unknown_ns);

    // forward_plain's extension to IOAM transit and tunnel ends: see
    // fused_admit. FusedBurst holds what its header pass learnt.
    uint8_t fused_allowed(const PortView& port, Origin origin) const;
    bool fused_admit(const rte_mbuf* m, const uint8_t* ip, uint32_t l3_len,
                     const OwnAddresses::View& own, uint16_t i, FusedBurst& fb, uint8_t* dst);
    bool fused_forward(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                       uint8_t (*dsts)[16], const uint32_t* l3_len, uint64_t* fib_nhs,
                       bool& have_nhs, const FusedBurst& fb);
    // The trace filling of fused_forward: counters and clock of the burst,
    // and what the previous trace's fill can lend the next (kept apart so
    // that it can live in registers).
    struct FusedFill {
        BurstHop bh;
        uint32_t outcomes[3] = {0, 0, 0};  // indexed by FillOutcome
        uint32_t unknown_ns = 0;
    };
    struct FillCache {
        // The plan of the previous trace, and its template's key: the trace
        // header's namespace and type octets as they are, and the egress.
        uint64_t key = ~0ull;  // ~0: no plan (never a real key)
        FillPlan plan{};
        bool timed = false;  // the plan's template has timestamps
        // The previous trace's claim, for a kSame trace with the same
        // egress (has_egress ? port + 1 : 0); kNoClaim: none held.
        static constexpr uint32_t kNoClaim = ~0u;
        uint32_t claim_egress = kNoClaim;
        // claim_egress when the claim's outcome is Filled (and the plan
        // one_word), else kNoClaim: fused_commit's common cases in one
        // compare.
        uint32_t fill_egress = kNoClaim;
        uint32_t word_egress = kNoClaim;
        FillOutcome outcome = FillOutcome::Filled;
        uint8_t flags[2] = {0, 0};  // trace header octets 2-3 after the claim
        uint16_t at = 0;            // where the node data went, from the trace header
    };
    void fused_fill(FusedFill& ff, FillCache& fc, uint8_t* ip, uint8_t kind, bool has_egress,
                    uint16_t out_port, uint32_t queue_depth);
    bool fused_claim(FusedFill& ff, FillCache& fc, uint8_t* th, uint16_t egress,
                     uint16_t out_port, uint32_t queue_depth, uint8_t hop_in);
    const NodeDataTemplate* fused_template(FusedFill& ff, uint64_t key, const uint8_t* th,
                                           bool has_egress, uint16_t out_port,
                                           uint32_t queue_depth, uint8_t hop_in);
    void fused_begin(const Snapshot& s, uint16_t in_port, FillCache& fc);
    // The inner packets of a burst's tunnel ends, as fused_commit leaves them
    // (but for a burst of tunnel ends alone: its inner packets are where the
    // outer ones were, their next hops in fused_forward's hops).
    struct InnerBurst {
        bool plain = false;  // forward_plain would take them all: next hops known
        const NextHop* one_hop = nullptr;  // the next hop of them all, if one
        uint16_t n = 0;
        rte_mbuf* pkts[kBurst];
        const NextHop* hops[kBurst];
    };
    template <bool kDepth, bool kOnlyTunnels = false>
    void fused_commit(rte_mbuf** pkts, uint16_t n, const FusedBurst& fb,
                      const NextHop* const* hops, FusedFill& ff, FillCache& fc,
                      InnerBurst& inner);
    bool fused_decap(const Snapshot& s, rte_mbuf** pkts, uint16_t n, const FusedBurst& fb,
                     const uint64_t* fib_nhs, const NextHop** hops, FusedFill& ff, FillCache& fc,
                     InnerBurst& inner);
    // `one`: the next hop of every packet, if they have one.
    template <bool kDepth>
    void fused_send(rte_mbuf** pkts, uint16_t n, const FusedBurst& fb, const NextHop* const* hops,
                    const NextHop* one, FusedFill& ff, FillCache& fc);
    // What the fused path keeps from burst to burst, for the traffic of a
    // transit node, whose bursts differ in nothing a fill reads: the
    // reference header of FusedBurst::one_trace, the claim it got
    // (fused_fc) and the node-data templates. Valid for one snapshot and
    // ingress port (fused_begin); templates with timestamps get each
    // burst's clock reading (fused_template).
    FusedBurst::TraceRef fused_ref{};
    FillCache fused_fc{};
    // The last burst forward_fused finished had packets for the fused
    // path (forward_plain's hint).
    bool fused_last = false;
    // ... and tunnel ends among them (forward_fused's hint: which header
    // pass it runs).
    bool fused_tunnels = false;
    static constexpr unsigned kFusedTemplates = 4;
    struct FusedTemplate {
        uint64_t key;    // FillCache::key
        uint64_t stamp;  // fused_bursts when its timestamps were written
        NodeDataTemplate tp;
    };
    FusedTemplate fused_tmpl[kFusedTemplates]{};
    unsigned n_fused_tmpl = 0;
    unsigned fused_tmpl_next = 0;  // slot replaced when all are taken
    const Snapshot* fused_snap = nullptr;
    uint64_t fused_generation = 0;
    uint16_t fused_in_port = 0;
    uint64_t fused_bursts = 0;  // bursts the fused path has filled
    // The last burst's FusedBurst::own_last, an address of snapshot
    // own_snap (generation own_generation): the next burst's tunnel ends
    // to it take the fast header pass from the first on.
    uint64_t own_last[2] = {~0ull, ~0ull};
    const Snapshot* own_snap = nullptr;
    uint64_t own_generation = 0;
    // forward_plain's route and send passes for a burst that also meets
    // encap routes; same contract as forward_plain.
    bool forward_inserting(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                           const uint64_t* fib_nhs, const uint32_t* l3_len);
    InsertPlan* insert_plan(const Snapshot& s, const NextHop& nh, unsigned& n_plans);
    void prepare_insert(const Snapshot& s, InsertPlan& p, BurstHop& bh, uint16_t in_port);
    // An InsertPlan's part that insert_header reads per packet.
    struct InsertHot {
        explicit InsertHot(const InsertPlan& p)
            : hdr(p.hdr), eth(p.eth), grow(p.grow), hdr_len(p.hdr_len), hl_off(p.hl_off),
              hl_wide_off(p.hl_wide_off), qd_off(p.qd_off), inline_mode(p.inline_mode) {}
        const uint8_t* hdr;
        const uint8_t* eth;
        uint16_t grow, hdr_len;
        int16_t hl_off, hl_wide_off, qd_off;
        bool inline_mode;
    };
    template <class Plan>
    void insert_header(rte_mbuf* m, const Plan& p, uint32_t l3_len, uint32_t queue_depth);
    /// Returns the number of decapsulated packets left in `inner` and of the
    /// ICMPv6 messages built in `answers`.
    void stage_output(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                      PacketMeta* meta, Origin origin, rte_mbuf** inner, uint16_t& n_inner,
                      rte_mbuf** answers, uint16_t& n_answers);
    bool answer_with_error(const Snapshot& s, uint16_t in_port, rte_mbuf* m,
                           const PacketMeta& pm);
    NdOutcome handle_nd(const Snapshot& s, uint16_t in_port, rte_mbuf* m, PacketMeta& pm,
                        Origin origin);
    void resolve(const Snapshot& s, uint16_t port, const uint8_t* addr, PacketMeta& pm);
    void hand_to_nd(rte_mbuf* m, const PacketMeta& pm, uint16_t in_port);
    void drain_injected(const Snapshot& s);
    void enqueue(rte_mbuf* m, uint16_t port);
    template <class PortOf, class Touch>
    void append_runs(rte_mbuf* const* pkts, uint16_t n, PortOf port_of, Touch touch);
    void flush_tx(uint16_t port);
};

using addr::is_all_nodes;
using addr::is_link_local;
using addr::is_solicited_node;
using addr::is_unspecified;

// A router takes frames for its own MAC and group addresses only; net_pcap
// and promiscuous ports hand us everything. Decapsulated packets have no
// link layer of their own to check. Made once per burst, so the port's MAC
// stays in a register: a frame's first 8 octets (destination and two of the
// source; every caller has checked there are 14) masked to the destination.
struct OwnMac {
    static constexpr uint64_t kDst =
        std::endian::native == std::endian::little ? 0x0000ffffffffffffull : 0xffffffffffff0000ull;
    // The group bit (I/G) is the first octet's lowest.
    static constexpr uint64_t kGroup = std::endian::native == std::endian::little ? 1 : 1ull << 56;
    uint64_t mac;
    bool any;  // not from the wire: no link layer to check

    OwnMac(const PortView& port, Origin origin) : any(origin != Origin::Wire) {
        uint8_t w[8] = {};
        std::memcpy(w, port.mac.addr_bytes, 6);
        std::memcpy(&mac, w, 8);
    }
    bool takes(const wire::EtherHdr* eth) const {
        uint64_t d;
        std::memcpy(&d, eth, 8);
        d &= kDst;
        return d == mac || (d & kGroup) || any;
    }
};

// Cuts the frame to `len` octets whatever segments the cut spans (link
// padding can be longer than the last segment); freed segments go back to
// their pool.
void trim_frame(rte_mbuf* m, uint32_t len) {
    if (len >= rte_pktmbuf_pkt_len(m)) return;
    rte_mbuf* seg = m;
    uint32_t keep = len;
    uint16_t segs = 1;
    while (keep > seg->data_len) {
        keep -= seg->data_len;
        seg = seg->next;
        ++segs;
    }
    if (seg->next) rte_pktmbuf_free(seg->next);
    seg->next = nullptr;
    seg->data_len = uint16_t(keep);
    m->pkt_len = len;
    m->nb_segs = segs;
}

inline wire::Ipv6Hdr* ipv6_of(rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, wire::Ipv6Hdr*, sizeof(wire::EtherHdr));
}

// Removes the IOAM options of the packet's (validated) Hop-by-Hop header, or
// the whole header when nothing else is in it. Only the Ethernet and IPv6
// headers move. Removing a whole header can bring another Hop-by-Hop header
// (RFC 8200 allows one, but a wire can carry more) right behind the IPv6
// header: that one is validated like a received header and stripped too, so
// no IOAM slips through behind a decoy. Returns Drop::kCount, or the reason a
// revealed header is malformed; `stripped` says whether anything was removed.
Drop strip_ioam(rte_mbuf* m, uint32_t& l3_len, bool& stripped) {
    constexpr uint32_t kFront = sizeof(wire::EtherHdr) + sizeof(wire::Ipv6Hdr);
    constexpr int kMaxHeaders = 8;
    stripped = false;
    for (int k = 0; k < kMaxHeaders; ++k) {
        uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
        auto* ip = reinterpret_cast<wire::Ipv6Hdr*>(d + sizeof(wire::EtherHdr));
        if (ip->next_header != wire::kProtoHopByHop) return Drop::kCount;
        if (k > 0) {
            Ipv6Parse check;
            const Drop bad = parse_ipv6(reinterpret_cast<uint8_t*>(ip),
                                        rte_pktmbuf_data_len(m) - uint32_t(sizeof(wire::EtherHdr)),
                                        l3_len, false, check);
            if (bad != kOk) return bad;
        }
        uint8_t* hbh = d + kFront;
        const uint32_t hbh_len = (uint32_t(hbh[1]) + 1) * 8;
        uint8_t rebuilt[kHbhMax];
        const int new_len = strip_ioam_hbh(hbh, hbh_len, rebuilt);
        if (new_len < 0) return Drop::kCount;
        const uint32_t shrink = hbh_len - uint32_t(new_len);
        if (new_len == 0)
            ip->next_header = hbh[0];
        else
            std::memcpy(hbh + shrink, rebuilt, size_t(new_len));
        store_be16(ip->payload_len, uint16_t(load_be16(ip->payload_len) - shrink));
        std::memmove(d + shrink, d, kFront);
        rte_pktmbuf_adj(m, uint16_t(shrink));
        l3_len -= shrink;
        stripped = true;
        if (new_len != 0) return Drop::kCount;  // a kept header stays first
    }
    // More stacked Hop-by-Hop headers than any sender has a reason for.
    return Drop::HbhBadOption;
}

unsigned Worker::stage_parse(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                             PacketMeta* meta, Origin origin) {
    unsigned max_trace = 0;
    const PortView& port = s.ports[in_port];
    const OwnMac own_mac(port, origin);
    for (uint16_t i = 0; i < kPrefetchAhead && i < n; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    for (uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
        rte_mbuf* m = pkts[i];
        PacketMeta& pm = meta[i];
        pm.action = Action::Drop;
        pm.hbh_ok = false;
        pm.has_egress = false;
        // The appliance's own packets leave with the hop limit it gave them.
        pm.hop_limit_done = origin == Origin::Local;
        pm.encap = 0;
        pm.encap_inline = false;
        pm.inner_off = 0;
        const uint32_t seg_len = rte_pktmbuf_data_len(m);
        const uint32_t frame_len = rte_pktmbuf_pkt_len(m);
        if (seg_len < sizeof(wire::EtherHdr)) {
            pm.drop = frame_len < sizeof(wire::EtherHdr) ? Drop::Ipv6Truncated
                                                         : Drop::HeadersNotContiguous;
            continue;
        }
        const auto* eth = rte_pktmbuf_mtod(m, const wire::EtherHdr*);
        if (load_be16(eth->ether_type) != wire::kEtherTypeIpv6) {
            pm.drop = Drop::NotIpv6;
            continue;
        }
        if (!own_mac.takes(eth)) {
            pm.drop = Drop::L2OtherHost;
            continue;
        }
        const uint8_t* ip = reinterpret_cast<const uint8_t*>(eth + 1);
        pm.drop = parse_ipv6(ip, seg_len - uint32_t(sizeof(wire::EtherHdr)),
                             frame_len - uint32_t(sizeof(wire::EtherHdr)),
                             port.ioam_enabled && origin == Origin::Wire, pm.parse);
        if (pm.drop != kOk) continue;
        pm.hop_in = reinterpret_cast<const wire::Ipv6Hdr*>(ip)->hop_limit;
        if (pm.parse.n_ioam && origin == Origin::Wire && port.edge &&
            port.edge_policy != EdgePolicy::Ignore) {
            // Foreign IOAM must not enter the domain (RFC 9486 §6).
            if (port.edge_policy == EdgePolicy::Drop) {
                pm.drop = Drop::EdgeIoam;
                continue;
            }
            bool stripped;
            pm.drop = strip_ioam(m, pm.parse.l3_len, stripped);
            if (stripped) count(IoamEvent::EdgeStripped);
            if (pm.drop != kOk) continue;
            // Whatever the options said, nothing of them is processed now.
            pm.parse.n_ioam = pm.parse.n_trace = 0;
            pm.parse.skip_disabled = pm.parse.skip_option_type = 0;
        }
        if (pm.parse.skip_disabled) count(IoamEvent::SkipPortDisabled, pm.parse.skip_disabled);
        if (pm.parse.skip_option_type)
            count(IoamEvent::SkipOptionType, pm.parse.skip_option_type);
        // Link padding after the IPv6 payload is not part of the packet (Linux
        // trims it too); forwarding it would grow the frame at every hop.
        trim_frame(m, uint32_t(sizeof(wire::EtherHdr)) + pm.parse.l3_len);
        pm.hbh_ok = true;
        pm.action = Action::Forward;
        max_trace = std::max<unsigned>(max_trace, pm.parse.n_trace);
    }
    return max_trace;
}

void Worker::stage_route(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                         PacketMeta* meta, Origin origin, const uint64_t* fib_nhs) {
    uint8_t dsts[kBurst][16];
    uint64_t own_nhs[kBurst];
    uint16_t which[kBurst];
    int m = 0;
    // The fast path gave up after looking the burst up: every packet passed
    // the filter below then (see forward_plain), so its results are ours,
    // one per packet in order.
    const uint64_t* nhs = fib_nhs ? fib_nhs : own_nhs;
    if (fib_nhs) {
        for (uint16_t i = 0; i < n; ++i) which[i] = i;
        m = n;
    }
    // A copy: writes through packet pointers would make the compiler
    // reload the snapshot's fields for every packet.
    const OwnAddresses::View own = s.own_addresses();
    for (uint16_t i = 0; !fib_nhs && i < n; ++i) {
        PacketMeta& pm = meta[i];
        if (pm.action == Action::Drop) continue;
        const wire::Ipv6Hdr* ip = ipv6_of(pkts[i]);
        // Multicast is not routed (no MLD state); the solicited-node groups
        // carry Neighbor Solicitations for the appliance, all-nodes the
        // unsolicited advertisements: both are handled locally.
        if (ip->dst[0] == 0xff) {
            if (is_solicited_node(ip->dst) || (origin == Origin::Wire && is_all_nodes(ip->dst))) {
                pm.action = Action::Local;
            } else {
                pm.action = Action::Drop;
                pm.drop = Drop::Multicast;
            }
            continue;
        }
        if (is_link_local(ip->dst)) {
            // An answer to a link-local sender goes back out of the port
            // the question came in by: that is the link it belongs to.
            if (origin == Origin::Local) {
                pm.has_egress = true;
                pm.out_port = in_port;
                resolve(s, in_port, ip->dst, pm);
                continue;
            }
            // The receiving port's own link-local address is the appliance;
            // any other link-local destination is not forwarded.
            if (origin == Origin::Wire &&
                std::memcmp(ip->dst, s.ports[in_port].link_local, 16) == 0) {
                pm.action = Action::Local;
                continue;
            }
            pm.action = Action::Drop;
            pm.drop = Drop::LinkLocal;
            continue;
        }
        // The appliance's own addresses would cost the deepest trie walk
        // (a /128); the FIB says Local for exactly these.
        if (own.contains(ip->dst)) {
            pm.action = Action::Local;
            continue;
        }
        std::memcpy(dsts[m], ip->dst, 16);
        which[m++] = i;
    }
    if (m == 0) return;
    if (!fib_nhs) rte_fib6_lookup_bulk(s.fib, dsts, own_nhs, m);

    for (int k = 0; k < m; ++k) {
        const uint16_t i = which[k];
        PacketMeta& pm = meta[i];
        const NextHop& nh = s.nexthops[nhs[k] < s.nexthops.size() ? nhs[k] : 0];
        if (nh.kind == NextHop::Kind::NoRoute) {
            pm.action = Action::Drop;
            pm.drop = Drop::NoRoute;
            continue;
        }
        if (nh.kind == NextHop::Kind::Local) {
            pm.action = Action::Local;
            continue;
        }
        const wire::Ipv6Hdr* ip = ipv6_of(pkts[i]);
        // A link-local source may talk to the appliance but never leaves its
        // link (RFC 4291 §2.5.6).
        if (is_link_local(ip->src)) {
            pm.action = Action::Drop;
            pm.drop = Drop::LinkLocal;
            continue;
        }
        pm.has_egress = true;
        pm.out_port = nh.port;
        if (origin != Origin::Local && ip->hop_limit <= 1) {
            pm.action = Action::Drop;
            pm.drop = Drop::HopLimitExceeded;
            continue;
        }
        if (nh.encap && choose_encap(s, nh, ip, pm, origin)) continue;
        if (pm.parse.l3_len > s.ports[nh.port].mtu) {
            pm.action = Action::Drop;
            pm.drop = Drop::MtuExceeded;
            pm.ptb_mtu = s.ports[nh.port].mtu;
            continue;
        }
        if (nh.on_link)
            resolve(s, nh.port, ip->dst, pm);
        else if (nh.resolved)
            pm.dst_mac = nh.dst_mac;
        else
            resolve(s, nh.port, nh.gateway, pm);
    }
}

// Static neighbours win, then what neighbour discovery learnt; otherwise the
// packet is held for the control thread, which solicits the address.
void Worker::resolve(const Snapshot& s, uint16_t port, const uint8_t* addr, PacketMeta& pm) {
    if (s.lookup_neighbor(port, addr, pm.dst_mac)) return;
    if (cfg.neighbors && cfg.neighbors->lookup(port, addr, pm.dst_mac)) return;
    if (cfg.nd) {
        pm.action = Action::Hold;
        std::memcpy(pm.nexthop, addr, 16);
        return;
    }
    pm.action = Action::Drop;
    pm.drop = Drop::NoNeighbor;
}

// Decides whether this packet gets a trace from its encap route; true when
// that decision also settled its egress (or dropped it).
bool Worker::choose_encap(const Snapshot& s, const NextHop& nh, const wire::Ipv6Hdr* ip,
                          PacketMeta& pm, Origin origin) {
    const unsigned idx = nh.encap - 1u;
    const EncapProfile& e = s.encaps[idx];
    // Linux counts every packet reaching the route and instruments the first
    // k of every n: counter (before increment) mod n < k. (1/1, the default,
    // needs no division.)
    const uint32_t c = freq_counter[idx]++;
    if (e.freq_n != 1 && c % e.freq_n >= e.freq_k) {
        count(IoamEvent::SampledOut);
        return false;
    }
    // Auto: the appliance's own packets get the trace inline, like Linux's
    // locally generated ones; everything it forwards is in transit (encap).
    const bool inline_mode = e.mode == EncapProfile::Mode::Inline ||
                             (e.auto_mode && origin == Origin::Local);
    // RFC 8200 allows one Hop-by-Hop header: inline insertion leaves a packet
    // that has one alone, as Linux does.
    if (inline_mode && ip->next_header == wire::kProtoHopByHop) {
        count(IoamEvent::InlineHasHbh);
        return false;
    }
    uint16_t port = nh.port;
    if (!inline_mode) {
        if (!e.tunnel_ok) {
            pm.action = Action::Drop;
            pm.drop = Drop::IoamTunnelUnreachable;
            return true;
        }
        port = e.tunnel_port;
    }
    // Never send a packet the insertion made too big for the link; the
    // sender is told an MTU that leaves room for the IOAM header.
    const uint16_t overhead = inline_mode ? e.hbh_len : e.overhead();
    if (pm.parse.l3_len + overhead > s.ports[port].mtu) {
        pm.action = Action::Drop;
        pm.drop = Drop::IoamMtuExceeded;
        pm.ptb_mtu = s.ports[port].mtu - overhead;
        return true;
    }
    pm.encap = uint16_t(nh.encap);
    pm.encap_inline = inline_mode;
    if (inline_mode) return false;  // neighbour as for the route
    pm.out_port = port;
    if (e.tunnel_resolved) {
        pm.dst_mac = e.tunnel_mac;
    } else {
        resolve(s, port, e.tunnel_nexthop, pm);
        // Without neighbour discovery the tunnel is unreachable, as before.
        if (pm.action == Action::Drop) {
            pm.encap = 0;
            pm.drop = Drop::IoamTunnelUnreachable;
        }
    }
    return true;
}

void Worker::stage_encap(const Snapshot& s, rte_mbuf** pkts, uint16_t n, PacketMeta* meta) {
    constexpr uint16_t kEth = sizeof(wire::EtherHdr);
    constexpr uint16_t kIp6 = sizeof(wire::Ipv6Hdr);
    for (uint16_t i = 0; i < n; ++i) {
        PacketMeta& pm = meta[i];
        if (!pm.encap || !leaves(pm.action)) continue;
        const EncapProfile& e = s.encaps[pm.encap - 1u];
        rte_mbuf* m = pkts[i];
        // Forwarding decrements first; the encapsulating node then works on
        // the packet as it leaves (reference §2.4, output path).
        if (!pm.hop_limit_done) {
            --ipv6_of(m)->hop_limit;
            pm.hop_limit_done = true;
        }

        const bool inline_mode = pm.encap_inline;
        const uint16_t grow = inline_mode ? e.hbh_len : e.overhead();
        // Inline inserts after the IPv6 header, encap after Ethernet: only
        // those leading octets move, never the payload, while headroom lasts.
        const uint16_t keep = inline_mode ? kEth + kIp6 : kEth;
        uint8_t* d;
        if (rte_pktmbuf_headroom(m) >= grow) {
            uint8_t* old = rte_pktmbuf_mtod(m, uint8_t*);
            d = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, grow));
            std::memmove(d, old, keep);
        } else if (m->nb_segs == 1 && rte_pktmbuf_tailroom(m) >= grow) {
            d = rte_pktmbuf_mtod(m, uint8_t*);
            std::memmove(d + keep + grow, d + keep, rte_pktmbuf_data_len(m) - keep);
            rte_pktmbuf_append(m, grow);
            count(IoamEvent::InsertShift);
        } else {
            pm.action = Action::Drop;
            pm.drop = Drop::IoamNoRoom;
            continue;
        }
        // Either way the Hop-by-Hop goes right after the (outer) IPv6 header.
        uint8_t* at = d + kEth + kIp6;
        auto* ip = reinterpret_cast<wire::Ipv6Hdr*>(d + kEth);
        if (inline_mode) {
            std::memcpy(at, e.hbh, e.hbh_len);
            at[0] = ip->next_header;
            ip->next_header = wire::kProtoHopByHop;
            store_be16(ip->payload_len, uint16_t(load_be16(ip->payload_len) + e.hbh_len));
        } else {
            // RFC 2473 outer header, Linux style: a copy of the inner version,
            // traffic class, flow label and (already decremented) hop limit.
            const auto* inner = reinterpret_cast<const wire::Ipv6Hdr*>(at + e.hbh_len);
            std::memcpy(ip->vtc_flow, inner->vtc_flow, 4);
            store_be16(ip->payload_len, uint16_t(e.hbh_len + pm.parse.l3_len));
            ip->next_header = wire::kProtoHopByHop;
            ip->hop_limit = inner->hop_limit;
            std::memcpy(ip->src, e.tunsrc, 16);
            std::memcpy(ip->dst, e.tundst, 16);
            std::memcpy(at, e.hbh, e.hbh_len);
            at[0] = wire::kProtoIpv6;
            pm.inner_off = grow;
        }
        pm.parse.l3_len += grow;
        count(IoamEvent::Inserted);
    }
}

void Worker::stage_ioam(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                        PacketMeta* meta, Origin origin) {
    const bool own = origin == Origin::Local;
    // Packets already queued ahead of each one on its egress port: the
    // buffered segments plus those of earlier packets of this burst.
    uint32_t ahead[kMaxPorts];
    bool ahead_init = false;
    BurstHop bh = burst_hop(s, in_port, origin);
    // Locals, not cfg reads: every write into a packet could alias them.
    const bool may_export = cfg.export_ring && !own;
    const bool export_transit = cfg.export_transit;

    for (uint16_t i = 0; i < n; ++i) {
        PacketMeta& pm = meta[i];
        if (!pm.hbh_ok) continue;
        rte_mbuf* m = pkts[i];
        if (!ahead_init) {
            for (unsigned p = 0; p < kMaxPorts; ++p) ahead[p] = tx[p].segs;
            ahead_init = true;
        }
        const uint32_t queue_depth = pm.has_egress ? ahead[pm.out_port] : 0;
        if (pm.action == Action::Forward) ahead[pm.out_port] += m->nb_segs;

        // Traces that arrived with the packet first (Linux fills them on
        // receive), then the one this node inserted (on output).
        const unsigned n_received = pm.parse.n_trace;
        const unsigned n_opts = n_received + (pm.encap && leaves(pm.action) ? 1u : 0u);
        if (n_opts == 0) continue;
        // Input path: the hop limit the packet will leave with (reference §2.4).
        // The encap node's output path writes the decremented value too, so
        // one value serves both.
        const uint8_t hop_limit = uint8_t(own ? pm.hop_in : pm.hop_in - 1);
        uint8_t* ip = reinterpret_cast<uint8_t*>(ipv6_of(m));
        // Which of the received traces end here or are exported in transit.
        TraceEvent ev = TraceEvent::Transit;
        bool export_received = false;
        if (may_export) {
            if (pm.action == Action::Local) {
                uint32_t inner_off;
                ev = locate_inner(m, pm.parse.l3_len, inner_off) == Drop::kCount &&
                             s.ports[in_port].decap
                         ? TraceEvent::Decap
                         : TraceEvent::Local;
                export_received = true;
            } else {
                export_received = export_transit && leaves(pm.action);
            }
        }
        for (unsigned k = 0; k < n_opts; ++k) {
            uint8_t* opt = k < n_received ? ip + pm.inner_off + pm.parse.trace_off[k]
                                          : ip + sizeof(wire::Ipv6Hdr) + kIoamHbhOptOffset;
            const auto* th = reinterpret_cast<const wire::IoamTraceHdr*>(opt + 4);
            const NamespaceData* ns = s.find_namespace(load_be16(th->namespace_id));
            if (!ns) {
                count(IoamEvent::SkipUnknownNamespace);
                continue;
            }
            const bool exporting = export_received && k < n_received;
            const uint32_t type = wire::trace_type(*th);
            if (!bh.have_time && (exporting || trace::wants_time(type))) read_clock(bh);
            const NodeDataTemplate& tp = node_template(bh, ns, type, pm, queue_depth);
            switch (fill_trace_from(opt, tp, hop_limit, pm.has_egress, queue_depth)) {
                case FillOutcome::Filled: count(IoamEvent::TraceFilled); break;
                case FillOutcome::OverflowSet: count(IoamEvent::TraceOverflowSet); break;
                case FillOutcome::OverflowAlready: count(IoamEvent::SkipOverflowFlag); break;
            }
            // Like Linux's trace event: every processed trace, filled or not.
            if (exporting) export_trace(ip + pm.inner_off, opt, in_port, ev, bh.now);
        }
    }
}

// What every packet of the burst shares goes into the templates' HopData
// once; per packet only hop limit, egress and queue depth differ. The
// appliance's own packets have no ingress port: Linux's "no ingress device"
// values (0xFFFF ids, 0xFFFFFFFF timestamps) and no decrement.
// Starts the burst's templates afresh: they hold its snapshot, ingress and
// clock reading, so they never outlive one stage_ioam call.
Worker::BurstHop Worker::burst_hop(const Snapshot& s, uint16_t in_port, Origin origin) {
    n_tmpl = 0;
    BurstHop bh{s, origin == Origin::Local, {}, {}, false};
    if (!bh.own) {
        bh.base.ingress_id = s.ports[in_port].ioam_id;
        bh.base.ingress_wide = s.ports[in_port].ioam_id_wide;
    }
    return bh;
}

// One clock read serves the whole burst: it is the burst's processing
// instant, as Linux stamps at HbH processing time.
void Worker::read_clock(BurstHop& bh) {
    if (cfg.clock)
        cfg.clock(&bh.now);
    else
        clock_gettime(CLOCK_REALTIME, &bh.now);
    bh.have_time = true;
    if (!bh.own) {
        bh.base.ts_sec = uint32_t(bh.now.tv_sec);
        bh.base.ts_usec = uint32_t(bh.now.tv_nsec / 1000);
    }
}

// stage_ioam for the common burst: at most one received trace per packet,
// nothing inserted, nothing exported (process_burst checks). The same
// verdicts and bytes with less per-packet state: the last namespace is
// remembered, and the outcome counters are summed locally and added once.
void Worker::stage_ioam_single(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts,
                               uint16_t n, PacketMeta* meta, Origin origin) {
    uint32_t ahead[kMaxPorts];
    for (unsigned p = 0; p < kMaxPorts; ++p) ahead[p] = tx[p].segs;
    BurstHop bh = burst_hop(s, in_port, origin);
    const bool own = bh.own;
    uint32_t outcomes[3] = {0, 0, 0};  // indexed by FillOutcome
    uint32_t unknown_ns = 0;
    uint16_t last_id = 0;  // as on the wire; meaningful once last_ns is set
    const NamespaceData* last_ns = nullptr;
    for (uint16_t i = 0; i < n; ++i) {
        const PacketMeta& pm = meta[i];
        if (!pm.hbh_ok) continue;
        rte_mbuf* m = pkts[i];
        const uint32_t queue_depth = pm.has_egress ? ahead[pm.out_port] : 0;
        if (pm.action == Action::Forward) ahead[pm.out_port] += m->nb_segs;
        if (pm.parse.n_trace == 0) continue;
        uint8_t* opt = reinterpret_cast<uint8_t*>(ipv6_of(m)) + pm.parse.trace_off[0];
        const auto* th = reinterpret_cast<const wire::IoamTraceHdr*>(opt + 4);
        uint16_t id;
        std::memcpy(&id, th->namespace_id, 2);
        const NamespaceData* ns = last_ns && id == last_id
                                      ? last_ns
                                      : s.find_namespace(load_be16(th->namespace_id));
        if (!ns) {
            ++unknown_ns;
            continue;
        }
        last_ns = ns;
        last_id = id;
        const uint32_t type = wire::trace_type(*th);
        if (!bh.have_time && trace::wants_time(type)) read_clock(bh);
        const NodeDataTemplate& tp = node_template(bh, ns, type, pm, queue_depth);
        const uint8_t hop_limit = uint8_t(own ? pm.hop_in : pm.hop_in - 1);
        ++outcomes[unsigned(fill_trace_from(opt, tp, hop_limit, pm.has_egress, queue_depth))];
    }
    count_fill_outcomes(outcomes, unknown_ns);
}

// The counters of a burst's fills, summed by the caller and added at once.
void Worker::count_fill_outcomes(const uint32_t* outcomes, uint32_t unknown_ns) {
    if (unknown_ns) count(IoamEvent::SkipUnknownNamespace, unknown_ns);
    if (outcomes[unsigned(FillOutcome::Filled)])
        count(IoamEvent::TraceFilled, outcomes[unsigned(FillOutcome::Filled)]);
    if (outcomes[unsigned(FillOutcome::OverflowSet)])
        count(IoamEvent::TraceOverflowSet, outcomes[unsigned(FillOutcome::OverflowSet)]);
    if (outcomes[unsigned(FillOutcome::OverflowAlready)])
        count(IoamEvent::SkipOverflowFlag, outcomes[unsigned(FillOutcome::OverflowAlready)]);
}

// The template for this trace: ingress, clock reading and snapshot are the
// burst's, so the key is what else varies from packet to packet. Built from
// this packet's values; fill_trace_from patches hop limit and queue depth
// for the packets that share it.
const NodeDataTemplate& Worker::node_template(const BurstHop& bh, const NamespaceData* ns,
                                              uint32_t type, uint8_t hop_in, bool has_egress,
                                              uint16_t out_port, uint32_t queue_depth) {
    const uint64_t rest = template_key(type, has_egress, out_port);
    // Written through packet pointers, the loop would reload n_tmpl: a local.
    const unsigned n = n_tmpl;
    for (unsigned k = 0; k < n; ++k)
        if (tmpl_key[k].ns == ns && tmpl_key[k].rest == rest) return tmpl[k];
    const unsigned k = take_slot(n_tmpl, tmpl_next, kTemplates);
    tmpl_key[k] = {ns, rest};
    build_node_template(type, bh.s.node, *ns,
                        hop_data(bh, hop_in, has_egress, out_port, queue_depth), tmpl[k]);
    return tmpl[k];
}

void Worker::export_trace(const uint8_t* ip, const uint8_t* opt, uint16_t in_port,
                          TraceEvent ev, const timespec& now) {
    TraceRecord r;
    r.time_ns = uint64_t(now.tv_sec) * 1000000000ull + uint64_t(now.tv_nsec);
    const auto* hdr = reinterpret_cast<const wire::Ipv6Hdr*>(ip);
    std::memcpy(r.src, hdr->src, 16);
    std::memcpy(r.dst, hdr->dst, 16);
    r.port = in_port;
    r.event = ev;
    r.reserved = 0;
    std::memcpy(r.trace_hdr, opt + sizeof(wire::IoamOptHdr), sizeof r.trace_hdr);
    // parse_ipv6 checked the option holds the header and RemainingLen's worth.
    r.data_len = uint16_t(opt[1] - 2 - sizeof(wire::IoamTraceHdr));
    std::memcpy(r.data, opt + sizeof(wire::IoamOptHdr) + sizeof(wire::IoamTraceHdr), r.data_len);
    if (cfg.export_ring->push(r))
        count(IoamEvent::Exported);
    else
        count(IoamEvent::ExportDropped);
}

// Turns a dropped packet into the ICMPv6 error RFC 4443 asks for, in its
// own mbuf; false when none is due (the caller frees it).
bool Worker::answer_with_error(const Snapshot& s, uint16_t in_port, rte_mbuf* m,
                               const PacketMeta& pm) {
    uint8_t type, code = 0;
    uint32_t param = 0;
    switch (pm.drop) {
        case Drop::HopLimitExceeded: type = kIcmpTimeExceeded; break;
        case Drop::NoRoute: type = kIcmpDestUnreachable; break;
        case Drop::NoNeighbor:
            type = kIcmpDestUnreachable;
            code = 3;  // address unreachable
            break;
        case Drop::MtuExceeded:
        case Drop::IoamMtuExceeded:
            type = kIcmpPacketTooBig;
            param = pm.ptb_mtu;
            break;
        default: return false;
    }
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint32_t readable = std::min<uint32_t>(
        pm.parse.l3_len, rte_pktmbuf_data_len(m) - uint32_t(sizeof(wire::EtherHdr)));
    if (!icmp_error_allowed(frame + sizeof(wire::EtherHdr), readable, (frame[0] & 1) != 0,
                            type)) {
        count(IcmpEvent::Suppressed);
        return false;
    }
    const PortView& in = s.ports[in_port];
    // A link-local sender is answered from the link-local address (its
    // scope); anyone else from the port's first configured address.
    const bool to_link_local = is_link_local(frame + sizeof(wire::EtherHdr) + 8);
    if (!in.has_addr && !to_link_local) {
        count(IcmpEvent::NoSource);
        return false;
    }
    if (!icmp_bucket.take(rte_rdtsc(), tsc_hz, s.icmp_rate, s.icmp_burst)) {
        count(IcmpEvent::RateLimited);
        return false;
    }
    if (!make_icmp_error(m, pm.parse.l3_len, type, code, param,
                         to_link_local ? in.link_local : in.addr)) {
        count(IcmpEvent::NoRoom);
        return false;
    }
    count(type == kIcmpTimeExceeded     ? IcmpEvent::TimeExceeded
          : type == kIcmpPacketTooBig   ? IcmpEvent::PacketTooBig
                                        : IcmpEvent::Unreachable);
    return true;
}

// Neighbor Discovery addressed to the appliance: a solicitation for one of
// the receiving port's addresses is answered out of that port at once (and
// its source link-layer address passed on); a valid advertisement is passed
// on to the control thread, which owns the neighbour cache. Other leaves
// `pm.drop` saying why nothing was done.
NdOutcome Worker::handle_nd(const Snapshot& s, uint16_t in_port, rte_mbuf* m, PacketMeta& pm,
                            Origin origin) {
    auto* ip = reinterpret_cast<uint8_t*>(ipv6_of(m));
    const bool to_group = ip[24] == 0xff;
    if (origin == Origin::Wire) {
        const PortView& port = s.ports[in_port];
        const uint32_t readable = std::min<uint32_t>(
            pm.parse.l3_len, rte_pktmbuf_data_len(m) - uint32_t(sizeof(wire::EtherHdr)));
        NdMessage msg;
        const NdCheck check = check_nd(ip, readable, msg);
        NdRecord rec{};
        rec.port = in_port;
        rec.type = msg.type;
        if (check == NdCheck::Invalid) {
            pm.drop = Drop::NdInvalid;
            return NdOutcome::Other;
        }
        if (check == NdCheck::Valid && msg.type == kIcmpNeighborAdvert && cfg.nd) {
            std::memcpy(rec.addr, msg.target, 16);
            rec.flags = msg.flags;
            if (msg.lladdr) {
                std::memcpy(rec.mac, msg.lladdr, 6);
                rec.has_mac = 1;
            }
            count(cfg.nd->report(rec) ? IcmpEvent::NdAdvertReceived : IcmpEvent::NdRecordDropped);
            return NdOutcome::Consumed;
        }
        // RFC 4861 §7.2.3: a solicitation for us teaches its sender's address.
        const bool learn = check == NdCheck::Valid && msg.type == kIcmpNeighborSolicit &&
                           cfg.nd && msg.lladdr && !is_unspecified(ip + 8);
        if (learn) {
            std::memcpy(rec.addr, ip + 8, 16);
            std::memcpy(rec.mac, msg.lladdr, 6);
            rec.has_mac = 1;
        }
        rte_ether_addr dst_mac;
        switch (make_neighbor_advert(m, pm.parse.l3_len, port.addrs, port.mac, dst_mac)) {
            case NdResult::Advertised: {
                count(IcmpEvent::NeighborAdvert);
                if (learn)
                    count(cfg.nd->report(rec) ? IcmpEvent::NdSolicitLearnt
                                              : IcmpEvent::NdRecordDropped);
                auto* eth = rte_pktmbuf_mtod(m, wire::EtherHdr*);
                std::memcpy(eth->dst, dst_mac.addr_bytes, 6);
                std::memcpy(eth->src, port.mac.addr_bytes, 6);
                enqueue(m, in_port);
                return NdOutcome::Answered;
            }
            case NdResult::Invalid: pm.drop = Drop::NdInvalid; return NdOutcome::Other;
            case NdResult::NotOurs:
            case NdResult::NotSolicitation: break;
        }
    }
    // Group traffic the appliance does not take part in is multicast, not
    // something addressed to it.
    if (to_group) pm.drop = Drop::Multicast;
    return NdOutcome::Other;
}

// The packet is complete for the wire except its destination MAC: the control
// thread holds it until the neighbour answers (or fails).
void Worker::hand_to_nd(rte_mbuf* m, const PacketMeta& pm, uint16_t in_port) {
    NdMbufMeta* meta = cfg.nd->meta(m);
    std::memcpy(meta->nexthop, pm.nexthop, 16);
    meta->out_port = pm.out_port;
    meta->in_port = in_port;
    meta->kind = NdMbufMeta::Held;
    if (cfg.nd->hold(m)) {
        count(IcmpEvent::NdHeld);
        return;
    }
    count(Drop::NdQueueFull);
    rte_pktmbuf_free(m);
}

void Worker::drain_injected(const Snapshot& s) {
    rte_mbuf* pkts[kBurst];
    const unsigned n = cfg.nd->take_injected(cfg.index, pkts, kBurst);
    for (unsigned i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        const NdMbufMeta* meta = cfg.nd->meta(m);
        if (meta->kind == NdMbufMeta::Transmit && meta->out_port < kMaxPorts &&
            s.ports[meta->out_port].active)
            enqueue(m, meta->out_port);
        else if (meta->kind == NdMbufMeta::Route && meta->in_port < kMaxPorts)
            process_burst(s, meta->in_port, &m, 1, Origin::Local);
        else
            rte_pktmbuf_free(m);
    }
}

// Every forwarded packet passes here: always inlined (GCC stopped doing it
// by itself once it had enough callers, ~20 instructions per packet), with
// the rare transmit out of line.
[[gnu::always_inline]] inline void Worker::enqueue(rte_mbuf* m, uint16_t port) {
    TxBuffer& b = tx[port];
    b.pkts[b.n++] = m;
    b.segs += m->nb_segs;
    if (b.n >= kBurst) flush_tx(port);
}

[[gnu::noinline]] void Worker::flush_tx(uint16_t port) {
    tx[port].flush(port, uint16_t(cfg.index), st);
}

void Worker::stage_output(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                          PacketMeta* meta, Origin origin, rte_mbuf** inner, uint16_t& n_inner,
                          rte_mbuf** answers, uint16_t& n_answers) {
    rte_mbuf* to_free[kBurst];
    unsigned n_free = 0;
    n_inner = n_answers = 0;
    for (uint16_t i = 0; i < n; ++i) {
        PacketMeta& pm = meta[i];
        rte_mbuf* m = pkts[i];
        if (pm.action == Action::Local) {
            // Its IOAM data was written as a destination node's in stage_ioam.
            // A tunnel is opened, an echo request answered; nothing else has
            // a local stack yet.
            pm.action = Action::Drop;
            // Tunnels end at unicast addresses of ours; all-nodes is taken
            // for Neighbor Advertisements only.
            pm.drop = origin == Origin::Local || is_all_nodes(ipv6_of(m)->dst)
                          ? Drop::LocalDelivery
                          : decapsulate(m, pm.parse.l3_len, s.ports[in_port].decap);
            if (pm.drop == Drop::kCount) {
                if (origin == Origin::Wire) {
                    count(IoamEvent::Decapsulated);
                    inner[n_inner++] = m;
                    continue;
                }
                pm.drop = Drop::DecapNested;
            } else if (pm.drop == Drop::LocalDelivery && origin != Origin::Local) {
                switch (make_echo_reply(m, pm.parse.l3_len)) {
                    case EchoResult::Replied:
                        count(IcmpEvent::EchoReply);
                        answers[n_answers++] = m;
                        continue;
                    case EchoResult::BadChecksum: pm.drop = Drop::IcmpBadChecksum; break;
                    case EchoResult::NoRoom: count(IcmpEvent::NoRoom); break;
                    case EchoResult::NotEcho:
                        switch (handle_nd(s, in_port, m, pm, origin)) {
                            case NdOutcome::Answered: continue;
                            case NdOutcome::Consumed: to_free[n_free++] = m; continue;
                            case NdOutcome::Other: break;
                        }
                        break;
                }
            }
        }
        if (pm.action == Action::Drop) {
            count(pm.drop);
            // The appliance never answers its own packets.
            if (origin != Origin::Local && answer_with_error(s, in_port, m, pm)) {
                answers[n_answers++] = m;
                continue;
            }
            to_free[n_free++] = m;
            continue;
        }
        // Nor may the domain's IOAM leak out through an edge port.
        if (s.ports[pm.out_port].edge) {
            bool stripped;
            const Drop bad = strip_ioam(m, pm.parse.l3_len, stripped);
            if (stripped) count(IoamEvent::EdgeEgressStripped);
            if (bad != kOk) {
                count(bad);
                rte_pktmbuf_free(m);
                continue;
            }
        }
        if (pm.action == Action::Hold) {
            if (!pm.hop_limit_done) --ipv6_of(m)->hop_limit;
            auto* eth = rte_pktmbuf_mtod(m, wire::EtherHdr*);
            std::memcpy(eth->src, s.ports[pm.out_port].mac.addr_bytes, 6);
            hand_to_nd(m, pm, in_port);
            continue;
        }
        send(s, m, pm.out_port, pm.dst_mac, pm.hop_limit_done);
    }
    if (n_free) rte_pktmbuf_free_bulk(to_free, n_free);
}

// The last touches of a forwarded packet: hop limit (unless encap already
// took it), MACs, transmit buffer.
inline void Worker::send(const Snapshot& s, rte_mbuf* m, uint16_t out_port,
                         const rte_ether_addr& dst_mac, bool hop_limit_done) {
    auto* eth = rte_pktmbuf_mtod(m, wire::EtherHdr*);
    if (!hop_limit_done) --ipv6_of(m)->hop_limit;
    std::memcpy(eth->src, s.ports[out_port].mac.addr_bytes, 6);
    std::memcpy(eth->dst, dst_mac.addr_bytes, 6);
    enqueue(m, out_port);
}

inline bool is_loopback(uint64_t hi, uint64_t lo) {
    return hi == 0 && lo == rte_cpu_to_be_64(1);
}

// Every address forward_plain refuses as a source or destination begins
// with 0x00 (::1), 0xfe (fe80::/10) or 0xff (multicast), which ordinary
// traffic never does: one test of both first octets lets it through.
inline bool odd_first_octet(uint8_t b) { return uint8_t(b + 2) <= 2; }

// The test behind odd_first_octet, for the few addresses that have one:
// true when forward_plain refuses them. parse_ipv6: multicast or loopback
// source, loopback destination. stage_route: multicast and link-local
// destinations, and the appliance's own; a link-local source is never
// forwarded.
[[gnu::always_inline]] inline bool odd_addresses(const wire::Ipv6Hdr* ip) {
    uint64_t src_hi, src_lo, dst_hi, dst_lo;
    std::memcpy(&src_hi, ip->src, 8);
    std::memcpy(&src_lo, ip->src + 8, 8);
    std::memcpy(&dst_hi, ip->dst, 8);
    std::memcpy(&dst_lo, ip->dst + 8, 8);
    return ip->src[0] == 0xff || is_loopback(src_hi, src_lo) || is_loopback(dst_hi, dst_lo) ||
           ip->dst[0] == 0xff || is_link_local(ip->dst) || is_link_local(ip->src);
}
// odd_addresses out of line, for a caller whose registers are scarce.
[[gnu::noinline]] bool odd_addresses_cold(const wire::Ipv6Hdr* ip) { return odd_addresses(ip); }

// forward_plain's tests of an IPv6 header with `avail` octets of frame
// from it on: true, with the packet's length (header included) in `l3` and
// the destination's halves as loaded, when a plain forward may take it.
// The tunnel ends' inner packets get them too (fused_admit).
// kColdOdd: odd_addresses out of line, where registers are scarce (the
// plain header pass, fused_admit's inner packets).
template <bool kColdOdd = false>
[[gnu::always_inline]] inline bool plain_ipv6(const wire::Ipv6Hdr* ip, uint32_t avail,
                                              uint32_t& l3, uint64_t& dst_hi, uint64_t& dst_lo) {
    // Hop limit 1 or 0 is Time Exceeded.
    if ((ip->vtc_flow[0] >> 4) != 6 || ip->hop_limit <= 1) return false;
    std::memcpy(&dst_hi, ip->dst, 8);
    std::memcpy(&dst_lo, ip->dst + 8, 8);
    // One test of both first octets, no branch between the two (clang
    // wants the bools as ints).
    if ((unsigned(odd_first_octet(ip->src[0])) | unsigned(odd_first_octet(ip->dst[0]))) &&
        (kColdOdd ? odd_addresses_cold(ip) : odd_addresses(ip)))
        return false;
    l3 = uint32_t(sizeof(wire::Ipv6Hdr)) + load_be16(ip->payload_len);
    return l3 <= avail;  // else Ipv6BadLength
}

// plain_ipv6 for a loop with no call in it: an address with an odd first
// octet is refused too, for the caller's slow path to tell the few that
// pass from the rest.
[[gnu::always_inline]] inline bool usual_ipv6(const wire::Ipv6Hdr* ip, uint32_t avail,
                                              uint32_t& l3) {
    if ((ip->vtc_flow[0] >> 4) != 6 || ip->hop_limit <= 1) return false;
    if (unsigned(odd_first_octet(ip->src[0])) | unsigned(odd_first_octet(ip->dst[0])))
        return false;
    l3 = uint32_t(sizeof(wire::Ipv6Hdr)) + load_be16(ip->payload_len);
    return l3 <= avail;
}

// What send writes into a plain forward (hop limit, both MACs), from the
// next hop's prefilled Ethernet octets; `frame` is the packet's first octet.
inline void write_plain_headers(uint8_t* frame, const uint8_t (&eth)[sizeof NextHop::eth]) {
    --frame[sizeof(wire::EtherHdr) + offsetof(wire::Ipv6Hdr, hop_limit)];
    std::memcpy(frame, eth, sizeof eth);
}
inline void write_plain_headers(uint8_t* frame, const NextHop& nh) {
    write_plain_headers(frame, nh.eth);
}

// enqueue for each packet of a qualified burst in order, after touch(i)
// has written packet i; port_of(i) is its port. A run of packets to one
// port keeps that buffer's count in registers (every octet written into a
// packet might otherwise alias it) and ends where enqueue would flush.
template <class PortOf, class Touch>
[[gnu::always_inline]] inline void Worker::append_runs(rte_mbuf* const* pkts, uint16_t n,
                                                       PortOf port_of, Touch touch) {
    for (uint16_t i = 0; i < n;) {
        const uint16_t port = port_of(i);
        TxBuffer& b = tx[port];
        unsigned k = b.n;
        uint32_t segs = b.segs;
        const uint16_t end = uint16_t(std::min<unsigned>(n, i + (k < kBurst ? kBurst - k : 0)));
        for (; i < end && port_of(i) == port; ++i) {
            rte_mbuf* m = pkts[i];
            touch(i);
            b.pkts[k++] = m;
            segs += m->nb_segs;
        }
        b.n = uint16_t(k);
        b.segs = segs;
        if (k >= kBurst) flush_tx(port);
    }
}

// Plain forwards' last touches, as send gives them: hop limit, then the
// next hop's Ethernet addresses in one copy.
inline void send_plain(Worker& w, rte_mbuf* const* pkts, const NextHop* const* hops,
                       uint16_t n) {
    w.append_runs(
        pkts, n, [&](uint16_t i) { return hops[i]->port; },
        [&](uint16_t i) { write_plain_headers(rte_pktmbuf_mtod(pkts[i], uint8_t*), *hops[i]); });
}

// send_plain for packets that all have next hop `nh`. Routes through one
// gateway share its next hop (the control plane interns them), so a burst
// mostly has one: its port and Ethernet octets then stay in registers.
inline void send_plain_one(Worker& w, rte_mbuf* const* pkts, uint16_t n, const NextHop& nh) {
    const uint16_t port = nh.port;
    uint8_t eth[sizeof nh.eth];
    std::memcpy(eth, nh.eth, sizeof eth);
    w.append_runs(
        pkts, n, [port](uint16_t) { return port; },
        [&](uint16_t i) { write_plain_headers(rte_pktmbuf_mtod(pkts[i], uint8_t*), eth); });
}

// forward_plain's header pass for packet `i`, also the fused path's
// (kFused: fused_admit takes the packets with a Hop-by-Hop or IPv6 header
// next; otherwise they end the pass with kSwitch). kNext: go on.
template <bool kFused>
[[gnu::always_inline]] inline Worker::HeaderVerdict Worker::plain_header(
    const OwnMac& own_mac, rte_mbuf* m, unsigned i, uint8_t* dst, uint32_t* l3_len,
    const OwnAddresses::View* own, FusedBurst* fb) {
    constexpr uint32_t kEth = sizeof(wire::EtherHdr);
    constexpr uint32_t kIp6 = sizeof(wire::Ipv6Hdr);
    const uint32_t frame_len = rte_pktmbuf_pkt_len(m);
    // Ethernet and IPv6 headers in the first segment (parse_ipv6's
    // truncation and contiguity checks).
    if (rte_pktmbuf_data_len(m) < kEth + kIp6) return kRefuse;
    const auto* eth = rte_pktmbuf_mtod(m, const wire::EtherHdr*);
    if (load_be16(eth->ether_type) != wire::kEtherTypeIpv6 || !own_mac.takes(eth)) return kRefuse;
    const auto* ip = reinterpret_cast<const wire::Ipv6Hdr*>(eth + 1);
    uint32_t l3;
    uint64_t dst_hi, dst_lo;
    if (!plain_ipv6<!kFused>(ip, frame_len - kEth, l3, dst_hi, dst_lo)) return kRefuse;
    std::memcpy(dst, &dst_hi, 8);
    std::memcpy(dst + 8, &dst_lo, 8);
    // Without a Hop-by-Hop header there is no IOAM and nothing to strip
    // at an edge, in or out. With one, or for the appliance itself, the
    // packet is not plain, but the fused IOAM path may take it: a trace
    // behind a Hop-by-Hop header, a tunnel end where an IPv6 header
    // follows the outer one or its Hop-by-Hop header (fused_admit).
    // One test for both next headers (0 and 41; fused_admit lets the
    // few others whose bits fall within 41's through as plain).
    const uint8_t next = ip->next_header;
    static_assert(wire::kProtoHopByHop == 0 && wire::kProtoIpv6 == 41);
    if ((next | wire::kProtoIpv6) == wire::kProtoIpv6) {
        if constexpr (!kFused)
            return kSwitch;
        else if (!fused_admit(m, reinterpret_cast<const uint8_t*>(ip), l3, *own,
                              uint16_t(i), *fb, dst))
            return kRefuse;
    }
    // As stage_parse: link padding is not part of the packet. Harmless
    // if the stages run after all: they trim to the same length.
    trim_frame(m, kEth + l3);
    l3_len[i] = l3;
    return kNext;
}

// forward_plain's route pass and sending, once every packet has passed the
// header pass as plain.
[[gnu::always_inline]] inline bool Worker::route_plain(const Snapshot& s, uint16_t in_port,
                                                       rte_mbuf** pkts, uint16_t n, Origin origin,
                                                       uint64_t* fib_nhs, bool& have_nhs,
                                                       uint8_t (*dsts)[16],
                                                       const uint32_t* l3_len) {
    rte_fib6_lookup_bulk(s.fib, dsts, fib_nhs, n);
    have_nhs = true;
    const size_t n_nexthops = s.nexthops.size();
    const uint64_t first = fib_nhs[0];
    // Nearly always every packet has the first one's next hop and fits it:
    // asked of the whole burst first, a vector at a time, once the first
    // packet's route is plain (an encap route's burst is on its way to
    // forward_inserting).
    const NextHop& nh0 = s.nexthops[first < n_nexthops ? first : 0];
    if (l3_len[0] <= nh0.plain_mtu && all_like_first(fib_nhs, n) &&
        all_at_most(l3_len, n, nh0.plain_mtu)) {
        send_plain_one(*this, pkts, n, nh0);
        return true;
    }
    // Else some packet has another next hop (or does not fit).
    const NextHop* hops[kBurst];
    for (unsigned i = 0; i < n; ++i) {
        const NextHop& nh = s.nexthops[fib_nhs[i] < n_nexthops ? fib_nhs[i] : 0];
        // No route, encap, unknown MAC or too big: the stages decide.
        if (l3_len[i] > nh.plain_mtu) {
            if (nh.encap && origin == Origin::Wire)
                return forward_inserting(s, in_port, pkts, n, fib_nhs, l3_len);
            rest_unless_local(nh);
            return false;
        }
        hops[i] = &nh;
    }
    send_plain(*this, pkts, hops, n);
    return true;
}

// The common burst in fewer, lighter passes: every packet a unicast IPv6
// packet without extension headers for a plain route (NextHop::plain),
// with hop limit left and within the MTU. Nothing here has side effects on
// the packet beyond what stage_parse would also do (trimming link padding)
// until every packet has qualified, so on the first one that does not the
// exact stages take over the whole burst: same verdicts, same counters,
// same order on the wire. Which checks of stage_parse/parse_ipv6/stage_route
// each test stands for is noted beside them (plain_header). IOAM transit
// packets and tunnel ends may join such a burst: see fused_admit. Their
// header pass is forward_fused's, a function of its own: inlined here,
// fused_admit's registers would cost every plain packet a few spills.
bool Worker::forward_plain(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                           Origin origin, uint64_t* fib_nhs, bool& have_nhs) {
    uint8_t dsts[kBurst][16];
    uint32_t l3_len[kBurst];
    const PortView& port = s.ports[in_port];
    const OwnMac own_mac(port, origin);
    for (unsigned i = 0; i < kPrefetchAhead && i < n; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    // After a burst with IOAM packets the next one most likely has them
    // too: straight to their pass rather than finding out at the first.
    if (fused_last) return forward_fused(s, in_port, pkts, n, origin, fib_nhs, have_nhs);
    // The last packets have nothing left to prefetch: a loop of their own
    // spares the others a compare.
    unsigned i = 0;
    HeaderVerdict v = kNext;
    for (; i + kPrefetchAhead < n; ++i) {
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
        if ((v = plain_header<false>(own_mac, pkts[i], i, dsts[i], l3_len)) != kNext)
            break;
    }
    if (v == kNext)
        for (; i < n; ++i)
            if ((v = plain_header<false>(own_mac, pkts[i], i, dsts[i], l3_len)) !=
                kNext)
                break;
    if (v == kRefuse) return false;
    // Packets before i pass again: cheaper than handing over what the
    // pass learnt, for a burst that comes after a plain one.
    if (v == kSwitch) return forward_fused(s, in_port, pkts, n, origin, fib_nhs, have_nhs);
    return route_plain(s, in_port, pkts, n, origin, fib_nhs, have_nhs, dsts, l3_len);
}

// plain_header<true> for the packets a transit node or a tunnel end nearly
// always sees, with no call in it: its loop then keeps what it needs in
// registers. A plain packet; a trace whose header is like the reference;
// a tunnel end to the address of ours the last one went to, its ECN left
// alone (rfc6040_may_change) and its inner packet plain. For those, what
// fused_admit would make of them, and true. False for any other packet,
// with nothing done that plain_header does not do again:
// fused_header_slow decides it. Tunnel ends only with kTunnels: the tests
// cost a transit node's loop registers.
template <bool kTunnels>
[[gnu::always_inline]] inline bool Worker::fused_header_fast(const OwnMac& own_mac, rte_mbuf* m,
                                                             unsigned i, uint8_t* dst,
                                                             uint32_t* l3_len, FusedBurst& fb) {
    constexpr uint32_t kEth = sizeof(wire::EtherHdr);
    constexpr uint32_t kIp6 = sizeof(wire::Ipv6Hdr);
    if (rte_pktmbuf_data_len(m) < kEth + kIp6) return false;
    const auto* eth = rte_pktmbuf_mtod(m, const wire::EtherHdr*);
    if (load_be16(eth->ether_type) != wire::kEtherTypeIpv6 || !own_mac.takes(eth)) return false;
    const auto* ip = reinterpret_cast<const wire::Ipv6Hdr*>(eth + 1);
    const auto* p = reinterpret_cast<const uint8_t*>(ip);
    uint32_t l3;
    if (!usual_ipv6(ip, rte_pktmbuf_pkt_len(m) - kEth, l3)) return false;
    const uint8_t next = ip->next_header;
    const uint8_t* lookup = ip->dst;  // the burst's lookup key for this packet
    uint8_t kind = 0;
    uint32_t off = kIp6;  // where an IPv6 header would follow
    if (next == wire::kProtoHopByHop) {
        if (m->nb_segs != 1 || !fb.same_trace(p, l3)) return false;
        kind = FusedBurst::kTrace | FusedBurst::kSame;
        off = fb.same_l3;
        if (p[kIp6] != wire::kProtoIpv6) off = 0;
    } else if (next != wire::kProtoIpv6) {
        off = 0;
    }
    if (off) {
        if constexpr (!kTunnels) return false;
        // A tunnel end, if for us (else the slow way: an ip6ip6 packet for
        // another node, or another address of ours). own_last is only set
        // where the port allows them (by fused_admit, or by forward_fused
        // from the last burst's).
        uint64_t hi, lo;
        std::memcpy(&hi, ip->dst, 8);
        std::memcpy(&lo, ip->dst + 8, 8);
        if (((hi ^ fb.own_last[0]) | (lo ^ fb.own_last[1])) != 0) return false;
        if (m->nb_segs != 1 || off + kIp6 > l3 ||
            rfc6040_may_change(ipv6_ecn(p)) || !fb.inner_plain)
            return false;
        const auto* in = reinterpret_cast<const wire::Ipv6Hdr*>(p + off);
        uint32_t in_l3;
        if (!usual_ipv6(in, l3 - off, in_l3) || in->next_header == wire::kProtoHopByHop)
            return false;
        fb.inner_off[i] = uint16_t(off);
        fb.inner_l3[i] = uint16_t(in_l3);
        lookup = in->dst;
        kind |= FusedBurst::kTunnel;
    }
    fb.kind[i] = kind;
    std::memcpy(dst, lookup, 16);
    trim_frame(m, kEth + l3);
    l3_len[i] = l3;
    return true;
}

// plain_header<true> out of line, for what fused_header_fast leaves.
[[gnu::noinline]] Worker::HeaderVerdict Worker::fused_header_slow(
    const OwnMac& own_mac, rte_mbuf* m, unsigned i, uint8_t* dst, uint32_t* l3_len,
    const OwnAddresses::View& own, FusedBurst& fb) {
    return plain_header<true>(own_mac, m, i, dst, l3_len, &own, &fb);
}

// forward_plain's header pass with fused_admit; then the fused path if it
// took any packet. kTunnels: the header pass expects tunnel ends (the last
// burst had them); each its own function, for its own registers.
template <bool kTunnels>
[[gnu::noinline]] bool Worker::forward_fused(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts,
                                             uint16_t n, Origin origin, uint64_t* fib_nhs,
                                             bool& have_nhs) {
    uint8_t dsts[kBurst][16];
    uint32_t l3_len[kBurst];
    const PortView& port = s.ports[in_port];
    // What the port and origin allow, asked once: a burst's first trace
    // like the last burst's reference then takes the fast pass too.
    FusedBurst fb{fused_ref, fused_allowed(port, origin)};
    const OwnAddresses::View own = s.own_addresses();
    const OwnMac own_mac(port, origin);
    // Only where this port takes tunnel ends (fused_header_fast counts on
    // it), and while the snapshot is the one the address is of.
    if ((fb.allowed & FusedBurst::kTunnel) && &s == own_snap && s.generation == own_generation)
        std::memcpy(fb.own_last, own_last, sizeof own_last);
    for (uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
        if (!fused_header_fast<kTunnels>(own_mac, pkts[i], i, dsts[i], l3_len, fb) &&
            fused_header_slow(own_mac, pkts[i], i, dsts[i], l3_len, own, fb) != kNext)
            return false;
    }
    fb.tally(n);
    fused_tunnels = fb.n_tunnel != 0;
    if (fb.n_tunnel) {
        std::memcpy(own_last, fb.own_last, sizeof own_last);
        own_snap = &s;
        own_generation = s.generation;
    }
    fused_last = fb.n_special != 0;
    if (fb.n_special) return fused_forward(s, in_port, pkts, n, dsts, l3_len, fib_nhs, have_nhs, fb);
    return route_plain(s, in_port, pkts, n, origin, fib_nhs, have_nhs, dsts, l3_len);
}

// A burst of plain received packets of which some take encap routes:
// forward_plain's header pass has passed them all (that is everything
// stage_parse and stage_route check before choose_encap). This is the rest
// of stage_route, stage_encap, stage_ioam and stage_output for such a burst,
// fused: a route pass that decides each packet without touching it, then,
// once all have qualified, one pass that inserts and sends. Packets the
// stages would drop, hold for neighbour discovery, strip at an edge or grow
// by shifting their payload make the whole burst go to the stages, as in
// forward_plain; neither the packets nor the freq counters have changed by
// then.
// Out of line: plain forwarding's loop stays as it was.
[[gnu::noinline]] bool Worker::forward_inserting(const Snapshot& s, uint16_t in_port,
                                                 rte_mbuf** pkts, uint16_t n,
                                                 const uint64_t* fib_nhs, const uint32_t* l3_len) {
    const InsertPlan* plan_of[kBurst];  // null: forwarded as it is
    const NextHop* hop_of[kBurst];       // for those
    uint16_t out_port[kBurst];
    unsigned n_plans = 0;
    uint32_t sampled_out = 0;
    const size_t n_nexthops = s.nexthops.size();
    // Bursts mostly go to one route: its plan is remembered.
    const NextHop* last_nh = nullptr;
    InsertPlan* p = nullptr;
    uint16_t i = 0;
    // Nearly always the whole burst takes the first packet's encap route,
    // sampled in (freq 1/1) and fitting: asked of the whole burst first, a
    // vector at a time. Then plan_of, hop_of and out_port stay unwritten
    // (`whole`): the one-plan send below needs none of them.
    bool whole = false;
    if (const NextHop& nh = s.nexthops[fib_nhs[0] < n_nexthops ? fib_nhs[0] : 0];
        !nh.plain && nh.kind == NextHop::Kind::Forward && nh.encap &&
        all_like_first(fib_nhs, n) && (p = insert_plan(s, nh, n_plans))) {
        last_nh = &nh;
        if (p->freq_n == 1 && all_at_most(l3_len, n, p->max_l3) &&
            least_headroom(pkts, n) >= p->grow) {
            p->counter += n;
            p->inserted = n;
            whole = true;
            i = n;
        }
    }
    for (; i < n; ++i) {
        const NextHop& nh = s.nexthops[fib_nhs[i] < n_nexthops ? fib_nhs[i] : 0];
        plan_of[i] = nullptr;
        if (nh.plain) {
            if (l3_len[i] > nh.plain_mtu) break;
            hop_of[i] = &nh;
            out_port[i] = nh.port;
            continue;
        }
        if (&nh != last_nh) {
            if (nh.kind != NextHop::Kind::Forward || !nh.encap) break;
            p = insert_plan(s, nh, n_plans);
            if (!p) break;
            last_nh = &nh;
        }
        // choose_encap's sampling, on the plan's copy of the counter.
        const uint32_t c = p->counter++;
        if (p->freq_n != 1 && c % p->freq_n >= p->freq_k) {
            // Sampled out: the route forwards it as a plain one would.
            if (!nh.resolved || nh.on_link || l3_len[i] > s.ports[nh.port].mtu) break;
            ++sampled_out;
            hop_of[i] = &nh;
            out_port[i] = nh.port;
            continue;
        }
        // IoamMtuExceeded, an unknown MAC, an edge egress and the payload
        // shift (no headroom) are the stages' cases.
        if (l3_len[i] > p->max_l3 || rte_pktmbuf_headroom(pkts[i]) < p->grow) break;
        ++p->inserted;
        plan_of[i] = p;
        out_port[i] = p->out_port;
    }
    if (i < n) {
        rest_unless_local(s.nexthops[fib_nhs[i] < n_nexthops ? fib_nhs[i] : 0]);
        return false;
    }

    // Every packet qualified: from here on the burst is the fast path's.
    BurstHop bh = burst_hop(s, in_port, Origin::Wire);
    uint32_t inserted = 0;
    bool queue_depth = false;
    for (unsigned j = 0; j < n_plans; ++j) {
        InsertPlan& q = plans[j];
        freq_counter[q.encap] = q.counter;
        if (!q.inserted) continue;
        prepare_insert(s, q, bh, in_port);
        inserted += q.inserted;
        count(q.outcome, q.inserted);
        queue_depth |= q.qd_off >= 0;
    }
    if (inserted) count(IoamEvent::Inserted, inserted);
    if (sampled_out) count(IoamEvent::SampledOut, sampled_out);

    // Only a trace type with the queue depth field needs it.
    QueueAhead ahead;
    if (whole && queue_depth)
        for (unsigned j = 0; j < n; ++j) {
            plan_of[j] = p;
            out_port[j] = p->out_port;
        }
    auto commit = [&](auto plan_for) {
        append_runs(
            pkts, n, [&](uint16_t j) { return out_port[j]; },
            [&](uint16_t j) {
                rte_mbuf* m = pkts[j];
                uint32_t depth = 0;
                if (queue_depth) {
                    depth = ahead.depth(tx, out_port[j]);
                    ahead.sent(out_port[j], m->nb_segs);
                }
                if (plan_of[j]) {
                    insert_header(m, plan_for(j), l3_len[j], depth);
                } else {
                    write_plain_headers(rte_pktmbuf_mtod(m, uint8_t*), *hop_of[j]);
                }
            });
    };
    // Nearly every burst meets one encap route: its plan's per-packet part
    // then lives in registers, where a plan in memory would be read again
    // after every write into a packet (which might alias it). When it takes
    // every packet of the burst without a queue depth to note, each packet
    // is that one insertion to that one port, with nothing to ask.
    if (n_plans == 1) {
        const InsertHot hot(plans[0]);
        if (plans[0].inserted == n && !queue_depth) {
            const uint16_t port = plans[0].out_port;
            append_runs(
                pkts, n, [port](uint16_t) { return port; },
                [&](uint16_t j) { insert_header(pkts[j], hot, l3_len[j], 0); });
        } else {
            commit([&](uint16_t) -> const InsertHot& { return hot; });
        }
    } else {
        commit([&](uint16_t j) -> const InsertPlan& { return *plan_of[j]; });
    }
    return true;
}

// forward_plain's extension: the IOAM packets that are nearly all of a
// transit node's or a tunnel end's traffic, taken in the same light passes
// instead of the stages. Which packets, checked in the header pass before
// anything is written (forward_plain's rule), two kinds alone or together:
// - kTrace: a Hop-by-Hop header that parse_ipv6 accepts with exactly one
//   trace to fill and nothing to count (standard_one_trace), received from
//   the wire by an IOAM-enabled port that is no edge (edges strip or drop),
//   with no trace export (its records need stage_ioam's events);
// - kTunnel: ip6ip6 for one of our addresses on a port that decapsulates,
//   the inner header right behind the outer one or its Hop-by-Hop header,
//   with ECN codepoints RFC 6040 lets through (DecapEcn is the stages');
//   whether the inner packets would pass forward_plain's header pass is
//   noted for the burst (FusedBurst::inner_plain), not required.
// Single segments only: contiguity is then only a matter of length. A
// packet that is plain after all (ip6ip6 for another node, or a next header
// forward_plain's one test let through) passes with nothing noted. `dst`
// (the burst's lookup key for packet `i`) holds the packet's destination.
bool Worker::fused_admit(const rte_mbuf* m, const uint8_t* ip, uint32_t l3_len,
                         const OwnAddresses::View& own, uint16_t i, FusedBurst& fb,
                         uint8_t* dst) {
    constexpr uint32_t kIp6 = sizeof(wire::Ipv6Hdr);
    uint8_t kind = 0;
    uint8_t next = ip[6];
    uint32_t off = kIp6;
    if (next == wire::kProtoHopByHop) {
        if (m->nb_segs != 1) return false;
        // Whether the port and origin allow kTrace, and parse_ipv6's first
        // HbhTruncated check (a zero payload length, a jumbogram, fails it).
        if (l3_len < fb.trace_min_l3) return false;
        // The second, then layout and option.
        const uint32_t hbh_len = (uint32_t(ip[kIp6 + 1]) + 1) * 8;
        if (kIp6 + hbh_len > l3_len) return false;
        kind = fb.one_trace(ip + kIp6, hbh_len);
        if (!kind) return false;
        next = ip[kIp6];
        off += hbh_len;
        // The reference is this header now, and kTrace allowed: the next
        // ones like it may take fused_header_fast's same_trace.
        fb.same_l3 = off;
    }
    // Only where an IPv6 header follows can a tunnel end here, and only
    // then does it matter whether the packet is for the appliance: for any
    // other packet the route lookup says so for free (our addresses are
    // exactly the FIB's Local /128s, which are not plain). An ip6ip6
    // packet for another node is plain.
    if (next != wire::kProtoIpv6 || !fb.own_dst(own, dst)) {
        fb.kind[i] = kind;
        return true;
    }
    if (m->nb_segs != 1) return false;
    if (!(fb.allowed & FusedBurst::kTunnel)) return false;
    // locate_inner's and decapsulate's checks, for the one layout taken
    // (the inner version last: a plain inner header has passed it).
    if (off + kIp6 > l3_len) return false;
    const uint8_t* in = ip + off;
    if (rfc6040_may_change(ipv6_ecn(ip)) && !fb.inner_ecn_of(ip, in, i, kind)) return false;
    fb.inner_off[i] = uint16_t(off);
    // What forward_plain's header pass would ask of the inner packet
    // once it is alone in its frame (trimmed to the outer packet): no
    // Hop-by-Hop header either, as fused_allowed admits no kind for
    // Origin::Tunnel. The ECN set on the way is no part of any test.
    // Nor is being for us: our addresses are the FIB's Local /128s
    // (OwnAddresses), whose next hop is not plain, so fused_forward's
    // route test refuses such an inner packet anyway. Its destination
    // replaces the outer one in `dst` (the burst's lookup key), which
    // a tunnel end does not need.
    uint32_t in_l3;
    uint64_t hi, lo;
    const auto* in_hdr = reinterpret_cast<const wire::Ipv6Hdr*>(in);
    if (fb.inner_plain && plain_ipv6<true>(in_hdr, l3_len - off, in_l3, hi, lo) &&
        in[6] != wire::kProtoHopByHop) {
        fb.inner_l3[i] = uint16_t(in_l3);
        std::memcpy(dst, &hi, 8);
        std::memcpy(dst + 8, &lo, 8);
    } else {
        if ((in[0] >> 4) != 6) return false;
        fb.inner_plain = false;
    }
    kind |= FusedBurst::kTunnel;
    fb.kind[i] = kind;
    return true;
}

// The kinds of fused_admit a burst's port and origin allow. A decapsulated
// packet is as received on a tunnel interface: no IOAM and no tunnel nested
// in it.
uint8_t Worker::fused_allowed(const PortView& port, Origin origin) const {
    if (origin != Origin::Wire) return 0;
    uint8_t allowed = 0;
    if (!cfg.export_ring && port.ioam_enabled && !port.edge) allowed |= FusedBurst::kTrace;
    if (port.decap) allowed |= FusedBurst::kTunnel;
    return allowed;
}

// One trace as stage_ioam_single fills it, at the standard layout's offset.
// A trace whose header is the previous one's (kSame) going out the same way
// gets that one's claim: the same octets 2-3 and the node data at the same
// place. Any other asks fused_claim.
[[gnu::always_inline]] inline void Worker::fused_fill(FusedFill& ff, FillCache& fc, uint8_t* ip, uint8_t kind,
                               bool has_egress, uint16_t out_port, uint32_t queue_depth) {
    uint8_t* th = ip + sizeof(wire::Ipv6Hdr) + kStdIoamOptOff + sizeof(wire::IoamOptHdr);
    const uint8_t hop_in = ip[7];
    const uint16_t egress = has_egress ? uint16_t(out_port + 1) : 0;
    // Input path: the hop limit the packet leaves with (reference §2.4).
    const uint8_t hop_limit = uint8_t(hop_in - 1);
    if ((kind & FusedBurst::kSame) && egress == fc.claim_egress) {
        std::memcpy(th + 2, fc.flags, 2);
    } else if (!fused_claim(ff, fc, th, egress, out_port, queue_depth, hop_in)) {
        ++ff.unknown_ns;
        return;
    }
    ++ff.outcomes[unsigned(fc.outcome)];
    if (fc.outcome != FillOutcome::Filled) return;
    if (fc.plan.one_word)
        write_node_word(th + fc.at, fc.plan, hop_limit);
    else
        write_node_data(th + fc.at, fc.plan, hop_limit, queue_depth);
}

// fused_fill's claim on a trace: the template as stage_ioam_single chooses
// it (the previous trace's if namespace, type and egress are the same),
// then claim_trace_room. False for an unknown namespace, which leaves the
// trace alone.
// Out of line: nearly every trace has the previous one's claim.
[[gnu::noinline]] bool Worker::fused_claim(FusedFill& ff, FillCache& fc, uint8_t* th,
                                           uint16_t egress, uint16_t out_port,
                                           uint32_t queue_depth, uint8_t hop_in) {
    // Trace header octets 0-1 and 4-6; the egress goes into 2-3 (flags,
    // RemainingLen); 7 (reserved) stays 0, so no key is ~0.
    constexpr uint64_t kKeyMask =
        std::bit_cast<uint64_t>(std::array<uint8_t, 8>{0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0});
    constexpr unsigned kEgressShift = std::endian::native == std::endian::little ? 16 : 32;
    auto* t = reinterpret_cast<wire::IoamTraceHdr*>(th);
    const bool has_egress = egress != 0;
    uint64_t key;
    std::memcpy(&key, th, 8);
    key = (key & kKeyMask) | uint64_t(egress) << kEgressShift;
    fc.claim_egress = FillCache::kNoClaim;
    fc.fill_egress = FillCache::kNoClaim;
    fc.word_egress = FillCache::kNoClaim;
    if (key != fc.key) {
        const NodeDataTemplate* tp =
            fused_template(ff, key, th, has_egress, out_port, queue_depth, hop_in);
        if (!tp) return false;
        fc.plan = fill_plan(*tp, has_egress);
        fc.timed = trace::wants_time(tp->type);
        fc.key = key;
    }
    const uint8_t* p = claim_trace_room(t, wire::trace_nodelen(*t), fc.plan.sclen, fc.outcome);
    std::memcpy(fc.flags, th + 2, 2);
    fc.at = p ? uint16_t(p - th) : 0;
    fc.claim_egress = egress;
    if (p) {
        fc.fill_egress = egress;
        if (fc.plan.one_word) fc.word_egress = egress;
    }
    return true;
}

// The template of `key` (see fused_claim), as node_template would build it
// for this burst: ingress, snapshot and egress are what fused_begin and
// the key pin down, hop limit and queue depth are patched per packet, and
// the timestamps are this burst's clock reading, read when stage_ioam_single
// would read it (the first trace of a known namespace that asks for time).
// Null for an unknown namespace.
const NodeDataTemplate* Worker::fused_template(FusedFill& ff, uint64_t key, const uint8_t* th,
                                               bool has_egress, uint16_t out_port,
                                               uint32_t queue_depth, uint8_t hop_in) {
    const auto* t = reinterpret_cast<const wire::IoamTraceHdr*>(th);
    const uint32_t type = wire::trace_type(*t);
    const bool timed = trace::wants_time(type);
    for (unsigned k = 0; k < n_fused_tmpl; ++k) {
        FusedTemplate& f = fused_tmpl[k];
        if (f.key != key) continue;
        if (timed && f.stamp != fused_bursts) {
            if (!ff.bh.have_time) read_clock(ff.bh);
            restamp_node_template(f.tp, ff.bh.base);
            f.stamp = fused_bursts;
        }
        return &f.tp;
    }
    const NamespaceData* ns = ff.bh.s.find_namespace(load_be16(t->namespace_id));
    if (!ns) return nullptr;
    if (timed && !ff.bh.have_time) read_clock(ff.bh);
    FusedTemplate& f = fused_tmpl[take_slot(n_fused_tmpl, fused_tmpl_next, kFusedTemplates)];
    build_node_template(type, ff.bh.s.node, *ns,
                        hop_data(ff.bh, hop_in, has_egress, out_port, queue_depth), f.tp);
    f.key = key;
    f.stamp = fused_bursts;
    return &f.tp;
}

// The start of a burst's fills: what the worker kept from the last one,
// if it is still true. Templates and claims hold the snapshot's node,
// namespace and port data and the ingress port's ids: another snapshot or
// port starts afresh. A plan with timestamps has the last burst's, so its
// next trace goes to fused_template for this one's.
void Worker::fused_begin(const Snapshot& s, uint16_t in_port, FillCache& fc) {
    if (&s != fused_snap || s.generation != fused_generation || in_port != fused_in_port) {
        n_fused_tmpl = 0;
        fused_tmpl_next = 0;
        fused_fc = FillCache{};
        fused_snap = &s;
        fused_generation = s.generation;
        fused_in_port = in_port;
    }
    ++fused_bursts;
    fc = fused_fc;
    if (fc.timed) {
        fc.key = ~0ull;
        fc.claim_egress = FillCache::kNoClaim;
        fc.fill_egress = FillCache::kNoClaim;
        fc.word_egress = FillCache::kNoClaim;
    }
}

// fused_forward's pass that fills, sends and decapsulates, in the burst's
// order, for a burst with tunnel ends (fused_send takes the others).
// kDepth: some trace has the queue depth field (FusedBurst::queue_depth),
// so what is queued ahead is tracked; kOnlyTunnels: every packet is a
// tunnel end (a decapsulating node's usual burst), and the loop is that of
// a tunnel end alone. Returns the inner packets left in `inner`.
template <bool kDepth, bool kOnlyTunnels>
void Worker::fused_commit(rte_mbuf** pkts, uint16_t n, const FusedBurst& fb,
                          const NextHop* const* hops, FusedFill& ff, FillCache& fc,
                          InnerBurst& inner) {
    QueueAhead ahead;
    uint32_t same_fills = 0;  // Filled, with the previous trace's claim
    // What the loop keeps of `inner` in locals, which the octets
    // written into packets cannot be taken to change.
    const bool inner_plain = inner.plain;
    uint16_t n_inner = inner.n;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        const uint8_t kind = fb.kind[i];
        if (kOnlyTunnels || (kind & FusedBurst::kTunnel)) {
            uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
            uint8_t* ip = d + sizeof(wire::EtherHdr);
            // Filled as its destination node: no egress (0), like Linux's
            // loopback device. fused_fill's commonest case first, as below.
            constexpr uint8_t kSameTrace = FusedBurst::kTrace | FusedBurst::kSame;
            if ((kind & kSameTrace) == kSameTrace && fc.word_egress == 0) {
                uint8_t* th = ip + sizeof(wire::Ipv6Hdr) + kStdIoamOptOff + sizeof(wire::IoamOptHdr);
                std::memcpy(th + 2, fc.flags, 2);
                write_node_word(th + fc.at, fc.plan, uint8_t(ip[7] - 1));
                ++same_fills;
            } else if (kind & FusedBurst::kTrace) {
                fused_fill(ff, fc, ip, kind, false, 0, 0);
            }
            const uint32_t off = fb.inner_off[i];
            if (kind & FusedBurst::kEcn) set_ipv6_ecn(ip + off, fb.inner_ecn[i]);
            // An inner packet forward_plain may take is trimmed to its
            // length on the way, as forward_plain or the stages would first.
            if (inner_plain)
                cut_outer_to(m, d, off, fb.inner_l3[i]);
            else
                cut_outer(m, off);
            if constexpr (!kOnlyTunnels) {
                inner.hops[n_inner] = hops[i];
                inner.pkts[n_inner++] = m;
            }
            continue;
        }
        const NextHop& nh = *hops[i];
        const uint16_t p = nh.port;
        uint32_t depth = 0;
        if constexpr (kDepth) depth = ahead.depth(tx, p);
        uint8_t* ip = reinterpret_cast<uint8_t*>(ipv6_of(m));
        // fused_fill's commonest cases first: the previous trace's claim,
        // Filled, with one word of node data or more.
        uint8_t* th = ip + sizeof(wire::Ipv6Hdr) + kStdIoamOptOff + sizeof(wire::IoamOptHdr);
        constexpr uint8_t kSameTrace = FusedBurst::kTrace | FusedBurst::kSame;
        if (kind == kSameTrace && p + 1u == fc.word_egress) {
            std::memcpy(th + 2, fc.flags, 2);
            write_node_word(th + fc.at, fc.plan, uint8_t(ip[7] - 1));
            ++same_fills;
        } else if (kind == kSameTrace && p + 1u == fc.fill_egress) {
            std::memcpy(th + 2, fc.flags, 2);
            write_node_data(th + fc.at, fc.plan, uint8_t(ip[7] - 1), depth);
            ++same_fills;
        } else if (kind) {
            fused_fill(ff, fc, ip, kind, true, p, depth);
        }
        if constexpr (kDepth) ahead.sent(p, m->nb_segs);
        write_plain_headers(ip - sizeof(wire::EtherHdr), nh);
        enqueue(m, p);
    }
    ff.outcomes[unsigned(FillOutcome::Filled)] += same_fills;
    if constexpr (!kOnlyTunnels) inner.n = n_inner;
}

// fused_forward's route test and fused_commit for a burst of tunnel ends
// alone: true when their inner packets are to be forwarded plainly, their
// next hops in `hops`. Out of line: its loops then have the registers to
// themselves.
[[gnu::noinline]] bool Worker::fused_decap(const Snapshot& s, rte_mbuf** pkts, uint16_t n,
                                           const FusedBurst& fb, const uint64_t* fib_nhs,
                                           const NextHop** hops, FusedFill& ff, FillCache& fc,
                                           InnerBurst& inner) {
    InnerRoutes routes{s, hops};
    if (inner.plain)
        for (uint16_t i = 0; i < n; ++i) routes.route(i, fib_nhs[i], fb.inner_l3[i]);
    fused_commit<false, true>(pkts, n, fb, nullptr, ff, fc, inner);
    if (routes.one) inner.one_hop = routes.hop;
    return inner.plain && routes.ok;
}

#ifdef __SSE2__
// write_node_data for node data of 16 to 96 octets, with the template's
// octets in vector registers: kHead 16-octet pieces from the start, then
// the 16 that end the data (overlapping the last piece unless the length
// is a multiple of 16). For a run of traces with one claim, where the
// template would otherwise be read again for every packet.
template <unsigned kHead>
struct NodeDataInRegisters {
    explicit NodeDataInRegisters(const FillPlan& f)
        : tail_off(f.len - 16), hl(f.hl), hl_wide(f.hl_wide), qd(f.qd) {
        for (unsigned k = 0; k < kHead; ++k)
            head[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(f.data + 16 * k));
        tail = _mm_loadu_si128(reinterpret_cast<const __m128i*>(f.data + tail_off));
    }
    void operator()(uint8_t* p, uint8_t hop_limit, uint32_t queue_depth) const {
        for (unsigned k = 0; k < kHead; ++k)
            _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 16 * k), head[k]);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p + tail_off), tail);
        if (hl >= 0) p[hl] = hop_limit;
        if (hl_wide >= 0) p[hl_wide] = hop_limit;
        if (qd >= 0) store_be32(p + qd, queue_depth);
    }
    __m128i head[kHead > 0 ? kHead : 1];
    __m128i tail;
    unsigned tail_off;
    int16_t hl, hl_wide, qd;
};
#endif

// `run(fill)` with a fill for the plan's node data (what write_node_data
// writes): from vector registers for 16 to 96 octets.
template <class Run>
[[gnu::always_inline]] inline void with_node_data(const FillPlan& plan, Run run) {
#ifdef __SSE2__
    switch (plan.len >= 16 && plan.len <= 96 ? (plan.len - 1) / 16 : 6u) {
        case 0: return run(NodeDataInRegisters<0>(plan));
        case 1: return run(NodeDataInRegisters<1>(plan));
        case 2: return run(NodeDataInRegisters<2>(plan));
        case 3: return run(NodeDataInRegisters<3>(plan));
        case 4: return run(NodeDataInRegisters<4>(plan));
        case 5: return run(NodeDataInRegisters<5>(plan));
        default: break;
    }
#endif
    run([&plan](uint8_t* p, uint8_t hop_limit, uint32_t queue_depth) {
        write_node_data(p, plan, hop_limit, queue_depth);
    });
}

// fused_commit for a burst without tunnel ends, sent in runs to one port
// as append_runs sends (its own loop: a run of traces with one claim has a
// tighter loop inside). A trace with the previous one's claim, going out
// the same way, is filled from a copy of that claim in registers: fc itself
// would be read again after every write into a packet (which might alias
// it). fused_fill's other cases may change the claim; the copy follows.
// Out of line: its loops get registers of their own (3 instructions per
// packet fewer than inlined into forward_plain).
template <bool kDepth>
[[gnu::noinline]] void Worker::fused_send(rte_mbuf** pkts, uint16_t n, const FusedBurst& fb,
                        const NextHop* const* hops, const NextHop* one, FusedFill& ff,
                        FillCache& fc) {
    struct Claim {
        // The port of fc's word_egress when its plan patches the hop limit
        // into its one word (0x800000, the commonest type), and of its
        // fill_egress: or a value no port has. Every Filled claim may take
        // write_node_data.
        uint32_t word_port, fill_port;
        uint16_t flags, at;
        uint32_t word;
    };
    auto claim_of = [](const FillCache& f) {
        Claim k;
        k.word_port = f.plan.hl_mask ? f.word_egress - 1 : FillCache::kNoClaim;
        k.fill_port = f.fill_egress - 1;
        std::memcpy(&k.flags, f.flags, 2);
        k.at = f.at;
        k.word = f.plan.word;
        return k;
    };
    Claim c = claim_of(fc);
    QueueAhead ahead;
    constexpr uint32_t kEth = sizeof(wire::EtherHdr);
    constexpr uint32_t kTh = kEth + sizeof(wire::Ipv6Hdr) + kStdIoamOptOff + sizeof(wire::IoamOptHdr);
    constexpr uint8_t kSameTrace = FusedBurst::kTrace | FusedBurst::kSame;
    // A transit node's usual burst: every packet a trace like the previous
    // one, so that the claim stays.
    const bool all_same = fb.all_kind(n, kSameTrace);
    uint32_t same_fills = n;  // less each packet not Filled with the previous trace's claim
    // In runs to one port, as append_runs: the run's packets go to its
    // buffer from `k0` on, and their segments are counted at its end (a
    // trace is in one segment: fused_admit).
    // hops is unwritten where `one` is set.
    auto hop = [&](unsigned i) { return one ? one : hops[i]; };
    for (unsigned i = 0; i < n;) {
        const uint16_t port = hop(i)->port;
        TxBuffer& b = tx[port];
        const unsigned first = i;
        const unsigned k0 = b.n;
        const unsigned end = std::min<unsigned>(n, i + (k0 < kBurst ? kBurst - k0 : 0));
        rte_mbuf** const out = b.pkts + k0;
        uint32_t more_segs = 0;  // segments beyond one per packet
        // The run's packets from i on while they go to `port`, when every
        // one of the burst's packets is a trace with the claim this one
        // holds for the port: a loop that neither tests kinds nor calls
        // anything (what it keeps in registers need not survive a call).
        // Each is in one segment, so the queue depth grows by one from
        // packet to packet.
        auto same_claim = [&](auto fill) {
            rte_mbuf* const* const run = pkts + i;
            const NextHop* const* const run_hops = hops + i;
            rte_mbuf** const run_out = out + (i - first);
            const unsigned len = end - i;
            const size_t data_off = kTh + c.at;
            const uint32_t depth = kDepth ? ahead.depth(tx, port) : 0;
            unsigned j = 0;
            auto one_packet = [&](const uint8_t(&eth)[sizeof NextHop::eth]) {
                rte_mbuf* m = run[j];
                uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
                const uint8_t hop_limit = uint8_t(f[kEth + 7] - 1);
                write_plain_headers(f, eth);
                std::memcpy(f + kTh + 2, &c.flags, 2);
                fill(f + data_off, hop_limit, depth + j);
                run_out[j] = m;
            };
            if (one) {
                // Every packet has this next hop: the run is all the buffer
                // takes, the Ethernet octets in registers.
                uint8_t eth[sizeof NextHop::eth];
                std::memcpy(eth, one->eth, sizeof eth);
                for (; j < len; ++j) one_packet(eth);
            } else {
                for (; j < len; ++j) {
                    const NextHop* nh = run_hops[j];
                    if (nh->port != port) break;
                    one_packet(nh->eth);
                }
            }
            if (kDepth) ahead.sent(port, uint16_t(j));
            i += j;
        };
        auto in_run = [&] { return i < end && hop(i)->port == port; };
        while (in_run()) {
            if (all_same && port == c.word_port) {
                same_claim([&](uint8_t* p, uint8_t hop_limit, uint32_t) {
                    const uint32_t v = c.word | uint32_t(hop_limit) << kNodeWordHopShift;
                    std::memcpy(p, &v, 4);
                });
                if (!in_run()) break;
            } else if (all_same && port == c.fill_port) {
                // The plan out of fc, which the writes might alias.
                with_node_data(fc.plan, same_claim);
                if (!in_run()) break;
            }
            // Any other packet (it may change the claim).
            rte_mbuf* m = pkts[i];
            const NextHop& nh = *hop(i);
            uint32_t depth = 0;
            if constexpr (kDepth) {
                depth = ahead.depth(tx, port);
                ahead.sent(port, m->nb_segs);
            }
            uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
            const uint8_t kind = fb.kind[i];
            const uint8_t hop_limit = uint8_t(f[kEth + 7] - 1);
            more_segs += m->nb_segs - 1u;
            if (kind == kSameTrace && port == c.word_port) {
                std::memcpy(f + kTh + 2, &c.flags, 2);
                const uint32_t v = c.word | uint32_t(hop_limit) << kNodeWordHopShift;
                std::memcpy(f + kTh + c.at, &v, 4);
            } else if (kind == kSameTrace && port == c.fill_port) {
                std::memcpy(f + kTh + 2, &c.flags, 2);
                write_node_data(f + kTh + c.at, fc.plan, hop_limit, depth);
            } else {
                --same_fills;
                if (kind) {
                    fused_fill(ff, fc, f + kEth, kind, true, port, depth);
                    c = claim_of(fc);
                }
            }
            write_plain_headers(f, nh);
            out[i - first] = m;
            ++i;
        }
        const unsigned k = k0 + (i - first);
        b.n = uint16_t(k);
        b.segs += (i - first) + more_segs;
        if (k >= kBurst) flush_tx(port);
    }
    ff.outcomes[unsigned(FillOutcome::Filled)] += same_fills;
}

// forward_plain's last passes for a burst with IOAM or tunnel packets:
// route checks (tunnel ends need none), then one pass that fills, sends and
// decapsulates in the burst's order, as stage_ioam_single, stage_output and
// decapsulate would. False, before any packet changed, when the stages must
// run after all. The inner packets follow the forwarded ones, as
// process_burst(Origin::Tunnel) would send them: when forward_plain would
// take them all (header pass and plain routes), they are forwarded here,
// their routes looked up with the outer packets'; else that call is made.
bool Worker::fused_forward(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                           uint8_t (*dsts)[16], const uint32_t* l3_len, uint64_t* fib_nhs,
                           bool& have_nhs, const FusedBurst& fb) {
    // A tunnel end's /128 would be the FIB's deepest walk, for a route the
    // packet does not need: only the others are looked up, and the inner
    // packets' destinations in the tunnel ends' places when they may need
    // theirs.
    const bool inner_plain = fb.n_tunnel && fb.inner_plain;
    uint16_t n_dst = n;
    if (fb.n_tunnel && !inner_plain) {
        n_dst = 0;
        for (uint16_t i = 0; i < n; ++i) {
            if (fb.kind[i] & FusedBurst::kTunnel) continue;
            if (n_dst != i) std::memcpy(dsts[n_dst], dsts[i], 16);
            ++n_dst;
        }
    }
    if (n_dst) {
        rte_fib6_lookup_bulk(s.fib, dsts, fib_nhs, n_dst);
        // stage_route may reuse results that are one per packet: every
        // packet passed its filter, and stage_parse keeps them all.
        have_nhs = !fb.n_tunnel;
    }
    // forward_plain's route checks; and a trace leaving by an edge port is
    // stripped there (stage_output). Late: rest as forward_plain does.
    // Nearly every packet of a burst has the previous one's FIB result:
    // its next hop and limits are kept, starting with result 0's.
    const NextHop* hops[kBurst];
    const size_t n_nexthops = s.nexthops.size();
    uint64_t last_idx = 0;
    const NextHop* last = &s.nexthops[0];
    // last's plain_mtu (0 unless plain: the one compare refuses any other
    // route), and for a trace 0 where last's port is an edge.
    uint32_t mtu = 0, trace_mtu = 0;
    auto limits = [&] {
        mtu = last->plain_mtu;
        trace_mtu = s.ports[last->port].edge ? 0 : mtu;
    };
    limits();
    // `trace`: packet i has a trace (fb.kind[i] != 0 where not a tunnel end).
    unsigned changes = 0;  // of last: at most 1, every packet has `last`
    auto route = [&](uint16_t i, uint64_t idx, bool trace) {
        if (idx != last_idx) [[unlikely]] {
            ++changes;
            last_idx = idx;
            last = &s.nexthops[idx < n_nexthops ? idx : 0];
            limits();
        }
        hops[i] = last;
        return l3_len[i] <= (trace ? trace_mtu : mtu);
    };
    InnerRoutes inner_routes{s, hops};
    uint16_t i = 0;
    if (fb.n_special == n && !fb.n_tunnel) {
        // A transit node's usual: every packet has a trace, and nearly
        // always all have the first one's next hop and fit it. That is
        // asked of the whole burst first; then hops stays unwritten, as
        // fused_send needs only `one`.
        if (all_like_first(fib_nhs, n)) {
            last_idx = fib_nhs[0];
            last = &s.nexthops[last_idx < n_nexthops ? last_idx : 0];
            limits();
            if (all_at_most(l3_len, n, trace_mtu)) i = n;
        }
        for (; i < n; ++i)
            if (!route(i, fib_nhs[i], true)) break;
    } else if (!fb.n_tunnel) {
        for (; i < n; ++i)
            if (!route(i, fib_nhs[i], fb.kind[i] != 0)) break;
    } else if (fb.n_tunnel != n) {
        // The inner packets' destinations took the tunnel ends' places in
        // the lookup when they may need them; else those were left out.
        for (uint16_t k = 0; i < n; ++i) {
            if (fb.kind[i] & FusedBurst::kTunnel) {
                if (inner_plain) inner_routes.route(i, fib_nhs[k++], fb.inner_l3[i]);
                continue;
            }
            if (!route(i, fib_nhs[k++], fb.kind[i] != 0)) break;
        }
    } else {
        i = n;  // tunnel ends alone (a decapsulating node's usual): see fused_decap
    }
    if (i < n) {
        rest_unless_local(*hops[i]);  // the next hop that stopped the burst
        return false;
    }
    // One change at most: every packet has `last` (a packet before the
    // change would have had next hop 0, "no route", which refused it).
    const NextHop* const one = changes <= 1 ? last : nullptr;

    // Every packet qualified: from here on they change.
    FusedFill ff{burst_hop(s, in_port, Origin::Wire)};
    FillCache fc;
    fused_begin(s, in_port, fc);
    InnerBurst inner;
    inner.plain = inner_plain;
    bool inner_ok = inner_plain && inner_routes.ok;
    if (fb.n_tunnel == n) {
        // No packet is forwarded as it is: no queue depth to track.
        inner_ok = fused_decap(s, pkts, n, fb, fib_nhs, hops, ff, fc, inner);
    } else if (fb.queue_depth) {
        if (fb.n_tunnel)
            fused_commit<true>(pkts, n, fb, hops, ff, fc, inner);
        else
            fused_send<true>(pkts, n, fb, hops, one, ff, fc);
    } else {
        if (fb.n_tunnel)
            fused_commit<false>(pkts, n, fb, hops, ff, fc, inner);
        else
            fused_send<false>(pkts, n, fb, hops, one, ff, fc);
    }
    // The reference header and its claim go on together: both are of the
    // burst's last trace.
    fused_fc = fc;
    fused_ref = fb.ref;
    count_fill_outcomes(ff.outcomes, ff.unknown_ns);
    if (fb.n_tunnel) {
        // Every tunnel end left an inner packet.
        count(IoamEvent::Decapsulated, fb.n_tunnel);
        const bool only = fb.n_tunnel == n;
        rte_mbuf** in_pkts = only ? pkts : inner.pkts;
        // As after the stages: the inner packets follow the burst's
        // forwarded ones. The plain_rest the outer burst found was 0, and
        // nothing here set it: process_burst would run forward_plain.
        if (!only && inner_routes.one) inner.one_hop = inner_routes.hop;
        if (inner_ok && inner.one_hop)
            send_plain_one(*this, in_pkts, fb.n_tunnel, *inner.one_hop);
        else if (inner_ok)
            send_plain(*this, in_pkts, only ? hops : inner.hops, fb.n_tunnel);
        else
            process_burst(s, in_port, in_pkts, fb.n_tunnel, Origin::Tunnel);
    }
    return true;
}

// The burst's plan for this encap route, made on its first packet: what
// choose_encap and stage_encap would decide for every selected packet of the
// route, since none of it depends on the packet (origin Wire, no
// Hop-by-Hop header). Null when the burst meets more routes than there are
// plans.
Worker::InsertPlan* Worker::insert_plan(const Snapshot& s, const NextHop& nh, unsigned& n_plans) {
    const uint16_t idx = uint16_t(nh.encap - 1u);
    for (unsigned k = 0; k < n_plans; ++k)
        if (plans[k].encap == idx) return plans[k].nh == &nh ? &plans[k] : nullptr;
    if (n_plans == kInsertPlans) return nullptr;
    InsertPlan& p = plans[n_plans++];
    const EncapProfile& e = s.encaps[idx];
    // A slot taken over by another route (even for a burst that then goes
    // to the stages) no longer holds a header for the old one.
    p.reuse = p.nh == &nh && p.encap == idx && p.ready_gen == s.generation;
    if (!p.reuse) p.ready_gen = ~0ull;
    p.nh = &nh;
    p.encap = idx;
    p.freq_k = e.freq_k;
    p.freq_n = e.freq_n;
    p.counter = freq_counter[idx];
    p.inserted = 0;
    // Received packets: "auto" means encap (its mode says so).
    p.inline_mode = e.mode == EncapProfile::Mode::Inline;
    if (p.inline_mode) {
        p.grow = e.hbh_len;
        p.out_port = nh.port;
        p.mac = nh.resolved && !nh.on_link ? &nh.dst_mac : nullptr;
    } else {
        p.grow = e.overhead();
        p.out_port = e.tunnel_port;
        p.mac = e.tunnel_ok && e.tunnel_resolved ? &e.tunnel_mac : nullptr;
    }
    const uint32_t mtu = s.ports[p.out_port].mtu;
    p.max_l3 = p.mac && !s.ports[p.out_port].edge && mtu > p.grow ? mtu - p.grow : 0;
    return &p;
}

// The header the plan's packets get, filled in advance with this node's
// data: the inserted trace is empty, so that data always lands at the same
// place and comes out of the same template as in stage_ioam. Only the hop
// limit (and queue depth, when the type has it) differ per packet; their
// offsets are kept. Encap also lays out the outer header here, leaving
// traffic class and flow label, payload length and hop limit to the packet.
void Worker::prepare_insert(const Snapshot& s, InsertPlan& p, BurstHop& bh, uint16_t in_port) {
    constexpr uint16_t kIp6 = sizeof(wire::Ipv6Hdr);
    if (p.reuse && p.ready_in_port == in_port) return;
    p.ready_gen = ~0ull;
    const EncapProfile& e = s.encaps[p.encap];
    uint8_t* hbh = p.hdr;
    if (!p.inline_mode) {
        auto* outer = reinterpret_cast<wire::Ipv6Hdr*>(p.hdr);
        std::memset(outer, 0, kIp6);
        outer->next_header = wire::kProtoHopByHop;
        std::memcpy(outer->src, e.tunsrc, 16);
        std::memcpy(outer->dst, e.tundst, 16);
        hbh += kIp6;
    }
    std::memcpy(hbh, e.hbh, e.hbh_len);
    hbh[0] = wire::kProtoIpv6;  // inline: replaced per packet
    p.hdr_len = uint16_t(hbh - p.hdr + e.hbh_len);
    auto* eth = reinterpret_cast<wire::EtherHdr*>(p.eth);
    std::memcpy(eth->dst, p.mac->addr_bytes, 6);
    std::memcpy(eth->src, s.ports[p.out_port].mac.addr_bytes, 6);
    store_be16(eth->ether_type, wire::kEtherTypeIpv6);  // forward_plain checked it
    // Inline: `hdr` goes behind the IPv6 header; encap: it starts with it.
    p.hl_off = p.hl_wide_off = int16_t(int(offsetof(wire::Ipv6Hdr, hop_limit)) -
                                       (p.inline_mode ? int(sizeof(wire::Ipv6Hdr)) : 0));
    p.qd_off = NodeDataTemplate::kNone;

    uint8_t* opt = hbh + kIoamHbhOptOffset;
    const auto* th = reinterpret_cast<const wire::IoamTraceHdr*>(opt + sizeof(wire::IoamOptHdr));
    const NamespaceData* ns = s.find_namespace(load_be16(th->namespace_id));
    // Not made again for the next burst when nothing in it comes from the clock.
    const uint32_t type = wire::trace_type(*th);
    if (!ns || !trace::wants_time(type)) {
        p.ready_gen = s.generation;
        p.ready_in_port = in_port;
    }
    if (!ns) {
        p.outcome = IoamEvent::SkipUnknownNamespace;
        return;
    }
    if (!bh.have_time && trace::wants_time(type)) read_clock(bh);
    // Hop limit and queue depth are patched per packet (0 until then).
    HopData hop = hop_data(bh, 0, true, p.out_port, 0);
    hop.hop_limit = 0;
    NodeDataTemplate tp;
    build_node_template(type, s.node, *ns, hop, tp);
    switch (fill_trace_from(opt, tp, 0, true, 0)) {
        case FillOutcome::Filled: p.outcome = IoamEvent::TraceFilled; break;
        case FillOutcome::OverflowSet: p.outcome = IoamEvent::TraceOverflowSet; break;
        // An inserted trace has no overflow flag yet.
        case FillOutcome::OverflowAlready: p.outcome = IoamEvent::SkipOverflowFlag; return;
    }
    if (p.outcome != IoamEvent::TraceFilled) return;
    // Where fill_trace_from put the node data: right after the room left.
    const int node = int(reinterpret_cast<const uint8_t*>(th) + sizeof(wire::IoamTraceHdr) +
                         wire::trace_remlen(*th) * 4u - p.hdr);
    if (tp.hop_limit_off >= 0) p.hl_off = int16_t(node + tp.hop_limit_off);
    if (tp.hop_limit_wide_off >= 0) p.hl_wide_off = int16_t(node + tp.hop_limit_wide_off);
    if (tp.queue_depth_off >= 0) p.qd_off = int16_t(node + tp.queue_depth_off);
}

// `len` (at least 16) octets as a head and a tail copy of fixed sizes that
// may overlap in the middle: for the usual 24 to 128 octets a libc call or
// a loop costs more than the copy itself. `to` and `from` must not overlap.
inline void copy_header(uint8_t* to, const uint8_t* from, unsigned len) {
    uint8_t* to_end = to + len;
    const uint8_t* from_end = from + len;
    if (len <= 32) {
        std::memcpy(to, from, 16);
        std::memcpy(to_end - 16, from_end - 16, 16);
    } else if (len <= 64) {
        std::memcpy(to, from, 32);
        std::memcpy(to_end - 32, from_end - 32, 32);
    } else if (len <= 80) {
        std::memcpy(to, from, 64);
        std::memcpy(to_end - 16, from_end - 16, 16);
    } else {
        for (; from_end - from > 64; from += 64, to += 64) std::memcpy(to, from, 64);
        std::memcpy(to_end - 64, from_end - 64, 64);
    }
}

// stage_encap (prepend), stage_ioam (the inserted trace) and send's header
// writes for one packet of a qualified burst, from its plan; the caller
// transmits it to p.out_port. The hop limit is decremented first, as
// forwarding does before the encapsulating node's output path.
template <class Plan>
inline void Worker::insert_header(rte_mbuf* m, const Plan& p, uint32_t l3_len,
                                  uint32_t queue_depth) {
    constexpr uint16_t kEth = sizeof(wire::EtherHdr);
    constexpr uint16_t kIp6 = sizeof(wire::Ipv6Hdr);
    // The plan in locals: every store into the packet could alias it.
    const uint16_t grow = p.grow;
    const bool inline_mode = p.inline_mode;
    const unsigned hdr_len = p.hdr_len;
    const int hl_off = p.hl_off, hl_wide_off = p.hl_wide_off, qd_off = p.qd_off;
    uint8_t* old = rte_pktmbuf_mtod(m, uint8_t*);
    auto* inner = reinterpret_cast<wire::Ipv6Hdr*>(old + kEth);
    const uint8_t hop_limit = uint8_t(inner->hop_limit - 1);
    auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, grow));
    auto* ip = reinterpret_cast<wire::Ipv6Hdr*>(d + kEth);
    uint8_t* at;  // where p.hdr goes
    if (inline_mode) {
        // The IPv6 header moves to the front (the ranges overlap: all of it
        // is loaded first); the Hop-by-Hop header goes behind it.
        const uint8_t next_header = inner->next_header;
        uint8_t hdr[kIp6];
        std::memcpy(hdr, inner, kIp6);
        std::memcpy(ip, hdr, kIp6);
        at = d + kEth + kIp6;
        copy_header(at, p.hdr, hdr_len);
        at[0] = next_header;
        ip->next_header = wire::kProtoHopByHop;
        store_be16(ip->payload_len, uint16_t(l3_len - kIp6 + grow));
    } else {
        // RFC 2473, Linux style: the inner traffic class and flow label.
        uint8_t vtc_flow[4];
        std::memcpy(vtc_flow, inner->vtc_flow, 4);
        inner->hop_limit = hop_limit;
        at = d + kEth;
        copy_header(at, p.hdr, hdr_len);
        std::memcpy(ip->vtc_flow, vtc_flow, 4);
        store_be16(ip->payload_len, uint16_t(l3_len + grow - kIp6));
    }
    ip->hop_limit = hop_limit;
    at[hl_off] = hop_limit;
    at[hl_wide_off] = hop_limit;
    if (qd_off >= 0) store_be32(at + qd_off, queue_depth);
    // What send does, with the MACs of the plan.
    std::memcpy(d, p.eth, 8);
    std::memcpy(d + 6, p.eth + 6, 8);
}

void Worker::process_burst(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                           Origin origin) {
    if (s.generation != freq_generation) {
        std::memset(freq_counter, 0, sizeof freq_counter);
        freq_generation = s.generation;
    }
    // The appliance's own packets are few and follow other rules (hop limit
    // kept, link-local answers): always the stages.
    uint64_t fib_nhs[kBurst];
    bool have_nhs = false;
    if (origin != Origin::Local && cfg.fast_paths) {
        if (plain_rest)
            --plain_rest;
        else if (forward_plain(s, in_port, pkts, n, origin, fib_nhs, have_nhs))
            return;
    }
    PacketMeta meta[kBurst];
    rte_mbuf* inner[kBurst];
    rte_mbuf* answers[kBurst];
    uint16_t n_inner, n_answers;
    const unsigned max_trace = stage_parse(s, in_port, pkts, n, meta, origin);
    stage_route(s, in_port, pkts, n, meta, origin, have_nhs ? fib_nhs : nullptr);
    // Most bursts of plain traffic need neither pass. Without encap routes
    // in the snapshot no packet can have been chosen for insertion.
    bool any_encap = false;
    if (!s.encaps.empty())
        for (uint16_t i = 0; i < n; ++i) any_encap |= meta[i].encap != 0;
    if (any_encap) stage_encap(s, pkts, n, meta);
    // The exporting case needs the trace events of stage_ioam; the
    // appliance's own packets (no export either) also fit the lean loop.
    const bool may_export = cfg.export_ring && origin != Origin::Local;
    if (!any_encap && !may_export && max_trace == 1)
        stage_ioam_single(s, in_port, pkts, n, meta, origin);
    else if (any_encap || max_trace)
        stage_ioam(s, in_port, pkts, n, meta, origin);
    stage_output(s, in_port, pkts, n, meta, origin, inner, n_inner, answers, n_answers);
    // Decapsulated packets and the appliance's answers run the stages again
    // (at most Wire -> Tunnel -> Local: neither of the last two recurses into itself).
    if (n_inner) process_burst(s, in_port, inner, n_inner, Origin::Tunnel);
    if (n_answers) process_burst(s, in_port, answers, n_answers, Origin::Local);
}

}  // namespace

struct BurstProcessor::Impl : Worker {};

BurstProcessor::BurstProcessor(const WorkerConfig& cfg) : impl_(new Impl{{cfg, *cfg.stats}}) {}
BurstProcessor::~BurstProcessor() { delete impl_; }

void BurstProcessor::process(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n) {
    // As worker_main: an empty burst is nothing to do (the passes read
    // their first packet's results unasked).
    if (n == 0) return;
    impl_->st.rx[in_port].add(n);
    impl_->process_burst(s, in_port, pkts, n, Origin::Wire);
}

void BurstProcessor::drain_injected(const Snapshot& s) {
    if (impl_->cfg.nd && impl_->cfg.nd->has_injected(impl_->cfg.index)) impl_->drain_injected(s);
}

void BurstProcessor::flush() {
    for (uint16_t p : impl_->cfg.tx_ports) impl_->tx[p].drain(p, uint16_t(impl_->cfg.index), impl_->st);
}

int worker_main(void* arg) {
    const auto& cfg = *static_cast<const WorkerConfig*>(arg);
    Worker w{cfg, *cfg.stats};
    const uint16_t txq = uint16_t(cfg.index);
    const uint64_t drain_tsc = (rte_get_tsc_hz() + 1000000 - 1) / 1000000 * kDrainUs;
    uint64_t prev_tsc = rte_rdtsc();
    rte_mbuf* burst[kBurst];
    uint32_t empty_polls = 0;

    cfg.slot->reader_online(cfg.index);
    while (!cfg.stop->load(std::memory_order_relaxed)) {
        // One snapshot per iteration: every packet of a burst sees one config.
        const Snapshot* s = cfg.slot->acquire();
        // Console `stop`: no rx polling; tx drain and the quiescent report go on.
        const bool polling = !cfg.forwarding || cfg.forwarding->load(std::memory_order_relaxed);
        bool got = false;
        for (size_t i = 0; polling && i < cfg.rx.size(); ++i) {
            const RxQueueRef& q = cfg.rx[i];
            const uint16_t n = rte_eth_rx_burst(q.port, q.queue, burst, kBurst);
            if (n == 0) continue;
            got = true;
            w.st.rx[q.port].add(n);
            w.st.rx_queue[i].add(n);
            w.st.rx_bursts.add(1);
            if (n == kBurst) w.st.rx_full_bursts.add(1);
            w.process_burst(*s, q.port, burst, n, Origin::Wire);
        }
        // What the control thread sends (solicitations, released packets):
        // one emptiness check when there is nothing.
        if (cfg.nd && cfg.nd->has_injected(cfg.index)) w.drain_injected(*s);
        const uint64_t now = rte_rdtsc();
        if (now - prev_tsc > drain_tsc) {
            for (uint16_t p : cfg.tx_ports) w.tx[p].flush(p, txq, w.st);
            prev_tsc = now;
        }
        cfg.slot->reader_quiescent(cfg.index);
        empty_polls = got ? 0 : empty_polls + 1;
        if (cfg.idle_sleep_us && empty_polls >= cfg.idle_polls) {
            // Nothing is lost by sleeping with packets buffered for tx, but
            // they would wait the whole nap: send them first.
            for (uint16_t p : cfg.tx_ports) w.tx[p].flush(p, txq, w.st);
            w.st.idle_sleeps.add(1);
            rte_delay_us_sleep(cfg.idle_sleep_us);
            empty_polls = 0;
        }
    }
    for (uint16_t p : cfg.tx_ports) w.tx[p].drain(p, txq, w.st);
    cfg.slot->reader_offline(cfg.index);
    return 0;
}

}  // namespace ioamfwd::dp
