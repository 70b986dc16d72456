#include "control/config_writer.hpp"

#include <cstdio>
#include <string_view>

namespace ioamfwd::cp {

namespace {

std::string hex(uint64_t value, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(value));
    return buf;
}

// A string is written plain when YAML cannot read it as anything but that
// string: names, devices, addresses and prefixes usually are. Everything
// else is double-quoted (the loader's strings accept both).
bool plain_ok(std::string_view s) {
    if (s.empty()) return false;
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (!alnum(s[0])) return false;
    for (char c : s)
        if (!alnum(c) && c != '_' && c != '.' && c != '/' && c != ':' && c != '-') return false;
    for (std::string_view word : {"null", "Null", "NULL"})
        if (s == word) return false;
    return true;
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string str(std::string_view s) { return plain_ok(s) ? std::string(s) : quoted(s); }

// Schema bytes go out as `data` when they are printable ASCII, which YAML
// reads back byte for byte; anything else (control octets, UTF-8, binary)
// as `hex`, which the loader decodes without interpretation.
bool printable_ascii(const std::vector<uint8_t>& bytes) {
    for (uint8_t b : bytes)
        if (b < 0x20 || b > 0x7e) return false;
    return true;
}


const char* policy_name(PortConfig::EdgePolicy p) {
    switch (p) {
    case PortConfig::EdgePolicy::Ignore:
        return "ignore";
    case PortConfig::EdgePolicy::Strip:
        return "strip";
    case PortConfig::EdgePolicy::Drop:
        return "drop";
    }
    return "ignore";
}

const char* boolean(bool b) { return b ? "true" : "false"; }

void write_port(std::string& y, const PortConfig& p) {
    y += "  - name: " + str(p.name) + "\n";
    y += "    device: " + str(p.device) + "\n";
    if (p.mac) y += "    mac: " + p.mac->to_string() + "\n";
    y += "    mtu: " + std::to_string(p.mtu) + "\n";
    if (!p.addresses.empty()) {
        y += "    addresses: [";
        for (size_t i = 0; i < p.addresses.size(); ++i)
            y += (i ? ", " : "") + str(p.addresses[i].to_string());
        y += "]\n";
    }
    y += "    ioam:\n";
    y += std::string("      enabled: ") + boolean(p.ioam.enabled) + "\n";
    y += "      id: " + std::to_string(p.ioam.id) + "\n";
    y += "      id_wide: " + std::to_string(p.ioam.id_wide) + "\n";
    y += std::string("    decap: ") + boolean(p.decap) + "\n";
    y += std::string("    edge: ") + boolean(p.edge) + "\n";
    if (p.edge) y += std::string("    edge_policy: ") + policy_name(p.edge_policy) + "\n";
    y += "    rx_queues: " + std::to_string(p.rx_queues) + "\n";
}

void write_lcore(std::string& y, const LcoreConfig& l) {
    y += "  - lcore: " + std::to_string(l.lcore) + "\n";
    y += "    rx: [";
    for (size_t i = 0; i < l.rx.size(); ++i)
        y += std::string(i ? ", " : "") + "{port: " + str(l.rx[i].port) +
             ", queue: " + std::to_string(l.rx[i].queue) + "}";
    y += "]\n";
}

void write_route(std::string& y, const RouteConfig& r) {
    y += "  - prefix: " + str(r.prefix.to_string()) + "\n";
    if (r.via) y += "    via: " + str(r.via->to_string()) + "\n";
    y += "    port: " + str(r.port) + "\n";
    if (!r.encap) return;
    const EncapConfig& e = *r.encap;
    y += "    encap:\n";
    y += std::string("      mode: ") + encap_mode_name(e.mode) + "\n";
    if (e.tundst) y += "      tundst: " + str(e.tundst->to_string()) + "\n";
    if (e.tunsrc) y += "      tunsrc: " + str(e.tunsrc->to_string()) + "\n";
    y += "      freq: " + std::to_string(e.freq_k) + "/" + std::to_string(e.freq_n) + "\n";
    y += "      trace:\n";
    y += "        type: " + hex(e.trace_type, 6) + "\n";
    y += "        ns: " + std::to_string(e.trace_ns) + "\n";
    y += "        size: " + std::to_string(e.trace_size) + "\n";
}

}  // namespace

// Every field of Config must be written here, or a console change would
// silently reset it: when a key is added to the loader, add it here and to
// CommandsConfig.EveryKeySurvivesTheRoundTrip (tests/unit/commands_test.cpp).
std::string write_config(const Config& cfg) {
    std::string y = "# ioamfwd configuration, written by ioamfwd (keys: config/README.md)\n";
    y += "node:\n";
    y += "  id: " + std::to_string(cfg.node.id) + "\n";
    y += "  id_wide: " + std::to_string(cfg.node.id_wide) + "\n";
    y += "icmp:\n";
    y += "  rate: " + std::to_string(cfg.icmp.rate) + "\n";
    y += "  burst: " + std::to_string(cfg.icmp.burst) + "\n";
    y += "nd:\n";
    y += "  reachable_ms: " + std::to_string(cfg.nd.reachable_ms) + "\n";
    y += "  retrans_ms: " + std::to_string(cfg.nd.retrans_ms) + "\n";
    y += "  max_solicit: " + std::to_string(cfg.nd.max_solicit) + "\n";
    y += "  queue_per_neighbor: " + std::to_string(cfg.nd.queue_per_neighbor) + "\n";
    y += "  max_entries: " + std::to_string(cfg.nd.max_entries) + "\n";
    y += "  gc_stale_s: " + std::to_string(cfg.nd.gc_stale_s) + "\n";

    y += "ports:\n";
    for (const PortConfig& p : cfg.ports) write_port(y, p);

    if (!cfg.schemas.empty()) {
        y += "schemas:\n";
        for (const SchemaConfig& s : cfg.schemas) {
            y += "  - id: " + std::to_string(s.id) + "\n";
            if (printable_ascii(s.data)) {
                y += "    data: " + quoted(std::string(s.data.begin(), s.data.end())) + "\n";
            } else {
                static const char* digits = "0123456789abcdef";
                std::string h;
                for (uint8_t b : s.data) {
                    h += digits[b >> 4];
                    h += digits[b & 15];
                }
                y += "    hex: " + h + "\n";
            }
        }
    }
    if (!cfg.namespaces.empty()) {
        y += "namespaces:\n";
        for (const NamespaceConfig& n : cfg.namespaces) {
            y += "  - id: " + std::to_string(n.id) + "\n";
            y += "    data: " + hex(n.data, 8) + "\n";
            y += "    wide: " + hex(n.wide, 16) + "\n";
            if (n.schema) y += "    schema: " + std::to_string(*n.schema) + "\n";
        }
    }
    if (!cfg.routes.empty()) {
        y += "routes:\n";
        for (const RouteConfig& r : cfg.routes) write_route(y, r);
    }
    if (!cfg.neighbors.empty()) {
        y += "neighbors:\n";
        for (const NeighborConfig& n : cfg.neighbors) {
            y += "  - address: " + str(n.address.to_string()) + "\n";
            y += "    mac: " + n.mac.to_string() + "\n";
            y += "    port: " + str(n.port) + "\n";
        }
    }
    if (!cfg.lcores.empty()) {
        y += "lcores:\n";
        for (const LcoreConfig& l : cfg.lcores) write_lcore(y, l);
    }
    return y;
}

}  // namespace ioamfwd::cp
