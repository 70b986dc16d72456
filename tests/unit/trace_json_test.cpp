// The export record: one JSON line per completed trace, hops decoded per the
// trace type and listed in path order (the oldest node, stored last, first).

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "control/trace_json.hpp"

namespace {

using ioamfwd::dp::TraceEvent;
using ioamfwd::dp::TraceRecord;

TraceRecord seed_record() {
    TraceRecord r{};
    r.time_ns = 1795356725ull * 1000000000ull + 531381000ull;  // 2026-11-22T14:12:05.531381Z
    const uint8_t src[16] = {0xdb, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t dst[16] = {0xdb, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::memcpy(r.src, src, 16);
    std::memcpy(r.dst, dst, 16);
    r.port = 0;
    r.event = TraceEvent::Decap;
    // ns 123, NodeLen 1, RemLen 0, type 0x800000.
    const uint8_t hdr[8] = {0x00, 0x7b, 0x08, 0x00, 0x80, 0x00, 0x00, 0x00};
    std::memcpy(r.trace_hdr, hdr, 8);
    // Newest first on the wire: Aramis (61, 3), Porthos (62, 2), Athos (63, 1).
    const uint8_t data[12] = {61, 0, 0, 3, 62, 0, 0, 2, 63, 0, 0, 1};
    r.data_len = 12;
    std::memcpy(r.data, data, 12);
    return r;
}

TEST(TraceJson, SeedTraceInPathOrder) {
    EXPECT_EQ(ioamfwd::cp::trace_record_json(seed_record(), "eth0"),
              "{\"time\": \"2026-11-22T14:12:05.531381000Z\", \"event\": \"decap\", "
              "\"port\": \"eth0\", \"src\": \"db04::1\", \"dst\": \"db02::2\", "
              "\"namespace\": 123, \"trace_type\": \"0x800000\", \"nodelen\": 1, "
              "\"flags\": {\"overflow\": false, \"loopback\": false, \"active\": false}, "
              "\"remaining_len\": 0, \"hops\": [{\"hop_limit\": 63, \"node_id\": 1}, "
              "{\"hop_limit\": 62, \"node_id\": 2}, {\"hop_limit\": 61, \"node_id\": 3}]}");
}

TEST(TraceJson, FreeSpaceIsSkippedAndOverflowReported) {
    TraceRecord r = seed_record();
    r.trace_hdr[2] |= 0x04;  // Overflow
    r.trace_hdr[3] = 1;      // RemLen 1: the first word is unused
    r.event = TraceEvent::Local;
    std::string j = ioamfwd::cp::trace_record_json(r, "eth1");
    EXPECT_NE(j.find("\"event\": \"local\""), std::string::npos);
    EXPECT_NE(j.find("\"overflow\": true"), std::string::npos);
    EXPECT_NE(j.find("\"remaining_len\": 1"), std::string::npos);
    EXPECT_NE(j.find("\"hops\": [{\"hop_limit\": 63, \"node_id\": 1}, "
                     "{\"hop_limit\": 62, \"node_id\": 2}]"),
              std::string::npos)
        << j;
}

TEST(TraceJson, WideFieldsAndSnapshot) {
    TraceRecord r{};
    r.event = TraceEvent::Transit;
    // type bits 1, 8, 10, 22: NodeLen 1 + 2 + 2 = 5, plus an OSS of 1 + 4 words.
    const uint32_t type = 0x400000 | 0x008000 | 0x002000 | 0x000002;
    const uint8_t hdr[8] = {0, 1, 5 << 3, 0, uint8_t(type >> 16), uint8_t(type >> 8),
                            uint8_t(type), 0};
    std::memcpy(r.trace_hdr, hdr, 8);
    const uint8_t node[] = {
        0x00, 0xc9, 0x00, 0xca,                          // ingress 201, egress 202
        62, 0x00, 0x00, 0x00, 0x01, 0x53, 0x15, 0x8e,    // hop 62, wide id 22222222
        0xca, 0xfe, 0xc0, 0xca, 0xf1, 0x1d, 0xc0, 0xde,  // wide ns data
        0x04, 0x00, 0x02, 0x9a,                          // OSS: 4 words, schema 666
        'H', 'e', 'l', 'l', 'o', ' ', 't', 'h', 'e', 'r', 'e', ' ', '-', 'O', 'b', 'i'};
    std::memcpy(r.data, node, sizeof node);
    r.data_len = sizeof node;
    std::string j = ioamfwd::cp::trace_record_json(r, "eth0");
    EXPECT_NE(j.find("\"hops\": [{\"ingress_if_id\": 201, \"egress_if_id\": 202, "
                     "\"hop_limit_wide\": 62, \"node_id_wide\": 22222222, "
                     "\"namespace_data_wide\": \"0xcafec0caf11dc0de\", "
                     "\"opaque_state_snapshot\": {\"schema_id\": 666, \"length\": 16, "
                     "\"data\": \"48656c6c6f207468657265202d4f6269\"}}]"),
              std::string::npos)
        << j;
}

TEST(TraceJson, TruncatedNodeIsReportedNotInvented) {
    TraceRecord r = seed_record();
    r.data_len = 10;  // two whole nodes and half of a third
    std::string j = ioamfwd::cp::trace_record_json(r, "eth0");
    EXPECT_NE(j.find("\"decode_error\": \"2 octets do not form a whole node\""),
              std::string::npos)
        << j;
}

}  // namespace
