#include "packet_fuzz.hpp"

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../dp/dp_env.hpp"
#include "common/byte_order.hpp"
#include "control/nd_service.hpp"
#include "control/trace_json.hpp"
#include "dataplane/hbh_parse.hpp"
#include "dataplane/nd_wire.hpp"

namespace ioamfwd::fuzz {

namespace {

// One of the two workers every input goes through: fast paths on (the
// default) and off, the stages alone, whose outputs must agree.
struct Side {
    const char* name;
    std::unique_ptr<testenv::Forwarder> fw;
    std::unique_ptr<cp::NdService> nd;  // fuzz_nd only
    // What it did with the current input.
    std::vector<testenv::TxFrame> tx;
    std::vector<dp::TraceRecord> records;
    std::vector<std::pair<std::string, uint64_t>> nd_counters;
};

struct State {
    testenv::DpEnv* env = nullptr;
    std::unique_ptr<dp::Snapshot> snap;
    const char* role = "";
    Side sides[2] = {{"fast paths", {}, {}, {}, {}, {}}, {"stages", {}, {}, {}, {}, {}}};
    Side* cur = &sides[0];  // the side running now
    // fuzz_nd only.
    cp::NdConfig nd_cfg;
    uint64_t now_ms = 0;
};
// Far from 0, so no timer of the ND machine ever looks at a negative age.
constexpr uint64_t kNdStartMs = 1000000;
State g;

// Both sides' trace timestamps: the same reading, a new one every input.
timespec g_clock{1700000000, 0};
void fuzz_clock(timespec* t) { *t = g_clock; }

void hexdump(const char* what, const uint8_t* p, size_t n) {
    std::fprintf(stderr, "%s (%zu octets):", what, n);
    for (size_t i = 0; i < n; ++i) std::fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", p[i]);
    std::fprintf(stderr, "\n");
}

[[noreturn]] void fail(const std::string& why, const uint8_t* in, size_t in_len,
                       const testenv::TxFrame* out = nullptr) {
    std::fprintf(stderr, "\n*** ioamfwd fuzz_%s (%s): %s\n", g.role, g.cur->name, why.c_str());
    hexdump("input frame", in, in_len);
    if (out) hexdump("transmitted frame", out->bytes.data(), out->bytes.size());
    std::fprintf(stderr, "counters: %s\n", g.cur->fw->nonzero_drops().c_str());
    std::abort();
}

// What any frame ioamfwd transmits must look like.
void check_output(const testenv::TxFrame& f, uint16_t in_port, const uint8_t* in, size_t in_len) {
    const std::vector<uint8_t>& b = f.bytes;
    if (b.size() < 14 + 40)
        fail("transmitted a frame shorter than Ethernet + IPv6", in, in_len, &f);
    if (load_be16(&b[12]) != 0x86dd) fail("transmitted a frame that is not IPv6", in, in_len, &f);
    if (std::memcmp(&b[6], g.snap->ports[f.port].mac.addr_bytes, 6) != 0)
        fail("source MAC is not the egress port's", in, in_len, &f);
    if ((b[14] >> 4) != 6) fail("transmitted IPv6 version is not 6", in, in_len, &f);
    const size_t l3 = b.size() - 14;
    if (40u + load_be16(&b[14 + 4]) != l3)
        fail("payload length does not match the transmitted frame", in, in_len, &f);
    if (b[14 + 7] == 0) fail("transmitted with hop limit 0", in, in_len, &f);
    dp::Ipv6Parse p;
    const dp::Drop d = dp::parse_ipv6(&b[14], uint32_t(l3), uint32_t(l3), false, p);
    if (d != dp::Drop::kCount)
        fail(std::string("the parser refuses what was transmitted: ") + dp::drop_name(d), in,
             in_len, &f);
    // The domain edge (RFC 9486 §6): no IOAM leaves by an edge port, and none
    // that came in by an edge port with policy strip or drop gets through
    // (unless this node inserted it: roles with encap routes are exempt).
    const dp::PortView& out = g.snap->ports[f.port];
    const dp::PortView& ing = g.snap->ports[in_port];
    if (p.n_ioam && out.edge) fail("IOAM leaves the domain by an edge port", in, in_len, &f);
    if (p.n_ioam && ing.edge && ing.edge_policy != dp::EdgePolicy::Ignore && g.snap->encaps.empty())
        fail("IOAM from outside the domain got through an edge port with policy strip/drop", in,
             in_len, &f);
}

// What the appliance itself says in Neighbor Discovery (hop limit 255: a
// forwarded message has had its hop limit decremented) must be something it
// would accept.
void check_nd_output(const testenv::TxFrame& f, const uint8_t* in, size_t in_len) {
    const std::vector<uint8_t>& b = f.bytes;
    if (b[14 + 7] != 255) return;
    dp::NdMessage msg;
    if (dp::check_nd(&b[14], uint32_t(b.size() - 14), msg) == dp::NdCheck::Invalid)
        fail("transmitted a Neighbor Solicitation/Advertisement that check_nd refuses", in, in_len,
             &f);
}

// `frame` in mbufs: the four layouts of packet_fuzz.hpp, or only the first.
// Returns how many are in `out`.
uint16_t make_layouts(const uint8_t* frame, size_t size, bool all, rte_mbuf** out,
                      const uint8_t* in, size_t in_len) {
    testenv::DpEnv& env = *g.env;
    size_t split = 0;
    if (size >= 2) split = (size_t(frame[size - 1]) | size_t(frame[size - 2]) << 8) % (size + 1);
    const uint16_t want = all ? 4 : 1;
    uint16_t n = 0;
    rte_mbuf* m;
    if ((m = env.mbuf(frame, size))) out[n++] = m;
    if (all) {
        if ((m = env.mbuf(frame, size, 0))) out[n++] = m;
        if ((m = env.mbuf(frame, size, 0, true))) out[n++] = m;
        if ((m = env.chain(frame, size, split))) out[n++] = m;
    }
    if (n != want) {
        // Nothing was lost yet: free what was made, then say why.
        for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(out[i]);
        fail("cannot build the input mbufs (pool exhausted: an earlier leak?)", in, in_len);
    }
    return n;
}

// Checks what was transmitted and exported since the last call.
void check_sent(uint16_t in_port, const uint8_t* in, size_t in_len) {
    testenv::DpEnv& env = *g.env;
    if (!env.tx_error().empty()) fail(env.tx_error(), in, in_len);
    for (testenv::TxFrame& f : env.take_tx()) {
        check_output(f, in_port, in, in_len);
        if (g.cur->nd) check_nd_output(f, in, in_len);
        g.cur->tx.push_back(std::move(f));
    }
    dp::TraceRecord recs[8];
    while (unsigned k = env.export_ring().pop_burst(recs, 8))
        for (unsigned i = 0; i < k; ++i) {
            if (cp::trace_record_json(recs[i], "eth0").empty())
                fail("an exported trace formats as nothing", in, in_len);
            g.cur->records.push_back(recs[i]);
        }
}

// Each input starts with workers that remember nothing of the last one
// (the fast path's back-off after a burst it could not take, sampling
// counters, ICMP tokens), so that it replays alone as it ran; the counters
// (WorkerStats) go on adding up.
void fresh_workers() {
    for (Side& sd : g.sides) sd.fw->bp = std::make_unique<dp::BurstProcessor>(sd.fw->cfg);
}

// The input has been through both sides: the fast paths must have done
// exactly what the stages did. Clears what the sides collected.
void compare_sides(const uint8_t* in, size_t in_len) {
    Side& f = g.sides[0];
    Side& e = g.sides[1];
    g.cur = &f;  // fail() prints the fast side's counters
    const std::string c = testenv::counters_differ(f.fw->stats, e.fw->stats);
    if (!c.empty()) fail("fast paths and stages disagree on a counter: " + c, in, in_len);
    if (f.tx.size() != e.tx.size())
        fail("fast paths transmitted " + std::to_string(f.tx.size()) + " frame(s), the stages " +
                 std::to_string(e.tx.size()),
             in, in_len);
    for (size_t i = 0; i < f.tx.size(); ++i)
        if (f.tx[i].port != e.tx[i].port || f.tx[i].bytes != e.tx[i].bytes ||
            f.tx[i].nb_segs != e.tx[i].nb_segs) {
            hexdump("frame the stages transmitted", e.tx[i].bytes.data(), e.tx[i].bytes.size());
            fail("transmitted frame " + std::to_string(i) + " differs: port " +
                     std::to_string(f.tx[i].port) + "/" + std::to_string(e.tx[i].port) +
                     ", segments " + std::to_string(f.tx[i].nb_segs) + "/" +
                     std::to_string(e.tx[i].nb_segs) + " (fast paths/stages)",
                 in, in_len, &f.tx[i]);
        }
    if (f.records.size() != e.records.size())
        fail("fast paths exported " + std::to_string(f.records.size()) + " trace(s), the stages " +
                 std::to_string(e.records.size()),
             in, in_len);
    for (size_t i = 0; i < f.records.size(); ++i)
        if (!testenv::same_record(f.records[i], e.records[i]))
            fail("exported trace " + std::to_string(i) + " differs", in, in_len);
    if (f.nd_counters != e.nd_counters)
        fail("fast paths and stages leave the ND service with different counters", in, in_len);
    for (Side& sd : g.sides) {
        sd.tx.clear();
        sd.records.clear();
        sd.nd_counters.clear();
    }
}

void run_burst(uint16_t in_port, const uint8_t* data, size_t size) {
    rte_mbuf* burst[4];
    const uint16_t n = make_layouts(data, size, true, burst, data, size);
    g.cur->fw->run(*g.snap, in_port, burst, n);

    if (const unsigned in_use = g.env->mbufs_in_use())
        fail(std::to_string(in_use) + " mbuf(s) not back in the pool after the burst", data, size);
    check_sent(in_port, data, size);
}

// One control tick at g.now_ms, then the worker takes what it was injected,
// again until nothing is injected: the last poll then emptied the held ring
// and nothing has refilled it, so every mbuf out of the pool must be a
// segment of a packet the ND machine holds. (Each round can only add solicitations for packets the
// previous one routed, so a few rounds always do.)
void nd_settle(uint16_t in_port, const uint8_t* in, size_t in_len) {
    Side& sd = *g.cur;
    dp::NdChannel& ch = sd.nd->channel();
    for (int round = 0;; ++round) {
        sd.nd->poll(*g.snap, g.now_ms);
        if (!ch.has_injected(0)) break;
        if (round == 8)
            fail("the ND service and the worker keep injecting and holding", in, in_len);
        while (ch.has_injected(0)) sd.fw->bp->drain_injected(*g.snap);
        sd.fw->bp->flush();
    }
    check_sent(in_port, in, in_len);
    const unsigned in_use = g.env->mbufs_in_use();
    const size_t held = sd.nd->held();
    // IOAMFWD_FUZZ_ND_STATS=1: what each step did (to see that a seed
    // reaches what it was written for).
    if (std::getenv("IOAMFWD_FUZZ_ND_STATS")) {
        std::string line;
        for (const auto& [name, v] : sd.nd->counter_list())
            if (v) line += " " + name + "=" + std::to_string(v);
        std::fprintf(stderr, "%s: t=%llu in_use=%u held=%zu nd:%s | drops: %s\n", sd.name,
                     (unsigned long long)(g.now_ms - kNdStartMs), in_use, held, line.c_str(),
                     sd.fw->nonzero_drops().c_str());
    }
    // A held packet is one or two segments (the two-segment layout); a lost
    // mbuf that hides behind that slack still fails the final check.
    if (in_use < held || in_use > 2 * held)
        fail(std::to_string(in_use) + " mbuf(s) out of the pool, but the ND service holds " +
                 std::to_string(held) + " packet(s)",
             in, in_len);
}

}  // namespace

void packet_init_nd(const char* role, const char* yaml) {
    packet_init(role, yaml);
    // Small bounds, so that a few frames reach them: 8 neighbours (the
    // cache's minimum), 2 packets queued behind each.
    g.nd_cfg.retrans_ms = 1000;
    g.nd_cfg.max_solicit = 3;
    g.nd_cfg.max_entries = 8;
    g.nd_cfg.queue_per_neighbor = 2;
    for (Side& sd : g.sides) {
        sd.nd = std::make_unique<cp::NdService>();
        std::string err;
        if (!sd.nd->init(1, g.nd_cfg, g.env->pool(), nullptr, err)) {
            std::fprintf(stderr, "fuzz_%s: the ND service does not start: %s\n", role,
                         err.c_str());
            std::exit(1);
        }
        sd.fw->cfg.neighbors = &sd.nd->cache();
        sd.fw->cfg.nd = &sd.nd->channel();
    }
    g.now_ms = kNdStartMs;
}

namespace {

// The whole script through the side g.cur; it ends with no mbuf out.
void run_nd_script(const uint8_t* data, size_t size) {
    Side& sd = *g.cur;
    size_t i = 0;
    uint16_t port = 0;
    while (i < size) {
        const uint8_t c = data[i++];
        if (c & 0x80) {
            g.now_ms += uint64_t(c & 0x7f) * 100;
        } else {
            size_t len = 0;
            if (i < size) len = size_t(data[i++]) << 8;
            if (i < size) len |= data[i++];
            len = std::min(len, size - i);
            const uint8_t* frame = data + i;
            i += len;
            port = c & 1;
            rte_mbuf* burst[4];
            const uint16_t n = make_layouts(frame, std::min<size_t>(len, testenv::kMaxFrame),
                                            (c & 2) != 0, burst, data, size);
            sd.fw->run(*g.snap, port, burst, n);
        }
        nd_settle(port, data, size);
    }
    // Every resolution ends max_solicit retransmissions after its first
    // hold; the Destination Unreachable it may end in can be held in turn
    // (its route's neighbour unknown) and needs as long again.
    for (uint32_t k = 0; k < 4 * g.nd_cfg.max_solicit; ++k) {
        g.now_ms += g.nd_cfg.retrans_ms;
        nd_settle(port, data, size);
    }
    if (sd.nd->held() != 0)
        fail(std::to_string(sd.nd->held()) + " packet(s) still held long after their neighbour "
             "should have failed", data, size);
    if (const unsigned in_use = g.env->mbufs_in_use())
        fail(std::to_string(in_use) + " mbuf(s) not back in the pool once every resolution ended",
             data, size);
    sd.nd_counters = sd.nd->counter_list();
    // A fresh ND state for the next input: each input is reproducible alone.
    sd.nd->shutdown();
    std::string err;
    if (!sd.nd->init(1, g.nd_cfg, g.env->pool(), nullptr, err))
        fail("the ND service does not start again: " + err, data, size);
    g.now_ms = kNdStartMs;
}

}  // namespace

void packet_nd_input(const uint8_t* data, size_t size) {
    g_clock.tv_sec++;
    fresh_workers();
    for (Side& sd : g.sides) {
        g.cur = &sd;
        run_nd_script(data, size);
    }
    compare_sides(data, size);
}

void packet_init(const char* role, const char* yaml) {
    g.role = role;
    std::string err;
    g.env = testenv::DpEnv::init(std::string("fuzz_") + role, err);
    if (!g.env) {
        std::fprintf(stderr, "fuzz_%s: %s\n", role, err.c_str());
        std::exit(1);
    }
    try {
        g.snap = g.env->snapshot(yaml);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_%s: the role's configuration is refused: %s\n", role, e.what());
        std::exit(1);
    }
    // The ICMP rate limit runs on the TSC, which the two sides do not share:
    // a bucket that never empties keeps their errors equal.
    g.snap->icmp_burst = 1u << 30;
    for (int k = 0; k < 2; ++k) {
        Side& sd = g.sides[k];
        sd.fw = std::make_unique<testenv::Forwarder>(*g.env);
        sd.fw->cfg.fast_paths = k == 0;
        sd.fw->cfg.clock = fuzz_clock;
    }
}

void packet_one_input(const uint8_t* data, size_t size) {
    if (size > testenv::kMaxFrame) size = testenv::kMaxFrame;
    g_clock.tv_sec++;
    g_clock.tv_nsec = long(size) * 1000003 % 1000000000;
    fresh_workers();
    for (uint16_t port = 0; port < testenv::kPorts; ++port) {
        for (Side& sd : g.sides) {
            g.cur = &sd;
            run_burst(port, data, size);
        }
        compare_sides(data, size);
    }
}

}  // namespace ioamfwd::fuzz
