// libFuzzer target: arbitrary frames through the encapsulating node (Athos: inline, encap and
// auto routes, a 244-octet trace).
// Run longer: build-fuzz/tests/fuzz/fuzz_encap -max_total_time=3600 tests/fuzz/corpus/encap

#include <cstddef>
#include <cstdint>

#include "../dp/role_configs.hpp"
#include "packet_fuzz.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    ioamfwd::fuzz::packet_init("encap", ioamfwd::testenv::kEncapYaml);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ioamfwd::fuzz::packet_one_input(data, size);
    return 0;
}
