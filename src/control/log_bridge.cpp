#include "control/log_bridge.hpp"

#include <rte_log.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string_view>

namespace ioamfwd::cp {

namespace {

spdlog::level::level_enum to_spdlog(int rte_level) {
    if (rte_level <= int(RTE_LOG_ERR)) return spdlog::level::err;
    if (rte_level == int(RTE_LOG_WARNING)) return spdlog::level::warn;
    if (rte_level <= int(RTE_LOG_INFO)) return spdlog::level::info;
    return spdlog::level::debug;
}

// rte_vlog() formats one message into the stream and flushes it, on the
// thread that logs; rte_log_cur_msg_loglevel() is that thread's current
// message level. stdio locks the stream around the write, so lines from
// different threads do not interleave.
ssize_t write_to_spdlog(void*, const char* buf, size_t size) {
    const auto level = to_spdlog(rte_log_cur_msg_loglevel());
    std::string_view text(buf, size);
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (!line.empty()) spdlog::log(level, "{}", line);
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return ssize_t(size);
}

}  // namespace

bool install_dpdk_log_bridge() {
    cookie_io_functions_t io{};
    io.write = write_to_spdlog;
    // Lives until the process exits: DPDK may log until the very end.
    static FILE* stream = fopencookie(nullptr, "w", io);
    if (!stream) return false;
    // Large enough for any single DPDK message, so each arrives whole.
    std::setvbuf(stream, nullptr, _IOFBF, 16384);
    return rte_openlog_stream(stream) == 0;
}

}  // namespace ioamfwd::cp
