// libFuzzer target: scripts of frames and clock steps through a node with
// neighbour discovery (the worker's hold, record and inject paths and the
// control thread's NdService); input format in packet_fuzz.hpp.
// Run longer: build-fuzz/tests/fuzz/fuzz_nd -max_total_time=3600 tests/fuzz/corpus/nd

#include <cstddef>
#include <cstdint>

#include "../dp/role_configs.hpp"
#include "packet_fuzz.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    ioamfwd::fuzz::packet_init_nd("nd", ioamfwd::testenv::kNdYaml);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ioamfwd::fuzz::packet_nd_input(data, size);
    return 0;
}
