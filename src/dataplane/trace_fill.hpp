#pragma once
// Writing this node's data into an IOAM Pre-allocated Trace (RFC 9197 §4.4),
// byte-identical to Linux's ioam6_fill_trace_data (reference §2.2-2.4).
// Pure function: no DPDK, no allocation; the option must already have passed
// parse_ipv6's checks (lengths and NodeLen consistent).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ioamfwd::dp {

/// Node-wide identity (net.ipv6.ioam6_id / ioam6_id_wide).
struct NodeIds {
    uint32_t id = 0xffffff;
    uint64_t id_wide = 0x00ffffffffffffffull;
};

/// What this node knows about one IOAM namespace.
struct NamespaceData {
    uint32_t data = 0xffffffff;
    uint64_t wide = ~0ull;
    // Opaque State Snapshot as written (RFC 9197 §4.4.2.13): header word +
    // schema bytes padded to 4n, or just 0x00FFFFFF when no schema is bound.
    const uint8_t* oss = nullptr;
    uint16_t oss_words = 0;
};

/// Per-hop values, decided by the caller for this packet.
struct HopData {
    uint8_t hop_limit = 0;  // already adjusted (input path: received - 1)
    uint16_t ingress_id = 0xffff;
    uint16_t egress_id = 0xffff;
    uint32_t ingress_wide = 0xffffffff;
    uint32_t egress_wide = 0xffffffff;
    uint32_t ts_sec = 0xffffffff;   // POSIX seconds, low 32 bits
    uint32_t ts_usec = 0xffffffff;  // microseconds of the same instant
    uint32_t queue_depth = 0xffffffff;
};

enum class FillOutcome : uint8_t { Filled, OverflowSet, OverflowAlready };

/// `opt` points at the IOAM option header (type 0x31), followed by the trace
/// header and its data.
FillOutcome fill_trace(uint8_t* opt, const NodeIds& node, const NamespaceData& ns,
                       const HopData& hop);

/// The Opaque State Snapshot words Linux writes for a namespace (RFC 9197
/// §4.4.2.13): a header word (length in 4-octet words << 24 | schema id) and
/// the schema bytes zero-padded to 4n; with no schema (`schema` null) the
/// single word 0x00FFFFFF. Never empty: bit 22 always takes at least a word.
std::vector<uint8_t> build_opaque_state_snapshot(const uint8_t* schema, size_t len,
                                                 uint32_t schema_id);

/// True if the trace type at `opt` asks for timestamps (bits 2 or 3), so the
/// caller reads the clock only when someone needs it.
bool trace_wants_time(const uint8_t* opt);

}  // namespace ioamfwd::dp
