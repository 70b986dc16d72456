#pragma once
// IPv6 and MAC address value types shared by the control plane, the dataplane
// and the unit tests. No DPDK here: the unit suite links without EAL.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/addr_class.hpp"

namespace ioamfwd {

struct Ipv6Addr {
    std::array<uint8_t, 16> bytes{};

    bool operator==(const Ipv6Addr&) const = default;
    auto operator<=>(const Ipv6Addr&) const = default;

    bool is_unspecified() const { return addr::is_unspecified(bytes.data()); }
    bool is_multicast() const { return addr::is_multicast(bytes.data()); }
    bool is_link_local() const { return addr::is_link_local(bytes.data()); }
    bool is_loopback() const { return addr::is_loopback(bytes.data()); }

    /// Strict textual form (RFC 4291 §2.2); nullopt on anything else.
    static std::optional<Ipv6Addr> parse(std::string_view text);
    /// Canonical compressed form (RFC 5952).
    std::string to_string() const;
};

struct Ipv6Prefix {
    Ipv6Addr addr;
    uint8_t length = 128;

    bool operator==(const Ipv6Prefix&) const = default;

    /// "addr/len"; a bare address means /128.
    static std::optional<Ipv6Prefix> parse(std::string_view text);
    /// The address with every bit past `length` cleared.
    Ipv6Addr network() const;
    bool has_host_bits() const { return network() != addr; }
    bool contains(const Ipv6Addr& a) const;
    std::string to_string() const;
};

struct MacAddr {
    std::array<uint8_t, 6> bytes{};

    bool operator==(const MacAddr&) const = default;

    /// "aa:bb:cc:dd:ee:ff" (also accepts '-' separators).
    static std::optional<MacAddr> parse(std::string_view text);
    std::string to_string() const;
    bool is_multicast() const { return (bytes[0] & 1) != 0; }
};

}  // namespace ioamfwd
