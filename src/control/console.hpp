#pragma once
// The interactive console (-i): DPDK's librte_cmdline on stdin, for its line
// editing, history and tab completion, in front of the one command
// interpreter (commands.hpp).
//
// librte_cmdline dispatches a line to the instance whose tokens match it.
// The instances are generated from command_table(): the fixed words of each
// command as string tokens (so they complete with TAB and list with '?'),
// then one token that takes the rest of the line. A last catch-all instance
// takes every line no other instance matches, so that a wrong or incomplete
// line also reaches the interpreter and gets its one-line error rather than
// librte_cmdline's "Bad arguments". Every instance ends in the same callback.
//
// Nothing blocks: the control loop polls fd(), and on_readable() feeds what
// stdin has to cmdline_in(), which edits the line and runs complete ones.

#include <functional>
#include <memory>
#include <string>

namespace ioamfwd::cp {

class Console {
public:
    using Handler = std::function<std::string(const std::string&)>;

    Console();
    ~Console();
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    /// Takes over stdin (unechoed, key by key; signals stay on, so Ctrl-C
    /// stops ioamfwd as usual) and prints the prompt.
    bool open(Handler handler, std::string& err);
    /// The descriptor to poll for input.
    int fd() const;
    /// Reads and handles the pending input. False once the console has ended
    /// (end of input or Ctrl-D); the caller then stops.
    bool on_readable();
    /// Restores the terminal.
    void close();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

/// True if some generated instance (not the catch-all) matches `line` by
/// librte_cmdline's rules: the catch-all takes exactly the other lines.
bool console_grammar_matches(const char* line);

}  // namespace ioamfwd::cp
