// libFuzzer target: arbitrary frames through the transit node (Porthos: eth0 IOAM-enabled, fills
// one node).
// Run longer: build-fuzz/tests/fuzz/fuzz_transit -max_total_time=3600 tests/fuzz/corpus/transit

#include <cstddef>
#include <cstdint>

#include "../dp/role_configs.hpp"
#include "packet_fuzz.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    ioamfwd::fuzz::packet_init("transit", ioamfwd::testenv::kTransitYaml);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ioamfwd::fuzz::packet_one_input(data, size);
    return 0;
}
