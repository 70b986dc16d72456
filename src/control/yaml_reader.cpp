#include "control/yaml_reader.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

namespace ioamfwd::cp::yaml {

namespace {

std::string hex_byte(unsigned value) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", value);
    return buf;
}

// Tags would let a file change how a scalar is typed (`!!float 5`); the
// schema has exactly one meaning per key, so any explicit tag is refused.
void check_untagged(const Field& field) {
    const std::string& tag = field.value.Tag();
    if (tag.empty() || tag == "?" || tag == "!") return;
    field.fail("explicit YAML tags are not supported (" + quote(tag) + ")");
}

// The text of a plain (unquoted) scalar: numbers and booleans. A quoted "5"
// is a string in YAML; accepting it would blur the one spelling we document.
std::string plain_scalar(const Field& field, const std::string& what) {
    check_untagged(field);
    if (field.is_null()) field.fail("missing value: expected " + what);
    if (!field.value.IsScalar()) field.fail("expected " + what + ", got " + kind_name(field.value));
    if (field.value.Tag() == "!")
        field.fail("expected " + what + ", got the quoted string " + quote(field.value.Scalar()) +
                   " (write it without quotes)");
    return field.value.Scalar();
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// Typos are the usual cause of an unknown key; name the closest allowed key
// when it is close enough to be a plausible intent, else list them all.
std::string key_hint(std::string_view name, std::initializer_list<std::string_view> allowed) {
    std::string_view best;
    size_t best_distance = SIZE_MAX;
    for (std::string_view candidate : allowed) {
        size_t d = edit_distance(name, candidate);
        if (d < best_distance) {
            best_distance = d;
            best = candidate;
        }
    }
    if (best_distance <= 2 && best_distance < name.size())
        return "; did you mean '" + std::string(best) + "'?";
    std::string list;
    for (std::string_view candidate : allowed) {
        if (!list.empty()) list += ", ";
        list += candidate;
    }
    return "; expected one of: " + list;
}

bool is_hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

unsigned hex_value(char c) {
    if (c >= '0' && c <= '9') return unsigned(c - '0');
    if (c >= 'a' && c <= 'f') return unsigned(c - 'a' + 10);
    return unsigned(c - 'A' + 10);
}

struct RunawayParser {
    YAML::Mark mark;
};

// Sees the parser's events without building nodes: records where each
// document starts and stops the parse once it has produced more events than
// the text could justify (a well-formed parse has a few per token at most).
class DocumentScout : public YAML::EventHandler {
public:
    explicit DocumentScout(size_t text_size) : budget_(8 * text_size + 64) {}

    const std::vector<YAML::Mark>& starts() const { return starts_; }

    void OnDocumentStart(const YAML::Mark& mark) override {
        starts_.push_back(mark);
        count(mark);
    }
    void OnDocumentEnd() override { count(last_); }
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        count(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        count(mark);
    }
    void OnSequenceEnd() override { count(last_); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        count(mark);
    }
    void OnMapEnd() override { count(last_); }

private:
    void count(const YAML::Mark& mark) {
        last_ = mark;
        if (++events_ > budget_) throw RunawayParser{mark};
    }

    size_t budget_;
    size_t events_ = 0;
    YAML::Mark last_;
    std::vector<YAML::Mark> starts_;
};

YamlError syntax_error(const YAML::Mark& mark, const std::string& what) {
    return YamlError{to_mark(mark), "YAML syntax error: " + what};
}

}  // namespace

YAML::Node load_document(const std::string& text) {
    try {
        std::istringstream in(text);
        YAML::Parser parser(in);
        DocumentScout scout(text.size());
        // Three documents are enough to tell a real second document from a
        // parser stuck on one token, which restarts "documents" in place.
        constexpr size_t kDocumentsToSee = 3;
        while (scout.starts().size() < kDocumentsToSee && parser.HandleNextDocument(scout)) {
        }
        const auto& starts = scout.starts();
        for (size_t i = 1; i < starts.size(); ++i)
            if (starts[i].pos == starts[i - 1].pos)
                throw syntax_error(starts[i], "unexpected character");
        if (starts.size() > 1)
            throw YamlError{to_mark(starts[1]),
                            "a second YAML document ('---'); the configuration is one document"};
        // The first pass proved the text is one well-formed document, so the
        // single-document loader terminates.
        return YAML::Load(text);
    } catch (const RunawayParser& e) {
        throw syntax_error(e.mark, "the parser stopped making progress here");
    } catch (const YAML::DeepRecursion& e) {
        throw YamlError{to_mark(e.mark), "YAML nesting is too deep for a configuration file"};
    } catch (const YAML::Exception& e) {
        throw syntax_error(e.mark, e.msg);
    }
}

Mark to_mark(const YAML::Mark& m) {
    if (m.is_null() || m.line < 0 || m.column < 0) return Mark{};
    return Mark{m.line + 1, m.column + 1};
}

std::string kind_name(const YAML::Node& node) {
    switch (node.Type()) {
    case YAML::NodeType::Map:
        return "a mapping";
    case YAML::NodeType::Sequence:
        return "a sequence";
    case YAML::NodeType::Scalar:
        return "the scalar " + quote(node.Scalar());
    case YAML::NodeType::Null:
        return "no value";
    case YAML::NodeType::Undefined:
        break;
    }
    return "nothing";
}

std::string quote(std::string_view text) {
    constexpr size_t kMaxShown = 40;
    std::string out = "'";
    for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += char(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (text.size() > kMaxShown) out += "...";
    out += "'";
    return out;
}

void check_text(std::string_view text) {
    int line = 1;
    int column = 1;
    size_t i = 0;
    auto refuse = [&](const std::string& reason) { throw YamlError{Mark{line, column}, reason}; };
    while (i < text.size()) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if (c == '\n') {
                ++line;
                column = 1;
                ++i;
                continue;
            }
            if (c == 0) refuse("NUL byte in the configuration (is this a binary file?)");
            if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
                refuse("control character " + hex_byte(c) + " is not allowed in YAML text");
            ++i;
            ++column;
            continue;
        }
        size_t length = 0;
        uint32_t code = 0;
        if ((c & 0xe0) == 0xc0) {
            length = 2;
            code = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            length = 3;
            code = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            length = 4;
            code = c & 0x07;
        } else {
            refuse("invalid UTF-8 byte " + hex_byte(c) + " (the file must be UTF-8 text)");
        }
        if (i + length > text.size()) refuse("truncated UTF-8 sequence at the end of the file");
        for (size_t k = 1; k < length; ++k) {
            auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xc0) != 0x80)
                refuse("invalid UTF-8 sequence starting with byte " + hex_byte(c) +
                       " (the file must be UTF-8 text)");
            code = code << 6 | (next & 0x3f);
        }
        static constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code < kShortest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
            refuse("invalid UTF-8 sequence starting with byte " + hex_byte(c) +
                   " (overlong, surrogate or beyond U+10FFFF)");
        // YAML's printable set excludes the C1 controls (but NEL) and the two
        // non-characters at the end of the BMP.
        if ((code >= 0x80 && code <= 0x9f && code != 0x85) || code == 0xfffe || code == 0xffff) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "U+%04X", unsigned(code));
            refuse(std::string("character ") + buf + " is not allowed in YAML text");
        }
        i += length;
        ++column;
    }
}

Mark Field::mark() const {
    if (value.IsNull()) {
        YAML::Mark key_mark = key.Mark();
        if (!key_mark.is_null()) return to_mark(key_mark);
    }
    return to_mark(value.Mark());
}

void Field::fail(const std::string& reason) const {
    throw YamlError{mark(), path.empty() ? reason : path + ": " + reason};
}

std::string child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string where(const std::string& path) {
    return path.empty() ? "at the top level" : "in " + path;
}

MapReader::MapReader(const Field& field, std::initializer_list<std::string_view> allowed)
    : path_(field.path), mark_(field.mark()) {
    check_untagged(field);
    if (!field.value.IsMap()) field.fail("expected a mapping, got " + kind_name(field.value));
    // Copies, not references: yaml-cpp's iterator hands out a temporary pair.
    for (auto it = field.value.begin(); it != field.value.end(); ++it) {
        YAML::Node key = it->first;
        YAML::Node value = it->second;
        Mark key_mark = to_mark(key.Mark());
        if (!key.IsScalar())
            throw YamlError{key_mark, "a key must be a scalar, got " + kind_name(key) + " " +
                                          where(path_)};
        const std::string& name = key.Scalar();
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
            throw YamlError{key_mark, "unknown key " + quote(name) + " " + where(path_) +
                                          key_hint(name, allowed)};
        // yaml-cpp keeps both entries of a repeated key and lookups find only
        // the first, so a repeated key would silently lose a value.
        for (const Field& seen : fields_) {
            if (seen.key.Scalar() != name) continue;
            Mark first = to_mark(seen.key.Mark());
            throw YamlError{key_mark, "duplicate key " + quote(name) + " " + where(path_) +
                                          " (first given at line " + std::to_string(first.line) +
                                          ", column " + std::to_string(first.column) + ")"};
        }
        fields_.push_back(Field{key, value, child_path(path_, name)});
    }
}

std::optional<Field> MapReader::optional(std::string_view key) const {
    for (const Field& f : fields_)
        if (f.key.Scalar() == key) return f;
    return std::nullopt;
}

Field MapReader::required(std::string_view key) const {
    if (auto f = optional(key)) return *f;
    throw YamlError{mark_, "missing required key '" + std::string(key) + "' " + where(path_)};
}

std::vector<Field> read_sequence(const Field& field) {
    check_untagged(field);
    std::vector<Field> entries;
    if (field.is_null()) return entries;
    if (!field.value.IsSequence())
        field.fail("expected a sequence ('- ' entries or [a, b]), got " + kind_name(field.value));
    size_t index = 0;
    for (auto it = field.value.begin(); it != field.value.end(); ++it, ++index) {
        YAML::Node entry = *it;
        std::string path = field.path + "[" + std::to_string(index) + "]";
        entries.push_back(Field{YAML::Node(), entry, std::move(path)});
    }
    return entries;
}

std::string format_range(uint64_t min, uint64_t max) {
    bool bit_width = max >= 0xffff && (max & (max + 1)) == 0;
    char buf[64];
    if (bit_width)
        std::snprintf(buf, sizeof buf, "%" PRIu64 "..0x%" PRIX64, min, max);
    else
        std::snprintf(buf, sizeof buf, "%" PRIu64 "..%" PRIu64, min, max);
    return buf;
}

uint64_t read_uint(const Field& field, uint64_t min, uint64_t max) {
    const std::string what = "an unsigned integer";
    std::string text = plain_scalar(field, what);
    const std::string shown = quote(text);
    const std::string spelling = " (write decimal digits, or 0x and hex digits)";
    if (text.empty()) field.fail("missing value: expected " + what);
    if (text[0] == '-') field.fail(shown + " is negative; expected " + what + " in " +
                                   format_range(min, max));
    if (text[0] == '+') field.fail(shown + " has a sign; write the number without '+'");

    bool hex = text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    std::string_view digits = std::string_view(text).substr(hex ? 2 : 0);
    bool well_formed = !digits.empty();
    for (char c : digits)
        if (!(hex ? is_hex_digit(c) : (c >= '0' && c <= '9'))) well_formed = false;
    if (!well_formed) field.fail(shown + " is not " + what + spelling);
    // "010" is 8 in C and YAML 1.1 but 10 in YAML 1.2: refuse the ambiguity.
    if (!hex && digits.size() > 1 && digits[0] == '0')
        field.fail(shown + " has a leading zero, which is ambiguous (octal in C and YAML 1.1); "
                           "write it without the zero, or in hex with 0x");

    const unsigned base = hex ? 16 : 10;
    uint64_t value = 0;
    bool overflow = false;
    for (char c : digits) {
        unsigned d = hex ? hex_value(c) : unsigned(c - '0');
        if (value > (UINT64_MAX - d) / base)
            overflow = true;
        else
            value = value * base + d;
    }
    if (overflow || value < min || value > max)
        field.fail(text + " is out of range " + format_range(min, max));
    return value;
}

bool read_bool(const Field& field) {
    std::string text = plain_scalar(field, "true or false");
    if (text == "true") return true;
    if (text == "false") return false;
    field.fail("expected true or false, got " + quote(text));
}

std::string read_string(const Field& field) {
    check_untagged(field);
    if (field.is_null()) field.fail("missing value: expected a string");
    if (!field.value.IsScalar()) field.fail("expected a string, got " + kind_name(field.value));
    return field.value.Scalar();
}

}  // namespace ioamfwd::cp::yaml
