#pragma once
// Writing this node's data into an IOAM Pre-allocated Trace (RFC 9197 §4.4),
// byte-identical to Linux's ioam6_fill_trace_data (reference §2.2-2.4).
// Pure function: no DPDK, no allocation; the option must already have passed
// parse_ipv6's checks (lengths and NodeLen consistent).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/byte_order.hpp"
#include "common/ioam_wire.hpp"

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

/// This node's data for one (namespace, trace type, ingress, egress), laid
/// out once as fill_trace would write it. Every packet of a burst with the
/// same key then gets one copy plus the fields that differ per packet (hop
/// limit, queue depth) instead of a walk over the type's bits. Timestamps are
/// per burst (one clock read) and therefore part of the template.
struct NodeDataTemplate {
    // Node data plus snapshot that can fit a trace at all (RemainingLen is
    // 7 bits); the largest node data alone is 25 words.
    static constexpr unsigned kMaxWords = 127;
    static constexpr int16_t kNone = -1;
    uint32_t type = 0;
    uint8_t nodelen = 0;       // words, from the type (parse checked NodeLen)
    uint8_t sclen = 0;         // snapshot words copied after the node data
    bool oss_too_long = false; // snapshot can never fit: every fill overflows
    int16_t hop_limit_off = kNone;       // octet of bit 0's hop limit
    int16_t hop_limit_wide_off = kNone;  // octet of bit 8's hop limit
    int16_t queue_depth_off = kNone;     // word of bit 6
    int16_t ts_sec_off = kNone;          // word of bit 2
    int16_t ts_usec_off = kNone;         // word of bit 3
    uint8_t data[kMaxWords * 4];
};

/// Lays out the node data for `type` with `hop`'s values (its hop limit and
/// queue depth are placeholders, patched per packet by fill_trace_from).
void build_node_template(uint32_t type, const NodeIds& node, const NamespaceData& ns,
                         const HopData& hop, NodeDataTemplate& out);

/// A template kept beyond the clock reading it was built with gets the
/// timestamps of `hop` instead (the only fields that change with the clock).
void restamp_node_template(NodeDataTemplate& tp, const HopData& hop);

/// The overflow rule of both fill paths (RFC 9197 §4.4.1): null when
/// `nodelen` + `sclen` words do not fit (the O flag is then set, or was
/// already, as `outcome` says), else where this node's data goes, with
/// RemainingLen already reduced.
inline uint8_t* claim_trace_room(wire::IoamTraceHdr* t, unsigned nodelen, unsigned sclen,
                                 FillOutcome& outcome) {
    if (wire::trace_overflow(*t)) {
        outcome = FillOutcome::OverflowAlready;
        return nullptr;
    }
    const unsigned remlen = wire::trace_remlen(*t);
    // The snapshot is not part of NodeLen but must fit with it.
    if (remlen == 0 || remlen < nodelen + sclen) {
        t->nodelen_flags |= wire::kTraceOverflowBit;
        outcome = FillOutcome::OverflowSet;
        return nullptr;
    }
    const unsigned left = remlen - nodelen - sclen;
    t->flags_remlen = uint8_t((t->flags_remlen & 0x80) | left);
    outcome = FillOutcome::Filled;
    // Pre-allocated traces fill from the end toward the header: our data goes
    // right in front of the previous node's.
    return reinterpret_cast<uint8_t*>(t) + sizeof(wire::IoamTraceHdr) + left * 4;
}

/// What a fill takes from a template, read out once: a caller filling a
/// run of traces from one template keeps this in registers, where the
/// template itself would be read again after every write into a packet
/// (the compiler cannot rule out that the writes alias it).
struct FillPlan {
    const uint8_t* data;
    unsigned len;    // octets copied: node data and snapshot
    unsigned sclen;  // snapshot words claimed besides NodeLen
    int16_t hl, hl_wide, qd;  // patched offsets, NodeDataTemplate::kNone if absent
    // Node data of one word with at most the hop limit in its first octet
    // to patch (bit 0 alone, the commonest type, and the other one-word
    // types): `word` as it goes into memory with that octet zero, and
    // `hl_mask` 0xff when the hop limit is patched in, else 0.
    bool one_word;
    uint32_t word;
    uint32_t hl_mask;
};

/// The shift of the hop limit into a node data word as it is in memory: its
/// first octet is the word's lowest on a little-endian host.
inline constexpr unsigned kNodeWordHopShift = std::endian::native == std::endian::little ? 0 : 24;

/// write_node_data for a plan that is `one_word`.
inline void write_node_word(uint8_t* p, const FillPlan& f, uint8_t hop_limit) {
    const uint32_t v = f.word | (uint32_t(hop_limit) & f.hl_mask) << kNodeWordHopShift;
    std::memcpy(p, &v, 4);
}

/// `patch_queue_depth`: the queue depth field is the packet's (it has an
/// egress port), not the template's "unavailable".
inline FillPlan fill_plan(const NodeDataTemplate& tp, bool patch_queue_depth) {
    FillPlan f;
    f.data = tp.data;
    f.len = (tp.nodelen + tp.sclen) * 4u;
    // An over-long snapshot cannot fit any RemainingLen: ask for more than
    // the 7-bit field can hold so the trace overflows as with fill_trace.
    f.sclen = tp.oss_too_long ? 128u : tp.sclen;
    f.hl = tp.hop_limit_off;
    f.hl_wide = tp.hop_limit_wide_off;
    f.qd = patch_queue_depth ? tp.queue_depth_off : NodeDataTemplate::kNone;
    f.one_word = f.len == 4 && f.hl <= 0 && f.hl_wide < 0 && f.qd < 0;
    f.hl_mask = f.hl == 0 ? 0xffu : 0u;
    std::memcpy(&f.word, tp.data, 4);
    uint8_t first_zero[4] = {0, 0xff, 0xff, 0xff};
    uint32_t keep;
    std::memcpy(&keep, first_zero, 4);
    if (f.hl == 0) f.word &= keep;
    return f;
}

/// Writes the node data of `f` at `p`, where claim_trace_room put it.
inline void write_node_data(uint8_t* p, const FillPlan& f, uint8_t hop_limit,
                            uint32_t queue_depth) {
    // Fixed-size pieces compile to plain moves; nothing past our words may
    // be written: the previous node's data is there. From 16 octets on, the
    // last piece is the 16 octets that end ours, overlapping the one before
    // (all of it when the length is a multiple of 16).
    const unsigned len = f.len;
    if (len >= 16) {
        unsigned off = 0;
        for (; off + 32 < len; off += 32) {
            std::memcpy(p + off, f.data + off, 16);
            std::memcpy(p + off + 16, f.data + off + 16, 16);
        }
        if (off + 16 < len) std::memcpy(p + off, f.data + off, 16);
        std::memcpy(p + len - 16, f.data + len - 16, 16);
    } else {
        unsigned off = 0;
        if (len >= 8) {
            std::memcpy(p, f.data, 8);
            off = 8;
        }
        if (off < len) std::memcpy(p + off, f.data + off, 4);
    }
    if (f.hl >= 0) p[f.hl] = hop_limit;
    if (f.hl_wide >= 0) p[f.hl_wide] = hop_limit;
    if (f.qd >= 0) store_be32(p + f.qd, queue_depth);
}

/// fill_trace_from with the template's plan.
inline FillOutcome fill_trace_plan(uint8_t* opt, const FillPlan& f, uint8_t hop_limit,
                                   uint32_t queue_depth) {
    auto* t = reinterpret_cast<wire::IoamTraceHdr*>(opt + sizeof(wire::IoamOptHdr));
    FillOutcome outcome;
    uint8_t* p = claim_trace_room(t, wire::trace_nodelen(*t), f.sclen, outcome);
    if (p) write_node_data(p, f, hop_limit, queue_depth);
    return outcome;
}

/// fill_trace with the node data taken from `tp`, whose type must equal the
/// trace's; byte-identical to fill_trace with the same HopData. Inline: it
/// runs once per trace and is mostly a copy.
inline FillOutcome fill_trace_from(uint8_t* opt, const NodeDataTemplate& tp, uint8_t hop_limit,
                                   bool patch_queue_depth, uint32_t queue_depth) {
    // The plan is read before anything is written into the packet.
    const FillPlan f = fill_plan(tp, patch_queue_depth);
    return fill_trace_plan(opt, f, hop_limit, queue_depth);
}

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
