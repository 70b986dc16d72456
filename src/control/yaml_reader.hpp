#pragma once
// Strict reading of yaml-cpp nodes for the configuration loader.
//
// yaml-cpp is permissive where a network appliance's configuration must not
// be: it keeps one of two duplicate keys silently, converts "+5" or "1e3" to
// integers, and wraps out-of-range values. These helpers read the raw scalar
// text themselves and report every refusal as a YamlError carrying the
// 1-based position of the offending node; the loader adds the file name.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "control/config.hpp"

namespace ioamfwd::cp::yaml {

/// A refusal found while reading the text or the document tree.
struct YamlError {
    Mark mark;
    std::string reason;
};

/// yaml-cpp marks are 0-based and may be null; ours are 1-based, 0 = unknown.
Mark to_mark(const YAML::Mark& m);

/// "a mapping", "a sequence", "a scalar", "no value" — for "expected X, got Y".
std::string kind_name(const YAML::Node& node);

/// Text from the file made safe to print inside a message: quoted, control and
/// non-ASCII bytes escaped, cut after a few dozen characters.
std::string quote(std::string_view text);

/// Refuse text that YAML forbids or that is not UTF-8, before yaml-cpp sees it
/// (yaml-cpp silently replaces invalid sequences, which would change schema
/// bytes). The mark points at the first bad character.
void check_text(std::string_view text);

/// Parse `text` (already through check_text) into its one document; a null
/// node when there is none. Refuses syntax errors, a second document, and
/// input on which yaml-cpp 0.7 stops making progress: its LoadAll() loops
/// for ever, allocating, on a stray ',' (jbeder/yaml-cpp#1040), so documents
/// are first counted with a bounded event pass and only then built.
YAML::Node load_document(const std::string& text);

/// One value of the document together with its key (undefined for sequence
/// entries) and its dotted path ("ports[0].ioam.id") for messages.
struct Field {
    YAML::Node key;
    YAML::Node value;
    std::string path;

    /// The value's position, or the key's when the value is empty: yaml-cpp
    /// gives an empty value the position of the token that follows it.
    Mark mark() const;
    /// Throws YamlError{mark(), "PATH: REASON"}.
    [[noreturn]] void fail(const std::string& reason) const;
    bool is_null() const { return value.IsNull(); }
};

/// A mapping whose keys have been checked: all plain scalars, none unknown,
/// none repeated. Keys are looked up by name afterwards.
class MapReader {
public:
    /// `allowed` lists every key the mapping may hold; the field must be a mapping.
    MapReader(const Field& field, std::initializer_list<std::string_view> allowed);

    const std::string& path() const { return path_; }
    Mark mark() const { return mark_; }
    std::optional<Field> optional(std::string_view key) const;
    /// Throws "missing required key 'KEY' in PATH" at the mapping when absent.
    Field required(std::string_view key) const;

private:
    std::string path_;
    Mark mark_;
    std::vector<Field> fields_;
};

/// Path of a key below `parent` ("" is the top level).
std::string child_path(const std::string& parent, std::string_view key);
/// Where a message names a mapping: "in ports[0]" or "at the top level".
std::string where(const std::string& path);

/// Sequence entries as fields named "PATH[i]". A missing value (null) reads
/// as an empty sequence: optional lists may have every entry commented out.
std::vector<Field> read_sequence(const Field& field);

/// Unsigned integer written in decimal or 0x hex, nothing else, in min..max.
uint64_t read_uint(const Field& field, uint64_t min, uint64_t max);
/// `true` or `false` only.
bool read_bool(const Field& field);
/// Any scalar, plain or quoted, as its (UTF-8) text; may be empty (""), callers
/// check lengths since their limits differ.
std::string read_string(const Field& field);

/// "0..0xFFFFFF" for all-ones maxima (bit-width ranges), "1280..9000" otherwise.
std::string format_range(uint64_t min, uint64_t max);

}  // namespace ioamfwd::cp::yaml
