#pragma once

namespace ioamfwd::cp {

/// The whole appliance: EAL, configuration, ports, workers, control loop.
/// Returns the process exit code.
int run_app(int argc, char** argv);

}  // namespace ioamfwd::cp
