// libFuzzer target: the YAML configuration loader on arbitrary text. It must
// return a Config or throw ConfigError ("FILE:LINE:COLUMN: reason"); any other
// exception, a crash or a hang (libFuzzer's -timeout) is a finding. A
// configuration it accepts is then compiled by the control plane's snapshot
// builder (rte_fib6, neighbour hash, namespaces) on a real EAL, which must
// either succeed or say why, as a reload would.
// Run longer: build-fuzz/tests/fuzz/fuzz_config -max_total_time=3600 tests/fuzz/corpus/config

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../dp/dp_env.hpp"
#include "control/config.hpp"
#include "control/snapshot_builder.hpp"

namespace {

using namespace ioamfwd;

testenv::DpEnv* g_env = nullptr;
uint64_t g_generation = 0;

[[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "\n*** ioamfwd fuzz_config: %s\n", why.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::string err;
    g_env = testenv::DpEnv::init("fuzz_config", err);
    if (!g_env) {
        std::fprintf(stderr, "fuzz_config: %s\n", err.c_str());
        std::exit(1);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    cp::Config cfg;
    try {
        cfg = cp::load_config_text(text, "fuzz.yaml");
    } catch (const cp::ConfigError& e) {
        // The message is always "fuzz.yaml:LINE:COLUMN: reason".
        const std::string what = e.what();
        const std::string head = "fuzz.yaml:" + std::to_string(e.mark().line) + ":" +
                                 std::to_string(e.mark().column) + ": ";
        if (what.rfind(head, 0) != 0 || e.reason().empty() || e.mark().line < 0 ||
            e.mark().column < 0)
            fail("malformed ConfigError: " + what);
        return 0;
    }
    // Accepted: every cross-reference must hold, as the builder relies on it.
    if (cfg.ports.empty()) fail("accepted a configuration without ports");
    if (cfg.ports.size() > dp::kMaxPorts) return 0;  // more than an EAL can have
    std::vector<cp::PortBinding> bindings;
    for (size_t i = 0; i < cfg.ports.size(); ++i) {
        cp::PortBinding b;
        b.name = cfg.ports[i].name;
        b.port_id = uint16_t(i);
        b.mac.addr_bytes[0] = 0x02;
        b.mac.addr_bytes[5] = uint8_t(i);
        bindings.push_back(b);
    }
    for (const auto& r : cfg.routes)
        if (!cfg.find_port(r.port)) fail("accepted a route to an unknown port: " + r.port);
    for (const auto& n : cfg.neighbors)
        if (!cfg.find_port(n.port)) fail("accepted a neighbour on an unknown port: " + n.port);
    for (const auto& ns : cfg.namespaces)
        if (ns.schema && !cfg.find_schema(*ns.schema)) fail("accepted an unknown schema id");
    std::string err;
    auto snap = cp::build_snapshot(cfg, bindings, ++g_generation, err);
    if (!snap && err.empty()) fail("build_snapshot failed without a reason");
    return 0;
}
