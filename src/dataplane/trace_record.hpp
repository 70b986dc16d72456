#pragma once
// One exported IOAM trace: what a worker copies out of a packet whose trace
// this node completed (destination, decapsulation) or, on request, passed on
// (transit, like Linux's IOAM6_EVENT_TRACE). Fixed size and trivially
// copyable so it travels through an rte_ring by value: workers never allocate.

#include <cstdint>

#include "common/ioam_wire.hpp"

namespace ioamfwd::dp {

enum class TraceEvent : uint8_t { Local = 0, Decap = 1, Transit = 2 };

struct TraceRecord {
    uint64_t time_ns;        // CLOCK_REALTIME of the node's processing
    uint8_t src[16];         // addresses of the IPv6 header holding the trace
    uint8_t dst[16];
    uint16_t port;           // ingress port id
    TraceEvent event;
    uint8_t reserved;
    uint8_t trace_hdr[8];    // RFC 9197 §4.4.1 header as it leaves this node
    uint16_t data_len;       // octets of trace data (option length - 10)
    uint8_t data[wire::kTraceDataMax + 4];
};
static_assert(sizeof(TraceRecord) % 4 == 0, "rte_ring elements are 4n octets");

}  // namespace ioamfwd::dp
