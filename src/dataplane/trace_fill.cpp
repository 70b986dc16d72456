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
    return (wire::trace_type(*t) & (trace::bit(trace::kTimestampSec) |
                                    trace::bit(trace::kTimestampSub))) != 0;
}

FillOutcome fill_trace(uint8_t* opt, const NodeIds& node, const NamespaceData& ns,
                       const HopData& hop) {
    auto* t = reinterpret_cast<wire::IoamTraceHdr*>(opt + sizeof(wire::IoamOptHdr));
    if (wire::trace_overflow(*t)) return FillOutcome::OverflowAlready;

    const uint32_t type = wire::trace_type(*t);
    const unsigned nodelen = wire::trace_nodelen(*t);
    const unsigned remlen = wire::trace_remlen(*t);
    // The snapshot is not part of NodeLen but must fit with it (RFC 9197 §4.4.1).
    const unsigned sclen = (type & trace::kOssBit) ? ns.oss_words : 0;
    if (remlen == 0 || remlen < nodelen + sclen) {
        t->nodelen_flags |= wire::kTraceOverflowBit;
        return FillOutcome::OverflowSet;
    }

    // Pre-allocated traces fill from the end toward the header: our data goes
    // right in front of the previous node's.
    uint8_t* p = reinterpret_cast<uint8_t*>(t) + sizeof(wire::IoamTraceHdr) +
                 (remlen - nodelen - sclen) * 4;
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
    // Word by word: a variable-length memcpy is inlined as `rep movs`, whose
    // start-up costs more than the few words a snapshot has.
    for (unsigned w = 0; w < sclen; ++w) std::memcpy(p + 4 * w, ns.oss + 4 * w, 4);

    t->flags_remlen = uint8_t((t->flags_remlen & 0x80) | (remlen - nodelen - sclen));
    return FillOutcome::Filled;
}

}  // namespace ioamfwd::dp
