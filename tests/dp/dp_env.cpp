#include "dp_env.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "control/config.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/ports.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IOAMFWD_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define IOAMFWD_TEST_ASAN 1
#endif
#ifdef IOAMFWD_TEST_ASAN
#include <sanitizer/asan_interface.h>

#include <algorithm>
#endif

namespace ioamfwd::testenv {

namespace {

// Small on purpose: a leak shows in the in-use count long before the pool
// runs dry, and cache 0 keeps that count exact.
constexpr unsigned kPoolSize = 511;
// Unused private area in front of every buffer: under ASan it is poisoned,
// as is the gap after every buffer, so an access just outside an mbuf's
// buffer is reported (mempool memory is not malloc'd: ASan would not see it).
constexpr uint16_t kGuard = 64;
constexpr uint16_t kDataRoom = RTE_PKTMBUF_HEADROOM + kMaxFrame;

// --file-prefix leaves an empty runtime directory behind; ours goes at exit.
std::string g_runtime_dir;
void remove_runtime_dir() {
    if (!g_runtime_dir.empty()) ::rmdir(g_runtime_dir.c_str());
}

#ifdef IOAMFWD_TEST_ASAN
void collect_object(rte_mempool*, void* arg, void* obj, unsigned) {
    static_cast<std::vector<rte_mbuf*>*>(arg)->push_back(static_cast<rte_mbuf*>(obj));
}

// Poisons, for every mbuf of `pool`, the private area before its buffer and
// what lies between its buffer's end and the next mbuf (the next object's
// mempool header). Neither is touched by instrumented code: the mempool's
// ring operations and the drivers live in DPDK's own (uninstrumented) code.
void poison_guards(rte_mempool* pool) {
    std::vector<rte_mbuf*> objs;
    rte_mempool_obj_iter(pool, collect_object, &objs);
    std::sort(objs.begin(), objs.end());
    for (size_t i = 0; i < objs.size(); ++i) {
        auto* m = objs[i];
        auto* priv = reinterpret_cast<char*>(m + 1);
        auto* buf = static_cast<char*>(m->buf_addr);
        if (buf > priv) ASAN_POISON_MEMORY_REGION(priv, size_t(buf - priv));
        char* end = buf + m->buf_len;
        if (i + 1 < objs.size()) {
            auto* next = reinterpret_cast<char*>(objs[i + 1]);
            if (next > end && next - end <= 4096) ASAN_POISON_MEMORY_REGION(end, size_t(next - end));
        }
    }
}
#endif

uint16_t tx_capture(uint16_t port, uint16_t, rte_mbuf** pkts, uint16_t n, void* user) {
    static_cast<DpEnv*>(user)->on_tx(port, pkts, n);
    return n;
}

}  // namespace

DpEnv* DpEnv::init(const std::string& tag, std::string& err) {
    static DpEnv* env = nullptr;
    static std::string first_err;
    if (env) return env;
    if (!first_err.empty()) {
        err = first_err;
        return nullptr;
    }
    auto* e = new DpEnv;
    if (!e->start(tag, err)) {
        first_err = err.empty() ? "EAL environment failed" : err;
        delete e;
        return nullptr;
    }
    env = e;  // lives until exit, as the EAL does
    return env;
}

bool DpEnv::start(const std::string& tag, std::string& err) {
    const std::string prefix = "--file-prefix=" + tag + "_" + std::to_string(::getpid());
    std::vector<std::string> args = {"ioamfwd-" + tag,
                                     "-l",
                                     "0",
                                     "--no-huge",
                                     "-m",
                                     "256",
                                     "--no-shconf",
                                     "--no-pci",
                                     "--no-telemetry",
                                     prefix,
                                     "--vdev",
                                     "net_null0",
                                     "--vdev",
                                     "net_null1",
                                     "--log-level=lib.eal:error",
                                     "--log-level=pmd.*:error"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (rte_eal_init(int(args.size()), argv.data()) < 0) {
        err = std::string("rte_eal_init: ") + rte_strerror(rte_errno);
        return false;
    }
    g_runtime_dir = rte_eal_get_runtime_dir();
    std::atexit(remove_runtime_dir);
    pool_ = rte_pktmbuf_pool_create("ioamfwd_test", kPoolSize, 0, kGuard, kDataRoom,
                                    int(rte_socket_id()));
    if (!pool_) {
        err = std::string("mbuf pool: ") + rte_strerror(rte_errno);
        return false;
    }
#ifdef IOAMFWD_TEST_ASAN
    poison_guards(pool_);
#endif
    for (uint16_t p = 0; p < kPorts; ++p) {
        auto id = dp::find_port_by_name("net_null" + std::to_string(p));
        if (!id || *id != p) {
            err = "net_null" + std::to_string(p) + " is not EAL port " + std::to_string(p);
            return false;
        }
        dp::PortSpec spec;
        spec.port_id = p;
        spec.mtu = 1500;
        dp::PortState st;
        if (!dp::start_port(spec, 1, pool_, st, err)) return false;
        if (!rte_eth_add_tx_callback(p, 0, tx_capture, this)) {
            err = "cannot add a tx callback on port " + std::to_string(p);
            return false;
        }
    }
    if (!export_ring_.init(1024, err)) return false;
    if (mbufs_in_use() != 0) {
        err = "the ports took mbufs from the pool at start";
        return false;
    }
    return true;
}

unsigned DpEnv::mbufs_in_use() const { return rte_mempool_in_use_count(pool_); }

std::unique_ptr<dp::Snapshot> DpEnv::snapshot(const std::string& yaml) {
    cp::Config cfg;
    try {
        cfg = cp::load_config_text(yaml, "inline.yaml");
    } catch (const cp::ConfigError& e) {
        throw std::runtime_error(e.what());
    }
    std::vector<cp::PortBinding> bindings;
    for (const auto& pc : cfg.ports) {
        auto id = dp::find_port_by_name(pc.device);
        if (!id) throw std::runtime_error("inline.yaml: no EAL port named " + pc.device);
        cp::PortBinding b;
        b.name = pc.name;
        b.port_id = *id;
        if (pc.mac)
            std::memcpy(b.mac.addr_bytes, pc.mac->bytes.data(), 6);
        else
            rte_eth_macaddr_get(*id, &b.mac);
        bindings.push_back(b);
    }
    std::string err;
    auto snap = cp::build_snapshot(cfg, bindings, ++generation_, err);
    if (!snap) throw std::runtime_error("build_snapshot: " + err);
    return snap;
}

rte_mbuf* DpEnv::mbuf(const uint8_t* frame, size_t len, uint16_t headroom, bool no_tailroom) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (!m) return nullptr;
    const size_t room = m->buf_len;
    if (no_tailroom) {
        if (len > room) {
            rte_pktmbuf_free(m);
            return nullptr;
        }
        headroom = uint16_t(room - len);
    }
    if (size_t(headroom) + len > room) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    m->data_off = headroom;
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), frame, len);
    m->data_len = uint16_t(len);
    m->pkt_len = uint32_t(len);
    return m;
}

rte_mbuf* DpEnv::chain(const uint8_t* frame, size_t len, size_t split) {
    if (split > len) split = len;
    // The first segment's buffer holds the rest of the frame too, past its
    // data_len where it fits: code that read beyond a segment would find
    // the octets it expects there, so only its segment checks stop it.
    rte_mbuf* head = mbuf(frame, len);
    if (head) {
        head->data_len = uint16_t(split);
        head->pkt_len = uint32_t(split);
    } else {
        head = mbuf(frame, split);
    }
    if (!head) return nullptr;
    rte_mbuf* tail = mbuf(frame + split, len - split);
    if (!tail) {
        rte_pktmbuf_free(head);
        return nullptr;
    }
    if (rte_pktmbuf_chain(head, tail) != 0) {
        rte_pktmbuf_free(head);
        rte_pktmbuf_free(tail);
        return nullptr;
    }
    return head;
}

void DpEnv::on_tx(uint16_t port, rte_mbuf* const* pkts, uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
        const rte_mbuf* m = pkts[i];
        const char* reason = nullptr;
        if (rte_mbuf_check(m, 1, &reason) != 0 && tx_error_.empty())
            tx_error_ = std::string("transmitted mbuf fails rte_mbuf_check: ") + reason;
        TxFrame f;
        f.port = port;
        f.nb_segs = m->nb_segs;
        uint32_t sum = 0;
        for (const rte_mbuf* s = m; s; s = s->next) {
            const auto* d = rte_pktmbuf_mtod(s, const uint8_t*);
            f.bytes.insert(f.bytes.end(), d, d + s->data_len);
            sum += s->data_len;
        }
        if (sum != m->pkt_len && tx_error_.empty())
            tx_error_ = "transmitted mbuf: pkt_len " + std::to_string(m->pkt_len) +
                        " but its segments hold " + std::to_string(sum);
        tx_.push_back(std::move(f));
    }
}

std::vector<TxFrame> DpEnv::take_tx() {
    std::vector<TxFrame> out;
    out.swap(tx_);
    return out;
}

Forwarder::Forwarder(DpEnv& env, bool export_traces) {
    cfg.index = 0;
    for (uint16_t p = 0; p < kPorts; ++p) cfg.tx_ports.push_back(p);
    cfg.stats = &stats;
    cfg.export_ring = export_traces ? &env.export_ring() : nullptr;
    cfg.export_transit = export_traces;
    bp = std::make_unique<dp::BurstProcessor>(cfg);
}

void Forwarder::run(const dp::Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n) {
    bp->process(s, in_port, pkts, n);
    bp->flush();
}

std::string Forwarder::nonzero_drops() const {
    std::string s;
    for (unsigned d = 0; d < dp::kDropCount; ++d)
        if (uint64_t v = stats.drops[d].get())
            s += std::string(s.empty() ? "" : " ") + dp::drop_name(dp::Drop(d)) + "=" +
                 std::to_string(v);
    return s.empty() ? "none" : s;
}

bool same_record(const dp::TraceRecord& a, const dp::TraceRecord& b) {
    return a.time_ns == b.time_ns && std::memcmp(a.src, b.src, 16) == 0 &&
           std::memcmp(a.dst, b.dst, 16) == 0 && a.port == b.port && a.event == b.event &&
           std::memcmp(a.trace_hdr, b.trace_hdr, 8) == 0 && a.data_len == b.data_len &&
           a.data_len <= sizeof a.data && std::memcmp(a.data, b.data, a.data_len) == 0;
}

std::string counters_differ(const dp::WorkerStats& a, const dp::WorkerStats& b) {
    auto differ = [](const char* what, const std::string& name, uint64_t x, uint64_t y) {
        return std::string(what) + " " + name + ": " + std::to_string(x) + " with the fast paths, " +
               std::to_string(y) + " with the stages";
    };
    for (unsigned i = 0; i < dp::kDropCount; ++i)
        if (a.drops[i].get() != b.drops[i].get())
            return differ("drop", dp::drop_name(dp::Drop(i)), a.drops[i].get(), b.drops[i].get());
    for (unsigned i = 0; i < dp::kIoamEventCount; ++i)
        if (a.ioam[i].get() != b.ioam[i].get())
            return differ("event", dp::ioam_event_name(dp::IoamEvent(i)), a.ioam[i].get(),
                          b.ioam[i].get());
    for (unsigned i = 0; i < dp::kIcmpEventCount; ++i)
        if (a.icmp[i].get() != b.icmp[i].get())
            return differ("event", dp::icmp_event_name(dp::IcmpEvent(i)), a.icmp[i].get(),
                          b.icmp[i].get());
    for (unsigned p = 0; p < dp::kMaxPorts; ++p) {
        if (a.rx[p].get() != b.rx[p].get())
            return differ("rx of port", std::to_string(p), a.rx[p].get(), b.rx[p].get());
        if (a.tx[p].get() != b.tx[p].get())
            return differ("tx of port", std::to_string(p), a.tx[p].get(), b.tx[p].get());
    }
    if (a.rx_bursts.get() != b.rx_bursts.get())
        return differ("loop", "rx_bursts", a.rx_bursts.get(), b.rx_bursts.get());
    if (a.rx_full_bursts.get() != b.rx_full_bursts.get())
        return differ("loop", "rx_full_bursts", a.rx_full_bursts.get(), b.rx_full_bursts.get());
    if (a.idle_sleeps.get() != b.idle_sleeps.get())
        return differ("loop", "idle_sleeps", a.idle_sleeps.get(), b.idle_sleeps.get());
    return "";
}

}  // namespace ioamfwd::testenv
