#pragma once
// The operator's command language: one interpreter behind three front ends
// (the interactive librte_cmdline console, --cmdline-file batches and the
// --control-socket). It knows nothing about DPDK: it reads and changes the
// appliance through ControlApi, which the Appliance implements and the unit
// tests fake.
//
// Every change edits a copy of the running Config, writes it as YAML
// (config_writer), loads that text through the same loader as a file
// (load_config_text) and hands the result to ControlApi::apply, which
// compiles and publishes a snapshot. So the console can never accept what
// the YAML loader refuses, and a refused command changes nothing.

#include <cstdint>
#include <string>
#include <vector>

#include "control/config.hpp"

namespace ioamfwd::cp {

/// What the command language needs from the appliance.
class ControlApi {
public:
    virtual ~ControlApi() = default;

    /// The configuration in force.
    virtual const Config& config() const = 0;
    /// Make `next` (already validated by the loader) the running
    /// configuration: build and publish its snapshot. On false nothing changed
    /// and `err` says why (e.g. a port change, which needs a restart).
    virtual bool apply(Config next, std::string& err) = 0;
    /// Snapshot generation in force (1 = the configuration read at start).
    virtual uint64_t generation() const = 0;

    /// The file SIGHUP and a bare `reload` read.
    virtual std::string config_path() const = 0;
    virtual void set_config_path(const std::string& path) = 0;

    /// `show port stats`: device counters and the forwarder's own, per port.
    virtual std::string port_stats() = 0;
    /// `show port xstats PORT`; `port` is a configured port name.
    virtual std::string port_xstats(const std::string& port) = 0;
    /// `show stats`: per worker lcore and per reason, zeros omitted.
    virtual std::string stats() = 0;
    /// `clear stats`: what the show commands count from.
    virtual void clear_stats() = 0;
    /// `show neighbors`: static and discovered neighbours, one a line.
    virtual std::string neighbors() { return "neighbour discovery is not running\n"; }

    virtual bool forwarding() const = 0;
    virtual void set_forwarding(bool on) = 0;
    /// `quit`: stop the appliance (clean shutdown and summary).
    virtual void quit() = 0;
};

/// One entry of the command table: the fixed words a command starts with,
/// whether arguments follow, and its help. The console builds its
/// librte_cmdline instances (completion, `?` help) from this table.
struct CommandSpec {
    enum class Args { None, Required, Optional };
    std::vector<std::string> words;
    Args args = Args::None;
    std::string usage;
    std::string help;
};

const std::vector<CommandSpec>& command_table();

/// Runs one command line and returns what to print: nothing for a
/// successful change, the requested text for show commands, or exactly one
/// line "error: ..." when the command is refused (then nothing changed).
/// Every non-empty reply ends with a newline.
std::string execute(const std::string& line, ControlApi& api);

/// True when `reply` (from execute) reports a refusal.
bool is_error_reply(const std::string& reply);

/// Write `next` as YAML, load it back and apply it: the path every change
/// takes. False and `err` (one line, no "error: " prefix) when refused.
bool commit_config(ControlApi& api, const Config& next, std::string& err);

/// Load `path` and apply it (SIGHUP and `reload`). `message` is the outcome
/// either way, one line.
bool reload_config(ControlApi& api, const std::string& path, std::string& message);

/// Source name of configurations made by the console (it appears in place
/// of a file name in messages about them).
inline constexpr const char* kConsoleSource = "(console)";

}  // namespace ioamfwd::cp
