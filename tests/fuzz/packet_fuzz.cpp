#include "packet_fuzz.hpp"

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../dp/dp_env.hpp"
#include "common/byte_order.hpp"
#include "control/trace_json.hpp"
#include "dataplane/hbh_parse.hpp"

namespace ioamfwd::fuzz {

namespace {

struct State {
    testenv::DpEnv* env = nullptr;
    std::unique_ptr<dp::Snapshot> snap;
    std::unique_ptr<testenv::Forwarder> fw;
    const char* role = "";
};
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

void run_burst(uint16_t in_port, const uint8_t* data, size_t size) {
    testenv::DpEnv& env = *g.env;
    size_t split = 0;
    if (size >= 2) split = (size_t(data[size - 1]) | size_t(data[size - 2]) << 8) % (size + 1);
    rte_mbuf* burst[4];
    uint16_t n = 0;
    rte_mbuf* m;
    if ((m = env.mbuf(data, size))) burst[n++] = m;
    if ((m = env.mbuf(data, size, 0))) burst[n++] = m;
    if ((m = env.mbuf(data, size, 0, true))) burst[n++] = m;
    if ((m = env.chain(data, size, split))) burst[n++] = m;
    if (n != 4) {
        // Nothing was lost yet: free what was made, then say why.
        for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(burst[i]);
        fail("cannot build the input mbufs (pool exhausted: an earlier leak?)", data, size);
    }
    g.fw->run(*g.snap, in_port, burst, n);

    if (const unsigned in_use = env.mbufs_in_use())
        fail(std::to_string(in_use) + " mbuf(s) not back in the pool after the burst", data, size);
    if (!env.tx_error().empty()) fail(env.tx_error(), data, size);
    for (const testenv::TxFrame& f : env.take_tx()) check_output(f, in_port, data, size);
    dp::TraceRecord recs[8];
    while (unsigned k = env.export_ring().pop_burst(recs, 8))
        for (unsigned i = 0; i < k; ++i)
            if (cp::trace_record_json(recs[i], "eth0").empty())
                fail("an exported trace formats as nothing", data, size);
}

}  // namespace

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
