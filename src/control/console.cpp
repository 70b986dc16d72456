#include "control/console.hpp"

#include <cmdline.h>
#include <cmdline_parse.h>
#include <cmdline_parse_string.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "control/commands.hpp"

namespace ioamfwd::cp {

namespace {

// Layout of librte_cmdline's result buffer for our instances: the fixed
// words at 128-octet slots, the rest of the line after them.
constexpr unsigned kMaxWords = 3;
constexpr unsigned kArgsOffset = kMaxWords * STR_TOKEN_SIZE;
static_assert(kArgsOffset < CMDLINE_PARSE_RESULT_BUFSIZE);

bool end_of_line(char c) { return c == '\0' || c == '\n' || c == '\r'; }
bool blank(char c) { return c == ' ' || c == '\t'; }
bool end_of_word(char c) { return end_of_line(c) || blank(c) || c == '#'; }

// librte_cmdline's view of a line: words end at a blank, the end of the line
// or '#', and a word that would start with '#' is a comment to the end.
std::vector<std::string> cmdline_words(const char* line) {
    std::vector<std::string> words;
    const char* p = line;
    for (;;) {
        while (blank(*p)) ++p;
        if (end_of_line(*p) || *p == '#') return words;
        const char* start = p;
        while (!end_of_word(*p)) ++p;
        words.emplace_back(start, size_t(p - start));
    }
}

// --- the "rest of the line" token --------------------------------------------------

int rest_parse(cmdline_parse_token_hdr_t*, const char* buf, void* res, unsigned ressize) {
    size_t n = 0;
    while (!end_of_line(buf[n])) ++n;
    if (n == 0) return -1;
    if (res) {
        if (n + 1 > ressize) return -1;
        std::memcpy(res, buf, n);
        static_cast<char*>(res)[n] = '\0';
    }
    return int(n);
}

int no_completions(cmdline_parse_token_hdr_t*) { return 0; }
int no_element(cmdline_parse_token_hdr_t*, int, char*, unsigned) { return -1; }

int rest_help(cmdline_parse_token_hdr_t*, char* dst, unsigned size) {
    std::snprintf(dst, size, "ARGUMENTS");
    return 0;
}

cmdline_token_ops g_rest_ops = {rest_parse, no_completions, no_element, rest_help};

// --- the catch-all: a whole line no generated instance matches -------------------

int catchall_parse(cmdline_parse_token_hdr_t* tk, const char* buf, void* res, unsigned ressize) {
    if (console_grammar_matches(buf)) return -1;
    return rest_parse(tk, buf, res, ressize);
}

int catchall_help(cmdline_parse_token_hdr_t*, char* dst, unsigned size) {
    std::snprintf(dst, size, "COMMAND (type help)");
    return 0;
}

cmdline_token_ops g_catchall_ops = {catchall_parse, no_completions, no_element, catchall_help};

struct InstanceInfo {
    std::string words;  // the fixed words, joined by one blank
    bool rest = false;  // a rest-of-line token follows them
};

}  // namespace

struct Console::Impl {
    Handler handler;
    cmdline* cl = nullptr;
    bool ended = false;
    bool termios_saved = false;
    termios saved{};  // the terminal as we found it

    // Storage the generated context points into; built once.
    std::vector<std::unique_ptr<cmdline_token_string>> word_tokens;
    cmdline_token_hdr rest_token{&g_rest_ops, kArgsOffset};
    cmdline_token_hdr catchall_token{&g_catchall_ops, kArgsOffset};
    std::vector<std::unique_ptr<InstanceInfo>> infos;
    std::vector<std::string> helps;
    std::vector<cmdline_parse_inst_t*> ctx;

    void add_instance(const CommandSpec* spec, bool rest);
    void build();
    ~Impl();
};

namespace {

Console::Impl* g_console = nullptr;  // librte_cmdline callbacks carry no user pointer

void on_line(void* result, cmdline* cl, void* data) {
    auto* info = static_cast<InstanceInfo*>(data);
    std::string line = info->words;
    if (info->rest) {
        if (!line.empty()) line += ' ';
        line += static_cast<const char*>(result) + kArgsOffset;
    }
    if (!g_console) return;
    const std::string reply = g_console->handler(line);
    if (!reply.empty()) cmdline_printf(cl, "%s", reply.c_str());
}

}  // namespace

void Console::Impl::add_instance(const CommandSpec* spec, bool rest) {
    const size_t n_words = spec ? spec->words.size() : 0;
    const size_t n_tokens = spec ? n_words + (rest ? 1 : 0) : 1;
    // cmdline_parse_inst_t ends in a flexible array of token pointers.
    auto* inst = static_cast<cmdline_parse_inst_t*>(
        std::calloc(1, sizeof(cmdline_parse_inst_t) + (n_tokens + 1) * sizeof(void*)));
    if (!inst) throw std::bad_alloc();
    auto info = std::make_unique<InstanceInfo>();
    info->rest = rest;
    if (spec) {
        for (size_t i = 0; i < n_words; ++i) {
            auto tok = std::make_unique<cmdline_token_string>();
            tok->hdr.ops = &cmdline_token_string_ops;
            tok->hdr.offset = unsigned(i * STR_TOKEN_SIZE);
            tok->string_data.str = spec->words[i].c_str();  // the table is static
            inst->tokens[i] = &tok->hdr;
            word_tokens.push_back(std::move(tok));
            info->words += (i ? " " : "") + spec->words[i];
        }
        if (rest) inst->tokens[n_words] = &rest_token;
        helps.push_back(spec->usage + ": " + spec->help);
    } else {
        inst->tokens[0] = &catchall_token;
        helps.push_back("any other line: the interpreter explains what is wrong");
    }
    inst->f = on_line;
    inst->data = info.get();
    infos.push_back(std::move(info));
    ctx.push_back(inst);
}

void Console::Impl::build() {
    helps.reserve(2 * command_table().size() + 1);  // help_str points into it
    for (const CommandSpec& spec : command_table()) {
        if (spec.args != CommandSpec::Args::Required) add_instance(&spec, false);
        if (spec.args != CommandSpec::Args::None) add_instance(&spec, true);
    }
    add_instance(nullptr, true);
    for (size_t i = 0; i < ctx.size(); ++i) ctx[i]->help_str = helps[i].c_str();
    ctx.push_back(nullptr);
}

Console::Impl::~Impl() {
    for (cmdline_parse_inst_t* inst : ctx) std::free(inst);
}

bool console_grammar_matches(const char* line) {
    const std::vector<std::string> words = cmdline_words(line);
    for (const CommandSpec& spec : command_table()) {
        if (words.size() < spec.words.size()) continue;
        bool same = true;
        for (size_t i = 0; i < spec.words.size(); ++i) same = same && words[i] == spec.words[i];
        if (!same) continue;
        const bool more = words.size() > spec.words.size();
        if (more ? spec.args != CommandSpec::Args::None : spec.args != CommandSpec::Args::Required)
            return true;
    }
    return false;
}

Console::Console() : impl_(std::make_unique<Impl>()) {}
Console::~Console() { close(); }

bool Console::open(Handler handler, std::string& err) {
    impl_->handler = std::move(handler);
    impl_->build();
    g_console = impl_.get();
    // The line editor needs every key as it is typed, unechoed. The
    // terminal is switched before the first prompt is printed, so nothing
    // typed after the prompt reaches the canonical line discipline (where
    // Ctrl-D would be an end of file). Signals stay on: Ctrl-C stops
    // ioamfwd cleanly, as it does without the console.
    if (::tcgetattr(STDIN_FILENO, &impl_->saved) == 0) {
        impl_->termios_saved = true;
        termios raw = impl_->saved;
        raw.c_lflag &= tcflag_t(~(ICANON | ECHO));
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    impl_->cl = cmdline_new(impl_->ctx.data(), "ioamfwd> ", STDIN_FILENO, STDOUT_FILENO);
    if (!impl_->cl) {
        close();
        err = "cannot start the console on stdin";
        return false;
    }
    return true;
}

int Console::fd() const { return STDIN_FILENO; }

bool Console::on_readable() {
    if (!impl_->cl || impl_->ended) return false;
    char buf[512];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
        impl_->ended = true;  // end of input: as testpmd, the session is over
        return false;
    }
    // cmdline_in: negative once the line editor has ended (Ctrl-D).
    if (cmdline_in(impl_->cl, buf, int(n)) < 0) impl_->ended = true;
    return !impl_->ended;
}

void Console::close() {
    if (!impl_) return;
    if (impl_->cl) {
        cmdline_printf(impl_->cl, "\n");
        cmdline_free(impl_->cl);
        impl_->cl = nullptr;
    }
    if (impl_->termios_saved) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &impl_->saved);
        impl_->termios_saved = false;
    }
    if (g_console == impl_.get()) g_console = nullptr;
}

}  // namespace ioamfwd::cp
