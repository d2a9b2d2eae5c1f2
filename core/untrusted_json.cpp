// Parsing untrusted JSON with limits, and quoting it back safely (see untrusted_json.h).
#include "core/untrusted_json.h"

#include <cstdio>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/scenario.h"  // ScenarioError

namespace pal {

namespace {

using json = nlohmann::json;

// Thrown from inside the parser's callback to stop the parse at the first problem; turned into a
// ScenarioError once the parser has unwound.
struct LimitExceeded {
  std::string message;
};

std::string format_size(std::size_t bytes) {
  char text[48];
  if (bytes >= (std::size_t{1} << 20))
    std::snprintf(text, sizeof text, "%.3g MiB", static_cast<double>(bytes) / double(1 << 20));
  else
    std::snprintf(text, sizeof text, "%zu bytes", bytes);
  return text;
}

// nlohmann's parse errors end with "; last read: '<the token>'", and a token can be a whole
// megabyte-long string: keep the head of the message and a short excerpt of the token.
std::string parse_error_excerpt(const json::parse_error& error) {
  std::string text = error.what();
  if (text.rfind("[json.exception.", 0) == 0) {  // "[json.exception.parse_error.101] parse error at ..."
    const std::size_t end = text.find("] ");
    if (end != std::string::npos) text.erase(0, end + 2);
  }
  const std::string marker = "; last read: '";
  const std::size_t last_read = text.find(marker);
  if (last_read == std::string::npos) return quote_excerpt(text, 300);
  std::string token = text.substr(last_read + marker.size());
  if (!token.empty() && token.back() == '\'') token.pop_back();
  return quote_excerpt(text.substr(0, last_read), 240) + "; last read: '" + quote_excerpt(token, 40) + "'";
}

}  // namespace

json parse_untrusted_json(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    throw ScenarioError("is " + format_size(text.size()) + " of JSON, more than the " + format_size(limits.max_bytes) +
                        " limit");
  // The keys seen so far in each object that is open, innermost last.
  std::vector<std::set<std::string>> open_objects;
  int depth = 0;
  auto check = [&](int /*parser_depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > limits.max_depth)
          throw LimitExceeded{"is nested deeper than " + std::to_string(limits.max_depth) +
                              " levels of arrays or objects; the files this project reads nest at most 3 deep"};
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        open_objects.pop_back();
        --depth;
        break;
      case json::parse_event_t::array_end:
        --depth;
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second)
          throw LimitExceeded{"has the key '" + quote_excerpt(parsed.get<std::string>()) +
                              "' more than once in one object; give each field once (which one was meant?)"};
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const LimitExceeded& limit) {
    throw ScenarioError(limit.message);
  } catch (const json::parse_error& error) {
    throw ScenarioError("is not valid JSON: " + parse_error_excerpt(error));
  } catch (const json::exception& error) {
    throw ScenarioError("is not valid JSON: " + quote_excerpt(error.what(), 300));
  }
}

std::string quote_excerpt(std::string_view text, std::size_t max_chars) {
  std::string out;
  std::size_t shown = 0;
  for (; shown < text.size() && out.size() < max_chars; ++shown) {
    const auto byte = static_cast<unsigned char>(text[shown]);
    if (byte == '\\') {
      out += "\\\\";  // so that an escape below cannot be confused with text
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += static_cast<char>(byte);
    }
  }
  if (shown < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::string describe_json(const json& value, std::size_t max_chars) {
  // Large strings are cut before dump() copies them; structures are dumped whole (bounded depth,
  // bounded by the file's size limit) and then cut.
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() > max_chars) return "\"" + quote_excerpt(text, max_chars) + "\"";
  }
  return quote_excerpt(value.dump(-1, ' ', false, json::error_handler_t::replace), max_chars);
}

}  // namespace pal
