#include "control/nd_service.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "common/addr_class.hpp"
#include "common/ioam_wire.hpp"
#include "dataplane/icmp_reply.hpp"
#include "dataplane/nd_wire.hpp"

namespace ioamfwd::cp {

namespace {
constexpr unsigned kBatch = 64;
// The telemetry listing is rebuilt every 20 ticks (100 ms), not every tick.
constexpr unsigned kViewEvery = 20;
// Held packets the hold ring takes from all workers before nd_queue_full.
constexpr unsigned kHeldRing = 4096;

}  // namespace

std::string nd_addr_text(const uint8_t* a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a, buf, sizeof buf);
    return buf;
}

std::string nd_mac_text(const NdMac& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                       m[5]);
}

using addr::is_link_local;

NdParams nd_params(const NdConfig& c) {
    NdParams p;
    p.reachable_ms = c.reachable_ms;
    p.retrans_ms = c.retrans_ms;
    p.max_multicast_solicit = c.max_solicit;
    p.max_unicast_solicit = c.max_solicit;
    p.queue_per_neighbor = c.queue_per_neighbor;
    p.max_entries = c.max_entries;
    p.gc_stale_ms = uint64_t(c.gc_stale_s) * 1000;
    p.max_held = kHeldRing;
    return p;
}

bool NdService::init(unsigned n_workers, const NdConfig& cfg, rte_mempool* pool,
                     rte_rcu_qsbr* qsv, std::string& err) {
    pool_ = pool;
    machine_.set_params(nd_params(cfg));
    if (!cache_.init(cfg.max_entries, qsv, err) || !channel_.init(n_workers, kHeldRing, err))
        return false;
    up_ = true;
    return true;
}

void NdService::set_config(const NdConfig& cfg) {
    NdParams p = nd_params(cfg);
    if (up_ && p.max_entries > cache_.capacity()) p.max_entries = cache_.capacity();
    machine_.set_params(p);
}

// Also after a half-done init: whatever was created goes, before the EAL does.
void NdService::shutdown() {
    if (up_) machine_.clear();
    channel_.shutdown();
    cache_.shutdown();
    up_ = false;
}

void NdService::poll(const dp::Snapshot& s, uint64_t now_ms) {
    if (!up_) return;
    snap_ = &s;
    cache_.tick();
    dp::NdRecord recs[kBatch];
    unsigned n;
    while ((n = channel_.take_records(recs, kBatch)) > 0)
        for (unsigned i = 0; i < n; ++i) {
            const dp::NdRecord& r = recs[i];
            NdAddr a;
            NdMac mac;
            std::memcpy(a.data(), r.addr, 16);
            std::memcpy(mac.data(), r.mac, 6);
            if (r.type == dp::kIcmpNeighborAdvert)
                machine_.advert(r.port, a, r.has_mac ? &mac : nullptr,
                                (r.flags & dp::kNaSolicited) != 0,
                                (r.flags & dp::kNaOverride) != 0, now_ms);
            else
                machine_.solicitation(r.port, a, mac, now_ms);
        }
    rte_mbuf* held[kBatch];
    while ((n = channel_.take_held(held, kBatch)) > 0)
        for (unsigned i = 0; i < n; ++i) {
            const dp::NdMbufMeta* meta = channel_.meta(held[i]);
            NdAddr a;
            std::memcpy(a.data(), meta->nexthop, 16);
            machine_.hold(meta->out_port, a, held[i], now_ms);
        }
    std::vector<std::pair<uint16_t, NdAddr>> in_use;
    machine_.for_each_published([&](uint16_t port, const NdAddr& a) {
        if (cache_.take_used(port, a.data())) in_use.emplace_back(port, a);
    });
    for (const auto& [port, a] : in_use) machine_.used(port, a, now_ms);
    machine_.tick(now_ms);

    if (++ticks_ >= kViewEvery) {
        ticks_ = 0;
        std::vector<NdEntryView> v = machine_.entries(now_ms);
        auto c = counter_list();
        std::lock_guard lock(view_mutex_);
        view_ = std::move(v);
        counter_view_ = std::move(c);
    }
    snap_ = nullptr;
}

std::vector<NdEntryView> NdService::view() const {
    std::lock_guard lock(view_mutex_);
    return view_;
}

std::vector<std::pair<std::string, uint64_t>> NdService::counter_view() const {
    std::lock_guard lock(view_mutex_);
    return counter_view_;
}

std::string NdService::port_name(uint16_t id) const {
    for (const auto& [pid, name] : port_names_)
        if (pid == id) return name;
    return std::to_string(id);
}

void NdService::send(rte_mbuf* m, uint16_t port) {
    const unsigned w = port % channel_.workers();
    if (!channel_.inject(w, m)) {
        ++sc_.inject_full;
        rte_pktmbuf_free(m);
    }
}

// RFC 4861 §7.2.2: the source is an address of the outgoing port: the
// link-local one for link-local targets (and on ports without another),
// else one in the target's /64 if the port has one (what source address
// selection would prefer), else the port's first address.
void NdService::solicit(uint16_t port, const NdAddr& target, const NdMac* unicast) {
    const dp::PortView& pv = snap_->ports[port];
    if (!pv.active) return;
    const uint8_t* src = pv.has_addr && !is_link_local(target.data()) ? pv.addr : pv.link_local;
    if (src != pv.link_local)
        for (const auto& a : pv.addrs)
            if (std::memcmp(a.data(), target.data(), 8) == 0) {
                src = a.data();
                break;
            }
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (!m) {
        ++sc_.no_mbuf;
        return;
    }
    auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(dp::kNsFrameLen)));
    dp::build_neighbor_solicit(d, src, target.data(), pv.mac.addr_bytes,
                               unicast ? unicast->data() : nullptr);
    dp::NdMbufMeta* meta = channel_.meta(m);
    meta->kind = dp::NdMbufMeta::Transmit;
    meta->out_port = port;
    meta->in_port = port;
    send(m, port);
}

bool NdService::publish(uint16_t port, const NdAddr& addr, const NdMac& mac) {
    return cache_.set(port, addr.data(), mac.data());
}

void NdService::withdraw(uint16_t port, const NdAddr& addr) { cache_.remove(port, addr.data()); }

void NdService::release(void* pkt, const NdMac& mac) {
    auto* m = static_cast<rte_mbuf*>(pkt);
    std::memcpy(rte_pktmbuf_mtod(m, wire::EtherHdr*)->dst, mac.data(), 6);
    dp::NdMbufMeta* meta = channel_.meta(m);
    meta->kind = dp::NdMbufMeta::Transmit;
    send(m, meta->out_port);
}

// RFC 4861 §7.2.2: address resolution failed, so each held packet's source
// gets Destination Unreachable, code 3 (RFC 4443 §3.1), from the port the
// packet came in by; it is routed by a worker like any answer of ours.
void NdService::unreachable(void* pkt) {
    auto* m = static_cast<rte_mbuf*>(pkt);
    dp::NdMbufMeta* meta = channel_.meta(m);
    constexpr uint32_t kEth = sizeof(wire::EtherHdr);
    const uint32_t l3_len = rte_pktmbuf_pkt_len(m) - kEth;
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint32_t readable = std::min<uint32_t>(l3_len, rte_pktmbuf_data_len(m) - kEth);
    const dp::PortView* in = snap_ && meta->in_port < dp::kMaxPorts ? &snap_->ports[meta->in_port]
                                                                     : nullptr;
    const bool to_link_local = is_link_local(frame + kEth + 8);
    // The appliance's own packets (echo replies) are not answered either.
    const bool from_us = snap_->lookup(frame + kEth + 8).kind == dp::NextHop::Kind::Local;
    if (!in || !in->active || from_us || (!in->has_addr && !to_link_local) ||
        !dp::icmp_error_allowed(frame + kEth, readable, false, dp::kIcmpDestUnreachable)) {
        ++sc_.unreachable_suppressed;
        rte_pktmbuf_free(m);
        return;
    }
    if (!unreachable_bucket_.take(rte_rdtsc(), rte_get_tsc_hz(), snap_->icmp_rate,
                                  snap_->icmp_burst)) {
        ++sc_.unreachable_limited;
        rte_pktmbuf_free(m);
        return;
    }
    if (!dp::make_icmp_error(m, l3_len, dp::kIcmpDestUnreachable, 3, 0,
                             to_link_local ? in->link_local : in->addr)) {
        ++sc_.unreachable_suppressed;
        rte_pktmbuf_free(m);
        return;
    }
    ++sc_.unreachable_sent;
    meta->kind = dp::NdMbufMeta::Route;
    send(m, meta->in_port);
}

void NdService::discard(void* pkt) { rte_pktmbuf_free(static_cast<rte_mbuf*>(pkt)); }

std::vector<std::pair<std::string, uint64_t>> NdService::counter_list() const {
    const NdCounters& c = machine_.counters();
    return {{"ns_sent", c.ns_multicast + c.ns_unicast},
            {"ns_multicast", c.ns_multicast},
            {"ns_unicast", c.ns_unicast},
            {"na_received", c.na_received},
            {"na_ignored", c.na_ignored},
            {"ns_learnt", c.ns_learnt},
            {"resolved", c.resolved},
            {"failed", c.failed},
            {"held", c.held},
            {"released", c.released},
            {"held_dropped", c.held_dropped},
            {"unreachable", c.unreachable},
            {"unreachable_sent", sc_.unreachable_sent},
            {"unreachable_rate_limited", sc_.unreachable_limited},
            {"unreachable_suppressed", sc_.unreachable_suppressed},
            {"cache_full", c.cache_full},
            {"gc_removed", c.gc_removed},
            {"no_mbuf", sc_.no_mbuf},
            {"inject_full", sc_.inject_full},
            {"entries", machine_.size()}};
}

std::string NdService::show(const Config& cfg, uint64_t now_ms) const {
    std::string s;
    for (const NeighborConfig& n : cfg.neighbors)
        s += fmt::format("{} dev {} lladdr {} PERMANENT static\n", n.address.to_string(), n.port,
                         n.mac.to_string());
    for (const NdEntryView& e : machine_.entries(now_ms)) {
        s += fmt::format("{} dev {}", nd_addr_text(e.addr.data()), port_name(e.port));
        if (e.has_mac) s += " lladdr " + nd_mac_text(e.mac);
        s += fmt::format(" {} dynamic", nd_state_name(e.state));
        if (e.queued) s += fmt::format(" queued {}", e.queued);
        s += fmt::format(" age {}ms\n", e.age_ms);
    }
    return s;
}

}  // namespace ioamfwd::cp
