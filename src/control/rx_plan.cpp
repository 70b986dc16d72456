#include "control/rx_plan.hpp"

#include <algorithm>

namespace ioamfwd::cp {

namespace {

std::string lcore_list(const std::vector<unsigned>& lcores) {
    std::string s;
    for (unsigned l : lcores) s += (s.empty() ? "" : ", ") + std::to_string(l);
    return s.empty() ? "none" : s;
}

std::string at(const Config& cfg, const Mark& m) {
    return cfg.source + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": ";
}

size_t port_index(const Config& cfg, const std::string& name) {
    for (size_t i = 0; i < cfg.ports.size(); ++i)
        if (cfg.ports[i].name == name) return i;
    return cfg.ports.size();  // the loader already refused unknown names
}

RxPlan spread(const Config& cfg, const std::vector<unsigned>& eal_workers) {
    std::vector<WorkerPlan> all;
    for (unsigned l : eal_workers) all.push_back({l, {}});
    size_t next = 0;
    for (size_t p = 0; p < cfg.ports.size(); ++p)
        for (uint16_t q = 0; q < cfg.ports[p].rx_queues; ++q)
            all[next++ % all.size()].rx.push_back({p, q});
    RxPlan plan;
    for (WorkerPlan& w : all) {
        if (w.rx.empty())
            plan.idle_lcores.push_back(w.lcore);
        else
            plan.workers.push_back(std::move(w));
    }
    return plan;
}

}  // namespace

std::optional<RxPlan> plan_rx(const Config& cfg, const std::vector<unsigned>& eal_workers,
                              unsigned main_lcore, size_t max_rx_per_lcore, std::string& err) {
    if (eal_workers.empty()) {
        err = "no worker lcore: give the EAL at least two lcores (e.g. -l 0-1); the main lcore "
              "runs the control thread";
        return std::nullopt;
    }
    RxPlan plan;
    if (cfg.lcores.empty()) {
        plan = spread(cfg, eal_workers);
    } else {
        for (const LcoreConfig& lc : cfg.lcores) {
            const bool worker = std::find(eal_workers.begin(), eal_workers.end(), lc.lcore) !=
                                eal_workers.end();
            if (!worker) {
                err = at(cfg, lc.mark) + "lcore " + std::to_string(lc.lcore) +
                      (lc.lcore == main_lcore
                           ? " is the EAL main lcore, which runs the control thread; poll from a "
                             "worker lcore"
                           : " is not an EAL lcore; add it to the EAL's -l or --lcores") +
                      " (EAL worker lcores: " + lcore_list(eal_workers) + ")";
                return std::nullopt;
            }
            WorkerPlan w{lc.lcore, {}};
            for (const RxQueueConfig& q : lc.rx) w.rx.push_back({port_index(cfg, q.port), q.queue});
            plan.workers.push_back(std::move(w));
        }
        for (unsigned l : eal_workers) {
            bool named = false;
            for (const LcoreConfig& lc : cfg.lcores) named = named || lc.lcore == l;
            if (!named) plan.idle_lcores.push_back(l);
        }
    }
    for (const WorkerPlan& w : plan.workers)
        if (w.rx.size() > max_rx_per_lcore) {
            err = "lcore " + std::to_string(w.lcore) + " would poll " +
                  std::to_string(w.rx.size()) + " rx queues, more than the " +
                  std::to_string(max_rx_per_lcore) + " one worker can count; use more lcores";
            return std::nullopt;
        }
    return plan;
}

std::string describe_rx(const Config& cfg, const std::vector<RxAssignment>& rx) {
    std::string s;
    for (const RxAssignment& a : rx)
        s += (s.empty() ? "" : " ") +
             (a.port < cfg.ports.size() ? cfg.ports[a.port].name : std::string("?")) + "/" +
             std::to_string(a.queue);
    return s;
}

}  // namespace ioamfwd::cp
