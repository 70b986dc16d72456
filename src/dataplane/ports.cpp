#include "dataplane/ports.hpp"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>

namespace ioamfwd::dp {

namespace {
// l3fwd's ring sizes: deep enough to absorb a poll gap, small enough to stay
// in cache.
constexpr uint16_t kRxDesc = 1024;
constexpr uint16_t kTxDesc = 1024;
constexpr unsigned kPoolCache = 256;

std::string errstr(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

// Hash on the IPv6 addresses, and the ports where there are some, so that
// one flow stays in one queue (one worker: no reordering) while flows spread.
constexpr uint64_t kWantedRss = RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP |
                                RTE_ETH_RSS_NONFRAG_IPV6_UDP | RTE_ETH_RSS_IPV6_EX |
                                RTE_ETH_RSS_IPV6_TCP_EX | RTE_ETH_RSS_IPV6_UDP_EX;

bool too_few_queues(const char* what, uint16_t has, uint16_t wants, const std::string& driver,
                    const std::string& hint, std::string& err) {
    if (has >= wants) return false;
    err = "device (driver " + driver + ") has " + std::to_string(has) + " " + what +
          " queue(s) but " + std::to_string(wants) + " are needed; " + hint;
    return true;
}
}  // namespace

std::optional<uint16_t> find_port_by_name(const std::string& device) {
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(device.c_str(), &id) != 0) return std::nullopt;
    return id;
}

std::string port_device_name(uint16_t port_id) {
    char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(port_id, name) != 0) return "?";
    return name;
}

std::vector<uint16_t> all_ports() {
    std::vector<uint16_t> ids;
    uint16_t id;
    RTE_ETH_FOREACH_DEV(id) { ids.push_back(id); }
    return ids;
}

rte_mempool* create_mbuf_pool(unsigned n_ports, unsigned n_rxq, unsigned n_workers,
                              uint16_t max_mtu, std::string& err) {
    const unsigned needed = n_rxq * kRxDesc + n_ports * kTxDesc * n_workers +
                            (n_workers + 1) * (kPoolCache + 2 * 64 * n_ports);
    const unsigned n_mbufs = std::max(8191u, needed);
    // One segment per frame up to the largest MTU: the parser reads headers in
    // place, and single-segment frames keep that contiguous.
    const unsigned frame = unsigned(max_mtu) + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
    const uint16_t data_room =
        uint16_t(std::max<unsigned>(RTE_MBUF_DEFAULT_BUF_SIZE, frame + RTE_PKTMBUF_HEADROOM));
    rte_mempool* pool = rte_pktmbuf_pool_create("ioamfwd_mbufs", n_mbufs, kPoolCache, 0,
                                                data_room, int(rte_socket_id()));
    if (!pool) err = std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno);
    return pool;
}

bool start_port(const PortSpec& spec, uint16_t n_txq, rte_mempool* pool, PortState& state,
                std::string& err) {
    const uint16_t port = spec.port_id;
    state.port_id = port;
    rte_eth_dev_info info{};
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc != 0) {
        err = "cannot read device info: " + errstr(rc);
        return false;
    }
    const std::string driver = info.driver_name ? info.driver_name : "?";
    state.driver = driver;
    state.device_rx_queues = info.max_rx_queues;
    const uint16_t n_rxq = spec.rx_queues;
    // net_pcap has one queue per rx_pcap=/tx_pcap= argument, net_af_packet
    // qpairs=N of each; say so, as the generic message leaves one guessing.
    const bool pcap = driver == "net_pcap";
    const bool af_packet = driver == "net_af_packet";
    if (too_few_queues("rx", info.max_rx_queues, n_rxq, driver,
                       pcap        ? "give the --vdev one rx_pcap= per rx queue"
                       : af_packet ? "give the --vdev qpairs=" + std::to_string(n_rxq)
                                   : "lower the port's rx_queues",
                       err) ||
        too_few_queues("tx", info.max_tx_queues, n_txq, driver,
                       std::string("every polling worker lcore needs its own tx queue on every "
                                   "port; ") +
                           (pcap        ? "give the --vdev one tx_pcap= per worker lcore"
                            : af_packet ? "give the --vdev qpairs=" + std::to_string(n_txq)
                                        : "use fewer worker lcores"),
                       err))
        return false;
    rte_eth_conf conf{};
    if (n_rxq > 1) {
        state.rss_hf = kWantedRss & info.flow_type_rss_offloads;
        if (state.rss_hf) {
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = nullptr;  // the driver's default key
            conf.rx_adv_conf.rss_conf.rss_hf = state.rss_hf;
        }
    }
    // net_pcap opens every rx_pcap=/tx_pcap= file when the vdev is probed but
    // closes, on stop, only the queues configured (DPDK 22.11 eth_dev_stop
    // walks nb_rx_queues/nb_tx_queues): a file beyond rx_queues (or beyond
    // the worker count) would stay open for good, a libpcap handle leaked
    // and a tx dump never flushed. So its spare queues are configured and set
    // up too; nobody polls or sends on them, as the start-up warning says,
    // and net_pcap takes no mbuf before a queue is polled.
    const uint16_t dev_rxq = pcap ? std::max(n_rxq, info.max_rx_queues) : n_rxq;
    const uint16_t dev_txq = pcap ? std::max(n_txq, info.max_tx_queues) : n_txq;
    rc = rte_eth_dev_configure(port, dev_rxq, dev_txq, &conf);
    if (rc != 0) {
        err = "cannot configure: " + errstr(rc);
        return false;
    }
    uint16_t nb_rxd = kRxDesc, nb_txd = kTxDesc;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
    const int socket = rte_eth_dev_socket_id(port);
    const unsigned sock = socket < 0 ? rte_socket_id() : unsigned(socket);
    for (uint16_t q = 0; q < dev_rxq; ++q) {
        rc = rte_eth_rx_queue_setup(port, q, nb_rxd, sock, nullptr, pool);
        if (rc != 0) {
            err = "cannot set up rx queue " + std::to_string(q) + ": " + errstr(rc);
            return false;
        }
    }
    for (uint16_t q = 0; q < dev_txq; ++q) {
        rc = rte_eth_tx_queue_setup(port, q, nb_txd, sock, nullptr);
        if (rc != 0) {
            err = "cannot set up tx queue " + std::to_string(q) + ": " + errstr(rc);
            return false;
        }
    }
    rc = rte_eth_dev_set_mtu(port, spec.mtu);
    if (rc != 0 && rc != -ENOTSUP) {
        err = "cannot set MTU " + std::to_string(spec.mtu) + ": " + errstr(rc);
        return false;
    }
    if (rc == -ENOTSUP) state.mtu_in_software = true;

    if (spec.mac) {
        rte_ether_addr mac = *spec.mac;
        rc = rte_eth_dev_default_mac_addr_set(port, &mac);
        if (rc != 0) {
            // Virtual devices (net_pcap) have no MAC filter: accept everything
            // and let the dataplane's own L2 check use the configured address.
            rte_eth_promiscuous_enable(port);
            state.promiscuous = true;
        }
        state.mac = *spec.mac;
    } else {
        rte_eth_macaddr_get(port, &state.mac);
    }

    // Solicited-node and all-nodes groups must reach the appliance. Devices
    // without a multicast filter (virtual ones) pass them anyway; a device
    // that refuses is still usable with static neighbours, so it is reported,
    // not fatal.
    rc = rte_eth_allmulticast_enable(port);
    if (rc != 0 && rc != -ENOTSUP) state.allmulticast_error = errstr(rc);

    rc = rte_eth_dev_start(port);
    if (rc != 0) {
        err = "cannot start: " + errstr(rc);
        return false;
    }
    return true;
}

void stop_port(uint16_t port_id) {
    rte_eth_dev_stop(port_id);
    rte_eth_dev_close(port_id);
}

}  // namespace ioamfwd::dp
