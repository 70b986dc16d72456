#include "control/rx_plan.hpp"

#include <algorithm>

namespace ioamfwd::cp {

namespace {

std::string lcore_list(const std::vector<unsigned>& lcores) {
    std::string s;
    for (unsigned l : lcores) s += (s.empty() ? "" : ", ") + std::to_string(l);
    return s.empty() ? "none" : s;
}

// lcores[] from --rx-config have no position in the file.
std::string at(const Config& cfg, const Mark& m) {
    if (m.line == 0) return "--rx-config: ";
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

std::optional<std::vector<LcoreConfig>> parse_rx_config(const std::string& text,
                                                        const Config& cfg, std::string& err) {
    std::vector<LcoreConfig> lcores;
    auto fail = [&](const std::string& what) {
        err = "--rx-config: " + what;
        return std::nullopt;
    };
    auto number = [](const std::string& t, unsigned max) -> std::optional<unsigned> {
        if (t.empty() || t.size() > 4) return std::nullopt;
        unsigned v = 0;
        for (char c : t) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + unsigned(c - '0');
        }
        if (v > max) return std::nullopt;
        return v;
    };
    size_t i = 0;
    while (i < text.size()) {
        if (!lcores.empty() || i > 0) {
            if (text[i] != ',') return fail("expected ',' between entries at character " +
                                            std::to_string(i + 1));
            ++i;
        }
        const size_t close = text.find(')', i);
        if (i >= text.size() || text[i] != '(' || close == std::string::npos)
            return fail("expected (PORT,QUEUE,LCORE) at character " + std::to_string(i + 1));
        const std::string entry = text.substr(i, close + 1 - i);
        const std::string body = text.substr(i + 1, close - i - 1);
        i = close + 1;
        const size_t c1 = body.find(','), c2 = body.find(',', c1 == std::string::npos ? 0 : c1 + 1);
        if (c1 == std::string::npos || c2 == std::string::npos ||
            body.find(',', c2 + 1) != std::string::npos)
            return fail(entry + ": expected three fields (PORT,QUEUE,LCORE)");
        const std::string port = body.substr(0, c1);
        const PortConfig* pc = cfg.find_port(port);
        if (!pc) return fail(entry + ": no port named '" + port + "'");
        const auto queue = number(body.substr(c1 + 1, c2 - c1 - 1), kMaxRxQueues - 1);
        if (!queue || *queue >= pc->rx_queues)
            return fail(entry + ": port " + port + " has rx queues 0.." +
                        std::to_string(pc->rx_queues - 1u));
        const auto lcore = number(body.substr(c2 + 1), kMaxLcoreId);
        if (!lcore)
            return fail(entry + ": the lcore must be a number from 0 to " +
                        std::to_string(kMaxLcoreId));
        for (const LcoreConfig& l : lcores)
            for (const RxQueueConfig& q : l.rx)
                if (q.port == port && q.queue == *queue)
                    return fail(entry + ": rx queue " + std::to_string(*queue) + " of port " +
                                port + " is already polled by lcore " + std::to_string(l.lcore));
        auto it = std::find_if(lcores.begin(), lcores.end(),
                               [&](const LcoreConfig& l) { return l.lcore == *lcore; });
        if (it == lcores.end()) it = lcores.insert(lcores.end(), LcoreConfig{*lcore, {}, {}});
        it->rx.push_back({port, uint16_t(*queue), {}});
    }
    if (lcores.empty()) return fail("empty; give (PORT,QUEUE,LCORE),...");
    for (const PortConfig& p : cfg.ports)
        for (uint16_t q = 0; q < p.rx_queues; ++q) {
            bool polled = false;
            for (const LcoreConfig& l : lcores)
                for (const RxQueueConfig& r : l.rx) polled = polled || (r.port == p.name && r.queue == q);
            if (!polled)
                return fail("rx queue " + std::to_string(q) + " of port " + p.name +
                            " is polled by no lcore");
        }
    return lcores;
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
