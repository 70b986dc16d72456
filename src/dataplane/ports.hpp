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
};

struct PortState {
    uint16_t port_id = 0;
    rte_ether_addr mac{};  // the MAC the port answers to and sends from
    bool promiscuous = false;  // set when the device refused the configured MAC
    bool mtu_in_software = false;  // the device has no MTU setting (virtual devices)
    std::string allmulticast_error;  // why all-multicast could not be enabled, if it could not
};

/// Find a port by its EAL device name ("net_pcap0", "0000:3b:00.0").
std::optional<uint16_t> find_port_by_name(const std::string& device);
std::string port_device_name(uint16_t port_id);
std::vector<uint16_t> all_ports();

/// One mempool shared by all ports, sized for every rx/tx ring plus caches.
rte_mempool* create_mbuf_pool(unsigned n_ports, unsigned n_workers, uint16_t max_mtu,
                              std::string& err);

/// Configure one rx queue and `n_txq` tx queues, apply MTU and MAC, start.
bool start_port(const PortSpec& spec, uint16_t n_txq, rte_mempool* pool, PortState& state,
                std::string& err);

void stop_port(uint16_t port_id);

}  // namespace ioamfwd::dp
