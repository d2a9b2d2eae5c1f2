// Tests of core/untrusted_json.h: the depth limit is exact, a repeated key is refused only within
// one object, and quote_excerpt's output is short printable ASCII for any bytes.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "core/scenario.h"
#include "core/untrusted_json.h"

using namespace pal;
using Catch::Contains;

namespace {

std::string arrays_of_depth(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']');
}

}  // namespace

TEST_CASE("nesting up to the depth limit is read and one level more is refused", "[json]") {
  for (int depth = 1; depth <= kMaxJsonDepth; ++depth) CHECK_NOTHROW(parse_untrusted_json(arrays_of_depth(depth)));
  CHECK_THROWS_WITH(parse_untrusted_json(arrays_of_depth(kMaxJsonDepth + 1)), Contains("nested deeper than 16"));
  CHECK_THROWS_WITH(parse_untrusted_json("[1]", JsonLimits{0, 100}), Contains("nested deeper than 0"));
  // Depth counts open containers, not how many came before: siblings at the limit are fine.
  const std::string deep = arrays_of_depth(kMaxJsonDepth - 1);
  CHECK_NOTHROW(parse_untrusted_json("[" + deep + "," + deep + "," + deep + "]"));
}

TEST_CASE("a key may repeat across objects but not within one", "[json]") {
  CHECK_NOTHROW(parse_untrusted_json(R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}]})"));
  CHECK_NOTHROW(parse_untrusted_json(R"({"x": {"x": {"x": 1}}})"));
  CHECK_THROWS_WITH(parse_untrusted_json(R"({"a": {"x": 1, "y": 2, "x": 3}})"), Contains("'x'") && Contains("more than once"));
  CHECK_THROWS_WITH(parse_untrusted_json(R"([{"k": 1}, {"k": 1, "k": 1}])"), Contains("'k'"));
  // After an inner object closes, its keys no longer count for the outer one, and the reverse.
  CHECK_NOTHROW(parse_untrusted_json(R"({"inner": {"z": 1}, "z": 2})"));
  CHECK_THROWS_WITH(parse_untrusted_json(R"({"z": 1, "inner": {"q": 1}, "z": 2})"), Contains("'z'"));
}

TEST_CASE("what parse_untrusted_json accepts is what nlohmann parses", "[json]") {
  const std::string text = R"({"num": 1, "list": [1, 2.5, "three", null, true], "obj": {"k": "v"}})";
  CHECK(parse_untrusted_json(text) == nlohmann::json::parse(text));
}

TEST_CASE("text beyond the size limit is refused before parsing", "[json]") {
  CHECK_THROWS_WITH(parse_untrusted_json("[1, 2, 3]", JsonLimits{kMaxJsonDepth, 4}), Contains("more than the"));
}

TEST_CASE("syntax errors are reported with a bounded excerpt of the token", "[json]") {
  const std::string long_token = "[\"" + std::string(100'000, 'q') + "\x01\"]";
  try {
    parse_untrusted_json(long_token);
    FAIL("accepted a control character inside a string");
  } catch (const ScenarioError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Contains("not valid JSON") && Contains("last read"));
    CHECK(message.size() < 500);
  }
}

TEST_CASE("quote_excerpt gives short printable ASCII for any bytes", "[json]") {
  std::mt19937 random(14);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes(static_cast<std::size_t>(random() % 300), '\0');
    for (char& c : bytes) c = static_cast<char>(random() & 0xff);
    const std::string excerpt = quote_excerpt(bytes, 40);
    for (char c : excerpt) REQUIRE((c >= 0x20 && c < 0x7f));
    REQUIRE(excerpt.size() <= 40 + 4 + 30);  // the last escape may overrun by 3, plus "... (N bytes)"
  }
  CHECK(quote_excerpt("plain") == "plain");
  CHECK(quote_excerpt("a\x1b[2Jb") == "a\\x1b[2Jb");
  CHECK(quote_excerpt("back\\slash") == "back\\\\slash");
  CHECK(quote_excerpt(std::string(100, 'x'), 10) == "xxxxxxxxxx... (100 bytes)");
}
