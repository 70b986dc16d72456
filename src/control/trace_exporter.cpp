#include "control/trace_exporter.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control/trace_json.hpp"

namespace ioamfwd::cp {

namespace {
constexpr unsigned kDrainBurst = 64;
constexpr int kMaxClients = 16;

bool write_all(int fd, const char* p, size_t n) {
    while (n) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= size_t(w);
    }
    return true;
}
}  // namespace

bool TraceExporter::open(const std::string& target, std::string& err) {
    if (target == "-") {
        fd_ = STDOUT_FILENO;
        return true;
    }
    if (target.rfind("unix:", 0) == 0) {
        socket_path_ = target.substr(5);
        // Bound under a temporary name and renamed once it listens with mode
        // 0600: a reader never sees the path refuse connections, nor a moment
        // when others could open it (trace data shows the network's inner
        // workings).
        const std::string temp = socket_path_ + ".tmp" + std::to_string(::getpid());
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (socket_path_.empty() || temp.size() >= sizeof sa.sun_path) {
            err = "--trace-export " + target + ": bad socket path";
            return false;
        }
        std::memcpy(sa.sun_path, temp.c_str(), temp.size());
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ::unlink(temp.c_str());
        const mode_t old_mask = ::umask(0177);
        const bool ok = listen_fd_ >= 0 &&
                        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
                        ::listen(listen_fd_, kMaxClients) == 0 &&
                        ::chmod(temp.c_str(), 0600) == 0 &&
                        ::rename(temp.c_str(), socket_path_.c_str()) == 0;
        ::umask(old_mask);
        if (!ok) {
            err = "--trace-export " + target + ": " + std::strerror(errno);
            ::unlink(temp.c_str());
            return false;
        }
        return true;
    }
    fd_ = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        err = "--trace-export " + target + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

TraceExporter::~TraceExporter() { close(); }

void TraceExporter::close() {
    for (int c : clients_) ::close(c);
    clients_.clear();
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        ::unlink(socket_path_.c_str());
        listen_fd_ = -1;
    }
    if (fd_ > STDOUT_FILENO) ::close(fd_);
    fd_ = -1;
}

void TraceExporter::accept_clients() {
    for (;;) {
        int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return;
        if (int(clients_.size()) >= kMaxClients) {
            ::close(c);
            continue;
        }
        clients_.push_back(c);
    }
}

void TraceExporter::emit(const std::string& line) {
    if (fd_ >= 0) {
        if (write_all(fd_, line.data(), line.size()))
            ++written_;
        else
            ++lost_;
        return;
    }
    bool delivered = false;
    for (size_t i = 0; i < clients_.size();) {
        // A partial write would corrupt the JSON stream for that reader, so a
        // reader whose socket buffer is full is dropped rather than waited for.
        ssize_t w = ::send(clients_[i], line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w == ssize_t(line.size())) {
            delivered = true;
            ++i;
        } else {
            ::close(clients_[i]);
            clients_.erase(clients_.begin() + long(i));
        }
    }
    if (delivered)
        ++written_;
    else
        ++lost_;
}

void TraceExporter::drain(dp::ExportRing& ring, const std::vector<std::string>& port_names) {
    if (listen_fd_ >= 0) accept_clients();
    dp::TraceRecord recs[kDrainBurst];
    unsigned n;
    while ((n = ring.pop_burst(recs, kDrainBurst)) > 0) {
        for (unsigned i = 0; i < n; ++i) {
            const std::string& name =
                recs[i].port < port_names.size() ? port_names[recs[i].port] : std::string("?");
            emit(trace_record_json(recs[i], name) + "\n");
        }
    }
}

}  // namespace ioamfwd::cp
