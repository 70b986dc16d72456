#pragma once
// The packet path of one role (transit, encap, decap) on arbitrary bytes, in
// real mbufs on a real EAL (tests/dp/dp_env.hpp). Each input is one Ethernet
// frame. It is received on both ports, in four layouts per port, as one burst:
//   1. one segment, default headroom;
//   2. one segment, no headroom (insertion must shift into the tailroom);
//   3. one segment at the very end of its buffer (no tailroom, all headroom);
//   4. a chain of two segments split at an octet chosen by the input's last
//      two octets (either segment may be empty).
// After each burst (process + flush), it checks:
//   - every mbuf is back in the pool (rte_mempool_in_use_count == 0);
//   - every transmitted mbuf is a sane chain (rte_mbuf_check, pkt_len);
//   - every transmitted frame is a whole IPv6 packet that the appliance's own
//     parser accepts, with the egress port's MAC as source and a length that
//     matches its payload length;
//   - no IOAM leaves by an edge port, and none that arrived by an edge port
//     with policy strip or drop gets through (RFC 9486 §6);
//   - every exported trace record formats as JSON.
// Every input also runs through a second worker with its fast paths off
// (WorkerConfig::fast_paths), so every burst takes the exact stages; both
// read the same fixed clock and neither runs out of ICMP tokens (the bucket
// runs on the TSC they do not share). The two must transmit the same frames
// (port, octets, segments) in the same order, export the same trace records
// and end with the same counters.
// A failed check prints the input and the frame and aborts, so libFuzzer
// keeps the input as a crash.

#include <cstddef>
#include <cstdint>

namespace ioamfwd::fuzz {

/// Called from LLVMFuzzerInitialize: EAL, ports and the role's snapshot.
/// Exits the process when the environment cannot be built.
void packet_init(const char* role, const char* yaml);

/// Called from LLVMFuzzerTestOneInput.
void packet_one_input(const uint8_t* data, size_t size);

// Neighbour discovery (fuzz_nd): the worker has a neighbour cache and an ND
// channel, and the control thread's NdService (the real one, on the same
// thread) answers what the worker holds and reports. An input is a script
// of commands, so one input can hold a packet for an unknown next hop, then
// bring the advertisement that resolves it, then let time pass:
//   0b0xxxxxLP len_hi len_lo <len octets>
//       a frame received on port P (0/1): with L set in the four layouts
//       above (a burst of four), else once in the default layout;
//   0b1ttttttt
//       the control clock advances t * 100 ms.
// (A length running past the input takes what is left.) After every command
// the control thread polls and the worker takes what it injected until
// nothing moves, and then:
//   - every mbuf out of the pool is a segment of a packet the ND service
//     holds behind an unresolved neighbour (NdService::held; one or two
//     segments each);
//   - every transmitted frame passes the checks above, and a Neighbor
//     Solicitation or Advertisement it sends is one check_nd accepts.
// After the script the clock runs on until every resolution has succeeded
// or failed: then no mbuf is out of the pool. The ND state is rebuilt for
// the next input, so each input is reproducible on its own. The whole script
// runs once with the fast paths and once without, each side with its own
// NdService: frames, traces, worker and ND counters must agree.

/// Called from LLVMFuzzerInitialize instead of packet_init.
void packet_init_nd(const char* role, const char* yaml);

/// Called from LLVMFuzzerTestOneInput after packet_init_nd.
void packet_nd_input(const uint8_t* data, size_t size);

}  // namespace ioamfwd::fuzz
