#pragma once
// Config -> YAML text that load_config_text() reads back into the same
// configuration. The console edits a copy of the running Config, writes it
// with this, and loads the text again, so every change goes through the one
// validating loader; `show config` and `save config` print the same text.

#include <string>

#include "control/config.hpp"

namespace ioamfwd::cp {

/// The whole configuration as YAML, sections in the loader's dependency
/// order (node, icmp, ports, schemas, namespaces, routes, neighbors), every key
/// written explicitly except optional values that are absent. Deterministic:
/// two equal configurations give identical text.
std::string write_config(const Config& cfg);

}  // namespace ioamfwd::cp
