#include "control/config.hpp"

namespace ioamfwd::cp {

namespace {
std::string format_error(const std::string& file, const Mark& m, const std::string& reason) {
    return file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": " + reason;
}
}  // namespace

ConfigError::ConfigError(std::string file, Mark mark, std::string reason)
    : std::runtime_error(format_error(file, mark, reason)),
      file_(std::move(file)),
      mark_(mark),
      reason_(std::move(reason)) {}

const char* encap_mode_name(EncapConfig::Mode mode) {
    switch (mode) {
        case EncapConfig::Mode::Inline: return "inline";
        case EncapConfig::Mode::Encap: return "encap";
        case EncapConfig::Mode::Auto: return "auto";
    }
    return "inline";
}

const PortConfig* Config::find_port(const std::string& name) const {
    for (const auto& p : ports)
        if (p.name == name) return &p;
    return nullptr;
}

const SchemaConfig* Config::find_schema(uint32_t id) const {
    for (const auto& s : schemas)
        if (s.id == id) return &s;
    return nullptr;
}

}  // namespace ioamfwd::cp
