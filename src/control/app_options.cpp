#include "control/app_options.hpp"

#include <cstring>

namespace ioamfwd::cp {

namespace {
bool parse_u32(const std::string& s, uint32_t& out) {
    if (s.empty() || s.size() > 10) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + uint64_t(c - '0');
    }
    if (v > 0xffffffffull) return false;
    out = uint32_t(v);
    return true;
}
}  // namespace

bool wants_help(int argc, char** argv) {
    bool after_sep = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) after_sep = true;
        bool is_help = std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0;
        if (is_help && (after_sep || argc == 2)) return true;
    }
    return false;
}

std::string usage(const std::string& prog) {
    return "Usage: " + prog + " [EAL options] -- --config FILE [options]\n"
           "\n"
           "ioamfwd forwards IPv6 between DPDK ports and processes IOAM (RFC 9197/9486)\n"
           "Pre-allocated Trace options exactly as a Linux node with the same IDs does.\n"
           "Ports come from the EAL (PCI devices or --vdev net_pcap0,rx_pcap=IN,tx_pcap=OUT)\n"
           "and are matched to the configuration's ports[].device by device name.\n"
           "The main lcore runs the control thread; every other lcore runs a worker.\n"
           "\n"
           "Options:\n"
           "  --config FILE       YAML configuration (required; keys in config/README.md)\n"
           "  --idle-exit MS      stop once no port has received a packet for MS ms,\n"
           "                      after flushing every tx buffer (replay runs)\n"
           "  --stats-json FILE   at exit, write every counter as JSON to FILE\n"
           "  --log-level LEVEL   trace|debug|info|warn|error|off (default info)\n"
           "  --trace-export T    write every trace this node completes (destination or\n"
           "                      decapsulation) as JSON Lines to T: a file, - for stdout,\n"
           "                      or unix:PATH for a listening Unix stream socket (0600)\n"
           "  --trace-export-transit  also export the traces of forwarded packets (like\n"
           "                      Linux's ip ioam monitor)\n"
           "  --export-ring-size N  records the export ring holds (default 8192); when it\n"
           "                      is full records are dropped and counted, workers never wait\n"
           "  -i, --interactive   operator console on stdin (librte_cmdline: line editing,\n"
           "                      history, TAB completion; type help); end of input or\n"
           "                      quit stops the appliance\n"
           "  --cmdline-file FILE run FILE's command lines before forwarding starts; the\n"
           "                      first refused line stops the start with FILE:LINE and\n"
           "                      exit code 1, before any packet is received\n"
           "  --control-socket PATH  take command lines on a Unix stream socket (mode\n"
           "                      0600); each reply ends with a line \".\" (scripts/ioamctl)\n"
           "  --stats-interval S  log a one-line rate summary every S seconds (1..3600)\n"
           "  --idle-sleep-us N   a worker whose rx queues all came back empty --idle-polls\n"
           "                      times in a row sleeps N us (1..100000) before polling\n"
           "                      again: for shared cores; default 0 = busy-poll always\n"
           "  --idle-polls N      empty polls before such a sleep (1..1000000, default 64)\n"
           "  --rx-config \"(PORT,QUEUE,LCORE),...\"  which worker lcore polls which rx\n"
           "                      queue; replaces the configuration's lcores: (also on\n"
           "                      reload), same rules (config/README.md)\n"
           "  -h, --help          this text\n"
           "\n"
           "Signals: SIGINT/SIGTERM stop cleanly and print the summary; SIGHUP reloads\n"
           "the configuration file (--config, or the last one a reload FILE command\n"
           "loaded; refused as a whole if invalid, the running configuration then\n"
           "stays in force).\n"
           "\n"
           "Example (replay a capture through the seed's Porthos transit node):\n"
           "  " + prog + " -l 0-1 --no-huge -m 512 --no-shconf --no-pci \\\n"
           "     --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out0.pcap \\\n"
           "     --vdev net_pcap1,rx_pcap=empty.pcap,tx_pcap=out1.pcap \\\n"
           "     -- --config config/porthos.yaml --idle-exit 500\n";
}

std::optional<AppOptions> parse_app_options(const std::vector<std::string>& args,
                                            std::string& err) {
    AppOptions o;
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) {
                err = "option " + a + " needs a value";
                return false;
            }
            out = args[++i];
            return true;
        };
        if (a == "-h" || a == "--help") {
            o.help = true;
        } else if (a == "--config") {
            if (!value(o.config_path)) return std::nullopt;
        } else if (a == "--stats-json") {
            if (!value(o.stats_json_path)) return std::nullopt;
        } else if (a == "--log-level") {
            if (!value(o.log_level)) return std::nullopt;
            static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
            bool ok = false;
            for (const char* l : kLevels) ok = ok || o.log_level == l;
            if (!ok) {
                err = "--log-level: unknown level '" + o.log_level + "'";
                return std::nullopt;
            }
        } else if (a == "--trace-export") {
            if (!value(o.trace_export)) return std::nullopt;
            if (o.trace_export.empty()) {
                err = "--trace-export needs a file, - or unix:PATH";
                return std::nullopt;
            }
        } else if (a == "--trace-export-transit") {
            o.trace_export_transit = true;
        } else if (a == "--export-ring-size") {
            std::string v;
            if (!value(v)) return std::nullopt;
            if (!parse_u32(v, o.export_ring_size) || o.export_ring_size < 16 ||
                o.export_ring_size > (1u << 24)) {
                err = "--export-ring-size: '" + v + "' is not a number from 16 to 16777216";
                return std::nullopt;
            }
        } else if (a == "-i" || a == "--interactive") {
            o.interactive = true;
        } else if (a == "--cmdline-file") {
            if (!value(o.cmdline_file)) return std::nullopt;
            if (o.cmdline_file.empty()) {
                err = "--cmdline-file needs a file name";
                return std::nullopt;
            }
        } else if (a == "--control-socket") {
            if (!value(o.control_socket)) return std::nullopt;
            if (o.control_socket.empty()) {
                err = "--control-socket needs a path";
                return std::nullopt;
            }
        } else if (a == "--stats-interval") {
            std::string v;
            if (!value(v)) return std::nullopt;
            if (!parse_u32(v, o.stats_interval_s) || o.stats_interval_s < 1 ||
                o.stats_interval_s > 3600) {
                err = "--stats-interval: '" + v + "' is not a number of seconds from 1 to 3600";
                return std::nullopt;
            }
        } else if (a == "--idle-sleep-us") {
            std::string v;
            if (!value(v)) return std::nullopt;
            if (!parse_u32(v, o.idle_sleep_us) || o.idle_sleep_us < 1 ||
                o.idle_sleep_us > 100000) {
                err = "--idle-sleep-us: '" + v + "' is not a number of microseconds from 1 to "
                      "100000";
                return std::nullopt;
            }
        } else if (a == "--rx-config") {
            if (!value(o.rx_config)) return std::nullopt;
            if (o.rx_config.empty()) {
                err = "--rx-config needs (PORT,QUEUE,LCORE),...";
                return std::nullopt;
            }
        } else if (a == "--idle-polls") {
            std::string v;
            if (!value(v)) return std::nullopt;
            if (!parse_u32(v, o.idle_polls) || o.idle_polls < 1 || o.idle_polls > 1000000) {
                err = "--idle-polls: '" + v + "' is not a number from 1 to 1000000";
                return std::nullopt;
            }
        } else if (a == "--idle-exit") {
            std::string v;
            uint32_t ms;
            if (!value(v)) return std::nullopt;
            if (!parse_u32(v, ms) || ms == 0) {
                err = "--idle-exit: '" + v + "' is not a number of milliseconds (1..4294967295)";
                return std::nullopt;
            }
            o.idle_exit_ms = ms;
        } else {
            err = "unknown option '" + a + "' (see --help)";
            return std::nullopt;
        }
    }
    if (o.trace_export_transit && o.trace_export.empty()) {
        err = "--trace-export-transit needs --trace-export";
        return std::nullopt;
    }
    if (o.interactive && o.trace_export == "-") {
        err = "--trace-export - writes to stdout, which the -i console uses; export to a file "
              "or unix:PATH";
        return std::nullopt;
    }
    if (!o.help && o.config_path.empty()) {
        err = "--config FILE is required (see --help)";
        return std::nullopt;
    }
    return o;
}

}  // namespace ioamfwd::cp
