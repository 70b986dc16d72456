#pragma once
// Per (worker, egress port) transmit buffer. Packets are sent in bursts of
// kTxBurst, and a drain timer in the worker loop flushes partial bursts so a
// trickle of traffic is not held back (l3fwd's ~100 us drain).

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/worker_stats.hpp"

namespace ioamfwd::dp {

inline constexpr uint16_t kBurst = 32;

struct TxBuffer {
    uint16_t n = 0;
    uint32_t segs = 0;  // mbuf segments buffered: the queue depth IOAM reports
    rte_mbuf* pkts[2 * kBurst];

    /// Send what is buffered; what the device refuses is freed and counted.
    void flush(uint16_t port, uint16_t queue, WorkerStats& st) {
        if (n == 0) return;
        const uint16_t sent = rte_eth_tx_burst(port, queue, pkts, n);
        st.tx[port].add(sent);
        if (sent < n) {
            st.drops[unsigned(Drop::TxFull)].add(n - sent);
            rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        }
        n = 0;
        segs = 0;
    }

    /// Final flush at shutdown: retry a bounded number of times so a replay
    /// run does not lose its tail to a momentarily full ring.
    void drain(uint16_t port, uint16_t queue, WorkerStats& st) {
        uint16_t done = 0;
        for (int attempt = 0; attempt < 1000 && done < n; ++attempt)
            done += rte_eth_tx_burst(port, queue, pkts + done, uint16_t(n - done));
        st.tx[port].add(done);
        if (done < n) {
            st.drops[unsigned(Drop::TxFull)].add(n - done);
            rte_pktmbuf_free_bulk(pkts + done, n - done);
        }
        n = 0;
        segs = 0;
    }
};

}  // namespace ioamfwd::dp
