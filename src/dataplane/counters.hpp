#pragma once
// Every packet that ioamfwd does not forward untouched is counted under one of
// these reasons. The enum and the name table are one X-macro so the summary,
// the JSON stats and (later) telemetry can never drift apart. Names are stable
// API: tests and operators' scripts match on them.

#include <cstdint>

namespace ioamfwd::dp {

// X(enum, "name", "description")
#define IOAMFWD_DROP_REASONS(X)                                                              \
    X(NotIpv6, "not_ipv6", "ethertype is not IPv6")                                         \
    X(L2OtherHost, "l2_other_host", "unicast frame for another MAC")                       \
    X(Ipv6Truncated, "ipv6_truncated", "frame shorter than Ethernet + IPv6 header")         \
    X(Ipv6BadVersion, "ipv6_bad_version", "IP version field is not 6")                      \
    X(Ipv6BadLength, "ipv6_bad_length", "payload length beyond the frame")                  \
    X(Ipv6BadAddress, "ipv6_bad_address", "multicast source or loopback address")           \
    X(Jumbogram, "jumbogram", "payload length 0 with Hop-by-Hop (RFC 2675 jumbogram)")      \
    X(HeadersNotContiguous, "headers_not_contiguous", "headers span mbuf segments")         \
    X(HbhTruncated, "hbh_truncated", "Hop-by-Hop header runs past the packet")              \
    X(HbhBadOption, "hbh_bad_option", "option runs past the Hop-by-Hop header")             \
    X(HbhPadding, "hbh_padding", "more than 7 consecutive padding octets")                  \
    X(HbhPadnNonzero, "hbh_padn_nonzero", "PadN payload is not zero")                       \
    X(HbhTooManyOptions, "hbh_too_many_options", "more than 8 non-padding options")         \
    X(HbhUnknownOption, "hbh_unknown_option", "unknown option whose action is discard")     \
    X(IoamMisaligned, "ioam_misaligned", "IOAM option not 4n-aligned")                      \
    X(IoamShort, "ioam_short", "IOAM option length < 2")                                    \
    X(IoamTraceTruncated, "ioam_trace_truncated", "IOAM option shorter than trace header")  \
    X(IoamTraceMalformed, "ioam_trace_malformed", "RemainingLen beyond the IOAM option")    \
    X(IoamNodelenMismatch, "ioam_nodelen_mismatch", "NodeLen inconsistent with trace type") \
    X(EdgeIoam, "edge_ioam", "IOAM from outside the domain on an edge port (drop policy)")  \
    X(LinkLocal, "link_local", "link-local address, not forwarded")                         \
    X(Multicast, "multicast", "multicast destination, not forwarded")                       \
    X(LocalDelivery, "local_delivery", "addressed to the appliance, not a tunnel")          \
    X(DecapDisabled, "decap_disabled", "ip6ip6 to the appliance on a port without decap")   \
    X(DecapBadInner, "decap_bad_inner", "tunnelled packet is not a whole IPv6 packet")      \
    X(DecapEcn, "decap_ecn", "outer CE over a not-ECT inner packet (RFC 6040)")             \
    X(DecapNested, "decap_nested", "tunnel inside a decapsulated tunnel")                  \
    X(HopLimitExceeded, "hop_limit_exceeded", "hop limit reached 0")                        \
    X(NoRoute, "no_route", "no route to the destination")                                   \
    X(NoNeighbor, "no_neighbor", "next hop has no neighbor entry")                          \
    X(MtuExceeded, "mtu_exceeded", "packet larger than the egress MTU")                     \
    X(IoamMtuExceeded, "ioam_mtu_exceeded", "IOAM insertion would exceed the egress MTU")   \
    X(IoamNoRoom, "ioam_no_room", "mbuf cannot take the inserted IOAM header")              \
    X(IoamTunnelUnreachable, "ioam_tunnel_unreachable", "no route/neighbor to tundst")      \
    X(IcmpBadChecksum, "icmp_bad_checksum", "echo request to us with a bad checksum")      \
    X(NdInvalid, "nd_invalid", "neighbor solicitation/advert failing RFC 4861 7.1 checks") \
    X(NdQueueFull, "nd_queue_full", "next hop unresolved and the ND hold ring is full")      \
    X(TxFull, "tx_full", "egress queue refused the packet")

// Events that do not drop the packet: IOAM processing outcomes.
#define IOAMFWD_IOAM_EVENTS(X)                                                               \
    X(TraceFilled, "ioam_filled", "node data written into a trace")                         \
    X(TraceOverflowSet, "ioam_overflow_set", "no room: Overflow flag set")                  \
    X(SkipOverflowFlag, "ioam_skip_overflow", "Overflow already set, nothing written")      \
    X(SkipPortDisabled, "ioam_skip_disabled", "ingress port not IOAM-enabled")              \
    X(SkipUnknownNamespace, "ioam_skip_unknown_ns", "namespace not configured")             \
    X(SkipOptionType, "ioam_skip_option_type", "IOAM option-type other than Pre-allocated") \
    X(Inserted, "ioam_inserted", "trace inserted by an encap route")                        \
    X(SampledOut, "ioam_sampled_out", "encap route's freq k/n left the packet alone")       \
    X(InlineHasHbh, "ioam_inline_has_hbh", "inline: packet already had a Hop-by-Hop")       \
    X(InsertShift, "ioam_insert_shift", "headroom too small: payload shifted (slow path)") \
    X(Decapsulated, "decapsulated", "ip6ip6 tunnel terminated, inner packet forwarded")     \
    X(Exported, "ioam_exported", "trace record queued for export")                          \
    X(EdgeStripped, "edge_stripped", "IOAM from outside the domain removed on ingress")     \
    X(EdgeEgressStripped, "edge_egress_stripped", "IOAM removed before leaving the domain") \
    X(ExportDropped, "ioam_export_dropped", "export ring full: trace record lost")

// ICMPv6 the appliance sends (RFC 4443), and why it sometimes does not.
#define IOAMFWD_ICMP_EVENTS(X)                                                               \
    X(EchoReply, "icmp_echo_reply", "echo reply sent")                                      \
    X(TimeExceeded, "icmp_time_exceeded", "time exceeded (hop limit) sent")                 \
    X(Unreachable, "icmp_unreachable", "destination unreachable (no route) sent")           \
    X(PacketTooBig, "icmp_packet_too_big", "packet too big sent")                           \
    X(NeighborAdvert, "nd_advert", "neighbor advertisement sent for an own address")        \
    X(NdHeld, "nd_held", "packet handed to neighbour discovery (next hop unresolved)")     \
    X(NdAdvertReceived, "nd_advert_received", "valid neighbor advertisement to us, passed on") \
    X(NdSolicitLearnt, "nd_solicit_learnt", "solicitation's source link-layer address passed on") \
    X(NdRecordDropped, "nd_record_dropped", "ND record ring full: advert/solicit not learnt") \
    X(RateLimited, "icmp_rate_limited", "not sent: rate limit (RFC 4443 2.4f)")             \
    X(Suppressed, "icmp_suppressed", "not sent: about an error, multicast, unspecified")    \
    X(NoSource, "icmp_no_source", "not sent: ingress port has no address to send from")   \
    X(NoRoom, "icmp_no_room", "not sent: mbuf cannot hold the message in place")

#define IOAMFWD_ENUM_ENTRY(e, name, desc) e,
enum class Drop : uint16_t { IOAMFWD_DROP_REASONS(IOAMFWD_ENUM_ENTRY) kCount };
enum class IoamEvent : uint16_t { IOAMFWD_IOAM_EVENTS(IOAMFWD_ENUM_ENTRY) kCount };
enum class IcmpEvent : uint16_t { IOAMFWD_ICMP_EVENTS(IOAMFWD_ENUM_ENTRY) kCount };
#undef IOAMFWD_ENUM_ENTRY

inline constexpr unsigned kDropCount = unsigned(Drop::kCount);
inline constexpr unsigned kIoamEventCount = unsigned(IoamEvent::kCount);
inline constexpr unsigned kIcmpEventCount = unsigned(IcmpEvent::kCount);

const char* drop_name(Drop d);
const char* drop_description(Drop d);
const char* ioam_event_name(IoamEvent e);
const char* ioam_event_description(IoamEvent e);
const char* icmp_event_name(IcmpEvent e);
const char* icmp_event_description(IcmpEvent e);

}  // namespace ioamfwd::dp
