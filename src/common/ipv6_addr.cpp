#include "common/ipv6_addr.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace ioamfwd {

std::optional<Ipv6Addr> Ipv6Addr::parse(std::string_view text) {
    // inet_pton wants a NUL-terminated string and rejects zone ids and
    // IPv4-only text, which is exactly the strictness we want.
    // An embedded NUL would end the C string inet_pton sees and hide the rest.
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN ||
        text.find('\0') != std::string_view::npos)
        return std::nullopt;
    std::string s(text);
    Ipv6Addr a;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
}

std::string Ipv6Addr::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<Ipv6Prefix> Ipv6Prefix::parse(std::string_view text) {
    Ipv6Prefix p;
    auto slash = text.find('/');
    auto addr = Ipv6Addr::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    p.addr = *addr;
    if (slash == std::string_view::npos) return p;
    auto len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3) return std::nullopt;
    unsigned v = 0;
    for (char c : len) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + unsigned(c - '0');
    }
    if (v > 128) return std::nullopt;
    p.length = uint8_t(v);
    return p;
}

Ipv6Addr Ipv6Prefix::network() const {
    Ipv6Addr n = addr;
    for (unsigned i = 0; i < 16; ++i) {
        unsigned first_bit = i * 8;
        if (first_bit >= length)
            n.bytes[i] = 0;
        else if (first_bit + 8 > length)
            n.bytes[i] &= uint8_t(0xff << (8 - (length - first_bit)));
    }
    return n;
}

bool Ipv6Prefix::contains(const Ipv6Addr& a) const {
    Ipv6Prefix other{a, length};
    return other.network() == network();
}

std::string Ipv6Prefix::to_string() const {
    return addr.to_string() + "/" + std::to_string(length);
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    MacAddr m;
    for (size_t i = 0; i < 6; ++i) {
        auto hex = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        int hi = hex(text[i * 3]), lo = hex(text[i * 3 + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return std::nullopt;
        m.bytes[i] = uint8_t(hi << 4 | lo);
    }
    return m;
}

std::string MacAddr::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                  bytes[3], bytes[4], bytes[5]);
    return buf;
}

}  // namespace ioamfwd
