#include "control/app.hpp"

#include <malloc.h>
#include <poll.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "control/app_options.hpp"
#include "control/commands.hpp"
#include "control/config.hpp"
#include "control/console.hpp"
#include "control/control_socket.hpp"
#include "control/log_bridge.hpp"
#include "control/nd_service.hpp"
#include "control/rx_plan.hpp"
#include "control/snapshot_builder.hpp"
#include "control/stats_report.hpp"
#include "control/stats_view.hpp"
#include "control/telemetry.hpp"
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

constexpr auto kControlTick = std::chrono::milliseconds(5);

uint64_t ms_since(Clock::time_point t) {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

std::string ports_for_message(const std::vector<uint16_t>& ids) {
    std::string s;
    for (uint16_t id : ids) s += (s.empty() ? "" : ", ") + dp::port_device_name(id);
    return s.empty() ? "none" : s;
}

rte_eth_stats eth_minus(const rte_eth_stats& a, const rte_eth_stats& b) {
    rte_eth_stats d{};
    d.ipackets = a.ipackets - b.ipackets;
    d.opackets = a.opackets - b.opackets;
    d.ibytes = a.ibytes - b.ibytes;
    d.obytes = a.obytes - b.obytes;
    d.imissed = a.imissed - b.imissed;
    d.ierrors = a.ierrors - b.ierrors;
    d.oerrors = a.oerrors - b.oerrors;
    d.rx_nombuf = a.rx_nombuf - b.rx_nombuf;
    return d;
}

// Everything that lives from port start to shutdown. The Appliance is the
// ControlApi of the command interpreter and the source of the telemetry
// endpoints; both only ever change it on the control thread (the main lcore).
class Appliance final : public ControlApi, public TelemetrySource {
public:
    explicit Appliance(AppOptions opts)
        : opts_(std::move(opts)), config_path_(opts_.config_path) {}
    int run(int argc, char** argv);

    // ControlApi
    const Config& config() const override { return cfg_; }
    bool apply(Config next, std::string& err) override;
    uint64_t generation() const override { return generation_.load(); }
    std::string config_path() const override { return config_path_; }
    void set_config_path(const std::string& path) override { config_path_ = path; }
    std::string port_stats() override;
    std::string port_xstats(const std::string& port) override;
    std::string stats() override;
    void clear_stats() override;
    bool forwarding() const override { return forwarding_.load(); }
    void set_forwarding(bool on) override;
    void quit() override { quit_ = true; }
    std::string neighbors() override { return nd_.show(cfg_, ms_since(started_)); }

    // TelemetrySource (called on the telemetry thread)
    StatsTotals telemetry_totals() override { return whole_run_totals(); }
    bool telemetry_forwarding() override { return forwarding_.load(); }
    uint64_t telemetry_generation() override { return generation_.load(); }
    std::vector<PortLabel> telemetry_ports() override { return labels_; }
    std::vector<LcoreStats> telemetry_lcores() override { return lcore_stats(false); }
    Config telemetry_config() override {
        std::lock_guard lock(cfg_mutex_);
        return cfg_;
    }
    std::vector<NeighborRow> telemetry_neighbors() override;
    std::vector<std::pair<std::string, uint64_t>> telemetry_nd_counters() override {
        return nd_.counter_view();
    }

private:
    bool bind_ports();
    bool start_ports();
    bool find_worker_lcores();
    bool open_export(std::string& err);
    void prepare_workers();
    bool run_cmdline_file();
    void control_loop();
    void periodic();
    void shutdown_and_report(bool forwarded);
    std::string handle_line(const std::string& line);
    StatsTotals worker_totals(size_t w) const;
    std::vector<LcoreStats> lcore_stats(bool since_clear) const;
    StatsTotals whole_run_totals() const;
    static bool same_ports(const Config& a, const Config& b, std::string& why);

    AppOptions opts_;
    std::string config_path_;  // what SIGHUP and a bare `reload` read
    Config cfg_;
    mutable std::mutex cfg_mutex_;  // cfg_ replacement vs. telemetry's copies
    std::vector<PortBinding> bindings_;
    std::vector<PortLabel> labels_;
    rte_mempool* pool_ = nullptr;
    dp::SnapshotSlot slot_;  // owns the live snapshot
    dp::ExportRing export_ring_;
    NdService nd_;  // after slot_: its cache reclaims through slot_'s QSBR variable
    TraceExporter exporter_;
    bool exporting_ = false;
    std::vector<std::string> port_names_;  // by port id, for export records
    std::atomic<uint64_t> generation_{0};
    RxPlan plan_;                       // which worker polls which rx queue
    std::optional<std::vector<LcoreConfig>> rx_override_;  // --rx-config
    std::vector<unsigned> worker_lcores_;  // the plan's lcores, in launch order
    std::vector<std::unique_ptr<dp::WorkerConfig>> worker_cfgs_;
    std::unique_ptr<dp::WorkerStats[]> stats_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> forwarding_{true};
    bool quit_ = false;
    Clock::time_point started_;
    std::vector<std::pair<std::string, uint64_t>> run_nd_counters_;

    // Control loop state.
    Console console_;
    bool console_open_ = false;
    ControlSocket socket_;
    uint64_t last_rx_ = 0;
    Clock::time_point last_rx_change_;
    StatsTotals interval_base_;
    Clock::time_point interval_start_;

    // What the show commands count from (clear stats).
    std::vector<StatsTotals> worker_base_;
    std::vector<std::vector<uint64_t>> rx_queue_base_;  // by worker, by rx position
    std::vector<uint64_t> idle_sleeps_base_;
    std::vector<rte_eth_stats> port_base_;  // by bindings_ index
    std::map<uint16_t, std::vector<uint64_t>> xstats_base_;  // by port id, by xstat id
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
    unsigned n_rxq = 0;
    for (const auto& pc : cfg_.ports) n_rxq += pc.rx_queues;
    pool_ = dp::create_mbuf_pool(unsigned(cfg_.ports.size()), n_rxq,
                                 unsigned(worker_lcores_.size()), max_mtu, err);
    if (!pool_) {
        spdlog::error("{}", err);
        return false;
    }
    for (size_t i = 0; i < cfg_.ports.size(); ++i) {
        const PortConfig& pc = cfg_.ports[i];
        dp::PortSpec spec;
        spec.port_id = bindings_[i].port_id;
        spec.mtu = pc.mtu;
        spec.rx_queues = pc.rx_queues;
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
        if (!st.allmulticast_error.empty())
            spdlog::warn("port {} ({}): cannot enable all-multicast ({}): neighbour discovery "
                         "may not see solicitations and advertisements to groups",
                         pc.name, pc.device, st.allmulticast_error);
        spdlog::info("port {} = {} (port id {}), MTU {}{}, MAC {}{}", pc.name, pc.device,
                     st.port_id, pc.mtu, st.mtu_in_software ? " (enforced in software)" : "",
                     MacAddr{{st.mac.addr_bytes[0], st.mac.addr_bytes[1], st.mac.addr_bytes[2],
                              st.mac.addr_bytes[3], st.mac.addr_bytes[4], st.mac.addr_bytes[5]}}
                         .to_string(),
                     st.promiscuous ? " (promiscuous: device has no MAC filter)" : "");
        // These vdevs fill every queue given on their command line whether
        // or not it is set up (a file per queue; a fanout socket per qpair).
        if ((st.driver == "net_pcap" || st.driver == "net_af_packet") &&
            st.device_rx_queues > pc.rx_queues)
            spdlog::warn("port {}: {} has {} rx queues but rx_queues is {}: what it puts on "
                         "queue{} {} is never read (set rx_queues: {})",
                         pc.name, pc.device, st.device_rx_queues, pc.rx_queues,
                         st.device_rx_queues - pc.rx_queues > 1 ? "s" : "",
                         st.device_rx_queues - pc.rx_queues > 1
                             ? std::to_string(pc.rx_queues) + ".." +
                                   std::to_string(st.device_rx_queues - 1)
                             : std::to_string(pc.rx_queues),
                         st.device_rx_queues);
        if (pc.rx_queues > 1 && st.rss_hf)
            spdlog::info("port {}: {} rx queues, RSS on IPv6 addresses and ports (hash types "
                         "{:#x})",
                         pc.name, pc.rx_queues, st.rss_hf);
        else if (pc.rx_queues > 1 && st.driver == "net_pcap")
            spdlog::info("port {}: {} rx queues, one rx_pcap file each (net_pcap has no RSS)",
                         pc.name, pc.rx_queues);
        else if (pc.rx_queues > 1 && st.driver == "net_af_packet")
            // Seen on veths: under overload packets also roll over to a
            // queue that has room, so a flow may then be reordered.
            spdlog::info("port {}: {} rx queues spread by the kernel's PACKET_FANOUT hash "
                         "(addresses and TCP/UDP ports, not the flow label; a full queue rolls "
                         "over to another)",
                         pc.name, pc.rx_queues);
        else if (pc.rx_queues > 1)
            spdlog::warn("port {}: {} rx queues but {} (driver {}) offers no RSS: unless it "
                         "spreads packets itself, all of them arrive on queue 0",
                         pc.name, pc.rx_queues, pc.device, st.driver);
    }
    return true;
}

bool Appliance::find_worker_lcores() {
    std::vector<unsigned> eal_workers;
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) { eal_workers.push_back(lcore); }
    std::string err;
    auto plan = plan_rx(cfg_, eal_workers, rte_get_main_lcore(), dp::kMaxRxPerWorker, err);
    if (!plan) {
        spdlog::error("{}", err);
        return false;
    }
    plan_ = std::move(*plan);
    for (unsigned idle : plan_.idle_lcores)
        spdlog::warn("lcore {} has no rx queue to poll: not launched (give ports more rx_queues "
                     "or the EAL fewer lcores)",
                     idle);
    for (const WorkerPlan& w : plan_.workers) {
        worker_lcores_.push_back(w.lcore);
        spdlog::info("lcore {} polls {}", w.lcore, describe_rx(cfg_, w.rx));
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
        if (x.name != y.name || x.device != y.device || x.mtu != y.mtu || x.mac != y.mac ||
            x.rx_queues != y.rx_queues) {
            why = "port " + y.name + " changed its name, device, MTU, MAC or rx_queues";
            return false;
        }
    }
    // Queues are given to workers once, before they start.
    auto same_rx = [](const LcoreConfig& l, const LcoreConfig& m) {
        if (l.lcore != m.lcore || l.rx.size() != m.rx.size()) return false;
        for (size_t i = 0; i < l.rx.size(); ++i)
            if (l.rx[i].port != m.rx[i].port || l.rx[i].queue != m.rx[i].queue) return false;
        return true;
    };
    bool same = a.lcores.size() == b.lcores.size();
    for (size_t i = 0; same && i < a.lcores.size(); ++i) same = same_rx(a.lcores[i], b.lcores[i]);
    if (!same) {
        why = "lcores (which lcore polls which rx queue) changed";
        return false;
    }
    return true;
}

namespace {

std::string describe_fib(const dp::Snapshot& s, Clock::duration built) {
    const auto& f = s.fib_size;
    return fmt::format("route table: {} prefixes (+{} anchors); second-level groups: {} used, at "
                       "most {} reserved, {} allocated; {}-octet entries, {:.1f} MiB + {:.1f} MiB "
                       "of RIB nodes; {} lookup; built in {} ms",
                       f.prefixes, f.anchors, f.groups, f.reservation, f.num_tbl8, f.nh_bytes,
                       double(f.table_bytes) / (1 << 20), double(f.rib_bytes) / (1 << 20),
                       f.vector_lookup ? "AVX-512" : "scalar",
                       std::chrono::duration_cast<std::chrono::milliseconds>(built).count());
}

}  // namespace

// The one way a configuration comes into force: SIGHUP, `reload` and every
// console change end here. The new snapshot is complete before it is
// published; publish() swaps one pointer (workers pick it up at their next
// loop iteration) and waits on this thread, never on a worker's, until
// every worker has passed a quiescent state, then the old one is freed.
bool Appliance::apply(Config next, std::string& err) {
    // --rx-config stays in force over whatever lcores: a new file has.
    if (rx_override_) next.lcores = *rx_override_;
    std::string why;
    if (!same_ports(cfg_, next, why)) {
        err = why + " (restart required)";
        return false;
    }
    const uint64_t gen = generation_.load() + 1;
    const auto t0 = Clock::now();
    auto snap = build_snapshot(next, bindings_, gen, err);
    if (!snap) return false;
    const auto t1 = Clock::now();
    slot_.publish(std::move(snap));  // the previous snapshot is freed here
    const auto t2 = Clock::now();
    // The YAML parse's node tree is gone by now; without this glibc keeps
    // its pages (~400 MiB after a 100 000-route file) for the next parse.
    malloc_trim(0);
    generation_.store(gen);
    nd_.set_config(next.nd);
    {
        std::lock_guard lock(cfg_mutex_);
        cfg_ = std::move(next);
    }
    using us = std::chrono::microseconds;
    spdlog::debug("configuration generation {} in force ({}): {}; grace period and free {} us",
                  gen, cfg_.source, describe_fib(*slot_.acquire(), t1 - t0),
                  std::chrono::duration_cast<us>(t2 - t1).count());
    return true;
}

StatsTotals Appliance::worker_totals(size_t w) const { return sum_stats({&stats_[w]}); }

StatsTotals Appliance::whole_run_totals() const {
    std::vector<const dp::WorkerStats*> ws;
    for (size_t i = 0; i < worker_lcores_.size(); ++i) ws.push_back(&stats_[i]);
    return sum_stats(ws);
}

std::string Appliance::port_stats() {
    StatsTotals ours;
    for (size_t w = 0; w < worker_lcores_.size(); ++w) {
        const StatsTotals d = stats_minus(worker_totals(w), worker_base_[w]);
        for (unsigned p = 0; p < dp::kMaxPorts; ++p) {
            ours.rx[p] += d.rx[p];
            ours.tx[p] += d.tx[p];
        }
    }
    std::string s;
    for (size_t i = 0; i < bindings_.size(); ++i) {
        const uint16_t id = bindings_[i].port_id;
        rte_eth_stats es{};
        rte_eth_stats_get(id, &es);
        const rte_eth_stats d = eth_minus(es, port_base_[i]);
        s += "port " + labels_[i].name + " (" + labels_[i].device + ", port id " +
             std::to_string(id) + ")\n";
        s += "  rx-packets " + std::to_string(d.ipackets) + "  rx-bytes " + std::to_string(d.ibytes) +
             "  rx-missed " + std::to_string(d.imissed) + "  rx-errors " +
             std::to_string(d.ierrors) + "  rx-nombuf " + std::to_string(d.rx_nombuf) + "\n";
        s += "  tx-packets " + std::to_string(d.opackets) + "  tx-bytes " +
             std::to_string(d.obytes) + "  tx-errors " + std::to_string(d.oerrors) + "\n";
        s += "  forwarder rx " + std::to_string(ours.rx[id]) + "  tx " + std::to_string(ours.tx[id]) +
             "\n";
    }
    return s;
}

std::string Appliance::port_xstats(const std::string& port) {
    uint16_t id = 0;
    for (const PortLabel& l : labels_)
        if (l.name == port) id = l.port_id;
    const int n = rte_eth_xstats_get(id, nullptr, 0);
    if (n < 0) return "error: cannot read the extended statistics of " + port + "\n";
    std::vector<rte_eth_xstat> values(size_t(n) + 1);
    std::vector<rte_eth_xstat_name> names(size_t(n) + 1);
    const int got = rte_eth_xstats_get(id, values.data(), unsigned(values.size()));
    const int got_names = rte_eth_xstats_get_names(id, names.data(), unsigned(names.size()));
    if (got < 0 || got_names < 0) return "error: cannot read the extended statistics of " + port + "\n";
    const std::vector<uint64_t>& base = xstats_base_[id];
    std::string s = "port " + port + " extended statistics\n";
    for (int i = 0; i < got; ++i) {
        const uint64_t x = values[size_t(i)].id;
        const uint64_t b = x < base.size() ? base[x] : 0;
        const char* name = x < uint64_t(got_names) ? names[x].name : "?";
        s += "  " + std::string(name) + ": " + std::to_string(values[size_t(i)].value - b) + "\n";
    }
    return s;
}

std::vector<LcoreStats> Appliance::lcore_stats(bool since_clear) const {
    std::vector<LcoreStats> lcores;
    for (size_t w = 0; w < worker_lcores_.size(); ++w) {
        LcoreStats l;
        l.lcore = worker_lcores_[w];
        l.counts = since_clear ? stats_minus(worker_totals(w), worker_base_[w]) : worker_totals(w);
        const auto& rx = plan_.workers[w].rx;
        for (size_t i = 0; i < rx.size(); ++i) {
            // labels_, not cfg_: this also runs on the telemetry thread.
            const PortLabel& port = labels_[rx[i].port];
            l.queues.push_back({port.name + "/" + std::to_string(rx[i].queue), port.port_id,
                                rx[i].queue,
                                stats_[w].rx_queue[i].get() -
                                    (since_clear ? rx_queue_base_[w][i] : 0)});
        }
        l.idle_sleeps = stats_[w].idle_sleeps.get() - (since_clear ? idle_sleeps_base_[w] : 0);
        lcores.push_back(std::move(l));
    }
    return lcores;
}

std::string Appliance::stats() {
    std::string s = format_lcore_stats(lcore_stats(true), forwarding_.load(), generation_.load());
    // The control thread's neighbour discovery, whole run (not per lcore).
    std::string nd;
    for (const auto& [name, v] : nd_.counter_list())
        if (v) nd += " " + name + " " + std::to_string(v);
    if (!nd.empty()) s += "nd (control thread, whole run):" + nd + "\n";
    return s;
}

void Appliance::clear_stats() {
    for (size_t w = 0; w < worker_lcores_.size(); ++w) {
        worker_base_[w] = worker_totals(w);
        for (size_t i = 0; i < rx_queue_base_[w].size(); ++i)
            rx_queue_base_[w][i] = stats_[w].rx_queue[i].get();
        idle_sleeps_base_[w] = stats_[w].idle_sleeps.get();
    }
    for (size_t i = 0; i < bindings_.size(); ++i) {
        const uint16_t id = bindings_[i].port_id;
        rte_eth_stats_get(id, &port_base_[i]);
        std::vector<uint64_t>& base = xstats_base_[id];
        base.clear();
        const int n = rte_eth_xstats_get(id, nullptr, 0);
        if (n <= 0) continue;
        std::vector<rte_eth_xstat> values(static_cast<size_t>(n));
        const int got = rte_eth_xstats_get(id, values.data(), unsigned(n));
        for (int i = 0; i < got; ++i) {
            const uint64_t x = values[size_t(i)].id;
            if (x < 65536) {
                if (base.size() <= x) base.resize(x + 1, 0);
                base[x] = values[size_t(i)].value;
            }
        }
    }
}

void Appliance::set_forwarding(bool on) {
    forwarding_.store(on);
    spdlog::info("forwarding {}", on ? "started" : "stopped");
}

std::string Appliance::handle_line(const std::string& line) {
    if (quit_) return "error: ioamfwd is stopping\n";
    spdlog::debug("command: {}", line);
    return execute(line, *this);
}

// --cmdline-file: every line through the interpreter before the workers
// start, so no packet is forwarded by a node whose start-up commands did not
// all apply. The first refused line stops the start.
bool Appliance::run_cmdline_file() {
    std::ifstream in(opts_.cmdline_file);
    if (!in) {
        spdlog::error("--cmdline-file {}: {}", opts_.cmdline_file, std::strerror(errno));
        return false;
    }
    std::string line;
    unsigned lineno = 0;
    while (!quit_ && std::getline(in, line)) {
        ++lineno;
        std::string reply = handle_line(line);
        if (is_error_reply(reply)) {
            while (!reply.empty() && reply.back() == '\n') reply.pop_back();
            spdlog::error("{}:{}: {}", opts_.cmdline_file, lineno, reply);
            return false;
        }
        std::fputs(reply.c_str(), stdout);
    }
    std::fflush(stdout);
    if (in.bad()) {
        spdlog::error("--cmdline-file {}: read error", opts_.cmdline_file);
        return false;
    }
    spdlog::info("ran {} line(s) of {} (generation {})", lineno, opts_.cmdline_file,
                 generation_.load());
    return true;
}

std::vector<NeighborRow> Appliance::telemetry_neighbors() {
    std::vector<NeighborRow> rows;
    {
        std::lock_guard lock(cfg_mutex_);
        for (const NeighborConfig& n : cfg_.neighbors)
            rows.push_back({n.address.to_string(), n.port, n.mac.to_string(), "PERMANENT", true});
    }
    for (const NdEntryView& e : nd_.view())
        rows.push_back({nd_addr_text(e.addr.data()), nd_.port_name(e.port),
                        e.has_mac ? nd_mac_text(e.mac) : std::string(), nd_state_name(e.state),
                        false});
    return rows;
}

void Appliance::periodic() {
    if (exporting_) exporter_.drain(export_ring_, port_names_);
    // The control thread does not read snapshots under QSBR: the only one
    // that frees them (publish) runs on this thread.
    nd_.poll(*slot_.acquire(), ms_since(started_));
    if (g_reload_signal) {
        g_reload_signal = 0;
        std::string message;
        if (reload_config(*this, config_path_, message))
            spdlog::info("{}", message);
        else
            spdlog::error("{}", message);
    }
    const StatsTotals now = whole_run_totals();
    if (opts_.idle_exit_ms) {
        // A stopped forwarder is not idle: it is waiting for `start`.
        const uint64_t rx = now.total_rx();
        if (rx != last_rx_ || !forwarding_.load()) {
            last_rx_ = rx;
            last_rx_change_ = Clock::now();
        } else if (ms_since(last_rx_change_) >= *opts_.idle_exit_ms) {
            spdlog::info("no packet for {} ms: stopping", *opts_.idle_exit_ms);
            quit_ = true;
        }
    }
    if (opts_.stats_interval_s && ms_since(interval_start_) >= opts_.stats_interval_s * 1000ull) {
        const double seconds = double(ms_since(interval_start_)) / 1000.0;
        spdlog::info("{}", format_interval_line(now, interval_base_, seconds, labels_,
                                                forwarding_.load()));
        interval_base_ = now;
        interval_start_ = Clock::now();
    }
}

// The main lcore's loop: console input, control socket clients, and every
// 5 ms the export drain, SIGHUP, idle exit and the periodic stats line.
// Commands run here, one at a time, so they need no locking among themselves.
void Appliance::control_loop() {
    last_rx_change_ = Clock::now();
    interval_start_ = Clock::now();
    interval_base_ = whole_run_totals();
    const auto handler = [this](const std::string& line) { return handle_line(line); };
    auto next_tick = Clock::now() + kControlTick;
    std::vector<pollfd> fds;
    while (!g_stop_signal && !quit_) {
        fds.clear();
        if (console_open_) fds.push_back({console_.fd(), POLLIN, 0});
        const size_t socket_first = fds.size();
        socket_.add_poll_fds(fds);  // last: handle() expects its entries at the end
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_tick - Clock::now());
        const int timeout = socket_.busy() ? 0 : int(std::max<int64_t>(0, wait.count()));
        const int ready = ::poll(fds.data(), nfds_t(fds.size()), timeout);
        if (ready > 0 && console_open_ && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
            !console_.on_readable()) {
            spdlog::info("console closed: stopping");
            console_open_ = false;
            quit_ = true;
        }
        if (ready > 0 || socket_.busy()) socket_.handle(fds, socket_first, handler);
        if (Clock::now() >= next_tick) {
            periodic();
            next_tick = Clock::now() + kControlTick;
        }
    }
    if (g_stop_signal) spdlog::info("signal received: stopping");
}

void Appliance::prepare_workers() {
    stats_.reset(new dp::WorkerStats[worker_lcores_.size()]);
    worker_base_.assign(worker_lcores_.size(), StatsTotals{});
    rx_queue_base_.clear();
    for (const WorkerPlan& p : plan_.workers) rx_queue_base_.emplace_back(p.rx.size(), 0);
    idle_sleeps_base_.assign(worker_lcores_.size(), 0);
    port_base_.assign(bindings_.size(), rte_eth_stats{});
    std::vector<uint16_t> tx_ports;
    for (const auto& b : bindings_) tx_ports.push_back(b.port_id);
    for (size_t w = 0; w < worker_lcores_.size(); ++w) {
        auto wc = std::make_unique<dp::WorkerConfig>();
        wc->index = unsigned(w);
        wc->tx_ports = tx_ports;
        wc->slot = &slot_;
        wc->stats = &stats_[w];
        wc->stop = &stop_;
        wc->forwarding = &forwarding_;
        wc->export_ring = exporting_ ? &export_ring_ : nullptr;
        wc->export_transit = opts_.trace_export_transit;
        wc->idle_sleep_us = opts_.idle_sleep_us;
        wc->idle_polls = opts_.idle_polls;
        for (const RxAssignment& a : plan_.workers[w].rx)
            wc->rx.push_back({bindings_[a.port].port_id, a.queue});
        wc->neighbors = &nd_.cache();
        wc->nd = &nd_.channel();
        worker_cfgs_.push_back(std::move(wc));
    }
}

void Appliance::shutdown_and_report(bool forwarded) {
    telemetry_detach();
    if (console_open_) {
        console_.close();
        console_open_ = false;
    }
    socket_.close();
    stop_.store(true, std::memory_order_relaxed);
    rte_eal_mp_wait_lcore();
    // Held packets and queued frames go back to the pool before it is counted.
    run_nd_counters_ = nd_.counter_list();
    nd_.shutdown();
    for (const auto& b : bindings_) dp::stop_port(b.port_id);
    if (exporting_) {
        exporter_.drain(export_ring_, port_names_);
        exporter_.close();
    }
    if (!forwarded) return;

    const StatsTotals totals = whole_run_totals();
    RunInfo run;
    run.runtime_ms = ms_since(started_);
    // Every mbuf must be back in the pool once ports are closed: anything else
    // is a leak on some path.
    run.mbufs_in_use = pool_ ? rte_mempool_in_use_count(pool_) : 0;
    run.exporting = exporting_;
    run.export_written = exporter_.written();
    run.export_lost = exporter_.lost();
    run.nd = run_nd_counters_;
    const std::vector<LcoreStats> lcores = lcore_stats(false);
    std::fputs(format_summary(totals, labels_, run, lcores).c_str(), stdout);
    std::fflush(stdout);
    if (!opts_.stats_json_path.empty()) {
        std::ofstream out(opts_.stats_json_path);
        out << format_json(totals, labels_, run, lcores);
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
    malloc_trim(0);  // as in apply(): hand the parse's memory back
    if (!opts_.rx_config.empty()) {
        std::string why;
        rx_override_ = parse_rx_config(opts_.rx_config, cfg_, why);
        if (!rx_override_) {
            spdlog::error("{}", why);
            return 1;
        }
        if (!cfg_.lcores.empty())
            spdlog::info("--rx-config replaces lcores: of {}", cfg_.source);
        cfg_.lcores = *rx_override_;
    }
    if (!install_dpdk_log_bridge()) spdlog::warn("DPDK's log stays on stderr (no log bridge)");
    if (rte_eal_init(argc, argv) < 0) {
        spdlog::error("EAL initialisation failed: {}", rte_strerror(rte_errno));
        return 1;
    }
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGHUP, on_reload_signal);
    started_ = Clock::now();

    int rc = 1;
    bool ports_up = false;
    std::string err;
    if (find_worker_lcores() && bind_ports() && (ports_up = start_ports()) &&
        slot_.init(unsigned(worker_lcores_.size()), err) && open_export(err) &&
        nd_.init(unsigned(worker_lcores_.size()), cfg_.nd, pool_, slot_.qsbr(), err)) {
        std::vector<std::pair<uint16_t, std::string>> names;
        for (const auto& b : bindings_) names.emplace_back(b.port_id, b.name);
        nd_.set_port_names(std::move(names));
        const auto t0 = Clock::now();
        auto snap = build_snapshot(cfg_, bindings_, generation_.load() + 1, err);
        if (snap) {
            spdlog::info("{}", describe_fib(*snap, Clock::now() - t0));
            slot_.publish(std::move(snap));
            generation_.store(generation_.load() + 1);
            prepare_workers();
            telemetry_attach(this);
            bool ready = opts_.cmdline_file.empty() || run_cmdline_file();
            if (ready && !quit_ && !opts_.control_socket.empty() &&
                !socket_.open(opts_.control_socket, err))
                ready = false;
            if (ready) {
                if (!quit_) {
                    for (size_t w = 0; w < worker_lcores_.size(); ++w)
                        rte_eal_remote_launch(dp::worker_main, worker_cfgs_[w].get(),
                                              worker_lcores_[w]);
                    spdlog::info("{} with {} worker lcore(s); configuration {} (generation {})",
                                 forwarding_.load() ? "forwarding" : "ready, forwarding stopped",
                                 worker_lcores_.size(), config_path_, generation_.load());
                    if (opts_.interactive) {
                        console_open_ = console_.open(
                            [this](const std::string& line) { return handle_line(line); }, err);
                        if (!console_open_) spdlog::error("{}", err);
                        err.clear();
                    }
                    control_loop();
                }
                shutdown_and_report(true);
                rc = 0;
            } else {
                shutdown_and_report(false);
                ports_up = false;
            }
        }
    }
    if (!err.empty()) spdlog::error("{}", err);
    if (rc != 0) {
        telemetry_detach();
        stop_.store(true);
        rte_eal_mp_wait_lcore();
        nd_.shutdown();
        if (ports_up)
            for (const auto& b : bindings_) dp::stop_port(b.port_id);
    }
    nd_.shutdown();
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
