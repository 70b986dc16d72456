#include "control/snapshot_builder.hpp"

#include <cstring>
#include <map>
#include <tuple>

#include "dataplane/fib_plan.hpp"

#include "dataplane/nd_wire.hpp"


namespace ioamfwd::cp {

namespace {

const PortBinding* find_binding(const std::vector<PortBinding>& ports, const std::string& name) {
    for (const auto& b : ports)
        if (b.name == name) return &b;
    return nullptr;
}

rte_ether_addr to_ether(const MacAddr& m) {
    rte_ether_addr e;
    std::memcpy(e.addr_bytes, m.bytes.data(), 6);
    return e;
}

// Static neighbours by (port, address): a table of 100 000 routes asks
// once per route.
class StaticNeighbors {
public:
    explicit StaticNeighbors(const Config& cfg) {
        for (const auto& n : cfg.neighbors) index_.try_emplace({n.port, n.address}, &n);
    }
    const NeighborConfig* find(const std::string& port, const Ipv6Addr& addr) const {
        auto it = index_.find({port, addr});
        return it == index_.end() ? nullptr : it->second;
    }

private:
    std::map<std::pair<std::string, Ipv6Addr>, const NeighborConfig*> index_;
};

std::string route_error(const Config& cfg, const RouteConfig& rc, const std::string& why) {
    return cfg.source + ":" + std::to_string(rc.mark.line) + ":" + std::to_string(rc.mark.column) +
           ": route " + rc.prefix.to_string() + ": " + why;
}

dp::EncapProfile make_encap_profile(const EncapConfig& ec) {
    dp::EncapProfile p;
    p.mode = ec.mode == EncapConfig::Mode::Inline ? dp::EncapProfile::Mode::Inline
                                                  : dp::EncapProfile::Mode::Encap;
    p.auto_mode = ec.mode == EncapConfig::Mode::Auto;
    p.freq_k = ec.freq_k;
    p.freq_n = ec.freq_n;
    p.hbh_len = uint16_t(dp::build_ioam_hbh(p.hbh, 0, ec.trace_ns, ec.trace_type, ec.trace_size));
    if (ec.tundst) std::memcpy(p.tundst, ec.tundst->bytes.data(), 16);
    return p;
}

// Route the tunnel destination once per snapshot instead of once per packet
// (Linux keeps a per-route dst cache for the same reason). Without tunsrc the
// outer source is the first address of the port the tunnel leaves by, else
// of any port, as Linux's source address selection falls back to other
// interfaces. An unreachable tundst is not an error: its packets are counted
// as ioam_tunnel_unreachable until a reload makes it reachable.
bool resolve_tunnel(const Config& cfg, const RouteConfig& rc, const std::vector<PortBinding>& ports,
                    dp::Snapshot& snap, dp::EncapProfile& p, std::string& err) {
    const EncapConfig& ec = *rc.encap;
    if (p.mode != dp::EncapProfile::Mode::Encap) return true;
    const dp::NextHop& nh = snap.lookup(ec.tundst->bytes.data());
    const PortConfig* egress = nullptr;
    if (nh.kind == dp::NextHop::Kind::Forward) {
        p.tunnel_port = nh.port;
        p.tunnel_ok = true;
        if (nh.on_link) {
            p.tunnel_resolved =
                snap.lookup_neighbor(nh.port, ec.tundst->bytes.data(), p.tunnel_mac);
            std::memcpy(p.tunnel_nexthop, ec.tundst->bytes.data(), 16);
        } else if (nh.resolved) {
            p.tunnel_resolved = true;
            p.tunnel_mac = nh.dst_mac;
        } else {
            std::memcpy(p.tunnel_nexthop, nh.gateway, 16);
        }
        for (const auto& b : ports)
            if (b.port_id == nh.port) egress = cfg.find_port(b.name);
    }
    const Ipv6Addr* src = ec.tunsrc ? &*ec.tunsrc : nullptr;
    if (!src && egress && !egress->addresses.empty()) src = &egress->addresses.front().addr;
    for (const auto& pc : cfg.ports)
        if (!src && !pc.addresses.empty()) src = &pc.addresses.front().addr;
    if (!src) {
        err = route_error(cfg, rc, "encap needs a tunnel source: set encap.tunsrc or give a "
                                   "port an address");
        return false;
    }
    std::memcpy(p.tunsrc, src->bytes.data(), 16);
    return true;
}

// Routes through the same gateway share one next-hop entry: a table of
// 100 000 routes via a handful of neighbours then fits 2-octet FIB entries
// (at most 32 767 next hops). Encap routes stay apart (each has its
// profile), and nothing counts per next hop.
class NextHops {
public:
    explicit NextHops(dp::Snapshot& snap) : snap_(snap) {}
    uint32_t intern(const dp::NextHop& nh) {
        Key k{uint8_t(nh.kind), nh.on_link, nh.resolved, nh.port, nh.encap, {}, {}};
        std::memcpy(k.mac.data(), nh.dst_mac.addr_bytes, 6);
        std::memcpy(k.gateway.data(), nh.gateway, 16);
        auto [it, fresh] = index_.try_emplace(k, 0);
        if (fresh) it->second = snap_.add_nexthop(nh);
        return it->second;
    }

private:
    struct Key {
        uint8_t kind;
        bool on_link, resolved;
        uint16_t port, encap;
        std::array<uint8_t, 6> mac;
        std::array<uint8_t, 16> gateway;
        auto operator<=>(const Key&) const = default;
    };
    dp::Snapshot& snap_;
    std::map<Key, uint32_t> index_;
};

}  // namespace

std::unique_ptr<dp::Snapshot> build_snapshot(const Config& cfg,
                                             const std::vector<PortBinding>& ports,
                                             uint64_t generation, std::string& err) {
    auto snap = std::make_unique<dp::Snapshot>();
    snap->generation = generation;
    snap->node.id = cfg.node.id;
    snap->node.id_wide = cfg.node.id_wide;
    snap->icmp_rate = cfg.icmp.rate;
    snap->icmp_burst = cfg.icmp.burst;

    for (const auto& pc : cfg.ports) {
        const PortBinding* b = find_binding(ports, pc.name);
        if (!b) {
            err = "port " + pc.name + " is not bound to a device";
            return nullptr;
        }
        dp::PortView& v = snap->ports[b->port_id];
        v.active = true;
        v.mac = b->mac;
        v.mtu = pc.mtu;
        v.ioam_enabled = pc.ioam.enabled;
        v.ioam_id = pc.ioam.id;
        v.ioam_id_wide = pc.ioam.id_wide;
        v.decap = pc.decap;
        if (!pc.addresses.empty()) {
            v.has_addr = true;
            std::memcpy(v.addr, pc.addresses.front().addr.bytes.data(), 16);
        }
        for (const auto& a : pc.addresses) v.addrs.push_back(a.addr.bytes);
        dp::link_local_from_mac(b->mac.addr_bytes, v.link_local);
        std::array<uint8_t, 16> ll;
        std::memcpy(ll.data(), v.link_local, 16);
        v.addrs.push_back(ll);
        v.edge = pc.edge;
        switch (pc.edge_policy) {
            case PortConfig::EdgePolicy::Ignore: v.edge_policy = dp::EdgePolicy::Ignore; break;
            case PortConfig::EdgePolicy::Strip: v.edge_policy = dp::EdgePolicy::Strip; break;
            case PortConfig::EdgePolicy::Drop: v.edge_policy = dp::EdgePolicy::Drop; break;
        }
    }

    for (const auto& ns : cfg.namespaces) {
        dp::NamespaceEntry e;
        e.data.data = ns.data;
        e.data.wide = ns.wide;
        const SchemaConfig* sc = ns.schema ? cfg.find_schema(*ns.schema) : nullptr;
        e.oss = sc ? dp::build_opaque_state_snapshot(sc->data.data(), sc->data.size(), sc->id)
                   : dp::build_opaque_state_snapshot(nullptr, 0, 0);
        e.data.oss_words = uint16_t(e.oss.size() / 4);
        snap->set_namespace(ns.id, std::move(e));
    }

    // Routes by prefix, in increasing precedence: connected, static, local.
    // Later entries replace earlier ones, as an explicit route replaces the
    // kernel's connected route and the local table wins in Linux.
    std::map<std::pair<Ipv6Addr, uint8_t>, uint32_t> table;
    NextHops nexthops(*snap);
    dp::NextHop local;
    local.kind = dp::NextHop::Kind::Local;
    const uint32_t local_nh = nexthops.intern(local);
    for (const auto& pc : cfg.ports) {
        const PortBinding* b = find_binding(ports, pc.name);
        for (const auto& a : pc.addresses) {
            if (a.length == 128) continue;
            dp::NextHop nh;
            nh.kind = dp::NextHop::Kind::Forward;
            nh.on_link = true;
            nh.port = b->port_id;
            table[{a.network(), a.length}] = nexthops.intern(nh);
        }
    }
    std::vector<const RouteConfig*> encap_routes;
    const StaticNeighbors static_neighbors(cfg);
    for (const auto& rc : cfg.routes) {
        const PortBinding* b = find_binding(ports, rc.port);
        dp::NextHop nh;
        nh.kind = dp::NextHop::Kind::Forward;
        nh.port = b->port_id;
        if (rc.encap) {
            if (snap->encaps.size() >= dp::kMaxEncapRoutes) {
                err = route_error(cfg, rc, "more than " + std::to_string(dp::kMaxEncapRoutes) +
                                               " routes with encap");
                return nullptr;
            }
            snap->encaps.push_back(make_encap_profile(*rc.encap));
            encap_routes.push_back(&rc);
            nh.encap = uint16_t(snap->encaps.size());
        }
        if (rc.via) {
            // Static neighbours are known now; any other gateway is resolved
            // per packet by neighbour discovery.
            std::memcpy(nh.gateway, rc.via->bytes.data(), 16);
            if (const NeighborConfig* n = static_neighbors.find(rc.port, *rc.via)) {
                nh.resolved = true;
                nh.dst_mac = to_ether(n->mac);
            }
        } else {
            nh.on_link = true;
        }
        table[{rc.prefix.network(), rc.prefix.length}] = nexthops.intern(nh);
    }
    for (const auto& pc : cfg.ports)
        for (const auto& a : pc.addresses) table[{a.addr, 128}] = local_nh;

    // The map is in (address, length) order, so every prefix comes before
    // the ones it covers: what dp::plan_fib expects, and the order in which
    // rte_fib6 reserves least.
    std::vector<dp::FibRoute> sorted;
    sorted.reserve(table.size());
    for (const auto& [prefix, nh] : table) sorted.push_back({prefix.first.bytes, prefix.second, nh});
    const dp::FibPlan plan = dp::plan_fib(sorted);
    snap->fib_size.prefixes = uint32_t(table.size());
    snap->fib_size.anchors = plan.anchors;
    snap->fib_size.groups = plan.groups;
    snap->fib_size.reservation = plan.reservation;
    if (!snap->init_tables(unsigned(plan.routes.size()), plan.num_tbl8,
                           unsigned(cfg.neighbors.size()), err)) {
        err = cfg.source + ": " + err;
        return nullptr;
    }
    for (const dp::FibRoute& r : plan.routes) {
        if (!snap->add_route(r.addr.data(), r.depth, r.nh, err)) {
            Ipv6Prefix p{Ipv6Addr{r.addr}, r.depth};
            err = cfg.source + ": route table, " + p.to_string() + ": " + err;
            return nullptr;
        }
    }
    for (const auto& n : cfg.neighbors) {
        const PortBinding* b = find_binding(ports, n.port);
        if (!snap->add_neighbor(b->port_id, n.address.bytes.data(), to_ether(n.mac), err))
            return nullptr;
    }
    for (size_t i = 0; i < encap_routes.size(); ++i)
        if (!resolve_tunnel(cfg, *encap_routes[i], ports, *snap, snap->encaps[i], err))
            return nullptr;
    return snap;
}

}  // namespace ioamfwd::cp
