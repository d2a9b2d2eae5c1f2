// Tests of core/safetensors.h: the byte format (as the reference Python/Rust reader expects it),
// round trips of tensors and kernel inputs, and corrupted or truncated files, which must all end in
// a ScenarioError and never in a crash.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "core/inputs.h"
#include "core/safetensors.h"
#include "scratch_dir.h"

using namespace pal;
using pal::test::scratch;
using pal::test::scratch_dir;
using Catch::Contains;
using json = nlohmann::json;

namespace {

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file whose header is exactly `header` (no padding), followed by `data_size` zero bytes.
void write_raw(const std::string& path, const std::string& header, std::size_t data_size) {
  std::vector<char> bytes(8);
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xffu);
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.resize(bytes.size() + data_size, 0);
  write_bytes(path, bytes);
}

Tensor filled(ElementType type, std::vector<std::int64_t> shape, unsigned char seed) {
  Tensor tensor(type, std::move(shape));
  for (std::size_t i = 0; i < tensor.bytes.size(); ++i) tensor.bytes[i] = std::byte(static_cast<unsigned char>(seed + i * 7));
  return tensor;
}

// Reads a file and reports what happened: "ok", "ScenarioError", or the unexpected exception.
std::string load_outcome(const std::string& path) {
  try {
    load_inputs(path);
    return "ok";
  } catch (const ScenarioError&) {
    return "ScenarioError";
  } catch (const std::exception& e) {
    return std::string("unexpected exception: ") + e.what();
  }
}

}  // namespace

TEST_CASE("a safetensors file round-trips tensors of every element type and its metadata", "[safetensors]") {
  SafetensorsFile original;
  original.tensors["f32"] = filled(ElementType::f32, {2, 3}, 1);
  original.tensors["f16"] = filled(ElementType::f16, {5}, 2);
  original.tensors["bf16"] = filled(ElementType::bf16, {1, 1, 3}, 3);
  original.tensors["i32"] = filled(ElementType::i32, {4}, 4);
  original.tensors["i64"] = filled(ElementType::i64, {3, 1}, 5);
  original.tensors["u8"] = filled(ElementType::u8, {7}, 6);
  original.tensors["f8_e4m3"] = filled(ElementType::f8_e4m3, {2, 5}, 11);  // raw bits, NaN codes included
  original.tensors["f8_e5m2"] = filled(ElementType::f8_e5m2, {9}, 12);
  original.tensors["empty"] = Tensor(ElementType::f32, {0, 4});
  original.tensors["scalar"] = filled(ElementType::f32, {}, 8);
  original.metadata["note"] = "ünïcode and \"quotes\"";
  original.metadata["empty"] = "";
  write_safetensors(scratch("all_types.safetensors"), original);

  const SafetensorsFile back = read_safetensors(scratch("all_types.safetensors"));
  CHECK(back.metadata == original.metadata);
  REQUIRE(back.tensors.size() == original.tensors.size());
  for (const auto& [name, tensor] : original.tensors) {
    INFO("tensor " << name);
    const Tensor& read = back.tensors.at(name);
    CHECK(read.type == tensor.type);
    CHECK(read.shape == tensor.shape);
    CHECK(read.bytes == tensor.bytes);
  }
}

TEST_CASE("the written bytes follow the safetensors layout the reference reader checks", "[safetensors]") {
  SafetensorsFile contents;
  contents.tensors["b"] = filled(ElementType::f16, {3}, 10);   // 6 bytes
  contents.tensors["a"] = filled(ElementType::i32, {2, 2}, 20);  // 16 bytes
  contents.tensors["c"] = filled(ElementType::u8, {5}, 30);    // 5 bytes
  contents.metadata["k"] = "v";
  write_safetensors(scratch("layout.safetensors"), contents);
  const std::vector<char> bytes = read_bytes(scratch("layout.safetensors"));

  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  REQUIRE(8 + header_size <= bytes.size());
  CHECK((8 + header_size) % 8 == 0);  // data section aligned, as the reference writer pads
  const std::string header_text(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_size));
  CHECK(header_text.front() == '{');  // the reference reader requires the JSON to start at once
  const json header = json::parse(header_text);
  CHECK(header["__metadata__"] == json{{"k", "v"}});

  // Every tensor: dtype name, shape, and offsets that tile the data section with no gap or overlap
  // (the reference reader rejects files where they do not).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const auto& [name, tensor] : contents.tensors) {
    const json& entry = header.at(name);
    CHECK(entry.size() == 3);
    CHECK(entry["dtype"] == std::string(element_type_name(tensor.type)));
    CHECK(entry["shape"] == json(tensor.shape));
    const auto begin = entry["data_offsets"][0].get<std::uint64_t>();
    const auto end = entry["data_offsets"][1].get<std::uint64_t>();
    CHECK(end - begin == tensor.bytes.size());
    ranges.emplace_back(begin, end);
    // The data is the raw little-endian elements.
    CHECK(std::memcmp(bytes.data() + 8 + header_size + begin, tensor.bytes.data(), tensor.bytes.size()) == 0);
  }
  std::sort(ranges.begin(), ranges.end());
  std::uint64_t expected_begin = 0;
  for (const auto& [begin, end] : ranges) {
    CHECK(begin == expected_begin);
    expected_begin = end;
  }
  CHECK(8 + header_size + expected_begin == bytes.size());
}

TEST_CASE("kernel inputs round-trip through save_inputs and load_inputs", "[safetensors][inputs]") {
  Scenario scenario;
  scenario.alibi = GENERATE(false, true);
  scenario.dtype = GENERATE(DType::fp32, DType::bf16);
  scenario.scale = 0.3f;
  scenario.seed = 77;
  const Inputs inputs = generate_inputs(scenario);
  std::map<std::string, Tensor> extras{{"output", filled(ElementType::f32, {2, 4, 64}, 9)}};
  save_inputs(scratch("inputs.safetensors"), scenario, inputs, extras, {{"tool", "test"}});

  std::map<std::string, Tensor> extras_back;
  const auto [scenario_back, inputs_back] = load_inputs(scratch("inputs.safetensors"), &extras_back);
  CHECK(scenario_to_json(scenario_back) == scenario_to_json(scenario));
  CHECK(inputs_back.query.bytes == inputs.query.bytes);
  CHECK(inputs_back.key_cache.bytes == inputs.key_cache.bytes);
  CHECK(inputs_back.key_cache.shape == inputs.key_cache.shape);
  CHECK(inputs_back.value_cache.bytes == inputs.value_cache.bytes);
  CHECK(inputs_back.block_tables.bytes == inputs.block_tables.bytes);
  CHECK(inputs_back.seq_lens.bytes == inputs.seq_lens.bytes);
  CHECK(inputs_back.alibi_slopes.bytes == inputs.alibi_slopes.bytes);
  CHECK(inputs_back.alibi_slopes.numel() == (scenario.alibi ? 4 : 0));
  CHECK(inputs_back.scale == 0.3f);
  REQUIRE(extras_back.count("output") == 1);
  CHECK(extras_back.at("output").bytes == extras.at("output").bytes);

  const SafetensorsFile raw = read_safetensors(scratch("inputs.safetensors"));
  CHECK(raw.metadata.at("scale") == "0.300000012");  // 9 significant digits: the exact float
  CHECK(raw.metadata.at("tool") == "test");
  CHECK(raw.tensors.count("alibi_slopes") == (scenario.alibi ? 1u : 0u));  // absent, as upstream passes None
}

TEST_CASE("inputs written without our metadata get their scenario from the tensors", "[safetensors][inputs]") {
  Scenario scenario;
  scenario.alibi = true;
  scenario.num_blocks = 20;
  const Inputs inputs = generate_inputs(scenario);
  SafetensorsFile file;
  file.tensors["query"] = inputs.query;
  file.tensors["key_cache"] = inputs.key_cache;
  file.tensors["value_cache"] = inputs.value_cache;
  file.tensors["alibi_slopes"] = inputs.alibi_slopes;
  // int64 index tensors, as PyTorch code tends to save them.
  Tensor table(ElementType::i64, inputs.block_tables.shape);
  for (std::int64_t i = 0; i < table.numel(); ++i) table.data<std::int64_t>()[i] = inputs.block_tables.data<std::int32_t>()[i];
  Tensor lens(ElementType::i64, inputs.seq_lens.shape);
  for (std::int64_t i = 0; i < lens.numel(); ++i) lens.data<std::int64_t>()[i] = inputs.seq_lens.data<std::int32_t>()[i];
  file.tensors["block_tables"] = table;
  file.tensors["seq_lens"] = lens;
  write_safetensors(scratch("foreign.safetensors"), file);

  const auto [derived, loaded] = load_inputs(scratch("foreign.safetensors"));
  CHECK(derived.num_seqs == 2);
  CHECK(derived.num_heads == 4);
  CHECK(derived.num_kv_heads == 2);
  CHECK(derived.head_size == 64);
  CHECK(derived.block_size == 16);
  CHECK(derived.num_blocks == 20);
  CHECK(derived.dtype == DType::fp16);
  CHECK(derived.seq_lens == scenario.seq_lens);
  CHECK(derived.alibi);
  CHECK(loaded.scale == 0.125f);
  CHECK(loaded.block_tables.type == ElementType::i32);
  CHECK(loaded.block_tables.bytes == inputs.block_tables.bytes);

  SECTION("an int64 value beyond int32 is refused") {
    file.tensors["block_tables"].data<std::int64_t>()[0] = std::int64_t{1} << 40;
    write_safetensors(scratch("foreign_big.safetensors"), file);
    CHECK_THROWS_WITH(load_inputs(scratch("foreign_big.safetensors")),
                      Contains("block_tables") && Contains("does not fit in int32"));
  }
  SECTION("a shape the kernel cannot run is refused by validation") {
    file.tensors["query"] = Tensor(ElementType::f16, {2, 4, 100});
    write_safetensors(scratch("foreign_bad.safetensors"), file);
    CHECK_THROWS_WITH(load_inputs(scratch("foreign_bad.safetensors")),
                      Contains("foreign_bad.safetensors") && Contains("head_size = 100"));
  }
}

TEST_CASE("malformed safetensors files are rejected with the problem named", "[safetensors][errors]") {
  const std::string path = scratch("bad.safetensors");
  SECTION("missing file") {
    CHECK_THROWS_WITH(read_safetensors(scratch("absent.safetensors")), Contains("absent.safetensors") && Contains("does not exist"));
  }
  SECTION("a directory") {
    CHECK_THROWS_WITH(read_safetensors(scratch_dir().string()), Contains("not a regular file"));
  }
  SECTION("shorter than the length field") {
    write_bytes(path, {'{', '}'});
    CHECK_THROWS_WITH(read_safetensors(path), Contains("is 2 bytes long") && Contains("8-byte header length"));
  }
  SECTION("header length past the end") {
    std::vector<char> bytes(8, 0);
    bytes[0] = 100;
    bytes.push_back('{');
    write_bytes(path, bytes);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("header length 100 runs past the end of the file (9 bytes"));
  }
  SECTION("header that is not JSON") {
    write_raw(path, "{not json}", 0);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("header is not valid JSON"));
  }
  SECTION("header that is not an object") {
    write_raw(path, "[1, 2]", 0);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("header must be a JSON object"));
  }
  SECTION("unsupported dtype") {
    write_raw(path, R"({"t": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", 8);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("tensor 't'") && Contains("\"F64\"") && Contains("F32, F16, BF16"));
  }
  SECTION("shape and offsets that disagree") {
    write_raw(path, R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("tensor 't' has shape [3]") && Contains("span 8 bytes"));
  }
  SECTION("a shape whose product overflows") {
    write_raw(path, R"({"t": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})", 0);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("tensor 't' has shape"));
  }
  SECTION("negative or fractional sizes") {
    write_raw(path, R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})", 0);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("non-negative integer"));
    write_raw(path, R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 0]}})", 0);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("non-negative integer"));
  }
  SECTION("offsets outside the data section") {
    write_raw(path, R"({"t": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}})", 6);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("past the end of the data section (6 bytes"));
  }
  SECTION("offsets in the wrong order") {
    write_raw(path, R"({"t": {"dtype": "U8", "shape": [0], "data_offsets": [4, 2]}})", 6);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("begin must not exceed end"));
  }
  SECTION("overlapping tensors") {
    write_raw(path,
              R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                  "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}})",
              6);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("'a' and 'b' overlap"));
  }
  SECTION("missing or unknown entry fields") {
    write_raw(path, R"({"t": {"dtype": "U8", "shape": [1]}})", 1);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("dtype, shape and data_offsets"));
    write_raw(path, R"({"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "stride": 1}})", 1);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("unknown field 'stride'"));
    write_raw(path, R"({"t": 5})", 0);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("tensor 't' must be described by a JSON object"));
  }
  SECTION("metadata that is not strings") {
    write_raw(path, R"({"__metadata__": {"scale": 0.5}})", 0);
    CHECK_THROWS_WITH(read_safetensors(path), Contains("__metadata__ entry 'scale' must be a string"));
  }
  SECTION("a file without the required input tensors") {
    SafetensorsFile partial;
    partial.tensors["query"] = Tensor(ElementType::f16, {2, 4, 64});
    write_safetensors(path, partial);
    CHECK_THROWS_WITH(load_inputs(path), Contains("missing the tensor 'key_cache'"));
  }
  SECTION("metadata scale that is not a number, or that contradicts the scenario") {
    Scenario scenario;
    const Inputs inputs = generate_inputs(scenario);
    save_inputs(path, scenario, inputs);
    SafetensorsFile file = read_safetensors(path);
    file.metadata["scale"] = "abc";
    write_safetensors(path, file);
    CHECK_THROWS_WITH(load_inputs(path), Contains("metadata 'scale' = 'abc' is not a number"));
    file.metadata["scale"] = "0.5";
    file.metadata["scenario"] = R"({"scale": 0.25})";
    write_safetensors(path, file);
    CHECK_THROWS_WITH(load_inputs(path), Contains("scale 0.5") && Contains("scenario's scale 0.25"));
    file.metadata["scenario"] = R"({"bogus": 1})";
    write_safetensors(path, file);
    CHECK_THROWS_WITH(load_inputs(path), Contains("metadata 'scenario'") && Contains("unknown scenario field 'bogus'"));
  }
  SECTION("inputs that disagree with the scenario in the metadata") {
    Scenario scenario;
    const Inputs inputs = generate_inputs(scenario);
    save_inputs(path, scenario, inputs);
    SafetensorsFile file = read_safetensors(path);
    file.tensors["block_tables"].data<std::int32_t>()[0] = 500;
    write_safetensors(path, file);
    CHECK_THROWS_WITH(load_inputs(path), Contains("bad.safetensors") && Contains("block_tables[0][0] = 500"));
  }
}

TEST_CASE("writing refuses what it cannot store faithfully", "[safetensors][errors]") {
  SafetensorsFile contents;
  contents.tensors["__metadata__"] = Tensor(ElementType::u8, {1});
  CHECK_THROWS_WITH(write_safetensors(scratch("reserved.safetensors"), contents), Contains("reserved"));
  contents.tensors.clear();
  Tensor inconsistent(ElementType::f32, {4});
  inconsistent.bytes.resize(3);
  contents.tensors["t"] = inconsistent;
  CHECK_THROWS_WITH(write_safetensors(scratch("inconsistent.safetensors"), contents), Contains("holds 3 bytes"));
  CHECK_THROWS_WITH(write_safetensors("/nonexistent-dir/x.safetensors", SafetensorsFile{}),
                    Contains("/nonexistent-dir") && Contains("does not exist"));
  Scenario scenario;
  const Inputs inputs = generate_inputs(scenario);
  CHECK_THROWS_WITH(save_inputs(scratch("clash.safetensors"), scenario, inputs, {{"query", Tensor()}}),
                    Contains("extra tensor 'query' collides"));
}

TEST_CASE("every truncation of a valid inputs file is rejected cleanly", "[safetensors][corruption]") {
  Scenario scenario;
  scenario.seq_lens = {3, 9};
  scenario.block_size = 8;
  scenario.head_size = 32;
  scenario.alibi = true;
  const Inputs inputs = generate_inputs(scenario);
  const std::string valid = scratch("valid.safetensors");
  save_inputs(valid, scenario, inputs);
  const std::vector<char> bytes = read_bytes(valid);
  REQUIRE(load_outcome(valid) == "ok");

  std::uint64_t header_end = 8;
  for (int i = 7; i >= 0; --i) header_end += static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)])) << (8 * i);
  // Every length through the header and the start of the data, then a stride through the data
  // (every cut there fails the same check), and the last few bytes.
  std::vector<std::size_t> lengths;
  for (std::size_t length = 0; length < bytes.size(); ++length)
    if (length < header_end + 64 || length % 97 == 0 || length + 16 > bytes.size()) lengths.push_back(length);
  const std::string path = scratch("truncated.safetensors");
  for (std::size_t length : lengths) {
    write_bytes(path, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length)));
    const std::string outcome = load_outcome(path);
    if (outcome != "ScenarioError") FAIL("truncated to " << length << " of " << bytes.size() << " bytes: " << outcome);
  }
}

TEST_CASE("flipped bytes in a valid inputs file load or fail cleanly, never crash", "[safetensors][corruption]") {
  Scenario scenario;
  scenario.seq_lens = {3, 9};
  scenario.block_size = 8;
  scenario.head_size = 32;
  const Inputs inputs = generate_inputs(scenario);
  const std::string valid = scratch("valid_flip.safetensors");
  save_inputs(valid, scenario, inputs);
  const std::vector<char> bytes = read_bytes(valid);
  std::uint64_t header_end = 8;
  for (int i = 7; i >= 0; --i) header_end += static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)])) << (8 * i);

  const std::string path = scratch("flipped.safetensors");
  SplitMix64 random(5);
  int rejected = 0;
  // Every byte of the length field and the header, several ways each; a sample of the data.
  std::vector<std::pair<std::size_t, unsigned char>> flips;
  for (std::size_t at = 0; at < header_end; ++at)
    for (int mask : {0x01, 0x20, 0xff}) flips.emplace_back(at, static_cast<unsigned char>(mask));
  for (int i = 0; i < 200; ++i)
    flips.emplace_back(header_end + random.below(bytes.size() - header_end), static_cast<unsigned char>(1u << random.below(8)));
  for (const auto& [at, mask] : flips) {
    std::vector<char> corrupted = bytes;
    corrupted[at] = static_cast<char>(static_cast<unsigned char>(corrupted[at]) ^ mask);
    write_bytes(path, corrupted);
    const std::string outcome = load_outcome(path);
    if (outcome == "ScenarioError") ++rejected;
    else if (outcome != "ok") FAIL("byte " << at << " xor " << int(mask) << ": " << outcome);
  }
  CHECK(rejected > static_cast<int>(header_end));  // most header damage is caught
}
