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

rte_mempool* create_mbuf_pool(unsigned n_ports, unsigned n_workers, uint16_t max_mtu,
                              std::string& err) {
    const unsigned needed = n_ports * (kRxDesc + kTxDesc * n_workers) +
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
    if (info.max_tx_queues < n_txq) {
        err = "device has " + std::to_string(info.max_tx_queues) +
              " tx queue(s) but every worker lcore needs its own (" + std::to_string(n_txq) +
              "); use fewer worker lcores";
        return false;
    }
    rte_eth_conf conf{};
    rc = rte_eth_dev_configure(port, 1, n_txq, &conf);
    if (rc != 0) {
        err = "cannot configure: " + errstr(rc);
        return false;
    }
    uint16_t nb_rxd = kRxDesc, nb_txd = kTxDesc;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
    const int socket = rte_eth_dev_socket_id(port);
    const unsigned sock = socket < 0 ? rte_socket_id() : unsigned(socket);
    rc = rte_eth_rx_queue_setup(port, 0, nb_rxd, sock, nullptr, pool);
    if (rc != 0) {
        err = "cannot set up rx queue: " + errstr(rc);
        return false;
    }
    for (uint16_t q = 0; q < n_txq; ++q) {
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
