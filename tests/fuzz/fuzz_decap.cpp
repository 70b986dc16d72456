// libFuzzer target: arbitrary frames through the decapsulating node (Aramis: ip6ip6 end on eth0,
// edge strip on eth1).
// Run longer: build-fuzz/tests/fuzz/fuzz_decap -max_total_time=3600 tests/fuzz/corpus/decap

#include <cstddef>
#include <cstdint>

#include "../dp/role_configs.hpp"
#include "packet_fuzz.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    ioamfwd::fuzz::packet_init("decap", ioamfwd::testenv::kDecapYaml);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ioamfwd::fuzz::packet_one_input(data, size);
    return 0;
}
