// Unit tests for the YAML configuration loader (src/control/config_loader.cpp):
// the three seed files, every value form the format allows, and one refusal
// per rule with the position and reason it must report.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "control/config.hpp"

namespace ioamfwd::cp {
namespace {

namespace fs = std::filesystem;

void add_with_parents(std::vector<fs::path>& candidates, fs::path dir) {
    for (; !dir.empty(); dir = dir.parent_path()) {
        candidates.push_back(dir);
        if (dir == dir.parent_path()) break;
    }
}

// The seed files live in the source tree; the build directory may be
// anywhere, so try the environment, then this file's own location (meson
// passes a path relative to the build root, where meson test runs), then the
// parents of the working directory and of the test binary.
fs::path source_root() {
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("IOAMFWD_SOURCE_ROOT"); env && *env)
        candidates.emplace_back(env);
    candidates.push_back(fs::path(__FILE__).parent_path() / ".." / "..");
    std::error_code ec;
    add_with_parents(candidates, fs::current_path(ec));
    add_with_parents(candidates, fs::read_symlink("/proc/self/exe", ec).parent_path());
    for (const fs::path& c : candidates) {
        if (fs::exists(c / "config" / "athos.yaml", ec)) return c.lexically_normal();
    }
    return candidates.front();
}

std::string seed_path(const std::string& name) {
    return (source_root() / "config" / name).string();
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// 1-based position of the first occurrence of `needle`, so that expected
// marks follow the seed files if their comments are edited.
Mark position_of(const std::string& text, const std::string& needle) {
    size_t at = text.find(needle);
    if (at == std::string::npos) return Mark{-1, -1};
    Mark m{1, 1};
    for (size_t i = 0; i < at; ++i) {
        if (text[i] == '\n') {
            ++m.line;
            m.column = 1;
        } else {
            ++m.column;
        }
    }
    return m;
}

void expect_mark(const Mark& actual, const Mark& expected) {
    EXPECT_EQ(actual.line, expected.line);
    EXPECT_EQ(actual.column, expected.column);
}

Ipv6Addr addr(const char* text) {
    auto a = Ipv6Addr::parse(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(Ipv6Addr{});
}

Ipv6Prefix prefix(const char* text) {
    auto p = Ipv6Prefix::parse(text);
    EXPECT_TRUE(p.has_value()) << text;
    return p.value_or(Ipv6Prefix{});
}

MacAddr mac(const char* text) {
    auto m = MacAddr::parse(text);
    EXPECT_TRUE(m.has_value()) << text;
    return m.value_or(MacAddr{});
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// The error a text must produce; fails the test if it loads.
ConfigError error_of(const std::string& text, const std::string& source = "test.yaml") {
    try {
        load_config_text(text, source);
    } catch (const ConfigError& e) {
        return e;
    }
    ADD_FAILURE() << "configuration was accepted:\n" << text;
    return ConfigError(source, Mark{-1, -1}, "<accepted>");
}

ConfigError file_error_of(const std::string& path) {
    try {
        load_config_file(path);
    } catch (const ConfigError& e) {
        return e;
    }
    ADD_FAILURE() << "file was accepted: " << path;
    return ConfigError(path, Mark{-1, -1}, "<accepted>");
}

const char* const kOnePort =
    "ports:\n"
    "  - name: eth0\n"
    "    device: net_pcap0\n";

// ---------------------------------------------------------------------------
// The seed configurations

TEST(ConfigSeed, AthosLoadsWithEveryValue) {
    const std::string path = seed_path("athos.yaml");
    const std::string text = read_all(path);
    ASSERT_FALSE(text.empty()) << "cannot read " << path;
    Config c = load_config_file(path);

    EXPECT_EQ(c.source, path);
    EXPECT_EQ(c.node.id, 1u);
    EXPECT_EQ(c.node.id_wide, 11111111u);

    ASSERT_EQ(c.ports.size(), 2u);
    const PortConfig& eth0 = c.ports[0];
    EXPECT_EQ(eth0.name, "eth0");
    EXPECT_EQ(eth0.device, "net_pcap0");
    ASSERT_TRUE(eth0.mac.has_value());
    EXPECT_EQ(*eth0.mac, mac("02:00:00:00:01:00"));
    EXPECT_EQ(eth0.mtu, 1500);
    ASSERT_EQ(eth0.addresses.size(), 1u);
    EXPECT_EQ(eth0.addresses[0], prefix("db01::2/64"));
    EXPECT_FALSE(eth0.ioam.enabled);
    EXPECT_EQ(eth0.ioam.id, 101);
    EXPECT_EQ(eth0.ioam.id_wide, 101101u);
    EXPECT_FALSE(eth0.decap);
    EXPECT_TRUE(eth0.edge);  // Alpha is outside the domain
    EXPECT_EQ(eth0.edge_policy, PortConfig::EdgePolicy::Ignore);
    expect_mark(eth0.mark, position_of(text, "name: eth0"));

    const PortConfig& eth1 = c.ports[1];
    EXPECT_EQ(eth1.name, "eth1");
    EXPECT_EQ(eth1.device, "net_pcap1");
    EXPECT_EQ(eth1.mac, mac("02:00:00:00:01:01"));
    EXPECT_EQ(eth1.mtu, 1500);
    ASSERT_EQ(eth1.addresses.size(), 1u);
    EXPECT_EQ(eth1.addresses[0], prefix("db04::1/64"));
    EXPECT_FALSE(eth1.ioam.enabled);
    EXPECT_EQ(eth1.ioam.id, 102);
    EXPECT_EQ(eth1.ioam.id_wide, 102102u);
    EXPECT_FALSE(eth1.decap);
    EXPECT_FALSE(eth1.edge);
    EXPECT_EQ(eth1.edge_policy, PortConfig::EdgePolicy::Ignore);
    expect_mark(eth1.mark, position_of(text, "name: eth1"));

    ASSERT_EQ(c.namespaces.size(), 1u);
    EXPECT_EQ(c.namespaces[0].id, 123);
    EXPECT_EQ(c.namespaces[0].data, 0xdeadbee0u);
    EXPECT_EQ(c.namespaces[0].wide, 0xcafec0caf00dc0deull);
    EXPECT_EQ(c.namespaces[0].schema, std::optional<uint32_t>(777));
    expect_mark(c.namespaces[0].mark, position_of(text, "id: 123"));

    ASSERT_EQ(c.schemas.size(), 1u);
    EXPECT_EQ(c.schemas[0].id, 777u);
    EXPECT_EQ(c.schemas[0].data, bytes_of("something that will be 4n-aligned"));
    expect_mark(c.schemas[0].mark, position_of(text, "id: 777"));
    ASSERT_NE(c.find_schema(777), nullptr);

    ASSERT_EQ(c.routes.size(), 2u);
    EXPECT_EQ(c.routes[0].prefix, prefix("db03::/64"));
    EXPECT_EQ(c.routes[0].via, addr("db04::2"));
    EXPECT_EQ(c.routes[0].port, "eth1");
    expect_mark(c.routes[0].mark, position_of(text, "prefix: db03::/64"));
    // The seed's `encap ioam6 mode encap tundst db02::2 trace prealloc type
    // 0x800000 ns 123 size 12`, with Linux's defaults for what it leaves out.
    ASSERT_TRUE(c.routes[0].encap.has_value());
    const EncapConfig& encap = *c.routes[0].encap;
    EXPECT_EQ(encap.mode, EncapConfig::Mode::Encap);
    EXPECT_EQ(encap.tundst, addr("db02::2"));
    EXPECT_FALSE(encap.tunsrc.has_value());
    EXPECT_EQ(encap.freq_k, 1u);
    EXPECT_EQ(encap.freq_n, 1u);
    EXPECT_EQ(encap.trace_type, 0x800000u);
    EXPECT_EQ(encap.trace_ns, 123);
    EXPECT_EQ(encap.trace_size, 12u);
    expect_mark(encap.mark, position_of(text, "mode: encap"));
    // The file quotes the seed's command next to the keys it became.
    EXPECT_NE(text.find("# ip -6 route add db03::/64 encap ioam6 mode encap tundst db02::2 "
                        "trace prealloc type 0x800000 ns 123 size 12 dev eth1\n"),
              std::string::npos);
    EXPECT_EQ(c.routes[1].prefix, prefix("db02::/64"));
    EXPECT_EQ(c.routes[1].via, addr("db04::2"));
    EXPECT_EQ(c.routes[1].port, "eth1");
    EXPECT_FALSE(c.routes[1].encap.has_value());
    expect_mark(c.routes[1].mark, position_of(text, "prefix: db02::/64"));

    ASSERT_EQ(c.neighbors.size(), 2u);
    EXPECT_EQ(c.neighbors[0].address, addr("db01::1"));
    EXPECT_EQ(c.neighbors[0].mac, mac("02:00:00:00:00:01"));
    EXPECT_EQ(c.neighbors[0].port, "eth0");
    expect_mark(c.neighbors[0].mark, position_of(text, "address: db01::1"));
    EXPECT_EQ(c.neighbors[1].address, addr("db04::2"));
    EXPECT_EQ(c.neighbors[1].mac, mac("02:00:00:00:02:00"));
    EXPECT_EQ(c.neighbors[1].port, "eth1");
    expect_mark(c.neighbors[1].mark, position_of(text, "address: db04::2"));
}

TEST(ConfigSeed, PorthosLoadsWithEveryValue) {
    const std::string path = seed_path("porthos.yaml");
    const std::string text = read_all(path);
    ASSERT_FALSE(text.empty()) << "cannot read " << path;
    Config c = load_config_file(path);

    EXPECT_EQ(c.node.id, 2u);
    EXPECT_EQ(c.node.id_wide, 22222222u);

    ASSERT_EQ(c.ports.size(), 2u);
    EXPECT_EQ(c.ports[0].name, "eth0");
    EXPECT_EQ(c.ports[0].device, "net_pcap0");
    EXPECT_EQ(c.ports[0].mac, mac("02:00:00:00:02:00"));
    EXPECT_EQ(c.ports[0].mtu, 1500);
    ASSERT_EQ(c.ports[0].addresses.size(), 1u);
    EXPECT_EQ(c.ports[0].addresses[0], prefix("db04::2/64"));
    EXPECT_TRUE(c.ports[0].ioam.enabled);
    EXPECT_EQ(c.ports[0].ioam.id, 201);
    EXPECT_EQ(c.ports[0].ioam.id_wide, 201201u);
    expect_mark(c.ports[0].mark, position_of(text, "name: eth0"));
    EXPECT_EQ(c.ports[1].name, "eth1");
    EXPECT_EQ(c.ports[1].device, "net_pcap1");
    EXPECT_EQ(c.ports[1].mac, mac("02:00:00:00:02:01"));
    ASSERT_EQ(c.ports[1].addresses.size(), 1u);
    EXPECT_EQ(c.ports[1].addresses[0], prefix("db02::1/64"));
    EXPECT_FALSE(c.ports[1].ioam.enabled);
    EXPECT_EQ(c.ports[1].ioam.id, 202);
    EXPECT_EQ(c.ports[1].ioam.id_wide, 202202u);
    expect_mark(c.ports[1].mark, position_of(text, "name: eth1"));
    // Porthos is inside the domain on both sides and ends no tunnel.
    for (const PortConfig& p : c.ports) {
        EXPECT_FALSE(p.decap) << p.name;
        EXPECT_FALSE(p.edge) << p.name;
        EXPECT_EQ(p.edge_policy, PortConfig::EdgePolicy::Ignore) << p.name;
    }

    ASSERT_EQ(c.namespaces.size(), 1u);
    EXPECT_EQ(c.namespaces[0].id, 123);
    EXPECT_EQ(c.namespaces[0].data, 0xdeadbee1u);
    EXPECT_EQ(c.namespaces[0].wide, 0xcafec0caf11dc0deull);
    EXPECT_EQ(c.namespaces[0].schema, std::optional<uint32_t>(666));
    expect_mark(c.namespaces[0].mark, position_of(text, "id: 123"));

    ASSERT_EQ(c.schemas.size(), 1u);
    EXPECT_EQ(c.schemas[0].id, 666u);
    EXPECT_EQ(c.schemas[0].data, bytes_of("Hello there -Obi"));
    expect_mark(c.schemas[0].mark, position_of(text, "id: 666"));

    ASSERT_EQ(c.routes.size(), 2u);
    EXPECT_EQ(c.routes[0].prefix, prefix("db03::/64"));
    EXPECT_EQ(c.routes[0].via, addr("db02::2"));
    EXPECT_EQ(c.routes[0].port, "eth1");
    EXPECT_EQ(c.routes[1].prefix, prefix("db01::/64"));
    EXPECT_EQ(c.routes[1].via, addr("db04::1"));
    EXPECT_EQ(c.routes[1].port, "eth0");
    expect_mark(c.routes[1].mark, position_of(text, "prefix: db01::/64"));
    EXPECT_FALSE(c.routes[0].encap.has_value());
    EXPECT_FALSE(c.routes[1].encap.has_value());

    ASSERT_EQ(c.neighbors.size(), 2u);
    EXPECT_EQ(c.neighbors[0].address, addr("db04::1"));
    EXPECT_EQ(c.neighbors[0].mac, mac("02:00:00:00:01:01"));
    EXPECT_EQ(c.neighbors[0].port, "eth0");
    EXPECT_EQ(c.neighbors[1].address, addr("db02::2"));
    EXPECT_EQ(c.neighbors[1].mac, mac("02:00:00:00:03:00"));
    EXPECT_EQ(c.neighbors[1].port, "eth1");
    expect_mark(c.neighbors[1].mark, position_of(text, "address: db02::2"));
}

TEST(ConfigSeed, AramisLoadsWithEveryValue) {
    const std::string path = seed_path("aramis.yaml");
    const std::string text = read_all(path);
    ASSERT_FALSE(text.empty()) << "cannot read " << path;
    Config c = load_config_file(path);

    EXPECT_EQ(c.node.id, 3u);
    EXPECT_EQ(c.node.id_wide, 33333333u);

    ASSERT_EQ(c.ports.size(), 2u);
    EXPECT_EQ(c.ports[0].name, "eth0");
    EXPECT_EQ(c.ports[0].device, "net_pcap0");
    EXPECT_EQ(c.ports[0].mac, mac("02:00:00:00:03:00"));
    ASSERT_EQ(c.ports[0].addresses.size(), 1u);
    EXPECT_EQ(c.ports[0].addresses[0], prefix("db02::2/64"));
    EXPECT_TRUE(c.ports[0].ioam.enabled);
    EXPECT_EQ(c.ports[0].ioam.id, 301);
    EXPECT_EQ(c.ports[0].ioam.id_wide, 301301u);
    EXPECT_TRUE(c.ports[0].decap);  // the end of Athos's tunnel to db02::2
    EXPECT_FALSE(c.ports[0].edge);
    EXPECT_EQ(c.ports[0].edge_policy, PortConfig::EdgePolicy::Ignore);
    EXPECT_EQ(c.ports[1].name, "eth1");
    EXPECT_EQ(c.ports[1].device, "net_pcap1");
    EXPECT_EQ(c.ports[1].mac, mac("02:00:00:00:03:01"));
    ASSERT_EQ(c.ports[1].addresses.size(), 1u);
    EXPECT_EQ(c.ports[1].addresses[0], prefix("db03::1/64"));
    EXPECT_FALSE(c.ports[1].ioam.enabled);
    EXPECT_EQ(c.ports[1].ioam.id, 302);
    EXPECT_EQ(c.ports[1].ioam.id_wide, 302302u);
    EXPECT_FALSE(c.ports[1].decap);
    EXPECT_TRUE(c.ports[1].edge);  // Beta is outside the domain
    EXPECT_EQ(c.ports[1].edge_policy, PortConfig::EdgePolicy::Ignore);

    ASSERT_EQ(c.namespaces.size(), 1u);
    EXPECT_EQ(c.namespaces[0].id, 123);
    EXPECT_EQ(c.namespaces[0].data, 0xdeadbee2u);
    EXPECT_EQ(c.namespaces[0].wide, 0xcafec0caf22dc0deull);
    EXPECT_FALSE(c.namespaces[0].schema.has_value());
    EXPECT_TRUE(c.schemas.empty());

    ASSERT_EQ(c.routes.size(), 2u);
    EXPECT_EQ(c.routes[0].prefix, prefix("db01::/64"));
    EXPECT_EQ(c.routes[0].via, addr("db02::1"));
    EXPECT_EQ(c.routes[0].port, "eth0");
    EXPECT_EQ(c.routes[1].prefix, prefix("db04::/64"));
    EXPECT_EQ(c.routes[1].via, addr("db02::1"));
    EXPECT_EQ(c.routes[1].port, "eth0");
    EXPECT_FALSE(c.routes[0].encap.has_value());
    EXPECT_FALSE(c.routes[1].encap.has_value());

    ASSERT_EQ(c.neighbors.size(), 2u);
    EXPECT_EQ(c.neighbors[0].address, addr("db02::1"));
    EXPECT_EQ(c.neighbors[0].mac, mac("02:00:00:00:02:01"));
    EXPECT_EQ(c.neighbors[0].port, "eth0");
    EXPECT_EQ(c.neighbors[1].address, addr("db03::2"));
    EXPECT_EQ(c.neighbors[1].mac, mac("02:00:00:00:00:04"));
    EXPECT_EQ(c.neighbors[1].port, "eth1");
    expect_mark(c.neighbors[1].mark, position_of(text, "address: db03::2"));
}

// Every gateway of every seed must be a neighbour on the route's port and lie
// in one of that port's subnets, or the demo cannot forward.
TEST(ConfigSeed, EveryGatewayIsAConnectedNeighbor) {
    for (const char* name : {"athos.yaml", "porthos.yaml", "aramis.yaml"}) {
        SCOPED_TRACE(name);
        Config c = load_config_file(seed_path(name));
        for (const RouteConfig& r : c.routes) {
            ASSERT_TRUE(r.via.has_value());
            const PortConfig* port = c.find_port(r.port);
            ASSERT_NE(port, nullptr);
            bool connected = false;
            for (const Ipv6Prefix& a : port->addresses) connected |= a.contains(*r.via);
            EXPECT_TRUE(connected) << r.via->to_string() << " not on " << r.port;
            bool known = false;
            for (const NeighborConfig& n : c.neighbors)
                known |= n.port == r.port && n.address == *r.via;
            EXPECT_TRUE(known) << r.via->to_string() << " has no neighbor entry";
        }
    }
}

// ---------------------------------------------------------------------------
// Accepted forms and defaults

TEST(ConfigLoad, DefaultsApplyWhenKeysAreAbsent) {
    Config c = load_config_text(kOnePort, "mini.yaml");
    EXPECT_EQ(c.source, "mini.yaml");
    EXPECT_EQ(c.node.id, 0xffffffu);
    EXPECT_EQ(c.node.id_wide, 0x00ffffffffffffffull);
    ASSERT_EQ(c.ports.size(), 1u);
    EXPECT_EQ(c.ports[0].name, "eth0");
    EXPECT_EQ(c.ports[0].device, "net_pcap0");
    EXPECT_FALSE(c.ports[0].mac.has_value());
    EXPECT_EQ(c.ports[0].mtu, 1500);
    EXPECT_TRUE(c.ports[0].addresses.empty());
    EXPECT_FALSE(c.ports[0].ioam.enabled);
    EXPECT_EQ(c.ports[0].ioam.id, 0xffff);
    EXPECT_EQ(c.ports[0].ioam.id_wide, 0xffffffffu);
    EXPECT_FALSE(c.ports[0].decap);
    EXPECT_FALSE(c.ports[0].edge);
    EXPECT_EQ(c.ports[0].edge_policy, PortConfig::EdgePolicy::Ignore);
    expect_mark(c.ports[0].mark, Mark{2, 5});
    EXPECT_TRUE(c.namespaces.empty());
    EXPECT_TRUE(c.schemas.empty());
    EXPECT_TRUE(c.routes.empty());
    EXPECT_TRUE(c.neighbors.empty());
    EXPECT_EQ(c.icmp.rate, 1000u);
    EXPECT_EQ(c.icmp.burst, 50u);
}

TEST(ConfigLoad, IcmpRateLimit) {
    Config c = load_config_text(std::string("icmp: {rate: 0, burst: 1000000}\n") + kOnePort,
                                "icmp.yaml");
    EXPECT_EQ(c.icmp.rate, 0u);  // 0 = never send ICMPv6
    EXPECT_EQ(c.icmp.burst, 1000000u);
    ConfigError e = error_of(std::string("icmp:\n  rate: 1000001\n") + kOnePort);
    EXPECT_EQ(e.mark().line, 2);
    EXPECT_NE(e.reason().find("icmp.rate"), std::string::npos) << e.what();
    e = error_of(std::string("icmp: {burst: 0}\n") + kOnePort);
    EXPECT_NE(e.reason().find("icmp.burst"), std::string::npos) << e.what();
    e = error_of(std::string("icmp: {rate: 10, limit: 3}\n") + kOnePort);
    EXPECT_NE(e.reason().find("unknown key 'limit'"), std::string::npos) << e.what();
}

TEST(ConfigNd, DefaultsAreRfc4861s) {
    Config c = load_config_text(kOnePort, "nd.yaml");
    EXPECT_EQ(c.nd.reachable_ms, 30000u);
    EXPECT_EQ(c.nd.retrans_ms, 1000u);
    EXPECT_EQ(c.nd.max_solicit, 3u);
    EXPECT_EQ(c.nd.queue_per_neighbor, 3u);
    EXPECT_EQ(c.nd.max_entries, 1024u);
    EXPECT_EQ(c.nd.gc_stale_s, 60u);
}

TEST(ConfigNd, RefusesOutOfRangeAndUnknownKeysWithTheirPosition) {
    Config c = load_config_text(std::string("nd: {retrans_ms: 100, max_solicit: 10}\n") + kOnePort,
                                "nd.yaml");
    EXPECT_EQ(c.nd.retrans_ms, 100u);
    EXPECT_EQ(c.nd.max_solicit, 10u);
    struct Bad {
        const char* yaml;
        const char* key;
        int line, column;
    };
    const Bad bad[] = {
        {"nd:\n  retrans_ms: 99\n", "nd.retrans_ms", 2, 15},
        {"nd:\n  reachable_ms: 999\n", "nd.reachable_ms", 2, 17},
        {"nd:\n  max_solicit: 0\n", "nd.max_solicit", 2, 16},
        {"nd:\n  queue_per_neighbor: 65\n", "nd.queue_per_neighbor", 2, 23},
        {"nd:\n  max_entries: 7\n", "nd.max_entries", 2, 16},
        {"nd:\n  gc_stale_s: -1\n", "nd.gc_stale_s", 2, 15},
        {"nd:\n  delay_ms: 5\n", "delay_ms", 2, 3},
    };
    for (const Bad& b : bad) {
        ConfigError e = error_of(std::string(b.yaml) + kOnePort);
        EXPECT_NE(std::string(e.what()).find(b.key), std::string::npos) << e.what();
        EXPECT_EQ(e.mark().line, b.line) << e.what();
        EXPECT_EQ(e.mark().column, b.column) << e.what();
    }
}

TEST(ConfigLoad, NamespaceDefaultsAreAllOnes) {
    Config c = load_config_text(std::string(kOnePort) + "namespaces:\n  - id: 0\n", "t");
    ASSERT_EQ(c.namespaces.size(), 1u);
    EXPECT_EQ(c.namespaces[0].id, 0);
    EXPECT_EQ(c.namespaces[0].data, 0xffffffffu);
    EXPECT_EQ(c.namespaces[0].wide, 0xffffffffffffffffull);
    EXPECT_FALSE(c.namespaces[0].schema.has_value());
    expect_mark(c.namespaces[0].mark, Mark{5, 5});
}

TEST(ConfigLoad, RangeLimitsAreAccepted) {
    Config c = load_config_text(
        "node: {id: 0xFFFFFF, id_wide: 0x00ffffffffffffff}\n"
        "ports:\n"
        "  - {name: a, device: d0, mtu: 1280, ioam: {id: 65535, id_wide: 0xFFFFFFFF}}\n"
        "  - {name: b, device: d1, mtu: 9000, ioam: {id: 0, id_wide: 0}}\n"
        "namespaces:\n"
        "  - {id: 65535, data: 4294967295, wide: 0xFFFFFFFFFFFFFFFF, schema: 0xffffff}\n"
        "  - {id: 0, data: 0, wide: 0x0, schema: 0}\n"
        "schemas:\n"
        "  - {id: 0XFFFFFF, hex: ab}\n"
        "  - {id: 0, data: x}\n",
        "t");
    EXPECT_EQ(c.node.id, 0xffffffu);
    EXPECT_EQ(c.node.id_wide, 0x00ffffffffffffffull);
    EXPECT_EQ(c.ports[0].mtu, 1280);
    EXPECT_EQ(c.ports[0].ioam.id, 65535);
    EXPECT_EQ(c.ports[0].ioam.id_wide, 0xffffffffu);
    EXPECT_EQ(c.ports[1].mtu, 9000);
    EXPECT_EQ(c.ports[1].ioam.id, 0);
    EXPECT_EQ(c.ports[1].ioam.id_wide, 0u);
    EXPECT_EQ(c.namespaces[0].id, 65535);
    EXPECT_EQ(c.namespaces[0].data, 0xffffffffu);
    EXPECT_EQ(c.namespaces[0].wide, UINT64_MAX);
    EXPECT_EQ(c.namespaces[0].schema, std::optional<uint32_t>(0xffffff));
    EXPECT_EQ(c.namespaces[1].data, 0u);
    EXPECT_EQ(c.namespaces[1].wide, 0u);
    EXPECT_EQ(c.namespaces[1].schema, std::optional<uint32_t>(0));
    EXPECT_EQ(c.schemas[0].id, 0xffffffu);
    EXPECT_EQ(c.schemas[1].id, 0u);
    // Flow-style entries are marked at their opening brace.
    expect_mark(c.ports[1].mark, Mark{4, 5});
    expect_mark(c.schemas[1].mark, Mark{10, 5});
}

TEST(ConfigLoad, HexIsCaseInsensitive) {
    Config c = load_config_text(std::string(kOnePort) +
                                    "namespaces:\n"
                                    "  - {id: 0X7b, data: 0xDeadBeef, wide: 0XCAFEc0caf00DC0DE}\n",
                                "t");
    EXPECT_EQ(c.namespaces[0].id, 123);
    EXPECT_EQ(c.namespaces[0].data, 0xdeadbeefu);
    EXPECT_EQ(c.namespaces[0].wide, 0xcafec0caf00dc0deull);
}

TEST(ConfigLoad, SchemaBytes) {
    std::string max_data(1020, 'x');
    Config c = load_config_text(std::string(kOnePort) +
                                    "schemas:\n"
                                    "  - {id: 1, hex: \"48656C6c6F00ff\"}\n"
                                    "  - {id: 2, data: \"caf\xc3\xa9 \xe2\x9c\x93\"}\n"
                                    "  - {id: 3, data: \"a\\0b\\x41\"}\n"
                                    "  - {id: 4, data: plain text}\n"
                                    "  - {id: 5, data: \"" + max_data + "\"}\n"
                                    "  - {id: 6, hex: " + std::string(2040, 'f') + "}\n",
                                "t");
    ASSERT_EQ(c.schemas.size(), 6u);
    EXPECT_EQ(c.schemas[0].data, (std::vector<uint8_t>{'H', 'e', 'l', 'l', 'o', 0x00, 0xff}));
    // A string contributes its UTF-8 bytes, as `ip ioam schema add` does.
    EXPECT_EQ(c.schemas[1].data,
              (std::vector<uint8_t>{'c', 'a', 'f', 0xc3, 0xa9, ' ', 0xe2, 0x9c, 0x93}));
    // YAML escapes in double quotes are decoded.
    EXPECT_EQ(c.schemas[2].data, (std::vector<uint8_t>{'a', 0x00, 'b', 'A'}));
    EXPECT_EQ(c.schemas[3].data, bytes_of("plain text"));
    EXPECT_EQ(c.schemas[4].data.size(), 1020u);
    EXPECT_EQ(c.schemas[5].data, std::vector<uint8_t>(1020, 0xff));
}

TEST(ConfigLoad, EmptyOptionalSectionsReadAsAbsent) {
    Config c = load_config_text(
        "node:\n"
        "ports:\n"
        "  - name: eth0\n"
        "    device: net_pcap0\n"
        "    addresses:\n"
        "    ioam:\n"
        "namespaces:\n"
        "schemas: []\n"
        "routes:\n"
        "neighbors:\n"
        "  # - address: db01::1\n",
        "t");
    EXPECT_EQ(c.node.id, 0xffffffu);
    EXPECT_TRUE(c.ports[0].addresses.empty());
    EXPECT_EQ(c.ports[0].ioam.id, 0xffff);
    EXPECT_TRUE(c.namespaces.empty());
    EXPECT_TRUE(c.schemas.empty());
    EXPECT_TRUE(c.routes.empty());
    EXPECT_TRUE(c.neighbors.empty());
}

TEST(ConfigLoad, AddressAndRouteForms) {
    Config c = load_config_text(
        "routes:                # before ports: sections may come in any order\n"
        "  - {prefix: \"::/0\", port: eth0, via: \"fe80::1\"}\n"
        "  - {prefix: 2001:db8::5, port: eth0}\n"
        "  - {prefix: 2001:db8:1::/48, port: eth1}\n"
        "neighbors:\n"
        "  - {address: \"fe80::1\", mac: 02:aa:bb:cc:dd:ee, port: eth0}\n"
        "  - {address: \"fe80::1\", mac: 02-AA-BB-CC-DD-EF, port: eth1}\n"
        "ports:\n"
        "  - name: eth0\n"
        "    device: \"0000:3b:00.0\"\n"
        "    mac: 0A:00:00:00:00:01\n"
        "    addresses: [2001:db8::1, fd00::1/8, \"2001:db8:0:1::1/128\"]\n"
        "  - {name: eth1, device: net_pcap1}\n",
        "t");
    ASSERT_EQ(c.ports[0].addresses.size(), 3u);
    EXPECT_EQ(c.ports[0].addresses[0], prefix("2001:db8::1/128"));
    EXPECT_EQ(c.ports[0].addresses[1], prefix("fd00::1/8"));
    EXPECT_EQ(c.ports[0].addresses[2], prefix("2001:db8:0:1::1/128"));
    EXPECT_EQ(c.ports[0].device, "0000:3b:00.0");
    EXPECT_EQ(c.ports[0].mac, mac("0a:00:00:00:00:01"));
    EXPECT_EQ(c.routes[0].prefix, prefix("::/0"));
    EXPECT_EQ(c.routes[0].via, addr("fe80::1"));
    EXPECT_EQ(c.routes[1].prefix, prefix("2001:db8::5/128"));
    EXPECT_FALSE(c.routes[1].via.has_value());
    EXPECT_FALSE(c.routes[1].encap.has_value());
    EXPECT_EQ(c.routes[2].prefix, prefix("2001:db8:1::/48"));
    // The same neighbour address on two ports is two distinct entries.
    EXPECT_EQ(c.neighbors.size(), 2u);
    EXPECT_EQ(c.neighbors[1].mac, mac("02:aa:bb:cc:dd:ef"));
    expect_mark(c.routes[0].mark, Mark{2, 5});
}

TEST(ConfigLoad, UnboundSchemaAndQuotedKeysAreAccepted) {
    Config c = load_config_text(
        "\"ports\":\n"
        "  - {'name': eth0, \"device\": net_pcap0}\n"
        "schemas:\n"
        "  - {id: 9, data: \"unused\"}\n",
        "t");
    EXPECT_EQ(c.schemas.size(), 1u);
}

TEST(ConfigLoad, CrLfAndBomAreAccepted) {
    std::string text = read_all(seed_path("porthos.yaml"));
    ASSERT_FALSE(text.empty());
    std::string crlf;
    for (char ch : text) {
        if (ch == '\n') crlf += '\r';
        crlf += ch;
    }
    Config unix_lines = load_config_text(text, "lf");
    Config dos_lines = load_config_text("\xef\xbb\xbf" + crlf, "crlf");
    EXPECT_EQ(dos_lines.node.id, unix_lines.node.id);
    EXPECT_EQ(dos_lines.schemas.at(0).data, unix_lines.schemas.at(0).data);
    EXPECT_EQ(dos_lines.routes.size(), unix_lines.routes.size());
    EXPECT_EQ(dos_lines.ports.at(1).mark.line, unix_lines.ports.at(1).mark.line);
}

// ---------------------------------------------------------------------------
// Exact messages

TEST(ConfigMessage, MessageIsFileLineColumnReason) {
    ConfigError e = error_of(
        "node:\n"
        "  id: 16777216\n" + std::string(kOnePort),
        "athos.yaml");
    EXPECT_STREQ(e.what(), "athos.yaml:2:7: node.id: 16777216 is out of range 0..0xFFFFFF");
    EXPECT_EQ(e.file(), "athos.yaml");
    EXPECT_EQ(e.mark().line, 2);
    EXPECT_EQ(e.mark().column, 7);
    EXPECT_EQ(e.reason(), "node.id: 16777216 is out of range 0..0xFFFFFF");
}

TEST(ConfigMessage, UnknownKeyNamesTheMappingAndSuggests) {
    ConfigError e = error_of(std::string(kOnePort) +
                             "    ioam:\n"
                             "      enabeld: true\n");
    EXPECT_STREQ(e.what(),
                 "test.yaml:5:7: unknown key 'enabeld' in ports[0].ioam; did you mean 'enabled'?");
}

TEST(ConfigMessage, UnknownKeyFarFromAnyListsTheKeys) {
    ConfigError e = error_of(std::string(kOnePort) + "colour: blue\n");
    EXPECT_STREQ(e.what(),
                 "test.yaml:4:1: unknown key 'colour' at the top level; expected one of: node, icmp, nd, "
                 "ports, namespaces, schemas, routes, neighbors, lcores");
}

TEST(ConfigMessage, DuplicateKeyPointsAtTheSecond) {
    ConfigError e = error_of(
        "ports:\n"
        "  - name: eth0\n"
        "    device: net_pcap0\n"
        "    name: eth1\n");
    EXPECT_STREQ(e.what(),
                 "test.yaml:4:5: duplicate key 'name' in ports[0] (first given at line 2, "
                 "column 5)");
}

TEST(ConfigMessage, SchemaBoundTwiceNamesBothNamespaces) {
    ConfigError e = error_of(std::string(kOnePort) +
                             "schemas:\n"
                             "  - {id: 666, data: Hello there -Obi}\n"
                             "namespaces:\n"
                             "  - {id: 123, schema: 666}\n"
                             "  - {id: 124, schema: 666}\n");
    EXPECT_STREQ(e.what(),
                 "test.yaml:8:23: namespaces[1].schema: schema 666 is already bound to namespace "
                 "123 (line 7, column 5); namespace 124 cannot share it (a schema belongs to at "
                 "most one namespace)");
}

TEST(ConfigMessage, RouteWithHostBitsSuggestsTheNetwork) {
    ConfigError e = error_of(std::string(kOnePort) +
                             "routes:\n"
                             "  - prefix: db03::1/64\n"
                             "    port: eth0\n");
    EXPECT_STREQ(e.what(), "test.yaml:5:13: routes[0].prefix: db03::1/64 has host bits set; the "
                           "network is db03::/64");
}

TEST(ConfigMessage, MissingFileGivesTheOsReason) {
    const std::string path =
        (fs::temp_directory_path() / "ioamfwd-no-such-dir" / "x.yaml").string();
    ConfigError e = file_error_of(path);
    EXPECT_EQ(std::string(e.what()),
              path + ":0:0: cannot open the file: No such file or directory");
}

// ---------------------------------------------------------------------------
// One refusal per rule: line, column and a distinctive part of the reason.

struct BadCase {
    std::string name;
    std::string text;
    int line;
    int column;
    std::string reason;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

std::string port_with(const std::string& extra_lines) {
    return std::string(kOnePort) + extra_lines;
}

std::string node_id(const std::string& key, const std::string& value) {
    return "node:\n  " + key + ": " + value + "\n" + kOnePort;
}

// A port whose ioam block (line 5 onwards, values at column 11+) is `lines`.
std::string port_ioam(const std::string& lines) { return port_with("    ioam:\n" + lines); }

std::string namespace_entry(const std::string& body) {
    return port_with("namespaces:\n  - " + body + "\n");
}

std::string schema_entry(const std::string& body) {
    return port_with("schemas:\n  - " + body + "\n");
}

std::string route_entry(const std::string& body) {
    return port_with("routes:\n  - " + body + "\n");
}

std::string neighbor_entry(const std::string& body) {
    return port_with("neighbors:\n  - " + body + "\n");
}

std::string address(const std::string& value) {
    return port_with("    addresses: [" + value + "]\n");
}

// A route whose encap block starts at line 8, keys at column 7.
std::string encap_block(const std::string& lines) {
    return port_with("routes:\n  - prefix: db03::/64\n    port: eth0\n    encap:\n" + lines);
}

const char* const kTraceLine = "      trace: {type: 0x800000, ns: 123, size: 12}\n";

// A case whose position is that of the first occurrence of `at` in the text,
// for texts where counting columns by hand would be error-prone.
BadCase bad_at(std::string name, std::string text, const std::string& at, std::string reason) {
    Mark m = position_of(text, at);
    return BadCase{std::move(name), std::move(text), m.line, m.column, std::move(reason)};
}

std::vector<BadCase> bad_cases() {
    const std::string two_ports =
        "ports:\n"
        "  - {name: eth0, device: net_pcap0, addresses: [db01::2/64]}\n";
    return {
        // structure
        {"UnknownTopKey", "portz:\n  - {name: eth0, device: d}\n", 1, 1,
         "unknown key 'portz' at the top level; did you mean 'ports'?"},
        {"UnknownPortKey", port_with("    mtuu: 1500\n"), 4, 5,
         "unknown key 'mtuu' in ports[0]; did you mean 'mtu'?"},
        {"UnknownIoamKey", port_ioam("      enabeld: true\n"), 5, 7,
         "unknown key 'enabeld' in ports[0].ioam"},
        {"UnknownRouteKey", route_entry("{prefix: db03::/64, port: eth0, metric: 5}"), 5, 37,
         "unknown key 'metric' in routes[0]"},
        {"DuplicateTopKey", port_with("ports: []\n"), 4, 1,
         "duplicate key 'ports' at the top level (first given at line 1, column 1)"},
        {"DuplicateIoamKey", port_ioam("      id: 1\n      id: 2\n"), 6, 7,
         "duplicate key 'id' in ports[0].ioam (first given at line 5, column 7)"},
        {"DuplicateNamespaceKey", namespace_entry("{id: 1, data: 2, data: 3}"), 5, 22,
         "duplicate key 'data' in namespaces[0]"},
        {"PortsIsAMapping", "ports:\n  name: eth0\n", 2, 3,
         "ports: expected a sequence ('- ' entries or [a, b]), got a mapping"},
        {"NameIsASequence", "ports:\n  - name: [eth0]\n    device: d\n", 2, 11,
         "ports[0].name: expected a string, got a sequence"},
        {"NodeIsAScalar", "node: 5\n" + std::string(kOnePort), 1, 7,
         "node: expected a mapping, got the scalar '5'"},
        {"IoamIsASequence", port_ioam("      - enabled\n"), 5, 7,
         "ports[0].ioam: expected a mapping, got a sequence"},
        {"PortEntryIsAScalar", "ports:\n  - eth0\n", 2, 5,
         "ports[0]: expected a mapping, got the scalar 'eth0'"},
        {"KeyIsASequence", "? [a, b]\n: 1\n" + std::string(kOnePort), 1, 3,
         "a key must be a scalar, got a sequence at the top level"},
        {"ExplicitTag", node_id("id", "!!int 5"), 2, 7,
         "node.id: explicit YAML tags are not supported"},
        // required keys
        {"MissingPorts", "node: {id: 1}\n", 1, 1, "missing required key 'ports' at the top level"},
        {"EmptyPorts", "ports: []\n", 1, 8, "ports: at least one port is required"},
        {"NullPorts", "ports:\n", 1, 1, "ports: at least one port is required"},
        {"PortWithoutDevice", "ports:\n  - name: eth0\n    mtu: 1500\n", 2, 5,
         "missing required key 'device' in ports[0]"},
        {"PortWithoutName", "ports:\n  - device: net_pcap0\n", 2, 5,
         "missing required key 'name' in ports[0]"},
        {"NamespaceWithoutId", namespace_entry("data: 5"), 5, 5,
         "missing required key 'id' in namespaces[0]"},
        {"SchemaWithoutId", schema_entry("data: x"), 5, 5,
         "missing required key 'id' in schemas[0]"},
        {"RouteWithoutPort", route_entry("prefix: db03::/64"), 5, 5,
         "missing required key 'port' in routes[0]"},
        {"NeighborWithoutMac", neighbor_entry("{address: db01::1, port: eth0}"), 5, 5,
         "missing required key 'mac' in neighbors[0]"},
        {"EmptyValue", "ports:\n  - name:\n    device: d\n", 2, 5,
         "ports[0].name: missing value: expected a string"},
        // integers
        {"NodeIdTooLarge", node_id("id", "0x1000000"), 2, 7,
         "node.id: 0x1000000 is out of range 0..0xFFFFFF"},
        {"NodeIdWideTooLarge", node_id("id_wide", "0x100000000000000"), 2, 12,
         "node.id_wide: 0x100000000000000 is out of range 0..0xFFFFFFFFFFFFFF"},
        {"PortIoamIdTooLarge", port_ioam("      id: 65536\n"), 5, 11,
         "ports[0].ioam.id: 65536 is out of range 0..0xFFFF"},
        {"PortIoamIdWideTooLarge", port_ioam("      id_wide: 4294967296\n"), 5, 16,
         "ports[0].ioam.id_wide: 4294967296 is out of range 0..0xFFFFFFFF"},
        {"NamespaceIdTooLarge", namespace_entry("id: 65536"), 5, 9,
         "namespaces[0].id: 65536 is out of range 0..0xFFFF"},
        {"NamespaceDataTooLarge", namespace_entry("{id: 1, data: 0x100000000}"), 5, 19,
         "namespaces[0].data: 0x100000000 is out of range 0..0xFFFFFFFF"},
        {"NamespaceWideBeyond64Bits", namespace_entry("{id: 1, wide: 0x10000000000000000}"), 5,
         19, "namespaces[0].wide: 0x10000000000000000 is out of range 0..0xFFFFFFFFFFFFFFFF"},
        {"DecimalBeyond64Bits", node_id("id", "99999999999999999999999"), 2, 7,
         "node.id: 99999999999999999999999 is out of range 0..0xFFFFFF"},
        {"SchemaIdTooLarge", schema_entry("{id: 0x1000000, data: x}"), 5, 10,
         "schemas[0].id: 0x1000000 is out of range 0..0xFFFFFF"},
        {"NamespaceSchemaTooLarge", namespace_entry("{id: 1, schema: 16777216}"), 5, 21,
         "namespaces[0].schema: 16777216 is out of range 0..0xFFFFFF"},
        {"MtuTooSmall", port_with("    mtu: 1279\n"), 4, 10,
         "ports[0].mtu: 1279 is out of range 1280..9000"},
        {"MtuTooLarge", port_with("    mtu: 9001\n"), 4, 10,
         "ports[0].mtu: 9001 is out of range 1280..9000"},
        {"Negative", node_id("id", "-1"), 2, 7, "node.id: '-1' is negative"},
        {"PlusSign", node_id("id", "+5"), 2, 7, "node.id: '+5' has a sign"},
        {"Fraction", node_id("id", "1.5"), 2, 7,
         "node.id: '1.5' is not an unsigned integer (write decimal digits, or 0x and hex digits)"},
        {"Exponent", node_id("id", "1e3"), 2, 7, "node.id: '1e3' is not an unsigned integer"},
        {"OctalLooking", node_id("id", "010"), 2, 7, "node.id: '010' has a leading zero"},
        {"OctalPrefix", node_id("id", "0o10"), 2, 7, "node.id: '0o10' is not an unsigned integer"},
        {"HexWithoutDigits", node_id("id", "0x"), 2, 7, "node.id: '0x' is not an unsigned integer"},
        {"HexBadDigit", node_id("id", "0x1g"), 2, 7, "node.id: '0x1g' is not an unsigned integer"},
        {"Underscore", node_id("id_wide", "1_000"), 2, 12,
         "node.id_wide: '1_000' is not an unsigned integer"},
        {"QuotedNumber", node_id("id", "\"5\""), 2, 7,
         "node.id: expected an unsigned integer, got the quoted string '5'"},
        {"NumberIsAMapping", node_id("id", "{a: 1}"), 2, 7,
         "node.id: expected an unsigned integer, got a mapping"},
        {"NullNumber", node_id("id", "~"), 2, 3,
         "node.id: missing value: expected an unsigned integer"},
        // booleans
        {"BoolYes", port_ioam("      enabled: yes\n"), 5, 16,
         "ports[0].ioam.enabled: expected true or false, got 'yes'"},
        {"BoolOne", port_ioam("      enabled: 1\n"), 5, 16,
         "ports[0].ioam.enabled: expected true or false, got '1'"},
        {"BoolCapitalised", port_ioam("      enabled: True\n"), 5, 16,
         "expected true or false, got 'True'"},
        {"BoolQuoted", port_ioam("      enabled: \"true\"\n"), 5, 16,
         "ports[0].ioam.enabled: expected true or false, got the quoted string 'true'"},
        // port names, devices, MACs
        {"PortNameTooLong", "ports:\n  - {name: " + std::string(33, 'p') + ", device: d}\n", 2,
         12, "ports[0].name: a port name must be 1..32 characters, got 33"},
        {"PortNameBadCharacter", "ports:\n  - {name: \"eth/0\", device: d}\n", 2, 12,
         "'eth/0' is not a valid port name"},
        {"PortNameEmpty", "ports:\n  - {name: \"\", device: d}\n", 2, 12,
         "a port name must be 1..32 characters, got 0"},
        {"DeviceWithArguments",
         "ports:\n  - {name: eth0, device: \"net_pcap0,rx_pcap=in.pcap\"}\n", 2, 26,
         "contains device arguments"},
        {"DuplicatePortName", port_with("  - {name: eth0, device: net_pcap1}\n"), 4, 12,
         "ports[1].name: port name 'eth0' is already used by ports[0] at line 2, column 5"},
        {"DuplicateDevice", port_with("  - {name: eth1, device: net_pcap0}\n"), 4, 26,
         "ports[1].device: device 'net_pcap0' is already used by port 'eth0'"},
        {"BadMac", port_with("    mac: 02:00:00:00:00\n"), 4, 10,
         "ports[0].mac: '02:00:00:00:00' is not a MAC address"},
        {"MacWithGarbage", port_with("    mac: 02:00:00:00:00:0g\n"), 4, 10,
         "is not a MAC address"},
        {"MulticastMac", port_with("    mac: 01:00:5e:00:00:01\n"), 4, 10,
         "ports[0].mac: 01:00:5e:00:00:01 is a multicast or broadcast MAC address"},
        {"BroadcastMac", port_with("    mac: ff:ff:ff:ff:ff:ff\n"), 4, 10,
         "is a multicast or broadcast MAC address"},
        {"ZeroMac", port_with("    mac: 00:00:00:00:00:00\n"), 4, 10,
         "the all-zero MAC address is not a station address"},
        // port addresses
        {"BadAddress", address("db04::zz/64"), 4, 17,
         "ports[0].addresses[0]: 'db04::zz/64' is not an IPv6 address"},
        {"Ipv4Address", address("10.0.0.1/24"), 4, 17, "'10.0.0.1/24' is not an IPv6 address"},
        {"PrefixLengthTooLong", address("db04::2/129"), 4, 17,
         "'db04::2/129': the prefix length must be a number in 1..128"},
        {"PrefixLengthNotANumber", address("db04::2/x"), 4, 17,
         "the prefix length must be a number"},
        {"PrefixLengthEmpty", address("db04::2/"), 4, 17, "the prefix length must be a number"},
        {"PrefixLengthLeadingZero", address("db04::2/064"), 4, 17,
         "the prefix length must be a number"},
        {"AddressPrefixLengthZero", address("db04::2/0"), 4, 17,
         "the prefix length must be a number in 1..128"},
        {"MulticastAddress", address("ff02::1/64"), 4, 17, "ff02::1 is a multicast address"},
        {"UnspecifiedAddress", address("\"::/64\""), 4, 17, "the unspecified address ::"},
        {"LoopbackAddress", address("\"::1\""), 4, 17, "the loopback address ::1"},
        {"LinkLocalAddress", address("fe80::1/64"), 4, 17, "fe80::1 is link-local"},
        {"AddressesIsAScalar", port_with("    addresses: db04::2/64\n"), 4, 16,
         "ports[0].addresses: expected a sequence"},
        {"DuplicateAddressSamePort", address("db04::2/64, db04::2/128"), 4, 29,
         "ports[0].addresses[1]: db04::2 is already assigned to this port"},
        {"DuplicateAddressAcrossPorts",
         two_ports + "  - {name: eth1, device: d1, addresses: [db01::2/128]}\n", 3, 42,
         "ports[1].addresses[0]: db01::2 is already assigned to port 'eth0' (line 2, column 5)"},
        // namespaces and schemas
        {"DuplicateNamespace", namespace_entry("{id: 123}\n  - {id: 0x7b}"), 6, 10,
         "namespaces[1].id: namespace 123 is already defined by namespaces[0] at line 5, column 5"},
        {"DuplicateSchema", schema_entry("{id: 1, data: a}\n  - {id: 1, data: b}"), 6, 10,
         "schemas[1].id: schema 1 is already defined by schemas[0]"},
        {"NamespaceSchemaMissing", namespace_entry("{id: 123, schema: 777}"), 5, 23,
         "namespaces[0].schema: schema 777 is not defined in schemas"},
        {"SchemaBoundTwice",
         port_with("schemas: [{id: 7, data: x}]\nnamespaces:\n  - {id: 1, schema: 7}\n"
                   "  - {id: 2, schema: 7}\n"),
         7, 21, "schema 7 is already bound to namespace 1"},
        {"SchemaDataTooLong", schema_entry("{id: 1, data: " + std::string(1021, 'y') + "}"), 5,
         19, "schemas[0].data: schema data must be 1..1020 octets, got 1021"},
        {"SchemaUtf8DataTooLong",
         schema_entry("{id: 1, data: \"" + std::string(1019, 'y') + "\xc3\xa9\"}"), 5, 19,
         "schema data must be 1..1020 octets, got 1021"},
        {"SchemaDataEmpty", schema_entry("{id: 1, data: \"\"}"), 5, 19,
         "schemas[0].data: schema data must be 1..1020 octets, got 0"},
        {"SchemaHexEmpty", schema_entry("{id: 1, hex: \"\"}"), 5, 18,
         "schemas[0].hex: schema data must be 1..1020 octets, got 0"},
        {"SchemaHexTooLong", schema_entry("{id: 1, hex: " + std::string(2042, 'a') + "}"), 5, 18,
         "schema data must be 1..1020 octets, got 1021"},
        {"SchemaDataAndHex", schema_entry("{id: 1, data: x, hex: \"78\"}"), 5, 27,
         "schemas[0].hex: give either 'data' or 'hex', not both"},
        {"SchemaWithoutBytes", schema_entry("{id: 1}"), 5, 5,
         "missing the schema bytes in schemas[0]"},
        {"SchemaHexBadDigit", schema_entry("{id: 1, hex: 4g}"), 5, 18,
         "schemas[0].hex: character 2 ('g') is not a hex digit"},
        {"SchemaHexWith0x", schema_entry("{id: 1, hex: 0x41}"), 5, 18,
         "character 2 ('x') is not a hex digit"},
        {"SchemaHexOdd", schema_entry("{id: 1, hex: abc}"), 5, 18,
         "schemas[0].hex: odd number of hex digits (3)"},
        {"SchemaDataIsASequence", schema_entry("{id: 1, data: [1, 2]}"), 5, 19,
         "schemas[0].data: expected a string, got a sequence"},
        // routes
        {"RouteHostBits", route_entry("{prefix: db03::1/64, port: eth0}"), 5, 14,
         "db03::1/64 has host bits set; the network is db03::/64"},
        {"RouteUnknownPort", route_entry("{prefix: db03::/64, port: eth9}"), 5, 31,
         "routes[0].port: no port named 'eth9' (ports: eth0)"},
        {"RouteViaMulticast", route_entry("{prefix: db03::/64, port: eth0, via: ff02::2}"), 5,
         42, "routes[0].via: ff02::2 is a multicast address"},
        {"RouteViaUnspecified", route_entry("{prefix: db03::/64, port: eth0, via: \"::\"}"), 5,
         42, "routes[0].via: the unspecified address :: is not a unicast address"},
        {"RouteViaBad", route_entry("{prefix: db03::/64, port: eth0, via: db02::2/64}"), 5, 42,
         "routes[0].via: 'db02::2/64' is not an IPv6 address"},
        {"RouteBadPrefix", route_entry("{prefix: db03:::/64, port: eth0}"), 5, 14,
         "routes[0].prefix: 'db03:::/64' is not an IPv6 address"},
        {"DuplicateRoute",
         route_entry("{prefix: db03::/64, port: eth0}\n  - {prefix: db03:0::/64, port: eth0}"),
         6, 14, "routes[1].prefix: a route to db03::/64 is already given by routes[0]"},
        // routes[].encap
        bad_at("EncapIsAScalar", port_with("routes:\n  - {prefix: db03::/64, port: eth0, "
                                           "encap: inline}\n"),
               "inline}", "routes[0].encap: expected a mapping, got the scalar 'inline'"),
        bad_at("EncapIsEmpty", encap_block(""), "encap:",
               "routes[0].encap: expected a mapping, got no value"),
        bad_at("EncapUnknownKey", encap_block("      tundest: db02::2\n" + std::string(kTraceLine)),
               "tundest", "unknown key 'tundest' in routes[0].encap; did you mean 'tundst'?"),
        bad_at("EncapPreallocKey",
               encap_block("      prealloc: true\n" + std::string(kTraceLine)), "prealloc",
               "unknown key 'prealloc' in routes[0].encap"),
        bad_at("EncapDuplicateKey",
               encap_block("      mode: inline\n" + std::string(kTraceLine) +
                           "      mode: encap\n"),
               "mode: encap", "duplicate key 'mode' in routes[0].encap (first given at line 8"),
        bad_at("EncapWithoutTrace", encap_block("      mode: inline\n"), "mode: inline",
               "missing required key 'trace' in routes[0].encap"),
        bad_at("TraceIsAScalar", encap_block("      trace: prealloc\n"), "prealloc",
               "routes[0].encap.trace: expected a mapping, got the scalar 'prealloc'"),
        bad_at("TraceUnknownKey",
               encap_block("      trace: {type: 0x800000, ns: 1, size: 4, nodelen: 1}\n"),
               "nodelen", "unknown key 'nodelen' in routes[0].encap.trace; expected one of: "
                          "type, ns, size"),
        bad_at("TraceDuplicateKey",
               encap_block("      trace: {type: 0x800000, ns: 1, size: 4, ns: 2}\n"), "ns: 2",
               "duplicate key 'ns' in routes[0].encap.trace"),
        bad_at("TraceWithoutType", encap_block("      trace: {ns: 1, size: 4}\n"), "{ns",
               "missing required key 'type' in routes[0].encap.trace"),
        bad_at("TraceWithoutNs", encap_block("      trace: {type: 0x800000, size: 4}\n"), "{type",
               "missing required key 'ns' in routes[0].encap.trace"),
        bad_at("TraceWithoutSize", encap_block("      trace: {type: 0x800000, ns: 1}\n"), "{type",
               "missing required key 'size' in routes[0].encap.trace"),
        bad_at("TraceTypeZero", encap_block("      trace: {type: 0, ns: 1, size: 4}\n"), "0,",
               "routes[0].encap.trace.type: 0 selects no data; set at least one bit"),
        bad_at("TraceTypeTooWide",
               encap_block("      trace: {type: 0x1000000, ns: 1, size: 4}\n"), "0x1000000",
               "routes[0].encap.trace.type: 0x1000000 is out of range 0..0xFFFFFF"),
        bad_at("TraceTypeBit12", encap_block("      trace: {type: 0x000800, ns: 1, size: 4}\n"),
               "0x000800", "routes[0].encap.trace.type: 0x000800 sets bit 12: bits 12-21 are "
                           "undefined and cannot be inserted"),
        bad_at("TraceTypeLowestUndefinedBitIsNamed",
               encap_block("      trace: {type: 0xc00c05, ns: 1, size: 4}\n"), "0xc00c05",
               "0xc00c05 sets bit 12: bits 12-21 are undefined"),
        bad_at("TraceTypeDecimalIsShownInHex",
               encap_block("      trace: {type: 4, ns: 1, size: 4}\n"), "4,",
               "routes[0].encap.trace.type: 0x000004 sets bit 21"),
        bad_at("TraceTypeBit23", encap_block("      trace: {type: 0x800001, ns: 1, size: 4}\n"),
               "0x800001", "routes[0].encap.trace.type: 0x800001 sets bit 23: bit 23 is reserved "
                           "and cannot be inserted"),
        bad_at("TraceTypeQuoted",
               encap_block("      trace: {type: \"0x800000\", ns: 1, size: 4}\n"), "\"0x8",
               "expected an unsigned integer, got the quoted string '0x800000'"),
        bad_at("TraceNsTooLarge",
               encap_block("      trace: {type: 0x800000, ns: 65536, size: 4}\n"), "65536",
               "routes[0].encap.trace.ns: 65536 is out of range 0..0xFFFF"),
        bad_at("TraceNsNegative", encap_block("      trace: {type: 0x800000, ns: -1, size: 4}\n"),
               "-1", "routes[0].encap.trace.ns: '-1' is negative"),
        bad_at("TraceSize246", encap_block("      trace: {type: 0x800000, ns: 1, size: 246}\n"),
               "246", "routes[0].encap.trace.size: 246 must be a multiple of 4 from 4 to 244 "
                      "(octets pre-allocated for node data)"),
        bad_at("TraceSizeHuge",
               encap_block("      trace: {type: 0x800000, ns: 1, size: 0x100000004}\n"),
               "0x100000004", "routes[0].encap.trace.size: 4294967300 must be a multiple of 4"),
        bad_at("TraceSizeNotANumber",
               encap_block("      trace: {type: 0x800000, ns: 1, size: 12 octets}\n"), "12 oct",
               "routes[0].encap.trace.size: '12 octets' is not an unsigned integer"),
        bad_at("EncapModeUnknown",
               encap_block("      mode: tunnel\n" + std::string(kTraceLine)), "tunnel",
               "routes[0].encap.mode: 'tunnel' is not an encap mode; expected inline, encap or "
               "auto"),
        bad_at("EncapModeIsCaseSensitive",
               encap_block("      mode: Encap\n" + std::string(kTraceLine)), "Encap",
               "'Encap' is not an encap mode"),
        bad_at("EncapModeNumber", encap_block("      mode: 2\n" + std::string(kTraceLine)),
               "2\n", "'2' is not an encap mode"),
        bad_at("EncapModeEmpty", encap_block("      mode:\n" + std::string(kTraceLine)),
               "mode:", "routes[0].encap.mode: missing value: expected a string"),
        bad_at("TundstMissingWithEncap",
               encap_block("      mode: encap\n" + std::string(kTraceLine)), "mode: encap",
               "routes[0].encap.tundst is required with mode encap"),
        bad_at("TundstMissingWithAuto",
               encap_block(std::string(kTraceLine) + "      mode: auto\n"), "trace:",
               "routes[0].encap.tundst is required with mode auto"),
        bad_at("TundstWithInline",
               encap_block("      mode: inline\n      tundst: db02::2\n" +
                           std::string(kTraceLine)),
               "tundst", "routes[0].encap.tundst is not allowed with mode inline: inline inserts "
                         "the trace into the packet itself, without a tunnel"),
        bad_at("TundstWithDefaultMode",
               encap_block("      tundst: db02::2\n" + std::string(kTraceLine)), "tundst",
               "routes[0].encap.tundst is not allowed with mode inline (the default)"),
        bad_at("TunsrcWithInline",
               encap_block("      tunsrc: db04::1\n      mode: inline\n" +
                           std::string(kTraceLine)),
               "tunsrc", "routes[0].encap.tunsrc is not allowed with mode inline"),
        bad_at("TundstUnspecified",
               encap_block("      mode: encap\n      tundst: \"::\"\n" + std::string(kTraceLine)),
               "\"::\"", "routes[0].encap.tundst: the unspecified address :: is not a unicast "
                         "address"),
        bad_at("TundstMulticast",
               encap_block("      mode: auto\n      tundst: ff02::1\n" + std::string(kTraceLine)),
               "ff02::1", "routes[0].encap.tundst: ff02::1 is a multicast address"),
        bad_at("TundstLoopback",
               encap_block("      mode: encap\n      tundst: \"::1\"\n" + std::string(kTraceLine)),
               "\"::1\"", "routes[0].encap.tundst: the loopback address ::1 cannot be used here"),
        bad_at("TundstWithLength",
               encap_block("      mode: encap\n      tundst: db02::2/64\n" +
                           std::string(kTraceLine)),
               "db02::2/64", "routes[0].encap.tundst: 'db02::2/64' is not an IPv6 address"),
        bad_at("TunsrcUnspecified",
               encap_block("      mode: encap\n      tundst: db02::2\n      tunsrc: \"::\"\n" +
                           std::string(kTraceLine)),
               "\"::\"", "routes[0].encap.tunsrc: the unspecified address :: is not a unicast "
                         "address"),
        bad_at("TunsrcMulticast",
               encap_block("      mode: encap\n      tundst: db02::2\n      tunsrc: ff05::2\n" +
                           std::string(kTraceLine)),
               "ff05::2", "routes[0].encap.tunsrc: ff05::2 is a multicast address"),
        bad_at("FreqKAboveN", encap_block("      freq: 3/2\n" + std::string(kTraceLine)), "3/2",
               "routes[0].encap.freq: 3/2: K must not exceed N"),
        // ports[].decap / edge / edge_policy
        bad_at("DecapNotABool", port_with("    decap: yes\n"), "yes",
               "ports[0].decap: expected true or false, got 'yes'"),
        bad_at("EdgeNotABool", port_with("    edge: 1\n"), "1\n",
               "ports[0].edge: expected true or false, got '1'"),
        bad_at("EdgePolicyWithoutEdge", port_with("    edge_policy: strip\n"), "edge_policy",
               "ports[0].edge_policy needs edge: true"),
        bad_at("EdgePolicyWithEdgeFalse",
               port_with("    edge_policy: drop\n    edge: false\n"), "edge_policy",
               "ports[0].edge_policy needs edge: true"),
        bad_at("EdgePolicyIgnoreWithoutEdge", port_with("    edge_policy: ignore\n"),
               "edge_policy", "ports[0].edge_policy needs edge: true"),
        bad_at("EdgePolicyUnknown", port_with("    edge: true\n    edge_policy: block\n"),
               "block", "ports[0].edge_policy: 'block' is not an edge policy; expected ignore, "
                        "strip or drop"),
        bad_at("EdgePolicyIsCaseSensitive",
               port_with("    edge: true\n    edge_policy: Strip\n"), "Strip",
               "'Strip' is not an edge policy"),
        bad_at("EdgePolicyIsASequence", port_with("    edge: true\n    edge_policy: [strip]\n"),
               "[strip]", "ports[0].edge_policy: expected a string, got a sequence"),
        bad_at("EdgePolicyTypo", port_with("    edge: true\n    edge_polcy: strip\n"),
               "edge_polcy", "unknown key 'edge_polcy' in ports[0]; did you mean 'edge_policy'?"),
        bad_at("DecapTypo", port_with("    decapp: true\n"), "decapp",
               "unknown key 'decapp' in ports[0]; did you mean 'decap'?"),
        // neighbors
        {"NeighborMulticastMac",
         neighbor_entry("{address: db01::1, mac: 33:33:00:00:00:01, port: eth0}"), 5, 29,
         "neighbors[0].mac: 33:33:00:00:00:01 is a multicast or broadcast MAC address"},
        {"NeighborMulticastAddress",
         neighbor_entry("{address: ff02::1, mac: 02:00:00:00:00:01, port: eth0}"), 5, 15,
         "neighbors[0].address: ff02::1 is a multicast address"},
        {"NeighborUnknownPort",
         neighbor_entry("{address: db01::1, mac: 02:00:00:00:00:01, port: eth1}"), 5, 54,
         "neighbors[0].port: no port named 'eth1'"},
        {"DuplicateNeighbor",
         neighbor_entry("{address: db01::1, mac: 02:00:00:00:00:01, port: eth0}\n"
                        "  - {address: \"db01:0::1\", mac: 02:00:00:00:00:02, port: eth0}"),
         6, 15, "neighbors[1].address: neighbor db01::1 on port 'eth0' is already given by "
                "neighbors[0] at line 5, column 5"},
        // documents
        {"EmptyText", "", 0, 0, "empty configuration"},
        {"BlankText", "\n   \n\n", 0, 0, "empty configuration"},
        {"CommentsOnly", "# nothing here\n# at all\n", 0, 0, "empty configuration"},
        {"DocumentMarkerOnly", "---\n", 0, 0, "empty configuration"},
        {"TopLevelSequence", "- ports: []\n", 1, 1,
         "the top level must be a mapping of sections"},
        {"TopLevelScalar", "hello\n", 1, 1, "the top level must be a mapping of sections"},
        {"TwoDocuments", std::string(kOnePort) + "---\n" + kOnePort, 4, 1,
         "a second YAML document"},
        {"UnclosedBracket", "ports: [{name: eth0, device: d}\n", 2, 1,
         "YAML syntax error: end of sequence flow not found"},
        {"TabIndentation", "ports:\n\t- name: eth0\n", 2, 2, "YAML syntax error"},
        {"BadIndentation", "ports:\n  - name: eth0\n   device: d\n", 3, 4, "YAML syntax error"},
        {"UnknownAlias", "ports: *nowhere\n", 1, 8, "YAML syntax error"},
        // yaml-cpp 0.7's LoadAll() loops for ever, allocating, on these.
        {"StrayComma", ",", 1, 1, "YAML syntax error: unexpected character"},
        {"CommaAfterFlowDocument", "[a],", 1, 4, "YAML syntax error: unexpected character"},
        {"ControlCharacter", "ports:\x01\n", 1, 7, "control character 0x01"},
        {"InvalidUtf8", "ports:\n  - {name: \xff, device: d}\n", 2, 12, "invalid UTF-8 byte 0xFF"},
        {"OverlongUtf8", "# \xc0\xaf\n", 1, 3, "invalid UTF-8 sequence"},
        {"TruncatedUtf8", "# \xe2\x9c", 1, 3, "truncated UTF-8 sequence"},
        {"C1Control", "# \xc2\x80\n", 1, 3, "character U+0080 is not allowed"},
    };
}

class ConfigRefusal : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigRefusal, ReportsPositionAndReason) {
    const BadCase& c = GetParam();
    ConfigError e = error_of(c.text);
    EXPECT_EQ(e.file(), "test.yaml");
    EXPECT_EQ(e.mark().line, c.line) << e.what();
    EXPECT_EQ(e.mark().column, c.column) << e.what();
    EXPECT_NE(e.reason().find(c.reason), std::string::npos)
        << "reason:   " << e.reason() << "\nexpected: " << c.reason;
    // what() is always the file, the same position, then the reason.
    EXPECT_EQ(std::string(e.what()), "test.yaml:" + std::to_string(e.mark().line) + ":" +
                                         std::to_string(e.mark().column) + ": " + e.reason());
}

INSTANTIATE_TEST_SUITE_P(Rules, ConfigRefusal, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                             return info.param.name;
                         });

// ---------------------------------------------------------------------------
// routes[].encap (= ip -6 route add .. encap ioam6 ..). The LOCAL route
// checks of the Linux selftests (ioam6.sh) run in inline and in encap mode;
// so do these, with auto added.

// A route with `encap: {BODY}` on line 7; BODY starts at column 13.
std::string encap_flow(const std::string& body) {
    return port_with("routes:\n  - prefix: db03::/64\n    port: eth0\n    encap: {" + body +
                     "}\n");
}

EncapConfig encap_of(const std::string& body) {
    Config c = load_config_text(encap_flow(body), "t");
    EXPECT_EQ(c.routes.size(), 1u);
    EXPECT_TRUE(c.routes.at(0).encap.has_value()) << body;
    return c.routes.at(0).encap.value_or(EncapConfig{});
}

// The keys that select `mode`; encap and auto need a tunnel destination.
std::string with_mode(const std::string& mode) {
    return mode == "inline" ? "mode: inline" : "mode: " + mode + ", tundst: db02::2";
}

void expect_reason(const ConfigError& e, const std::string& part) {
    EXPECT_NE(e.reason().find(part), std::string::npos)
        << "reason:   " << e.reason() << "\nexpected: " << part;
}

std::string hex24(uint32_t value) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%06x", unsigned(value));
    return buf;
}

class ConfigEncapMode : public ::testing::TestWithParam<std::string> {
protected:
    std::string mode() const { return with_mode(GetParam()); }
};

// local_route_ns: a route without ns is refused, ns 0 is accepted.
TEST_P(ConfigEncapMode, TraceNsIsRequiredAndZeroIsFine) {
    ConfigError e = error_of(encap_flow(mode() + ", trace: {type: 0x800000, size: 4}"));
    expect_reason(e, "missing required key 'ns' in routes[0].encap.trace");
    EXPECT_EQ(encap_of(mode() + ", trace: {type: 0x800000, ns: 0, size: 4}").trace_ns, 0);
    EXPECT_EQ(encap_of(mode() + ", trace: {type: 0x800000, ns: 0xffff, size: 4}").trace_ns,
              0xffff);
}

// local_route_trace_type: a missing type is refused, 0x800000 is accepted.
TEST_P(ConfigEncapMode, TraceTypeIsRequired) {
    ConfigError e = error_of(encap_flow(mode() + ", trace: {ns: 123, size: 4}"));
    expect_reason(e, "missing required key 'type' in routes[0].encap.trace");
    EXPECT_EQ(encap_of(mode() + ", trace: {type: 0x800000, ns: 123, size: 4}").trace_type,
              0x800000u);
}

// local_route_trace_size: a missing size is refused, 4 is accepted.
TEST_P(ConfigEncapMode, TraceSizeIsRequired) {
    ConfigError e = error_of(encap_flow(mode() + ", trace: {type: 0x800000, ns: 123}"));
    expect_reason(e, "missing required key 'size' in routes[0].encap.trace");
    EXPECT_EQ(encap_of(mode() + ", trace: {type: 0x800000, ns: 123, size: 4}").trace_size, 4u);
}

TEST_P(ConfigEncapMode, TraceIsRequired) {
    ConfigError e = error_of(encap_flow(mode()));
    expect_reason(e, "missing required key 'trace' in routes[0].encap");
}

INSTANTIATE_TEST_SUITE_P(Modes, ConfigEncapMode, ::testing::Values("inline", "encap", "auto"));

// Linux's defaults for what `encap ioam6` leaves out: mode inline, freq 1/1.
TEST(ConfigEncap, DefaultsAreLinuxs) {
    EncapConfig e = encap_of("trace: {type: 0x800000, ns: 123, size: 12}");
    EXPECT_EQ(e.mode, EncapConfig::Mode::Inline);
    EXPECT_FALSE(e.tundst.has_value());
    EXPECT_FALSE(e.tunsrc.has_value());
    EXPECT_EQ(e.freq_k, 1u);
    EXPECT_EQ(e.freq_n, 1u);
    EXPECT_EQ(e.trace_type, 0x800000u);
    EXPECT_EQ(e.trace_ns, 123);
    EXPECT_EQ(e.trace_size, 12u);
    expect_mark(e.mark, Mark{7, 12});
}

TEST(ConfigEncap, EveryValueIsRead) {
    EncapConfig e = encap_of(
        "mode: auto, tundst: db02::2, tunsrc: db04::1, freq: 3/7, "
        "trace: {type: 0xfff002, ns: 0x7b, size: 244}");
    EXPECT_EQ(e.mode, EncapConfig::Mode::Auto);
    EXPECT_EQ(e.tundst, addr("db02::2"));
    EXPECT_EQ(e.tunsrc, addr("db04::1"));
    EXPECT_EQ(e.freq_k, 3u);
    EXPECT_EQ(e.freq_n, 7u);
    EXPECT_EQ(e.trace_type, 0xfff002u);  // every bit a node can insert
    EXPECT_EQ(e.trace_ns, 123);
    EXPECT_EQ(e.trace_size, 244u);
    // Integers may be decimal or hex, as everywhere else.
    EncapConfig d = encap_of("trace: {type: 8388608, ns: 65535, size: 0x10}");
    EXPECT_EQ(d.trace_type, 0x800000u);
    EXPECT_EQ(d.trace_ns, 0xffff);
    EXPECT_EQ(d.trace_size, 16u);
}

TEST(ConfigEncap, ModeValues) {
    const std::string trace = ", trace: {type: 0x800000, ns: 1, size: 4}";
    EXPECT_EQ(encap_of("mode: inline" + trace).mode, EncapConfig::Mode::Inline);
    EXPECT_EQ(encap_of("mode: encap, tundst: db02::2" + trace).mode, EncapConfig::Mode::Encap);
    EXPECT_EQ(encap_of("mode: auto, tundst: db02::2" + trace).mode, EncapConfig::Mode::Auto);
    EXPECT_EQ(encap_of("mode: \"encap\", tundst: db02::2" + trace).mode,
              EncapConfig::Mode::Encap);
    EXPECT_EQ(encap_of(trace.substr(2)).mode, EncapConfig::Mode::Inline);
    for (const char* bad : {"INLINE", "Auto", "tunnel", "ip6ip6", "\"inline \"", "\"\"", "1"}) {
        SCOPED_TRACE(bad);
        ConfigError e = error_of(encap_flow(std::string("mode: ") + bad + trace));
        expect_reason(e, "is not an encap mode; expected inline, encap or auto");
    }
}

// local_route_tunsrc: in encap mode with and without tunsrc accepted; in
// inline mode without accepted, with refused.
TEST(ConfigEncap, TunsrcOnlyWithATunnel) {
    const std::string trace = ", trace: {type: 0x800000, ns: 123, size: 4}";
    EXPECT_FALSE(encap_of(with_mode("encap") + trace).tunsrc.has_value());
    EXPECT_EQ(encap_of(with_mode("encap") + ", tunsrc: db04::1" + trace).tunsrc,
              addr("db04::1"));
    EXPECT_EQ(encap_of(with_mode("auto") + ", tunsrc: db04::1" + trace).tunsrc, addr("db04::1"));
    EXPECT_FALSE(encap_of(with_mode("inline") + trace).tunsrc.has_value());

    ConfigError e = error_of(encap_flow(with_mode("inline") + ", tunsrc: db04::1" + trace));
    expect_reason(e, "routes[0].encap.tunsrc is not allowed with mode inline:");
    expect_mark(e.mark(), Mark{7, 27});  // at the key
    ConfigError d = error_of(encap_flow("tunsrc: db04::1" + trace));
    expect_reason(d, "routes[0].encap.tunsrc is not allowed with mode inline (the default)");
}

// local_route_tundst: in encap mode without tundst refused, with accepted;
// in inline mode without accepted, with refused.
TEST(ConfigEncap, TundstRequiredWithATunnelAndRefusedInline) {
    const std::string trace = ", trace: {type: 0x800000, ns: 123, size: 4}";
    for (const char* mode : {"encap", "auto"}) {
        SCOPED_TRACE(mode);
        ConfigError e = error_of(encap_flow(std::string("mode: ") + mode + trace));
        expect_reason(e, std::string("routes[0].encap.tundst is required with mode ") + mode);
        expect_mark(e.mark(), Mark{7, 12});  // at the encap mapping
        EXPECT_EQ(encap_of(with_mode(mode) + trace).tundst, addr("db02::2"));
    }
    EXPECT_FALSE(encap_of(with_mode("inline") + trace).tundst.has_value());
    ConfigError e = error_of(encap_flow("mode: inline, tundst: db02::2" + trace));
    expect_reason(e, "routes[0].encap.tundst is not allowed with mode inline:");
    // Link-local and unique-local tunnel ends are ordinary unicast addresses.
    EXPECT_EQ(encap_of("mode: encap, tundst: \"fe80::2\", tunsrc: fd00::1" + trace).tundst,
              addr("fe80::2"));
}

// local_route_trace_type_bits: single-bit types; bits 0-11 and 22 accepted,
// bits 12-21 and 23 refused. Bit n is 1 << (23 - n), 0x800000 being bit 0.
class ConfigEncapTypeBit : public ::testing::TestWithParam<std::tuple<std::string, unsigned>> {};

TEST_P(ConfigEncapTypeBit, OnlyBitsANodeCanFillAreAccepted) {
    const auto& [mode, bit] = GetParam();
    const uint32_t type = 1u << (23 - bit);
    const std::string text =
        encap_flow(with_mode(mode) + ", trace: {type: " + hex24(type) + ", ns: 123, size: 4}");
    const bool fillable = bit <= 11 || bit == 22;
    if (fillable) {
        Config c = load_config_text(text, "t");
        EXPECT_EQ(c.routes.at(0).encap->trace_type, type);
        return;
    }
    ConfigError e = error_of(text);
    expect_reason(e, "routes[0].encap.trace.type: " + hex24(type) + " sets bit " +
                         std::to_string(bit) +
                         (bit == 23 ? ": bit 23 is reserved and cannot be inserted"
                                    : ": bits 12-21 are undefined and cannot be inserted"));
}

INSTANTIATE_TEST_SUITE_P(
    AllBits, ConfigEncapTypeBit,
    ::testing::Combine(::testing::Values("inline", "encap"), ::testing::Range(0u, 24u)),
    [](const ::testing::TestParamInfo<std::tuple<std::string, unsigned>>& info) {
        return std::get<0>(info.param) + "_bit" + std::to_string(std::get<1>(info.param));
    });

// local_route_trace_size_values: sizes 0..248 accepted iff a multiple of 4
// in 4..244.
class ConfigEncapSize : public ::testing::TestWithParam<std::tuple<std::string, unsigned>> {};

TEST_P(ConfigEncapSize, MultiplesOfFourFromFourTo244) {
    const auto& [mode, size] = GetParam();
    const std::string text = encap_flow(with_mode(mode) + ", trace: {type: 0x800000, ns: 123, "
                                                          "size: " + std::to_string(size) + "}");
    if (size % 4 == 0 && size >= 4 && size <= 244) {
        Config c = load_config_text(text, "t");
        EXPECT_EQ(c.routes.at(0).encap->trace_size, size);
        return;
    }
    ConfigError e = error_of(text);
    expect_reason(e, "routes[0].encap.trace.size: " + std::to_string(size) +
                         " must be a multiple of 4 from 4 to 244");
}

INSTANTIATE_TEST_SUITE_P(
    Sizes0To248, ConfigEncapSize,
    ::testing::Combine(::testing::Values("inline", "encap"), ::testing::Range(0u, 249u)),
    [](const ::testing::TestParamInfo<std::tuple<std::string, unsigned>>& info) {
        return std::get<0>(info.param) + "_size" + std::to_string(std::get<1>(info.param));
    });

// freq K/N: 1 <= K <= N <= 1000000.
struct FreqCase {
    std::string name;
    std::string text;  // the YAML value, as written after `freq: `
    uint32_t k;        // 0 when refused
    uint32_t n;
    std::string reason;
    int column = 13;  // of the refusal, on line 8: the value's, or the key's when empty
};

void PrintTo(const FreqCase& c, std::ostream* os) { *os << c.name; }

class ConfigEncapFreq : public ::testing::TestWithParam<FreqCase> {};

TEST_P(ConfigEncapFreq, IsKOutOfN) {
    const FreqCase& c = GetParam();
    const std::string text = encap_block("      freq: " + c.text + "\n" + kTraceLine);
    if (c.k != 0) {
        Config config = load_config_text(text, "t");
        EXPECT_EQ(config.routes.at(0).encap->freq_k, c.k);
        EXPECT_EQ(config.routes.at(0).encap->freq_n, c.n);
        return;
    }
    ConfigError e = error_of(text);
    expect_mark(e.mark(), Mark{8, c.column});
    expect_reason(e, "routes[0].encap.freq: " + c.reason);
}

INSTANTIATE_TEST_SUITE_P(
    Values, ConfigEncapFreq,
    ::testing::Values(
        FreqCase{"OneOfTwo", "1/2", 1, 2, ""}, FreqCase{"TwoOfFour", "2/4", 2, 4, ""},
        FreqCase{"OneOfAMillion", "1/1000000", 1, 1000000, ""},
        FreqCase{"EveryPacket", "1/1", 1, 1, ""},
        FreqCase{"AMillionOfAMillion", "1000000/1000000", 1000000, 1000000, ""},
        FreqCase{"Quoted", "\"5/10\"", 5, 10, ""},
        FreqCase{"KZero", "0/1", 0, 0, "0/1: K and N must each be in 1..1000000"},
        FreqCase{"NZero", "1/0", 0, 0, "1/0: K and N must each be in 1..1000000"},
        FreqCase{"KAboveN", "2/1", 0, 0,
                 "2/1: K must not exceed N (K packets are instrumented out of every N)"},
        FreqCase{"NAboveAMillion", "1/1000001", 0, 0,
                 "1/1000001: K and N must each be in 1..1000000"},
        FreqCase{"KAboveAMillion", "1000001/1000001", 0, 0,
                 "1000001/1000001: K and N must each be in 1..1000000"},
        // Too long for any integer type: still out of range, not bad syntax.
        FreqCase{"Huge", "1/99999999999999999999999", 0, 0,
                 "1/99999999999999999999999: K and N must each be in 1..1000000"},
        FreqCase{"NoSlash", "1", 0, 0,
                 "'1' is not K/N; write two decimal numbers such as 1/2 (instrument K packets "
                 "out of every N)"},
        FreqCase{"Letters", "a/b", 0, 0, "'a/b' is not K/N"},
        FreqCase{"ThreeParts", "1/2/3", 0, 0, "'1/2/3' is not K/N"},
        FreqCase{"NoK", "/2", 0, 0, "'/2' is not K/N"},
        FreqCase{"NoN", "1/", 0, 0, "'1/' is not K/N"},
        FreqCase{"LeadingZero", "01/2", 0, 0, "'01/2' is not K/N"},
        FreqCase{"Hex", "0x1/0x2", 0, 0, "'0x1/0x2' is not K/N"},
        FreqCase{"Negative", "-1/2", 0, 0, "'-1/2' is not K/N"},
        FreqCase{"Signed", "+1/2", 0, 0, "'+1/2' is not K/N"},
        FreqCase{"Spaces", "1 / 2", 0, 0, "'1 / 2' is not K/N"},
        FreqCase{"Fraction", "0.5", 0, 0, "'0.5' is not K/N"},
        FreqCase{"Empty", "\"\"", 0, 0, "'' is not K/N"},
        FreqCase{"Missing", "", 0, 0, "missing value: expected a string", 7},
        FreqCase{"Sequence", "[1, 2]", 0, 0, "expected a string, got a sequence"}),
    [](const ::testing::TestParamInfo<FreqCase>& info) { return info.param.name; });

// The loader reads the keys in its own order, so any order in the file gives
// the same configuration: all 120 orders of the encap keys, each with all 6
// orders of the trace keys.
TEST(ConfigEncap, KeyOrderDoesNotMatter) {
    const std::vector<std::string> keys = {"      mode: encap\n", "      tundst: db02::2\n",
                                           "      tunsrc: db04::1\n", "      freq: 2/4\n",
                                           "TRACE"};
    const std::vector<std::string> trace_keys = {"        type: 0xf00002\n", "        ns: 7\n",
                                                 "        size: 64\n"};
    std::vector<size_t> order = {0, 1, 2, 3, 4};
    std::vector<size_t> trace_order = {0, 1, 2};
    int loaded = 0;
    do {
        do {
            std::string lines;
            for (size_t i : order) {
                if (keys[i] != "TRACE") {
                    lines += keys[i];
                    continue;
                }
                lines += "      trace:\n";
                for (size_t j : trace_order) lines += trace_keys[j];
            }
            SCOPED_TRACE(lines);
            Config c = load_config_text(encap_block(lines), "t");
            ASSERT_TRUE(c.routes.at(0).encap.has_value());
            const EncapConfig& e = *c.routes[0].encap;
            EXPECT_EQ(e.mode, EncapConfig::Mode::Encap);
            EXPECT_EQ(e.tundst, addr("db02::2"));
            EXPECT_EQ(e.tunsrc, addr("db04::1"));
            EXPECT_EQ(e.freq_k, 2u);
            EXPECT_EQ(e.freq_n, 4u);
            EXPECT_EQ(e.trace_type, 0xf00002u);
            EXPECT_EQ(e.trace_ns, 7);
            EXPECT_EQ(e.trace_size, 64u);
            expect_mark(e.mark, Mark{8, 7});  // the first key, whichever it is
            ++loaded;
        } while (std::next_permutation(trace_order.begin(), trace_order.end()));
    } while (std::next_permutation(order.begin(), order.end()));
    EXPECT_EQ(loaded, 720);
}

// The rules that tie keys to the mode hold whether `mode` comes first or last.
TEST(ConfigEncap, ModeRulesDoNotDependOnKeyOrder) {
    std::vector<std::string> keys = {"      mode: inline\n", "      tunsrc: db04::1\n",
                                     kTraceLine};
    std::sort(keys.begin(), keys.end());
    do {
        std::string lines;
        for (const std::string& k : keys) lines += k;
        SCOPED_TRACE(lines);
        const std::string text = encap_block(lines);
        ConfigError e = error_of(text);
        EXPECT_EQ(e.reason(), "routes[0].encap.tunsrc is not allowed with mode inline: inline "
                              "inserts the trace into the packet itself, without a tunnel");
        expect_mark(e.mark(), position_of(text, "tunsrc"));
    } while (std::next_permutation(keys.begin(), keys.end()));

    keys = {"      mode: auto\n", "      tunsrc: db04::1\n", kTraceLine};
    std::sort(keys.begin(), keys.end());
    do {
        std::string lines;
        for (const std::string& k : keys) lines += k;
        SCOPED_TRACE(lines);
        ConfigError e = error_of(encap_block(lines));
        EXPECT_EQ(e.reason(), "routes[0].encap.tundst is required with mode auto (the tunnel's "
                              "far end, which removes the outer header)");
        expect_mark(e.mark(), Mark{8, 7});
    } while (std::next_permutation(keys.begin(), keys.end()));
}

TEST(ConfigEncap, OnlyTheRouteThatHasItGetsIt) {
    Config c = load_config_text(
        port_with("routes:\n"
                  "  - {prefix: db03::/64, port: eth0}\n"
                  "  - {prefix: db05::/64, port: eth0, encap: {trace: {type: 0x800000, ns: 1, "
                  "size: 4}}}\n"
                  "  - {prefix: db06::/64, port: eth0}\n"),
        "t");
    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_FALSE(c.routes[0].encap.has_value());
    EXPECT_TRUE(c.routes[1].encap.has_value());
    EXPECT_FALSE(c.routes[2].encap.has_value());
}

TEST(ConfigMessage, EncapMessagesNameTheRule) {
    EXPECT_STREQ(error_of(encap_block("      trace:\n        type: 0x000800\n"
                                      "        ns: 123\n        size: 12\n"))
                     .what(),
                 "test.yaml:9:15: routes[0].encap.trace.type: 0x000800 sets bit 12: bits 12-21 "
                 "are undefined and cannot be inserted");
    EXPECT_STREQ(error_of(encap_block("      mode: encap\n" + std::string(kTraceLine))).what(),
                 "test.yaml:8:7: routes[0].encap.tundst is required with mode encap (the "
                 "tunnel's far end, which removes the outer header)");
    EXPECT_STREQ(error_of(encap_block("      freq: 3/2\n" + std::string(kTraceLine))).what(),
                 "test.yaml:8:13: routes[0].encap.freq: 3/2: K must not exceed N (K packets are "
                 "instrumented out of every N)");
    EXPECT_STREQ(error_of(encap_block("      trace: {type: 0x800000, ns: 123, size: 246}\n"))
                     .what(),
                 "test.yaml:8:46: routes[0].encap.trace.size: 246 must be a multiple of 4 from 4 "
                 "to 244 (octets pre-allocated for node data)");
    EXPECT_STREQ(error_of(port_with("    edge_policy: strip\n")).what(),
                 "test.yaml:4:5: ports[0].edge_policy needs edge: true (it applies to IOAM "
                 "arriving from outside the domain, on an edge port)");
}

// ---------------------------------------------------------------------------
// ports[].decap, edge and edge_policy

TEST(ConfigPort, DecapEdgeAndPolicies) {
    Config c = load_config_text(
        "ports:\n"
        "  - {name: a, device: d0, decap: true}\n"
        "  - {name: b, device: d1, decap: false, edge: false}\n"
        "  - {name: c, device: d2, edge: true}\n"
        "  - {name: d, device: d3, edge_policy: ignore, edge: true}\n"
        "  - {name: e, device: d4, edge: true, edge_policy: strip}\n"
        "  - {name: f, device: d5, edge_policy: drop, decap: true, edge: true}\n",
        "t");
    ASSERT_EQ(c.ports.size(), 6u);
    using Policy = PortConfig::EdgePolicy;
    struct Expected {
        bool decap;
        bool edge;
        Policy policy;
    };
    const Expected expected[] = {{true, false, Policy::Ignore},  {false, false, Policy::Ignore},
                                 {false, true, Policy::Ignore},  {false, true, Policy::Ignore},
                                 {false, true, Policy::Strip},   {true, true, Policy::Drop}};
    for (size_t i = 0; i < c.ports.size(); ++i) {
        SCOPED_TRACE(c.ports[i].name);
        EXPECT_EQ(c.ports[i].decap, expected[i].decap);
        EXPECT_EQ(c.ports[i].edge, expected[i].edge);
        EXPECT_EQ(c.ports[i].edge_policy, expected[i].policy);
    }
}

// ---------------------------------------------------------------------------
// Hostile input: never a crash, never anything but a ConfigError.

TEST(ConfigHostile, NulBytesAreRefusedWhereTheyAre) {
    std::string text = std::string(kOnePort) + "    mtu: 15" + std::string(1, '\0') + "00\n";
    ConfigError e = error_of(text);
    EXPECT_EQ(e.mark().line, 4);
    EXPECT_EQ(e.mark().column, 12);
    EXPECT_NE(e.reason().find("NUL byte"), std::string::npos) << e.what();
}

TEST(ConfigHostile, BinaryGarbageWithNulBytes) {
    const unsigned char elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                 3,    0,   0x3e, 0, 1, 0, 0, 0, 0x40, 0x10, 0, 0};
    ConfigError e = error_of(std::string(reinterpret_cast<const char*>(elf), sizeof elf));
    EXPECT_EQ(e.mark().line, 1);
    EXPECT_EQ(e.mark().column, 1);
    EXPECT_NE(e.reason().find("control character 0x7F"), std::string::npos) << e.what();
}

TEST(ConfigHostile, RandomBytesNeverCrash) {
    uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    // Bytes from YAML's own punctuation reach deep into the parser; fully
    // random bytes exercise the text check.
    const std::string yamlish = "[]{}:-,#&*!|>'\"%@`?~ \n\t\r0x1aZ/.\\";
    for (int round = 0; round < 300; ++round) {
        std::string text(size_t(next() % 512) + 1, ' ');
        for (char& ch : text)
            ch = round % 2 ? char(next() & 0xff) : yamlish[next() % yamlish.size()];
        EXPECT_THROW(load_config_text(text, "garbage"), ConfigError) << "round " << round;
    }
}

TEST(ConfigHostile, DeepNestingIsRefused) {
    EXPECT_THROW(load_config_text("ports: " + std::string(100000, '['), "deep"), ConfigError);
    std::string nested = "ports: ";
    for (int i = 0; i < 5000; ++i) nested += "- ";
    EXPECT_THROW(load_config_text(nested, "deep"), ConfigError);
}

TEST(ConfigHostile, TextOverSixteenMebibytesIsRefusedBeforeParsing) {
    // Valid YAML apart from its size, so only the size check can refuse it.
    std::string text = std::string(kOnePort) + "#";
    text.append(17u * 1024u * 1024u - text.size(), 'x');
    ConfigError e = error_of(text, "big.yaml");
    EXPECT_EQ(e.mark().line, 0);
    EXPECT_EQ(e.mark().column, 0);
    EXPECT_NE(e.reason().find("larger than 16 MiB (17825792 bytes)"), std::string::npos)
        << e.what();
}

TEST(ConfigHostile, TextOfExactlySixteenMebibytesIsParsed) {
    std::string text = std::string(kOnePort) + "#";
    text.append(16u * 1024u * 1024u - text.size(), 'x');
    Config c = load_config_text(text, "edge.yaml");
    EXPECT_EQ(c.ports.size(), 1u);
}

// ---------------------------------------------------------------------------
// Files

class ConfigFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("ioamfwd-config-test-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string write(const std::string& name, const std::string& text) {
        std::string path = (dir_ / name).string();
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }
    fs::path dir_;
};

TEST_F(ConfigFile, LoadsAndNamesTheSource) {
    std::string path = write("ok.yaml", kOnePort);
    Config c = load_config_file(path);
    EXPECT_EQ(c.source, path);
    EXPECT_EQ(c.ports.at(0).name, "eth0");
}

TEST_F(ConfigFile, ErrorsNameTheFile) {
    std::string path = write("bad.yaml", std::string(kOnePort) + "    mtu: 80\n");
    ConfigError e = file_error_of(path);
    EXPECT_EQ(std::string(e.what()),
              path + ":4:10: ports[0].mtu: 80 is out of range 1280..9000");
}

TEST_F(ConfigFile, DirectoryIsRefusedWithTheOsReason) {
    ConfigError e = file_error_of(dir_.string());
    EXPECT_EQ(std::string(e.what()), dir_.string() + ":0:0: cannot read the file: Is a directory");
}

TEST_F(ConfigFile, NonexistentFileIsRefused) {
    std::string path = (dir_ / "missing.yaml").string();
    ConfigError e = file_error_of(path);
    EXPECT_EQ(e.mark().line, 0);
    EXPECT_EQ(e.mark().column, 0);
    EXPECT_EQ(e.reason(), "cannot open the file: No such file or directory");
}

TEST_F(ConfigFile, UnreadableFileIsRefused) {
    std::string path = write("secret.yaml", kOnePort);
    ASSERT_EQ(::chmod(path.c_str(), 0), 0);
    if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their mode";
    ConfigError e = file_error_of(path);
    EXPECT_EQ(e.reason(), "cannot open the file: Permission denied");
}

TEST_F(ConfigFile, HugeFileIsRefusedWithoutReadingIt) {
    // Sparse: the size check must come from the file's size, not its bytes.
    std::string path = write("huge.yaml", kOnePort);
    fs::resize_file(path, 17u * 1024u * 1024u);
    ConfigError e = file_error_of(path);
    EXPECT_EQ(std::string(e.what()),
              path + ":0:0: the configuration is larger than 16 MiB (17825792 bytes); refusing "
                     "to parse it");
}

TEST_F(ConfigFile, EmptyFileIsRefused) {
    std::string path = write("empty.yaml", "");
    ConfigError e = file_error_of(path);
    EXPECT_EQ(std::string(e.what()),
              path + ":0:0: empty configuration (no YAML content, only blanks or comments)");
}

}  // namespace
}  // namespace ioamfwd::cp
