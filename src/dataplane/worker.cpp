#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_fib6.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <ctime>
#include <cstring>

#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"
#include "dataplane/decap.hpp"
#include "dataplane/hbh_parse.hpp"
#include "dataplane/hbh_strip.hpp"
#include "dataplane/trace_fill.hpp"
#include "dataplane/trace_record.hpp"
#include "dataplane/tx_buffer.hpp"

namespace ioamfwd::dp {

namespace {

constexpr Drop kOk = Drop::kCount;
constexpr unsigned kPrefetchAhead = 4;
constexpr uint64_t kDrainUs = 100;

enum class Action : uint8_t { Drop, Forward, Local };

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
    uint8_t hop_in;       // hop limit as received
    uint16_t encap;       // 1 + encap profile index when IOAM is inserted, else 0
    uint16_t inner_off;   // from the (outer) IPv6 header to the one parse_ipv6 read
    uint16_t out_port;
    rte_ether_addr dst_mac;
    Ipv6Parse parse;
};

struct Worker {
    const WorkerConfig& cfg;
    WorkerStats& st;
    TxBuffer tx[kMaxPorts]{};
    // Per encap route "k out of n" counters. They live in the worker so the
    // fast path shares nothing; a new snapshot generation restarts them, as
    // Linux restarts its counter when a route is replaced.
    uint32_t freq_counter[kMaxEncapRoutes]{};
    uint64_t freq_generation = ~0ull;

    void count(Drop d, uint64_t n = 1) { st.drops[unsigned(d)].add(n); }
    void count(IoamEvent e, uint64_t n = 1) { st.ioam[unsigned(e)].add(n); }

    /// `from_tunnel`: the packets were just decapsulated; they arrive as on a
    /// tunnel interface, where IOAM is not enabled and tunnels do not nest.
    void process_burst(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                       bool from_tunnel);

    // The stages, each one pass over the burst.
    void stage_parse(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                     PacketMeta* meta, bool from_tunnel);
    void stage_route(const Snapshot& s, rte_mbuf** pkts, uint16_t n, PacketMeta* meta);
    void stage_encap(const Snapshot& s, rte_mbuf** pkts, uint16_t n, PacketMeta* meta);
    bool choose_encap(const Snapshot& s, const NextHop& nh, const wire::Ipv6Hdr* ip,
                      PacketMeta& pm);
    void stage_ioam(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                    PacketMeta* meta);
    void export_trace(const uint8_t* ip, const uint8_t* opt, uint16_t in_port, TraceEvent ev,
                      const timespec& now);
    /// Returns the number of decapsulated packets left in `inner`.
    uint16_t stage_output(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                          PacketMeta* meta, bool from_tunnel, rte_mbuf** inner);
};

inline wire::Ipv6Hdr* ipv6_of(rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, wire::Ipv6Hdr*, sizeof(wire::EtherHdr));
}

// Removes the IOAM options of the packet's (validated) Hop-by-Hop header, or
// the whole header when nothing else is in it. Only the Ethernet and IPv6
// headers move. Returns false when there was no IOAM option.
bool strip_ioam(rte_mbuf* m, uint32_t& l3_len) {
    constexpr uint32_t kFront = sizeof(wire::EtherHdr) + sizeof(wire::Ipv6Hdr);
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    auto* ip = reinterpret_cast<wire::Ipv6Hdr*>(d + sizeof(wire::EtherHdr));
    if (ip->next_header != wire::kProtoHopByHop) return false;
    uint8_t* hbh = d + kFront;
    const uint32_t hbh_len = (uint32_t(hbh[1]) + 1) * 8;
    uint8_t rebuilt[kHbhMax];
    const int new_len = strip_ioam_hbh(hbh, hbh_len, rebuilt);
    if (new_len < 0) return false;
    const uint32_t shrink = hbh_len - uint32_t(new_len);
    if (new_len == 0)
        ip->next_header = hbh[0];
    else
        std::memcpy(hbh + shrink, rebuilt, size_t(new_len));
    store_be16(ip->payload_len, uint16_t(load_be16(ip->payload_len) - shrink));
    std::memmove(d + shrink, d, kFront);
    rte_pktmbuf_adj(m, uint16_t(shrink));
    l3_len -= shrink;
    return true;
}

void Worker::stage_parse(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                         PacketMeta* meta, bool from_tunnel) {
    const PortView& port = s.ports[in_port];
    for (uint16_t i = 0; i < kPrefetchAhead && i < n; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    for (uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
        rte_mbuf* m = pkts[i];
        PacketMeta& pm = meta[i];
        pm.action = Action::Drop;
        pm.hbh_ok = false;
        pm.has_egress = false;
        pm.hop_limit_done = false;
        pm.encap = 0;
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
        // A router takes frames for its own MAC and group addresses only;
        // net_pcap and promiscuous ports hand us everything.
        if (!(eth->dst[0] & 1) && std::memcmp(eth->dst, port.mac.addr_bytes, 6) != 0) {
            pm.drop = Drop::L2OtherHost;
            continue;
        }
        const uint8_t* ip = reinterpret_cast<const uint8_t*>(eth + 1);
        pm.drop = parse_ipv6(ip, seg_len - uint32_t(sizeof(wire::EtherHdr)),
                             frame_len - uint32_t(sizeof(wire::EtherHdr)),
                             port.ioam_enabled && !from_tunnel, pm.parse);
        if (pm.drop != kOk) continue;
        pm.hop_in = reinterpret_cast<const wire::Ipv6Hdr*>(ip)->hop_limit;
        if (pm.parse.n_ioam && port.edge && port.edge_policy != EdgePolicy::Ignore) {
            // Foreign IOAM must not enter the domain (RFC 9486 §6).
            if (port.edge_policy == EdgePolicy::Drop) {
                pm.drop = Drop::EdgeIoam;
                continue;
            }
            if (strip_ioam(m, pm.parse.l3_len)) count(IoamEvent::EdgeStripped);
            // Whatever the options said, nothing of them is processed now.
            pm.parse.n_ioam = pm.parse.n_trace = 0;
            pm.parse.skip_disabled = pm.parse.skip_option_type = 0;
        }
        if (pm.parse.skip_disabled) count(IoamEvent::SkipPortDisabled, pm.parse.skip_disabled);
        if (pm.parse.skip_option_type)
            count(IoamEvent::SkipOptionType, pm.parse.skip_option_type);
        // Link padding after the IPv6 payload is not part of the packet (Linux
        // trims it too); forwarding it would grow the frame at every hop.
        // (Re-read the length: stripping may have shortened the frame.)
        const uint32_t excess =
            rte_pktmbuf_pkt_len(m) - uint32_t(sizeof(wire::EtherHdr)) - pm.parse.l3_len;
        if (excess && rte_pktmbuf_trim(m, uint16_t(excess)) != 0) {
            pm.drop = Drop::Ipv6BadLength;
            continue;
        }
        pm.hbh_ok = true;
        pm.action = Action::Forward;
    }
}

void Worker::stage_route(const Snapshot& s, rte_mbuf** pkts, uint16_t n, PacketMeta* meta) {
    uint8_t dsts[kBurst][16];
    uint64_t nhs[kBurst];
    uint16_t which[kBurst];
    int m = 0;
    for (uint16_t i = 0; i < n; ++i) {
        PacketMeta& pm = meta[i];
        if (pm.action == Action::Drop) continue;
        const wire::Ipv6Hdr* ip = ipv6_of(pkts[i]);
        // Neither is routable: multicast needs MLD state and link-local never
        // leaves its link (Linux answers both with drops here too).
        if (ip->dst[0] == 0xff) {
            pm.action = Action::Drop;
            pm.drop = Drop::Multicast;
            continue;
        }
        if ((ip->dst[0] == 0xfe && (ip->dst[1] & 0xc0) == 0x80) ||
            (ip->src[0] == 0xfe && (ip->src[1] & 0xc0) == 0x80)) {
            pm.action = Action::Drop;
            pm.drop = Drop::LinkLocal;
            continue;
        }
        std::memcpy(dsts[m], ip->dst, 16);
        which[m++] = i;
    }
    if (m == 0) return;
    rte_fib6_lookup_bulk(s.fib, dsts, nhs, m);

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
        pm.has_egress = true;
        pm.out_port = nh.port;
        const wire::Ipv6Hdr* ip = ipv6_of(pkts[i]);
        if (ip->hop_limit <= 1) {
            pm.action = Action::Drop;
            pm.drop = Drop::HopLimitExceeded;
            continue;
        }
        if (nh.encap && choose_encap(s, nh, ip, pm)) continue;
        if (pm.parse.l3_len > s.ports[nh.port].mtu) {
            pm.action = Action::Drop;
            pm.drop = Drop::MtuExceeded;
            continue;
        }
        if (nh.on_link) {
            if (!s.lookup_neighbor(nh.port, ip->dst, pm.dst_mac)) {
                pm.action = Action::Drop;
                pm.drop = Drop::NoNeighbor;
            }
        } else if (nh.resolved) {
            pm.dst_mac = nh.dst_mac;
        } else {
            pm.action = Action::Drop;
            pm.drop = Drop::NoNeighbor;
        }
    }
}

// Decides whether this packet gets a trace from its encap route; true when
// that decision also settled its egress (or dropped it).
bool Worker::choose_encap(const Snapshot& s, const NextHop& nh, const wire::Ipv6Hdr* ip,
                          PacketMeta& pm) {
    const unsigned idx = nh.encap - 1u;
    const EncapProfile& e = s.encaps[idx];
    // Linux counts every packet reaching the route and instruments the first
    // k of every n: counter (before increment) mod n < k.
    if (freq_counter[idx]++ % e.freq_n >= e.freq_k) {
        count(IoamEvent::SampledOut);
        return false;
    }
    // RFC 8200 allows one Hop-by-Hop header: inline insertion leaves a packet
    // that has one alone, as Linux does.
    if (e.mode == EncapProfile::Mode::Inline && ip->next_header == wire::kProtoHopByHop) {
        count(IoamEvent::InlineHasHbh);
        return false;
    }
    uint16_t port = nh.port;
    if (e.mode == EncapProfile::Mode::Encap) {
        if (!e.tunnel_ok) {
            pm.action = Action::Drop;
            pm.drop = Drop::IoamTunnelUnreachable;
            return true;
        }
        port = e.tunnel_port;
    }
    // Never send a packet the insertion made too big for the link.
    if (pm.parse.l3_len + e.overhead() > s.ports[port].mtu) {
        pm.action = Action::Drop;
        pm.drop = Drop::IoamMtuExceeded;
        return true;
    }
    pm.encap = uint16_t(nh.encap);
    if (e.mode == EncapProfile::Mode::Inline) return false;  // neighbour as for the route
    pm.out_port = port;
    pm.dst_mac = e.tunnel_mac;
    return true;
}

void Worker::stage_encap(const Snapshot& s, rte_mbuf** pkts, uint16_t n, PacketMeta* meta) {
    constexpr uint16_t kEth = sizeof(wire::EtherHdr);
    constexpr uint16_t kIp6 = sizeof(wire::Ipv6Hdr);
    for (uint16_t i = 0; i < n; ++i) {
        PacketMeta& pm = meta[i];
        if (!pm.encap || pm.action != Action::Forward) continue;
        const EncapProfile& e = s.encaps[pm.encap - 1u];
        rte_mbuf* m = pkts[i];
        // Forwarding decrements first; the encapsulating node then works on
        // the packet as it leaves (reference §2.4, output path).
        --ipv6_of(m)->hop_limit;
        pm.hop_limit_done = true;

        const bool inline_mode = e.mode == EncapProfile::Mode::Inline;
        const uint16_t grow = e.overhead();
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
                        PacketMeta* meta) {
    // Packets already queued ahead of each one on its egress port: the
    // buffered segments plus those of earlier packets of this burst.
    uint32_t ahead[kMaxPorts];
    bool ahead_init = false;
    timespec now{};
    bool have_time = false;
    const PortView& in = s.ports[in_port];

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

        if (pm.parse.n_trace == 0 && !pm.encap) continue;
        HopData hop;
        // Input path: the hop limit the packet will leave with (reference §2.4).
        // The encap node's output path writes the decremented value too, so
        // one HopData serves both.
        hop.hop_limit = uint8_t(pm.hop_in - 1);
        hop.ingress_id = in.ioam_id;
        hop.ingress_wide = in.ioam_id_wide;
        if (pm.has_egress) {
            const PortView& out = s.ports[pm.out_port];
            hop.egress_id = out.ioam_id;
            hop.egress_wide = out.ioam_id_wide;
            hop.queue_depth = queue_depth;
        }  // local delivery or no route: egress stays "unavailable", as Linux's
           // loopback device
        uint8_t* ip = reinterpret_cast<uint8_t*>(ipv6_of(m));
        // Traces that arrived with the packet first (Linux fills them on
        // receive), then the one this node inserted (on output).
        uint8_t* opts[kMaxHbhOptions + 1];
        unsigned n_opts = 0;
        for (unsigned k = 0; k < pm.parse.n_trace; ++k)
            opts[n_opts++] = ip + pm.inner_off + pm.parse.trace_off[k];
        if (pm.encap && pm.action == Action::Forward)
            opts[n_opts++] = ip + sizeof(wire::Ipv6Hdr) + kIoamHbhOptOffset;
        // Which of the received traces end here or are exported in transit.
        TraceEvent ev = TraceEvent::Transit;
        bool export_received = false;
        if (cfg.export_ring) {
            if (pm.action == Action::Local) {
                uint32_t inner_off;
                ev = locate_inner(m, pm.parse.l3_len, inner_off) == Drop::kCount &&
                             s.ports[in_port].decap
                         ? TraceEvent::Decap
                         : TraceEvent::Local;
                export_received = true;
            } else {
                export_received = cfg.export_transit && pm.action == Action::Forward;
            }
        }
        for (unsigned k = 0; k < n_opts; ++k) {
            uint8_t* opt = opts[k];
            const auto* th = reinterpret_cast<const wire::IoamTraceHdr*>(opt + 4);
            const NamespaceData* ns = s.find_namespace(load_be16(th->namespace_id));
            if (!ns) {
                count(IoamEvent::SkipUnknownNamespace);
                continue;
            }
            const bool exporting = export_received && k < pm.parse.n_trace;
            if (!have_time && (exporting || trace_wants_time(opt))) {
                // One clock read serves the whole burst: it is the burst's
                // processing instant, as Linux stamps at HbH processing time.
                clock_gettime(CLOCK_REALTIME, &now);
                have_time = true;
            }
            if (have_time) {
                hop.ts_sec = uint32_t(now.tv_sec);
                hop.ts_usec = uint32_t(now.tv_nsec / 1000);
            }
            switch (fill_trace(opt, s.node, *ns, hop)) {
                case FillOutcome::Filled: count(IoamEvent::TraceFilled); break;
                case FillOutcome::OverflowSet: count(IoamEvent::TraceOverflowSet); break;
                case FillOutcome::OverflowAlready: count(IoamEvent::SkipOverflowFlag); break;
            }
            // Like Linux's trace event: every processed trace, filled or not.
            if (exporting) export_trace(ip + pm.inner_off, opt, in_port, ev, now);
        }
    }
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

uint16_t Worker::stage_output(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                              PacketMeta* meta, bool from_tunnel, rte_mbuf** inner) {
    rte_mbuf* to_free[kBurst];
    unsigned n_free = 0;
    uint16_t n_inner = 0;
    for (uint16_t i = 0; i < n; ++i) {
        PacketMeta& pm = meta[i];
        rte_mbuf* m = pkts[i];
        if (pm.action == Action::Local) {
            // Its IOAM data was written as a destination node's in stage_ioam;
            // a tunnel is now opened, anything else has no local stack yet.
            pm.action = Action::Drop;
            pm.drop = decapsulate(m, pm.parse.l3_len, s.ports[in_port].decap);
            if (pm.drop == Drop::kCount) {
                if (!from_tunnel) {
                    count(IoamEvent::Decapsulated);
                    inner[n_inner++] = m;
                    continue;
                }
                pm.drop = Drop::DecapNested;
            }
        }
        if (pm.action == Action::Drop) {
            count(pm.drop);
            to_free[n_free++] = m;
            continue;
        }
        // Nor may the domain's IOAM leak out through an edge port.
        if (s.ports[pm.out_port].edge && strip_ioam(m, pm.parse.l3_len))
            count(IoamEvent::EdgeEgressStripped);
        auto* eth = rte_pktmbuf_mtod(m, wire::EtherHdr*);
        if (!pm.hop_limit_done) --ipv6_of(m)->hop_limit;
        std::memcpy(eth->dst, pm.dst_mac.addr_bytes, 6);
        std::memcpy(eth->src, s.ports[pm.out_port].mac.addr_bytes, 6);
        TxBuffer& b = tx[pm.out_port];
        b.pkts[b.n++] = m;
        b.segs += m->nb_segs;
        if (b.n >= kBurst) b.flush(pm.out_port, uint16_t(cfg.index), st);
    }
    if (n_free) rte_pktmbuf_free_bulk(to_free, n_free);
    return n_inner;
}

void Worker::process_burst(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n,
                           bool from_tunnel) {
    if (s.generation != freq_generation) {
        std::memset(freq_counter, 0, sizeof freq_counter);
        freq_generation = s.generation;
    }
    PacketMeta meta[kBurst];
    rte_mbuf* inner[kBurst];
    stage_parse(s, in_port, pkts, n, meta, from_tunnel);
    stage_route(s, pkts, n, meta);
    stage_encap(s, pkts, n, meta);
    stage_ioam(s, in_port, pkts, n, meta);
    const uint16_t n_inner = stage_output(s, in_port, pkts, n, meta, from_tunnel, inner);
    // Decapsulated packets run the stages again, as received on a tunnel.
    if (n_inner) process_burst(s, in_port, inner, n_inner, true);
}

}  // namespace

struct BurstProcessor::Impl : Worker {};

BurstProcessor::BurstProcessor(const WorkerConfig& cfg) : impl_(new Impl{{cfg, *cfg.stats}}) {}
BurstProcessor::~BurstProcessor() { delete impl_; }

void BurstProcessor::process(const Snapshot& s, uint16_t in_port, rte_mbuf** pkts, uint16_t n) {
    impl_->st.rx[in_port].add(n);
    impl_->process_burst(s, in_port, pkts, n, false);
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

    cfg.slot->reader_online(cfg.index);
    while (!cfg.stop->load(std::memory_order_relaxed)) {
        // One snapshot per iteration: every packet of a burst sees one config.
        const Snapshot* s = cfg.slot->acquire();
        for (const RxQueueRef& q : cfg.rx) {
            const uint16_t n = rte_eth_rx_burst(q.port, q.queue, burst, kBurst);
            if (n == 0) continue;
            w.st.rx[q.port].add(n);
            w.st.rx_bursts.add(1);
            if (n == kBurst) w.st.rx_full_bursts.add(1);
            w.process_burst(*s, q.port, burst, n, false);
        }
        const uint64_t now = rte_rdtsc();
        if (now - prev_tsc > drain_tsc) {
            for (uint16_t p : cfg.tx_ports) w.tx[p].flush(p, txq, w.st);
            prev_tsc = now;
        }
        cfg.slot->reader_quiescent(cfg.index);
    }
    for (uint16_t p : cfg.tx_ports) w.tx[p].drain(p, txq, w.st);
    cfg.slot->reader_offline(cfg.index);
    return 0;
}

}  // namespace ioamfwd::dp
