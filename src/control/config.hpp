#pragma once
// The appliance's configuration as plain, validated values. The YAML loader
// (config_loader.cpp) is the only producer; the snapshot compiler and the
// console are consumers. No DPDK, no yaml-cpp types here.
//
// The model mirrors Linux so the seed's commands translate line by line:
//   node.id / node.id_wide          = net.ipv6.ioam6_id / ioam6_id_wide
//   ports[].ioam.{enabled,id,id_wide} = net.ipv6.conf.<if>.ioam6_enabled / _id / _id_wide
//   namespaces[] / schemas[]        = ip ioam namespace add / schema add / namespace set .. schema
//   routes[] / neighbors[]          = ip -6 route add / ip -6 neigh add .. nud permanent
//   routes[].encap                  = ip -6 route add .. encap ioam6 ..
//   ports[].decap                   = ip link set ip6tnl0 up (ip6ip6 decapsulation)

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ipv6_addr.hpp"

namespace ioamfwd::cp {

/// Where a value came from in the YAML file (1-based; 0 = not from a file).
struct Mark {
    int line = 0;
    int column = 0;
};

struct NodeConfig {
    uint32_t id = 0xffffff;                   // 24 bits
    uint64_t id_wide = 0x00ffffffffffffffull;  // 56 bits
};

struct PortIoamConfig {
    bool enabled = false;         // process IOAM on ingress (ioam6_enabled)
    uint16_t id = 0xffff;         // ioam6_id
    uint32_t id_wide = 0xffffffff;  // ioam6_id_wide
};

struct PortConfig {
    /// What an edge port does with IOAM options arriving from outside the
    /// domain (RFC 9486 §6, RFC 9197 §4).
    enum class EdgePolicy {
        Ignore,  // neither process nor remove them (Linux's behaviour)
        Strip,   // remove them before processing the packet
        Drop,    // drop the packet
    };

    std::string name;    // operator's name, used by routes/neighbors ("eth0")
    std::string device;  // EAL device name ("net_pcap0", "0000:3b:00.0")
    std::optional<MacAddr> mac;  // overrides the device's own MAC
    uint16_t mtu = 1500;         // L3 MTU, 1280..9000
    std::vector<Ipv6Prefix> addresses;  // own addresses; each adds a connected route
    PortIoamConfig ioam;
    bool decap = false;  // end ip6ip6 tunnels arriving here (ip link set ip6tnl0 up)
    bool edge = false;   // faces the outside of the IOAM domain
    EdgePolicy edge_policy = EdgePolicy::Ignore;  // only with edge
    uint16_t rx_queues = 1;  // 1..kMaxRxQueues; more than one spreads by RSS
    Mark mark;
};

/// Upper bound of ports[].rx_queues.
inline constexpr unsigned kMaxRxQueues = 64;
/// Upper bound of a worker lcore id in lcores[] (DPDK's default RTE_MAX_LCORE
/// is 128; the start-up check against the EAL is the real one).
inline constexpr unsigned kMaxLcoreId = 1023;

struct NamespaceConfig {
    uint16_t id = 0;
    uint32_t data = 0xffffffff;
    uint64_t wide = 0xffffffffffffffffull;
    std::optional<uint32_t> schema;  // id of a schemas[] entry, bound 1:1
    Mark mark;
};

struct SchemaConfig {
    uint32_t id = 0;            // 24 bits (Linux accepts 32 and corrupts the OSS length)
    std::vector<uint8_t> data;  // raw bytes, 1..1020; padded to 4n when written
    Mark mark;
};

/// IOAM insertion on a route (= ip -6 route add .. encap ioam6 ..).
struct EncapConfig {
    enum class Mode { Inline, Encap, Auto };
    Mode mode = Mode::Inline;             // Linux's default
    std::optional<Ipv6Addr> tundst;       // required for encap and auto, refused for inline
    std::optional<Ipv6Addr> tunsrc;       // encap/auto only; default: egress port's address
    uint32_t freq_k = 1;                  // instrument k packets out of every n
    uint32_t freq_n = 1;
    uint32_t trace_type = 0;              // 24 bits, no bits 12-21 or 23
    uint16_t trace_ns = 0;
    uint32_t trace_size = 0;              // octets: multiple of 4, 4..244
    Mark mark;
};

/// "inline", "encap" or "auto": the YAML and ip-route spelling of a mode.
const char* encap_mode_name(EncapConfig::Mode mode);

struct RouteConfig {
    Ipv6Prefix prefix;  // no host bits set
    std::string port;   // a ports[].name
    std::optional<Ipv6Addr> via;  // gateway; absent = on-link (connected)
    std::optional<EncapConfig> encap;
    Mark mark;
};

struct NeighborConfig {
    Ipv6Addr address;
    MacAddr mac;
    std::string port;  // a ports[].name
    Mark mark;
};

/// RFC 4443 §2.4(f) rate limit of the ICMPv6 messages the appliance sends,
/// per worker lcore; Linux's defaults (net.ipv6.icmp ratelimit: 1000/s, burst 50).
struct IcmpConfig {
    uint32_t rate = 1000;  // messages per second; 0 = send none
    uint32_t burst = 50;
};

/// One rx queue a worker lcore polls.
struct RxQueueConfig {
    std::string port;  // a ports[].name
    uint16_t queue = 0;
    Mark mark;
};

/// lcores[]: which worker lcore polls which rx queues. Absent: the queues are
/// spread round-robin over the EAL's worker lcores (rx_plan.hpp).
struct LcoreConfig {
    unsigned lcore = 0;
    std::vector<RxQueueConfig> rx;
    Mark mark;
};

/// Neighbour discovery of next hops (RFC 4861 §10 defaults).
struct NdConfig {
    uint32_t reachable_ms = 30000;  // REACHABLE_TIME: how long a confirmation lasts
    uint32_t retrans_ms = 1000;     // RETRANS_TIMER: between solicitations
    uint32_t max_solicit = 3;       // MAX_MULTICAST_SOLICIT and MAX_UNICAST_SOLICIT
    uint32_t queue_per_neighbor = 3;  // packets held per unresolved neighbour
    uint32_t max_entries = 1024;      // neighbour cache size (fixed at start)
    uint32_t gc_stale_s = 60;         // unused STALE entries are removed after this
};

struct Config {
    std::string source;  // file name the config came from (for messages)
    NodeConfig node;
    IcmpConfig icmp;
    NdConfig nd;
    std::vector<PortConfig> ports;
    std::vector<NamespaceConfig> namespaces;
    std::vector<SchemaConfig> schemas;
    std::vector<RouteConfig> routes;
    std::vector<NeighborConfig> neighbors;
    std::vector<LcoreConfig> lcores;  // empty: the default spread
    Mark lcores_mark;                 // where lcores: is, for "queue left unpolled"

    const PortConfig* find_port(const std::string& name) const;
    const SchemaConfig* find_schema(uint32_t id) const;
};

/// A refused configuration: what() is "FILE:LINE:COLUMN: REASON".
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string file, Mark mark, std::string reason);
    const std::string& file() const { return file_; }
    const Mark& mark() const { return mark_; }
    const std::string& reason() const { return reason_; }

private:
    std::string file_;
    Mark mark_;
    std::string reason_;
};

/// Parse and fully validate a YAML configuration. Throws ConfigError on the
/// first problem; never returns a partly valid Config.
Config load_config_file(const std::string& path);
Config load_config_text(const std::string& text, const std::string& source_name);

}  // namespace ioamfwd::cp
