// The command interpreter (see commands.hpp). Commands are parsed into an
// edited copy of the running Config; nothing touches the appliance until the
// whole line has been understood and the edited configuration has passed the
// YAML loader, so a refused line never changes anything.
//
// Syntax follows iproute2 where Linux has a command for the same thing
// (`ip ioam`, `ip -6 route`, `ip -6 neigh`, the ioam6 sysctls), and testpmd
// for the rest (show/clear stats, start/stop, quit).

#include "control/commands.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "control/config_limits.hpp"
#include "control/config_writer.hpp"

namespace ioamfwd::cp {

namespace {

/// A refused command; what() is the one line after "error: ".
struct CommandError {
    std::string message;
};

[[noreturn]] void fail(const std::string& message) { throw CommandError{message}; }

// --- lexical ------------------------------------------------------------------

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Words separated by blanks, as a shell splits them: "double quotes" keep
// blanks and decode \" \\ \n \t \xHH, 'single quotes' are literal, quoted
// and unquoted parts of one word join, and '#' at the start of a word
// comments out the rest of the line.
std::vector<std::string> tokenize(const std::string& line) {
    std::vector<std::string> words;
    size_t i = 0;
    const size_t n = line.size();
    while (i < n) {
        while (i < n && is_blank(line[i])) ++i;
        if (i >= n || line[i] == '#') break;
        std::string word;
        while (i < n && !is_blank(line[i])) {
            const char c = line[i];
            if (c == '\'') {
                size_t end = line.find('\'', i + 1);
                if (end == std::string::npos) fail("unterminated ' quote");
                word.append(line, i + 1, end - i - 1);
                i = end + 1;
            } else if (c == '"') {
                ++i;
                bool closed = false;
                while (i < n) {
                    char q = line[i++];
                    if (q == '"') {
                        closed = true;
                        break;
                    }
                    if (q != '\\') {
                        word += q;
                        continue;
                    }
                    if (i >= n) break;
                    char e = line[i++];
                    if (e == 'n') {
                        word += '\n';
                    } else if (e == 't') {
                        word += '\t';
                    } else if (e == 'x') {
                        int hi = i < n ? hex_value(line[i]) : -1;
                        int lo = i + 1 < n ? hex_value(line[i + 1]) : -1;
                        if (hi < 0 || lo < 0) fail("\\x needs two hex digits in a quoted string");
                        word += char(hi * 16 + lo);
                        i += 2;
                    } else {
                        word += e;  // \" \\ and any other escaped character
                    }
                }
                if (!closed) fail("unterminated \" quote");
            } else {
                word += c;
                ++i;
            }
        }
        words.push_back(std::move(word));
    }
    return words;
}

// Printable form of a word in a message.
std::string q(std::string_view s) {
    std::string out = "'";
    for (char c : s.substr(0, 64)) {
        if (c >= 0x20 && c < 0x7f) {
            out += c;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(uint8_t(c)));
            out += buf;
        }
    }
    if (s.size() > 64) out += "...";
    return out + "'";
}

std::string hex_text(uint64_t v, int digits = 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(v));
    return buf;
}

// "0..0xFFFF" for bit-width maxima, as the loader writes ranges.
std::string range_text(uint64_t max) {
    if ((max & (max + 1)) == 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0..0x%llX", static_cast<unsigned long long>(max));
        return buf;
    }
    return "0.." + std::to_string(max);
}

// Decimal, or hex after 0x, as the YAML loader reads integers. A decimal
// with a leading zero is refused: iproute2 reads it as octal, YAML 1.2 as
// decimal; rather than pick one, the console asks.
uint64_t parse_number(std::string_view what, const std::string& text, uint64_t max) {
    uint64_t v = 0;
    bool ok = !text.empty();
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        for (size_t i = 2; ok && i < text.size(); ++i) {
            int d = hex_value(text[i]);
            if (d < 0 || v > (UINT64_MAX >> 4)) ok = false;
            else v = v * 16 + uint64_t(d);
        }
    } else {
        if (text.size() > 1 && text[0] == '0' && ok) {
            bool digits = text.find_first_not_of("0123456789") == std::string::npos;
            if (digits)
                fail(std::string(what) + ": " + q(text) +
                     " has a leading zero, which is ambiguous (octal in iproute2); write it "
                     "without the zero, or in hex with 0x");
        }
        for (char c : text) {
            if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) {
                ok = false;
                break;
            }
            v = v * 10 + uint64_t(c - '0');
        }
    }
    if (!ok) fail(std::string(what) + ": " + q(text) + " is not a number (decimal, or hex with 0x)");
    if (v > max) fail(std::string(what) + ": " + text + " is out of range " + range_text(max));
    return v;
}

// iproute2 reads `wide` as hex whether or not it starts with 0x
// (`ip ioam namespace add 1 wide 1234` is 0x1234); so does the console.
uint64_t parse_hex_wide(const std::string& text) {
    std::string_view digits = text;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        digits.remove_prefix(2);
    bool ok = !digits.empty() && digits.size() <= 16;
    uint64_t v = 0;
    for (char c : digits) {
        int d = hex_value(c);
        if (d < 0) ok = false;
        else v = v * 16 + uint64_t(d);
    }
    if (!ok)
        fail("wide: " + q(text) + " is not a 64-bit hex number (wide is always read as hex, "
             "as iproute2 does: 1234 means 0x1234)");
    return v;
}

Ipv6Addr parse_addr(std::string_view what, const std::string& text) {
    auto a = Ipv6Addr::parse(text);
    if (!a) fail(std::string(what) + ": " + q(text) + " is not an IPv6 address");
    return *a;
}

// PREFIX is ADDR/LEN, a bare ADDR (/128) or `default` (::/0), as for ip -6 route.
Ipv6Prefix parse_prefix(const std::string& text) {
    if (text == "default") return Ipv6Prefix{Ipv6Addr{}, 0};
    size_t slash = text.find('/');
    auto a = Ipv6Addr::parse(std::string_view(text).substr(0, slash));
    if (!a) fail(q(text) + " is not an IPv6 prefix (ADDR/LEN, ADDR or default)");
    Ipv6Prefix p{*a, 128};
    if (slash != std::string::npos) {
        std::string len = text.substr(slash + 1);
        bool ok = !len.empty() && len.size() <= 3 &&
                  len.find_first_not_of("0123456789") == std::string::npos &&
                  !(len.size() > 1 && len[0] == '0');
        unsigned v = ok ? unsigned(std::stoul(len)) : 999;
        if (v > 128) fail(q(text) + ": the prefix length must be a number in 0..128");
        p.length = uint8_t(v);
    }
    if (p.has_host_bits())
        fail(p.to_string() + " has host bits set; the network is " +
             Ipv6Prefix{p.network(), p.length}.to_string());
    return p;
}

MacAddr parse_mac(const std::string& text) {
    auto m = MacAddr::parse(text);
    if (!m) fail("lladdr: " + q(text) + " is not a MAC address (aa:bb:cc:dd:ee:ff)");
    return *m;
}

bool parse_on_off(std::string_view what, const std::string& text) {
    if (text == "on" || text == "1") return true;
    if (text == "off" || text == "0") return false;
    fail(std::string(what) + ": " + q(text) + " is not on or off");
}

// --- the words of a command ------------------------------------------------------

class Cursor {
public:
    Cursor(std::vector<std::string> words, std::string usage)
        : w_(std::move(words)), usage_(std::move(usage)) {}

    bool more() const { return i_ < w_.size(); }
    const std::string& peek() const { return w_[i_]; }
    bool accept(std::string_view word) {
        if (!more() || w_[i_] != word) return false;
        ++i_;
        return true;
    }
    /// The next word; refuses a missing one with the command's usage.
    std::string take(std::string_view what) {
        if (!more()) fail("missing " + std::string(what) + "; usage: " + usage_);
        return w_[i_++];
    }
    void end() const {
        if (more()) fail("unexpected " + q(w_[i_]) + "; usage: " + usage_);
    }
    void set_usage(std::string usage) { usage_ = std::move(usage); }
    const std::string& usage() const { return usage_; }

private:
    std::vector<std::string> w_;
    size_t i_ = 0;
    std::string usage_;
};

// A keyword given twice on one line is a typo, not an override.
void once(bool& seen, const std::string& keyword) {
    if (seen) fail(keyword + " given twice");
    seen = true;
}

// --- looking things up in a Config ------------------------------------------------

std::string port_list(const Config& cfg) {
    std::string s;
    for (const PortConfig& p : cfg.ports) s += (s.empty() ? "" : ", ") + p.name;
    return s;
}

PortConfig& port_named(Config& cfg, const std::string& name) {
    for (PortConfig& p : cfg.ports)
        if (p.name == name) return p;
    fail("no port named " + q(name) + " (ports: " + port_list(cfg) + ")");
}

const PortConfig& port_named(const Config& cfg, const std::string& name) {
    return port_named(const_cast<Config&>(cfg), name);
}

NamespaceConfig* find_ns(Config& cfg, uint64_t id) {
    for (NamespaceConfig& n : cfg.namespaces)
        if (n.id == id) return &n;
    return nullptr;
}

SchemaConfig* find_schema(Config& cfg, uint64_t id) {
    for (SchemaConfig& s : cfg.schemas)
        if (s.id == id) return &s;
    return nullptr;
}

RouteConfig* find_route(Config& cfg, const Ipv6Prefix& p) {
    for (RouteConfig& r : cfg.routes)
        if (r.prefix == p) return &r;
    return nullptr;
}


// --- committing --------------------------------------------------------------------

// Messages about a console-made configuration carry "(console):LINE:COL: "
// positions in the generated YAML, which mean nothing to the operator.
std::string without_console_position(const std::string& msg) {
    const std::string prefix = std::string(kConsoleSource) + ":";
    size_t at = msg.find(prefix);
    if (at == std::string::npos) return msg;
    size_t i = at + prefix.size();
    for (int field = 0; field < 2; ++field) {
        size_t j = i;
        while (j < msg.size() && msg[j] >= '0' && msg[j] <= '9') ++j;
        if (j == i || j >= msg.size() || msg[j] != ':') return msg;
        i = j + 1;
    }
    while (i < msg.size() && msg[i] == ' ') ++i;
    return msg.substr(0, at) + msg.substr(i);
}

void commit(ControlApi& api, const Config& next) {
    std::string err;
    if (!commit_config(api, next, err)) fail(err);
}

// --- ioam namespace / schema ------------------------------------------------------

uint16_t ns_id(const std::string& text) {
    return uint16_t(parse_number("namespace ID", text, kMaxNamespaceId));
}

uint32_t schema_id(const std::string& text) {
    return uint32_t(parse_number("schema ID", text, kMaxSchemaId));
}

std::string show_namespaces(const Config& cfg) {
    // `ip ioam namespace show`: data and wide are omitted when all-ones,
    // which is how Linux dumps them.
    std::string out;
    for (const NamespaceConfig& n : cfg.namespaces) {
        out += "namespace " + std::to_string(n.id);
        if (n.schema) out += " [schema " + std::to_string(*n.schema) + "]";
        if (n.data != 0xffffffffu) out += ", data " + hex_text(n.data, 8);
        if (n.wide != UINT64_MAX) out += ", wide " + hex_text(n.wide, 16);
        out += "\n";
    }
    return out;
}

std::string show_schemas(const Config& cfg) {
    // `ip ioam schema show`: the bytes as the kernel holds them, padded to 4n.
    std::string out;
    for (const SchemaConfig& s : cfg.schemas) {
        out += "schema " + std::to_string(s.id);
        for (const NamespaceConfig& n : cfg.namespaces)
            if (n.schema == s.id) out += " [namespace " + std::to_string(n.id) + "]";
        out += ", data:";
        std::vector<uint8_t> bytes = s.data;
        bytes.resize((bytes.size() + 3) / 4 * 4, 0);
        for (uint8_t b : bytes) {
            char buf[8];
            std::snprintf(buf, sizeof buf, " %02x", unsigned(b));
            out += buf;
        }
        out += "\n";
    }
    return out;
}

std::string cmd_namespace(Cursor& c, ControlApi& api) {
    const Config& cur = api.config();
    c.set_usage("ioam namespace add|del|set|show ...");
    const std::string sub = c.take("add, del, set or show");
    if (sub == "show") {
        c.set_usage("ioam namespace show");
        c.end();
        return show_namespaces(cur);
    }
    Config next = cur;
    if (sub == "add") {
        c.set_usage("ioam namespace add ID [data D32] [wide D64]");
        const uint16_t id = ns_id(c.take("namespace ID"));
        NamespaceConfig ns;
        ns.id = id;
        bool seen_data = false, seen_wide = false;
        while (c.more()) {
            if (c.accept("data")) {
                once(seen_data, "data");
                ns.data = uint32_t(parse_number("data", c.take("data D32"), kMaxNamespaceData));
            } else if (c.accept("wide")) {
                once(seen_wide, "wide");
                ns.wide = parse_hex_wide(c.take("wide D64"));
            } else {
                c.end();
            }
        }
        if (find_ns(next, id)) fail("namespace " + std::to_string(id) + " already exists (EEXIST)");
        next.namespaces.push_back(ns);
    } else if (sub == "del") {
        c.set_usage("ioam namespace del ID");
        const uint16_t id = ns_id(c.take("namespace ID"));
        c.end();
        auto& v = next.namespaces;
        auto it = std::find_if(v.begin(), v.end(), [&](const NamespaceConfig& n) { return n.id == id; });
        if (it == v.end()) fail("namespace " + std::to_string(id) + " does not exist (ENOENT)");
        v.erase(it);  // its schema stays, unbound
    } else if (sub == "set") {
        c.set_usage("ioam namespace set ID schema {SID|none} | data D32 | wide D64");
        const uint16_t id = ns_id(c.take("namespace ID"));
        std::optional<std::optional<uint32_t>> schema;
        std::optional<uint32_t> data;
        std::optional<uint64_t> wide;
        bool seen_schema = false, seen_data = false, seen_wide = false;
        while (c.more()) {
            if (c.accept("schema")) {
                once(seen_schema, "schema");
                std::string s = c.take("schema SID or none");
                schema = s == "none" ? std::optional<uint32_t>() : std::optional(schema_id(s));
            } else if (c.accept("data")) {
                once(seen_data, "data");
                data = uint32_t(parse_number("data", c.take("data D32"), kMaxNamespaceData));
            } else if (c.accept("wide")) {
                once(seen_wide, "wide");
                wide = parse_hex_wide(c.take("wide D64"));
            } else {
                c.end();
            }
        }
        if (!seen_schema && !seen_data && !seen_wide)
            fail("nothing to set; usage: " + c.usage());
        NamespaceConfig* ns = find_ns(next, id);
        if (!ns) fail("namespace " + std::to_string(id) + " does not exist (ENOENT)");
        if (schema && *schema) {
            if (!find_schema(next, **schema))
                fail("schema " + std::to_string(**schema) + " does not exist (ENOENT)");
            // 1:1, as Linux: the schema leaves the namespace it served.
            for (NamespaceConfig& other : next.namespaces)
                if (other.schema == **schema) other.schema.reset();
        }
        if (schema) ns->schema = *schema;
        if (data) ns->data = *data;
        if (wide) ns->wide = *wide;
    } else {
        fail("unknown ioam namespace command " + q(sub) + "; expected add, del, set or show");
    }
    commit(api, next);
    return "";
}

std::string cmd_schema(Cursor& c, ControlApi& api) {
    const Config& cur = api.config();
    c.set_usage("ioam schema add|del|show ...");
    const std::string sub = c.take("add, del or show");
    if (sub == "show") {
        c.set_usage("ioam schema show");
        c.end();
        return show_schemas(cur);
    }
    Config next = cur;
    if (sub == "add") {
        c.set_usage("ioam schema add SID DATA");
        const uint32_t id = schema_id(c.take("schema ID"));
        const std::string data = c.take("DATA");
        if (c.more())
            fail("unexpected " + q(c.peek()) + " after DATA (quote DATA that contains blanks: "
                 "\"two words\")");
        if (data.empty() || data.size() > kMaxSchemaBytes)
            fail("schema data must be 1.." + std::to_string(kMaxSchemaBytes) + " octets, got " +
                 std::to_string(data.size()));
        if (find_schema(next, id)) fail("schema " + std::to_string(id) + " already exists (EEXIST)");
        SchemaConfig s;
        s.id = id;
        s.data.assign(data.begin(), data.end());
        next.schemas.push_back(std::move(s));
    } else if (sub == "del") {
        c.set_usage("ioam schema del SID");
        const uint32_t id = schema_id(c.take("schema ID"));
        c.end();
        auto& v = next.schemas;
        auto it = std::find_if(v.begin(), v.end(), [&](const SchemaConfig& s) { return s.id == id; });
        if (it == v.end()) fail("schema " + std::to_string(id) + " does not exist (ENOENT)");
        v.erase(it);
        for (NamespaceConfig& n : next.namespaces)
            if (n.schema == id) n.schema.reset();
    } else {
        fail("unknown ioam schema command " + q(sub) + "; expected add, del or show");
    }
    commit(api, next);
    return "";
}

// --- set node / set port -------------------------------------------------------------

std::string cmd_set(Cursor& c, ControlApi& api) {
    Config next = api.config();
    c.set_usage("set node id N | set node id_wide N | set port PORT ioam ...");
    const std::string what = c.take("node or port");
    if (what == "node") {
        const std::string key = c.take("id or id_wide");
        if (key == "id") {
            c.set_usage("set node id N");
            next.node.id = uint32_t(parse_number("node id", c.take("N"), kMaxNodeId));
        } else if (key == "id_wide") {
            c.set_usage("set node id_wide N");
            next.node.id_wide = parse_number("node id_wide", c.take("N"), kMaxNodeIdWide);
        } else {
            fail("unknown node setting " + q(key) + "; expected id or id_wide");
        }
        c.end();
    } else if (what == "port") {
        c.set_usage("set port PORT ioam enabled on|off | id V | id_wide V");
        PortConfig& port = port_named(next, c.take("PORT"));
        if (!c.accept("ioam")) {
            if (!c.more()) c.take("ioam");
            fail(q(c.peek()) + " cannot be set on a running port (only its ioam settings can; "
                               "a port change needs a restart); usage: " + c.usage());
        }
        bool any = false, seen_enabled = false, seen_id = false, seen_wide = false;
        while (c.more()) {
            const std::string key = c.take("setting");
            if (key == "enabled") {
                once(seen_enabled, "enabled");
                port.ioam.enabled = parse_on_off("enabled", c.take("on or off"));
            } else if (key == "id") {
                once(seen_id, "id");
                port.ioam.id = uint16_t(parse_number("port ioam id", c.take("V"), kMaxPortIoamId));
            } else if (key == "id_wide") {
                once(seen_wide, "id_wide");
                port.ioam.id_wide =
                    uint32_t(parse_number("port ioam id_wide", c.take("V"), kMaxPortIoamIdWide));
            } else {
                fail("unknown port ioam setting " + q(key) + "; expected enabled, id or id_wide");
            }
            any = true;
        }
        if (!any) c.take("enabled, id or id_wide");
    } else {
        fail("cannot set " + q(what) + "; usage: " + c.usage());
    }
    commit(api, next);
    return "";
}

// --- routes ----------------------------------------------------------------------------

constexpr const char* kRouteUsage =
    "route add PREFIX [via ADDR] port PORT [encap ioam6 [freq K/N] [mode inline|encap|auto] "
    "[tunsrc ADDR] [tundst ADDR] trace prealloc type T ns N size S]";

uint32_t parse_u32(std::string_view what, const std::string& text) {
    return uint32_t(parse_number(what, text, 0xffffffff));
}

void parse_freq(const std::string& text, EncapConfig& e) {
    size_t slash = text.find('/');
    auto decimal = [&](std::string_view d) -> uint32_t {
        bool ok = !d.empty() && d.size() <= 10 &&
                  d.find_first_not_of("0123456789") == std::string_view::npos &&
                  !(d.size() > 1 && d[0] == '0');
        uint64_t v = ok ? std::stoull(std::string(d)) : 0;
        if (!ok || v > 0xffffffffull)
            fail("freq: " + q(text) + " is not K/N (two decimal numbers such as 1/2: instrument "
                 "K packets out of every N)");
        return uint32_t(v);
    };
    if (slash == std::string::npos)
        fail("freq: " + q(text) + " is not K/N (two decimal numbers such as 1/2: instrument K "
             "packets out of every N)");
    e.freq_k = decimal(std::string_view(text).substr(0, slash));
    e.freq_n = decimal(std::string_view(text).substr(slash + 1));
}

void parse_trace(Cursor& c, EncapConfig& e) {
    const std::string kind = c.take("prealloc");
    if (kind != "prealloc")
        fail("trace " + q(kind) + ": only the Pre-allocated Trace can be inserted (trace prealloc)");
    bool type = false, ns = false, size = false;
    while (c.more() && (c.peek() == "type" || c.peek() == "ns" || c.peek() == "size")) {
        const std::string key = c.take("type, ns or size");
        if (key == "type") {
            once(type, "type");
            e.trace_type = uint32_t(parse_number("trace type", c.take("type T"), 0xffffff));
        } else if (key == "ns") {
            once(ns, "ns");
            e.trace_ns = uint16_t(parse_number("trace ns", c.take("ns N"), 0xffff));
        } else {
            once(size, "size");
            e.trace_size = parse_u32("trace size", c.take("size S"));
        }
    }
    if (!type) fail("trace prealloc needs type T; usage: " + c.usage());
    if (!ns) fail("trace prealloc needs ns N; usage: " + c.usage());
    if (!size) fail("trace prealloc needs size S; usage: " + c.usage());
}

EncapConfig parse_encap(Cursor& c) {
    const std::string type = c.take("ioam6");
    if (type != "ioam6") fail("encap " + q(type) + ": only encap ioam6 is supported");
    EncapConfig e;
    bool freq = false, mode = false, tunsrc = false, tundst = false, trace = false;
    while (c.more()) {
        const std::string& k = c.peek();
        if (k != "freq" && k != "mode" && k != "tunsrc" && k != "tundst" && k != "trace") break;
        const std::string key = c.take(k);
        if (key == "freq") {
            once(freq, "freq");
            parse_freq(c.take("freq K/N"), e);
        } else if (key == "mode") {
            once(mode, "mode");
            const std::string m = c.take("mode inline|encap|auto");
            if (m == "inline") e.mode = EncapConfig::Mode::Inline;
            else if (m == "encap") e.mode = EncapConfig::Mode::Encap;
            else if (m == "auto") e.mode = EncapConfig::Mode::Auto;
            else fail("mode: " + q(m) + " is not an encap mode; expected inline, encap or auto");
        } else if (key == "tunsrc") {
            once(tunsrc, "tunsrc");
            e.tunsrc = parse_addr("tunsrc", c.take("tunsrc ADDR"));
        } else if (key == "tundst") {
            once(tundst, "tundst");
            e.tundst = parse_addr("tundst", c.take("tundst ADDR"));
        } else {
            once(trace, "trace");
            parse_trace(c, e);
        }
    }
    if (!trace) fail("encap ioam6 needs trace prealloc type T ns N size S; usage: " + c.usage());
    return e;
}

// The route's own words after PREFIX: via, port (or iproute2's dev), encap,
// in any order as ip -6 route takes them.
RouteConfig parse_route_spec(Cursor& c, const Config& cfg, const Ipv6Prefix& prefix) {
    RouteConfig r;
    r.prefix = prefix;
    bool via = false, port = false, encap = false;
    while (c.more()) {
        const std::string key = c.take("via, port or encap");
        if (key == "via") {
            once(via, "via");
            r.via = parse_addr("via", c.take("via ADDR"));
        } else if (key == "port" || key == "dev") {
            once(port, "port");
            r.port = port_named(cfg, c.take("port PORT")).name;
        } else if (key == "encap") {
            once(encap, "encap");
            r.encap = parse_encap(c);
        } else {
            fail("unexpected " + q(key) + "; usage: " + c.usage());
        }
    }
    if (!port) fail("missing port PORT; usage: " + c.usage());
    return r;
}

std::string route_text(const RouteConfig& r) {
    std::string s = r.prefix.to_string();
    if (r.via) s += " via " + r.via->to_string();
    s += " port " + r.port;
    if (r.encap) {
        const EncapConfig& e = *r.encap;
        s += " encap ioam6 freq " + std::to_string(e.freq_k) + "/" + std::to_string(e.freq_n);
        s += std::string(" mode ") + encap_mode_name(e.mode);
        if (e.tunsrc) s += " tunsrc " + e.tunsrc->to_string();
        if (e.tundst) s += " tundst " + e.tundst->to_string();
        s += " trace prealloc type " + hex_text(e.trace_type, 6) + " ns " +
             std::to_string(e.trace_ns) + " size " + std::to_string(e.trace_size);
    }
    return s;
}

std::string show_routes(const Config& cfg) {
    std::string out;
    for (const RouteConfig& r : cfg.routes) out += route_text(r) + "\n";
    for (const PortConfig& p : cfg.ports)
        for (const Ipv6Prefix& a : p.addresses)
            out += Ipv6Prefix{a.network(), a.length}.to_string() + " port " + p.name +
                   " proto connected\n";
    return out;
}

std::string cmd_route(Cursor& c, ControlApi& api) {
    const Config& cur = api.config();
    c.set_usage("route add|replace|del|show ...");
    const std::string sub = c.take("add, replace, del or show");
    if (sub == "show") {
        c.set_usage("route show");
        c.end();
        return show_routes(cur);
    }
    Config next = cur;
    if (sub == "add" || sub == "replace") {
        c.set_usage(sub == "add" ? kRouteUsage
                                 : std::string("route replace") + (kRouteUsage + 9));
        const Ipv6Prefix prefix = parse_prefix(c.take("PREFIX"));
        RouteConfig r = parse_route_spec(c, cur, prefix);
        RouteConfig* existing = find_route(next, prefix);
        if (existing && sub == "add")
            fail("a route to " + prefix.to_string() + " already exists (EEXIST); use route "
                 "replace to change it");
        if (existing) {
            r.mark = existing->mark;
            *existing = std::move(r);
        } else {
            next.routes.push_back(std::move(r));
        }
    } else if (sub == "del") {
        c.set_usage("route del PREFIX [via ADDR] [port PORT]");
        const Ipv6Prefix prefix = parse_prefix(c.take("PREFIX"));
        std::optional<Ipv6Addr> via;
        std::optional<std::string> port;
        bool seen_via = false, seen_port = false;
        while (c.more()) {
            const std::string key = c.take("via or port");
            if (key == "via") {
                once(seen_via, "via");
                via = parse_addr("via", c.take("via ADDR"));
            } else if (key == "port" || key == "dev") {
                once(seen_port, "port");
                port = port_named(cur, c.take("port PORT")).name;
            } else {
                fail("unexpected " + q(key) + "; usage: " + c.usage());
            }
        }
        RouteConfig* r = find_route(next, prefix);
        if (!r) {
            for (const PortConfig& p : cur.ports)
                for (const Ipv6Prefix& a : p.addresses)
                    if (Ipv6Prefix{a.network(), a.length} == prefix)
                        fail(prefix.to_string() + " is the connected route of port " + p.name +
                             " (from its address " + a.to_string() + "), not a route to delete");
            fail("no route to " + prefix.to_string() + " (ESRCH)");
        }
        if ((via && r->via != via) || (port && r->port != *port))
            fail("no route to " + prefix.to_string() + " with that via/port (ESRCH); it is: " +
                 route_text(*r));
        next.routes.erase(next.routes.begin() + (r - next.routes.data()));
    } else {
        fail("unknown route command " + q(sub) + "; expected add, replace, del or show");
    }
    commit(api, next);
    return "";
}

// --- neighbours ----------------------------------------------------------------------

std::string cmd_neigh(Cursor& c, ControlApi& api) {
    const Config& cur = api.config();
    c.set_usage("neigh add|replace|del|show ...");
    const std::string sub = c.take("add, replace, del or show");
    if (sub == "show") {
        c.set_usage("neigh show");
        c.end();
        std::string out;
        for (const NeighborConfig& n : cur.neighbors)
            out += n.address.to_string() + " lladdr " + n.mac.to_string() + " port " + n.port + "\n";
        return out;
    }
    Config next = cur;
    const bool del = sub == "del";
    if (sub == "add" || sub == "replace")
        c.set_usage("neigh " + sub + " ADDR lladdr MAC port PORT");
    else if (del)
        c.set_usage("neigh del ADDR port PORT");
    else
        fail("unknown neigh command " + q(sub) + "; expected add, replace, del or show");

    const Ipv6Addr addr = parse_addr("neighbor", c.take("ADDR"));
    std::optional<MacAddr> mac;
    std::optional<std::string> port;
    bool seen_mac = false, seen_port = false, seen_nud = false;
    while (c.more()) {
        const std::string key = c.take("lladdr or port");
        if (key == "lladdr" && !del) {
            once(seen_mac, "lladdr");
            mac = parse_mac(c.take("lladdr MAC"));
        } else if (key == "port" || key == "dev") {
            once(seen_port, "port");
            port = port_named(cur, c.take("port PORT")).name;
        } else if (key == "nud" && !del) {
            // Pasted from `ip -6 neigh add .. nud permanent`: every entry is.
            once(seen_nud, "nud");
            const std::string state = c.take("permanent");
            if (state != "permanent")
                fail("nud " + q(state) + ": static neighbours are always nud permanent");
        } else {
            fail("unexpected " + q(key) + "; usage: " + c.usage());
        }
    }
    if (!port) fail("missing port PORT; usage: " + c.usage());
    if (!del && !mac) fail("missing lladdr MAC; usage: " + c.usage());
    auto& v = next.neighbors;
    auto it = std::find_if(v.begin(), v.end(), [&](const NeighborConfig& n) {
        return n.address == addr && n.port == *port;
    });
    if (del) {
        if (it == v.end())
            fail("no neighbor " + addr.to_string() + " on port " + *port + " (ENOENT)");
        v.erase(it);
    } else if (it != v.end()) {
        if (sub == "add")
            fail("neighbor " + addr.to_string() + " on port " + *port +
                 " already exists (EEXIST); use neigh replace to change it");
        it->mac = *mac;
    } else {
        NeighborConfig n;
        n.address = addr;
        n.mac = *mac;
        n.port = *port;
        v.push_back(std::move(n));
    }
    commit(api, next);
    return "";
}

// --- files ------------------------------------------------------------------------------

// Written next to the target and renamed over it, so a reader (or a SIGHUP
// reload) never sees half a file.
void save_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("cannot write " + path + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < text.size()) {
        ssize_t w = ::write(fd, text.data() + done, text.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            fail("cannot write " + path + ": " + std::strerror(e));
        }
        done += size_t(w);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        fail("cannot write " + path + ": " + std::strerror(e));
    }
}

// --- help ------------------------------------------------------------------------------------

std::string help_text(const std::string& topic) {
    std::string out;
    for (const CommandSpec& s : command_table()) {
        if (!topic.empty() && s.words[0] != topic) continue;
        out += s.usage + "\n      " + s.help + "\n";
    }
    if (out.empty()) fail("no command starts with " + q(topic) + "; type help for the list");
    if (topic.empty())
        out += "Numbers are decimal or 0x hex (wide: always hex, as iproute2); quote words with "
               "blanks; '#' starts a comment.\n";
    return out;
}

std::string dispatch(std::vector<std::string> words, ControlApi& api) {
    // Lines pasted from iproute2 work as they are: `ip ioam ..`, `ip -6 route ..`.
    if (!words.empty() && words[0] == "ip") {
        words.erase(words.begin());
        if (!words.empty() && words[0] == "-6") words.erase(words.begin());
        if (words.empty() || (words[0] != "ioam" && words[0] != "route" && words[0] != "neigh"))
            fail("only ip ioam, ip -6 route and ip -6 neigh lines are understood");
    }
    Cursor c(words, "");
    const std::string cmd = c.take("a command");
    if (cmd == "ioam") {
        c.set_usage("ioam namespace|schema ...");
        const std::string what = c.take("namespace or schema");
        if (what == "namespace") return cmd_namespace(c, api);
        if (what == "schema") return cmd_schema(c, api);
        fail("unknown ioam object " + q(what) + "; expected namespace or schema");
    }
    if (cmd == "set") return cmd_set(c, api);
    if (cmd == "route") return cmd_route(c, api);
    if (cmd == "neigh") return cmd_neigh(c, api);
    if (cmd == "show") {
        c.set_usage("show port stats | show port xstats PORT | show stats | show config | "
                    "show neighbors");
        const std::string what = c.take("port, stats, config or neighbors");
        if (what == "neighbors" || what == "neighbours") {
            c.end();
            return api.neighbors();
        }
        if (what == "port") {
            const std::string kind = c.take("stats or xstats");
            if (kind == "stats") {
                c.end();
                return api.port_stats();
            }
            if (kind == "xstats") {
                c.set_usage("show port xstats PORT");
                const std::string name = port_named(api.config(), c.take("PORT")).name;
                c.end();
                return api.port_xstats(name);
            }
            fail("unknown port view " + q(kind) + "; usage: " + c.usage());
        }
        if (what == "stats") {
            c.end();
            return api.stats();
        }
        if (what == "config") {
            c.end();
            return write_config(api.config());
        }
        fail("unknown view " + q(what) + "; usage: " + c.usage());
    }
    if (cmd == "clear") {
        c.set_usage("clear stats");
        if (c.take("stats") != "stats") fail("only stats can be cleared; usage: clear stats");
        c.end();
        api.clear_stats();
        return "statistics cleared\n";
    }
    if (cmd == "save") {
        c.set_usage("save config FILE");
        if (c.take("config") != "config") fail("usage: save config FILE");
        const std::string path = c.take("FILE");
        c.end();
        save_file(path, write_config(api.config()));
        return "configuration saved to " + path + "\n";
    }
    if (cmd == "reload") {
        c.set_usage("reload [FILE]");
        std::string path = c.more() ? c.take("FILE") : api.config_path();
        const bool new_file = path != api.config_path();
        c.end();
        std::string message;
        if (!reload_config(api, path, message)) fail(message);
        if (new_file) api.set_config_path(path);
        return message + "\n";
    }
    if (cmd == "start" || cmd == "stop") {
        c.set_usage(cmd);
        c.end();
        const bool on = cmd == "start";
        if (api.forwarding() == on)
            return std::string("forwarding is already ") + (on ? "started" : "stopped") + "\n";
        api.set_forwarding(on);
        return std::string("forwarding ") + (on ? "started" : "stopped") + "\n";
    }
    if (cmd == "help") {
        c.set_usage("help [COMMAND]");
        std::string topic = c.more() ? c.take("COMMAND") : "";
        c.end();
        return help_text(topic);
    }
    if (cmd == "quit") {
        c.set_usage("quit");
        c.end();
        api.quit();
        return "bye\n";
    }
    fail("unknown command " + q(cmd) + "; type help for the list");
}

}  // namespace

const std::vector<CommandSpec>& command_table() {
    using A = CommandSpec::Args;
    static const std::vector<CommandSpec> table = {
        {{"ioam", "namespace", "add"}, A::Required, "ioam namespace add ID [data D32] [wide D64]",
         "add an IOAM namespace (ip ioam); unset data/wide are all-ones; wide is read as hex"},
        {{"ioam", "namespace", "del"}, A::Required, "ioam namespace del ID",
         "delete a namespace (its schema stays, unbound)"},
        {{"ioam", "namespace", "set"}, A::Required,
         "ioam namespace set ID schema {SID|none} | data D32 | wide D64",
         "bind a schema 1:1 (it leaves its previous namespace) or unbind it; data and wide "
         "(ioamfwd extensions) change in the same snapshot"},
        {{"ioam", "namespace", "show"}, A::None, "ioam namespace show",
         "list namespaces as ip ioam namespace show does"},
        {{"ioam", "schema", "add"}, A::Required, "ioam schema add SID DATA",
         "add an Opaque State Snapshot schema; DATA is the string's bytes (quote blanks)"},
        {{"ioam", "schema", "del"}, A::Required, "ioam schema del SID",
         "delete a schema (its namespace is unbound)"},
        {{"ioam", "schema", "show"}, A::None, "ioam schema show",
         "list schemas and their bytes, padded to 4n"},
        {{"set", "node", "id"}, A::Required, "set node id N", "net.ipv6.ioam6_id (0..0xFFFFFF)"},
        {{"set", "node", "id_wide"}, A::Required, "set node id_wide N",
         "net.ipv6.ioam6_id_wide (0..0x00FFFFFFFFFFFFFF)"},
        {{"set", "port"}, A::Required, "set port PORT ioam enabled on|off | id V | id_wide V",
         "net.ipv6.conf.PORT.ioam6_enabled / _id / _id_wide"},
        {{"route", "add"}, A::Required, kRouteUsage,
         "add a route (ip -6 route add; dev is accepted for port)"},
        {{"route", "replace"}, A::Required, "route replace PREFIX ... (as route add)",
         "add or replace the route to PREFIX in one step"},
        {{"route", "del"}, A::Required, "route del PREFIX [via ADDR] [port PORT]",
         "delete a route"},
        {{"route", "show"}, A::None, "route show", "list routes, then the connected prefixes"},
        {{"neigh", "add"}, A::Required, "neigh add ADDR lladdr MAC port PORT",
         "add a static neighbour (ip -6 neigh add .. nud permanent)"},
        {{"neigh", "replace"}, A::Required, "neigh replace ADDR lladdr MAC port PORT",
         "add or change a static neighbour"},
        {{"neigh", "del"}, A::Required, "neigh del ADDR port PORT", "delete a static neighbour"},
        {{"neigh", "show"}, A::None, "neigh show", "list static neighbours"},
        {{"show", "port", "stats"}, A::None, "show port stats",
         "device counters and the forwarder's rx/tx per port"},
        {{"show", "port", "xstats"}, A::Required, "show port xstats PORT",
         "the device's extended statistics"},
        {{"show", "stats"}, A::None, "show stats",
         "per worker lcore, IOAM events and drops by reason (zeros omitted)"},
        {{"show", "config"}, A::None, "show config", "the running configuration as YAML"},
        {{"show", "neighbors"}, A::None, "show neighbors",
         "static and discovered neighbours as ip -6 neigh show: address, port, lladdr, state"},
        {{"clear", "stats"}, A::None, "clear stats",
         "restart what the show commands count (the exit summary counts the whole run)"},
        {{"save", "config"}, A::Required, "save config FILE",
         "write the running configuration as YAML that reloads to the same state"},
        {{"reload"}, A::Optional, "reload [FILE]",
         "load FILE (default: the configuration file) whole; FILE becomes the file SIGHUP reads"},
        {{"start"}, A::None, "start", "start forwarding (workers poll their rx queues)"},
        {{"stop"}, A::None, "stop", "stop forwarding (workers stop polling rx)"},
        {{"help"}, A::Optional, "help [COMMAND]", "this list, or the commands starting with COMMAND"},
        {{"quit"}, A::None, "quit", "stop ioamfwd (clean shutdown and summary)"},
    };
    return table;
}

bool commit_config(ControlApi& api, const Config& next, std::string& err) {
    Config checked;
    try {
        checked = load_config_text(write_config(next), kConsoleSource);
    } catch (const ConfigError& e) {
        err = e.reason();
        return false;
    }
    std::string why;
    if (!api.apply(std::move(checked), why)) {
        err = without_console_position(why);
        return false;
    }
    return true;
}

bool reload_config(ControlApi& api, const std::string& path, std::string& message) {
    Config next;
    try {
        next = load_config_file(path);
    } catch (const ConfigError& e) {
        message = std::string("reload refused, running configuration kept: ") + e.what();
        return false;
    }
    std::string err;
    if (!api.apply(std::move(next), err)) {
        message = "reload refused, running configuration kept: " + err;
        return false;
    }
    message = "configuration reloaded from " + path + " (generation " +
              std::to_string(api.generation()) + ")";
    return true;
}

std::string execute(const std::string& line, ControlApi& api) {
    try {
        std::vector<std::string> words = tokenize(line);
        if (words.empty()) return "";
        return dispatch(std::move(words), api);
    } catch (const CommandError& e) {
        std::string one_line = e.message;
        std::replace(one_line.begin(), one_line.end(), '\n', ' ');
        return "error: " + one_line + "\n";
    }
}

bool is_error_reply(const std::string& reply) { return reply.rfind("error: ", 0) == 0; }

}  // namespace ioamfwd::cp
