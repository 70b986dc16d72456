#include "control/app.hpp"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "control/app_options.hpp"
#include "control/config.hpp"
#include "control/snapshot_builder.hpp"
#include "control/stats_report.hpp"
#include "control/trace_exporter.hpp"
#include "dataplane/ports.hpp"
#include "dataplane/worker.hpp"

namespace ioamfwd::cp {

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop_signal = 0;
volatile std::sig_atomic_t g_reload_signal = 0;

void on_stop_signal(int) { g_stop_signal = 1; }
void on_reload_signal(int) { g_reload_signal = 1; }

uint64_t ms_since(Clock::time_point t) {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

std::string ports_for_message(const std::vector<uint16_t>& ids) {
    std::string s;
    for (uint16_t id : ids) s += (s.empty() ? "" : ", ") + dp::port_device_name(id);
    return s.empty() ? "none" : s;
}

// Everything that lives from port start to shutdown.
class Appliance {
public:
    explicit Appliance(AppOptions opts) : opts_(std::move(opts)) {}
    int run(int argc, char** argv);

private:
    bool bind_ports();
    bool start_ports();
    bool launch_workers();
    bool open_export(std::string& err);
    void control_loop();
    void reload();
    void shutdown_and_report();
    static bool same_ports(const Config& a, const Config& b, std::string& why);

    AppOptions opts_;
    Config cfg_;
    std::vector<PortBinding> bindings_;
    std::vector<PortLabel> labels_;
    rte_mempool* pool_ = nullptr;
    dp::SnapshotSlot slot_;  // owns the live snapshot
    dp::ExportRing export_ring_;
    TraceExporter exporter_;
    bool exporting_ = false;
    std::vector<std::string> port_names_;  // by port id, for export records
    uint64_t generation_ = 0;
    std::vector<unsigned> worker_lcores_;
    std::vector<std::unique_ptr<dp::WorkerConfig>> worker_cfgs_;
    std::unique_ptr<dp::WorkerStats[]> stats_;
    std::atomic<bool> stop_{false};
    Clock::time_point started_;
};

bool Appliance::bind_ports() {
    const std::vector<uint16_t> eal_ports = dp::all_ports();
    for (const auto& pc : cfg_.ports) {
        auto id = dp::find_port_by_name(pc.device);
        if (!id) {
            spdlog::error("{}:{}:{}: port {}: device '{}' is not an EAL port (EAL ports: {})",
                          cfg_.source, pc.mark.line, pc.mark.column, pc.name, pc.device,
                          ports_for_message(eal_ports));
            return false;
        }
        bindings_.push_back({pc.name, *id, {}});
        labels_.push_back({pc.name, pc.device, *id});
        if (port_names_.size() <= *id) port_names_.resize(*id + 1u, "?");
        port_names_[*id] = pc.name;
    }
    for (uint16_t id : eal_ports) {
        bool used = false;
        for (const auto& b : bindings_) used = used || b.port_id == id;
        if (!used) {
            spdlog::error("EAL port {} ({}) has no ports[] entry in {}", id,
                          dp::port_device_name(id), cfg_.source);
            return false;
        }
    }
    return true;
}

bool Appliance::start_ports() {
    uint16_t max_mtu = 0;
    for (const auto& pc : cfg_.ports) max_mtu = std::max(max_mtu, pc.mtu);
    std::string err;
    pool_ = dp::create_mbuf_pool(unsigned(cfg_.ports.size()), unsigned(worker_lcores_.size()),
                                 max_mtu, err);
    if (!pool_) {
        spdlog::error("{}", err);
        return false;
    }
    for (size_t i = 0; i < cfg_.ports.size(); ++i) {
        const PortConfig& pc = cfg_.ports[i];
        dp::PortSpec spec;
        spec.port_id = bindings_[i].port_id;
        spec.mtu = pc.mtu;
        if (pc.mac) {
            rte_ether_addr m;
            std::memcpy(m.addr_bytes, pc.mac->bytes.data(), 6);
            spec.mac = m;
        }
        dp::PortState st;
        if (!dp::start_port(spec, uint16_t(worker_lcores_.size()), pool_, st, err)) {
            spdlog::error("port {} ({}): {}", pc.name, pc.device, err);
            return false;
        }
        bindings_[i].mac = st.mac;
        spdlog::info("port {} = {} (port id {}), MTU {}{}, MAC {}{}", pc.name, pc.device,
                     st.port_id, pc.mtu, st.mtu_in_software ? " (enforced in software)" : "",
                     MacAddr{{st.mac.addr_bytes[0], st.mac.addr_bytes[1], st.mac.addr_bytes[2],
                              st.mac.addr_bytes[3], st.mac.addr_bytes[4], st.mac.addr_bytes[5]}}
                         .to_string(),
                     st.promiscuous ? " (promiscuous: device has no MAC filter)" : "");
    }
    return true;
}

bool Appliance::launch_workers() {
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) { worker_lcores_.push_back(lcore); }
    if (worker_lcores_.empty()) {
        spdlog::error("no worker lcore: give the EAL at least two lcores (e.g. -l 0-1); the "
                      "main lcore runs the control thread");
        return false;
    }
    return true;
}

bool Appliance::open_export(std::string& err) {
    if (opts_.trace_export.empty()) return true;
    if (!export_ring_.init(opts_.export_ring_size, err) || !exporter_.open(opts_.trace_export, err))
        return false;
    exporting_ = true;
    return true;
}

bool Appliance::same_ports(const Config& a, const Config& b, std::string& why) {
    if (a.ports.size() != b.ports.size()) {
        why = "the number of ports changed";
        return false;
    }
    for (size_t i = 0; i < a.ports.size(); ++i) {
        const auto &x = a.ports[i], &y = b.ports[i];
        if (x.name != y.name || x.device != y.device || x.mtu != y.mtu || x.mac != y.mac) {
            why = "port " + y.name + " changed its name, device, MTU or MAC";
            return false;
        }
    }
    return true;
}

void Appliance::reload() {
    Config next;
    try {
        next = load_config_file(opts_.config_path);
    } catch (const ConfigError& e) {
        spdlog::error("reload refused, running configuration kept: {}", e.what());
        return;
    }
    std::string why;
    if (!same_ports(cfg_, next, why)) {
        spdlog::error("reload refused, running configuration kept: {} (restart required)", why);
        return;
    }
    std::string err;
    auto snap = build_snapshot(next, bindings_, ++generation_, err);
    if (!snap) {
        spdlog::error("reload refused, running configuration kept: {}", err);
        return;
    }
    slot_.publish(std::move(snap));  // the previous snapshot is freed here
    cfg_ = std::move(next);
    spdlog::info("configuration reloaded from {} (generation {})", opts_.config_path, generation_);
}

void Appliance::control_loop() {
    uint64_t last_rx = 0;
    Clock::time_point last_change = Clock::now();
    std::vector<const dp::WorkerStats*> ws;
    for (size_t i = 0; i < worker_lcores_.size(); ++i) ws.push_back(&stats_[i]);
    while (!g_stop_signal) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (exporting_) exporter_.drain(export_ring_, port_names_);
        if (g_reload_signal) {
            g_reload_signal = 0;
            reload();
        }
        if (opts_.idle_exit_ms) {
            const uint64_t rx = sum_stats(ws).total_rx();
            if (rx != last_rx) {
                last_rx = rx;
                last_change = Clock::now();
            } else if (ms_since(last_change) >= *opts_.idle_exit_ms) {
                spdlog::info("no packet for {} ms: stopping", *opts_.idle_exit_ms);
                break;
            }
        }
    }
    if (g_stop_signal) spdlog::info("signal received: stopping");
}

void Appliance::shutdown_and_report() {
    stop_.store(true, std::memory_order_relaxed);
    rte_eal_mp_wait_lcore();
    for (const auto& b : bindings_) dp::stop_port(b.port_id);
    if (exporting_) {
        exporter_.drain(export_ring_, port_names_);
        exporter_.close();
    }

    std::vector<const dp::WorkerStats*> ws;
    for (size_t i = 0; i < worker_lcores_.size(); ++i) ws.push_back(&stats_[i]);
    const StatsTotals totals = sum_stats(ws);
    RunInfo run;
    run.runtime_ms = ms_since(started_);
    // Every mbuf must be back in the pool once ports are closed: anything else
    // is a leak on some path.
    run.mbufs_in_use = pool_ ? rte_mempool_in_use_count(pool_) : 0;
    run.exporting = exporting_;
    run.export_written = exporter_.written();
    run.export_lost = exporter_.lost();
    std::fputs(format_summary(totals, labels_, run).c_str(), stdout);
    std::fflush(stdout);
    if (!opts_.stats_json_path.empty()) {
        std::ofstream out(opts_.stats_json_path);
        out << format_json(totals, labels_, run);
        if (!out) spdlog::error("cannot write {}", opts_.stats_json_path);
    }
}

int Appliance::run(int argc, char** argv) {
    try {
        cfg_ = load_config_file(opts_.config_path);
    } catch (const ConfigError& e) {
        spdlog::error("configuration refused: {}", e.what());
        return 1;
    }
    if (rte_eal_init(argc, argv) < 0) {
        spdlog::error("EAL initialisation failed: {}", rte_strerror(rte_errno));
        return 1;
    }
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGHUP, on_reload_signal);
    started_ = Clock::now();

    int rc = 1;
    std::string err;
    if (launch_workers() && bind_ports() && start_ports() &&
        slot_.init(unsigned(worker_lcores_.size()), err) && open_export(err)) {
        auto snap = build_snapshot(cfg_, bindings_, ++generation_, err);
        if (snap) {
            slot_.publish(std::move(snap));
            stats_.reset(new dp::WorkerStats[worker_lcores_.size()]);
            std::vector<uint16_t> tx_ports;
            for (const auto& b : bindings_) tx_ports.push_back(b.port_id);
            for (size_t w = 0; w < worker_lcores_.size(); ++w) {
                auto wc = std::make_unique<dp::WorkerConfig>();
                wc->index = unsigned(w);
                wc->tx_ports = tx_ports;
                wc->slot = &slot_;
                wc->stats = &stats_[w];
                wc->stop = &stop_;
                wc->export_ring = exporting_ ? &export_ring_ : nullptr;
                wc->export_transit = opts_.trace_export_transit;
                worker_cfgs_.push_back(std::move(wc));
            }
            // One rx queue per port, spread over the workers.
            for (size_t i = 0; i < bindings_.size(); ++i)
                worker_cfgs_[i % worker_cfgs_.size()]->rx.push_back({bindings_[i].port_id, 0});
            for (size_t w = 0; w < worker_lcores_.size(); ++w)
                rte_eal_remote_launch(dp::worker_main, worker_cfgs_[w].get(), worker_lcores_[w]);
            spdlog::info("forwarding with {} worker lcore(s); configuration {} (generation {})",
                         worker_lcores_.size(), opts_.config_path, generation_);
            control_loop();
            shutdown_and_report();
            rc = 0;
        }
    }
    if (!err.empty()) spdlog::error("{}", err);
    if (rc != 0) {
        stop_.store(true);
        rte_eal_mp_wait_lcore();
    }
    slot_.shutdown();
    export_ring_.shutdown();
    if (pool_) rte_mempool_free(pool_);
    rte_eal_cleanup();
    return rc;
}

}  // namespace

int run_app(int argc, char** argv) {
    const std::string prog = argc > 0 ? argv[0] : "ioamfwd";
    if (wants_help(argc, argv)) {
        std::fputs(usage(prog).c_str(), stdout);
        return 0;
    }
    std::vector<std::string> app_args{prog};
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--") {
            for (int j = i + 1; j < argc; ++j) app_args.emplace_back(argv[j]);
            break;
        }
    auto logger = spdlog::stderr_color_mt("ioamfwd");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

    std::string err;
    auto opts = parse_app_options(app_args, err);
    if (!opts) {
        spdlog::error("{}", err);
        std::fputs(usage(prog).c_str(), stderr);
        return 2;
    }
    spdlog::set_level(spdlog::level::from_str(opts->log_level));
    Appliance app(std::move(*opts));
    return app.run(argc, argv);
}

}  // namespace ioamfwd::cp
