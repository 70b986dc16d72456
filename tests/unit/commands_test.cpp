// Unit tests for the operator's command language (src/control/commands.cpp)
// and the YAML writer it validates through (config_writer.cpp), against a
// fake appliance: every command, every refusal, and that a refused command
// leaves the configuration exactly as it was.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "control/commands.hpp"
#include "control/config.hpp"
#include "control/config_writer.hpp"

namespace ioamfwd::cp {
namespace {

namespace fs = std::filesystem;

// The seed's Porthos, plus a second schema and namespace for the binding rules.
const char* kBase = R"(node:
  id: 2
  id_wide: 22222222
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: true, id: 201, id_wide: 201201}
  - name: eth1
    device: net_pcap1
    mac: 02:00:00:00:02:01
    addresses: [db02::1/64]
    ioam: {enabled: false, id: 202, id_wide: 202202}
namespaces:
  - {id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}
  - {id: 124}
schemas:
  - {id: 666, data: "Hello there -Obi"}
  - {id: 777, data: "something that will be 4n-aligned"}
routes:
  - {prefix: db03::/64, via: db02::2, port: eth1}
  - {prefix: db01::/64, via: db04::1, port: eth0}
neighbors:
  - {address: db04::1, mac: 02:00:00:00:01:01, port: eth0}
  - {address: db02::2, mac: 02:00:00:00:03:00, port: eth1}
)";

// The appliance as the interpreter sees it. apply() refuses port changes
// as the real one does, and can be told to refuse (a snapshot that cannot
// be built).
class FakeApi : public ControlApi {
public:
    explicit FakeApi(const std::string& text = kBase)
        : cfg(load_config_text(text, "base.yaml")), path("base.yaml") {}

    const Config& config() const override { return cfg; }
    bool apply(Config next, std::string& err) override {
        ++apply_calls;
        if (next.ports.size() != cfg.ports.size()) {
            err = "the number of ports changed (restart required)";
            return false;
        }
        for (size_t i = 0; i < next.ports.size(); ++i)
            if (next.ports[i].name != cfg.ports[i].name ||
                next.ports[i].device != cfg.ports[i].device ||
                next.ports[i].mtu != cfg.ports[i].mtu || next.ports[i].mac != cfg.ports[i].mac) {
                err = "port " + next.ports[i].name +
                      " changed its name, device, MTU or MAC (restart required)";
                return false;
            }
        if (!refuse_with.empty()) {
            err = refuse_with;
            return false;
        }
        cfg = std::move(next);
        ++gen;
        return true;
    }
    uint64_t generation() const override { return gen; }
    std::string config_path() const override { return path; }
    void set_config_path(const std::string& p) override { path = p; }
    std::string port_stats() override { return "PORT STATS\n"; }
    std::string port_xstats(const std::string& port) override { return "XSTATS " + port + "\n"; }
    std::string stats() override { return "STATS\n"; }
    void clear_stats() override { ++clears; }
    bool forwarding() const override { return fwd; }
    void set_forwarding(bool on) override { fwd = on; }
    void quit() override { quitted = true; }
    std::string neighbors() override { return "NEIGHBORS\n"; }

    std::string yaml() const { return write_config(cfg); }

    Config cfg;
    std::string path;
    uint64_t gen = 1;
    int apply_calls = 0;
    int clears = 0;
    bool fwd = true;
    bool quitted = false;
    std::string refuse_with;
};

std::string run(FakeApi& api, const std::string& line) { return execute(line, api); }

// A command that must succeed silently (every configuration change does).
void ok(FakeApi& api, const std::string& line) {
    const uint64_t before = api.gen;
    EXPECT_EQ(run(api, line), "") << line;
    EXPECT_EQ(api.gen, before + 1) << line << ": no new configuration was applied";
}

// A refused command: one line "error: ...", containing `part`, and the
// configuration exactly as before.
void refused(FakeApi& api, const std::string& line, const std::string& part) {
    const std::string before = api.yaml();
    const uint64_t gen = api.gen;
    const std::string reply = run(api, line);
    EXPECT_TRUE(is_error_reply(reply)) << line << " => " << reply;
    EXPECT_EQ(std::count(reply.begin(), reply.end(), '\n'), 1) << line << " => " << reply;
    EXPECT_NE(reply.find(part), std::string::npos) << line << " => " << reply;
    EXPECT_EQ(api.yaml(), before) << line << " changed the configuration";
    EXPECT_EQ(api.gen, gen) << line;
}

const NamespaceConfig* ns(const FakeApi& api, uint16_t id) {
    for (const auto& n : api.cfg.namespaces)
        if (n.id == id) return &n;
    return nullptr;
}

const RouteConfig* route(const FakeApi& api, const std::string& prefix) {
    for (const auto& r : api.cfg.routes)
        if (r.prefix.to_string() == prefix) return &r;
    return nullptr;
}

fs::path temp_dir() {
    fs::path d = fs::temp_directory_path() / ("ioamfwd_commands_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

// --- ioam namespace ------------------------------------------------------------------

TEST(CommandsNamespace, AddWithDefaultsAndValues) {
    FakeApi api;
    ok(api, "ioam namespace add 7");
    ASSERT_NE(ns(api, 7), nullptr);
    EXPECT_EQ(ns(api, 7)->data, 0xffffffffu);
    EXPECT_EQ(ns(api, 7)->wide, UINT64_MAX);
    EXPECT_FALSE(ns(api, 7)->schema);
    ok(api, "ioam namespace add 8 data 0xdeadbee0 wide 0xcafec0caf00dc0de");
    EXPECT_EQ(ns(api, 8)->data, 0xdeadbee0u);
    EXPECT_EQ(ns(api, 8)->wide, 0xcafec0caf00dc0deull);
    ok(api, "ioam namespace add 9 wide 1 data 10");  // keywords in any order
    EXPECT_EQ(ns(api, 9)->data, 10u);
    ok(api, "ioam namespace add 0x10");
    EXPECT_NE(ns(api, 16), nullptr);
}

TEST(CommandsNamespace, WideIsHexAsIproute2ReadsIt) {
    FakeApi api;
    ok(api, "ioam namespace add 7 wide 1234");
    EXPECT_EQ(ns(api, 7)->wide, 0x1234u);
    ok(api, "ioam namespace add 8 wide cafec0caf00dc0de");
    EXPECT_EQ(ns(api, 8)->wide, 0xcafec0caf00dc0deull);
    ok(api, "ioam namespace add 9 wide 0xFFFFFFFFFFFFFFFF");
    EXPECT_EQ(ns(api, 9)->wide, UINT64_MAX);
    refused(api, "ioam namespace add 10 wide 0x10000000000000000", "not a 64-bit hex number");
    refused(api, "ioam namespace add 10 wide xyz", "always read as hex");
}

TEST(CommandsNamespace, AddRefusals) {
    FakeApi api;
    refused(api, "ioam namespace add 123", "namespace 123 already exists (EEXIST)");
    refused(api, "ioam namespace add 0x7b data 1", "already exists (EEXIST)");
    refused(api, "ioam namespace add", "missing namespace ID; usage: ioam namespace add ID");
    refused(api, "ioam namespace add 65536", "namespace ID: 65536 is out of range 0..0xFFFF");
    refused(api, "ioam namespace add -1", "is not a number");
    refused(api, "ioam namespace add 010", "leading zero");
    refused(api, "ioam namespace add 7 data 0x100000000", "data: 0x100000000 is out of range 0..0xFFFFFFFF");
    refused(api, "ioam namespace add 7 data", "missing data D32");
    refused(api, "ioam namespace add 7 data 1 data 2", "data given twice");
    refused(api, "ioam namespace add 7 schema 666", "unexpected 'schema'");
    refused(api, "ioam namespace frob 7", "unknown ioam namespace command 'frob'");
    refused(api, "ioam namespace", "missing add, del, set or show");
    refused(api, "ioam frob", "unknown ioam object 'frob'");
}

TEST(CommandsNamespace, Delete) {
    FakeApi api;
    ok(api, "ioam namespace del 123");
    EXPECT_EQ(ns(api, 123), nullptr);
    EXPECT_NE(api.cfg.find_schema(666), nullptr) << "the schema stays when its namespace goes";
    refused(api, "ioam namespace del 123", "namespace 123 does not exist (ENOENT)");
    refused(api, "ioam namespace del 124 125", "unexpected '125'");
}

TEST(CommandsNamespace, SetSchemaBindsOneToOne) {
    FakeApi api;
    // Binding 666 (now 123's) to 124 unbinds it from 123.
    ok(api, "ioam namespace set 124 schema 666");
    EXPECT_EQ(ns(api, 124)->schema, 666u);
    EXPECT_FALSE(ns(api, 123)->schema);
    // Binding 777 to 124 replaces 124's previous schema 666.
    ok(api, "ioam namespace set 124 schema 777");
    EXPECT_EQ(ns(api, 124)->schema, 777u);
    ok(api, "ioam namespace set 123 schema 666");
    EXPECT_EQ(ns(api, 123)->schema, 666u);
    // Deleting a schema unbinds it.
    ok(api, "ioam schema del 777");
    EXPECT_FALSE(ns(api, 124)->schema);
    ok(api, "ioam namespace set 123 schema none");
    EXPECT_FALSE(ns(api, 123)->schema);
    EXPECT_NE(api.cfg.find_schema(666), nullptr);
}

TEST(CommandsNamespace, SetDataAndWideInOneChange) {
    FakeApi api;
    ok(api, "ioam namespace set 123 data 0x11111111 wide 2222222222222222");
    EXPECT_EQ(ns(api, 123)->data, 0x11111111u);
    EXPECT_EQ(ns(api, 123)->wide, 0x2222222222222222ull);
    EXPECT_EQ(ns(api, 123)->schema, 666u) << "untouched";
}

TEST(CommandsNamespace, SetRefusals) {
    FakeApi api;
    refused(api, "ioam namespace set 9 schema 666", "namespace 9 does not exist (ENOENT)");
    refused(api, "ioam namespace set 124 schema 888", "schema 888 does not exist (ENOENT)");
    refused(api, "ioam namespace set 124", "nothing to set");
    refused(api, "ioam namespace set 124 schema", "missing schema SID or none");
    refused(api, "ioam namespace set 124 schema 0x1000000", "schema ID: 0x1000000 is out of range 0..0xFFFFFF");
    refused(api, "ioam namespace set 124 schema 666 schema 777", "schema given twice");
}

TEST(CommandsNamespace, ShowIsIproute2Format) {
    FakeApi api;
    ok(api, "ioam namespace add 7 data 5");
    EXPECT_EQ(run(api, "ioam namespace show"),
              "namespace 123 [schema 666], data 0xdeadbee1, wide 0xcafec0caf11dc0de\n"
              "namespace 124\n"
              "namespace 7, data 0x00000005\n");
    refused(api, "ioam namespace show all", "unexpected 'all'");
}

// --- ioam schema ---------------------------------------------------------------------------

TEST(CommandsSchema, AddQuotedAndEscapedData) {
    FakeApi api;
    ok(api, "ioam schema add 1 \"two words\"");
    EXPECT_EQ(std::string(api.cfg.find_schema(1)->data.begin(), api.cfg.find_schema(1)->data.end()),
              "two words");
    ok(api, "ioam schema add 2 'single # quoted'");
    EXPECT_EQ(api.cfg.find_schema(2)->data.size(), 15u);
    ok(api, "ioam schema add 3 \"a\\x00b\\\"c\\\\\"");
    EXPECT_EQ(api.cfg.find_schema(3)->data, (std::vector<uint8_t>{'a', 0, 'b', '"', 'c', '\\'}));
    ok(api, "ioam schema add 4 plain # a comment");
    EXPECT_EQ(api.cfg.find_schema(4)->data.size(), 5u);
    ok(api, "ioam schema add 5 " + std::string(1020, 'x'));
}

TEST(CommandsSchema, Refusals) {
    FakeApi api;
    refused(api, "ioam schema add 666 x", "schema 666 already exists (EEXIST)");
    refused(api, "ioam schema add 1 two words", "unexpected 'words' after DATA (quote DATA");
    refused(api, "ioam schema add 1", "missing DATA");
    refused(api, "ioam schema add 1 \"\"", "schema data must be 1..1020 octets, got 0");
    refused(api, "ioam schema add 1 " + std::string(1021, 'x'), "must be 1..1020 octets, got 1021");
    refused(api, "ioam schema add 0x1000000 x", "out of range 0..0xFFFFFF");
    refused(api, "ioam schema add 1 \"open", "unterminated \" quote");
    refused(api, "ioam schema add 1 'open", "unterminated ' quote");
    refused(api, "ioam schema add 1 \"\\x4\"", "\\x needs two hex digits");
    refused(api, "ioam schema del 1", "schema 1 does not exist (ENOENT)");
    refused(api, "ioam schema frob", "unknown ioam schema command 'frob'");
}

TEST(CommandsSchema, ShowPadsTo4nAndNamesTheNamespace) {
    FakeApi api;
    ok(api, "ioam schema del 777");
    ok(api, "ioam schema add 5 abcde");
    EXPECT_EQ(run(api, "ioam schema show"),
              "schema 666 [namespace 123], data: 48 65 6c 6c 6f 20 74 68 65 72 65 20 2d 4f 62 69\n"
              "schema 5, data: 61 62 63 64 65 00 00 00\n");
}

// --- set node / set port -----------------------------------------------------------------------

TEST(CommandsSet, NodeIds) {
    FakeApi api;
    ok(api, "set node id 0xffffff");
    EXPECT_EQ(api.cfg.node.id, 0xffffffu);
    ok(api, "set node id_wide 72057594037927935");
    EXPECT_EQ(api.cfg.node.id_wide, 0x00ffffffffffffffull);
    refused(api, "set node id 16777216", "node id: 16777216 is out of range 0..0xFFFFFF");
    refused(api, "set node id_wide 0x100000000000000", "out of range 0..0xFFFFFFFFFFFFFF");
    refused(api, "set node id", "missing N; usage: set node id N");
    refused(api, "set node id 1 2", "unexpected '2'");
    refused(api, "set node name x", "unknown node setting 'name'");
    refused(api, "set fwd io", "cannot set 'fwd'");
}

TEST(CommandsSet, PortIoamSysctls) {
    FakeApi api;
    ok(api, "set port eth1 ioam enabled on");
    EXPECT_TRUE(api.cfg.ports[1].ioam.enabled);
    ok(api, "set port eth1 ioam enabled off id 7 id_wide 0xffffffff");
    EXPECT_FALSE(api.cfg.ports[1].ioam.enabled);
    EXPECT_EQ(api.cfg.ports[1].ioam.id, 7);
    EXPECT_EQ(api.cfg.ports[1].ioam.id_wide, 0xffffffffu);
    refused(api, "set port eth9 ioam enabled on", "no port named 'eth9' (ports: eth0, eth1)");
    refused(api, "set port eth0 ioam enabled yes", "enabled: 'yes' is not on or off");
    refused(api, "set port eth0 ioam id 65536", "port ioam id: 65536 is out of range 0..0xFFFF");
    refused(api, "set port eth0 ioam id_wide 0x100000000", "out of range 0..0xFFFFFFFF");
    refused(api, "set port eth0 ioam", "missing enabled, id or id_wide");
    refused(api, "set port eth0 ioam mtu 9000", "unknown port ioam setting 'mtu'");
    refused(api, "set port eth0 mtu 9000", "a port change needs a restart");
    refused(api, "set port eth0 ioam id 1 id 2", "id given twice");
}

// --- routes ---------------------------------------------------------------------------------------

TEST(CommandsRoute, AddPlainAndEncap) {
    FakeApi api;
    ok(api, "route add db05::/64 via db02::2 port eth1");
    ASSERT_NE(route(api, "db05::/64"), nullptr);
    EXPECT_EQ(route(api, "db05::/64")->port, "eth1");
    ok(api, "route add db06::/64 port eth0");  // on-link
    EXPECT_FALSE(route(api, "db06::/64")->via);
    ok(api, "route add db07::/64 encap ioam6 freq 1/2 mode encap tundst db02::2 tunsrc db04::2 "
            "trace prealloc type 0xfff002 ns 123 size 244 via db02::2 dev eth1");
    const RouteConfig* r = route(api, "db07::/64");
    ASSERT_NE(r, nullptr);
    ASSERT_TRUE(r->encap);
    EXPECT_EQ(r->encap->mode, EncapConfig::Mode::Encap);
    EXPECT_EQ(r->encap->freq_k, 1u);
    EXPECT_EQ(r->encap->freq_n, 2u);
    EXPECT_EQ(r->encap->trace_type, 0xfff002u);
    EXPECT_EQ(r->encap->trace_ns, 123);
    EXPECT_EQ(r->encap->trace_size, 244u);
    EXPECT_EQ(r->encap->tunsrc->to_string(), "db04::2");
    ok(api, "route add db08::/64 port eth1 encap ioam6 trace prealloc size 4 ns 0 type 0x800000");
    EXPECT_EQ(route(api, "db08::/64")->encap->mode, EncapConfig::Mode::Inline);
    ok(api, "route add default via db02::2 port eth1");
    EXPECT_NE(route(api, "::/0"), nullptr);
    ok(api, "ip -6 route add db09::1 via db02::2 dev eth1");
    EXPECT_NE(route(api, "db09::1/128"), nullptr);
}

TEST(CommandsRoute, RefusalsOfTheConsole) {
    FakeApi api;
    refused(api, "route add db03::/64 via db02::2 port eth1", "a route to db03::/64 already exists (EEXIST)");
    refused(api, "route add db05::1/64 port eth1", "db05::1/64 has host bits set; the network is db05::/64");
    refused(api, "route add db05::/129 port eth1", "prefix length must be a number in 0..128");
    refused(api, "route add db05::/064 port eth1", "prefix length must be a number in 0..128");
    refused(api, "route add nowhere port eth1", "is not an IPv6 prefix");
    refused(api, "route add db05::/64 via db02::2", "missing port PORT");
    refused(api, "route add db05::/64 port eth9", "no port named 'eth9' (ports: eth0, eth1)");
    refused(api, "route add db05::/64 port eth1 via x", "via: 'x' is not an IPv6 address");
    refused(api, "route add db05::/64 port eth1 metric 5", "unexpected 'metric'");
    refused(api, "route add db05::/64 port eth1 port eth0", "port given twice");
    refused(api, "route add db05::/64 port eth1 encap seg6 mode encap", "only encap ioam6 is supported");
    refused(api, "route add db05::/64 port eth1 encap ioam6 mode encap tundst db02::2",
            "encap ioam6 needs trace prealloc");
    refused(api, "route add db05::/64 port eth1 encap ioam6 trace incremental type 1",
            "only the Pre-allocated Trace can be inserted");
    refused(api, "route add db05::/64 port eth1 encap ioam6 trace prealloc type 0x800000 size 4",
            "trace prealloc needs ns N");
    refused(api, "route add db05::/64 port eth1 encap ioam6 mode tunnel trace prealloc type 1 ns 1 size 4",
            "mode: 'tunnel' is not an encap mode");
    refused(api, "route add db05::/64 port eth1 encap ioam6 freq 1 trace prealloc type 0x800000 ns 1 size 4",
            "freq: '1' is not K/N");
    refused(api, "route add db05::/64 port eth1 encap ioam6 trace prealloc type 0x1000000 ns 1 size 4",
            "trace type: 0x1000000 is out of range 0..0xFFFFFF");
    refused(api, "route add db05::/64 port eth1 encap ioam6 trace prealloc type 0x800000 ns 65536 size 4",
            "trace ns: 65536 is out of range 0..0xFFFF");
}

// Rules only the YAML loader knows: the console hands them through unchanged
// (the one validation path), and nothing is applied.
TEST(CommandsRoute, RefusalsOfTheLoader) {
    FakeApi api;
    const std::string base = "route add db05::/64 via db02::2 port eth1 encap ioam6 ";
    refused(api, base + "mode encap trace prealloc type 0x800000 ns 123 size 12",
            "encap.tundst is required with mode encap");
    refused(api, base + "tundst db02::2 trace prealloc type 0x800000 ns 123 size 12",
            "encap.tundst is not allowed with mode inline");
    refused(api, base + "trace prealloc type 0x000800 ns 123 size 12", "sets bit 12");
    refused(api, base + "trace prealloc type 0x000001 ns 123 size 12", "bit 23");
    refused(api, base + "trace prealloc type 0 ns 123 size 12", "selects no data");
    refused(api, base + "trace prealloc type 0x800000 ns 123 size 246", "must be a multiple of 4 from 4 to 244");
    refused(api, base + "trace prealloc type 0x800000 ns 123 size 0", "must be a multiple of 4 from 4 to 244");
    refused(api, base + "freq 3/2 trace prealloc type 0x800000 ns 123 size 12", "K must not exceed N");
    refused(api, base + "freq 0/1 trace prealloc type 0x800000 ns 123 size 12", "K and N must each be in 1..1000000");
    refused(api, base + "mode encap tundst ff02::1 trace prealloc type 0x800000 ns 1 size 4", "multicast");
    refused(api, "route add db05::/64 via :: port eth1", "unspecified address");
    EXPECT_EQ(api.apply_calls, 0) << "the loader refused them before apply";
}

TEST(CommandsRoute, ReplaceAndDelete) {
    FakeApi api;
    ok(api, "route replace db03::/64 via db02::3 port eth1");
    EXPECT_EQ(route(api, "db03::/64")->via->to_string(), "db02::3");
    EXPECT_EQ(api.cfg.routes.size(), 2u) << "replaced in place";
    ok(api, "route replace db05::/64 port eth1");  // replace adds when absent
    ok(api, "route del db05::/64");
    EXPECT_EQ(route(api, "db05::/64"), nullptr);
    ok(api, "route del db03::/64 via db02::3 port eth1");
    refused(api, "route del db03::/64", "no route to db03::/64 (ESRCH)");
    refused(api, "route del db01::/64 via db04::9", "with that via/port (ESRCH); it is: db01::/64 via db04::1 port eth0");
    refused(api, "route del db01::/64 port eth1", "with that via/port (ESRCH)");
    refused(api, "route del db04::/64", "connected route of port eth0 (from its address db04::2/64)");
    refused(api, "route frob", "unknown route command 'frob'");
}

TEST(CommandsRoute, ShowIsReenterable) {
    FakeApi api;
    ok(api, "route add db07::/64 via db02::2 port eth1 encap ioam6 mode encap tundst db02::2 "
            "trace prealloc type 0x800000 ns 123 size 12");
    const std::string shown = run(api, "route show");
    EXPECT_EQ(shown,
              "db03::/64 via db02::2 port eth1\n"
              "db01::/64 via db04::1 port eth0\n"
              "db07::/64 via db02::2 port eth1 encap ioam6 freq 1/1 mode encap tundst db02::2 "
              "trace prealloc type 0x800000 ns 123 size 12\n"
              "db04::/64 port eth0 proto connected\n"
              "db02::/64 port eth1 proto connected\n");
    // Each listed route, given back to route replace, is the same route.
    const std::string before = api.yaml();
    std::istringstream lines(shown);
    for (std::string line; std::getline(lines, line);)
        if (line.find("connected") == std::string::npos) ok(api, "route replace " + line);
    EXPECT_EQ(api.yaml(), before);
}

// --- neighbours ------------------------------------------------------------------------------------

TEST(CommandsNeigh, AddReplaceDelShow) {
    FakeApi api;
    ok(api, "neigh add db02::3 lladdr 02:00:00:00:03:03 port eth1");
    ok(api, "ip -6 neigh add db04::9 lladdr 02:00:00:00:01:09 dev eth0 nud permanent");
    ok(api, "neigh replace db02::3 lladdr 02:00:00:00:03:04 port eth1");
    EXPECT_EQ(run(api, "neigh show"),
              "db04::1 lladdr 02:00:00:00:01:01 port eth0\n"
              "db02::2 lladdr 02:00:00:00:03:00 port eth1\n"
              "db02::3 lladdr 02:00:00:00:03:04 port eth1\n"
              "db04::9 lladdr 02:00:00:00:01:09 port eth0\n");
    ok(api, "neigh del db02::3 port eth1");
    ok(api, "neigh add db02::2 lladdr 02:00:00:00:03:00 port eth0");  // same address, other port
    EXPECT_EQ(api.cfg.neighbors.size(), 4u);
}

TEST(CommandsNeigh, Refusals) {
    FakeApi api;
    refused(api, "neigh add db02::2 lladdr 02:00:00:00:03:00 port eth1", "already exists (EEXIST)");
    refused(api, "neigh add db02::3 port eth1", "missing lladdr MAC");
    refused(api, "neigh add db02::3 lladdr 02:00:00:00:03:00", "missing port PORT");
    refused(api, "neigh add db02::3 lladdr 02:00:00:00:03 port eth1", "is not a MAC address");
    refused(api, "neigh add db02::3 lladdr 01:00:00:00:00:01 port eth1", "multicast or broadcast MAC");
    refused(api, "neigh add db02::3 lladdr 00:00:00:00:00:00 port eth1", "all-zero MAC");
    refused(api, "neigh add ff02::1 lladdr 02:00:00:00:03:00 port eth1", "multicast address");
    refused(api, "neigh add db02::3 lladdr 02:00:00:00:03:00 port eth1 nud reachable",
            "always nud permanent");
    refused(api, "neigh del db02::9 port eth1", "no neighbor db02::9 on port eth1 (ENOENT)");
    refused(api, "neigh del db02::2 lladdr 02:00:00:00:03:00 port eth1", "unexpected 'lladdr'");
    refused(api, "neigh flush", "unknown neigh command 'flush'");
}

// --- the appliance's own commands -------------------------------------------------------------------

TEST(CommandsAppliance, ShowClearStartStopQuitHelp) {
    FakeApi api;
    EXPECT_EQ(run(api, "show port stats"), "PORT STATS\n");
    EXPECT_EQ(run(api, "show port xstats eth1"), "XSTATS eth1\n");
    refused(api, "show port xstats eth7", "no port named 'eth7'");
    refused(api, "show port", "missing stats or xstats");
    EXPECT_EQ(run(api, "show stats"), "STATS\n");
    EXPECT_EQ(run(api, "show neighbors"), "NEIGHBORS\n");
    EXPECT_EQ(run(api, "show neighbours"), "NEIGHBORS\n");
    refused(api, "show neighbors all", "unexpected 'all'");
    EXPECT_EQ(run(api, "clear stats"), "statistics cleared\n");
    EXPECT_EQ(api.clears, 1);
    refused(api, "clear counters", "only stats can be cleared");
    EXPECT_EQ(run(api, "stop"), "forwarding stopped\n");
    EXPECT_FALSE(api.fwd);
    EXPECT_EQ(run(api, "stop"), "forwarding is already stopped\n");
    EXPECT_EQ(run(api, "start"), "forwarding started\n");
    EXPECT_TRUE(api.fwd);
    refused(api, "start now", "unexpected 'now'");
    const std::string help = run(api, "help");
    for (const CommandSpec& s : command_table())
        EXPECT_NE(help.find(s.usage), std::string::npos) << s.usage;
    const std::string route_help = run(api, "help route");
    EXPECT_EQ(route_help.rfind("route add PREFIX", 0), 0u) << route_help;
    EXPECT_EQ(route_help.find("\nneigh"), std::string::npos) << route_help;
    refused(api, "help frob", "no command starts with 'frob'");
    EXPECT_EQ(run(api, "   # only a comment"), "");
    EXPECT_EQ(run(api, ""), "");
    refused(api, "frobnicate", "unknown command 'frobnicate'; type help");
    refused(api, "ip link set eth0 up", "only ip ioam, ip -6 route and ip -6 neigh");
    EXPECT_FALSE(api.quitted);
    EXPECT_EQ(run(api, "quit"), "bye\n");
    EXPECT_TRUE(api.quitted);
}

TEST(CommandsAppliance, ApplyRefusalIsReportedWithoutConsolePositions) {
    FakeApi api;
    api.refuse_with = "(console):40:5: route db05::/64: encap needs a tunnel source";
    refused(api, "route add db05::/64 port eth1", "error: route db05::/64: encap needs a tunnel source");
}

// --- show config / save config / reload --------------------------------------------------------------

TEST(CommandsConfig, ShowConfigLoadsBackToTheSameText) {
    FakeApi api;
    ok(api, "ioam schema add 9 \"\\x00\\xe9 binary\"");
    ok(api, "ioam schema add 10 \"quote\\\" and backslash\\\\\"");
    ok(api, "route add ::/0 via fe80::1 port eth0 encap ioam6 freq 2/4 mode auto tundst db02::2 "
            "tunsrc db04::2 trace prealloc type 0xfff002 ns 65535 size 244");
    const std::string text = run(api, "show config");
    const Config again = load_config_text(text, "again.yaml");
    EXPECT_EQ(write_config(again), text);
    EXPECT_EQ(again.find_schema(9)->data,
              (std::vector<uint8_t>{0x00, 0xe9, ' ', 'b', 'i', 'n', 'a', 'r', 'y'}));
    EXPECT_NE(text.find("hex: 00e92062696e617279"), std::string::npos) << text;
}

TEST(CommandsConfig, WriterQuotesWhatYamlWouldMisread) {
    const char* odd = R"(ports:
  - {name: "null", device: "0000:3b:00.0"}
  - {name: "-x", device: net_pcap1, edge: true, edge_policy: strip}
  - {name: ".a", device: net_pcap2, decap: true, mtu: 9000}
)";
    const Config c = load_config_text(odd, "odd.yaml");
    const std::string text = write_config(c);
    const Config again = load_config_text(text, "again.yaml");
    EXPECT_EQ(write_config(again), text);
    EXPECT_EQ(again.ports[0].name, "null");
    EXPECT_EQ(again.ports[1].name, "-x");
    EXPECT_EQ(again.ports[1].edge_policy, PortConfig::EdgePolicy::Strip);
    EXPECT_EQ(again.ports[2].mtu, 9000);
    EXPECT_TRUE(again.ports[2].decap);
}

// Every key the loader knows, none at its default: what the writer writes
// must load back to the same values (a key it forgot would come back as
// its default after any console change).
TEST(CommandsConfig, EveryKeySurvivesTheRoundTrip) {
    const char* every = R"(node: {id: 0x123456, id_wide: 0x00abcdef01234567}
icmp: {rate: 7, burst: 9}
nd: {reachable_ms: 15000, retrans_ms: 250, max_solicit: 5, queue_per_neighbor: 7,
     max_entries: 99, gc_stale_s: 33}
ports:
  - name: p0
    device: "0000:3b:00.0"
    mac: 02:11:22:33:44:55
    mtu: 9000
    addresses: [db04::2/64, db05::2/128]
    ioam: {enabled: true, id: 0, id_wide: 0}
    decap: true
    edge: true
    edge_policy: drop
  - {name: p1, device: net_pcap1, edge: true, edge_policy: strip, rx_queues: 3}
schemas:
  - {id: 0xffffff, hex: "00ff10"}
  - {id: 0, data: "x"}
namespaces:
  - {id: 0, data: 0, wide: 0, schema: 0xffffff}
  - {id: 65535, data: 0xfffffffe, wide: 0xfffffffffffffffe}
routes:
  - {prefix: "::/0", port: p0, via: "fe80::1"}
  - prefix: db06::/48
    port: p1
    encap: {mode: auto, tundst: db02::2, tunsrc: db04::2, freq: 3/7,
            trace: {type: 0xfff002, ns: 9, size: 244}}
  - {prefix: db07::/64, port: p1, encap: {trace: {type: 0x800000, ns: 0, size: 4}}}
neighbors:
  - {address: "fe80::1", mac: 02:00:00:00:00:09, port: p0}
lcores:
  - {lcore: 5, rx: [{port: p1, queue: 2}, {port: p0, queue: 0}]}
  - {lcore: 2, rx: [{port: p1, queue: 0}, {port: p1, queue: 1}]}
)";
    const Config a = load_config_text(every, "every.yaml");
    const Config b = load_config_text(write_config(a), "again.yaml");
    EXPECT_EQ(b.node.id, 0x123456u);
    EXPECT_EQ(b.node.id_wide, 0x00abcdef01234567ull);
    EXPECT_EQ(b.icmp.rate, 7u);
    EXPECT_EQ(b.icmp.burst, 9u);
    EXPECT_EQ(b.nd.reachable_ms, 15000u);
    EXPECT_EQ(b.nd.retrans_ms, 250u);
    EXPECT_EQ(b.nd.max_solicit, 5u);
    EXPECT_EQ(b.nd.queue_per_neighbor, 7u);
    EXPECT_EQ(b.nd.max_entries, 99u);
    EXPECT_EQ(b.nd.gc_stale_s, 33u);
    ASSERT_EQ(b.ports.size(), 2u);
    const PortConfig& p = b.ports[0];
    EXPECT_EQ(p.name, "p0");
    EXPECT_EQ(p.device, "0000:3b:00.0");
    EXPECT_EQ(p.mac, a.ports[0].mac);
    EXPECT_EQ(p.mtu, 9000);
    EXPECT_EQ(p.addresses, a.ports[0].addresses);
    EXPECT_TRUE(p.ioam.enabled);
    EXPECT_EQ(p.ioam.id, 0);
    EXPECT_EQ(p.ioam.id_wide, 0u);
    EXPECT_TRUE(p.decap);
    EXPECT_TRUE(p.edge);
    EXPECT_EQ(p.edge_policy, PortConfig::EdgePolicy::Drop);
    EXPECT_EQ(b.ports[1].edge_policy, PortConfig::EdgePolicy::Strip);
    EXPECT_EQ(p.rx_queues, 1);
    EXPECT_EQ(b.ports[1].rx_queues, 3);
    ASSERT_EQ(b.lcores.size(), 2u);
    EXPECT_EQ(b.lcores[0].lcore, 5u);
    ASSERT_EQ(b.lcores[0].rx.size(), 2u);
    EXPECT_EQ(b.lcores[0].rx[0].port, "p1");
    EXPECT_EQ(b.lcores[0].rx[0].queue, 2);
    EXPECT_EQ(b.lcores[0].rx[1].port, "p0");
    EXPECT_EQ(b.lcores[1].lcore, 2u);
    ASSERT_EQ(b.lcores[1].rx.size(), 2u);
    EXPECT_EQ(b.lcores[1].rx[1].queue, 1);
    EXPECT_FALSE(b.ports[1].mac);
    ASSERT_EQ(b.schemas.size(), 2u);
    EXPECT_EQ(b.schemas[0].id, 0xffffffu);
    EXPECT_EQ(b.schemas[0].data, (std::vector<uint8_t>{0x00, 0xff, 0x10}));
    EXPECT_EQ(b.schemas[1].data, (std::vector<uint8_t>{'x'}));
    ASSERT_EQ(b.namespaces.size(), 2u);
    EXPECT_EQ(b.namespaces[0].data, 0u);
    EXPECT_EQ(b.namespaces[0].wide, 0u);
    EXPECT_EQ(b.namespaces[0].schema, 0xffffffu);
    EXPECT_EQ(b.namespaces[1].id, 65535);
    EXPECT_EQ(b.namespaces[1].data, 0xfffffffeu);
    EXPECT_EQ(b.namespaces[1].wide, 0xfffffffffffffffeull);
    EXPECT_FALSE(b.namespaces[1].schema);
    ASSERT_EQ(b.routes.size(), 3u);
    EXPECT_EQ(b.routes[0].prefix, a.routes[0].prefix);
    EXPECT_EQ(b.routes[0].via, a.routes[0].via);
    EXPECT_FALSE(b.routes[0].encap);
    const EncapConfig& e = *b.routes[1].encap;
    EXPECT_EQ(e.mode, EncapConfig::Mode::Auto);
    EXPECT_EQ(e.tundst, a.routes[1].encap->tundst);
    EXPECT_EQ(e.tunsrc, a.routes[1].encap->tunsrc);
    EXPECT_EQ(e.freq_k, 3u);
    EXPECT_EQ(e.freq_n, 7u);
    EXPECT_EQ(e.trace_type, 0xfff002u);
    EXPECT_EQ(e.trace_ns, 9);
    EXPECT_EQ(e.trace_size, 244u);
    EXPECT_EQ(b.routes[2].encap->mode, EncapConfig::Mode::Inline);
    EXPECT_FALSE(b.routes[2].encap->tundst);
    ASSERT_EQ(b.neighbors.size(), 1u);
    EXPECT_EQ(b.neighbors[0].address, a.neighbors[0].address);
    EXPECT_EQ(b.neighbors[0].mac, a.neighbors[0].mac);
    EXPECT_EQ(b.neighbors[0].port, "p0");
    EXPECT_EQ(write_config(b), write_config(a));
}

fs::path find_seed(const std::string& name) {
    std::vector<fs::path> starts = {fs::current_path(), fs::path(__FILE__).parent_path()};
    if (const char* env = std::getenv("IOAMFWD_SOURCE_ROOT")) starts.insert(starts.begin(), env);
    for (fs::path dir : starts)
        for (; !dir.empty(); dir = dir.parent_path()) {
            if (fs::exists(dir / "config" / name)) return dir / "config" / name;
            if (dir == dir.parent_path()) break;
        }
    return {};
}

TEST(CommandsConfig, SeedFilesRoundTrip) {
    for (const char* name : {"athos.yaml", "porthos.yaml", "aramis.yaml"}) {
        const fs::path p = find_seed(name);
        if (p.empty()) GTEST_SKIP() << "config/" << name << " not found (set IOAMFWD_SOURCE_ROOT)";
        const Config c = load_config_file(p.string());
        const std::string text = write_config(c);
        EXPECT_EQ(write_config(load_config_text(text, "again.yaml")), text) << name;
    }
}

TEST(CommandsConfig, SaveThenReloadGivesTheSameConfiguration) {
    const fs::path dir = temp_dir();
    const std::string file = (dir / "saved.yaml").string();
    FakeApi api;
    ok(api, "ioam namespace add 5 data 1 wide 2");
    ok(api, "neigh add db02::9 lladdr 02:00:00:00:03:09 port eth1");
    const std::string shown = run(api, "show config");
    EXPECT_EQ(run(api, "save config " + file), "configuration saved to " + file + "\n");

    FakeApi fresh;
    EXPECT_EQ(run(fresh, "reload " + file), "configuration reloaded from " + file + " (generation 2)\n");
    EXPECT_EQ(run(fresh, "show config"), shown);
    EXPECT_EQ(fresh.path, file) << "reload FILE makes FILE the configuration file";
    // A bare reload reads that file again.
    EXPECT_EQ(run(fresh, "reload"), "configuration reloaded from " + file + " (generation 3)\n");
    fs::remove_all(dir);
}

TEST(CommandsConfig, ReloadRefusals) {
    const fs::path dir = temp_dir();
    FakeApi api;
    refused(api, "reload " + (dir / "missing.yaml").string(), "cannot open the file");
    EXPECT_EQ(api.path, "base.yaml");

    const std::string bad = (dir / "bad.yaml").string();
    std::ofstream(bad) << "node:\n  id: 16777216\nports:\n  - {name: eth0, device: net_pcap0}\n";
    refused(api, "reload " + bad, "bad.yaml:2:7: node.id: 16777216 is out of range");

    // Valid, but with other ports: the appliance refuses, nothing changes.
    const std::string ports = (dir / "ports.yaml").string();
    std::ofstream(ports) << "ports:\n  - {name: eth0, device: net_pcap0}\n";
    refused(api, "reload " + ports, "restart required");
    EXPECT_EQ(api.path, "base.yaml");
    refused(api, "save config", "missing FILE");
    refused(api, "save config " + (dir / "no" / "such" / "dir.yaml").string(), "cannot write");
    refused(api, "save stats x", "usage: save config FILE");
    refused(api, "reload a b", "unexpected 'b'");
    fs::remove_all(dir);
}

// --- every refusal leaves the configuration alone --------------------------------------------------

TEST(CommandsInvariants, RefusedCommandsNeverApply) {
    const std::vector<std::string> bad = {
        "ioam namespace add 123",
        "ioam namespace del 999",
        "ioam namespace set 999 schema 666",
        "ioam schema add 666 x",
        "ioam schema del 999",
        "set node id 99999999",
        "set port eth5 ioam enabled on",
        "route add db03::/64 port eth1",
        "route add db05::/64 port eth1 encap ioam6 mode auto trace prealloc type 0x800000 ns 1 size 4",
        "route del db99::/64",
        "neigh del db02::2 port eth0",
        "neigh add db02::2 lladdr 02:00:00:00:03:00 port eth1",
        "show nothing",
        "\"unterminated",
    };
    FakeApi api;
    const std::string before = api.yaml();
    for (const std::string& line : bad) {
        const std::string reply = run(api, line);
        EXPECT_TRUE(is_error_reply(reply)) << line;
    }
    EXPECT_EQ(api.yaml(), before);
    EXPECT_EQ(api.gen, 1u);
}

TEST(CommandsInvariants, EveryTableEntryIsDispatched) {
    // A command the table advertises must never be "unknown command".
    FakeApi api;
    for (const CommandSpec& s : command_table()) {
        std::string line;
        for (const std::string& w : s.words) line += w + " ";
        if (s.words[0] == "quit") continue;
        const std::string reply = run(api, line);
        EXPECT_EQ(reply.find("unknown command"), std::string::npos) << line << " => " << reply;
    }
}

}  // namespace
}  // namespace ioamfwd::cp
