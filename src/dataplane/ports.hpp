#pragma once
// Ethernet port bring-up: mempool, queue setup, MTU, MAC. Runs once at start
// on the main lcore, never on the fast path.

#include <rte_ether.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct rte_mempool;

namespace ioamfwd::dp {

struct PortSpec {
    uint16_t port_id = 0;
    uint16_t mtu = 1500;
    std::optional<rte_ether_addr> mac;  // configured MAC, if any
    uint16_t rx_queues = 1;
};

struct PortState {
    uint16_t port_id = 0;
    rte_ether_addr mac{};  // the MAC the port answers to and sends from
    bool promiscuous = false;  // set when the device refused the configured MAC
    bool mtu_in_software = false;  // the device has no MTU setting (virtual devices)
    // With several rx queues: the RSS hash types in force (0: the device has
    // no RSS, and spreads packets over its queues by its own rule, or not at all).
    uint64_t rss_hf = 0;
    std::string driver;  // "net_pcap", "net_af_packet", "net_ice", ...
    uint16_t device_rx_queues = 0;  // what the device offers (max_rx_queues)
    std::string allmulticast_error;  // why all-multicast could not be enabled, if it could not
};

/// Find a port by its EAL device name ("net_pcap0", "0000:3b:00.0").
std::optional<uint16_t> find_port_by_name(const std::string& device);
std::string port_device_name(uint16_t port_id);
std::vector<uint16_t> all_ports();

/// One mempool shared by all ports, sized for every rx/tx ring plus caches:
/// `n_rxq` rx queues over all ports, `n_workers` tx queues on each port.
rte_mempool* create_mbuf_pool(unsigned n_ports, unsigned n_rxq, unsigned n_workers,
                              uint16_t max_mtu, std::string& err);

/// Configure `spec.rx_queues` rx queues (RSS over them when the device has
/// it) and `n_txq` tx queues, apply MTU and MAC, start.
bool start_port(const PortSpec& spec, uint16_t n_txq, rte_mempool* pool, PortState& state,
                std::string& err);

void stop_port(uint16_t port_id);

}  // namespace ioamfwd::dp
