#include "control/control_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <cstring>

namespace ioamfwd::cp {

namespace {

constexpr size_t kMaxLine = 64 * 1024;             // a command line, unfinished
constexpr size_t kMaxPendingInput = 1024 * 1024;   // read ahead of the commands run
constexpr size_t kMaxQueued = 64 * 1024 * 1024;    // replies a client has not read
constexpr size_t kMaxClients = 16;
constexpr unsigned kLinesPerRound = 32;

bool make_address(const std::string& path, sockaddr_un& sa) {
    sa = sockaddr_un{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path) return false;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    return true;
}

// Is someone accepting on `path`? Used to tell a stale socket file from one
// that another process is serving.
bool someone_listens(const sockaddr_un& sa) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return live;
}

}  // namespace

ControlSocket::~ControlSocket() { close(0); }

bool ControlSocket::open(const std::string& path, std::string& err) {
    sockaddr_un sa;
    if (!make_address(path, sa)) {
        err = "--control-socket " + path + ": the path must be 1.." +
              std::to_string(sizeof sa.sun_path - 1) + " characters";
        return false;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            err = "--control-socket " + path + ": exists and is not a socket";
            return false;
        }
        if (someone_listens(sa)) {
            err = "--control-socket " + path + ": another process is serving it";
            return false;
        }
        ::unlink(path.c_str());  // stale, from a process that did not clean up
    }
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
        err = "--control-socket " + path + ": " + std::strerror(errno);
        return false;
    }
    // Created 0600 from the start: the socket changes the node's
    // configuration, so there must be no moment where others can connect.
    const mode_t old_mask = ::umask(0077);
    const int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    const int bind_errno = errno;
    ::umask(old_mask);
    if (rc != 0 || ::listen(listen_fd_, int(kMaxClients)) != 0) {
        err = "--control-socket " + path + ": " + std::strerror(rc != 0 ? bind_errno : errno);
        ::close(listen_fd_);
        listen_fd_ = -1;
        return false;
    }
    ::chmod(path.c_str(), 0600);
    path_ = path;
    return true;
}

void ControlSocket::add_poll_fds(std::vector<pollfd>& fds) const {
    if (listen_fd_ < 0) return;
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients_) {
        const bool read_more = !c.eof && c.in.size() < kMaxPendingInput;
        fds.push_back({c.fd, short((read_more ? POLLIN : 0) | (c.out.empty() ? 0 : POLLOUT)), 0});
    }
}

void ControlSocket::accept_clients() {
    for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        // The file mode already keeps others out; the peer's credentials
        // make sure even of a socket reached through another path.
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            (cred.uid != 0 && cred.uid != ::geteuid())) {
            spdlog::warn("control socket: refused a client of uid {}", cred.uid);
            ::close(fd);
            continue;
        }
        if (clients_.size() >= kMaxClients) {
            const std::string busy = frame_reply("error: too many control clients\n");
            (void)!::send(fd, busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            ::close(fd);
            continue;
        }
        clients_.push_back(Client{fd, {}, {}, false});
    }
}

std::string ControlSocket::frame_reply(const std::string& reply) {
    std::string out;
    size_t start = 0;
    while (start < reply.size()) {
        size_t nl = reply.find('\n', start);
        if (nl == std::string::npos) nl = reply.size();
        if (reply[start] == '.') out += '.';
        out.append(reply, start, nl - start);
        out += '\n';
        start = nl + 1;
    }
    return out + ".\n";
}

// Reads what the peer has sent, up to kMaxPendingInput unprocessed octets.
void ControlSocket::receive(Client& c) {
    char buf[4096];
    while (c.in.size() < kMaxPendingInput) {
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            c.eof = true;  // answer what was asked, then close
            break;
        }
        c.in.append(buf, size_t(n));
    }
    if (c.in.size() > kMaxLine && c.in.find('\n') == std::string::npos) {
        c.out += frame_reply("error: command line longer than " + std::to_string(kMaxLine) +
                             " octets\n");
        c.in.clear();
        c.eof = true;  // nothing more is read; the error is sent, then the client closed
    }
}

// Runs up to kLinesPerRound complete lines, so that one client pipelining
// thousands of commands does not hold up the control loop's other duties.
void ControlSocket::run_lines(Client& c, const Handler& handler) {
    size_t start = 0;
    unsigned done = 0;
    for (size_t nl; done < kLinesPerRound && (nl = c.in.find('\n', start)) != std::string::npos;
         start = nl + 1, ++done) {
        std::string line = c.in.substr(start, nl - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        c.out += frame_reply(handler(line));
    }
    c.in.erase(0, start);
    if (c.eof && done < kLinesPerRound && !c.in.empty() && c.in.find('\n') == std::string::npos) {
        c.out += frame_reply(handler(c.in));  // a last line without "\n"
        c.in.clear();
    }
}

bool ControlSocket::has_lines(const Client& c) {
    return c.in.find('\n') != std::string::npos || (c.eof && !c.in.empty());
}

bool ControlSocket::busy() const {
    for (const Client& c : clients_)
        if (has_lines(c)) return true;
    return false;
}

// False: the client is to be dropped.
bool ControlSocket::flush_client(Client& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) return false;
        c.out.erase(0, size_t(n));
    }
    if (c.out.size() > kMaxQueued) {
        spdlog::warn("control socket: a client does not read its replies; disconnected");
        return false;
    }
    return !(c.eof && c.out.empty() && !has_lines(c));
}

void ControlSocket::handle(const std::vector<pollfd>& fds, size_t first, const Handler& handler) {
    if (listen_fd_ < 0 || first >= fds.size()) return;
    // The clients polled are the first entries of clients_, in order
    // (accepting only appends, and only below).
    const size_t polled = std::min(fds.size() - first - 1, clients_.size());
    for (size_t i = 0; i < polled; ++i)
        if (fds[first + 1 + i].revents & (POLLIN | POLLHUP | POLLERR)) receive(clients_[i]);
    std::vector<bool> drop(clients_.size(), false);
    for (size_t i = 0; i < clients_.size(); ++i) {
        run_lines(clients_[i], handler);
        drop[i] = !flush_client(clients_[i]);
    }
    for (size_t i = clients_.size(); i-- > 0;)
        if (drop[i]) {
            ::close(clients_[i].fd);
            clients_.erase(clients_.begin() + long(i));
        }
    if (fds[first].revents & POLLIN) accept_clients();
}

void ControlSocket::close(int ms) {
    // Replies already queued (the "quit" that stopped us, say) are still sent.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (Client& c : clients_) {
        while (!c.out.empty() && std::chrono::steady_clock::now() < deadline) {
            ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                c.out.erase(0, size_t(n));
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                pollfd p{c.fd, POLLOUT, 0};
                ::poll(&p, 1, 10);
            } else {
                break;
            }
        }
        ::close(c.fd);
    }
    clients_.clear();
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        listen_fd_ = -1;
        ::unlink(path_.c_str());
    }
}

}  // namespace ioamfwd::cp
