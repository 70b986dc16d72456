#include "control/telemetry.hpp"

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>

namespace ioamfwd::cp {

namespace {

std::mutex g_mutex;
TelemetrySource* g_source = nullptr;

// Page offset from the parameter string ("" = 0); -1 when it is not a number.
long page_offset(const char* params) {
    if (!params || !*params) return 0;
    char* end = nullptr;
    const long v = std::strtol(params, &end, 10);
    if (*end != '\0' || v < 0) return -1;
    return v;
}

std::string hex(uint64_t v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(v));
    return buf;
}

// DPDK 22.11 nests dictionaries in dictionaries only (an array holds plain
// values), so lists are dictionaries keyed by id or position.
void add_entry(rte_tel_data* d, const std::string& key, rte_tel_data* value) {
    if (rte_tel_data_add_dict_container(d, key.c_str(), value, 0) != 0) rte_tel_data_free(value);
}

// A copy of the source's configuration, taken under the lock so the lists
// are built without holding it; nullopt once the source is detached.
std::optional<Config> source_config() {
    std::lock_guard lock(g_mutex);
    if (!g_source) return std::nullopt;
    return g_source->telemetry_config();
}

int tel_stats(const char*, const char*, rte_tel_data* d) {
    std::lock_guard lock(g_mutex);
    if (!g_source) return -1;
    const StatsTotals t = g_source->telemetry_totals();
    uint64_t tx = 0;
    for (uint64_t v : t.tx) tx += v;
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "generation", g_source->telemetry_generation());
    rte_tel_data_add_dict_u64(d, "forwarding", g_source->telemetry_forwarding() ? 1 : 0);
    rte_tel_data_add_dict_u64(d, "rx", t.total_rx());
    rte_tel_data_add_dict_u64(d, "tx", tx);
    rte_tel_data_add_dict_u64(d, "drops_total", t.total_drops());
    rte_tel_data_add_dict_u64(d, "rx_bursts", t.rx_bursts);
    rte_tel_data_add_dict_u64(d, "rx_full_bursts", t.rx_full_bursts);
    rte_tel_data* drops = rte_tel_data_alloc();
    rte_tel_data* ioam = rte_tel_data_alloc();
    rte_tel_data* icmp = rte_tel_data_alloc();
    if (!drops || !ioam || !icmp) {
        rte_tel_data_free(drops);
        rte_tel_data_free(ioam);
        rte_tel_data_free(icmp);
        return -1;
    }
    rte_tel_data_start_dict(drops);
    for (unsigned i = 0; i < dp::kDropCount; ++i)
        rte_tel_data_add_dict_u64(drops, dp::drop_name(dp::Drop(i)), t.drops[i]);
    rte_tel_data_start_dict(ioam);
    for (unsigned i = 0; i < dp::kIoamEventCount; ++i)
        rte_tel_data_add_dict_u64(ioam, dp::ioam_event_name(dp::IoamEvent(i)), t.ioam[i]);
    rte_tel_data_start_dict(icmp);
    for (unsigned i = 0; i < dp::kIcmpEventCount; ++i)
        rte_tel_data_add_dict_u64(icmp, dp::icmp_event_name(dp::IcmpEvent(i)), t.icmp[i]);
    add_entry(d, "drops", drops);
    add_entry(d, "ioam", ioam);
    add_entry(d, "icmp", icmp);
    if (rte_tel_data* nd = rte_tel_data_alloc()) {
        rte_tel_data_start_dict(nd);
        for (const auto& [name, v] : g_source->telemetry_nd_counters())
            rte_tel_data_add_dict_u64(nd, name.c_str(), v);
        add_entry(d, "nd", nd);
    }
    return 0;
}

int tel_ports(const char*, const char*, rte_tel_data* d) {
    std::lock_guard lock(g_mutex);
    if (!g_source) return -1;
    const StatsTotals t = g_source->telemetry_totals();
    rte_tel_data_start_dict(d);
    for (const PortLabel& p : g_source->telemetry_ports()) {
        rte_tel_data* c = rte_tel_data_alloc();
        if (!c) return -1;
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_string(c, "name", p.name.c_str());
        rte_tel_data_add_dict_string(c, "device", p.device.c_str());
        rte_tel_data_add_dict_u64(c, "port_id", p.port_id);
        rte_tel_data_add_dict_u64(c, "rx", t.rx[p.port_id]);
        rte_tel_data_add_dict_u64(c, "tx", t.tx[p.port_id]);
        rte_eth_stats es{};
        if (rte_eth_stats_get(p.port_id, &es) == 0) {
            rte_tel_data_add_dict_u64(c, "ipackets", es.ipackets);
            rte_tel_data_add_dict_u64(c, "opackets", es.opackets);
            rte_tel_data_add_dict_u64(c, "ibytes", es.ibytes);
            rte_tel_data_add_dict_u64(c, "obytes", es.obytes);
            rte_tel_data_add_dict_u64(c, "imissed", es.imissed);
            rte_tel_data_add_dict_u64(c, "ierrors", es.ierrors);
            rte_tel_data_add_dict_u64(c, "oerrors", es.oerrors);
            rte_tel_data_add_dict_u64(c, "rx_nombuf", es.rx_nombuf);
        }
        if (rte_tel_data_add_dict_container(d, p.name.c_str(), c, 0) != 0) {
            // A name telemetry refuses as a key ('.' or '-'): the port id then.
            const std::string key = "port" + std::to_string(p.port_id);
            if (rte_tel_data_add_dict_container(d, key.c_str(), c, 0) != 0) rte_tel_data_free(c);
        }
    }
    return 0;
}

int tel_lcores(const char*, const char*, rte_tel_data* d) {
    std::lock_guard lock(g_mutex);
    if (!g_source) return -1;
    rte_tel_data_start_dict(d);
    for (const LcoreStats& l : g_source->telemetry_lcores()) {
        rte_tel_data* c = rte_tel_data_alloc();
        if (!c) return -1;
        uint64_t tx = 0;
        for (uint64_t v : l.counts.tx) tx += v;
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_u64(c, "rx", l.counts.total_rx());
        rte_tel_data_add_dict_u64(c, "tx", tx);
        rte_tel_data_add_dict_u64(c, "drops", l.counts.total_drops());
        rte_tel_data_add_dict_u64(c, "idle_sleeps", l.idle_sleeps);
        // Telemetry containers do not nest further, and port names may hold
        // characters telemetry refuses in keys: port ids, flat.
        for (const LcoreQueueStats& q : l.queues) {
            const std::string key = "port" + std::to_string(q.port_id) + "_q" + std::to_string(q.queue);
            rte_tel_data_add_dict_u64(c, key.c_str(), q.rx);
        }
        add_entry(d, "lcore" + std::to_string(l.lcore), c);
    }
    return 0;
}

int tel_namespaces(const char*, const char* params, rte_tel_data* d) {
    const long offset = page_offset(params);
    if (offset < 0) return -1;
    const std::optional<Config> copy = source_config();
    if (!copy) return -1;
    const Config& cfg = *copy;
    rte_tel_data_start_dict(d);
    for (size_t i = size_t(offset); i < cfg.namespaces.size() && i < size_t(offset) + kTelemetryPage;
         ++i) {
        const NamespaceConfig& n = cfg.namespaces[i];
        rte_tel_data* c = rte_tel_data_alloc();
        if (!c) return -1;
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_u64(c, "id", n.id);
        rte_tel_data_add_dict_string(c, "data", hex(n.data, 8).c_str());
        rte_tel_data_add_dict_string(c, "wide", hex(n.wide, 16).c_str());
        if (n.schema) {
            rte_tel_data_add_dict_u64(c, "schema", *n.schema);
            if (const SchemaConfig* s = cfg.find_schema(*n.schema))
                rte_tel_data_add_dict_u64(c, "schema_octets", s->data.size());
        }
        add_entry(d, std::to_string(n.id), c);
    }
    return 0;
}


int tel_routes(const char*, const char* params, rte_tel_data* d) {
    const long offset = page_offset(params);
    if (offset < 0) return -1;
    const std::optional<Config> copy = source_config();
    if (!copy) return -1;
    const Config& cfg = *copy;
    // Configured routes first, then the connected prefixes, one list.
    struct Row {
        const RouteConfig* route;
        std::string prefix;
        std::string port;
    };
    std::vector<Row> rows;
    for (const RouteConfig& r : cfg.routes) rows.push_back({&r, r.prefix.to_string(), r.port});
    for (const PortConfig& p : cfg.ports)
        for (const Ipv6Prefix& a : p.addresses)
            rows.push_back({nullptr, Ipv6Prefix{a.network(), a.length}.to_string(), p.name});
    rte_tel_data_start_dict(d);
    for (size_t i = size_t(offset); i < rows.size() && i < size_t(offset) + kTelemetryPage; ++i) {
        const Row& row = rows[i];
        rte_tel_data* c = rte_tel_data_alloc();
        if (!c) return -1;
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_string(c, "prefix", row.prefix.c_str());
        rte_tel_data_add_dict_string(c, "port", row.port.c_str());
        rte_tel_data_add_dict_string(c, "kind", row.route ? "static" : "connected");
        if (row.route && row.route->via)
            rte_tel_data_add_dict_string(c, "via", row.route->via->to_string().c_str());
        if (row.route && row.route->encap) {
            const EncapConfig& e = *row.route->encap;
            rte_tel_data_add_dict_string(c, "encap_mode", encap_mode_name(e.mode));
            if (e.tundst) rte_tel_data_add_dict_string(c, "tundst", e.tundst->to_string().c_str());
            if (e.tunsrc) rte_tel_data_add_dict_string(c, "tunsrc", e.tunsrc->to_string().c_str());
            const std::string freq = std::to_string(e.freq_k) + "/" + std::to_string(e.freq_n);
            rte_tel_data_add_dict_string(c, "freq", freq.c_str());
            rte_tel_data_add_dict_string(c, "trace_type", hex(e.trace_type, 6).c_str());
            rte_tel_data_add_dict_u64(c, "trace_ns", e.trace_ns);
            rte_tel_data_add_dict_u64(c, "trace_size", e.trace_size);
        }
        add_entry(d, std::to_string(i), c);
    }
    return 0;
}

int tel_neighbors(const char*, const char* params, rte_tel_data* d) {
    const long offset = page_offset(params);
    if (offset < 0) return -1;
    std::vector<NeighborRow> rows;
    {
        std::lock_guard lock(g_mutex);
        if (!g_source) return -1;
        rows = g_source->telemetry_neighbors();
    }
    rte_tel_data_start_dict(d);
    for (size_t i = size_t(offset); i < rows.size() && i < size_t(offset) + kTelemetryPage; ++i) {
        const NeighborRow& r = rows[i];
        rte_tel_data* c = rte_tel_data_alloc();
        if (!c) return -1;
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_string(c, "address", r.address.c_str());
        rte_tel_data_add_dict_string(c, "port", r.port.c_str());
        if (!r.lladdr.empty()) rte_tel_data_add_dict_string(c, "lladdr", r.lladdr.c_str());
        rte_tel_data_add_dict_string(c, "state", r.state.c_str());
        rte_tel_data_add_dict_string(c, "kind", r.is_static ? "static" : "dynamic");
        add_entry(d, std::to_string(i), c);
    }
    return 0;
}

}  // namespace

void telemetry_attach(TelemetrySource* source) {
    static std::once_flag registered;
    std::call_once(registered, [] {
        rte_telemetry_register_cmd("/ioamfwd/stats", tel_stats,
                                   "Whole-run totals: rx, tx, drops by reason, IOAM events. "
                                   "No parameters");
        rte_telemetry_register_cmd("/ioamfwd/ports", tel_ports,
                                   "Per port: forwarder rx/tx and device stats. No parameters");
        rte_telemetry_register_cmd("/ioamfwd/lcores", tel_lcores,
                                   "Per worker lcore: rx, tx, drops, idle sleeps, rx by queue. "
                                   "No parameters");
        rte_telemetry_register_cmd("/ioamfwd/namespaces", tel_namespaces,
                                   "IOAM namespaces, 32 per reply. Parameter: offset");
        rte_telemetry_register_cmd("/ioamfwd/routes", tel_routes,
                                   "Routes then connected prefixes, 32 per reply. Parameter: offset");
        rte_telemetry_register_cmd("/ioamfwd/neighbors", tel_neighbors,
                                   "Static then discovered neighbours, 32 per reply. "
                                   "Parameter: offset");
    });
    std::lock_guard lock(g_mutex);
    g_source = source;
}

void telemetry_detach() {
    std::lock_guard lock(g_mutex);
    g_source = nullptr;
}

}  // namespace ioamfwd::cp
