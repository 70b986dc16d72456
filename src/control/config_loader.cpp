// YAML configuration loader: text -> validated Config, all or nothing.
//
// One function per section, each with the list of keys it accepts, so a new
// key is one entry in a key list plus one read. Sections are read in
// dependency order (ports and schemas before the entries that name them)
// whatever their order in the file, so cross-references are checked while
// reading and every refusal points at the node that caused it. Within a
// mapping, keys are read in the loader's order too, so rules that tie keys
// together (encap mode and tundst, edge and edge_policy) hold in any order.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <cstdio>
#include <optional>
#include <string_view>
#include <system_error>

#include "common/trace_type.hpp"
#include "control/config.hpp"
#include "control/config_limits.hpp"
#include "control/yaml_reader.hpp"

namespace ioamfwd::cp {

namespace {

using yaml::Field;
using yaml::MapReader;
using yaml::YamlError;

constexpr size_t kMaxConfigBytes = 16u * 1024u * 1024u;

// More ranges (the ones the console shares) are in config_limits.hpp.
constexpr uint64_t kMinMtu = 1280;  // IPv6 minimum link MTU
constexpr uint64_t kMaxMtu = 9000;
constexpr size_t kMaxPortNameLength = 32;
constexpr size_t kMaxDeviceNameLength = 63;  // RTE_DEV_NAME_MAX_LEN less the NUL
// Route encap (ip -6 route .. encap ioam6), as Linux's ioam6_iptunnel checks it.
constexpr uint64_t kMaxEncapFreq = 1000000;  // IOAM6_IPTUNNEL_FREQ_MAX; K and N in 1..this
constexpr uint64_t kMaxTraceType = 0xffffff;
constexpr uint64_t kMaxTraceNamespace = 0xffff;
// The IOAM option length octet covers its 2 octets of reserved/option-type,
// the 8-octet trace header and the data: 255 - 10 = 245, so at most 244
// octets of data, a whole number of 4-octet words.
constexpr uint64_t kMinTraceSize = 4;
constexpr uint64_t kMaxTraceSize = 244;

// The messages below name "bits 12-21" and "bit 23"; keep them true.
constexpr uint32_t bits_from(unsigned first, unsigned last) {
    uint32_t mask = 0;
    for (unsigned n = first; n <= last; ++n) mask |= trace::bit(n);
    return mask;
}
static_assert(trace::kUndefinedMask == bits_from(12, 21));
static_assert(trace::kReservedBit == trace::bit(23));

std::string position(const Mark& m) {
    return "line " + std::to_string(m.line) + ", column " + std::to_string(m.column);
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

std::string read_port_name(const Field& field) {
    std::string name = yaml::read_string(field);
    if (name.empty() || name.size() > kMaxPortNameLength)
        field.fail("a port name must be 1.." + std::to_string(kMaxPortNameLength) +
                   " characters, got " + std::to_string(name.size()));
    for (char c : name)
        if (!is_name_char(c))
            field.fail(yaml::quote(name) + " is not a valid port name (use letters, digits, "
                                           "'_', '.' and '-')");
    return name;
}

// `device` is matched against the names EAL gives probed devices; arguments
// such as ",rx_pcap=FILE" are part of the --vdev option, not of the name.
std::string read_device_name(const Field& field) {
    std::string device = yaml::read_string(field);
    if (device.empty() || device.size() > kMaxDeviceNameLength)
        field.fail("a device name must be 1.." + std::to_string(kMaxDeviceNameLength) +
                   " characters, got " + std::to_string(device.size()));
    if (device.find(',') != std::string::npos)
        field.fail(yaml::quote(device) + " contains device arguments; give only the device name "
                                         "here and its arguments in the EAL --vdev option");
    for (char c : device)
        if (!is_name_char(c) && c != ':')
            field.fail(yaml::quote(device) + " is not a valid EAL device name (a vdev name such "
                                             "as net_pcap0 or a PCI address such as 0000:3b:00.0)");
    return device;
}

Ipv6Addr read_ipv6(const Field& field) {
    std::string text = yaml::read_string(field);
    auto addr = Ipv6Addr::parse(text);
    if (!addr) field.fail(yaml::quote(text) + " is not an IPv6 address");
    return *addr;
}

// A neighbour or gateway must be a single reachable host.
Ipv6Addr read_unicast_ipv6(const Field& field) {
    Ipv6Addr addr = read_ipv6(field);
    if (addr.is_unspecified()) field.fail("the unspecified address :: is not a unicast address");
    if (addr.is_multicast()) field.fail(addr.to_string() + " is a multicast address");
    if (addr.is_loopback()) field.fail("the loopback address ::1 cannot be used here");
    return addr;
}

// "ADDR/LEN" or a bare "ADDR" (= /128). Parsed here rather than with
// Ipv6Prefix::parse so that the message says which half is wrong.
Ipv6Prefix read_prefix(const Field& field, uint8_t min_length) {
    std::string text = yaml::read_string(field);
    size_t slash = text.find('/');
    auto addr = Ipv6Addr::parse(std::string_view(text).substr(0, slash));
    if (!addr)
        field.fail(yaml::quote(text) + " is not an IPv6 address with an optional /length");
    Ipv6Prefix prefix{*addr, 128};
    if (slash == std::string::npos) return prefix;
    std::string length = text.substr(slash + 1);
    bool digits = !length.empty() && length.size() <= 3;
    for (char c : length)
        if (c < '0' || c > '9') digits = false;
    if (digits && length.size() > 1 && length[0] == '0') digits = false;
    unsigned value = digits ? unsigned(std::stoul(length)) : 999;
    if (value < min_length || value > 128)
        field.fail(yaml::quote(text) + ": the prefix length must be a number in " +
                   std::to_string(min_length) + "..128");
    prefix.length = uint8_t(value);
    return prefix;
}

std::string hex24(uint32_t value) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%06x", unsigned(value));
    return buf;
}


EncapConfig::Mode read_encap_mode(const Field& field) {
    std::string text = yaml::read_string(field);
    for (auto mode : {EncapConfig::Mode::Inline, EncapConfig::Mode::Encap, EncapConfig::Mode::Auto})
        if (text == encap_mode_name(mode)) return mode;
    field.fail(yaml::quote(text) + " is not an encap mode; expected inline, encap or auto");
}

// "K/N" = instrument the first K of every N packets (`freq K/N`). Each number
// is decimal without a leading zero; a value too long to hold is kept just
// past the maximum so that it is reported as out of range, not as bad syntax.
void read_encap_freq(const Field& field, EncapConfig& encap) {
    std::string text = yaml::read_string(field);
    auto number = [](std::string_view digits) -> std::optional<uint64_t> {
        if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
        uint64_t value = 0;
        for (char c : digits) {
            if (c < '0' || c > '9') return std::nullopt;
            value = std::min<uint64_t>(value * 10 + uint64_t(c - '0'), kMaxEncapFreq + 1);
        }
        return value;
    };
    size_t slash = text.find('/');
    std::optional<uint64_t> k, n;
    if (slash != std::string::npos) {
        k = number(std::string_view(text).substr(0, slash));
        n = number(std::string_view(text).substr(slash + 1));
    }
    if (!k || !n)
        field.fail(yaml::quote(text) + " is not K/N; write two decimal numbers such as 1/2 "
                                       "(instrument K packets out of every N)");
    if (*k < 1 || *k > kMaxEncapFreq || *n < 1 || *n > kMaxEncapFreq)
        field.fail(text + ": K and N must each be in 1.." + std::to_string(kMaxEncapFreq));
    if (*k > *n)
        field.fail(text + ": K must not exceed N (K packets are instrumented out of every N)");
    encap.freq_k = uint32_t(*k);
    encap.freq_n = uint32_t(*n);
}

// The rule is trace::valid_for_insertion; the checks before the last one only
// say which part of it the type breaks.
uint32_t read_trace_type(const Field& field) {
    auto type = uint32_t(yaml::read_uint(field, 0, kMaxTraceType));
    if (trace::valid_for_insertion(type)) return type;
    if (type == 0)
        field.fail("0 selects no data; set at least one bit (0x800000 is bit 0, hop limit and "
                   "node id)");
    for (unsigned n = 12; n <= 21; ++n)
        if (type & trace::kUndefinedMask & trace::bit(n))
            field.fail(hex24(type) + " sets bit " + std::to_string(n) +
                       ": bits 12-21 are undefined and cannot be inserted");
    if (type & trace::kReservedBit)
        field.fail(hex24(type) + " sets bit 23: bit 23 is reserved and cannot be inserted");
    field.fail(hex24(type) + " cannot be inserted");
}

MacAddr read_unicast_mac(const Field& field) {
    std::string text = yaml::read_string(field);
    auto mac = MacAddr::parse(text);
    if (!mac) field.fail(yaml::quote(text) + " is not a MAC address (aa:bb:cc:dd:ee:ff)");
    if (mac->is_multicast())
        field.fail(mac->to_string() + " is a multicast or broadcast MAC address");
    if (*mac == MacAddr{}) field.fail("the all-zero MAC address is not a station address");
    return *mac;
}

std::vector<uint8_t> read_hex_bytes(const Field& field) {
    std::string text = yaml::read_string(field);
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex)
            field.fail("character " + std::to_string(i + 1) + " (" +
                       yaml::quote(text.substr(i, 1)) +
                       ") is not a hex digit; write only hex digits, two per octet, without 0x");
    }
    if (text.size() % 2 != 0)
        field.fail("odd number of hex digits (" + std::to_string(text.size()) +
                   "); write two digits per octet");
    std::vector<uint8_t> bytes;
    bytes.reserve(text.size() / 2);
    for (size_t i = 0; i < text.size(); i += 2)
        bytes.push_back(uint8_t(std::stoul(text.substr(i, 2), nullptr, 16)));
    return bytes;
}

class Loader {
public:
    Config load(const YAML::Node& root);

private:
    void read_node(const Field& field);
    void read_icmp(const Field& field);
    void read_nd(const Field& field);
    void read_ports(const Field& field);
    PortConfig read_port(const Field& entry);
    void read_port_addresses(const Field& field, PortConfig& port);
    void read_port_ioam(const Field& field, PortIoamConfig& ioam);
    void read_port_edge(const MapReader& map, PortConfig& port);
    void read_schemas(const Field& field);
    SchemaConfig read_schema(const Field& entry);
    void read_namespaces(const Field& field);
    NamespaceConfig read_namespace(const Field& entry);
    void read_routes(const Field& field);
    RouteConfig read_route(const Field& entry);
    EncapConfig read_encap(const Field& field);
    void read_trace(const Field& field, EncapConfig& encap);
    void read_neighbors(const Field& field);
    NeighborConfig read_neighbor(const Field& entry);
    void read_lcores(const Field& field);
    LcoreConfig read_lcore(const Field& entry);
    RxQueueConfig read_rx_queue(const Field& entry);

    std::string require_port(const Field& field) const;

    Config config_;
    // (port, queue) -> where lcores[] already names it
    std::map<std::pair<std::string, uint16_t>, Mark> rx_queue_index_;
    // Indexes for the duplicate checks, so a 100 000-route file loads in
    // linear time (prefix / (port, address) -> position in config_).
    std::map<std::pair<Ipv6Addr, uint8_t>, size_t> route_index_;
    std::map<std::pair<std::string, Ipv6Addr>, size_t> neighbor_index_;
};

Config Loader::load(const YAML::Node& root) {
    Field top{YAML::Node(), root, ""};
    if (!root.IsMap())
        throw YamlError{top.mark(), "the top level must be a mapping of sections (node, ports, "
                                    "icmp, nd, namespaces, schemas, routes, neighbors, lcores), got " +
                                        yaml::kind_name(root)};
    MapReader sections(top, {"node", "icmp", "nd", "ports", "namespaces", "schemas", "routes",
                             "neighbors", "lcores"});
    if (auto f = sections.optional("node")) read_node(*f);
    if (auto f = sections.optional("icmp")) read_icmp(*f);
    if (auto f = sections.optional("nd")) read_nd(*f);
    read_ports(sections.required("ports"));
    if (auto f = sections.optional("schemas")) read_schemas(*f);
    if (auto f = sections.optional("namespaces")) read_namespaces(*f);
    if (auto f = sections.optional("routes")) read_routes(*f);
    if (auto f = sections.optional("neighbors")) read_neighbors(*f);
    if (auto f = sections.optional("lcores")) read_lcores(*f);
    return std::move(config_);
}

void Loader::read_node(const Field& field) {
    if (field.is_null()) return;
    MapReader map(field, {"id", "id_wide"});
    if (auto f = map.optional("id")) config_.node.id = uint32_t(yaml::read_uint(*f, 0, kMaxNodeId));
    if (auto f = map.optional("id_wide"))
        config_.node.id_wide = yaml::read_uint(*f, 0, kMaxNodeIdWide);
}

void Loader::read_icmp(const Field& field) {
    if (field.is_null()) return;
    MapReader map(field, {"rate", "burst"});
    // The token bucket's arithmetic stays exact up to a million per second.
    if (auto f = map.optional("rate")) config_.icmp.rate = uint32_t(yaml::read_uint(*f, 0, 1000000));
    if (auto f = map.optional("burst"))
        config_.icmp.burst = uint32_t(yaml::read_uint(*f, 1, 1000000));
}

// Bounds keep the timers meaningful (a solicitation every 100 ms at most,
// state lasting at most a day) and the held packets and cache within what
// a small mbuf pool and EAL heap can give.
void Loader::read_nd(const Field& field) {
    if (field.is_null()) return;
    MapReader map(field, {"reachable_ms", "retrans_ms", "max_solicit", "queue_per_neighbor",
                          "max_entries", "gc_stale_s"});
    NdConfig& nd = config_.nd;
    if (auto f = map.optional("reachable_ms"))
        nd.reachable_ms = uint32_t(yaml::read_uint(*f, 1000, 86400000));
    if (auto f = map.optional("retrans_ms"))
        nd.retrans_ms = uint32_t(yaml::read_uint(*f, 100, 60000));
    if (auto f = map.optional("max_solicit"))
        nd.max_solicit = uint32_t(yaml::read_uint(*f, 1, 10));
    if (auto f = map.optional("queue_per_neighbor"))
        nd.queue_per_neighbor = uint32_t(yaml::read_uint(*f, 1, 64));
    if (auto f = map.optional("max_entries"))
        nd.max_entries = uint32_t(yaml::read_uint(*f, 8, 1048576));
    if (auto f = map.optional("gc_stale_s"))
        nd.gc_stale_s = uint32_t(yaml::read_uint(*f, 1, 86400));
}

void Loader::read_ports(const Field& field) {
    std::vector<Field> entries = yaml::read_sequence(field);
    if (entries.empty()) field.fail("at least one port is required");
    for (const Field& entry : entries) config_.ports.push_back(read_port(entry));
}

PortConfig Loader::read_port(const Field& entry) {
    MapReader map(entry, {"name", "device", "mac", "mtu", "addresses", "ioam", "decap", "edge",
                          "edge_policy", "rx_queues"});
    PortConfig port;
    port.mark = map.mark();

    Field name = map.required("name");
    port.name = read_port_name(name);
    for (size_t i = 0; i < config_.ports.size(); ++i)
        if (config_.ports[i].name == port.name)
            name.fail("port name '" + port.name + "' is already used by ports[" +
                      std::to_string(i) + "] at " + position(config_.ports[i].mark));

    Field device = map.required("device");
    port.device = read_device_name(device);
    for (size_t i = 0; i < config_.ports.size(); ++i)
        if (config_.ports[i].device == port.device)
            device.fail("device '" + port.device + "' is already used by port '" +
                        config_.ports[i].name + "' (ports[" + std::to_string(i) + "] at " +
                        position(config_.ports[i].mark) + ")");

    if (auto f = map.optional("mac")) port.mac = read_unicast_mac(*f);
    if (auto f = map.optional("mtu")) port.mtu = uint16_t(yaml::read_uint(*f, kMinMtu, kMaxMtu));
    if (auto f = map.optional("addresses")) read_port_addresses(*f, port);
    if (auto f = map.optional("ioam")) read_port_ioam(*f, port.ioam);
    if (auto f = map.optional("decap")) port.decap = yaml::read_bool(*f);
    read_port_edge(map, port);
    if (auto f = map.optional("rx_queues"))
        port.rx_queues = uint16_t(yaml::read_uint(*f, 1, kMaxRxQueues));
    return port;
}

void Loader::read_port_edge(const MapReader& map, PortConfig& port) {
    if (auto f = map.optional("edge")) port.edge = yaml::read_bool(*f);
    auto policy = map.optional("edge_policy");
    if (!policy) return;
    std::string text = yaml::read_string(*policy);
    if (text == "ignore")
        port.edge_policy = PortConfig::EdgePolicy::Ignore;
    else if (text == "strip")
        port.edge_policy = PortConfig::EdgePolicy::Strip;
    else if (text == "drop")
        port.edge_policy = PortConfig::EdgePolicy::Drop;
    else
        policy->fail(yaml::quote(text) + " is not an edge policy; expected ignore, strip or drop");
    // A policy on an inner port would be a silent no-op: say so instead.
    if (!port.edge)
        throw YamlError{yaml::to_mark(policy->key.Mark()),
                        policy->path + " needs edge: true (it applies to IOAM arriving from "
                                       "outside the domain, on an edge port)"};
}

void Loader::read_port_addresses(const Field& field, PortConfig& port) {
    for (const Field& entry : yaml::read_sequence(field)) {
        // /0 would put every destination on-link; an address needs a subnet.
        Ipv6Prefix address = read_prefix(entry, 1);
        const Ipv6Addr& a = address.addr;
        if (a.is_unspecified()) entry.fail("the unspecified address :: cannot be assigned");
        if (a.is_loopback()) entry.fail("the loopback address ::1 cannot be assigned to a port");
        if (a.is_multicast()) entry.fail(a.to_string() + " is a multicast address");
        if (a.is_link_local())
            entry.fail(a.to_string() + " is link-local (fe80::/10); only global or unique-local "
                                       "addresses can be assigned");
        for (const Ipv6Prefix& earlier : port.addresses)
            if (earlier.addr == a)
                entry.fail(a.to_string() + " is already assigned to this port");
        for (const PortConfig& other : config_.ports)
            for (const Ipv6Prefix& earlier : other.addresses)
                if (earlier.addr == a)
                    entry.fail(a.to_string() + " is already assigned to port '" + other.name +
                               "' (" + position(other.mark) + ")");
        port.addresses.push_back(address);
    }
}

void Loader::read_port_ioam(const Field& field, PortIoamConfig& ioam) {
    if (field.is_null()) return;
    MapReader map(field, {"enabled", "id", "id_wide"});
    if (auto f = map.optional("enabled")) ioam.enabled = yaml::read_bool(*f);
    if (auto f = map.optional("id")) ioam.id = uint16_t(yaml::read_uint(*f, 0, kMaxPortIoamId));
    if (auto f = map.optional("id_wide"))
        ioam.id_wide = uint32_t(yaml::read_uint(*f, 0, kMaxPortIoamIdWide));
}

void Loader::read_schemas(const Field& field) {
    for (const Field& entry : yaml::read_sequence(field))
        config_.schemas.push_back(read_schema(entry));
}

SchemaConfig Loader::read_schema(const Field& entry) {
    MapReader map(entry, {"id", "data", "hex"});
    SchemaConfig schema;
    schema.mark = map.mark();

    Field id = map.required("id");
    schema.id = uint32_t(yaml::read_uint(id, 0, kMaxSchemaId));
    for (size_t i = 0; i < config_.schemas.size(); ++i)
        if (config_.schemas[i].id == schema.id)
            id.fail("schema " + std::to_string(schema.id) + " is already defined by schemas[" +
                    std::to_string(i) + "] at " + position(config_.schemas[i].mark));

    auto data = map.optional("data");
    auto hex = map.optional("hex");
    if (data && hex) hex->fail("give either 'data' or 'hex', not both");
    if (!data && !hex)
        throw YamlError{map.mark(), "missing the schema bytes in " + map.path() +
                                        ": give 'data' (a string) or 'hex' (hex digits)"};
    const Field& bytes_field = data ? *data : *hex;
    if (data) {
        std::string text = yaml::read_string(*data);
        schema.data.assign(text.begin(), text.end());
    } else {
        schema.data = read_hex_bytes(*hex);
    }
    if (schema.data.empty() || schema.data.size() > kMaxSchemaBytes)
        bytes_field.fail("schema data must be 1.." + std::to_string(kMaxSchemaBytes) +
                         " octets, got " + std::to_string(schema.data.size()));
    return schema;
}

void Loader::read_namespaces(const Field& field) {
    for (const Field& entry : yaml::read_sequence(field))
        config_.namespaces.push_back(read_namespace(entry));
}

NamespaceConfig Loader::read_namespace(const Field& entry) {
    MapReader map(entry, {"id", "data", "wide", "schema"});
    NamespaceConfig ns;
    ns.mark = map.mark();

    Field id = map.required("id");
    ns.id = uint16_t(yaml::read_uint(id, 0, kMaxNamespaceId));
    for (size_t i = 0; i < config_.namespaces.size(); ++i)
        if (config_.namespaces[i].id == ns.id)
            id.fail("namespace " + std::to_string(ns.id) + " is already defined by namespaces[" +
                    std::to_string(i) + "] at " + position(config_.namespaces[i].mark));

    if (auto f = map.optional("data"))
        ns.data = uint32_t(yaml::read_uint(*f, 0, kMaxNamespaceData));
    if (auto f = map.optional("wide")) ns.wide = yaml::read_uint(*f, 0, kMaxNamespaceWide);

    if (auto f = map.optional("schema")) {
        auto schema_id = uint32_t(yaml::read_uint(*f, 0, kMaxSchemaId));
        if (!config_.find_schema(schema_id))
            f->fail("schema " + std::to_string(schema_id) + " is not defined in schemas");
        // Linux binds 1:1 and silently moves a schema to the namespace set
        // last; in a file that can only be a mistake, so both are named.
        for (const NamespaceConfig& other : config_.namespaces)
            if (other.schema == schema_id)
                f->fail("schema " + std::to_string(schema_id) + " is already bound to namespace " +
                        std::to_string(other.id) + " (" + position(other.mark) +
                        "); namespace " + std::to_string(ns.id) +
                        " cannot share it (a schema belongs to at most one namespace)");
        ns.schema = schema_id;
    }
    return ns;
}

std::string Loader::require_port(const Field& field) const {
    std::string name = yaml::read_string(field);
    if (config_.find_port(name)) return name;
    std::string known;
    for (const PortConfig& p : config_.ports) known += (known.empty() ? "" : ", ") + p.name;
    field.fail("no port named " + yaml::quote(name) + " (ports: " + known + ")");
}

void Loader::read_routes(const Field& field) {
    for (const Field& entry : yaml::read_sequence(field))
        config_.routes.push_back(read_route(entry));
}

RouteConfig Loader::read_route(const Field& entry) {
    MapReader map(entry, {"prefix", "port", "via", "encap"});
    RouteConfig route;
    route.mark = map.mark();

    Field prefix = map.required("prefix");
    route.prefix = read_prefix(prefix, 0);
    if (route.prefix.has_host_bits())
        prefix.fail(route.prefix.to_string() + " has host bits set; the network is " +
                    Ipv6Prefix{route.prefix.network(), route.prefix.length}.to_string());
    const auto [it, fresh] = route_index_.try_emplace({route.prefix.addr, route.prefix.length},
                                                      config_.routes.size());
    if (!fresh)
        prefix.fail("a route to " + route.prefix.to_string() + " is already given by routes[" +
                    std::to_string(it->second) + "] at " +
                    position(config_.routes[it->second].mark));

    route.port = require_port(map.required("port"));
    if (auto f = map.optional("via")) route.via = read_unicast_ipv6(*f);
    if (auto f = map.optional("encap")) route.encap = read_encap(*f);
    return route;
}

// Keys are read in a fixed order (mode first, since the tunnel keys depend
// on it), so the result and the first error do not depend on the file's order.
EncapConfig Loader::read_encap(const Field& field) {
    MapReader map(field, {"mode", "tundst", "tunsrc", "freq", "trace"});
    EncapConfig encap;
    encap.mark = map.mark();

    auto mode = map.optional("mode");
    if (mode) encap.mode = read_encap_mode(*mode);
    const std::string with_mode =
        std::string("with mode ") + encap_mode_name(encap.mode) + (mode ? "" : " (the default)");
    auto tundst = map.optional("tundst");
    auto tunsrc = map.optional("tunsrc");
    if (encap.mode == EncapConfig::Mode::Inline) {
        for (const auto& f : {tundst, tunsrc})
            if (f)
                throw YamlError{yaml::to_mark(f->key.Mark()),
                                f->path + " is not allowed " + with_mode +
                                    ": inline inserts the trace into the packet itself, without "
                                    "a tunnel"};
    } else {
        if (!tundst)
            throw YamlError{map.mark(), yaml::child_path(map.path(), "tundst") +
                                            " is required " + with_mode +
                                            " (the tunnel's far end, which removes the outer "
                                            "header)"};
        encap.tundst = read_unicast_ipv6(*tundst);
        if (tunsrc) encap.tunsrc = read_unicast_ipv6(*tunsrc);
    }

    if (auto f = map.optional("freq")) read_encap_freq(*f, encap);
    read_trace(map.required("trace"), encap);
    return encap;
}

void Loader::read_trace(const Field& field, EncapConfig& encap) {
    MapReader map(field, {"type", "ns", "size"});
    encap.trace_type = read_trace_type(map.required("type"));
    encap.trace_ns = uint16_t(yaml::read_uint(map.required("ns"), 0, kMaxTraceNamespace));
    Field size = map.required("size");
    uint64_t octets = yaml::read_uint(size, 0, UINT64_MAX);
    if (octets < kMinTraceSize || octets > kMaxTraceSize || octets % 4 != 0)
        size.fail(std::to_string(octets) + " must be a multiple of 4 from " +
                  std::to_string(kMinTraceSize) + " to " + std::to_string(kMaxTraceSize) +
                  " (octets pre-allocated for node data)");
    encap.trace_size = uint32_t(octets);
}

void Loader::read_neighbors(const Field& field) {
    for (const Field& entry : yaml::read_sequence(field))
        config_.neighbors.push_back(read_neighbor(entry));
}

NeighborConfig Loader::read_neighbor(const Field& entry) {
    MapReader map(entry, {"address", "mac", "port"});
    NeighborConfig neighbor;
    neighbor.mark = map.mark();

    Field address = map.required("address");
    neighbor.address = read_unicast_ipv6(address);
    neighbor.mac = read_unicast_mac(map.required("mac"));
    neighbor.port = require_port(map.required("port"));
    const auto [it, fresh] =
        neighbor_index_.try_emplace({neighbor.port, neighbor.address}, config_.neighbors.size());
    if (!fresh)
        address.fail("neighbor " + neighbor.address.to_string() + " on port '" + neighbor.port +
                     "' is already given by neighbors[" + std::to_string(it->second) + "] at " +
                     position(config_.neighbors[it->second].mark));
    return neighbor;
}

// Every rule that needs only the file is checked here; whether the lcores
// exist and are workers is the EAL's to say, at start-up (rx_plan.cpp).
void Loader::read_lcores(const Field& field) {
    config_.lcores_mark = field.mark();
    std::vector<Field> entries = yaml::read_sequence(field);
    if (entries.empty())
        field.fail("give at least one lcore, or leave lcores out to spread the rx queues over "
                   "every worker lcore");
    for (const Field& entry : entries) config_.lcores.push_back(read_lcore(entry));
    // A queue nobody polls fills up and drops everything RSS sends it.
    for (const PortConfig& port : config_.ports)
        for (uint16_t q = 0; q < port.rx_queues; ++q)
            if (!rx_queue_index_.count({port.name, q}))
                field.fail("rx queue " + std::to_string(q) + " of port '" + port.name +
                           "' is polled by no lcore (port " + port.name + " has rx_queues: " +
                           std::to_string(port.rx_queues) + "; list every queue once)");
}

LcoreConfig Loader::read_lcore(const Field& entry) {
    MapReader map(entry, {"lcore", "rx"});
    LcoreConfig lc;
    lc.mark = map.mark();
    Field id = map.required("lcore");
    lc.lcore = unsigned(yaml::read_uint(id, 0, kMaxLcoreId));
    for (size_t i = 0; i < config_.lcores.size(); ++i)
        if (config_.lcores[i].lcore == lc.lcore)
            id.fail("lcore " + std::to_string(lc.lcore) + " is already given by lcores[" +
                    std::to_string(i) + "] at " + position(config_.lcores[i].mark) +
                    "; list all its queues in one entry");
    Field rx = map.required("rx");
    std::vector<Field> queues = yaml::read_sequence(rx);
    if (queues.empty())
        rx.fail("lcore " + std::to_string(lc.lcore) + " polls no rx queue; give at least one "
                "{port, queue} or leave the lcore out");
    for (const Field& q : queues) lc.rx.push_back(read_rx_queue(q));
    return lc;
}

RxQueueConfig Loader::read_rx_queue(const Field& entry) {
    MapReader map(entry, {"port", "queue"});
    RxQueueConfig rq;
    rq.mark = map.mark();
    rq.port = require_port(map.required("port"));
    const PortConfig& port = *config_.find_port(rq.port);
    Field queue = map.required("queue");
    const uint64_t q = yaml::read_uint(queue, 0, kMaxRxQueues - 1);
    if (q >= port.rx_queues)
        queue.fail("port '" + rq.port + "' has rx_queues: " + std::to_string(port.rx_queues) +
                   ", so its queues are 0.." + std::to_string(port.rx_queues - 1u) + "; got " +
                   std::to_string(q));
    rq.queue = uint16_t(q);
    const auto [it, fresh] = rx_queue_index_.try_emplace({rq.port, rq.queue}, rq.mark);
    if (!fresh)
        queue.fail("rx queue " + std::to_string(q) + " of port '" + rq.port +
                   "' is already polled (" + position(it->second) +
                   "); a queue has exactly one lcore");
    return rq;
}

std::string too_large(size_t bytes) {
    return "the configuration is larger than 16 MiB (" + std::to_string(bytes) +
           " bytes); refusing to parse it";
}

Config parse(const std::string& text) {
    if (text.size() > kMaxConfigBytes) throw YamlError{Mark{}, too_large(text.size())};
    yaml::check_text(text);
    YAML::Node document = yaml::load_document(text);
    if (document.IsNull())
        throw YamlError{Mark{}, "empty configuration (no YAML content, only blanks or comments)"};
    return Loader().load(document);
}

}  // namespace

Config load_config_text(const std::string& text, const std::string& source_name) {
    try {
        Config config = parse(text);
        config.source = source_name;
        return config;
    } catch (const YamlError& e) {
        throw ConfigError(source_name, e.mark, e.reason);
    } catch (const YAML::Exception& e) {
        // Not expected (the reader avoids throwing accessors), but a library
        // exception must still come out as a ConfigError with a position.
        throw ConfigError(source_name, yaml::to_mark(e.mark), "YAML error: " + e.msg);
    }
}

Config load_config_file(const std::string& path) {
    auto os_error = [&](const std::string& what, int err) {
        return ConfigError(path, Mark{}, what + ": " + std::system_category().message(err));
    };
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw os_error("cannot open the file", errno);
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};

    // Refuse a huge regular file before reading any of it; anything else
    // (pipe, device) is refused as soon as it has produced too much.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && size_t(st.st_size) > kMaxConfigBytes)
        throw ConfigError(path, Mark{}, too_large(size_t(st.st_size)));

    std::string text;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw os_error("cannot read the file", errno);
        }
        if (n == 0) break;
        text.append(buffer, size_t(n));
        if (text.size() > kMaxConfigBytes) throw ConfigError(path, Mark{}, too_large(text.size()));
    }
    return load_config_text(text, path);
}

}  // namespace ioamfwd::cp
