#pragma once
// Drains the workers' export ring on the control thread and writes each
// trace as one JSON line to a file, stdout, or the clients of a Unix stream
// socket. Writing never blocks the control thread on a slow reader: a socket
// client that cannot keep up is disconnected and counted.

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/export_ring.hpp"

namespace ioamfwd::cp {

class TraceExporter {
public:
    /// `target`: "-" (stdout), "unix:PATH" (listening socket) or a file path.
    bool open(const std::string& target, std::string& err);
    ~TraceExporter();

    /// Writes what the ring holds; `port_names` is indexed by port id.
    void drain(dp::ExportRing& ring, const std::vector<std::string>& port_names);
    void close();

    uint64_t written() const { return written_; }
    uint64_t lost() const { return lost_; }

private:
    void accept_clients();
    void emit(const std::string& line);

    int fd_ = -1;          // file or stdout
    int listen_fd_ = -1;   // unix socket
    std::string socket_path_;
    std::vector<int> clients_;
    uint64_t written_ = 0;
    uint64_t lost_ = 0;  // lines a disconnected or failing reader did not get
};

}  // namespace ioamfwd::cp
