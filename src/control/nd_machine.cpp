#include "control/nd_machine.hpp"

namespace ioamfwd::cp {

const char* nd_state_name(NdState s) {
    switch (s) {
        case NdState::Incomplete: return "INCOMPLETE";
        case NdState::Reachable: return "REACHABLE";
        case NdState::Stale: return "STALE";
        case NdState::Delay: return "DELAY";
        case NdState::Probe: return "PROBE";
    }
    return "?";
}

void NdMachine::enter(const Key&, Entry& e, NdState s, uint64_t now) {
    e.state = s;
    e.since = now;
    e.probes = 0;
    if (s == NdState::Delay) e.timer = now + p_.delay_ms;
    if (s == NdState::Probe) e.timer = now;  // the first probe goes at the next tick
}

void NdMachine::set_mac(const Key& k, Entry& e, const NdMac& mac) {
    e.mac = mac;
    if (!act_.publish(k.first, k.second, mac)) ++c_.cache_full;
}

void NdMachine::flush_queue(Entry& e) {
    for (void* pkt : e.queue) {
        act_.release(pkt, e.mac);
        ++c_.released;
    }
    held_ -= e.queue.size();
    e.queue.clear();
}

void NdMachine::fail(std::map<Key, Entry>::iterator it) {
    Entry& e = it->second;
    if (e.state != NdState::Incomplete) act_.withdraw(it->first.first, it->first.second);
    for (void* pkt : e.queue) {
        act_.unreachable(pkt);
        ++c_.unreachable;
    }
    held_ -= e.queue.size();
    ++c_.failed;
    table_.erase(it);
}

void NdMachine::hold(uint16_t port, const NdAddr& addr, void* pkt, uint64_t now) {
    const Key k{port, addr};
    auto it = table_.find(k);
    if (it == table_.end()) {
        if (table_.size() >= p_.max_entries) {
            ++c_.cache_full;
            ++c_.held_dropped;
            act_.discard(pkt);
            return;
        }
        it = table_.emplace(k, Entry{}).first;
        Entry& e = it->second;
        enter(k, e, NdState::Incomplete, now);
        act_.solicit(port, addr, nullptr);
        ++c_.ns_multicast;
        e.probes = 1;
        e.timer = now + p_.retrans_ms;
    }
    Entry& e = it->second;
    if (e.state != NdState::Incomplete) {
        // Resolved while the packet was on its way here.
        act_.release(pkt, e.mac);
        ++c_.released;
        used(port, addr, now);
        return;
    }
    if (held_ >= p_.max_held) {
        ++c_.held_dropped;
        act_.discard(pkt);
        return;
    }
    e.queue.push_back(pkt);
    ++held_;
    ++c_.held;
    // RFC 4861 §7.2.2: when the queue overflows, the oldest packets go.
    while (e.queue.size() > p_.queue_per_neighbor) {
        act_.discard(e.queue.front());
        e.queue.pop_front();
        --held_;
        ++c_.held_dropped;
    }
}

void NdMachine::advert(uint16_t port, const NdAddr& target, const NdMac* tlla, bool solicited,
                       bool override_flag, uint64_t now) {
    ++c_.na_received;
    const Key k{port, target};
    auto it = table_.find(k);
    // §7.2.5: no entry, no state: an unsolicited advertisement creates none.
    if (it == table_.end()) {
        ++c_.na_ignored;
        return;
    }
    Entry& e = it->second;
    if (e.state == NdState::Incomplete) {
        if (!tlla) {
            ++c_.na_ignored;
            return;
        }
        set_mac(k, e, *tlla);
        enter(k, e, solicited ? NdState::Reachable : NdState::Stale, now);
        ++c_.resolved;
        flush_queue(e);
        return;
    }
    const bool differs = tlla && *tlla != e.mac;
    if (!override_flag && differs) {
        // Someone else claims the address without authority: trust it less.
        if (e.state == NdState::Reachable) enter(k, e, NdState::Stale, now);
        return;
    }
    if (differs) set_mac(k, e, *tlla);
    if (solicited)
        enter(k, e, NdState::Reachable, now);
    else if (differs)
        enter(k, e, NdState::Stale, now);
}

void NdMachine::solicitation(uint16_t port, const NdAddr& src, const NdMac& slla, uint64_t now) {
    const Key k{port, src};
    auto it = table_.find(k);
    if (it == table_.end()) {
        if (table_.size() >= p_.max_entries) {
            ++c_.cache_full;
            return;
        }
        Entry& e = table_.emplace(k, Entry{}).first->second;
        enter(k, e, NdState::Stale, now);
        set_mac(k, e, slla);
        ++c_.ns_learnt;
        return;
    }
    Entry& e = it->second;
    if (e.state == NdState::Incomplete) {
        set_mac(k, e, slla);
        enter(k, e, NdState::Stale, now);
        ++c_.resolved;
        ++c_.ns_learnt;
        flush_queue(e);
        return;
    }
    if (slla != e.mac) {
        set_mac(k, e, slla);
        enter(k, e, NdState::Stale, now);
        ++c_.ns_learnt;
    }
}

void NdMachine::used(uint16_t port, const NdAddr& addr, uint64_t now) {
    const Key k{port, addr};
    auto it = table_.find(k);
    if (it == table_.end()) return;
    Entry& e = it->second;
    e.last_used = now;
    if (e.state == NdState::Stale) enter(k, e, NdState::Delay, now);
}

void NdMachine::tick(uint64_t now) {
    for (auto it = table_.begin(); it != table_.end();) {
        const Key& k = it->first;
        Entry& e = it->second;
        auto next = std::next(it);
        switch (e.state) {
            case NdState::Incomplete:
                if (now < e.timer) break;
                if (e.probes >= p_.max_multicast_solicit) {
                    fail(it);
                    break;
                }
                act_.solicit(k.first, k.second, nullptr);
                ++c_.ns_multicast;
                ++e.probes;
                e.timer = now + p_.retrans_ms;
                break;
            case NdState::Reachable:
                if (now - e.since >= p_.reachable_ms) enter(k, e, NdState::Stale, now);
                break;
            case NdState::Stale: {
                const uint64_t idle_since = e.last_used > e.since ? e.last_used : e.since;
                if (now - idle_since >= p_.gc_stale_ms) {
                    act_.withdraw(k.first, k.second);
                    ++c_.gc_removed;
                    table_.erase(it);
                }
                break;
            }
            case NdState::Delay:
                if (now >= e.timer) enter(k, e, NdState::Probe, now);
                if (e.state != NdState::Probe) break;
                [[fallthrough]];
            case NdState::Probe:
                if (now < e.timer) break;
                if (e.probes >= p_.max_unicast_solicit) {
                    fail(it);
                    break;
                }
                act_.solicit(k.first, k.second, &e.mac);
                ++c_.ns_unicast;
                ++e.probes;
                e.timer = now + p_.retrans_ms;
                break;
        }
        it = next;
    }
}

void NdMachine::clear() {
    for (auto& [k, e] : table_) {
        for (void* pkt : e.queue) act_.discard(pkt);
        if (e.state != NdState::Incomplete) act_.withdraw(k.first, k.second);
    }
    table_.clear();
    held_ = 0;
}

std::vector<NdEntryView> NdMachine::entries(uint64_t now) const {
    std::vector<NdEntryView> v;
    for (const auto& [k, e] : table_)
        v.push_back({k.first, k.second, e.state != NdState::Incomplete, e.mac, e.state,
                     uint32_t(e.queue.size()), now - e.since});
    return v;
}

}  // namespace ioamfwd::cp
