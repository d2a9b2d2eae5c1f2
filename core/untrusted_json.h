// JSON from files a user hands us (scenario files, safetensors headers and the scenario stored in
// their metadata): parsed with limits, and quoted back only as short escaped excerpts.
//
// Why limits: Debian's nlohmann-json (3.11) parses and destroys a value without recursion, but
// copying a value, dump() and operator<< recurse once per nesting level, so 100,000 '[' (a 200 KB
// file) overflow the stack the moment anything copies or prints the value (issue 14). The parser
// also keeps the last of two equal keys without a word. parse_untrusted_json refuses both while
// parsing, through the parser's callback, before a deep value is ever built:
//   - nesting deeper than JsonLimits::max_depth arrays/objects,
//   - a key that appears twice in the same object (named in the message),
//   - text longer than JsonLimits::max_bytes.
// Every value it returns is therefore safe to copy, compare and dump.
//
// Why excerpts: a message that prints a file's contents back must neither flood the terminal
// (a 1 MB string) nor drive it (an escape sequence in a key): quote_excerpt keeps at most a few
// dozen characters and escapes every control or non-ASCII byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace pal {

// No file this project reads nests deeper than 3 (header -> tensor entry -> shape); 16 leaves room
// for files written by other tools while keeping every recursive operation on the value shallow.
inline constexpr int kMaxJsonDepth = 16;

struct JsonLimits {
  int max_depth = kMaxJsonDepth;
  std::size_t max_bytes = std::size_t{16} << 20;
};

// Parses `text` or throws ScenarioError whose message says what is wrong without the caller's
// context ("is not valid JSON: ...", "is nested deeper than 16 levels of arrays or objects", "has
// the key 'x' more than once in one object"); callers prefix the file's name.
nlohmann::json parse_untrusted_json(std::string_view text, const JsonLimits& limits = {});

// `text` as at most about `max_chars` printable ASCII characters: control characters and bytes
// >= 0x7f become \xNN escapes, and a longer text is cut with "..." and its full length.
std::string quote_excerpt(std::string_view text, std::size_t max_chars = 60);

// A value for a message: its JSON text, as quote_excerpt shows it. The value must have bounded
// depth (every value from parse_untrusted_json has).
std::string describe_json(const nlohmann::json& value, std::size_t max_chars = 60);

}  // namespace pal
