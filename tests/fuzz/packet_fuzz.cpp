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

struct State {
    testenv::DpEnv* env = nullptr;
    std::unique_ptr<dp::Snapshot> snap;
    std::unique_ptr<testenv::Forwarder> fw;
    const char* role = "";
    // fuzz_nd only.
    std::unique_ptr<cp::NdService> nd;
    cp::NdConfig nd_cfg;
    uint64_t now_ms = 0;
};
// Far from 0, so no timer of the ND machine ever looks at a negative age.
constexpr uint64_t kNdStartMs = 1000000;
State g;

void hexdump(const char* what, const uint8_t* p, size_t n) {
    std::fprintf(stderr, "%s (%zu octets):", what, n);
    for (size_t i = 0; i < n; ++i) std::fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", p[i]);
    std::fprintf(stderr, "\n");
}

[[noreturn]] void fail(const std::string& why, const uint8_t* in, size_t in_len,
                       const testenv::TxFrame* out = nullptr) {
    std::fprintf(stderr, "\n*** ioamfwd fuzz_%s: %s\n", g.role, why.c_str());
    hexdump("input frame", in, in_len);
    if (out) hexdump("transmitted frame", out->bytes.data(), out->bytes.size());
    std::fprintf(stderr, "counters: %s\n", g.fw->nonzero_drops().c_str());
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
    for (const testenv::TxFrame& f : env.take_tx()) {
        check_output(f, in_port, in, in_len);
        if (g.nd) check_nd_output(f, in, in_len);
    }
    dp::TraceRecord recs[8];
    while (unsigned k = env.export_ring().pop_burst(recs, 8))
        for (unsigned i = 0; i < k; ++i)
            if (cp::trace_record_json(recs[i], "eth0").empty())
                fail("an exported trace formats as nothing", in, in_len);
}

void run_burst(uint16_t in_port, const uint8_t* data, size_t size) {
    rte_mbuf* burst[4];
    const uint16_t n = make_layouts(data, size, true, burst, data, size);
    g.fw->run(*g.snap, in_port, burst, n);

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
    dp::NdChannel& ch = g.nd->channel();
    for (int round = 0;; ++round) {
        g.nd->poll(*g.snap, g.now_ms);
        if (!ch.has_injected(0)) break;
        if (round == 8)
            fail("the ND service and the worker keep injecting and holding", in, in_len);
        while (ch.has_injected(0)) g.fw->bp->drain_injected(*g.snap);
        g.fw->bp->flush();
    }
    check_sent(in_port, in, in_len);
    const unsigned in_use = g.env->mbufs_in_use();
    const size_t held = g.nd->held();
    // IOAMFWD_FUZZ_ND_STATS=1: what each step did (to see that a seed
    // reaches what it was written for).
    if (std::getenv("IOAMFWD_FUZZ_ND_STATS")) {
        std::string line;
        for (const auto& [name, v] : g.nd->counter_list())
            if (v) line += " " + name + "=" + std::to_string(v);
        std::fprintf(stderr, "t=%llu in_use=%u held=%zu nd:%s | drops: %s\n",
                     (unsigned long long)(g.now_ms - kNdStartMs), in_use, held, line.c_str(),
                     g.fw->nonzero_drops().c_str());
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
    g.nd = std::make_unique<cp::NdService>();
    std::string err;
    if (!g.nd->init(1, g.nd_cfg, g.env->pool(), nullptr, err)) {
        std::fprintf(stderr, "fuzz_%s: the ND service does not start: %s\n", role, err.c_str());
        std::exit(1);
    }
    g.fw->cfg.neighbors = &g.nd->cache();
    g.fw->cfg.nd = &g.nd->channel();
    g.now_ms = kNdStartMs;
}

void packet_nd_input(const uint8_t* data, size_t size) {
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
            g.fw->run(*g.snap, port, burst, n);
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
    if (g.nd->held() != 0)
        fail(std::to_string(g.nd->held()) + " packet(s) still held long after their neighbour "
             "should have failed", data, size);
    if (const unsigned in_use = g.env->mbufs_in_use())
        fail(std::to_string(in_use) + " mbuf(s) not back in the pool once every resolution ended",
             data, size);
    // A fresh ND state for the next input: each input is reproducible alone.
    g.nd->shutdown();
    std::string err;
    if (!g.nd->init(1, g.nd_cfg, g.env->pool(), nullptr, err))
        fail("the ND service does not start again: " + err, data, size);
    g.now_ms = kNdStartMs;
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
    g.fw = std::make_unique<testenv::Forwarder>(*g.env);
}

void packet_one_input(const uint8_t* data, size_t size) {
    if (size > testenv::kMaxFrame) size = testenv::kMaxFrame;
    for (uint16_t port = 0; port < testenv::kPorts; ++port) run_burst(port, data, size);
}

}  // namespace ioamfwd::fuzz
