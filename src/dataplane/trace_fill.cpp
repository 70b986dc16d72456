#include "dataplane/trace_fill.hpp"

#include <cstring>

#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"
#include "common/trace_type.hpp"

namespace ioamfwd::dp {

namespace {
constexpr uint32_t kUnavailable32 = 0xffffffff;
}

std::vector<uint8_t> build_opaque_state_snapshot(const uint8_t* schema, size_t len,
                                                 uint32_t schema_id) {
    if (!schema) return {0x00, 0xff, 0xff, 0xff};
    const size_t padded = (len + 3) & ~size_t(3);
    std::vector<uint8_t> oss(4 + padded, 0);
    store_be32(oss.data(), uint32_t(padded / 4) << 24 | (schema_id & 0xffffff));
    std::memcpy(oss.data() + 4, schema, len);
    return oss;
}

bool trace_wants_time(const uint8_t* opt) {
    const auto* t = reinterpret_cast<const wire::IoamTraceHdr*>(opt + sizeof(wire::IoamOptHdr));
    return trace::wants_time(wire::trace_type(*t));
}

namespace {

// Writes the node data fields of `type` (bits 0..21, ascending) at `p` and
// returns the octets written.
unsigned write_node_fields(uint8_t* p, uint32_t type, const NodeIds& node,
                           const NamespaceData& ns, const HopData& hop) {
    uint8_t* const start = p;
    // Walk the set bits 0..21 in ascending order (bit 0 is the MSB of the type).
    uint32_t bits = type & 0xfffffc;
    while (bits) {
        const unsigned n = unsigned(__builtin_clz(bits << 8));
        bits &= ~trace::bit(n);
        switch (n) {
            case trace::kHopLimNodeId:
                store_be32(p, uint32_t(hop.hop_limit) << 24 | (node.id & 0xffffff));
                p += 4;
                break;
            case trace::kIfIds:
                store_be16(p, hop.ingress_id);
                store_be16(p + 2, hop.egress_id);
                p += 4;
                break;
            case trace::kTimestampSec:
                store_be32(p, hop.ts_sec);
                p += 4;
                break;
            case trace::kTimestampSub:
                store_be32(p, hop.ts_usec);
                p += 4;
                break;
            case trace::kNamespaceData:
                store_be32(p, ns.data);
                p += 4;
                break;
            case trace::kQueueDepth:
                store_be32(p, hop.queue_depth);
                p += 4;
                break;
            case trace::kHopLimNodeIdWide:
                store_be64(p, uint64_t(hop.hop_limit) << 56 | (node.id_wide & 0x00ffffffffffffffull));
                p += 8;
                break;
            case trace::kIfIdsWide:
                store_be32(p, hop.ingress_wide);
                store_be32(p + 4, hop.egress_wide);
                p += 8;
                break;
            case trace::kNamespaceDataWide:
                store_be64(p, ns.wide);
                p += 8;
                break;
            default:
                // Transit delay (4), checksum complement (7), buffer occupancy
                // (11) and the undefined bits 12-21: Linux writes "unavailable".
                store_be32(p, kUnavailable32);
                p += 4;
                break;
        }
    }
    return unsigned(p - start);
}

// Octets of node data in front of field `n` of `type`.
int16_t offset_of(uint32_t type, unsigned n) {
    const uint32_t before = type & ~((trace::bit(n) << 1) - 1) & 0xffffff;
    return int16_t(4 * trace::nodelen_words(before));
}

}  // namespace

FillOutcome fill_trace(uint8_t* opt, const NodeIds& node, const NamespaceData& ns,
                       const HopData& hop) {
    auto* t = reinterpret_cast<wire::IoamTraceHdr*>(opt + sizeof(wire::IoamOptHdr));
    const uint32_t type = wire::trace_type(*t);
    const unsigned sclen = (type & trace::kOssBit) ? ns.oss_words : 0;
    FillOutcome outcome;
    uint8_t* p = claim_trace_room(t, wire::trace_nodelen(*t), sclen, outcome);
    if (!p) return outcome;
    p += write_node_fields(p, type, node, ns, hop);
    // Word by word: a variable-length memcpy is inlined as `rep movs`, whose
    // start-up costs more than the few words a snapshot has.
    for (unsigned w = 0; w < sclen; ++w) std::memcpy(p + 4 * w, ns.oss + 4 * w, 4);
    return outcome;
}

void build_node_template(uint32_t type, const NodeIds& node, const NamespaceData& ns,
                         const HopData& hop, NodeDataTemplate& out) {
    out.type = type;
    out.nodelen = uint8_t(trace::nodelen_words(type));
    const unsigned sclen = (type & trace::kOssBit) ? ns.oss_words : 0;
    // Node data and snapshot beyond any RemainingLen (7 bits) never get written.
    out.oss_too_long = out.nodelen + sclen > NodeDataTemplate::kMaxWords;
    out.sclen = out.oss_too_long ? 0 : uint8_t(sclen);
    const unsigned len = write_node_fields(out.data, type, node, ns, hop);
    if (out.sclen) std::memcpy(out.data + len, ns.oss, size_t(out.sclen) * 4);
    // Where a field of the type sits in the node data, or kNone.
    auto field = [type](unsigned bit) -> int16_t {
        return (type & trace::bit(bit)) ? offset_of(type, bit) : NodeDataTemplate::kNone;
    };
    out.hop_limit_off = field(trace::kHopLimNodeId);
    out.hop_limit_wide_off = field(trace::kHopLimNodeIdWide);
    out.queue_depth_off = field(trace::kQueueDepth);
    out.ts_sec_off = field(trace::kTimestampSec);
    out.ts_usec_off = field(trace::kTimestampSub);
}

void restamp_node_template(NodeDataTemplate& tp, const HopData& hop) {
    if (tp.ts_sec_off >= 0) store_be32(tp.data + tp.ts_sec_off, hop.ts_sec);
    if (tp.ts_usec_off >= 0) store_be32(tp.data + tp.ts_usec_off, hop.ts_usec);
}

}  // namespace ioamfwd::dp
