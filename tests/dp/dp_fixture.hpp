#pragma once
// The start of every dataplane test fixture's SetUp, for GoogleTest only
// (dp_env.hpp also serves the fuzz targets, which have no GoogleTest).

#include <gtest/gtest.h>

#include <string>

#include "dp_env.hpp"

namespace ioamfwd::testenv {

/// Points `env` at the process's EAL environment with nothing left over
/// from an earlier test on its ports: `ASSERT_TRUE(open_dp_env(env_));`.
inline ::testing::AssertionResult open_dp_env(DpEnv*& env) {
    std::string err;
    env = DpEnv::init("dp_tests", err);
    if (!env) return ::testing::AssertionFailure() << err;
    env->take_tx();
    return ::testing::AssertionSuccess();
}

}  // namespace ioamfwd::testenv
