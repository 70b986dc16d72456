#pragma once
// The application's own command line, after EAL's options and "--", in the
// style of testpmd and l3fwd.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ioamfwd::cp {

struct AppOptions {
    std::string config_path;
    std::optional<uint32_t> idle_exit_ms;
    std::string stats_json_path;
    std::string log_level = "info";
    std::string trace_export;         // "", "-", "unix:PATH" or a file
    bool trace_export_transit = false;
    uint32_t export_ring_size = 8192;
    bool interactive = false;          // -i: librte_cmdline console on stdin
    std::string cmdline_file;          // commands run before forwarding starts
    std::string control_socket;        // Unix socket taking command lines
    uint32_t stats_interval_s = 0;     // 0: no periodic stats line
    uint32_t idle_sleep_us = 0;        // 0: workers busy-poll without pause
    uint32_t idle_polls = 64;          // empty loop iterations before a nap
    std::string rx_config;             // "(PORT,QUEUE,LCORE),...": replaces lcores[]
    bool help = false;
};

/// Parses the application arguments (argv[0] is the program name). Returns
/// nullopt and sets `err` on a bad command line.
std::optional<AppOptions> parse_app_options(const std::vector<std::string>& args,
                                            std::string& err);

/// True if the user asked for our help with no EAL arguments to parse first
/// ("ioamfwd --help", or "--help" anywhere after "--").
bool wants_help(int argc, char** argv);

std::string usage(const std::string& prog);

}  // namespace ioamfwd::cp
