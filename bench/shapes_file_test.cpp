// Tests of --shapes FILE (bench/shapes_file.h): good files in both formats, and bad ones of every
// kind refused with a message that names the shape, the field and what would be valid.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "bench/shapes_file.h"

using namespace pal;
using namespace pal::bench;
using Catch::Contains;

namespace {

std::vector<UserShape> parse_json(const std::string& text) { return parse_shapes(text, ShapesFormat::json, "t.json"); }
std::vector<UserShape> parse_csv(const std::string& text) { return parse_shapes(text, ShapesFormat::csv, "t.csv"); }

// The message a bad JSON file is refused with.
std::string json_error(const std::string& text) {
  try {
    parse_json(text);
  } catch (const ScenarioError& error) {
    return error.what();
  }
  FAIL("accepted: " << text);
  return {};
}

std::string csv_error(const std::string& text) {
  try {
    parse_csv(text);
  } catch (const ScenarioError& error) {
    return error.what();
  }
  FAIL("accepted: " << text);
  return {};
}

std::filesystem::path scratch_file(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "pal_bench_shapes_test";
  std::filesystem::create_directories(dir);
  return dir / name;
}

}  // namespace

TEST_CASE("a JSON shapes file gives its shapes, with the grid centre for absent fields") {
  const auto shapes = parse_json(R"([
    {"label": "llama-3-8b", "num_heads": 32, "num_kv_heads": 8, "head_size": 128, "block_size": 16,
     "num_seqs": 64, "context_len": 4096, "dtype": "bf16", "version": "v2"},
    {"num_seqs": 3, "context_len": 100}
  ])");
  REQUIRE(shapes.size() == 2);
  CHECK(shapes[0].label == "llama-3-8b");
  CHECK(shapes[0].shape.name() == "bf16/h128/bs16/32x8/b64/c4096");
  CHECK(shapes[0].shape.cache_format() == KvCacheDtype::automatic);
  CHECK(shapes[0].versions == std::vector<std::string>{"v2"});
  CHECK(shapes[1].label == "shape 2");
  CHECK(shapes[1].shape.name() == "fp16/h128/bs16/32x32/b3/c100");
  CHECK(shapes[1].versions.empty());
  // The {"shapes": [...]} form reads the same.
  CHECK(parse_json(R"({"shapes": [{"num_seqs": 3, "context_len": 100}]})").front().shape.name() ==
        shapes[1].shape.name());
}

TEST_CASE("a CSV shapes file reads like the JSON one, with comments, blank lines and empty cells") {
  const auto shapes = parse_csv(
      "# my model\n"
      "label, num_heads, num_kv_heads, head_size, num_seqs, context_len, dtype, version\r\n"
      "\n"
      "llama-3-8b,32,8,128,64,4096,bf16,auto\n"
      "small,4,2,64,1,17,,\n");
  REQUIRE(shapes.size() == 2);
  CHECK(shapes[0].shape.name() == "bf16/h128/bs16/32x8/b64/c4096");
  CHECK(shapes[0].versions == std::vector<std::string>{"auto"});
  CHECK(shapes[1].label == "small");
  CHECK(shapes[1].shape.name() == "fp16/h64/bs16/4x2/b1/c17");
  CHECK(shapes[1].versions.empty());
}

TEST_CASE("the largest shapes of the primary grid are accepted: core's host-memory limit does not apply") {
  const auto shapes = parse_json(R"([{"num_seqs": 128, "context_len": 32768, "num_kv_heads": 32}])");
  CHECK(shapes.front().shape.batch == 128);
}

TEST_CASE("bad field values are refused with core's messages, every problem of every shape at once") {
  const std::string message = json_error(R"([
    {"num_seqs": 1, "context_len": 512},
    {"head_size": 100, "block_size": 12, "num_heads": 32, "num_kv_heads": 5},
    {"context_len": 0},
    {"num_seqs": 70000}
  ])");
  CHECK_THAT(message, Contains("shapes file 't.json' has 5 problems"));
  CHECK_THAT(message, Contains("shape 2: head_size = 100 is not supported; supported head sizes are 32, 64, 80"));
  CHECK_THAT(message, Contains("shape 2: block_size = 12 is not supported"));
  CHECK_THAT(message, Contains("shape 2: num_heads = 32 is not a multiple of num_kv_heads = 5"));
  CHECK_THAT(message, Contains("shape 3: context_len = 0 is invalid; every context length must be at least 1 token"));
  CHECK_THAT(message, Contains("shape 4: num_seqs = 70000 is too large"));
  CHECK_THAT(message, !Contains("seq_lens"));  // the file never said seq_lens
  CHECK_THAT(message, !Contains("shape 1:"));
}

TEST_CASE("wrong types, unknown fields and fields a benchmark fixes are refused by name") {
  CHECK_THAT(json_error(R"([{"head_size": "128"}])"), Contains("shape 1: scenario field 'head_size' must be an integer"));
  CHECK_THAT(json_error(R"([{"dtype": "fp64"}])"), Contains("'dtype' = \"fp64\" is not a known dtype"));
  CHECK_THAT(json_error(R"([{"version": "v3"}])"), Contains("'version' = \"v3\" is not valid"));
  CHECK_THAT(json_error(R"([{"context_len": 1.5}])"), Contains("'context_len' (tokens of every sequence) must be an integer"));
  CHECK_THAT(json_error(R"([{"context_len": 99999999999}])"), Contains("'context_len'"));
  CHECK_THAT(json_error(R"([{"head_sise": 128}])"), Contains("unknown field 'head_sise'; known fields: label"));
  CHECK_THAT(json_error(R"([{"seq_lens": [1, 2]}])"), Contains("'seq_lens' is a scenario field pal-bench does not vary"));
  CHECK_THAT(json_error(R"([{"alibi": true}])"), Contains("'alibi' is a scenario field"));
  CHECK_THAT(json_error(R"([{"kv_cache_dtype": "bf16"}])"), Contains("'kv_cache_dtype' = \"bf16\" differs from dtype = \"fp16\""));
  CHECK_THAT(json_error(R"([{"label": "a,b"}])"), Contains("label \"a,b\" may hold printable ASCII only"));
  CHECK_THAT(json_error(R"([{"label": ""}])"), Contains("must have 1 to 64 characters"));
  CHECK_THAT(json_error("[" + std::string(R"({"label": ")") + std::string(65, 'x') + "\"}]"), Contains("1 to 64"));
  CHECK_THAT(json_error(R"([7])"), Contains("a shape must be an object of fields, got 7"));
}

TEST_CASE("a shape whose KV blocks cannot be numbered by an int32 table is refused") {
  CHECK_THAT(json_error(R"([{"num_seqs": 65535, "context_len": 1048576, "block_size": 8}])"),
             Contains("more than the 2147483647 an int32 block table can number"));
}

TEST_CASE("malformed files are refused whole: not JSON, not an array, empty, too many shapes, repeats") {
  CHECK_THAT(json_error("[{\"num_seqs\": 1,"), Contains("is not valid JSON"));
  CHECK_THAT(json_error(""), Contains("is not valid JSON"));
  CHECK_THAT(json_error(R"({"num_seqs": 1})"), Contains("must hold an array of shapes"));
  CHECK_THAT(json_error("[]"), Contains("holds no shapes"));
  std::string many = "[";
  for (std::size_t i = 0; i <= kMaxShapes; ++i) many += std::string(i ? "," : "") + "{}";
  CHECK_THAT(json_error(many + "]"), Contains("at most 1000"));
  CHECK_THAT(json_error(R"([{"num_seqs": 2}, {"label": "again", "num_seqs": 2}])"),
             Contains("shape 2: repeats shape 1 (fp16/h128/bs16/32x32/b2/c512)"));
  // The same shape with another version is not a repeat.
  CHECK(parse_json(R"([{"num_seqs": 2, "version": "v1"}, {"num_seqs": 2, "version": "v2"}])").size() == 2);
  // Deep nesting is an error, not a crash.
  CHECK_THAT(json_error(std::string(100000, '[') + std::string(100000, ']')), Contains("levels deep"));
  CHECK_THAT(json_error(R"([{"num_seqs": [[[[[[[[[1]]]]]]]]]}])"), Contains("11 levels deep"));
  CHECK(parse_json(R"([{"label": "[[[[[[[[[[[[x"}])").size() == 1);  // brackets inside strings do not count
  CHECK_THAT(json_error(std::string(kMaxShapesFileBytes + 1, ' ')), Contains("at most 1048576 are read"));
}

TEST_CASE("malformed CSV is refused with the line: header, cell counts, quotes, numbers") {
  CHECK_THAT(csv_error(""), Contains("has no header line"));
  CHECK_THAT(csv_error("# only a comment\n"), Contains("has no header line"));
  CHECK_THAT(csv_error("num_heads,head_sise\n32,128\n"), Contains("line 1 (the header): unknown field 'head_sise'"));
  CHECK_THAT(csv_error("num_heads,num_heads\n"), Contains("field 'num_heads' appears twice"));
  CHECK_THAT(csv_error("num_heads,num_kv_heads\n32\n"), Contains("line 2: 1 cells, but the header (line 1) names 2 fields"));
  CHECK_THAT(csv_error("label,num_heads\n\"a\",32\n"), Contains("line 2: quotes are not supported"));
  CHECK_THAT(csv_error("num_heads,head_size\n32,12x\n"), Contains("shape 1 (line 2): scenario field 'head_size' must be an integer, got \"12x\""));
  CHECK_THAT(csv_error("num_heads,head_size\n32,1.5\n"), Contains("must be an integer, got 1.5"));
  CHECK_THAT(csv_error("num_heads\n32\n33\n"), Contains("shape 2 (line 3): num_heads = 33 is not a multiple of num_kv_heads = 32"));
  CHECK_THAT(csv_error("num_heads\n"), Contains("holds no shapes"));
}

TEST_CASE("shapes files are read by extension, bounded in size, and must be regular files") {
  const auto csv = scratch_file("shapes.CSV");
  std::ofstream(csv) << "num_seqs,context_len\n4,1000\n";
  CHECK(load_shapes_file(csv.string()).front().shape.name() == "fp16/h128/bs16/32x32/b4/c1000");
  const auto json = scratch_file("shapes.json");
  std::ofstream(json) << R"([{"num_seqs": 4, "context_len": 1000}])";
  CHECK(load_shapes_file(json.string()).size() == 1);
  const auto big = scratch_file("big.json");
  std::ofstream(big) << std::string(kMaxShapesFileBytes + 10, ' ');
  CHECK_THROWS_WITH(load_shapes_file(big.string()), Contains("at most 1048576 are read"));
  CHECK_THROWS_WITH(load_shapes_file(scratch_file("missing.json").string()), Contains("does not exist"));
  CHECK_THROWS_WITH(load_shapes_file(scratch_file("").parent_path().string()), Contains("not a regular file"));
}

TEST_CASE("the example shapes files in bench/shapes/ are valid") {
  const std::filesystem::path dir = std::filesystem::path(PAL_SOURCE_DIR) / "bench" / "shapes";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    INFO(entry.path());
    CHECK_FALSE(load_shapes_file(entry.path().string()).empty());
    ++files;
  }
  CHECK(files >= 2);
}
