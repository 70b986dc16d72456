#pragma once
// --control-socket PATH: the command interpreter for scripts, on a local
// Unix stream socket (mode 0600, and only clients running as the same user
// or root are served).
//
// Protocol: the client sends command lines ending in "\n" (a "\r" before it
// is ignored); for each line, in order, the server sends the reply's lines,
// then a line holding a single "." (so an empty reply is just ".\n"). A
// reply line that starts with "." is sent with one more "." in front (SMTP's
// dot-stuffing), so "." alone always ends a reply. A refused command's reply
// is one line starting with "error: ". Several clients may be connected;
// commands run one at a time on the control thread, in arrival order.
//
// Nothing here blocks: clients are non-blocking, replies queue per client,
// and a client whose queue or unfinished line grows past a bound is
// disconnected.

#include <poll.h>

#include <functional>
#include <string>
#include <vector>

namespace ioamfwd::cp {

class ControlSocket {
public:
    using Handler = std::function<std::string(const std::string&)>;

    ControlSocket() = default;
    ~ControlSocket();
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;

    /// Listens on `path`. A stale socket file (nobody accepting) is replaced;
    /// a live one or any other file is refused.
    bool open(const std::string& path, std::string& err);
    bool is_open() const { return listen_fd_ >= 0; }

    /// Appends the descriptors to poll; `handle` takes the same vector back.
    void add_poll_fds(std::vector<pollfd>& fds) const;
    /// Accepts, reads, runs complete lines through `handler` (a bounded
    /// number per client per call), writes replies. `first` is where
    /// add_poll_fds started appending; the socket's entries must be last.
    void handle(const std::vector<pollfd>& fds, size_t first, const Handler& handler);
    /// Lines are waiting to run: poll without sleeping and call handle() again.
    bool busy() const;

    /// Sends what is queued (waiting at most `ms` in total), closes every
    /// client and removes the socket file.
    void close(int ms = 200);

    /// "line\n" ... ".\n" for one reply.
    static std::string frame_reply(const std::string& reply);

private:
    struct Client {
        int fd = -1;
        std::string in;    // received, not yet run
        std::string out;   // replies not yet sent
        bool eof = false;  // nothing more to read: close once everything is answered
    };
    void accept_clients();
    void receive(Client& c);
    void run_lines(Client& c, const Handler& handler);
    bool flush_client(Client& c);
    static bool has_lines(const Client& c);

    int listen_fd_ = -1;
    std::string path_;
    std::vector<Client> clients_;
};

}  // namespace ioamfwd::cp
