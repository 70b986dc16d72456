#include "control/trace_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/byte_order.hpp"
#include "common/ipv6_addr.hpp"
#include "common/trace_type.hpp"

namespace ioamfwd::cp {

namespace {

const char* event_name(dp::TraceEvent e) {
    switch (e) {
        case dp::TraceEvent::Local: return "local";
        case dp::TraceEvent::Decap: return "decap";
        case dp::TraceEvent::Transit: return "transit";
    }
    return "unknown";
}

std::string addr(const uint8_t* b) {
    Ipv6Addr a;
    std::memcpy(a.bytes.data(), b, 16);
    return a.to_string();
}

std::string hex(const uint8_t* p, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += fmt::format("{:02x}", p[i]);
    return s;
}

std::string iso_time(uint64_t ns) {
    const time_t sec = time_t(ns / 1000000000ull);
    tm t{};
    gmtime_r(&sec, &t);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", t.tm_year + 1900, t.tm_mon + 1,
                       t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ns % 1000000000ull);
}

// Decodes one node at `p` (`end` bounds it); returns the JSON object, or an
// empty string when the node does not fit, and advances `p`.
std::string decode_node(const uint8_t*& p, const uint8_t* end, uint32_t type) {
    std::vector<std::string> f;
    auto need = [&](size_t n) { return size_t(end - p) >= n; };
    for (unsigned bit = 0; bit < 23; ++bit) {
        if (!(type & trace::bit(bit))) continue;
        const size_t words = (trace::kWideMask & trace::bit(bit)) ? 2 : 1;
        if (bit == trace::kOpaqueStateSnapshot) {
            if (!need(4)) return {};
            const unsigned len = p[0] * 4u;
            if (!need(4 + size_t(len))) return {};
            f.push_back(fmt::format(
                "\"opaque_state_snapshot\": {{\"schema_id\": {}, \"length\": {}, \"data\": \"{}\"}}",
                load_be32(p) & 0xffffff, len, hex(p + 4, len)));
            p += 4 + len;
            continue;
        }
        if (!need(words * 4)) return {};
        switch (bit) {
            case trace::kHopLimNodeId:
                f.push_back(fmt::format("\"hop_limit\": {}, \"node_id\": {}", p[0],
                                        load_be32(p) & 0xffffff));
                break;
            case trace::kIfIds:
                f.push_back(fmt::format("\"ingress_if_id\": {}, \"egress_if_id\": {}",
                                        load_be16(p), load_be16(p + 2)));
                break;
            case trace::kTimestampSec:
                f.push_back(fmt::format("\"timestamp_sec\": {}", load_be32(p)));
                break;
            case trace::kTimestampSub:
                f.push_back(fmt::format("\"timestamp_frac\": {}", load_be32(p)));
                break;
            case trace::kTransitDelay:
                f.push_back(fmt::format("\"transit_delay\": {}", load_be32(p)));
                break;
            case trace::kNamespaceData:
                f.push_back(fmt::format("\"namespace_data\": \"0x{:08x}\"", load_be32(p)));
                break;
            case trace::kQueueDepth:
                f.push_back(fmt::format("\"queue_depth\": {}", load_be32(p)));
                break;
            case trace::kChecksumComplement:
                f.push_back(fmt::format("\"checksum_complement\": \"0x{:08x}\"", load_be32(p)));
                break;
            case trace::kHopLimNodeIdWide:
                f.push_back(fmt::format("\"hop_limit_wide\": {}, \"node_id_wide\": {}", p[0],
                                        load_be64(p) & 0x00ffffffffffffffull));
                break;
            case trace::kIfIdsWide:
                f.push_back(fmt::format("\"ingress_if_id_wide\": {}, \"egress_if_id_wide\": {}",
                                        load_be32(p), load_be32(p + 4)));
                break;
            case trace::kNamespaceDataWide:
                f.push_back(fmt::format("\"namespace_data_wide\": \"0x{:016x}\"", load_be64(p)));
                break;
            case trace::kBufferOccupancy:
                f.push_back(fmt::format("\"buffer_occupancy\": {}", load_be32(p)));
                break;
            default:
                f.push_back(fmt::format("\"bit{}\": \"0x{:08x}\"", bit, load_be32(p)));
                break;
        }
        p += words * 4;
    }
    return fmt::format("{{{}}}", fmt::join(f, ", "));
}

}  // namespace

std::string trace_record_json(const dp::TraceRecord& r, const std::string& port_name) {
    const auto& th = *reinterpret_cast<const wire::IoamTraceHdr*>(r.trace_hdr);
    const uint32_t type = wire::trace_type(th);
    const unsigned remlen = wire::trace_remlen(th);
    std::string s = fmt::format(
        "{{\"time\": \"{}\", \"event\": \"{}\", \"port\": \"{}\", \"src\": \"{}\", \"dst\": "
        "\"{}\", \"namespace\": {}, \"trace_type\": \"0x{:06x}\", \"nodelen\": {}, \"flags\": "
        "{{\"overflow\": {}, \"loopback\": {}, \"active\": {}}}, \"remaining_len\": {}",
        iso_time(r.time_ns), event_name(r.event), port_name, addr(r.src), addr(r.dst),
        load_be16(th.namespace_id), type, wire::trace_nodelen(th),
        wire::trace_overflow(th) ? "true" : "false", (th.nodelen_flags & 0x02) ? "true" : "false",
        (th.nodelen_flags & 0x01) ? "true" : "false", remlen);

    // Nodes are stored newest first from RemainingLen*4; report them in path order.
    std::vector<std::string> hops;
    const uint8_t* p = r.data + std::min<size_t>(remlen * 4u, r.data_len);
    const uint8_t* end = r.data + r.data_len;
    std::string error;
    while (p < end) {
        const uint8_t* before = p;
        std::string node = decode_node(p, end, type);
        if (node.empty() || p == before) {
            error = fmt::format("{} octets do not form a whole node", end - before);
            break;
        }
        hops.push_back(std::move(node));
    }
    s += ", \"hops\": [";
    for (size_t i = hops.size(); i-- > 0;) s += hops[i] + (i ? ", " : "");
    s += "]";
    if (!error.empty()) s += fmt::format(", \"decode_error\": \"{}\"", error);
    return s + "}";
}

}  // namespace ioamfwd::cp
